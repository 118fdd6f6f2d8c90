"""The Maintenance page of the detail pane's Log tab: an instrument's maintenance,
damage and repair log.

Newest first; a void event stays, greyed, with its reason. Its buttons ask to log a new
event (the "Log maintenance…" dialog, Ctrl+M) and to void the selected one with a
reason; both only while this window edits the database.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.services.dto import MaintenanceView
from app.services.upkeep import KIND_LABELS, calibration_text, cost_text
from app.ui.look import muted_color, status_color

# What a row is (date, kind) and what it asks of the calibration first: the pane is
# narrow, and the widest columns (what was done) are the ones elided. As many columns as
# the calibration history's, so every title reads whole at 1280 px; who logged it and
# the downtime are in the line under the table, for the selected event.
HEADERS = ["Date", "Kind", "Calibration", "What was done", "Cost"]
CALIBRATION_COLUMN = 2
READ_ONLY = "Read-only: another session edits this database"


def downtime_text(v: MaintenanceView) -> str:
    return "—" if v.downtime_hours is None else f"{v.downtime_hours:g}"


class MaintenanceTab(QWidget):
    """The log of one instrument, with Log and Void buttons."""

    log_requested = Signal()
    void_requested = Signal(int, int)  # event id, version

    def __init__(
        self,
        table: QTableWidget,
        fit: Callable[[QTableWidget], None],
        parent: QWidget | None = None,
    ) -> None:
        """``table`` has the pane's look (``HEADERS`` as its columns); ``fit`` sizes its
        columns to the pane after each fill, as the pane's other tables."""
        super().__init__(parent)
        self.events: list[MaintenanceView] = []
        self.editing = True
        self.table = table
        self._fit = fit
        self.notes = QLabel()
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.PlainText)
        self.notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes.setAccessibleName("Selected maintenance event")
        self.log_button = QPushButton("Lo&g maintenance…")
        self.log_button.setToolTip("Log maintenance, damage or a repair (Ctrl+M)")
        self.void_button = QPushButton("Vo&id event…")
        self.void_button.setAccessibleName("Void selected maintenance event")
        self.log_button.clicked.connect(self.log_requested.emit)
        self.void_button.clicked.connect(self._void_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.log_button)
        buttons.addWidget(self.void_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes)
        layout.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._selected)
        self._selected()

    def show_events(self, events: list[MaintenanceView]) -> None:
        chosen = self.selected()
        self.events = list(events)
        self.table.clearSelection()
        self.table.setRowCount(len(self.events))
        for r, v in enumerate(self.events):
            cells = [
                str(v.performed_on),
                KIND_LABELS[v.kind],
                calibration_text(v),
                v.what_done.replace("\n", " "),
                cost_text(v),
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, v.id)
                item.setToolTip(text)
                if v.voided_at is not None:
                    item.setForeground(muted_color())
                elif c == CALIBRATION_COLUMN and v.awaiting_calibration:
                    item.setForeground(status_color("overdue"))
                self.table.setItem(r, c, item)
        self._fit(self.table)
        if chosen is not None:
            for r, v in enumerate(self.events):
                if v.id == chosen.id:
                    self.table.selectRow(r)
        self._selected()

    def set_editing(self, editing: bool) -> None:
        self.editing = editing
        self._selected()

    def selected(self) -> MaintenanceView | None:
        rows = self.table.selectionModel().selectedRows()
        return self.events[rows[0].row()] if rows and rows[0].row() < len(self.events) else None

    def _selected(self) -> None:
        chosen = self.selected()
        self.log_button.setEnabled(self.editing)
        self.log_button.setToolTip(
            "Log maintenance, damage or a repair (Ctrl+M)" if self.editing else READ_ONLY
        )
        if not self.editing:
            void = (False, READ_ONLY)
        elif chosen is None:
            void = (False, "Select an event first")
        elif chosen.voided_at is not None:
            void = (False, "This event is void already")
        else:
            void = (True, "Void this event with a reason (it stays in the log)")
        self.void_button.setEnabled(void[0])
        self.void_button.setToolTip(void[1])
        if chosen is None:
            self.notes.clear()
            return
        lines = [
            f"M-{chosen.id} · logged {chosen.created_at:%Y-%m-%d %H:%M} UTC by "
            f"{chosen.performed_by}: {chosen.what_done}",
            f"Downtime: {downtime_text(chosen)} h" if chosen.downtime_hours is not None else "",
        ]
        if chosen.notes:
            lines.append(f"Notes: {chosen.notes}")
        if chosen.voided_at is not None:
            lines.append(f"Void ({chosen.voided_by}): {chosen.void_reason}")
        self.notes.setText("\n".join(line for line in lines if line))

    def _void_selected(self) -> None:
        chosen = self.selected()
        if chosen is not None and chosen.voided_at is None:
            self.void_requested.emit(chosen.id, chosen.version)
