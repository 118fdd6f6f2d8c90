"""The clock services read the time from, so due dates and audit lines are testable."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol


class Clock(Protocol):
    """Source of the current time."""

    def now_utc(self) -> datetime:
        """Aware UTC datetime."""
        ...

    def today(self) -> date:
        """The local calendar date, used for due rules."""
        ...


class SystemClock:
    """The real clock."""

    def now_utc(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return date.today()


class FixedClock:
    """A clock that stands still (tests, demo data generation)."""

    def __init__(self, now: datetime) -> None:
        self._now = now if now.tzinfo else now.replace(tzinfo=UTC)

    def now_utc(self) -> datetime:
        return self._now

    def today(self) -> date:
        return self._now.date()
