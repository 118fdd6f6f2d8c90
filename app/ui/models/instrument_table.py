"""The instrument list as a Qt model: ids up front, row data fetched lazily by pages.

Sorting and filtering happen in the database. The model holds the sorted, filtered ids
(cheap even for 100k rows) and asks for row data only for the pages the view paints;
rows not yet loaded show a placeholder until their page arrives (Anki's browser model).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from typing import Any, cast

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QTableView, QWidget

from app.services.dto import InstrumentRow
from app.ui.look import STATUS_TEXT, icon, status_color, status_icon

PAGE = 200
ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_KEY_ROLE = Qt.ItemDataRole.UserRole + 2
STATUS_ROLE = Qt.ItemDataRole.UserRole + 3

ModelIndex = QModelIndex | QPersistentModelIndex

# (key, header, service sort key or None when the column cannot be sorted)
COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("asset_tag", "Asset tag", "asset_tag"),
    ("status", "Status", "status"),
    ("next_due", "Next due", "next_due"),
    ("description", "Description", "description"),
    ("manufacturer", "Manufacturer", "manufacturer"),
    ("model", "Model", "model"),
    ("serial_number", "Serial number", "serial_number"),
    ("location", "Location", "location"),
    ("last_calibrated", "Last calibrated", "last_calibrated"),
    ("interval_days", "Interval (days)", None),
    # Who has it now (its open check-out, issue 15); empty while nobody has it out.
    ("holder", "With", "holder"),
    # When its next intermediate check is due (its check schedule, issue 15).
    ("next_check", "Next check", "next_check"),
)
COL_TAG, COL_STATUS, COL_NEXT_DUE, COL_DESCRIPTION = 0, 1, 2, 3
# What a register shows before the person picks columns (View → Columns): what they
# look for first. The rest stays one click away rather than pushed off the right edge.
SHOWN_FIRST = (
    "asset_tag",
    "description",
    "status",
    "next_due",
    "next_check",
    "location",
    "holder",
)
# Widths from a sample of typical content (in the window's font), so they fit any DPI.
WIDTH_SAMPLES = {
    "asset_tag": "TH-000042",
    "status": "Not yet calibrated",
    "next_due": "2026-12-31",
    # Leaves room for the "Next check" and "With" columns at 1280 px (issue 15); longer
    # descriptions are elided (the whole text is in the detail pane).
    "description": "Digital multimeter",
    "manufacturer": "Fluke Calibration",
    "model": "1524-P1-256",
    "serial_number": "SN-12345678",
    "location": "Metrology room",
    "last_calibrated": "Last calibrated",
    "interval_days": "Interval (days)",
    "holder": "Dana",
    "next_check": "2026-12-31",
}
LOADING = "…"


def _display(row: InstrumentRow, key: str) -> str:
    if key == "status":
        return STATUS_TEXT.get(row.due_status, row.due_status)
    if key == "next_due":
        return row.next_due.isoformat() if row.next_due else "—"
    if key == "next_check":
        # Due before the next use comes first: it must be done before anyone takes it.
        if row.check_before_use:
            return "before use"
        return row.next_check.isoformat() if row.next_check else ""
    value = getattr(row, key)
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


class InstrumentTableModel(QAbstractTableModel):
    """Rows of the instrument register, for a QTableView."""

    rows_wanted = Signal(list)  # ids whose rows should be fetched (off the GUI thread)
    sort_wanted = Signal(str, bool)  # service sort key, descending

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        _render_status_icons()
        self._ids: list[int] = []
        self._row_of_id: dict[int, int] = {}
        self._cache: dict[int, InstrumentRow] = {}
        self._requested: set[int] = set()  # page numbers asked for and not yet answered

    # -- feeding ---------------------------------------------------------------------

    def set_ids(
        self,
        ids: Sequence[int],
        *,
        keep_cache: bool = False,
        positions: dict[int, int] | None = None,
    ) -> None:
        """A new filter, sort or refresh: the full ordered id list.

        ``positions`` (id → row, see ``positions_of``) may be worked out beforehand off
        the GUI thread: for 100k ids it takes tens of milliseconds.
        """
        self.beginResetModel()
        self._ids = list(ids)
        self._row_of_id = positions if positions is not None else positions_of(self._ids)
        if not keep_cache:
            self._cache.clear()
        self._requested.clear()
        self.endResetModel()

    def set_rows(self, rows: dict[int, InstrumentRow]) -> None:
        """Rows fetched for ids (answers to ``rows_wanted``)."""
        touched: list[int] = []
        for iid, row in rows.items():
            self._cache[iid] = row
            position = self._row_of_id.get(iid)
            if position is not None:
                touched.append(position)
        for position in touched:
            self._requested.discard(position // PAGE)
        if touched:
            last = self.columnCount() - 1
            self.dataChanged.emit(self.index(min(touched), 0), self.index(max(touched), last))

    def forget_requests(self) -> None:
        """A fetch failed: let the pages be asked for again when painted."""
        self._requested.clear()

    def invalidate_rows(self) -> None:
        """Data changed: keep showing what we have, but re-fetch visible pages."""
        self._cache.clear()
        self._requested.clear()
        if self._ids:
            last = self.columnCount() - 1
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._ids) - 1, last))

    def id_at(self, row: int) -> int | None:
        return self._ids[row] if 0 <= row < len(self._ids) else None

    def row_of(self, instrument_id: int) -> int | None:
        return self._row_of_id.get(instrument_id)

    def cached(self, instrument_id: int) -> InstrumentRow | None:
        return self._cache.get(instrument_id)

    # -- Qt model --------------------------------------------------------------------

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._ids)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section][1]
            if role == Qt.ItemDataRole.ToolTipRole and COLUMNS[section][2] is None:
                return "This column cannot be sorted"
        return None

    # No flags(): Qt's own (enabled, selectable, never has children) is what this model
    # wants, and painting asks for it for every cell, a call into Python each time.

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        iid = self._ids[index.row()]
        if role == ID_ROLE:
            return iid
        row = self._cache.get(iid)
        if row is None:
            if role == Qt.ItemDataRole.DisplayRole:
                self._want(index.row())
                return LOADING
            return None
        key = COLUMNS[index.column()][0]
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(row, key)
        if role == STATUS_ROLE:
            return row.due_status
        if role == SORT_KEY_ROLE:
            return getattr(row, key if key != "status" else "due_status")
        if key == "asset_tag" and row.review_reason:
            # The "data to review" mark: QA is to look at this instrument's old data.
            if role == Qt.ItemDataRole.DecorationRole:
                return icon("status-to-review")
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"Data to review: {row.review_reason}"
        if key == "status":
            if role == Qt.ItemDataRole.DecorationRole:
                return status_icon(row.due_status)
            if role == Qt.ItemDataRole.ForegroundRole:
                return status_color(row.due_status)
            if role == Qt.ItemDataRole.ToolTipRole:
                return _status_tooltip(row)
        overdue_or_soon = row.due_status in ("overdue", "due-soon")
        if key == "next_due" and role == Qt.ItemDataRole.ForegroundRole and overdue_or_soon:
            return status_color(row.due_status)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            marked = ", data to review" if key == "asset_tag" and row.review_reason else ""
            return f"{COLUMNS[index.column()][1]}: {_display(row, key)}{marked}"
        return None

    def multiData(
        self, index: ModelIndex, roleDataSpan: QModelRoleDataSpan | QModelRoleData
    ) -> None:
        """Every role a delegate asks for, in one call from Qt (what Qt's own default does).

        Painting asks for seven roles per cell; each separate call from C++ into Python
        takes the GIL anew, and while a worker thread runs Python each take can wait up
        to the switch interval. One call per cell keeps a repaint short even then.
        """
        if isinstance(roleDataSpan, QModelRoleData):
            roleDataSpan.setData(self.data(index, roleDataSpan.role()))
            return
        # The span is iterable at run time; PySide's type stubs do not say so.
        for role_data in cast("Iterable[QModelRoleData]", roleDataSpan):
            role_data.setData(self.data(index, role_data.role()))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        key = COLUMNS[column][2] if 0 <= column < len(COLUMNS) else None
        if key is not None:
            self.sort_wanted.emit(key, order == Qt.SortOrder.DescendingOrder)

    # -- lazy fetching ---------------------------------------------------------------

    def _want(self, row: int) -> None:
        page = row // PAGE
        if page in self._requested:
            return
        self._requested.add(page)
        ids = [i for i in self._ids[page * PAGE : (page + 1) * PAGE] if i not in self._cache]
        if ids:
            self.rows_wanted.emit(ids)


_icons_rendered = False


def _render_status_icons() -> None:
    """Draw the status icons once while the window is built, not at its first paint.

    The first SVG drawn in a process loads Qt's SVG support: about a tenth of a second
    that would otherwise freeze the event loop just as the first rows arrive. (Without
    a QGuiApplication, as in a model test, nothing can be drawn and nothing is.)
    """
    global _icons_rendered
    if _icons_rendered or not isinstance(QGuiApplication.instance(), QGuiApplication):
        return
    for status in STATUS_TEXT:
        status_icon(status).pixmap(16, 16)
    _icons_rendered = True


class AfterPaint(QObject):
    """Calls ``fn`` once, right after ``widget``'s next paint (or after ``fallback_ms``
    if it does not paint, e.g. while hidden).

    For work that would compete with that paint for the GIL: a worker thread running
    Python makes every call from the painting C++ code into the model wait its turn.
    """

    def __init__(self, widget: QWidget, fn: Callable[[], object], fallback_ms: int = 250) -> None:
        super().__init__(widget)
        self._widget = widget
        self._fn = fn
        self._done = False
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._fire)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self._done:
            QTimer.singleShot(0, self, self._fire)  # runs once this paint is over
        return False

    def _fire(self) -> None:
        if self._done:
            return
        self._done = True
        self._widget.removeEventFilter(self)
        self.deleteLater()
        self._fn()


def positions_of(ids: Sequence[int]) -> dict[int, int]:
    """Id → row number. A Python loop on purpose: run on a worker thread, it lets the GUI
    thread take the GIL in between (one C-level call would hold it throughout)."""
    return {iid: row for row, iid in enumerate(ids)}


def _status_tooltip(row: InstrumentRow) -> str:
    text = STATUS_TEXT.get(row.due_status, row.due_status)
    if row.due_status == "not-calibrated":
        return f"{text}: record its first calibration before it is used"
    if row.due_status == "overdue" and row.next_due is not None:
        return f"{text}: was due on {row.next_due.isoformat()}"
    if row.due_status == "due-soon" and row.next_due is not None:
        return f"{text}: due on {row.next_due.isoformat()}"
    return text


def fit_register_columns(table: QTableView) -> None:
    """The register's first look: the columns that matter, in reading order, each as wide
    as its usual content (room for the status icon too), the others hidden."""
    header = table.horizontalHeader()
    metrics = table.fontMetrics()
    for col, (key, label, _sort) in enumerate(COLUMNS):
        sample = max(WIDTH_SAMPLES.get(key, label), label, key=metrics.horizontalAdvance)
        extra = 44 if key == "status" else 22  # icon; padding and the sort arrow
        table.setColumnWidth(col, metrics.horizontalAdvance(sample) + extra)
        header.setSectionHidden(col, key not in SHOWN_FIRST)
    # Whatever the window's width, the last column takes what is left (no ragged gap).
    header.setStretchLastSection(True)
    keys = [key for key, _label, _sort in COLUMNS]
    for visual, key in enumerate(SHOWN_FIRST):
        header.moveSection(header.visualIndex(keys.index(key)), visual)
