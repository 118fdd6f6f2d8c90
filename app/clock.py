"""The clock services read the time from, so due dates and audit lines are testable."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Protocol


class Clock(Protocol):
    """Source of the current time."""

    def now_utc(self) -> datetime:
        """Aware UTC datetime."""
        ...

    def today(self) -> date:
        """The local calendar date, used for due rules."""
        ...

    def local_date(self, moment: datetime) -> date:
        """The local calendar date of a stored moment (naive ones are UTC)."""
        ...


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class SystemClock:
    """The real clock."""

    def now_utc(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return date.today()

    def local_date(self, moment: datetime) -> date:
        return _aware(moment).astimezone().date()


class FixedClock:
    """A clock that stands still (tests, demo data generation)."""

    def __init__(self, now: datetime, *, local: tzinfo = UTC) -> None:
        """``local``: the time zone whose calendar ``today`` and ``local_date`` give."""
        self._now = _aware(now).astimezone(UTC)
        self._local = local

    def now_utc(self) -> datetime:
        return self._now

    def today(self) -> date:
        return self._now.astimezone(self._local).date()

    def local_date(self, moment: datetime) -> date:
        return _aware(moment).astimezone(self._local).date()
