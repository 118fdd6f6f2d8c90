"""Importing issue 15's schedules, intermediate checks, maintenance, providers, custody
and send-outs: the rules, the keys, the round trip of an export into a fresh database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.identity import Identity
from app.services.checks import CheckInput, parse_reading
from app.services.dto import InstrumentInput, MaintenanceInput
from app.services.provider_views import ProviderInput
from app.services.schedules import ScheduleInput
from app.services.transfer import SHEET_NAMES
from app.services.transfer_model import ImportOptions, ImportPreview
from tests.conftest import add_thermometer
from tests.integration.helpers import open_lab

SCHEDULES = ImportOptions(kind="schedules")
CHECKS = ImportOptions(kind="checks")


def errors_by_line(preview: ImportPreview) -> dict[int | None, list[str]]:
    found: dict[int | None, list[str]] = {}
    for issue in preview.issues:
        found.setdefault(issue.line, []).append(
            f"{issue.column}: {issue.message}" if issue.column else issue.message
        )
    return found


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def lab(app: CalTrack) -> CalTrack:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    app.instruments.add(
        InstrumentInput(
            asset_tag="REF-1", description="Reference PRT", calibration_interval_days=365
        )
    )
    return app


def test_schedule_rows_go_through_the_schedule_rules(lab: CalTrack, tmp_path: Path) -> None:
    path = write(
        tmp_path / "schedules.csv",
        "Asset tag,Schedule,Every,Grace days,Due-soon days,Before use,Last done\n"
        "TH-001,check,1m,3,,no,\n"
        "TH-002,Maintenance,6m,,7,,\n"
        "NOPE-1,check,1m,,,,\n"
        "\u0422\u041d-001,check,1m,,,,\n"
        "REF-1,check,3x,,,,\n"
        "REF-1,maintenance,1m,99999999999999999999,,,\n"
        "TH-001,check,2m,,,,\n"
        "TH-001,,1m,,,,\n"
        "TH-002,calibration,1m,,,,\n"
        "TH-002,check,1m,,,,2026-02-31\n",
    )
    preview = lab.transfer.preview(path, SCHEDULES)
    assert errors_by_line(preview) == {
        None: [
            "Schedule: 'calibration' (1 row: line 10) is not a kind CalTrack knows; "
            "map it to one of check, maintenance, or leave those lines out"
        ],
        4: [
            "Asset tag: no instrument 'NOPE-1' in the database; import the instruments "
            "first or correct the tag"
        ],
        # Cyrillic letters that look like TH-001 are refused as the typed tag is.
        5: [
            "Asset tag: is written in Cyrillic letters that look like Latin ones (U+0422 "
            "(CYRILLIC CAPITAL LETTER TE) at position 1), so it could pass for another; "
            "type it again in one alphabet"
        ],
        6: ["Every: '3x' is not an interval: a whole number and d or m, as 30d or 6m"],
        7: ["Grace days: must be between 0 and 3650 days"],
        8: [
            "Schedule: repeats the schedule on line 2 (same tag and schedule); keep one of "
            "them and leave the other line out"
        ],
        9: ["Schedule: required: which schedule (check or maintenance)"],
        11: ["Last done: '2026-02-31' is not a valid date (day is out of range for month)"],
    }
    assert [r.action for r in preview.rows][:2] == ["add", "add"]
    result = lab.transfer.import_file(
        path, replace(SCHEDULES, exclude_lines=frozenset(range(4, 12)))
    )
    assert result.committed
    (_calibration, check) = lab.schedules.list("TH-001")
    assert (check.kind, check.interval, check.grace_days, check.next_due) == (
        "check",
        "1m",
        3,
        date(2026, 12, 23),  # set today: the rule of a typed schedule
    )
    assert lab.schedules.list("TH-002")[1].soon_days == 7
    assert lab.maintenance.verify().problems == []


def test_check_rows_go_through_the_check_rules(lab: CalTrack, tmp_path: Path) -> None:
    path = write(
        tmp_path / "checks.csv",
        "Asset tag,Date,Standard,Readings,Result\n"
        "TH-001,2026-11-01,REF-1,20:20.1:0.5,\n"
        "TH-002,2026-11-02,gauge block,,ok\n"
        "TH-001,2026-02-31,REF-1,20:20.1:0.5,\n"
        "TH-001,2026-12-24,REF-1,20:20.1:0.5,\n"
        "TH-001,2026-11-03,REF-1,20:1e400:0.5,\n"
        "TH-001,2026-11-03,REF-1,20:21:0.5,pass\n"
        "TH-001,2026-11-03,TH-001,,pass\n"
        "TH-001,2026-11-03,,,pass\n"
        "TH-001,2026-11-01,ref-1,20:20.1:0.5,\n"
        "TH-001,2026-11-04,REF-1,,maybe\n",
    )
    preview = lab.transfer.preview(path, CHECKS)
    assert errors_by_line(preview) == {
        None: [
            "Result: 'maybe' (1 row: line 11) is not a result CalTrack knows; map it to one "
            "of pass, fail, or leave those lines out"
        ],
        4: ["Date: '2026-02-31' is not a valid date (day is out of range for month)"],
        5: ["Date: 2026-12-24 is in the future"],
        6: ["Readings: reading 1 of 1: '1e400' in '20:1e400:0.5' is out of range"],
        7: ["Result: the readings say fail, not pass"],
        8: ["Standard: an instrument cannot be its own check standard"],
        9: ["Standard: name the check standard or artefact"],
        10: [
            "Date: repeats the check on line 2 (same tag, date, standard and readings); keep "
            "one of them and leave the other line out"
        ],
    }
    good = replace(CHECKS, exclude_lines=frozenset(range(4, 12)))
    result = lab.transfer.import_file(path, good)
    assert result.committed
    assert [(r.line, r.action) for r in result.rows[:2]] == [(2, "add"), (3, "add")]
    (check,) = lab.checks.list("TH-001")
    assert (check.standard, check.result, check.performed_by) == ("REF-1", "pass", "alice")
    assert lab.checks.list("TH-002")[0].result == "pass"  # "ok", guessed as pass
    # The same rows again: recognised, not added twice.
    again = lab.transfer.import_file(path, good)
    assert [r.action for r in again.rows[:2]] == ["unchanged", "unchanged"]
    assert len(lab.checks.list("TH-001")) == 1
    assert lab.maintenance.verify().problems == []


def _sheet(
    path: Path, name: str, drop: int | None = None, last: int | None = None
) -> list[tuple[object, ...]]:
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = [tuple(r) for r in workbook[name].iter_rows(values_only=True)]
    finally:
        workbook.close()
    rows = [r[:last] for r in rows]
    if drop is not None:
        rows = [r[:drop] + r[drop + 1 :] for r in rows]
    return [rows[0], *sorted(rows[1:], key=repr)]


def test_an_export_imports_into_a_fresh_database_with_the_same_rows(
    lab: CalTrack, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    app = lab
    # Custody: one returned, one voided, one still out; send-outs: one back, one out.
    for tag in ("TH-003", "TH-004", "TH-005"):
        add_thermometer(app, tag)
    app.custody.check_out("TH-003", holder="Dana", place="Line 2")
    app.custody.check_in("TH-003")
    wrong = app.custody.check_out("TH-004", holder="Sam")
    app.custody.void(wrong.id, reason="scanned the wrong one")
    app.custody.check_out("TH-005", holder="Kim", due_back=date(2026, 12, 1))
    app.providers.add(ProviderInput("Good Lab"))
    app.providers.add(ProviderInput("Cheap Lab", approval="not_approved"))
    back = app.sendouts.create(
        "Good Lab",
        ["TH-003"],
        sent_on=date(2026, 11, 2),
        po_number="PO-1",
        expected_return=date(2026, 11, 20),
        cost=250,
    )
    app.sendouts.receive(back.id, received_on=date(2026, 11, 9))
    app.sendouts.create(
        "Cheap Lab", ["TH-004"], sent_on=date(2026, 11, 15), reason="the only lab with the range"
    )
    app.schedules.set("TH-001", ScheduleInput("check", every="1m", grace_days=3))
    app.schedules.set("TH-001", ScheduleInput("maintenance", every="6m", soon_days=7))
    app.schedules.set("TH-002", ScheduleInput("check", before_use=True))
    app.schedules.set("TH-002", ScheduleInput("maintenance", every="12m"))
    app.schedules.clear("TH-002", "maintenance", reason="sold the pump")
    reading = parse_reading("20:20.1:0.5")
    app.checks.add("TH-001", CheckInput(date(2026, 11, 1), (reading,), standard="REF-1"))
    app.checks.add("TH-001", CheckInput(date(2026, 11, 20), standard="gauge block", result="pass"))
    voided = app.checks.add(
        "TH-001", CheckInput(date(2026, 11, 15), (reading,), standard="REF-1", notes="two\nlines")
    )
    app.checks.void(voided.id, "wrong instrument")
    app.checks.add(
        "TH-002", CheckInput(date(2026, 11, 10), (parse_reading("20:21:0.5"),), standard="REF-1")
    )
    app.upkeep.add("TH-001", MaintenanceInput("maintenance", date(2026, 11, 5), "seals greased"))
    cleaning = app.upkeep.add(
        "TH-001",
        MaintenanceInput("cleaning", date(2026, 11, 6), "probe", cost="12.50", currency="EUR"),
    )
    app.upkeep.void(cleaning.id, "logged twice")
    app.upkeep.add(
        "TH-002",
        MaintenanceInput(
            "damage_found",
            date(2026, 11, 12),
            "dropped",
            downtime="1.5d",
            calibrate_before_use=True,
        ),
    )
    app.providers.add(
        ProviderInput("Acme Calibration", approval="conditionally_approved", scope="temperature")
    )
    app.providers.add(ProviderInput("Old Lab", accreditation_body="DAkkS"))
    app.providers.retire("Old Lab", reason="closed down")
    source = tmp_path / "lab.xlsx"
    app.transfer.export("xlsx", source)

    with open_lab(tmp_path / "copy.db", create=True, identity=alice, clock=clock) as copy:
        history = ("schedules", "checks", "maintenance", "providers", "custody", "sendouts")
        for kind in ("instruments", *history):
            result = copy.transfer.import_file(source, ImportOptions(kind=kind))
            assert result.committed, (kind, [str(i) for i in result.issues])
            assert result.sheet == SHEET_NAMES[kind], result.sheet
        # The same file again adds nothing.
        for kind in history:
            again = copy.transfer.import_file(source, ImportOptions(kind=kind))
            assert again.committed
            assert {r.action for r in again.rows} == {"unchanged"}, again.rows
        target = tmp_path / "copy.xlsx"
        copy.transfer.export("xlsx", target)
        for tag in ("TH-001", "TH-002", "REF-1"):
            assert [replace(v, version=0) for v in copy.schedules.list(tag)] == [
                replace(v, version=0) for v in app.schedules.list(tag)
            ]
            mine, theirs = copy.instruments.get(tag), app.instruments.get(tag)
            assert (mine.lifecycle, mine.next_due) == (theirs.lifecycle, theirs.next_due)
        assert copy.maintenance.verify().problems == []
    assert _sheet(target, "Schedules") == _sheet(source, "Schedules")
    assert _sheet(target, "Providers") == _sheet(source, "Providers")
    # Check ids differ (a fresh database numbers them in date order), and the case a
    # failing check opened is the source's own: an imported check, as an imported
    # calibration, opens none (a case is QA's, opened when the check is entered).
    source_checks = _sheet(source, "Checks", drop=0, last=-1)
    assert _sheet(target, "Checks", drop=0, last=-1) == source_checks
    assert source_checks[0][-1] == "Void reason"
    assert {r[-1] for r in _sheet(source, "Checks")[1:] if r[6] == "fail"} == {"OOT-1"}
    assert {r[-1] for r in _sheet(target, "Checks")[1:]} == {None}
    # Entry and batch numbers are the new database's own.
    assert _sheet(target, "Custody", drop=0) == _sheet(source, "Custody", drop=0)
    assert len(_sheet(source, "Custody")) == 4
    assert _sheet(target, "Send-outs", drop=0) == _sheet(source, "Send-outs", drop=0)
    assert len(_sheet(source, "Send-outs")) == 3
    # Event ids and the moment each was logged are the new database's own.
    assert _sheet(target, "Maintenance", drop=0, last=-1) == _sheet(
        source, "Maintenance", drop=0, last=-1
    )


def test_maintenance_rows_go_through_the_maintenance_rules(lab: CalTrack, tmp_path: Path) -> None:
    path = write(
        tmp_path / "maintenance.csv",
        "Asset tag,Kind,Date,Logged by,What was done,Cost,Currency,Downtime (hours),"
        "Calibrate before use\n"
        "TH-001,Repair,2026-11-02,bob,new cable,180.5,eur,4,yes\n"
        "TH-002,PM,2026-11-03,,seals,,,,\n"
        "TH-001,repair,2026-11-04,,x,1e999,EUR,,\n"
        "TH-001,repair,2026-11-04,,y,,EUR,,\n"
        "TH-001,repair,2026-11-04,,z,,,99999999999,\n"
        "TH-001,teleport,2026-11-04,,z,,,,\n"
        "TH-001,repair,2026-11-04,,,,,,maybe\n",
    )
    options = ImportOptions(kind="maintenance")
    preview = lab.transfer.preview(path, options)
    assert errors_by_line(preview) == {
        None: [
            "Kind: 'teleport' (1 row: line 7) is not a kind CalTrack knows; map it to one of "
            "maintenance, cleaning, damage_found, malfunction, repair, modification, "
            "firmware_update, or leave those lines out"
        ],
        4: ["Cost: must be an amount from 0 to 1,000,000,000 (got 1e999)"],
        5: ["Currency: goes with a cost; give the cost too"],
        6: ["Downtime (hours): must be at most 87840 hours (ten years)"],
        8: ["Calibrate before use: 'maybe' is neither yes nor no"],
    }
    assert preview.rows[0].notes == ("takes TH-001 out of service", "TH-001 is due on 2026-11-02")
    good = replace(options, exclude_lines=frozenset(range(4, 9)))
    assert lab.transfer.import_file(path, good).committed
    (repair,) = lab.upkeep.history("TH-001")
    assert (repair.kind, repair.performed_by, repair.cost, repair.currency) == (
        "repair",
        "bob",
        "180.50",
        "EUR",
    )
    assert repair.downtime_hours == 4 and repair.calibrate_before_use
    assert lab.instruments.get("TH-001").lifecycle == "out_of_service"
    assert lab.upkeep.history("TH-002")[0].kind == "maintenance"  # "PM", guessed
    again = lab.transfer.import_file(path, good)
    assert [r.action for r in again.rows[:2]] == ["unchanged", "unchanged"]
    assert len(lab.upkeep.history("TH-001")) == 1
    assert lab.maintenance.verify().problems == []


def test_provider_rows_go_through_the_provider_rules(lab: CalTrack, tmp_path: Path) -> None:
    lab.providers.add(ProviderInput("Acme Calibration"))
    path = write(
        tmp_path / "providers.csv",
        "Provider,Approval,Review date,Scope,Retired,Retire reason\n"
        "ACME calibration,Conditional,2027-01-31,temperature,,\n"
        "Beta Labs,approved,,,,\n"
        "Gamma,approved,,,2026-01-02 10:00:00,gone\n"
        "Beta Labs,approved,,,,\n"
        "Delta,maybe,,,,\n"
        ",approved,,,,\n"
        "Eps\u200bilon,approved,,,,\n",
    )
    options = ImportOptions(kind="providers")
    preview = lab.transfer.preview(path, options)
    assert errors_by_line(preview) == {
        None: [
            "Approval: 'maybe' (1 row: line 6) is not a provider approval CalTrack knows; map "
            "it to one of approved, conditionally_approved, not_approved, or leave those "
            "lines out"
        ],
        5: [
            "Provider: repeats the provider on line 3 (the same name); keep one of them and "
            "leave the other line out"
        ],
        7: ["Provider: required: give the provider's name"],
        8: [
            "Provider: contains an invisible character U+200B (ZERO WIDTH SPACE) at position "
            "4; type the tag again without it"
        ],
    }
    good = replace(options, exclude_lines=frozenset(range(5, 9)))
    result = lab.transfer.import_file(path, good)
    assert result.committed
    assert [(r.action, r.asset_tag) for r in result.rows[:3]] == [
        ("update", "Acme Calibration"),  # the stored name stays (not renamed)
        ("add", "Beta Labs"),
        ("add", "Gamma"),
    ]
    acme = lab.providers.get("Acme Calibration")
    assert (acme.approval, acme.review_date, acme.scope) == (
        "conditionally_approved",
        date(2027, 1, 31),
        "temperature",
    )
    gamma = lab.providers.get("Gamma")
    assert (gamma.retired, gamma.retire_reason) == (True, "gone")
    again = lab.transfer.import_file(path, good)
    assert [r.action for r in again.rows[:3]] == ["unchanged"] * 3
    assert lab.maintenance.verify().problems == []


def test_custody_rows_are_history_and_only_an_open_one_meets_todays_rules(
    lab: CalTrack, tmp_path: Path, clock: FixedClock
) -> None:
    add_thermometer(lab, "X-retired", status="retired")
    add_thermometer(lab, "X-oos", status="out_of_service")
    lab.custody.check_out("TH-002", holder="Kim")
    # TH-001's check before use is recorded: a check-out (not an import) would arm it.
    lab.schedules.set("TH-001", ScheduleInput("check", before_use=True))
    lab.checks.add("TH-001", CheckInput(clock.today(), result="pass", standard="artefact A"))
    assert lab.custody.check("TH-001").refusal == ""
    path = write(
        tmp_path / "custody.csv",
        "Asset tag,With,Place,Out (UTC),Due back,Back (UTC),Checked in by,Voided (UTC),"
        "Void reason\n"
        "TH-001,Dana,Lab 2,2026-10-01 08:00:00,2026-10-05,2026-10-04 16:00:00,bob,,\n"
        "TH-001,Eve,,2026-11-20 09:00:00,,,,,\n"
        "TH-002,Sam,,2026-11-01 08:00:00,,,,,\n"
        "X-retired,Sam,,2026-11-01 08:00:00,,,,,\n"
        "X-retired,Sam,,2026-01-01 08:00:00,,2026-01-02 08:00:00,,,\n"
        "NOPE-1,Sam,,2026-11-01 08:00:00,,,,,\n"
        "\u0422\u041d-002,Sam,,2026-11-01 08:00:00,,,,,\n"
        "TH-002,Sam,,2026-02-30 08:00:00,,,,,\n"
        "TH-002,Sam,,2026-11-01 08:30:00,,2026-10-01 08:00:00,,,\n"
        "TH-002,Sam,,2026-11-02 08:00:00,,,,2026-11-03 08:00:00,\n"
        "TH-002,Sam,,2026-11-04 08:00:00,,,,2026-11-05 10:00:00,scanned the wrong one\n"
        "X-oos,Sam,,2026-11-06 08:00:00,,,,,\n",
    )
    options = ImportOptions(kind="custody")
    preview = lab.transfer.preview(path, options)
    errors = errors_by_line(preview)
    assert errors.pop(8)[0].startswith("Asset tag: is written in Cyrillic letters")
    assert errors.pop(9)[0].startswith("Out (UTC): ")
    assert errors == {
        4: [
            "Back (UTC): TH-002 is checked out here already (to Kim); an open check-out is "
            "imported only for an instrument nobody has"
        ],
        5: ["Asset tag: X-retired is retired: it may not be used"],
        7: [
            "Asset tag: no instrument 'NOPE-1' in the database; import the instruments first "
            "or correct the tag"
        ],
        10: ["Back (UTC): 2026-10-01 08:00:00 is before it was checked out (2026-11-01 08:30:00)"],
        11: [
            "Void reason: the record is marked voided but has no void reason; a voided record "
            "needs one"
        ],
    }
    good = replace(options, exclude_lines=frozenset({4, 5, 7, 8, 9, 10, 11}))
    result = lab.transfer.import_file(path, good)
    assert result.committed
    assert result.counts()["add"] == 5
    returned, still_out = sorted(lab.custody.history("TH-001"), key=lambda v: v.out_at)
    assert (returned.state, returned.holder, returned.place, returned.in_by) == (
        "returned",
        "Dana",
        "Lab 2",
        "bob",
    )
    assert (still_out.state, still_out.holder, still_out.out_by) == ("out", "Eve", "alice")
    # History arms no before-use schedule; an out-of-service one went out then.
    assert lab.custody.check("TH-001").refusal == ""
    assert [v.state for v in lab.custody.history("X-retired")] == ["returned"]
    assert [v.state for v in lab.custody.history("X-oos")] == ["out"]
    voided = [v for v in lab.custody.history("TH-002") if v.state == "void"]
    assert [v.void_reason for v in voided] == ["scanned the wrong one"]
    again = lab.transfer.import_file(path, good)
    assert {r.action for r in again.rows if r.action != "excluded"} == {"unchanged"}
    assert lab.maintenance.verify().problems == []


def test_sendout_rows_are_imported_a_batch_at_a_time(lab: CalTrack, tmp_path: Path) -> None:
    add_thermometer(lab, "TH-003")
    add_thermometer(lab, "X-oos", status="out_of_service")
    lab.providers.add(ProviderInput("Acme"))
    lab.providers.add(ProviderInput("Cheap Lab", approval="not_approved"))
    path = write(
        tmp_path / "sendouts.csv",
        "Batch,Provider,Sent on,Expected return,PO number,Batch cost,"
        "Why a provider not approved,Asset tag,Received on,Calibration\n"
        "SO-1,Acme,2026-11-01,2026-11-20,PO-7,250.5,,TH-001,2026-11-10,12\n"
        "SO-1,Acme,2026-11-01,2026-11-20,PO-7,,,TH-002,,\n"
        "SO-2,Cheap Lab,2026-11-02,,,,,TH-003,,\n"
        "SO-3,Nobody Cal,2026-11-02,,,,,TH-003,,\n"
        "SO-4,Acme,2026-11-05,2026-11-01,,,,TH-003,,\n"
        "SO-5,Acme,2026-11-05,,,,,NOPE-1,,\n"
        "SO-6,Acme,2026-11-05,,,,,TH-003,,\n"
        "SO-6,Acme,2026-11-06,,,,,X-oos,,\n"
        "SO-7,Cheap Lab,2026-11-03,,,,the only lab with the range,TH-003,2026-11-04,\n"
        "SO-8,Acme,2026-11-07,,,,,TH-002,,\n"
        "SO-9,Acme,2026-02-30,,,,,TH-003,,\n",
    )
    options = ImportOptions(kind="sendouts")
    preview = lab.transfer.preview(path, options)
    errors = errors_by_line(preview)
    assert errors.pop(12)[0].startswith("Sent on: ")
    assert errors == {
        4: [
            "Why a provider not approved: Cheap Lab is not an approved provider and the batch "
            "gives no reason for sending instruments there; give the recorded reason"
        ],
        5: [
            "Provider: no provider named 'Nobody Cal' in this database; import the providers "
            "first (`import providers`) or correct the name"
        ],
        6: ["Expected return: 2026-11-01 is before the day they were sent (2026-11-05)"],
        7: [
            "Asset tag: no instrument 'NOPE-1' in the database; import the instruments first "
            "or correct the tag"
        ],
        8: ["its batch is not imported: line 9 of the batch has an error"],
        9: ["Sent on: differs from its batch's first row (line 8)"],
        11: ["Asset tag: TH-002 is already out in SO-1"],
    }
    good = replace(options, exclude_lines=frozenset({4, 5, 6, 7, 8, 9, 11, 12}))
    result = lab.transfer.import_file(path, good)
    assert result.committed
    assert result.counts()["add"] == 3
    acme, cheap = sorted(lab.sendouts.list(), key=lambda b: b.sent_on)
    assert (acme.provider, acme.po_number, acme.cost, acme.expected_return) == (
        "Acme",
        "PO-7",
        250.5,
        date(2026, 11, 20),
    )
    assert [(i.asset_tag, i.received_on, i.record_id) for i in acme.items] == [
        ("TH-001", date(2026, 11, 10), None),  # the calibration link is not imported
        ("TH-002", None, None),
    ]
    assert (cheap.provider, cheap.approval_reason) == ("Cheap Lab", "the only lab with the range")
    again = lab.transfer.import_file(path, good)
    assert {r.action for r in again.rows if r.action != "excluded"} == {"unchanged"}
    assert len(lab.sendouts.list()) == 2
    assert lab.maintenance.verify().problems == []
