"""A calibration record's readings as a read-only table: what QA checks before signing.

Used by the detail pane (for the record selected in the history) and by the Sign
dialog, so that what is signed can be seen, point by point, where it is signed.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.services.dto import PointView
from app.ui.look import status_color

READING_HEADERS = (
    "#",
    "Nominal",
    "Tolerance ±",
    "Unit",
    "As found",
    "Found",
    "As left",
    "Left",
)
READING_TIPS = {
    5: "Pass or FAIL of the as-found reading against nominal ± tolerance",
    7: "Pass or FAIL of the as-left reading against nominal ± tolerance",
}
FOUND_VERDICT, LEFT_VERDICT = 5, 7
VISIBLE_ROWS = 6  # more readings scroll inside the table


def reading_text(value: float | None) -> str:
    """A reading without lost digits, or a dash where none was taken."""
    if value is None:
        return "—"
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def verdict_text(verdict: bool | None) -> str:
    if verdict is None:
        return "—"
    return "Pass" if verdict else "FAIL"


class ReadingsTable(QTableWidget):
    """The points of one record: nominal, tolerance, unit, as found/left and their verdicts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(READING_HEADERS), parent)
        self.setHorizontalHeaderLabels(list(READING_HEADERS))
        for col, tip in READING_TIPS.items():
            header_item = self.horizontalHeaderItem(col)
            if header_item is not None:
                header_item.setToolTip(tip)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setWordWrap(False)
        self.setAccessibleName("Readings of the selected calibration")
        header = self.horizontalHeader()
        # Widths are set by _fit_columns: Qt's Stretch shares the room equally, which gave
        # "As found" less than its title needs while "As left" had room to spare.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.show_points([])

    def show_points(self, points: Sequence[PointView]) -> None:
        self.setRowCount(len(points))
        for row, p in enumerate(points):
            cells = (
                str(p.seq),
                reading_text(p.nominal),
                reading_text(p.tolerance),
                p.unit or "—",
                reading_text(p.as_found),
                verdict_text(p.as_found_pass),
                reading_text(p.as_left),
                verdict_text(p.as_left_pass),
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col != 3:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                verdict = {FOUND_VERDICT: p.as_found_pass, LEFT_VERDICT: p.as_left_pass}.get(col)
                if verdict is not None:
                    item.setForeground(status_color("ok" if verdict else "overdue"))
                    if not verdict:
                        font = item.font()
                        font.setBold(True)
                        item.setFont(font)
                self.setItem(row, col, item)
        self.setFixedHeight(self._height_for(min(max(len(points), 1), VISIBLE_ROWS)))
        # Room for every column whole, whatever the font or theme: the layout gives it.
        self.setMinimumWidth(sum(self._natural_widths()) + 2 * self.frameWidth())
        self._fit_columns()

    def _natural_widths(self) -> list[int]:
        header = self.horizontalHeader()
        return [
            max(header.sectionSizeHint(c), self.sizeHintForColumn(c))
            for c in range(self.columnCount())
        ]

    def _fit_columns(self) -> None:
        """Each column its title's or content's width; what is left goes to the readings."""
        widths = self._natural_widths()
        spare = max(0, self.viewport().width() - sum(widths))
        readings = (1, 4, 6)
        for i, col in enumerate(readings):
            widths[col] += spare // len(readings) + (1 if i < spare % len(readings) else 0)
        for col, width in enumerate(widths):
            self.setColumnWidth(col, width)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _height_for(self, rows: int) -> int:
        """Tall enough for ``rows`` whole rows under the header: no clipped last row."""
        self.resizeRowsToContents()
        vertical = self.verticalHeader()
        shown = sum(vertical.sectionSize(r) for r in range(min(rows, self.rowCount())))
        shown += max(0, rows - self.rowCount()) * vertical.defaultSectionSize()
        header = max(self.horizontalHeader().sizeHint().height(), self.horizontalHeader().height())
        return header + shown + 2 * self.frameWidth() + 1

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), self.height())
