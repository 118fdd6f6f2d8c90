"""The rows of an import's dry run as a Qt table model, with a checkbox to leave a row out.

Rows with errors come first, and stay first when they are ticked off (a left-out row
keeps its place, so unticking several in a row does not make the table jump under the
mouse). The checkboxes change only this model's set of left-out lines and say so by
``exclusions_changed``; the wizard then runs the dry run again, which is the truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal

from app.services.transfer_model import ImportPreview, PreviewRow, RowIssue
from app.ui.look import status_color

LINE_ROLE = Qt.ItemDataRole.UserRole + 1

ModelIndex = QModelIndex | QPersistentModelIndex

# The problems before the summary: they are what the page is for.
COLUMNS: tuple[str, ...] = (
    "Import",
    "Line",
    "Action",
    "Asset tag",
    "Problems and notes",
    "Summary",
)
COL_IMPORT, COL_LINE, COL_ACTION, COL_TAG, COL_NOTES, COL_SUMMARY = range(len(COLUMNS))
ACTION_LABELS = {
    "add": "add",
    "update": "update",
    "unchanged": "unchanged",
    "error": "ERROR",
    "excluded": "left out",
    "not checked": "not checked",
}


def issue_text(issue: RowIssue) -> str:
    """A row's problem with the column it is about (the line is the row's own)."""
    return f"{issue.column}: {issue.message}" if issue.column else issue.message


def row_notes(row: PreviewRow) -> str:
    if row.action == "error":
        return "; ".join(issue_text(i) for i in row.issues)
    return "; ".join(row.notes)


def row_detail(row: PreviewRow) -> str:
    """The whole of what is known about one row, for the line under the table."""
    head = f"Line {row.line}" + (f" ({row.asset_tag})" if row.asset_tag else "")
    action = ACTION_LABELS.get(row.action, row.action)
    notes = row_notes(row)
    return f"{head}, {action}: {notes}" if notes else f"{head}, {action}: {row.summary}"


def _first(row: PreviewRow) -> bool:
    return row.action in ("error", "excluded")


class ImportPreviewTableModel(QAbstractTableModel):
    """The preview's rows (optionally only the failing ones), errors first."""

    exclusions_changed = Signal(object)  # frozenset[int] of the lines left out

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._all: list[PreviewRow] = []
        self._rows: list[PreviewRow] = []
        self._excluded: set[int] = set()
        self._only_problems = False

    # -- feeding ---------------------------------------------------------------------

    def set_preview(self, preview: ImportPreview | None) -> None:
        self.beginResetModel()
        self._all = sorted(preview.rows, key=lambda r: (not _first(r), r.line)) if preview else []
        self._excluded = set(preview.excluded_lines) if preview else set()
        self._refilter()
        self.endResetModel()

    def set_only_problems(self, only: bool) -> None:
        self.beginResetModel()
        self._only_problems = only
        self._refilter()
        self.endResetModel()

    def _refilter(self) -> None:
        self._rows = [r for r in self._all if not self._only_problems or _first(r)]

    def excluded(self) -> frozenset[int]:
        return frozenset(self._excluded)

    def set_excluded(self, lines: Iterable[int]) -> None:
        """Tick off exactly these lines (e.g. every line with an error)."""
        wanted = set(lines)
        if wanted == self._excluded:
            return
        self._excluded = wanted
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1)
            )
        self.exclusions_changed.emit(self.excluded())

    def row_at(self, row: int) -> PreviewRow | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, line: int) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.line == line), None)

    def lines_shown(self) -> list[int]:
        return [r.line for r in self._rows]

    # -- Qt model --------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == COL_IMPORT:
            return "Untick a row to leave it out of the import (the check runs again)"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == COL_IMPORT:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def _display(self, row: PreviewRow, column: int) -> str:
        if column == COL_IMPORT:
            return ""
        if column == COL_LINE:
            return str(row.line)
        if column == COL_ACTION:
            if row.line in self._excluded and row.action != "excluded":
                return "left out (checking…)"
            if row.line not in self._excluded and row.action == "excluded":
                return "taken in (checking…)"
            return ACTION_LABELS.get(row.action, row.action)
        if column == COL_TAG:
            return row.asset_tag
        if column == COL_SUMMARY:
            return row.summary
        return row_notes(row)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.CheckStateRole and column == COL_IMPORT:
            return Qt.CheckState.Unchecked if row.line in self._excluded else Qt.CheckState.Checked
        if role == LINE_ROLE:
            return row.line
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_IMPORT:
                return f"Import line {row.line} (untick to leave it out)"
            return self._display(row, column) or None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            if column == COL_IMPORT:
                state = "left out" if row.line in self._excluded else "imported"
                return f"Line {row.line}: {state}"
            return f"{COLUMNS[column]}: {self._display(row, column)}"
        if role == Qt.ItemDataRole.ForegroundRole and column in (COL_ACTION, COL_NOTES):
            if row.action == "error":
                return status_color("overdue")
            if row.action in ("excluded", "not checked"):
                return status_color("retired")
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_LINE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            not index.isValid()
            or index.column() != COL_IMPORT
            or role != Qt.ItemDataRole.CheckStateRole
            or not 0 <= index.row() < len(self._rows)
        ):
            return False
        line = self._rows[index.row()].line
        checked = Qt.CheckState(value) == Qt.CheckState.Checked
        if checked:
            self._excluded.discard(line)
        else:
            self._excluded.add(line)
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), len(COLUMNS) - 1))
        self.exclusions_changed.emit(self.excluded())
        return True
