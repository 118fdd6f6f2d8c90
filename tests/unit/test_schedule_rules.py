"""The schedule arithmetic of app.services.due: months, month ends, grace, before use."""

from __future__ import annotations

from datetime import date

import pytest

from app.errors import ValidationError
from app.services.checks import check_result, parse_reading
from app.services.dto import CheckReading
from app.services.due import Interval, add_months, advance, schedule_status
from app.services.schedules import parse_interval


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # a leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 2, 28), 1, date(2026, 3, 28)),  # not moved to the month's end
        (date(2026, 11, 15), 3, date(2027, 2, 15)),  # across the year
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 1, 10), 24, date(2028, 1, 10)),
    ],
)
def test_months_are_calendar_months_held_at_the_months_end(
    start: date, months: int, expected: date
) -> None:
    assert add_months(start, months) == expected
    assert advance(start, Interval(months, "m")) == expected


def test_days_are_days_and_the_calendar_end_holds() -> None:
    assert advance(date(2026, 1, 31), Interval(30, "d")) == date(2026, 3, 2)
    assert advance(date(9999, 12, 1), Interval(1200, "m")) == date.max


def test_status_walks_from_ok_through_due_soon_and_grace_to_overdue() -> None:
    due = date(2026, 6, 30)

    def status(today: date, grace: int = 5) -> str:
        return schedule_status(
            next_due=due, today=today, soon_days=14, grace_days=grace, due_before_use=False
        )

    assert status(date(2026, 6, 1)) == "ok"
    assert status(date(2026, 6, 16)) == "due-soon"
    assert status(date(2026, 6, 30)) == "due-soon"  # due today: not yet late
    assert status(date(2026, 7, 1)) == "in-grace"
    assert status(date(2026, 7, 5)) == "in-grace"  # the last day of grace
    assert status(date(2026, 7, 6)) == "overdue"
    assert status(date(2026, 7, 1), grace=0) == "overdue"


def test_before_use_comes_first_and_no_date_is_not_done() -> None:
    armed = schedule_status(
        next_due=date(2030, 1, 1),
        today=date(2026, 1, 1),
        soon_days=30,
        grace_days=0,
        due_before_use=True,
    )
    assert armed == "before-use"
    none = schedule_status(
        next_due=None, today=date(2026, 1, 1), soon_days=30, grace_days=0, due_before_use=False
    )
    assert none == "not-done"


def test_intervals_are_read_as_days_or_months_and_nonsense_is_refused() -> None:
    assert parse_interval("30d") == Interval(30, "d")
    assert parse_interval(" 6M ") == Interval(6, "m")
    for bad in ("", "6", "6w", "0d", "-3m", "1201m", "99999999999999d", "６m"):
        with pytest.raises(ValidationError):
            parse_interval(bad)


def test_a_check_fails_when_one_reading_is_outside_its_limit() -> None:
    good, bad = parse_reading("20:20.3:0.5"), parse_reading("100:100.6:0.5")
    assert good == CheckReading(20, 20.3, 0.5) and good.passed
    assert not bad.passed
    assert check_result((good,), "") == "pass"
    assert check_result((good, bad), "") == "fail"
    assert check_result((), "fail") == "fail"  # no readings: as stated
    with pytest.raises(ValidationError, match="the readings say fail"):
        check_result((good, bad), "pass")
    with pytest.raises(ValidationError):
        check_result((), "")
    for bad_text in ("20:20.3", "a:1:1", "1:1:-1", "1:nan:1", "1:1e400:1"):
        with pytest.raises(ValidationError):
            parse_reading(bad_text)
