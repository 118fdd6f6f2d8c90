"""The selected instrument for QA: fields, calibration history, attachments, audit trail."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.dto import (
    AttachmentView,
    AuditView,
    CalibrationView,
    InstrumentHistory,
    instrument_fields,
)
from app.ui.look import STATUS_TEXT, status_color, status_icon


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) or "—"
    return str(value)


def _table(headers: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.setAccessibleName(name)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], ids: list[int], grey: set[int]) -> None:
    table.setRowCount(len(rows))
    for r, (cells, row_id) in enumerate(zip(rows, ids, strict=True)):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, row_id)
            item.setToolTip(text)
            if r in grey:
                item.setForeground(QColor("#8a8a8a"))
                font = item.font()
                font.setStrikeOut(c == 1)
                item.setFont(font)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()


def readings_summary(c: CalibrationView) -> str:
    if not c.points:
        return "no readings"
    found = sum(1 for p in c.points if p.as_found_pass is False)
    left = sum(1 for p in c.points if p.as_left_pass is False)
    parts = [f"{len(c.points)} points"]
    parts.append(f"{found} out as found" if found else "all in as found")
    if any(p.as_left is not None for p in c.points):
        parts.append(f"{left} out as left" if left else "all in as left")
    return ", ".join(parts)


def describe_changes(event: AuditView) -> str:
    if event.action in ("create", "attach"):
        return "created"
    parts = []
    for field, pair in event.changes.items():
        before, after = [*pair, None, None][:2]
        parts.append(f"{field.replace('_', ' ')}: {_fmt(before)} → {_fmt(after)}")
    return "; ".join(parts)


class DetailPane(QWidget):
    """Shows one instrument's history; emits what the user asks to do with it."""

    void_calibration_requested = Signal(int, int)  # record id, version
    open_attachment_requested = Signal(int)
    save_attachment_requested = Signal(int)
    void_attachment_requested = Signal(int)
    add_attachment_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: InstrumentHistory | None = None
        self.title = QLabel("No instrument selected")
        self.title.setObjectName("detailTitle")
        self.title.setWordWrap(True)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.tabs = QTabWidget()

        self.fields = QWidget()
        self.fields_layout = QFormLayout(self.fields)
        self.tabs.addTab(self.fields, "&Details")

        self.calibrations = _table(
            ["Date", "Result", "Readings", "By", "Certificate", "Standards", "Next due", "Notes"],
            "Calibration history",
        )
        cal_box = QWidget()
        cal_layout = QVBoxLayout(cal_box)
        cal_layout.addWidget(self.calibrations)
        self.void_button = QPushButton("&Void selected calibration…")
        self.void_button.setEnabled(False)
        self.void_button.clicked.connect(self._void_selected)
        self.calibrations.itemSelectionChanged.connect(self._calibration_selected)
        cal_layout.addWidget(self.void_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.tabs.addTab(cal_box, "&Calibrations")

        self.attachments = _table(
            ["Name", "Size", "Attached to", "Added", "By", "State"], "Attachments"
        )
        att_box = QWidget()
        att_layout = QVBoxLayout(att_box)
        att_layout.addWidget(self.attachments)
        buttons = QHBoxLayout()
        self.att_add = QPushButton("&Add file…")
        self.att_open = QPushButton("&Open")
        self.att_save = QPushButton("&Save a copy…")
        self.att_void = QPushButton("&Void…")
        for button in (self.att_add, self.att_open, self.att_save, self.att_void):
            buttons.addWidget(button)
        buttons.addStretch(1)
        att_layout.addLayout(buttons)
        self.att_add.clicked.connect(self.add_attachment_requested)
        self.att_open.clicked.connect(lambda: self._with_attachment(self.open_attachment_requested))
        self.att_save.clicked.connect(lambda: self._with_attachment(self.save_attachment_requested))
        self.att_void.clicked.connect(lambda: self._with_attachment(self.void_attachment_requested))
        self.attachments.itemDoubleClicked.connect(
            lambda _item: self._with_attachment(self.open_attachment_requested)
        )
        self.tabs.addTab(att_box, "&Attachments")

        self.audit = _table(
            ["When (UTC)", "Who", "Machine", "Action", "What changed", "Reason"], "Audit trail"
        )
        self.tabs.addTab(self.audit, "Audit &trail")

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        self.show_history(None)

    # -- filling ---------------------------------------------------------------------

    def show_history(self, history: InstrumentHistory | None) -> None:
        self.history = history
        self.setEnabled(history is not None)
        while self.fields_layout.rowCount():
            self.fields_layout.removeRow(0)
        if history is None:
            self.title.setText("No instrument selected")
            self.status.clear()
            for table in (self.calibrations, self.attachments, self.audit):
                table.setRowCount(0)
            return
        d = history.instrument
        self.title.setText(f"{d.asset_tag} — {d.description}")
        color = status_color(d.due_status).name()
        due = f"next due {d.next_due}" if d.next_due else "never calibrated"
        self.status.setText(
            f"<span style='color:{color}; font-weight:600'>"
            f"{STATUS_TEXT.get(d.due_status, d.due_status)}</span> · {due} · version {d.version}"
        )
        self.status.setToolTip(STATUS_TEXT.get(d.due_status, d.due_status))
        self.setWindowIcon(status_icon(d.due_status))
        for label, value in instrument_fields(d):
            text = QLabel(_fmt(value))
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            text.setWordWrap(True)
            self.fields_layout.addRow(f"{label}:", text)
        self._fill_calibrations(history.calibrations)
        self._fill_attachments(history.attachments)
        self._fill_audit(history.audit)

    def _fill_calibrations(self, rows: list[CalibrationView]) -> None:
        _fill(
            self.calibrations,
            [
                [
                    str(c.performed_on),
                    f"VOID — {c.void_reason}" if c.voided else c.result,
                    readings_summary(c),
                    c.performed_by,
                    c.certificate_number,
                    _fmt(c.standards),
                    _fmt(c.next_due),
                    c.notes,
                ]
                for c in rows
            ],
            [c.id for c in rows],
            {i for i, c in enumerate(rows) if c.voided},
        )

    def _fill_attachments(self, rows: list[AttachmentView]) -> None:
        _fill(
            self.attachments,
            [
                [
                    a.original_name,
                    f"{a.size_bytes / 1024:.0f} KiB"
                    if a.size_bytes >= 1024
                    else f"{a.size_bytes} B",
                    a.owner,
                    f"{a.added_at:%Y-%m-%d %H:%M}",
                    a.added_by,
                    f"void: {a.void_reason}" if a.voided else "",
                ]
                for a in rows
            ],
            [a.id for a in rows],
            {i for i, a in enumerate(rows) if a.voided},
        )

    def _fill_audit(self, rows: list[AuditView]) -> None:
        newest_first = list(reversed(rows))
        _fill(
            self.audit,
            [
                [
                    f"{e.occurred_at:%Y-%m-%d %H:%M:%S}",
                    e.user,
                    e.machine,
                    e.action,
                    describe_changes(e),
                    e.reason,
                ]
                for e in newest_first
            ],
            [e.id for e in newest_first],
            set(),
        )

    # -- actions ---------------------------------------------------------------------

    def selected_calibration(self) -> CalibrationView | None:
        if self.history is None:
            return None
        rows = self.calibrations.selectionModel().selectedRows()
        if not rows:
            return None
        return self.history.calibrations[rows[0].row()]

    def _calibration_selected(self) -> None:
        selected = self.selected_calibration()
        self.void_button.setEnabled(selected is not None and not selected.voided)

    def _void_selected(self) -> None:
        selected = self.selected_calibration()
        if selected is not None and not selected.voided:
            self.void_calibration_requested.emit(selected.id, selected.version)

    def _with_attachment(self, signal: Any) -> None:
        rows = self.attachments.selectionModel().selectedRows()
        if rows and self.history is not None:
            signal.emit(self.history.attachments[rows[0].row()].id)
