"""Old history that contradicts itself: what is questionable about it, in plain sentences.

A register written by people over years holds dates that cannot all be true — a next
due before the last calibration (the old tool overwrote one field), a calibration in
the future, a 1970-01-01 or 1900-01-01 standing in for "unknown". Such data is not
dangerous; refusing it would stop a lab from starting. An import keeps it AS RECORDED
and puts the instrument in front of QA: ``Instrument.review_reason`` holds these
sentences ("" = nothing to review) until a QA user clears it with a reason.

Placeholder dates are stored as recorded, not blanked: the flag says what is wrong,
the audit trail keeps the file's value, and an export gives the file's date back (a
blank would turn "recorded as 1970-01-01" into "never recorded" without a trace). An
instrument whose last calibration is a placeholder comes out overdue — the safe side.
"""

from __future__ import annotations

from datetime import date

# Dates old tools and spreadsheets write for "unknown" (Unix epoch, Excel's day 1).
PLACEHOLDER_DAYS = frozenset({date(1970, 1, 1), date(1900, 1, 1)})
# The review reason is shown in one banner line; a long history is cut here.
MAX_REVIEW_LEN = 2000


def instrument_problems(last: date | None, due: date | None, today: date) -> list[str]:
    """What is questionable about a register row's last calibration and next due."""
    problems: list[str] = []
    for day, name in ((last, "last calibration"), (due, "next due")):
        if day in PLACEHOLDER_DAYS:
            problems.append(f"{name} {day} looks like a placeholder, not a real date")
    if last is not None and last > today:
        problems.append(f"last calibration {last} is in the future (imported on {today})")
    if last is not None and due is not None and due <= last and not {last, due} & PLACEHOLDER_DAYS:
        where = "the same day as" if due == last else "before"
        problems.append(f"next due {due} is {where} the last calibration {last}")
    return problems


def record_problems(performed_on: date, next_due: date | None, today: date) -> list[str]:
    """What is questionable about one calibration record's dates."""
    problems: list[str] = []
    if performed_on in PLACEHOLDER_DAYS:
        problems.append(f"calibration dated {performed_on} (looks like a placeholder)")
    elif performed_on > today:
        problems.append(f"calibration on {performed_on} is in the future (imported on {today})")
    if (
        next_due is not None
        and next_due <= performed_on
        and not {performed_on, next_due} & PLACEHOLDER_DAYS
    ):
        where = "the same day as" if next_due == performed_on else "before"
        problems.append(f"calibration on {performed_on} has next due {next_due}, {where} it")
    if next_due in PLACEHOLDER_DAYS and next_due != performed_on:
        problems.append(
            f"calibration on {performed_on} has next due {next_due} (looks like a placeholder)"
        )
    return problems


def sentence(problems: list[str]) -> str:
    """The problems as one line ("" for none)."""
    return "; ".join(problems)


def appended(current: str, addition: str) -> str:
    """``addition`` after what is already to review (each once), cut to MAX_REVIEW_LEN."""
    if not addition:
        return current
    parts = [p for p in current.split("; ") if p] if current else []
    for p in addition.split("; "):
        if p and p not in parts:
            parts.append(p)
    text = "; ".join(parts)
    return text if len(text) <= MAX_REVIEW_LEN else text[: MAX_REVIEW_LEN - 1] + "…"
