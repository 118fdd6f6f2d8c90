"""Instruments that are not calibrated periodically: verify before use, not required.

The requirement is an audited instrument field; a non-periodic instrument has no next
due date, is never due or overdue, and switching between kinds needs a reason.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.bootstrap import CalTrack
from app.errors import ValidationError
from app.services.dto import CalibrationInput, InstrumentChanges, InstrumentInput
from app.services.validation import instrument_changes, instrument_input
from tests.conftest import add_thermometer


def test_not_required_needs_a_reason_and_stores_nothing_without(app: CalTrack) -> None:
    with pytest.raises(ValidationError) as info:
        app.instruments.add(
            instrument_input(
                {
                    "asset_tag": "REF-1",
                    "description": "Gauge block",
                    "calibration_requirement": "cnr",
                }
            )
        )
    assert "calibration_requirement" in info.value.fields
    with pytest.raises(ValidationError) as info:
        app.instruments.add(
            instrument_input(
                {
                    "asset_tag": "REF-1",
                    "description": "Gauge block",
                    "calibration_requirement": "not-required",
                }
            )
        )
    assert "requirement_reason" in info.value.fields
    assert "reason calibration is not required" in info.value.fields["requirement_reason"]
    assert app.instruments.list().total == 0
    assert app.audit.recent(entity_type="instrument") == []


def test_add_not_required_and_verify_before_use(app: CalTrack) -> None:
    cnr = app.instruments.add(
        instrument_input(
            {
                "asset_tag": "REF-1",
                "description": "Gauge block",
                "calibration_requirement": "not required",  # as the CLI may write it
                "requirement_reason": "reference item only",
            }
        )
    )
    assert (cnr.calibration_requirement, cnr.requirement_reason) == (
        "not_required",
        "reference item only",
    )
    assert cnr.due_status == "not-required" and cnr.next_due is None
    vbu = app.instruments.add(
        InstrumentInput(
            asset_tag="PSU-1",
            description="Power supply",
            calibration_requirement="verify_before_use",
        )
    )
    assert vbu.due_status == "verify-before-use" and vbu.requirement_reason == ""
    event = app.audit.for_entity("instrument", cnr.id)[0]
    assert event.changes["calibration_requirement"] == [None, "not_required"]
    assert event.changes["requirement_reason"] == [None, "reference item only"]


def test_a_periodic_instrument_has_no_requirement_reason(app: CalTrack) -> None:
    with pytest.raises(ValidationError) as info:
        add_thermometer(app, requirement_reason="because")
    assert "requirement_reason" in info.value.fields


def test_switch_needs_a_reason_and_clears_next_due(app: CalTrack) -> None:
    add_thermometer(app)
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-01-10", result="pass"))
    before = app.instruments.get("TH-001")
    assert before.next_due == date(2027, 1, 10)
    with pytest.raises(ValidationError) as info:
        app.instruments.edit(
            "TH-001", InstrumentChanges(calibration_requirement="verify_before_use")
        )
    assert "reason" in info.value.fields
    assert "needs a reason" in info.value.fields["reason"]
    assert app.instruments.get("TH-001") == before  # nothing changed

    after = app.instruments.edit(
        "TH-001",
        instrument_changes({"calibration_requirement": "verify-before-use"}),
        reason="used as a check only",
    )
    assert after.next_due is None and after.last_calibrated == date(2026, 1, 10)
    assert after.due_status == "verify-before-use"
    assert after.calibration_interval_days == 365  # kept, unused
    event = app.audit.for_entity("instrument", after.id)[-1]
    assert event.reason == "used as a check only"
    assert event.changes["calibration_requirement"] == ["periodic", "verify_before_use"]
    assert event.changes["next_due"] == ["2027-01-10", None]


def test_the_requirement_reason_is_the_switch_reason_when_none_is_given(app: CalTrack) -> None:
    add_thermometer(app)
    after = app.instruments.edit(
        "TH-001",
        InstrumentChanges(
            calibration_requirement="not_required", requirement_reason="kept for parts"
        ),
    )
    assert after.requirement_reason == "kept for parts"
    assert app.audit.for_entity("instrument", after.id)[-1].reason == "kept for parts"


def test_switching_to_not_required_without_requirement_reason_is_refused(app: CalTrack) -> None:
    add_thermometer(app)
    with pytest.raises(ValidationError) as info:
        app.instruments.edit(
            "TH-001",
            InstrumentChanges(calibration_requirement="not_required"),
            reason="broken display",
        )
    assert "requirement_reason" in info.value.fields
    assert app.instruments.get("TH-001").calibration_requirement == "periodic"
    assert len(app.audit.for_entity("instrument", app.instruments.get("TH-001").id)) == 1


def test_calibration_on_non_periodic_moves_last_but_not_next_due(app: CalTrack) -> None:
    add_thermometer(
        app, calibration_requirement="verify_before_use", requirement_reason="checked on use"
    )
    view = app.calibrations.add(
        "TH-001", CalibrationInput(performed_on="2026-03-01", result="pass")
    )
    assert view.next_due is None
    detail = app.instruments.get("TH-001")
    assert detail.last_calibrated == date(2026, 3, 1) and detail.next_due is None
    with pytest.raises(ValidationError) as info:
        app.calibrations.add(
            "TH-001",
            CalibrationInput(performed_on="2026-04-01", result="pass", next_due="2027-01-01"),
        )
    assert "no next due" in info.value.fields["next_due"]


def test_back_to_periodic_recomputes_next_due(app: CalTrack) -> None:
    add_thermometer(app, calibration_requirement="not_required", requirement_reason="spare")
    never = app.instruments.edit(
        "TH-001", InstrumentChanges(calibration_requirement="periodic"), reason="back in use"
    )
    assert never.next_due is None and never.due_status == "not-calibrated"
    assert never.requirement_reason == ""  # it no longer holds
    app.instruments.edit(
        "TH-001",
        InstrumentChanges(calibration_requirement="not_required", requirement_reason="spare"),
        reason="spare again",
    )
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-02-01", result="pass"))
    assert app.instruments.get("TH-001").next_due is None
    back = app.instruments.edit(
        "TH-001", InstrumentChanges(calibration_requirement="periodic"), reason="back in use"
    )
    assert back.next_due == date(2027, 2, 1)
    assert back.due_status == "ok"


def test_interval_edit_on_non_periodic_keeps_next_due_empty(app: CalTrack) -> None:
    add_thermometer(app, calibration_requirement="not_required", requirement_reason="spare")
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-02-01", result="pass"))
    after = app.instruments.edit("TH-001", InstrumentChanges(calibration_interval_days=180))
    assert after.next_due is None


def test_non_periodic_never_counts_as_due_or_overdue(app: CalTrack) -> None:
    add_thermometer(app, "OLD-1", calibration_requirement="not_required", requirement_reason="x")
    app.calibrations.add("OLD-1", CalibrationInput(performed_on="2020-01-01", result="pass"))
    add_thermometer(app, "LATE-1")
    app.calibrations.add("LATE-1", CalibrationInput(performed_on="2020-01-01", result="pass"))
    counts = app.instruments.status_counts()
    assert counts["overdue"] == 1 and counts["not-required"] == 1
    assert [r.asset_tag for r in app.instruments.list(status="not-required").rows] == ["OLD-1"]


def test_db_verify_accepts_switches_and_calibrations(app: CalTrack) -> None:
    add_thermometer(app)
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-01-10", result="pass"))
    app.instruments.edit(
        "TH-001",
        InstrumentChanges(calibration_requirement="not_required", requirement_reason="spare"),
    )
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-02-10", result="pass"))
    app.instruments.edit(
        "TH-001", InstrumentChanges(calibration_requirement="periodic"), reason="in use"
    )
    assert app.maintenance.verify().problems == []


def test_label_data_and_history_report_carry_the_requirement(app: CalTrack) -> None:
    add_thermometer(
        app, "REF-1", calibration_requirement="not_required", requirement_reason="spare"
    )
    add_thermometer(app, "TH-001")
    labels = app.reports.labels(tags=["REF-1", "TH-001"])
    assert [label.requirement for label in labels] == ["not_required", "periodic"]
    assert [label.requirement for label in app.reports.labels(status="not-required")] == [
        "not_required"
    ]
    report = app.reports.history("REF-1")
    cells = [str(c) for s in report.sections if s.table for row in s.table.rows for c in row]
    assert "calibration not required (spare)" in cells
    assert app.reports.overdue().row_count == 1  # TH-001 never calibrated; REF-1 is not


def test_a_switch_without_any_reason_names_both_fields(app: CalTrack) -> None:
    add_thermometer(app)
    with pytest.raises(ValidationError) as info:
        app.instruments.edit("TH-001", InstrumentChanges(calibration_requirement="not_required"))
    assert set(info.value.fields) == {"reason", "requirement_reason"}
