"""A failing intermediate check opens an out-of-tolerance case (issue 15), on both backends.

As a failing calibration does: the case names the check, its last good day is the latest
passing check or good calibration before it, its impact list takes the check's error,
voiding the check leaves it open for QA, and QA closes it (back into service once a
later check or calibration leaves the instrument good).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.errors import NotAllowedError, ValidationError
from app.services.checks import CheckInput, parse_reading
from app.services.dto import CheckView
from tests.conftest import add_thermometer
from tests.unit.qa_helpers import BOB, PASSWORD, QUINN, calibrate, make_qa, open_as, reading


@pytest.fixture
def lab(app: CalTrack) -> CalTrack:
    """REF-1 calibrated good on 2026-01-10 and checked good on 2026-05-01; TH-001
    (2026-03-01) and TH-002 (2026-06-15) calibrated with it."""
    for tag in ("REF-1", "TH-001", "TH-002"):
        add_thermometer(app, tag)
    calibrate(app, "REF-1", "2026-01-10", points=(reading(0, 0.1),))
    calibrate(app, "TH-001", "2026-03-01", points=(reading(0, 0.1),), standards=("REF-1",))
    check(app, "2026-05-01", "0:0.1:0.2")
    calibrate(app, "TH-002", "2026-06-15", points=(reading(0, 0.1),), standards=("REF-1",))
    return app


def check(app: CalTrack, on: str, *values: str, result: str = "") -> CheckView:
    return app.checks.add(
        "REF-1",
        CheckInput(
            date.fromisoformat(on),
            tuple(parse_reading(v) for v in values),
            standard="Ice point cell",
            result=result,
        ),
    )


def test_a_failing_check_opens_a_case_a_passing_one_does_not(lab: CalTrack) -> None:
    assert lab.oot.list() == []  # the passing check of the fixture opened none
    assert [c.oot_case_id for c in lab.checks.list("REF-1")] == [None]

    failed = check(lab, "2026-11-02", "0:0.6:0.2", "100:100.1:0.2")
    (case,) = lab.oot.list(status="open")
    assert (case.asset_tag, case.check_id, case.record_id) == ("REF-1", failed.id, None)
    assert failed.oot_case_id == case.id
    assert case.found_on == date(2026, 11, 2)
    assert case.found_by == f"intermediate check #{failed.id} on 2026-11-02"
    assert case.last_good_on == date(2026, 5, 1)  # the passing check, after the calibration
    assert "out of limits at 1 of 2 readings (0 read 0.6 (limit ±0.2))" in case.summary
    assert case.failing_points == []
    # What it may have affected since then: TH-002, not TH-001 (before the passing check).
    assert [a.asset_tag for a in case.affected] == ["TH-002"]
    assert lab.instruments.get("REF-1").lifecycle == "out_of_service"

    # The impact list re-judges TH-002 with the error the check read (+0.6 at 0).
    impact = lab.oot.impact(case.id)
    assert (impact.standard_record_id, impact.standard_check_id) == (None, failed.id)
    assert impact.error_source == f"intermediate check #{failed.id}"
    assert [(e.nominal, e.error) for e in impact.errors] == [("0", "+0.6"), ("100", "+0.1")]
    assert {(r.asset_tag, r.reading, r.before, r.after) for r in impact.flipped} == {
        ("TH-002", "as_found", "pass", "fail"),
        ("TH-002", "as_left", "pass", "fail"),
    }
    assert "no unit" in impact.method

    # A failing check stated without readings opens a case too; the instrument is
    # out of service already and stays so.
    stated = check(lab, "2026-11-03", result="fail")
    assert stated.oot_case_id is not None
    assert lab.oot.get(stated.oot_case_id).summary == "Intermediate check result: fail"
    assert len(lab.oot.list(status="open")) == 2
    assert lab.maintenance.verify(deep=True).problems == []


def test_last_good_follows_the_checks_and_calibrations_still_valid(lab: CalTrack) -> None:
    failed = check(lab, "2026-11-02", "0:0.6:0.2")
    case_id = failed.oot_case_id
    assert case_id is not None
    # A good calibration entered late, after the passing check: the last good day moves on.
    good = calibrate(lab, "REF-1", "2026-08-01", points=(reading(0, 0.1),))
    assert lab.oot.get(case_id).last_good_on == date(2026, 8, 1)
    # One on the failing check's own day does not count (which came first is unknown).
    calibrate(lab, "REF-1", "2026-11-02", points=(reading(0, 0.1),))
    assert lab.oot.get(case_id).last_good_on == date(2026, 8, 1)
    # A passing check entered late after that calibration narrows it again.
    late = check(lab, "2026-09-01", "0:0.1:0.2")
    assert lab.oot.get(case_id).last_good_on == date(2026, 9, 1)
    # Voiding them widens it back: to the calibration, then the passing check of May.
    lab.checks.void(late.id, "entered for the wrong instrument")
    assert lab.oot.get(case_id).last_good_on == date(2026, 8, 1)
    lab.calibrations.void(good, "wrong certificate")
    case = lab.oot.get(case_id)
    assert case.last_good_on == date(2026, 5, 1)
    assert [a.asset_tag for a in case.affected] == ["TH-002"]
    trail = [e.action for e in lab.audit.for_entity("oot_case", case_id)]
    assert trail == ["create", "update", "update", "update", "update"]
    assert lab.maintenance.verify(deep=True).problems == []


def test_voiding_the_failing_check_works_as_voiding_a_failed_calibration(
    lab: CalTrack, db_url: str, clock: FixedClock
) -> None:
    failed = check(lab, "2026-11-02", "0:0.6:0.2")
    case_id = failed.oot_case_id
    assert case_id is not None
    make_qa(lab, db_url, clock)
    with open_as(db_url, BOB, clock) as bob:
        # The case is QA's: a technician cannot make it go away by voiding the check.
        with pytest.raises(NotAllowedError, match=f"case OOT-{case_id} is open"):
            bob.checks.void(failed.id, "wrong instrument")
        assert bob.checks.list("REF-1")[0].voided_at is None
    with open_as(db_url, QUINN, clock) as qa:
        voided = qa.checks.void(failed.id, "wrong instrument")
        assert voided.voided_at is not None and voided.oot_case_id == case_id
        # As for a calibration: the case stays open and the status stays.
        case = qa.oot.get(case_id)
        assert (case.status, case.check_id) == ("open", failed.id)
        assert case.found_by.endswith("(voided since)")
        assert qa.instruments.get("REF-1").lifecycle == "out_of_service"
        # With the failing check void, the passing one of May is the latest: QA may
        # close the case and put REF-1 back in service.
        assert case.may_return_to_service
        qa.oot.assess(case_id, impact_assessment="Check was of REF-2", disposition="other")
        closed = qa.oot.close(case_id, password=PASSWORD, return_to_service=True)
        assert (closed.status, closed.returned_to_service) == ("closed", True)
        assert qa.instruments.get("REF-1").lifecycle == "in_service"
        # Once the case is closed a technician's void of a check is plain again.
        assert qa.maintenance.verify(deep=True).problems == []


def test_closing_returns_to_service_only_after_a_good_check_or_calibration(
    lab: CalTrack, db_url: str, clock: FixedClock
) -> None:
    failed = check(lab, "2026-11-02", "0:0.6:0.2")
    case_id = failed.oot_case_id
    assert case_id is not None
    make_qa(lab, db_url, clock)
    with open_as(db_url, QUINN, clock) as qa:
        qa.oot.assess(case_id, impact_assessment="TH-002 recalled", disposition="results_recalled")
        case = qa.oot.get(case_id)
        assert not case.may_return_to_service
        assert "latest check of REF-1" in case.return_to_service_note
        with pytest.raises(ValidationError, match="record a passing check or calibration"):
            qa.oot.close(case_id, password=PASSWORD, return_to_service=True)
        # Adjusted and checked again: the passing check lets it back.
        check(qa, "2026-11-20", "0:0.05:0.2")
        assert qa.oot.get(case_id).may_return_to_service
        closed = qa.oot.close(case_id, password=PASSWORD, return_to_service=True)
        assert closed.returned_to_service and closed.signatures[0].intact
        impact = qa.oot.impact(case_id)
        assert impact.frozen and impact.standard_check_id == failed.id
        assert qa.instruments.get("REF-1").lifecycle == "in_service"
        assert qa.maintenance.verify(deep=True).problems == []


def test_history_report_log_and_export_say_where_the_case_came_from(
    lab: CalTrack, tmp_path: Path
) -> None:
    failed = check(lab, "2026-11-02", "0:0.6:0.2")
    case_id = failed.oot_case_id
    history = lab.reports.history("REF-1")
    (checks,) = [s for s in history.sections if s.sheet == "Checks"]
    assert checks.table is not None
    rows = {r[0]: dict(zip(checks.table.columns, r, strict=True)) for r in checks.table.rows}
    assert rows[failed.id]["OOT case"] == f"OOT-{case_id}"
    assert [r["OOT case"] for i, r in rows.items() if i != failed.id] == [""]

    log = lab.reports.oot_log(lab.oot.list())
    (table,) = [s.table for s in log.sections if s.sheet == "OOT cases"]
    assert table is not None
    (row,) = [dict(zip(table.columns, r, strict=True)) for r in table.rows]
    assert row["Found by"] == f"intermediate check #{failed.id} on 2026-11-02"

    lab.transfer.export("xlsx", tmp_path / "lab.xlsx")
    book = openpyxl.load_workbook(tmp_path / "lab.xlsx", read_only=True)
    sheet = book["Checks"]
    header = [c.value for c in sheet[1]]
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in sheet.iter_rows(values_only=True)}
    assert by_id[failed.id]["OOT case"] == f"OOT-{case_id}"
    book.close()
