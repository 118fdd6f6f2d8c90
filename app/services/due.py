"""Due rules: when an instrument is next due and what its status is today."""

from __future__ import annotations

from datetime import date, timedelta

from app.services.bounds import add_days

DEFAULT_DUE_SOON_DAYS = 30

DUE_STATUSES = (
    "ok",
    "due-soon",
    "overdue",
    "not-calibrated",
    "verify-before-use",
    "not-required",
    "out-of-service",
    "retired",
    "lost",
)


def next_due_from(performed_on: date, interval_days: int) -> date:
    return add_days(performed_on, interval_days)


def next_due_for(requirement: str, last_calibrated: date | None, interval_days: int) -> date | None:
    """The one rule for an instrument's next due: the last calibration plus the interval
    for a periodic instrument; none for one never calibrated, and none for one that is
    not calibrated periodically (verified before use, or not required: its interval is
    kept but not used).
    """
    if requirement != "periodic" or last_calibrated is None:
        return None
    return next_due_from(last_calibrated, interval_days)


def due_status(
    lifecycle: str,
    next_due: date | None,
    today: date,
    soon_days: int,
    requirement: str = "periodic",
) -> str:
    """ok / due-soon / overdue / not-calibrated for instruments in service that are
    calibrated periodically; verify-before-use / not-required for those that are not
    (never due, never overdue); otherwise the lifecycle.

    An instrument never calibrated has missed no date: it is not overdue (that alarm,
    the moment it is registered, teaches people to ignore the colour red), but it must
    not be used until it is calibrated, which is a status of its own.
    """
    if lifecycle != "in_service":
        return lifecycle.replace("_", "-")
    if requirement != "periodic":
        return requirement.replace("_", "-")
    if next_due is None:
        return "not-calibrated"
    if next_due < today:
        return "overdue"
    if next_due <= today + timedelta(days=soon_days):
        return "due-soon"
    return "ok"
