"""Due rules: when an instrument is next due and what its status is today."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, timedelta
from typing import Literal

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


# -- several schedules per instrument (issue 15) ---------------------------------------

ScheduleKind = Literal["calibration", "check", "maintenance"]
SCHEDULE_KIND_NAMES: tuple[ScheduleKind, ...] = ("calibration", "check", "maintenance")
IntervalUnit = Literal["d", "m"]

# What a schedule besides calibration says about today (calibration keeps due_status).
SCHEDULE_STATUSES = (
    "ok",
    "due-soon",
    "in-grace",
    "overdue",
    "before-use",
    "not-done",
)
ScheduleStatus = Literal["ok", "due-soon", "in-grace", "overdue", "before-use", "not-done"]


@dataclass(frozen=True)
class Interval:
    """Every ``count`` days ("d") or calendar months ("m")."""

    count: int
    unit: IntervalUnit

    def text(self) -> str:
        """ "30d", "6m": how the CLI takes it and the register shows it."""
        return f"{self.count}{self.unit}"


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months, held at the month's end: Jan 31 + 1 month is
    Feb 28 (29 in a leap year), and Feb 28 + 1 month is Mar 28 (not the month end)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    if year < MINYEAR or year > MAXYEAR:
        return date.max if months > 0 else date.min
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def advance(day: date, interval: Interval) -> date:
    """The next due after something was done on ``day``: the one rule for every schedule."""
    if interval.unit == "m":
        return add_months(day, interval.count)
    return add_days(day, interval.count)


def schedule_status(
    *,
    next_due: date | None,
    today: date,
    soon_days: int,
    grace_days: int,
    due_before_use: bool,
) -> ScheduleStatus:
    """A schedule's state today: a before-use schedule armed by a check-out comes first
    (the instrument must not be used until it is done); then overdue once the grace
    after the due date has passed too, in grace between the due date and that, due soon
    within the window, ok after it; not done when it has no date yet."""
    if due_before_use:
        return "before-use"
    if next_due is None:
        return "not-done"
    if next_due < today:
        return "in-grace" if add_days(next_due, grace_days) >= today else "overdue"
    if next_due <= today + timedelta(days=soon_days):
        return "due-soon"
    return "ok"
