"""Tolerance rules: pass/fail of a reading and what a calibration's readings say.

One home for "within tolerance", so the calibration views, out-of-tolerance cases and
traceability checks (and the window, which colours readings) judge a reading alike.
"""

from __future__ import annotations

from app.db.models import CalibrationRecord


def within(value: float | None, nominal: float, tolerance: float) -> bool | None:
    """Pass/fail of one reading; None when there is no reading."""
    if value is None:
        return None
    # A reading exactly on the limit passes; allow for binary rounding of decimals.
    slack = 1e-9 * max(1.0, abs(nominal), abs(tolerance))
    return abs(value - nominal) <= tolerance + slack


def failed_points(record: CalibrationRecord, attr: str) -> list[int]:
    """Seq numbers of points whose reading ``attr`` is outside its tolerance."""
    return [
        p.seq
        for p in sorted(record.points, key=lambda p: p.seq)
        if within(getattr(p, attr), p.nominal, p.tolerance) is False
    ]


def opens_case(record: CalibrationRecord) -> bool:
    """True when a calibration found the instrument out of tolerance."""
    return record.result == "fail" or bool(failed_points(record, "as_found"))


def left_good(record: CalibrationRecord) -> bool:
    """True when a calibration left the instrument within tolerance."""
    return record.result != "fail" and not failed_points(record, "as_left")
