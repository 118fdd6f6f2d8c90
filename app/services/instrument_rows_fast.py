"""The instrument list's fast row building: ``rows_of``'s shortcut past ``row_of``.

A page of the list becomes ``InstrumentRow`` values without a dataclass ``__init__``
per row (see ``filled_rows``). ``app.services.instruments`` uses it only while
``fast_rows_agree`` finds its rows equal to ``row_of``'s; otherwise ``row_of`` builds
every row, so a change to ``InstrumentRow`` can slow the list down but never corrupt it.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Sequence
from datetime import date
from itertools import repeat

from app.repositories.instruments import ListRow
from app.services.dto import InstrumentRow
from app.services.due import due_status

# Where each InstrumentRow field comes from in a repository list row (None: computed).
_ROW_SOURCES = {
    "id": "id",
    "asset_tag": "asset_tag",
    "description": "description",
    "manufacturer": "manufacturer",
    "model": "model",
    "serial_number": "serial_number",
    "location": "location",
    "lifecycle": "status",
    "due_status": None,
    "interval_days": "calibration_interval_days",
    "last_calibrated": "last_calibrated",
    "next_due": "next_due",
    "version": "version",
    "requirement": "calibration_requirement",
    "review_reason": "review_reason",
    "holder": "holder",
    "next_check": "next_check",
    "check_before_use": "check_before_use",
}


def filled_rows(rows: Sequence[ListRow], today: date, soon_days: int) -> list[InstrumentRow]:
    """New rows with their slots filled one field at a time, in C-level passes.

    A frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``
    in Python; for a page of the list that costs more than the query itself. This sets
    the very same slots with ``map`` (``fast_rows_agree`` checks that the result equals
    row_of's, or row_of is used).
    """
    columns = dict(zip(ListRow._fields, zip(*rows, strict=True), strict=True))
    statuses = map(
        due_status,
        columns["status"],
        columns["next_due"],
        repeat(today),
        repeat(soon_days),
        columns["calibration_requirement"],
    )
    made = list(map(object.__new__, repeat(InstrumentRow, len(rows))))
    for name, source in _ROW_SOURCES.items():
        values = statuses if source is None else columns[source]
        deque(map(_ROW_SLOTS[name], made, values), maxlen=0)
    return made


_ROW_SLOTS = {
    f.name: getattr(InstrumentRow, f.name).__set__ for f in dataclasses.fields(InstrumentRow)
}


def fast_rows_agree(row_of: Callable[[ListRow, date, int], InstrumentRow]) -> bool:
    """True while InstrumentRow is a plain slotted dataclass that ``filled_rows`` fills
    exactly as ``row_of`` (the rule) would (a field added to it must not be left unset)."""
    if set(_ROW_SLOTS) != set(_ROW_SOURCES) or hasattr(InstrumentRow, "__post_init__"):
        return False
    today = date(2026, 2, 1)
    samples = [
        ListRow(
            7,
            "TH-7",
            "d",
            "m",
            "x",
            "s",
            "l",
            "in_service",
            30,
            date(2026, 3, 1),
            None,
            3,
            "periodic",
            "",
            "Dana",
            date(2026, 2, 20),
            False,
        ),
        ListRow(
            8,
            "PG-8",
            "e",
            "n",
            "y",
            "t",
            "k",
            "retired",
            90,
            None,
            date(2026, 2, 9),
            1,
            "not_required",
            "next due before last calibration",
            None,
            None,
            None,
        ),
        ListRow(
            9,
            "PG-9",
            "e",
            "n",
            "y",
            "t",
            "k",
            "in_service",
            90,
            None,
            None,
            1,
            "verify_before_use",
            "",
            None,
            None,
            True,
        ),
    ]
    return filled_rows(samples, today, 30) == [row_of(r, today, 30) for r in samples]
