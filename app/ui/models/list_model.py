"""A read-only table model over a plain Python list: what the small tables share.

Subclasses name their ``COLUMNS`` and answer ``cell(item, column, role)``; this class
does the Qt bookkeeping (row and column counts, the header, flags, bounds checks).
The instrument register has its own lazy model; this one is for lists that arrive whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

ModelIndex = QModelIndex | QPersistentModelIndex
T = TypeVar("T")


class _Numbered(Protocol):
    @property
    def id(self) -> int: ...


N = TypeVar("N", bound=_Numbered)


class ListTableModel(QAbstractTableModel, Generic[T]):
    """Rows of ``T`` shown through ``cell``; ``set_items`` replaces them all."""

    COLUMNS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[T] = []

    def set_items(self, items: Sequence[T]) -> None:
        self.beginResetModel()
        self._rows = list(items)
        self.endResetModel()

    def item_at(self, row: int) -> T | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def cell(self, item: T, column: int, role: int) -> Any:
        """What ``data`` answers for one cell and role (None: nothing)."""
        raise NotImplementedError

    # -- Qt model --------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self.cell(self._rows[index.row()], index.column(), role)


class SortedListModel(ListTableModel[N]):
    """A list of numbered items sortable by any column: the number breaks ties, so equal
    keys keep a stable, meaningful order, and a selection follows its item, not its row.

    Subclasses answer ``sort_key(item, column)``.
    """

    def __init__(self, parent: Any = None, *, sort: tuple[int, bool] = (0, False)) -> None:
        super().__init__(parent)
        self._sort = sort  # (column, descending)

    def sort_key(self, item: N, column: int) -> Any:
        raise NotImplementedError

    def row_of(self, item_id: int) -> int | None:
        return next((r for r, item in enumerate(self._rows) if item.id == item_id), None)

    def _apply_sort(self) -> None:
        column, descending = self._sort
        self._rows.sort(key=lambda item: (self.sort_key(item, column), item.id), reverse=descending)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.COLUMNS):
            return
        self.layoutAboutToBeChanged.emit()
        before = [(i, self._rows[i.row()].id) for i in self.persistentIndexList()]
        self._sort = (column, order == Qt.SortOrder.DescendingOrder)
        self._apply_sort()
        rows = {item.id: r for r, item in enumerate(self._rows)}
        self.changePersistentIndexList(
            [i for i, _ in before],
            [self.index(rows[item_id], i.column()) for i, item_id in before],
        )
        self.layoutChanged.emit()
