"""The maintenance, damage and repair log (issue 15): logging, the "calibrate before use"
rule (``app.services.upkeep_rules``) and voiding, on both backends, with `db verify`."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import NotAllowedError, NotFoundError, ValidationError
from app.identity import Identity
from app.services.dto import InstrumentChanges, MaintenanceInput
from app.services.schedules import ScheduleInput
from app.services.upkeep import parse_downtime
from app.services.validation import clean_currency
from tests.conftest import NOW, add_thermometer, state_for
from tests.unit.qa_helpers import BOB, calibrate, open_as

REPAIR = MaintenanceInput(
    kind="repair",
    performed_on="2026-11-20",
    what_done="Replaced the probe cable",
    cost="180,50",
    currency="eur",
    downtime="2d",
    calibrate_before_use=True,
)


def _calibrated(app: CalTrack) -> None:
    add_thermometer(app)
    calibrate(app, "TH-001", "2026-06-01")
    detail = app.instruments.get("TH-001")
    assert (detail.lifecycle, detail.next_due) == ("in_service", date(2027, 6, 1))


def _state(app: CalTrack) -> tuple[str, date | None, str]:
    detail = app.instruments.get("TH-001")
    return detail.lifecycle, detail.next_due, detail.due_status


def test_a_repair_needing_calibration_makes_it_due_now_and_out_of_service(app: CalTrack) -> None:
    _calibrated(app)
    event = app.upkeep.add("TH-001", REPAIR)
    assert (event.kind, event.cost, event.currency, event.downtime_hours) == (
        "repair",
        "180.50",
        "EUR",
        48.0,
    )
    assert event.performed_by == "alice" and event.awaiting_calibration
    assert _state(app) == ("out_of_service", date(2026, 11, 20), "out-of-service")
    created = app.audit.for_entity("maintenance_event", event.id)
    assert [e.action for e in created] == ["create"]
    assert created[0].changes["calibrate_before_use"] == [None, True]
    touched = app.audit.for_entity("instrument", app.instruments.get("TH-001").id)[-1]
    assert touched.changes["status"] == ["in_service", "out_of_service"]
    assert touched.changes["next_due"] == ["2027-06-01", "2026-11-20"]
    assert f"M-{event.id}" in touched.reason
    assert app.maintenance.verify().clean


def test_a_passing_calibration_after_it_brings_it_back_a_late_older_one_does_not(
    app: CalTrack,
) -> None:
    _calibrated(app)
    event = app.upkeep.add("TH-001", REPAIR)
    calibrate(app, "TH-001", "2026-11-10")  # entered late, done before the repair
    assert _state(app) == ("out_of_service", date(2026, 11, 20), "out-of-service")
    failing = calibrate(app, "TH-001", "2026-11-21", result="fail")
    assert _state(app)[0] == "out_of_service"
    assert app.upkeep.history("TH-001")[0].awaiting_calibration
    assert failing
    passing = calibrate(app, "TH-001", "2026-11-22")
    # The failed calibration opened a case: QA returns it to service when closing it.
    assert _state(app)[0] == "out_of_service"
    view = app.upkeep.history("TH-001")[0]
    assert (view.id, view.released_by_record_id) == (event.id, passing)
    assert app.maintenance.verify().clean


def test_a_passing_calibration_after_the_repair_returns_it_to_service(app: CalTrack) -> None:
    _calibrated(app)
    event = app.upkeep.add("TH-001", REPAIR)
    record = calibrate(app, "TH-001", "2026-11-20")  # the same day, recorded after it
    assert _state(app) == ("in_service", date(2027, 11, 20), "ok")
    assert app.upkeep.history("TH-001")[0].released_by_record_id == record
    trail = app.audit.for_entity("maintenance_event", event.id)
    assert [e.action for e in trail] == ["create", "update"]
    assert trail[-1].changes["released_by_record_id"] == [None, record]
    # Voiding that calibration makes the repair wait again: out of service, due.
    app.calibrations.void(record, "wrong instrument")
    assert _state(app) == ("out_of_service", date(2026, 11, 20), "out-of-service")
    assert app.upkeep.history("TH-001")[0].awaiting_calibration
    assert app.maintenance.verify().clean


def test_voiding_an_awaiting_event_undoes_what_it_forced(app: CalTrack) -> None:
    _calibrated(app)
    event = app.upkeep.add("TH-001", REPAIR)
    with pytest.raises(ValidationError) as info:
        app.upkeep.void(event.id, "  ")
    assert "reason" in info.value.fields
    voided = app.upkeep.void(event.id, "logged on the wrong instrument")
    assert voided.voided_by == "alice" and not voided.awaiting_calibration
    assert _state(app) == ("in_service", date(2027, 6, 1), "ok")
    with pytest.raises(ValidationError, match="already voided"):
        app.upkeep.void(event.id, "again")
    with pytest.raises(NotFoundError, match="M-999"):
        app.upkeep.void(999, "no such")
    assert [e.action for e in app.audit.for_entity("maintenance_event", event.id)] == [
        "create",
        "void",
    ]
    assert len(app.upkeep.history("TH-001")) == 1  # kept, never deleted
    assert app.maintenance.verify().clean


def test_voiding_an_event_a_calibration_satisfied_changes_nothing(app: CalTrack) -> None:
    _calibrated(app)
    event = app.upkeep.add("TH-001", REPAIR)
    calibrate(app, "TH-001", "2026-11-21")
    before = _state(app)
    app.upkeep.void(event.id, "duplicate entry")
    assert _state(app) == before == ("in_service", date(2027, 11, 21), "ok")
    assert app.maintenance.verify().clean


def test_while_it_awaits_a_technician_cannot_put_it_back_nor_push_the_due_date(
    app: CalTrack, db_url: str, clock: FixedClock
) -> None:
    _calibrated(app)
    event = app.upkeep.add("TH-001", REPAIR)
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        with pytest.raises(NotAllowedError, match="M-"):
            bob.instruments.edit("TH-001", InstrumentChanges(status="in_service"))
        # Nor by voiding the event: that too would return it to use uncalibrated.
        with pytest.raises(NotAllowedError, match="awaits its calibration"):
            bob.upkeep.void(event.id, "not needed after all")
        assert _state(bob)[0] == "out_of_service"
        bob.instruments.edit("TH-001", InstrumentChanges(calibration_interval_days=730))
        assert _state(bob)[1] == date(2026, 11, 20)
        assert bob.maintenance.verify().clean


def test_an_event_without_calibration_changes_nothing_on_the_instrument(app: CalTrack) -> None:
    _calibrated(app)
    event = app.upkeep.add(
        "TH-001",
        MaintenanceInput(kind="Cleaning", performed_on="2026-11-23", what_done="Wiped the probe"),
    )
    assert (event.kind, event.cost, event.downtime_hours) == ("cleaning", "", None)
    assert not event.awaiting_calibration
    assert _state(app) == ("in_service", date(2027, 6, 1), "ok")
    assert app.maintenance.verify().clean


def test_bad_input_is_refused_field_by_field_and_nothing_is_stored(app: CalTrack) -> None:
    _calibrated(app)
    with pytest.raises(ValidationError) as info:
        app.upkeep.add(
            "TH-001",
            MaintenanceInput(
                kind="polish",
                performed_on="2026-12-24",
                what_done=" ",
                cost="1e99",
                downtime="soon",
            ),
        )
    assert set(info.value.fields) == {"kind", "date", "what", "cost", "downtime"}
    assert "future" in info.value.fields["date"]
    with pytest.raises(ValidationError) as info:
        app.upkeep.add(
            "TH-001",
            MaintenanceInput(
                kind="repair", performed_on="20-11-2026", what_done="x", currency="EUR"
            ),
        )
    assert set(info.value.fields) == {"date", "currency"}
    with pytest.raises(ValidationError, match="cents"):
        app.upkeep.add(
            "TH-001",
            MaintenanceInput(kind="repair", performed_on="2026-11-20", what_done="x", cost="1.005"),
        )
    with pytest.raises(NotFoundError):
        app.upkeep.add("TH-999", REPAIR)
    assert app.upkeep.history("TH-001") == []
    assert _state(app) == ("in_service", date(2027, 6, 1), "ok")


@pytest.mark.parametrize(
    ("text", "hours"),
    [("8", 8.0), ("8h", 8.0), ("1,5 d", 36.0), ("2 days", 48.0), ("0", 0.0), ("", None)],
)
def test_downtime_is_hours_or_days(text: str, hours: float | None) -> None:
    errors: dict[str, str] = {}
    assert parse_downtime(text, errors) == hours
    assert errors == {}


@pytest.mark.parametrize("text", ["-1", "3w", "99999999", "h"])
def test_downtime_refuses_what_is_not_a_duration(text: str) -> None:
    errors: dict[str, str] = {}
    assert parse_downtime(text, errors) is None
    assert "downtime" in errors


def test_the_history_report_lists_the_log_with_voids(app: CalTrack) -> None:
    _calibrated(app)
    repair = app.upkeep.add("TH-001", REPAIR)
    app.upkeep.add(
        "TH-001",
        MaintenanceInput(kind="cleaning", performed_on="2026-11-21", what_done="Wiped it"),
    )
    app.upkeep.void(repair.id, "wrong instrument")
    report = app.reports.history("TH-001")
    (section,) = [s for s in report.sections if s.heading == "Maintenance, damage and repairs"]
    assert section.sheet == "Maintenance" and section.table is not None
    rows = [row[:3] + row[5:8] for row in section.table.rows]
    assert rows == [
        ("M-2", date(2026, 11, 21), "Cleaning", "—", None, "not needed"),
        ("M-1", date(2026, 11, 20), "Repair", "180.50 EUR", 48.0, "VOID — wrong instrument"),
    ]
    # The audit trail of the report (the instrument's trail) names the events too.
    audit = next(s for s in report.sections if s.heading == "Audit trail")
    assert audit.table is not None
    assert any(str(row[2]).startswith("Maintenance event TH-001 M-1") for row in audit.table.rows)


def test_the_export_carries_the_log_on_a_sheet_or_in_a_file_of_its_own(
    app: CalTrack, tmp_path: Path
) -> None:
    _calibrated(app)
    repair = app.upkeep.add("TH-001", REPAIR)
    app.upkeep.void(repair.id, "wrong instrument")
    result = app.transfer.export("xlsx", tmp_path)
    assert result.maintenance_events == 1
    book = openpyxl.load_workbook(result.files[0], read_only=True)
    rows = [[c for c in row] for row in book["Maintenance"].iter_rows(values_only=True)]
    book.close()
    header, event = rows
    assert header[:6] == ["Event", "Asset tag", "Kind", "Date", "Logged by", "What was done"]
    values = dict(zip(header, event, strict=True))
    assert values["Event"] == "M-1" and values["Asset tag"] == "TH-001"
    assert (values["Cost"], values["Currency"], values["Downtime (hours)"]) == ("180.50", "EUR", 48)
    assert values["Calibrate before use"] == "yes"
    assert values["Void reason"] == "wrong instrument"

    flat = app.transfer.export("csv", tmp_path / "lab.csv")
    assert flat.maintenance_events == 1
    assert flat.files[3] == str(tmp_path / "lab-maintenance.csv")
    log = tmp_path / "lab-maintenance.csv"
    with log.open(encoding="utf-8-sig", newline="") as handle:
        flat_header, flat_event = csv.reader(handle)
    assert flat_header == header
    assert flat_event[:10] == [
        "M-1", "TH-001", "repair", "2026-11-20", "alice", "Replaced the probe cable",
        "180.50", "EUR", "48.0", "yes",
    ]  # fmt: skip
    assert flat_event[header.index("Void reason")] == "wrong instrument"


def test_routine_maintenance_moves_the_maintenance_schedule_on(
    app: CalTrack, clock: FixedClock
) -> None:
    add_thermometer(app)
    app.schedules.set("TH-001", ScheduleInput("maintenance", every="6m"))
    cleaning = MaintenanceInput(kind="cleaning", performed_on=clock.today(), what_done="Wiped")
    app.upkeep.add("TH-001", cleaning)
    (upkeep,) = [s for s in app.schedules.list("TH-001") if s.kind == "maintenance"]
    assert upkeep.last_done is None, "cleaning is not the scheduled maintenance"
    # Done before the schedule was set today (due May 23): it would move it back, so it
    # moves nothing (app.services.schedules.done_in: only forward).
    early = MaintenanceInput(kind="maintenance", performed_on=date(2026, 11, 20), what_done="S")
    app.upkeep.add("TH-001", early)
    (upkeep,) = [s for s in app.schedules.list("TH-001") if s.kind == "maintenance"]
    assert (upkeep.last_done, upkeep.next_due) == (None, date(2027, 5, 23))
    routine = MaintenanceInput(
        kind="maintenance", performed_on=clock.today(), what_done="Seals replaced"
    )
    app.upkeep.add("TH-001", routine)
    (upkeep,) = [s for s in app.schedules.list("TH-001") if s.kind == "maintenance"]
    assert (upkeep.last_done, upkeep.next_due) == (date(2026, 11, 23), date(2027, 5, 23))
    assert app.audit.verify().problems == []


def test_voiding_routine_maintenance_moves_the_schedule_back(db_url: str, alice: Identity) -> None:
    # The schedule was set on May 1, so the maintenance done after it moves it.
    may = FixedClock(datetime(2026, 5, 1, 9, tzinfo=UTC))
    with open_caltrack(
        db_url, create=True, identity=alice, clock=may, state_dir=state_for(db_url)
    ) as app:
        add_thermometer(app)
        app.schedules.set("TH-001", ScheduleInput("maintenance", every="6m"))
    with open_caltrack(
        db_url, identity=alice, clock=FixedClock(NOW), state_dir=state_for(db_url)
    ) as app:
        _void_routine_maintenance(app)


def _void_routine_maintenance(app: CalTrack) -> None:

    def routine(day: date) -> int:
        done = MaintenanceInput(kind="maintenance", performed_on=day, what_done="Seals")
        return app.upkeep.add("TH-001", done).id

    def schedule() -> tuple[date | None, date | None]:
        (upkeep,) = [s for s in app.schedules.list("TH-001") if s.kind == "maintenance"]
        return upkeep.last_done, upkeep.next_due

    first = routine(date(2026, 5, 20))
    second = routine(date(2026, 11, 20))
    cleaning = MaintenanceInput(kind="cleaning", performed_on=date(2026, 11, 21), what_done="W")
    wiped = app.upkeep.add("TH-001", cleaning).id
    assert schedule() == (date(2026, 11, 20), date(2027, 5, 20))
    app.upkeep.void(wiped, "not done")
    assert schedule() == (date(2026, 11, 20), date(2027, 5, 20)), "cleaning moved nothing"
    app.upkeep.void(second, "logged on the wrong instrument")
    assert schedule() == (date(2026, 5, 20), date(2026, 11, 20))
    moved = app.audit.recent(entity_type="schedule", limit=1)[0]
    assert moved.changes["last_done"] == ["2026-11-20", "2026-05-20"]
    assert moved.reason == f"maintenance M-{second} voided"
    app.upkeep.void(first, "never done")
    assert schedule() == (None, date(2026, 11, 20)), "none left: the next due stays"
    assert app.maintenance.verify().problems == []


@pytest.mark.parametrize(
    ("text", "kept"),
    [("eur", "EUR"), (" chf ", "CHF"), ("€", "€"), ("", ""), ("\u0415UR", None), ("!!!", None)],
)
def test_a_currency_is_a_code_or_a_sign(text: str, kept: str | None) -> None:
    errors: dict[str, str] = {}
    assert clean_currency(text, errors) == (kept if kept is not None else text.strip().upper())
    assert ("currency" in errors) == (kept is None), errors
