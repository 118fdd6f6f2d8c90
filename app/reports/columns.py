"""Column widths for printed tables, from the widths of the texts they hold.

Qt's own table layout can squeeze a column of asset tags until "TH-000027" breaks in
the middle while a description column keeps spare room. Here each column gets at least
its longest unbreakable word (an asset tag, a date, a number) and the rest of the
width goes where the texts are long; only a table too wide for the page breaks words.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.reports.cells import cell_text
from app.services.report_model import Cell, Table

# Rows measured per column: enough for a fair picture, cheap for 100k rows.
SAMPLE_ROWS = 2000
# No single word may claim more than this share of the width (a hash, a long path).
MAX_WORD_SHARE = 0.3
MAX_TEXT_SHARE = 0.45


def _sample(rows: Sequence[tuple[Cell, ...]]) -> Sequence[tuple[Cell, ...]]:
    if len(rows) <= SAMPLE_ROWS:
        return rows
    step = len(rows) / SAMPLE_ROWS
    return [rows[int(i * step)] for i in range(SAMPLE_ROWS)]


@dataclass(frozen=True)
class ColumnFit:
    """Each column's share of the table width (adding up to 1), and whether every
    column got the room for its longest word (False: some words must break)."""

    shares: list[float]
    fits: bool


def fit_columns(
    table: Table,
    *,
    available: float,
    text_width: Callable[[str], float],
    header_width: Callable[[str], float],
    per_column: float = 0.0,
) -> ColumnFit:
    """Share out ``available`` among the columns of ``table``.

    ``available`` is the table's width, ``per_column`` what each column spends on
    padding and rules, both in the units the two measuring functions return.
    """
    n = len(table.columns)
    if n == 0:
        return ColumnFit([], True)
    room = max(available - per_column * n, float(n))
    rows = _sample(table.rows)
    word_cap, text_cap = room * MAX_WORD_SHARE, room * MAX_TEXT_SHARE
    least: list[float] = []
    wanted: list[float] = []
    cache: dict[str, float] = {}

    def width(text: str) -> float:
        if text not in cache:
            cache[text] = text_width(text)
        return cache[text]

    for col, heading in enumerate(table.columns):
        head_word = max((header_width(w) for w in heading.split()), default=0.0)
        longest_word = head_word
        texts: list[float] = []
        for row in rows:
            text = cell_text(row[col])
            if not text:
                texts.append(0.0)
                continue
            words = text.split()
            if len(words) == 1:
                longest_word = max(longest_word, min(width(text), word_cap))
                texts.append(width(text))
            else:
                longest_word = max(longest_word, min(max(width(w) for w in words), word_cap))
                texts.append(sum(width(w) for w in words) + width(" ") * (len(words) - 1))
        texts.sort()
        # The 90th percentile: one long note does not widen the column for every row.
        typical = texts[int(len(texts) * 0.9)] if texts else 0.0
        least.append(longest_word)
        wanted.append(max(longest_word, min(typical, text_cap), header_width(heading) * 0.5))

    total_wanted, total_least = sum(wanted), sum(least)
    if total_wanted <= room:
        widths = [w * room / total_wanted for w in wanted] if total_wanted else [1.0] * n
    elif total_least <= room:
        spare = room - total_least
        extra = [w - m for w, m in zip(wanted, least, strict=True)]
        total_extra = sum(extra) or 1.0
        widths = [m + spare * e / total_extra for m, e in zip(least, extra, strict=True)]
    else:
        widths = [m * room / total_least for m in least]  # too wide: words must break
    full = [w + per_column for w in widths]
    total = sum(full)
    return ColumnFit([w / total for w in full], total_least <= room)
