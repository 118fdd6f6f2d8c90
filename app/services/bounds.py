"""The edges of every number and date CalTrack accepts: one home for the limits.

A date outside a sane calendar would overflow Python's ``date`` as soon as days are
added to it (9999-12-31 plus grace days), and an id above SQLite's 64-bit integer
overflows the driver. Both are refused where the input arrives, with one clear line.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2200, 12, 31)
# SQLite stores integers in 64 bits, signed.
MAX_SQL_INT = 2**63 - 1
# The longest any command may be asked to wait or watch: a day.
MAX_SECONDS = 24 * 3600.0


def day_problem(day: date) -> str | None:
    """Why ``day`` is outside the calendar CalTrack works in, or None when it is inside."""
    if EARLIEST_DAY <= day <= LATEST_DAY:
        return None
    return (
        f"{day.isoformat()} is outside the calendar CalTrack keeps "
        f"({EARLIEST_DAY:%Y-%m-%d} to {LATEST_DAY:%Y-%m-%d})"
    )


def id_problem(value: int, what: str = "id") -> str | None:
    """Why ``value`` cannot be an id (ids are 1 .. 2^63-1), or None."""
    if 1 <= value <= MAX_SQL_INT:
        return None
    return f"{value} is not a {what}: it must be between 1 and {MAX_SQL_INT}"


def count_problem(value: int, what: str = "number") -> str | None:
    """Why ``value`` cannot be a count, limit or offset (0 .. 2^63-1), or None."""
    if 0 <= value <= MAX_SQL_INT:
        return None
    return f"{value} is not a {what}: it must be between 0 and {MAX_SQL_INT}"


def seconds_problem(value: float) -> str | None:
    """Why ``value`` is no sensible number of seconds to wait (0 .. a day), or None."""
    if math.isfinite(value) and 0 <= value <= MAX_SECONDS:
        return None
    return f"{value} is not a number of seconds between 0 and {MAX_SECONDS:.0f} (a day)"


def add_days(day: date, days: int) -> date:
    """``day + days``, held at the ends of Python's calendar instead of overflowing.

    Dates already stored before the bounds existed (or written by another program) may
    lie at 9999-12-31; arithmetic on them must still give an answer.
    """
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min
