"""One fixed-set column's value table as a Qt table model: each distinct value as the
file writes it, its row count, what it becomes and where that came from.

"Becomes" is editable (the import wizard's values page puts a combo on it); an edit
changes only what this model shows and says so by ``value_chosen``; the wizard then
runs the dry run again, whose value table is the truth and replaces this one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont

from app.services.transfer_model import ColumnValues, ValueMap, value_key
from app.ui.look import icon, muted_color, status_color

ModelIndex = QModelIndex | QPersistentModelIndex

COLUMNS: tuple[str, ...] = ("Value in the file", "Rows", "Becomes", "Because")
COL_VALUE, COL_ROWS, COL_TARGET, COL_SOURCE = range(len(COLUMNS))
NOT_MAPPED = "(not mapped)"
# The role that gives the editor the choices: [(text, target or None)].
CHOICES_ROLE = Qt.ItemDataRole.UserRole + 1
TARGET_ROLE = Qt.ItemDataRole.UserRole + 2


def target_text(target: str) -> str:
    """A canonical value as a person reads it: "in_service" → "in service"."""
    return target.replace("_", " ")


def source_text(value: ValueMap) -> str:
    """Where what a value becomes came from, in words (never only a colour or icon)."""
    if value.target is None:
        return "NOT MAPPED: choose what it means"
    if value.source == "given":
        return "your choice"
    if value.source == "remembered":
        return "remembered (confirmed for these columns before)"
    if value.source == "guessed":
        return f"guessed from {value.guessed_from!r}" if value.guessed_from else "guessed"
    return "exact"


def source_tip(value: ValueMap) -> str:
    if value.target is None:
        return (
            f"CalTrack does not know what {value.value!r} means: choose what it becomes, "
            "or leave its rows out"
        )
    if value.source == "given":
        return "You chose this here; it is remembered for these columns once you import"
    if value.source == "remembered":
        return "You confirmed this for a file with the same columns before"
    if value.source == "guessed":
        return (
            f"A guess from the word {value.guessed_from!r}: check it, and choose another "
            "value if it is wrong"
        )
    return "The value is one CalTrack knows, however it is written"


def lines_text(value: ValueMap) -> str:
    shown = ", ".join(str(n) for n in value.lines)
    more = " …" if value.count > len(value.lines) else ""
    word = "line" if len(value.lines) == 1 and value.count == 1 else "lines"
    return f"{word} {shown}{more}" if shown else ""


class ValuesTableModel(QAbstractTableModel):
    """The distinct values of one column and what each becomes."""

    value_chosen = Signal(str, str, str)  # header, value as written, target

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._column: ColumnValues | None = None
        self._values: list[ValueMap] = []

    # -- feeding ---------------------------------------------------------------------

    @property
    def column(self) -> ColumnValues | None:
        return self._column

    def set_column(self, column: ColumnValues | None) -> None:
        """Show ``column``; the same values in the same order only repaint (the
        keyboard's place in the table stays where it was)."""
        new = list(column.values) if column is not None else []
        same = (
            self._column is not None
            and column is not None
            and self._column.column == column.column
            and [value_key(v.value) for v in self._values] == [value_key(v.value) for v in new]
        )
        if same:
            self._column, self._values = column, new
            if new:
                self.dataChanged.emit(self.index(0, 0), self.index(len(new) - 1, len(COLUMNS) - 1))
            return
        self.beginResetModel()
        self._column, self._values = column, new
        self.endResetModel()

    def value_at(self, row: int) -> ValueMap | None:
        return self._values[row] if 0 <= row < len(self._values) else None

    def row_of(self, value: str) -> int | None:
        key = value_key(value)
        return next((i for i, v in enumerate(self._values) if value_key(v.value) == key), None)

    def unmapped(self) -> list[ValueMap]:
        return [v for v in self._values if v.target is None]

    # -- Qt model --------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._values)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == COL_TARGET:
            return "F2, Enter, Space or a double-click opens the choices"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == COL_TARGET:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def _display(self, value: ValueMap, column: int) -> str:
        if column == COL_VALUE:
            return value.value
        if column == COL_ROWS:
            return f"{value.count:,}"
        if column == COL_TARGET:
            return target_text(value.target) if value.target else NOT_MAPPED
        return source_text(value)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._values):
            return None
        value = self._values[index.row()]
        column = index.column()
        unmapped = value.target is None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._display(value, column)
        if role == TARGET_ROLE:
            return value.target
        if role == CHOICES_ROLE and self._column is not None:
            # "(not mapped)" is offered where it is what the value is: a value that has a
            # meaning is changed by choosing another one.
            choices: list[tuple[str, str | None]] = [
                (target_text(t), t) for t in self._column.allowed
            ]
            return [*choices, (NOT_MAPPED, None)] if unmapped else choices
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_VALUE:
                where = lines_text(value)
                return f"{value.value!r}: {value.count:,} rows ({where})" if where else None
            if column == COL_TARGET:
                return "F2, Enter, Space or a double-click opens the choices"
            if column == COL_SOURCE:
                return source_tip(value)
            return None
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{COLUMNS[column]}: {self._display(value, column)}"
        if role == Qt.ItemDataRole.DecorationRole and column in (COL_TARGET, COL_SOURCE):
            if unmapped:
                return icon("warning")
            if column == COL_SOURCE and value.source == "guessed":
                return icon("guessed")
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column in (COL_TARGET, COL_SOURCE):
            if unmapped:
                return status_color("overdue")
            if column == COL_SOURCE and value.source == "guessed":
                return muted_color()
            return None
        if role == Qt.ItemDataRole.FontRole and column == COL_SOURCE:
            font = QFont()
            font.setBold(unmapped)
            font.setItalic(value.source == "guessed")
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_ROWS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """``value``: the canonical target (None, "(not mapped)", changes nothing)."""
        if (
            not index.isValid()
            or index.column() != COL_TARGET
            or role != Qt.ItemDataRole.EditRole
            or self._column is None
            or not 0 <= index.row() < len(self._values)
        ):
            return False
        if value is not None and value not in self._column.allowed:
            return False
        old = self._values[index.row()]
        if value is None or (value == old.target and old.source == "given"):
            return False
        # Shown at once as chosen; the dry run that follows says what it really becomes.
        self._values[index.row()] = replace(old, target=value, source="given", guessed_from="")
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(), len(COLUMNS) - 1))
        self.value_chosen.emit(self._column.column, old.value, value)
        return True
