"""Dates as people type them in spreadsheets: ISO, day-first, month-first, two-digit years.

A file comes from one locale, so one date order holds for all its date columns. With
``auto`` the whole file decides: a first part above 12 (23.11.2026) proves day-first, a
second part above 12 (11/23/2026) proves month-first; both at once is refused. When
every date could be read either way, dotted dates (11.03.2026) are day-first by
convention and slashed ones are read day-first too, with a warning that says so. ISO
dates (2026-11-23) are read as they are in every mode.

Two-digit years: 00–68 are 2000–2068, 69–99 are 1969–1999 (as POSIX ``strptime``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from app.services.bounds import day_problem

DATE_ORDERS = ("auto", "dmy", "mdy", "ymd")
ORDER_NAMES = {
    "dmy": "day first (dd.mm.yyyy)",
    "mdy": "month first (mm/dd/yyyy)",
    "ymd": "year first (yyyy-mm-dd)",
}

_FORMS = {
    "dmy": "yyyy-mm-dd or dd.mm.yyyy",
    "mdy": "yyyy-mm-dd or mm/dd/yyyy",
    "ymd": "yyyy-mm-dd",
}

_YEAR_FIRST = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})$")
_YEAR_LAST = re.compile(r"^(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})$")
_TIME_PART = re.compile(r"^(.*?)(?:[T ]+(\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?)\s*(Z|UTC)?)?$")


class DateProblem(ValueError):
    """A text that is not a date in the order in force; the message says why."""


@dataclass(frozen=True)
class DateOrder:
    """The order used for a file, and the sentence the preview shows about it."""

    order: str  # dmy, mdy or ymd
    note: str
    warning: str = ""
    conflict: str = ""  # set when auto found both orders in one file


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year <= 68 else 1900
    return year


def _split_time(text: str) -> tuple[str, str]:
    match = _TIME_PART.match(text.strip())
    if match is None:
        return text.strip(), ""
    return match.group(1).strip(), match.group(2) or ""


def detect_order(samples: Iterable[tuple[int, str]], requested: str) -> DateOrder:
    """The date order for a file from its date texts (line, text), or the one asked for."""
    if requested != "auto":
        return DateOrder(requested, f"{ORDER_NAMES[requested]} (as asked)")
    day_first: tuple[int, str] | None = None
    month_first: tuple[int, str] | None = None
    ambiguous = 0
    dotted = 0
    for line, raw in samples:
        text, _ = _split_time(raw)
        match = _YEAR_LAST.match(text)
        if match is None:
            continue
        first, second = int(match.group(1)), int(match.group(3))
        if first > 12 and day_first is None:
            day_first = (line, text)
        elif second > 12 and month_first is None:
            month_first = (line, text)
        elif first <= 12 and second <= 12:
            ambiguous += 1
            dotted += match.group(2) == "."
    if day_first and month_first:
        return DateOrder(
            "dmy",
            f"mixed: line {day_first[0]} is day first, line {month_first[0]} month first — "
            "choose the order",
            conflict=(
                f"the dates mix two orders: line {day_first[0]} has {day_first[1]} (day "
                f"first), line {month_first[0]} has {month_first[1]} (month first); "
                "choose the date order (day first or month first) and fix the other lines"
            ),
        )
    if day_first:
        return DateOrder("dmy", f"{ORDER_NAMES['dmy']}: line {day_first[0]} has {day_first[1]}")
    if month_first:
        return DateOrder("mdy", f"{ORDER_NAMES['mdy']}: line {month_first[0]} has {month_first[1]}")
    if not ambiguous:
        return DateOrder("ymd", "ISO (yyyy-mm-dd): no date in the file needs an order")
    if dotted == ambiguous:
        return DateOrder("dmy", f"{ORDER_NAMES['dmy']}: dotted dates are day first")
    return DateOrder(
        "dmy",
        f"{ORDER_NAMES['dmy']}, assumed",
        warning=(
            f"{ambiguous} date(s) could be day-first or month-first (no day above 12); "
            "they were read day first — choose month first if they are"
        ),
    )


def in_calendar(day: date) -> date:
    """``day`` itself, or DateProblem when it lies outside the calendar CalTrack keeps."""
    problem = day_problem(day)
    if problem:
        raise DateProblem(problem)
    return day


def parse_day(raw: str, order: str) -> date:
    """A date from text in ``order`` (ISO always works); DateProblem says why not."""
    text, _ = _split_time(raw)
    match = _YEAR_FIRST.match(text)
    try:
        if match:
            return in_calendar(date(int(match.group(1)), int(match.group(3)), int(match.group(4))))
        match = _YEAR_LAST.match(text)
        if match and order in ("dmy", "mdy"):
            a, b = int(match.group(1)), int(match.group(3))
            day, month = (a, b) if order == "dmy" else (b, a)
            return in_calendar(date(_full_year(match.group(4)), month, day))
    except DateProblem:
        raise
    except ValueError as exc:
        raise DateProblem(f"{raw.strip()!r} is not a valid date ({exc})") from None
    raise DateProblem(f"{raw.strip()!r} is not a date; write it as {_FORMS[order]}")


def parse_moment(raw: str, order: str) -> datetime:
    """A UTC moment (naive, as stored) from a date with an optional time."""
    text = raw.strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        day_text, time_text = _split_time(text)
        day = parse_day(day_text, order)
        try:
            clock = time.fromisoformat(time_text.replace(",", ".")) if time_text else time(0)
        except ValueError:
            raise DateProblem(f"{text!r} has a time that cannot be read") from None
        return datetime.combine(day, clock)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment
