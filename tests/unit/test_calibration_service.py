"""CalibrationService: due rules, pass/fail of points, standards, voiding."""

from __future__ import annotations

from datetime import date

import pytest

from app.bootstrap import CalTrack
from app.errors import ConflictError, ValidationError
from app.services.calibrations import parse_point
from app.services.dto import CalibrationInput, PointInput
from app.services.tolerance import within
from tests.conftest import add_thermometer


def test_calibration_sets_last_and_next_due(app: CalTrack) -> None:
    add_thermometer(app)
    view = app.calibrations.add(
        "TH-001",
        CalibrationInput(
            performed_on="2026-03-01",
            result="pass",
            certificate_number="C-1",
            points=(PointInput(20.0, 20.1, 20.1, 0.5, "°C"),),
        ),
    )
    assert view.next_due == date(2027, 3, 1)
    assert view.points[0].as_found_pass is True
    detail = app.instruments.get("TH-001")
    assert detail.last_calibrated == date(2026, 3, 1)
    assert detail.next_due == date(2027, 3, 1)
    assert detail.due_status == "ok"
    # The record and the instrument's new dates are both audited.
    instrument_events = app.audit.for_entity("instrument", detail.id)
    assert instrument_events[-1].changes["next_due"] == [None, "2027-03-01"]
    assert instrument_events[-1].reason == f"calibration #{view.id}"
    assert app.audit.for_entity("calibration", view.id)[0].action == "create"


def test_failed_calibration_takes_instrument_out_of_service(app: CalTrack) -> None:
    add_thermometer(app)
    app.calibrations.add(
        "TH-001",
        CalibrationInput(
            performed_on="2026-03-01", result="fail", points=(PointInput(20, 21, 21, 0.5),)
        ),
    )
    detail = app.instruments.get("TH-001")
    assert detail.lifecycle == "out_of_service"
    assert detail.due_status == "out-of-service"


def test_future_date_and_pass_with_failing_point_are_refused(app: CalTrack) -> None:
    add_thermometer(app)
    with pytest.raises(ValidationError) as future:
        app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-11-24", result="pass"))
    assert "future" in future.value.fields["performed_on"]
    with pytest.raises(ValidationError) as failing:
        app.calibrations.add(
            "TH-001",
            CalibrationInput(
                performed_on="2026-11-01", result="pass", points=(PointInput(20, 20.6, 20.0, 0.5),)
            ),
        )
    assert "point 1" in failing.value.fields
    with pytest.raises(ValidationError) as bad_date:
        app.calibrations.add("TH-001", CalibrationInput(performed_on="31/12/2025", result="pass"))
    assert "YYYY-MM-DD" in bad_date.value.fields["performed_on"]
    assert app.calibrations.history("TH-001") == []


def test_next_due_override_needs_a_reason(app: CalTrack) -> None:
    add_thermometer(app)
    data = CalibrationInput(performed_on="2026-03-01", result="pass", next_due="2026-09-01")
    with pytest.raises(ValidationError) as info:
        app.calibrations.add("TH-001", data)
    assert "reason" in info.value.fields["next_due"]
    view = app.calibrations.add(
        "TH-001",
        CalibrationInput(
            performed_on="2026-03-01",
            result="pass",
            next_due="2026-09-01",
            next_due_reason="heavy use on line B",
        ),
    )
    assert view.next_due == date(2026, 9, 1)
    assert app.audit.for_entity("calibration", view.id)[0].reason == "heavy use on line B"


def test_backdated_calibration_does_not_move_due_date_back(app: CalTrack) -> None:
    add_thermometer(app)
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-06-01", result="pass"))
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2025-06-01", result="pass"))
    assert app.instruments.get("TH-001").next_due == date(2027, 6, 1)


def test_standards_link_both_ways_and_must_exist(app: CalTrack) -> None:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "REF-1", description="Reference PRT")
    app.calibrations.add("REF-1", CalibrationInput(performed_on="2026-01-10", result="pass"))
    view = app.calibrations.add(
        "TH-001", CalibrationInput(performed_on="2026-03-01", result="pass", standards=("ref-1",))
    )
    assert view.standards == ["REF-1"]
    assert app.calibrations.calibrated_with("REF-1") == [(view.id, "TH-001")]
    with pytest.raises(ValidationError):
        app.calibrations.add(
            "TH-001", CalibrationInput(performed_on="2026-03-01", result="pass", standards=("X",))
        )
    with pytest.raises(ValidationError):
        app.calibrations.add(
            "TH-001",
            CalibrationInput(performed_on="2026-03-01", result="pass", standards=("TH-001",)),
        )


def test_void_needs_reason_and_rolls_due_date_back(app: CalTrack) -> None:
    add_thermometer(app)
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2025-06-01", result="pass"))
    latest = app.calibrations.add(
        "TH-001", CalibrationInput(performed_on="2026-06-01", result="pass")
    )
    with pytest.raises(ValidationError):
        app.calibrations.void(latest.id, "  ")
    voided = app.calibrations.void(latest.id, "wrong instrument", expected_version=latest.version)
    assert voided.voided and voided.void_reason == "wrong instrument"
    assert app.instruments.get("TH-001").next_due == date(2026, 6, 1)
    # Voided records stay in the history.
    assert len(app.calibrations.history("TH-001")) == 2
    with pytest.raises(ValidationError):
        app.calibrations.void(latest.id, "again")


def test_void_with_stale_version_conflicts(app: CalTrack) -> None:
    add_thermometer(app)
    view = app.calibrations.add(
        "TH-001", CalibrationInput(performed_on="2026-06-01", result="pass")
    )
    with pytest.raises(ConflictError):
        app.calibrations.void(view.id, "typo", expected_version=view.version + 5)


@pytest.mark.parametrize(
    ("value", "nominal", "tol", "expected"),
    [
        (20.5, 20.0, 0.5, True),
        (20.51, 20.0, 0.5, False),
        (None, 1.0, 0.1, None),
        (0.3, 0.1 + 0.2, 0.0, True),
    ],
)
def test_within_tolerance(
    value: float | None, nominal: float, tol: float, expected: bool | None
) -> None:
    assert within(value, nominal, tol) is expected


def test_parse_point() -> None:
    assert parse_point("100:100.2::0.5:bar") == PointInput(100.0, 100.2, None, 0.5, "bar")
    assert parse_point("1,5:1,6:1,5:0,2") == PointInput(1.5, 1.6, 1.5, 0.2, "")
    for bad in ("1:2:3", "a:b:c:d", "1:2:3:nan", "1:2:3:inf:V"):
        with pytest.raises(ValidationError):
            parse_point(bad)
