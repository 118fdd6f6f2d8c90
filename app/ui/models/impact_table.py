"""A case's OOT impact list as a Qt table model: one row per reading re-evaluated.

The rows come whole from ``OotService.impact`` (``app.services.oot_impact``); this model
only words them. A reading whose verdict would change stands out by its words ("Would
change", the verdicts before → after) and by its colour and weight, never colour alone;
a reading not re-evaluated says why in the same column.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from app.services.decision_rules import Verdict
from app.services.oot_impact import COMPARED, ImpactRow
from app.ui.look import status_color
from app.ui.models.list_model import ListTableModel

COLUMNS: tuple[str, ...] = (
    "Record",
    "Instrument",
    "Point",
    "Reading",
    "Unit",
    "Stored",
    "Error",
    "Shifted",
    "Verdict",
    "Change",
)
(
    COL_RECORD,
    COL_INSTRUMENT,
    COL_POINT,
    COL_READING,
    COL_UNIT,
    COL_STORED,
    COL_ERROR,
    COL_SHIFTED,
    COL_VERDICT,
    COL_CHANGE,
) = range(len(COLUMNS))
WOULD_CHANGE = "Would change"
UNCHANGED = "unchanged"


def verdict_words(verdict: str) -> str:
    """A stored verdict value in words ("conditional pass"); "—" for none."""
    if not verdict:
        return "—"
    try:
        return Verdict(verdict).label
    except ValueError:
        # A list frozen into a case by another version may hold a word this one lacks:
        # shown as stored rather than failing the window.
        return verdict.replace("_", " ")


def change_text(row: ImpactRow) -> str:
    """The "Change" column: would change, unchanged, or why the reading was skipped."""
    if row.status != COMPARED:
        return row.note
    return WOULD_CHANGE if row.flips else UNCHANGED


def _display(row: ImpactRow, column: int) -> str:
    if column == COL_RECORD:
        return f"#{row.record_id}"
    if column == COL_INSTRUMENT:
        return row.asset_tag
    if column == COL_POINT:
        return str(row.seq) if row.seq else "—"
    if column == COL_READING:
        return row.reading.replace("_", " ")
    if column == COL_UNIT:
        return row.unit
    if column == COL_STORED:
        # Ten significant digits, as the service's own sentence prints it.
        return "" if row.stored is None else f"{row.stored:.10g}"
    if column == COL_ERROR:
        return row.error
    if column == COL_SHIFTED:
        return row.shifted
    if column == COL_VERDICT:
        if row.status != COMPARED:
            return ""
        return f"{verdict_words(row.before)} → {verdict_words(row.after)}"
    return change_text(row)


class ImpactTableModel(ListTableModel[ImpactRow]):
    """The readings of a case's impact list, in the service's order."""

    COLUMNS = COLUMNS

    def cell(self, item: ImpactRow, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{item.line}; calibrated {item.performed_on.isoformat()}"
        if role == Qt.ItemDataRole.ForegroundRole:
            if item.flips:
                return status_color("overdue")
            return None
        if role == Qt.ItemDataRole.FontRole and item.flips:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{_display(item, column)} ({item.line})" if column == COL_CHANGE else None
        return None

    def flipped_rows(self) -> list[int]:
        """The rows whose verdict would change."""
        return [r for r in range(self.rowCount()) if (row := self.item_at(r)) and row.flips]
