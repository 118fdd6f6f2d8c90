"""Dates in imported files: ISO, day-first, month-first, and how auto chooses."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from app.services.transfer_dates import DateProblem, detect_order, parse_day, parse_moment


@pytest.mark.parametrize(
    ("text", "order", "expected"),
    [
        ("2026-11-23", "dmy", date(2026, 11, 23)),
        ("2026-11-23", "mdy", date(2026, 11, 23)),
        ("2026/3/4", "ymd", date(2026, 3, 4)),
        ("2026-11-23 00:00:00", "ymd", date(2026, 11, 23)),
        ("2026-11-23T10:15", "dmy", date(2026, 11, 23)),
        ("23.11.2026", "dmy", date(2026, 11, 23)),
        ("23/11/2026", "dmy", date(2026, 11, 23)),
        ("3.4.26", "dmy", date(2026, 4, 3)),
        ("3.4.99", "dmy", date(1999, 4, 3)),
        ("1.1.68", "dmy", date(2068, 1, 1)),
        ("1.1.69", "dmy", date(1969, 1, 1)),
        ("11/23/2026", "mdy", date(2026, 11, 23)),
        (" 04-03-2026 ", "mdy", date(2026, 4, 3)),
    ],
)
def test_parse_day(text: str, order: str, expected: date) -> None:
    assert parse_day(text, order) == expected


@pytest.mark.parametrize(
    ("text", "order", "message"),
    [
        ("31.02.2026", "dmy", "'31.02.2026' is not a valid date (day is out of range for month)"),
        ("23.11.2026", "mdy", "'23.11.2026' is not a valid date (month must be in 1..12)"),
        ("23.11.2026", "ymd", "'23.11.2026' is not a date; write it as yyyy-mm-dd"),
        ("next week", "dmy", "'next week' is not a date; write it as yyyy-mm-dd or dd.mm.yyyy"),
        ("2026-13-01", "dmy", "'2026-13-01' is not a valid date (month must be in 1..12)"),
    ],
)
def test_parse_day_refuses_with_a_reason(text: str, order: str, message: str) -> None:
    with pytest.raises(DateProblem) as error:
        parse_day(text, order)
    assert str(error.value) == message


def test_auto_uses_the_whole_file_and_says_which_line_decided() -> None:
    samples = [(2, "03/04/2026"), (3, "05/06/2026"), (9, "23/06/2026")]
    order = detect_order(samples, "auto")
    assert (order.order, order.warning, order.conflict) == ("dmy", "", "")
    assert order.note == "day first (dd.mm.yyyy): line 9 has 23/06/2026"
    us = detect_order([(2, "03/04/2026"), (5, "03/14/2026")], "auto")
    assert us.order == "mdy"
    assert us.note == "month first (mm/dd/yyyy): line 5 has 03/14/2026"


def test_auto_never_guesses_silently() -> None:
    ambiguous = detect_order([(2, "03/04/2026"), (3, "05/06/2026")], "auto")
    assert ambiguous.order == "dmy"
    assert "2 date(s) could be day-first or month-first" in ambiguous.warning
    assert "choose month first" in ambiguous.warning
    dotted = detect_order([(2, "03.04.2026")], "auto")
    assert (dotted.order, dotted.warning) == ("dmy", "")
    assert dotted.note == "day first (dd.mm.yyyy): dotted dates are day first"
    mixed = detect_order([(2, "14/03/2026"), (3, "03/14/2026")], "auto")
    assert mixed.conflict.startswith(
        "the dates mix two orders: line 2 has 14/03/2026 (day first), "
        "line 3 has 03/14/2026 (month first)"
    )
    iso = detect_order([(2, "2026-03-04")], "auto")
    assert iso.order == "ymd"
    asked = detect_order([(2, "14/03/2026"), (3, "03/14/2026")], "mdy")
    assert (asked.order, asked.note, asked.conflict) == (
        "mdy",
        "month first (mm/dd/yyyy) (as asked)",
        "",
    )


def test_parse_moment_is_naive_utc() -> None:
    assert parse_moment("2026-11-23 09:30:00.123456", "ymd") == datetime(
        2026, 11, 23, 9, 30, 0, 123456
    )
    assert parse_moment("2026-11-23T10:30:00+01:00", "ymd") == datetime(2026, 11, 23, 9, 30)
    assert parse_moment("2026-11-23T09:30:00Z", "ymd") == datetime(2026, 11, 23, 9, 30)
    assert parse_moment("23.11.2026 09:30", "dmy") == datetime(2026, 11, 23, 9, 30)
    assert parse_moment("23.11.2026", "dmy") == datetime(2026, 11, 23)
    with pytest.raises(DateProblem):
        parse_moment("yesterday", "dmy")
