"""Schedules and intermediate checks through the services, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import NotFoundError, ValidationError
from app.identity import Identity
from app.services.checks import CheckInput, parse_reading
from app.services.schedules import ScheduleInput
from tests.conftest import NOW, add_thermometer, state_for

TODAY = date(2026, 11, 23)  # the fixture clock's day


def test_calibration_is_the_first_schedule_and_others_follow(app: CalTrack) -> None:
    add_thermometer(app, "TH-001")
    (calibration,) = app.schedules.list("TH-001")
    assert (calibration.kind, calibration.interval, calibration.status) == (
        "calibration",
        "365d",
        "not-calibrated",
    )
    check = app.schedules.set("TH-001", ScheduleInput("check", every="1m", grace_days=3))
    # Set today (Nov 23): due one month on, inside the lab's 30-day window.
    assert (check.next_due, check.status) == (date(2026, 12, 23), "due-soon")
    app.schedules.set("TH-001", ScheduleInput("maintenance", every="6m", soon_days=7))
    kinds = [s.kind for s in app.schedules.list("TH-001")]
    assert kinds == ["calibration", "check", "maintenance"]
    counts = app.schedules.counts()
    assert counts.sentence() == "Due soon: 0 calibrations, 1 check, 0 maintenance"

    app.schedules.clear("TH-001", "maintenance", reason="sold the pump")
    assert [s.kind for s in app.schedules.list("TH-001")] == ["calibration", "check"]
    with pytest.raises(NotFoundError):
        app.schedules.clear("TH-001", "maintenance", reason="again")
    # Clearing stops what QA relies on: a reason is required, as for a void.
    with pytest.raises(ValidationError) as blank:
        app.schedules.clear("TH-001", "check", reason=" \t")
    assert "reason is required" in blank.value.fields["reason"]
    assert [s.kind for s in app.schedules.list("TH-001")] == ["calibration", "check"]
    with pytest.raises(ValidationError) as bad:
        app.schedules.set("TH-001", ScheduleInput("check", every="", grace_days=-1))
    assert set(bad.value.fields) == {"every", "grace_days"}
    assert app.maintenance.verify().problems == []


def test_before_use_is_due_after_a_check_out_until_done(app: CalTrack) -> None:
    add_thermometer(app, "TH-001")
    app.schedules.set("TH-001", ScheduleInput("check", before_use=True))
    assert app.schedules.due_before_use("TH-001") == ["check"]  # new: never done
    assert app.schedules.done("TH-001", "check", TODAY)
    assert app.schedules.due_before_use("TH-001") == []
    assert app.schedules.used("TH-001") == ["check"]  # the custody check-out calls this
    assert app.schedules.list("TH-001")[1].status == "before-use"
    assert app.maintenance.verify().problems == []


def test_a_failing_check_takes_the_instrument_out_of_service_and_moves_the_schedule(
    app: CalTrack,
) -> None:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "REF-1")
    app.schedules.set("TH-001", ScheduleInput("check", every="3m"))
    passed = app.checks.add(
        "TH-001",
        CheckInput(date(2026, 10, 31), (parse_reading("20:20.2:0.5"),), standard="ref-1"),
    )
    assert (passed.result, passed.standard) == ("pass", "REF-1")
    # Oct 31 is before the schedule was set (today, due Feb 23): Oct 31 + 3 months would
    # make it due earlier, Jan 31, so the late entry moves nothing (only forward).
    check = app.schedules.list("TH-001")[1]
    assert (check.last_done, check.next_due) == (None, date(2027, 2, 23))
    assert app.instruments.get("TH-001").lifecycle == "in_service"

    failed = app.checks.add(
        "TH-001",
        CheckInput(
            date(2026, 11, 30 - 7),
            (parse_reading("20:20.2:0.5"), parse_reading("100:101:0.5")),
            standard="Gauge block set GB-7",
            notes="drifted",
        ),
    )
    assert (failed.result, failed.standard) == ("fail", "Gauge block set GB-7")
    assert app.instruments.get("TH-001").lifecycle == "out_of_service"
    assert app.schedules.list("TH-001")[1].next_due == date(2027, 2, 23)
    assert [c.id for c in app.checks.list("TH-001")] == [failed.id, passed.id]

    voided = app.checks.void(passed.id, "wrong instrument")
    assert voided.void_reason == "wrong instrument" and voided.voided_at is not None
    with pytest.raises(ValidationError):
        app.checks.void(passed.id, "again")
    with pytest.raises(ValidationError):
        app.checks.void(failed.id, " ")
    with pytest.raises(NotFoundError):
        app.checks.void(999, "none")
    with pytest.raises(ValidationError):
        app.checks.add("TH-001", CheckInput(date(2026, 12, 1), result="pass", standard="x"))
    with pytest.raises(ValidationError):
        app.checks.add("TH-001", CheckInput(TODAY, result="pass", standard="TH-001"))
    trail = {e.entity_type for e in app.audit.recent(limit=50)}
    assert {"check", "schedule", "instrument"} <= trail
    assert app.maintenance.verify().problems == []


def test_reports_list_checks_and_maintenance_beside_the_calibrations(app: CalTrack) -> None:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    assert [s.heading for s in app.reports.due().sections] == ["Due list"]  # as before
    app.schedules.set("TH-001", ScheduleInput("check", every="10d"))
    app.schedules.set("TH-002", ScheduleInput("maintenance", before_use=True))
    due = app.reports.due(days=30)
    assert [s.heading for s in due.sections] == ["Due list", "Checks and maintenance due"]
    table = due.sections[1].table
    assert table is not None and [r[:2] for r in table.rows] == [("TH-001", "check")]
    late = app.reports.overdue()
    table = late.sections[1].table
    assert table is not None and [(r[0], r[1], r[5]) for r in table.rows] == [
        ("TH-002", "maintenance", "before-use")
    ]

    app.checks.add("TH-001", CheckInput(TODAY, (parse_reading("5:5.1:0.2"),), standard="A-1"))
    history = app.reports.history("TH-001")
    sheets = [s.sheet for s in history.sections]
    assert sheets[:4] == ["Instrument", "Calibrations", "Schedules", "Checks"]
    checks = history.sections[3].table
    assert checks is not None and checks.rows[0][2:6] == ("pass", "valid", "alice", "A-1")
    assert app.reports.history("TH-002").sections[2].sheet == "Schedules"


def test_export_carries_schedules_and_checks(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app, "TH-001")
    app.schedules.set("TH-001", ScheduleInput("check", every="6m", grace_days=2))
    app.checks.add("TH-001", CheckInput(TODAY, (parse_reading("5:5.1:0.2"),), standard="A-1"))
    book_path = tmp_path / "out.xlsx"
    result = app.transfer.export("xlsx", book_path)
    book = openpyxl.load_workbook(book_path, read_only=True)
    assert book.sheetnames[-2:] == ["Schedules", "Checks"]
    schedule = [c.value for c in next(book["Schedules"].iter_rows(min_row=2, max_row=2))]
    assert schedule[:4] == ["TH-001", "check", "6m", 2]
    check = [c.value for c in next(book["Checks"].iter_rows(min_row=2, max_row=2))]
    assert check[1] == "TH-001" and check[5:7] == ["5:5.1:0.2", "pass"]
    book.close()
    assert result.files == (str(book_path),)
    csv = app.transfer.export("csv", tmp_path / "flat.csv")
    names = [Path(f).name for f in csv.files]
    assert names == [
        "flat-instruments.csv",
        "flat-calibrations.csv",
        "flat-custody.csv",
        "flat-maintenance.csv",
        "flat-schedules.csv",
        "flat-checks.csv",
    ]
    assert "TH-001,check,6m,2" in (tmp_path / "flat-schedules.csv").read_text("utf-8-sig")


def test_a_record_dated_before_the_schedule_or_its_last_done_moves_nothing(
    app: CalTrack,
) -> None:
    add_thermometer(app, "TH-001")
    app.schedules.set("TH-001", ScheduleInput("maintenance", every="1m", before_use=True))
    app.schedules.used("TH-001")
    # Done before the schedule was set today (due Dec 23): it would move it back.
    assert not app.schedules.done("TH-001", "maintenance", date(2026, 11, 1))
    view = app.schedules.list("TH-001")[1]
    assert (view.last_done, view.next_due, view.status) == (None, date(2026, 12, 23), "before-use")
    # Done today: forward (the same day), and no longer due before use.
    assert app.schedules.done("TH-001", "maintenance", TODAY)
    view = app.schedules.list("TH-001")[1]
    assert (view.last_done, view.next_due) == (TODAY, date(2026, 12, 23))
    assert view.status != "before-use"
    # Before the last done: nothing moves either.
    assert not app.schedules.done("TH-001", "maintenance", date(2026, 11, 22))
    assert app.schedules.list("TH-001")[1].last_done == TODAY
    assert app.maintenance.verify().problems == []


def test_voiding_the_latest_check_moves_the_schedule_back(db_url: str, alice: Identity) -> None:
    # The schedule was set on Aug 1, so the checks after it move it.
    august = FixedClock(datetime(2026, 8, 1, 9, tzinfo=UTC))
    with open_caltrack(
        db_url, create=True, identity=alice, clock=august, state_dir=state_for(db_url)
    ) as app:
        add_thermometer(app, "TH-001")
        app.schedules.set("TH-001", ScheduleInput("check", every="1m"))
    with open_caltrack(
        db_url, identity=alice, clock=FixedClock(NOW), state_dir=state_for(db_url)
    ) as app:
        _void_the_latest_check(app)


def _void_the_latest_check(app: CalTrack) -> None:
    app.checks.add("TH-001", CheckInput(date(2026, 8, 31), result="pass", standard="A-1"))
    late = app.checks.add("TH-001", CheckInput(date(2026, 10, 31), result="pass", standard="A-1"))
    assert app.schedules.list("TH-001")[1].next_due == date(2026, 11, 30)
    app.checks.void(late.id, "entered on the wrong instrument")
    check = app.schedules.list("TH-001")[1]
    # Back to Aug 31 + 1 month: Sep 30 (held at the month's end), overdue by now.
    assert (check.last_done, check.next_due, check.status) == (
        date(2026, 8, 31),
        date(2026, 9, 30),
        "overdue",
    )
    assert app.maintenance.verify().problems == []


def test_the_register_shows_when_the_next_check_is_due_and_sorts_by_it(app: CalTrack) -> None:
    """Issue 15's "the register shows ... when its next check is due": the list rows
    carry the active check schedule's next due (before use when that comes first)."""
    for tag in ("TH-001", "TH-002", "TH-003"):
        add_thermometer(app, tag)
    app.schedules.set("TH-001", ScheduleInput("check", every="3m"))
    app.schedules.set("TH-002", ScheduleInput("check", every="1m", before_use=True))
    app.schedules.set("TH-003", ScheduleInput("maintenance", every="1m"))
    ids = app.instruments.list_ids(sort="next_check")
    rows = app.instruments.rows(ids)
    seen = {rows[i].asset_tag: (rows[i].next_check, rows[i].check_before_use) for i in ids}
    assert seen == {
        "TH-001": (date(2027, 2, 23), False),
        "TH-002": (date(2026, 12, 23), True),
        "TH-003": (None, None),  # a maintenance schedule is no check
    }
    with_check = [rows[i].asset_tag for i in ids if rows[i].next_check is not None]
    assert with_check == ["TH-002", "TH-001"]  # soonest first
    app.schedules.clear("TH-001", "check", reason="checked by calibration only")
    (row,) = app.instruments.rows(app.instruments.list_ids(search="TH-001")).values()
    assert (row.next_check, row.check_before_use) == (None, None)  # cleared: none shown
