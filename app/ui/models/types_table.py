"""The Types dialog's tables: the register of types, and a type's test points and custom
fields as they are being typed.

The register is read-only (``TypeView`` rows as the service gives them). The points and
fields tables are editable lists of texts: nothing here reads a tolerance or judges a
limit. A point's "Limits" cell is what the ``preview`` callable (the service's
``types.limits_preview``) says about the row, so the window never re-derives limits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt

from app.services.dto import TypeView
from app.services.tolerance_spec import format_limit
from app.ui.models.list_model import ListTableModel, ModelIndex

TYPE_COLUMNS: tuple[str, ...] = ("Name", "Interval", "Decision rule", "Instruments")
COL_TYPE_NAME, COL_TYPE_INTERVAL, COL_TYPE_RULE, COL_TYPE_INSTRUMENTS = range(len(TYPE_COLUMNS))


def _type_cell(kind: TypeView, column: int) -> str:
    if column == COL_TYPE_NAME:
        return kind.name
    if column == COL_TYPE_INTERVAL:
        days = kind.default_interval_days
        return f"{days} days" if days else "instrument's own"
    if column == COL_TYPE_RULE:
        return kind.decision_rule or "lab default"
    return str(kind.instruments)


class TypesTableModel(ListTableModel[TypeView]):
    """One row per instrument type, by name (the service's order)."""

    COLUMNS = TYPE_COLUMNS

    def row_of(self, name: str) -> int | None:
        key = name.casefold()
        return next((r for r, k in enumerate(self._rows) if k.name.casefold() == key), None)

    def cell(self, item: TypeView, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.DisplayRole:
            return _type_cell(item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_TYPE_RULE and item.decision_rule:
                return item.decision_rule_sentence
            return _type_cell(item, column)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{TYPE_COLUMNS[column]}: {_type_cell(item, column)}"
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_TYPE_INSTRUMENTS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def nominal_text(nominal: float) -> str:
    """A stored nominal as the person would type it (20.0 → "20", 0.1 → "0.1")."""
    return format_limit(Decimal(repr(nominal)))


class _EditableRows(QAbstractTableModel):
    """Rows of values typed in a table; Insert adds one, Delete removes one."""

    COLUMNS: tuple[str, ...] = ()
    EDITABLE: frozenset[int] = frozenset()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[list[Any]] = []
        self.read_only = False

    def blank(self) -> list[Any]:
        raise NotImplementedError

    def set_rows(self, rows: Sequence[Sequence[Any]]) -> None:
        self.beginResetModel()
        self.rows = [list(r) for r in rows]
        self.endResetModel()

    def insert_row(self, at: int) -> int:
        """A blank row at ``at`` (clamped to the table); returns where it went."""
        at = max(0, min(at, len(self.rows)))
        self.beginInsertRows(QModelIndex(), at, at)
        self.rows.insert(at, self.blank())
        self.endInsertRows()
        return at

    def remove_row(self, row: int) -> bool:
        if not 0 <= row < len(self.rows):
            return False
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.rows[row]
        self.endRemoveRows()
        return True

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        if orientation == Qt.Orientation.Vertical:
            return str(section + 1)  # "point 2" in a message is row 2 here
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if not self.read_only and index.column() in self.EDITABLE:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def set_text(self, row: int, column: int, value: Any) -> None:
        self.rows[row][column] = value
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.COLUMNS) - 1))

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            not index.isValid()
            or self.read_only
            or index.column() not in self.EDITABLE
            or role != Qt.ItemDataRole.EditRole
        ):
            return False
        self.set_text(index.row(), index.column(), " ".join(str(value or "").split()))
        return True


POINT_COLUMNS: tuple[str, ...] = ("Nominal", "Tolerance as written", "Unit", "Limits")
COL_NOMINAL, COL_TOLERANCE, COL_UNIT, COL_LIMITS = range(len(POINT_COLUMNS))
# nominal text, tolerance as written -> the service's words for the row (its limits)
Preview = Callable[[str, str], str]


class PointsModel(_EditableRows):
    """A type's test points as typed; "Limits" is the service's reading of each row."""

    COLUMNS = POINT_COLUMNS
    EDITABLE = frozenset({COL_NOMINAL, COL_TOLERANCE, COL_UNIT})

    def __init__(self, preview: Preview, parent: Any = None) -> None:
        super().__init__(parent)
        self._preview = preview

    def blank(self) -> list[Any]:
        return ["", "", ""]

    def limits_changed(self) -> None:
        """The range or resolution changed: every row's limits may read differently."""
        if self.rows:
            self.dataChanged.emit(
                self.index(0, COL_LIMITS), self.index(len(self.rows) - 1, COL_LIMITS)
            )

    def limits(self, row: int) -> str:
        nominal, tolerance, _unit = self.rows[row]
        return self._preview(str(nominal), str(tolerance))

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == COL_LIMITS:
                return self.limits(index.row())
            return self.rows[index.row()][column]
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == COL_LIMITS:
                return self.limits(index.row()) or "the limits the tolerance gives at the nominal"
            if column == COL_TOLERANCE:
                return "e.g. ±0.5, -0.2/+0.4, 1 %, 0.5 %FS, ±(0.05 % + 2 digits)"
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{POINT_COLUMNS[column]}: {self.data(index)}"
        return None


FIELD_COLUMNS: tuple[str, ...] = ("Field name", "Kind", "Choices (A|B|C)", "Required")
COL_FIELD_NAME, COL_KIND, COL_CHOICES, COL_REQUIRED = range(len(FIELD_COLUMNS))


@dataclass(frozen=True)
class FieldRow:
    """A custom field row as typed."""

    name: str
    kind: str
    choices: str
    required: bool


class FieldsModel(_EditableRows):
    """A type's custom fields as typed; "Required" is a check box (Space toggles it)."""

    COLUMNS = FIELD_COLUMNS
    EDITABLE = frozenset({COL_FIELD_NAME, COL_KIND, COL_CHOICES})

    def blank(self) -> list[Any]:
        return ["", "text", "", False]

    def field_rows(self) -> list[FieldRow]:
        return [FieldRow(str(n), str(k), str(c), bool(r)) for n, k, c, r in self.rows]

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and index.column() == COL_REQUIRED and not self.read_only:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row, column = self.rows[index.row()], index.column()
        if column == COL_REQUIRED:
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if row[COL_REQUIRED] else Qt.CheckState.Unchecked
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
                return "required" if row[COL_REQUIRED] else "optional"
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return row[column]
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{FIELD_COLUMNS[column]}: {row[column]}"
        if role == Qt.ItemDataRole.ToolTipRole and column == COL_CHOICES:
            return "Only for a choice field: its choices separated by |"
        return None

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            index.isValid()
            and index.column() == COL_REQUIRED
            and role == Qt.ItemDataRole.CheckStateRole
            and not self.read_only
        ):
            checked = Qt.CheckState(value) == Qt.CheckState.Checked
            self.set_text(index.row(), COL_REQUIRED, checked)
            return True
        return super().setData(index, value, role)
