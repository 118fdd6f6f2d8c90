"""The selected instrument for QA: fields, calibration history, attachments, maintenance
log, audit trail, traceability.

The history shows per record its signatures, the out-of-tolerance case it opened, what
it supersedes or is superseded by, and the standards justification; the buttons next to
it ask for Sign, Correct, Supersede and Void, enabled only where they can apply, and for
the record's certificate (any record, in read-only mode too: a voided one's says VOID).
The history's context menu offers the same.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
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
    CheckView,
    CustodyView,
    InstrumentHistory,
    ScheduleView,
    SignatureView,
    Traceability,
    TraceLink,
    instrument_fields,
)
from app.ui.look import STATUS_TEXT, icon, icon_html, muted_color, status_color, status_icon
from app.ui.maintenance_tab import HEADERS as MAINTENANCE_HEADERS
from app.ui.maintenance_tab import MaintenanceTab
from app.ui.models.audit_table import change_summary, entity_text
from app.ui.readings_table import ReadingsTable
from app.words import count

# What tells the records apart; the selected record's certificate, standards, provider
# and notes show below the list in whole sentences (nine columns did not fit the pane
# and were cut to "rtifica" and "andar").
CAL_HEADERS = ["Date", "Result", "QA", "By", "Next due"]
CAL_QA_COLUMN = 2
TRACE_TAB_TITLE = "T&raceability"


def _fmt(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value) or "—"
    return str(value)


def fitted_widths(natural: list[int], room: int) -> list[int]:
    """Column widths that fit ``room``. The first column (the date, the record: what a
    row is) keeps its whole width; of the others, narrow ones keep theirs and the widest
    share what is left equally (their text is elided; the tooltip has it)."""
    if sum(natural) <= room or len(natural) < 2:
        return list(natural)
    first, rest = natural[0], natural[1:]
    left = max(room - first, 0)
    cap = max(rest)
    remaining = sorted(rest)
    while remaining:
        share = left // len(remaining)
        if remaining[0] > share:
            cap = share
            break
        left -= remaining.pop(0)
    return [first] + [min(w, max(cap, 24)) for w in rest]


class _FitColumns(QObject):
    """Keeps a table's columns inside its width, so nothing scrolls sideways: columns
    get their contents' width when they fit, else the widest are narrowed (elided)."""

    def __init__(self, table: QTableWidget) -> None:
        super().__init__(table)
        self._table = table
        self.natural: list[int] = []
        table.viewport().installEventFilter(self)

    def measure(self) -> None:
        table = self._table
        table.resizeColumnsToContents()
        self.natural = [table.columnWidth(c) for c in range(table.columnCount())]
        self.fit()

    def fit(self) -> None:
        table = self._table
        if not self.natural:
            return
        widths = fitted_widths(self.natural, table.viewport().width())
        for c, width in enumerate(widths):
            table.setColumnWidth(c, width)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            self.fit()
        return False


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
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    _FitColumns(table)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], ids: list[int], grey: set[int]) -> None:
    table.setRowCount(len(rows))
    for r, (cells, row_id) in enumerate(zip(rows, ids, strict=True)):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, row_id)
            item.setToolTip(text)
            if r in grey:
                item.setForeground(muted_color())
                font = item.font()
                font.setStrikeOut(c == 1)
                item.setFont(font)
            table.setItem(r, c, item)
    _fit(table)


def _fit(table: QTableWidget) -> None:
    """Size a filled table's columns to the pane (see ``_FitColumns``)."""
    fitter = table.findChild(_FitColumns)
    if fitter is not None:
        fitter.measure()
    else:
        table.resizeColumnsToContents()


def readings_summary(c: CalibrationView) -> str:
    if not c.points:
        return "no readings"
    found = sum(1 for p in c.points if p.as_found_pass is False)
    left = sum(1 for p in c.points if p.as_left_pass is False)
    parts = [count(len(c.points), "point")]
    parts.append(f"{found} out as found" if found else "all in as found")
    if any(p.as_left is not None for p in c.points):
        parts.append(f"{left} out as left" if left else "all in as left")
    return ", ".join(parts)


def qa_mark(c: CalibrationView) -> str:
    """The short QA column text: signed (with meanings), broken, OOT, supersession."""
    parts: list[str] = []
    if c.signatures:
        meanings = ", ".join(dict.fromkeys(s.meaning for s in c.signatures))
        broken = any(not s.intact for s in c.signatures)
        parts.append(f"signature BROKEN ({meanings})" if broken else f"signed ({meanings})")
    if c.oot_case_id is not None:
        parts.append(f"OOT-{c.oot_case_id}")
    if c.superseded_by_id is not None:
        parts.append(f"superseded by #{c.superseded_by_id}")
    elif c.supersedes_id is not None:
        parts.append(f"supersedes #{c.supersedes_id}")
    if c.standards_justification:
        parts.append("standards justified")
    return " · ".join(parts)


def _signature_html(sig: SignatureView) -> str:
    comment = f" — “{html.escape(sig.comment)}”" if sig.comment else ""
    text = html.escape(sig.manifestation) + comment
    if sig.intact:
        return f"{icon_html('status-ok')} {text}"
    color = status_color("overdue").name()
    return (
        f"{icon_html('warning')} <span style='color:{color}; font-weight:600'>BROKEN "
        f"signature:</span> {text} "
        "<i>(the record changed after it was signed)</i>"
    )


def record_html(c: CalibrationView) -> str:
    """Everything QA needs to know about one record beyond its row, with links."""
    lines = [
        f"<b>Calibration #{c.id}</b> · version {c.version} · recorded "
        f"{c.created_at:%Y-%m-%d %H:%M} UTC by {html.escape(c.created_by)}"
    ]
    made = [f"Performed {c.performed_on} by {html.escape(c.performed_by)}"]
    if c.provider_kind == "external":
        made.append(f"by the external provider {html.escape(c.provider_name or '—')}")
    made.append(
        f"certificate {html.escape(c.certificate_number)}"
        if c.certificate_number
        else "no certificate number"
    )
    made.append("standards " + html.escape(_fmt(c.standards)) if c.standards else "no standards")
    lines.append(", ".join(made) + ".")
    if c.notes:
        lines.append("<b>Notes:</b> " + html.escape(c.notes))
    if c.signatures:
        lines += [_signature_html(s) for s in c.signatures]
    elif not c.voided:
        lines.append("Not signed yet.")
    if c.oot_case_id is not None:
        lines.append(
            f"Found out of tolerance: opened case <a href='oot:{c.oot_case_id}'>"
            f"OOT-{c.oot_case_id}</a>."
        )
    if c.supersedes_id is not None:
        lines.append(
            f"Supersedes <a href='record:{c.supersedes_id}'>#{c.supersedes_id}</a> "
            "(a corrected replacement)."
        )
    if c.superseded_by_id is not None:
        lines.append(
            f"Superseded by <a href='record:{c.superseded_by_id}'>#{c.superseded_by_id}</a>."
        )
    if c.voided:
        lines.append(f"<b>Void:</b> {html.escape(c.void_reason or '')}")
    if c.standards_justification:
        lines.append("<b>Standards justification:</b> " + html.escape(c.standards_justification))
    return "<br>".join(lines)


class DetailPane(QWidget):
    """Shows one instrument's history; emits what the user asks to do with it."""

    void_calibration_requested = Signal(int, int)  # record id, version
    sign_calibration_requested = Signal(int)  # record id
    correct_calibration_requested = Signal(int)  # record id
    supersede_calibration_requested = Signal(int)  # record id
    certificate_requested = Signal(int)  # record id
    oot_case_requested = Signal(int)  # case id
    traceability_wanted = Signal(str)  # asset tag whose traceability should be loaded
    instrument_wanted = Signal(str)  # asset tag to show in the register
    open_attachment_requested = Signal(int)
    save_attachment_requested = Signal(int)
    void_attachment_requested = Signal(int)
    add_attachment_requested = Signal()
    clear_review_requested = Signal()
    void_custody_requested = Signal(int, int)  # custody entry id, version
    void_check_requested = Signal(int)  # intermediate check id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history: InstrumentHistory | None = None
        self.trace: Traceability | None = None
        self.editing = True
        # A record to select when the history next arrives (the one just recorded).
        self.pending_record: int | None = None
        self.title = QLabel("No instrument selected")
        self.title.setObjectName("detailTitle")
        self.title.setWordWrap(True)
        self.status = QLabel()
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.tabs = QTabWidget()

        self.fields = QWidget()
        self.fields_layout = QFormLayout(self.fields)
        self.tabs.addTab(self.fields, "&Details")

        self.calibrations = _table(CAL_HEADERS, "Calibration history")
        cal_box = QWidget()
        cal_layout = QVBoxLayout(cal_box)
        cal_layout.addWidget(self.calibrations, 1)
        # The selected record's readings, point by point: what QA reviews and signs.
        self.readings_label = QLabel()
        self.readings_label.setObjectName("readingsTitle")
        self.readings_label.setWordWrap(True)
        self.readings = ReadingsTable()
        self.readings_label.setBuddy(self.readings)
        cal_layout.addWidget(self.readings_label)
        cal_layout.addWidget(self.readings)
        self.record_info = QLabel()
        self.record_info.setObjectName("recordInfo")
        self.record_info.setWordWrap(True)
        self.record_info.setTextFormat(Qt.TextFormat.RichText)
        self.record_info.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByMouse
            | Qt.TextInteractionFlag.LinksAccessibleByKeyboard
        )
        self.record_info.setAccessibleName("Selected calibration: signatures and links")
        self.record_info.linkActivated.connect(self._link)
        cal_layout.addWidget(self.record_info)
        self.sign_button = QPushButton("&Sign…")
        self.correct_button = QPushButton("C&orrect…")
        self.supersede_button = QPushButton("Su&persede…")
        self.void_button = QPushButton("&Void…")
        self.void_button.setAccessibleName("Void selected calibration")
        self.sign_button.clicked.connect(
            lambda: self._with_calibration(self.sign_calibration_requested)
        )
        self.correct_button.clicked.connect(
            lambda: self._with_calibration(self.correct_calibration_requested)
        )
        self.supersede_button.clicked.connect(
            lambda: self._with_calibration(self.supersede_calibration_requested)
        )
        self.void_button.clicked.connect(self._void_selected)
        self.certificate_button = QPushButton("C&ertificate…")
        self.certificate_button.setEnabled(False)
        self.certificate_button.clicked.connect(self._certificate_selected)
        self.record_buttons = (
            self.sign_button,
            self.correct_button,
            self.supersede_button,
            self.void_button,
        )
        record_row = QHBoxLayout()
        for button in self.record_buttons:
            button.setEnabled(False)
            record_row.addWidget(button)
        record_row.addStretch(1)
        record_row.addWidget(self.certificate_button)
        cal_layout.addLayout(record_row)
        self.calibrations.itemSelectionChanged.connect(self._calibration_selected)
        self.calibrations.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.calibrations.customContextMenuRequested.connect(self._record_menu)
        self.cal_tab = self.tabs.addTab(cal_box, "&Calibrations")

        # Issue 15: its schedules (calibration first) and intermediate checks.
        checks_box = QWidget()
        checks_layout = QVBoxLayout(checks_box)
        self.schedules = _table(
            ["Schedule", "Every", "Last done", "Next due", "Status"], "Schedules"
        )
        self.checks = _table(
            ["Date", "Result", "By", "Standard", "Readings", "Notes", "Case"],
            "Check history",
        )
        schedules_label = QLabel("Schedules:")
        schedules_label.setBuddy(self.schedules)
        checks_label = QLabel("Intermediate checks:")
        checks_label.setBuddy(self.checks)
        checks_layout.addWidget(schedules_label)
        checks_layout.addWidget(self.schedules)
        checks_layout.addWidget(checks_label)
        checks_layout.addWidget(self.checks, 1)
        check_buttons = QHBoxLayout()
        self.check_void = QPushButton("Void check…")
        self.check_void.setToolTip(
            "Void the selected check, entered by mistake (a case it opened stays open for QA)"
        )
        self.check_void.setEnabled(False)
        check_buttons.addWidget(self.check_void)
        check_buttons.addStretch(1)
        checks_layout.addLayout(check_buttons)
        self.check_void.clicked.connect(self._void_check)
        self.checks.itemSelectionChanged.connect(self._check_selected)
        # What happens between calibrations (issue 15) shares one tab of its own, so the
        # pane's tabs still fit at 1280 px: the checks, the maintenance log, custody.
        self.log_tabs = QTabWidget()
        self.log_tabs.setDocumentMode(True)
        self.checks_tab = self.log_tabs.addTab(checks_box, "Chec&ks")

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
        self.attachments.itemSelectionChanged.connect(self._attachment_selected)
        self.tabs.addTab(att_box, "&Attachments")

        # Who had it when (issue 15): its check-outs, newest first, void ones greyed.
        self.custody = _table(
            ["With", "Place", "Out (UTC)", "Due back", "Back (UTC)", "State"], "Custody"
        )
        custody_box = QWidget()
        custody_layout = QVBoxLayout(custody_box)
        custody_layout.addWidget(self.custody)
        custody_buttons = QHBoxLayout()
        self.custody_void = QPushButton("V&oid entry…")
        self.custody_void.setToolTip("Void the selected check-out, entered by mistake")
        self.custody_void.setEnabled(False)
        custody_buttons.addWidget(self.custody_void)
        custody_buttons.addStretch(1)
        custody_layout.addLayout(custody_buttons)
        self.custody_void.clicked.connect(self._void_custody)
        self.custody.itemSelectionChanged.connect(self._custody_selected)
        self.maintenance = MaintenanceTab(_table(MAINTENANCE_HEADERS, "Maintenance history"), _fit)
        self.maintenance_tab = self.log_tabs.addTab(self.maintenance, "&Maintenance")
        self.custody_tab = self.log_tabs.addTab(custody_box, "C&ustody")
        self.log_tab = self.tabs.insertTab(self.cal_tab + 1, self.log_tabs, "&Log")
        self.tabs.setTabToolTip(
            self.log_tab, "Intermediate checks, maintenance and repairs, custody"
        )

        self.audit = _table(
            ["When (UTC)", "Who", "Machine", "Subject", "Action", "What changed", "Reason"],
            "Audit trail",
        )
        self.tabs.addTab(self.audit, "Audit &trail")

        trace_box = QWidget()
        trace_layout = QVBoxLayout(trace_box)
        self.trace_used_label = QLabel("Standards used to calibrate this instrument:")
        self.trace_used = _table(
            ["Record", "Date", "Standard", "Result"], "Standards used to calibrate it"
        )
        self.trace_served_label = QLabel("Calibrations in which it served as a standard:")
        self.trace_served = _table(
            ["Record", "Date", "Instrument", "Result"], "Calibrations it served in as a standard"
        )
        for label, table in (
            (self.trace_used_label, self.trace_used),
            (self.trace_served_label, self.trace_served),
        ):
            label.setBuddy(table)
            table.setToolTip("Double-click: show that instrument in the register")
            table.itemDoubleClicked.connect(self._trace_clicked)
            trace_layout.addWidget(label)
            trace_layout.addWidget(table, 1)
        self.trace_tab = self.tabs.addTab(trace_box, TRACE_TAB_TITLE)
        self.tabs.currentChanged.connect(lambda _i: self._want_traceability())

        # The "data to review" banner: why QA is to look at this instrument's data, and
        # (for QA) the button that clears it with a reason.
        self.review = QWidget()
        self.review.setObjectName("reviewBanner")
        review_layout = QHBoxLayout(self.review)
        review_layout.setContentsMargins(0, 0, 0, 0)
        self.review_icon = QLabel(pixmap=icon("status-to-review").pixmap(16, 16))
        self.review_text = QLabel()
        self.review_text.setObjectName("reviewText")
        self.review_text.setWordWrap(True)
        self.review_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.review_text.setAccessibleName("Data to review")
        self.clear_review_button = QPushButton("Clear &review flag…")
        self.clear_review_button.clicked.connect(self.clear_review_requested.emit)
        review_layout.addWidget(self.review_icon, 0, Qt.AlignmentFlag.AlignTop)
        review_layout.addWidget(self.review_text, 1)
        review_layout.addWidget(self.clear_review_button, 0, Qt.AlignmentFlag.AlignTop)
        self.review.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.status)
        layout.addWidget(self.review)
        layout.addWidget(self.tabs, 1)
        self.show_history(None)

    # -- filling ---------------------------------------------------------------------

    def show_history(self, history: InstrumentHistory | None) -> None:
        previous = self.selected_calibration()
        same = (
            previous is not None
            and history is not None
            and self.history is not None
            and history.instrument.id == self.history.instrument.id
        )
        self.history = history
        self.setEnabled(history is not None)
        while self.fields_layout.rowCount():
            self.fields_layout.removeRow(0)
        if history is None:
            self.title.setText("No instrument selected")
            self.status.clear()
            self.review.hide()
            for table in (
                self.calibrations,
                self.schedules,
                self.checks,
                self.attachments,
                self.custody,
                self.audit,
                self.trace_used,
                self.trace_served,
            ):
                table.setRowCount(0)
            self.trace = None
            self.maintenance.show_events([])
            self._calibration_selected()
            return
        d = history.instrument
        self.title.setText(f"{d.asset_tag} — {d.description}")
        color = status_color(d.due_status).name()
        if d.calibration_requirement != "periodic":
            # No due date to speak of: why it has none says more.
            due = html.escape(d.requirement_reason or "no due date")
        else:
            due = f"next due {d.next_due}" if d.next_due else "never calibrated"
        self.status.setText(
            f"<span style='color:{color}; font-weight:600'>"
            f"{STATUS_TEXT.get(d.due_status, d.due_status)}</span> · {due} · version {d.version}"
        )
        self.status.setToolTip(STATUS_TEXT.get(d.due_status, d.due_status))
        self.setWindowIcon(status_icon(d.due_status))
        self.review_text.setText(f"Data to review: {d.review_reason}")
        self.review.setVisible(bool(d.review_reason))
        for label, value in instrument_fields(d):
            text = QLabel(_fmt(value))
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            text.setWordWrap(True)
            self.fields_layout.addRow(f"{label}:", text)
        self.calibrations.clearSelection()
        self._fill_calibrations(history.calibrations)
        pending, self.pending_record = self.pending_record, None
        chosen = pending is not None and self.select_calibration(pending, show=False)
        if not chosen and same and previous is not None:
            # The same instrument reloaded (after a signature, say): keep the record.
            self.select_calibration(previous.id, show=False)
        self._fill_attachments(history.attachments)
        self._fill_custody(history.custody)
        self.maintenance.show_events(history.maintenance)
        self._fill_schedules(history.schedules)
        self._fill_checks(history.checks)
        self._fill_audit(history.audit)
        if self.trace is not None and self.trace.asset_tag != d.asset_tag:
            self.trace = None
            self.trace_used.setRowCount(0)
            self.trace_served.setRowCount(0)
        self._calibration_selected()
        # The selected record may have changed (signed, voided): reload the trace too.
        self._want_traceability(force=True)

    def _fill_calibrations(self, rows: list[CalibrationView]) -> None:
        _fill(
            self.calibrations,
            [
                [
                    str(c.performed_on),
                    f"VOID — {c.void_reason}" if c.voided else c.result,
                    qa_mark(c),
                    c.performed_by,
                    _fmt(c.next_due),
                ]
                for c in rows
            ],
            [c.id for c in rows],
            {i for i, c in enumerate(rows) if c.voided},
        )
        for r, c in enumerate(rows):
            item = self.calibrations.item(r, CAL_QA_COLUMN)
            if item is None or c.voided or not c.signatures:
                continue
            broken = any(not s.intact for s in c.signatures)
            item.setForeground(status_color("overdue" if broken else "ok"))
            item.setToolTip("\n".join(s.manifestation for s in c.signatures))

    def _fill_schedules(self, rows: list[ScheduleView]) -> None:
        _fill(
            self.schedules,
            [
                [
                    s.kind.capitalize() + (" (before use)" if s.before_use else ""),
                    s.interval or "-",
                    _fmt(s.last_done),
                    _fmt(s.next_due),
                    STATUS_TEXT.get(s.status, s.status.replace("-", " ")),
                ]
                for s in rows
            ],
            list(range(len(rows))),
            set(),
        )

    def _fill_checks(self, rows: list[CheckView]) -> None:
        _fill(
            self.checks,
            [
                [
                    str(c.performed_on),
                    f"VOID — {c.void_reason}" if c.voided_at else c.result,
                    c.performed_by,
                    c.standard,
                    " ".join(r.text() for r in c.readings),
                    c.notes,
                    f"OOT-{c.oot_case_id}" if c.oot_case_id is not None else "",
                ]
                for c in rows
            ],
            [c.id for c in rows],
            {i for i, c in enumerate(rows) if c.voided_at},
        )
        for r, c in enumerate(rows):
            item = self.checks.item(r, 1)
            if item is not None and not c.voided_at and c.result == "fail":
                item.setForeground(status_color("overdue"))

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
        self._attachment_selected()

    def _fill_custody(self, rows: list[CustodyView]) -> None:
        def state(v: CustodyView) -> str:
            if v.state == "void":
                return f"void: {v.void_reason}"
            if v.override_reason:
                return f"{'LATE' if v.late else v.state} (QA override: {v.override_reason})"
            return "LATE" if v.late else v.state

        _fill(
            self.custody,
            [
                [
                    v.holder,
                    v.place,
                    f"{v.out_at:%Y-%m-%d %H:%M}",
                    _fmt(v.due_back),
                    f"{v.in_at:%Y-%m-%d %H:%M}" if v.in_at else "",
                    state(v),
                ]
                for v in rows
            ],
            [v.id for v in rows],
            {i for i, v in enumerate(rows) if v.state == "void"},
        )
        self._custody_selected()

    def selected_custody(self) -> CustodyView | None:
        rows = self.custody.selectionModel().selectedRows()
        if not rows or self.history is None:
            return None
        return self.history.custody[rows[0].row()]

    def _custody_selected(self) -> None:
        chosen = self.selected_custody()
        self.custody_void.setEnabled(chosen is not None and chosen.state != "void" and self.editing)

    def selected_check(self) -> CheckView | None:
        rows = self.checks.selectionModel().selectedRows()
        if not rows or self.history is None:
            return None
        return self.history.checks[rows[0].row()]

    def _check_selected(self) -> None:
        chosen = self.selected_check()
        self.check_void.setEnabled(chosen is not None and not chosen.voided_at and self.editing)

    def _void_check(self) -> None:
        chosen = self.selected_check()
        if chosen is not None:
            self.void_check_requested.emit(chosen.id)

    def _void_custody(self) -> None:
        chosen = self.selected_custody()
        if chosen is not None:
            self.void_custody_requested.emit(chosen.id, chosen.version)

    def _fill_audit(self, rows: list[AuditView]) -> None:
        newest_first = list(reversed(rows))
        _fill(
            self.audit,
            [
                [
                    f"{e.occurred_at:%Y-%m-%d %H:%M:%S}",
                    e.user,
                    e.machine,
                    entity_text(e),
                    e.action,
                    change_summary(e),
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

    def select_calibration(self, record_id: int, *, show: bool = True) -> bool:
        """Select a record of the history by id (a supersedes link); False if not shown."""
        if self.history is None:
            return False
        for row, c in enumerate(self.history.calibrations):
            if c.id == record_id:
                if show:
                    self.tabs.setCurrentIndex(self.cal_tab)
                self.calibrations.selectRow(row)
                return True
        return False

    def set_may_clear_review(self, allowed: bool, tooltip: str) -> None:
        """Whether this user may clear the review flag now (QA, editing), and why not."""
        self.clear_review_button.setEnabled(allowed)
        self.clear_review_button.setToolTip(tooltip)

    def set_editing(self, editing: bool) -> None:
        """Read-only mode: nothing that writes is offered."""
        self.editing = editing
        self._calibration_selected()
        self._attachment_selected()
        self._custody_selected()
        self._check_selected()
        self.maintenance.set_editing(editing)

    def selected_attachment(self) -> AttachmentView | None:
        if self.history is None:
            return None
        rows = self.attachments.selectionModel().selectedRows()
        return self.history.attachments[rows[0].row()] if rows else None

    def _attachment_selected(self) -> None:
        """Open, Save a copy and Void are offered only for a selected attachment (Void
        not for a void one), Add file only while editing; the tooltip says why not."""
        chosen = self.selected_attachment()
        pick = "Select an attachment first"
        read_only = "Read-only: another session edits this database"
        self.att_add.setEnabled(self.editing)
        self.att_add.setToolTip("Attach a file (Ctrl+Shift+A)" if self.editing else read_only)
        for button, tip in ((self.att_open, "Open a copy"), (self.att_save, "Save a copy")):
            button.setEnabled(chosen is not None)
            button.setToolTip(tip if chosen is not None else pick)
        if chosen is None:
            void = (False, pick)
        elif chosen.voided:
            void = (False, f"{chosen.original_name} is already void")
        elif not self.editing:
            void = (False, read_only)
        else:
            void = (True, "Void it with a reason (the file is kept)")
        self.att_void.setEnabled(void[0])
        self.att_void.setToolTip(void[1])

    def _calibration_selected(self) -> None:
        selected = self.selected_calibration()
        self.record_info.setText(record_html(selected) if selected is not None else "")
        self.record_info.setVisible(selected is not None)
        self._show_readings(selected)
        states = self.record_actions(selected)
        for button, (enabled, tip) in zip(self.record_buttons, states, strict=True):
            button.setEnabled(enabled)
            button.setToolTip(tip)
        self.certificate_button.setEnabled(selected is not None)
        self.certificate_button.setToolTip(
            "Select a calibration in the history first"
            if selected is None
            else f"Save the calibration certificate of #{selected.id} as a PDF"
        )

    def _show_readings(self, c: CalibrationView | None) -> None:
        if c is None or not c.points:
            self.readings.show_points([])
            self.readings.hide()
            self.readings_label.setText("" if c is None else f"Calibration #{c.id}: no readings.")
            self.readings_label.setVisible(c is not None)
            return
        self.readings_label.setText(
            f"Readings of calibration #{c.id} ({c.performed_on}): {readings_summary(c)}"
        )
        self.readings_label.show()
        self.readings.show_points(c.points)
        self.readings.show()

    def record_actions(self, c: CalibrationView | None) -> list[tuple[bool, str]]:
        """(enabled, tooltip) for Sign, Correct, Supersede and Void of a record."""
        if c is None:
            return [(False, "Select a calibration in the history first")] * 4
        if c.voided:
            why = f"#{c.id} is voided: a voided record is not signed or changed"
            return [(False, why)] * 4
        if not self.editing:
            return [(False, "Read-only: another session edits this database")] * 4
        correct = (
            (False, f"#{c.id} is signed and can no longer be corrected; supersede it instead")
            if c.signed
            else (True, "Correct the certificate, provider, environment or notes (Ctrl+Shift+E)")
        )
        return [
            (True, "Sign this record as reviewed or approved (QA; Ctrl+Shift+S)"),
            correct,
            (True, "Replace this record by a corrected one; this one is voided"),
            (True, "Void this record with a reason (Ctrl+Shift+V)"),
        ]

    def _with_calibration(self, signal: Any) -> None:
        selected = self.selected_calibration()
        if selected is not None and not selected.voided:
            signal.emit(selected.id)

    def _certificate_selected(self) -> None:
        selected = self.selected_calibration()
        if selected is not None:
            self.certificate_requested.emit(selected.id)

    def record_menu(self, pos: QPoint) -> QMenu | None:
        """The history's context menu at ``pos`` (the record there selected): the
        certificate and the record's actions, those that cannot apply disabled as their
        buttons are; None off the rows."""
        row = self.calibrations.rowAt(pos.y())
        if row < 0:
            return None
        self.calibrations.selectRow(row)
        menu = QMenu(self)
        for button in (self.certificate_button, *self.record_buttons):
            action = menu.addAction(button.text())
            action.setEnabled(button.isEnabled())
            action.setToolTip(button.toolTip())
            action.triggered.connect(button.click)
        menu.aboutToHide.connect(menu.deleteLater)
        return menu

    def _record_menu(self, pos: QPoint) -> None:
        menu = self.record_menu(pos)
        if menu is not None:
            menu.popup(self.calibrations.viewport().mapToGlobal(pos))

    def _link(self, link: str) -> None:
        kind, _sep, value = link.partition(":")
        if not value.isdigit():
            return
        if kind == "oot":
            self.oot_case_requested.emit(int(value))
        elif kind == "record":
            self.select_calibration(int(value))

    # -- traceability ----------------------------------------------------------------

    def _want_traceability(self, force: bool = False) -> None:
        """Load the traceability only while its tab shows (it is not needed otherwise)."""
        if self.history is None or self.tabs.currentIndex() != self.trace_tab:
            return
        tag = self.history.instrument.asset_tag
        if force or self.trace is None or self.trace.asset_tag != tag:
            self.traceability_wanted.emit(tag)

    def show_traceability(self, trace: Traceability) -> None:
        if self.history is None or trace.asset_tag != self.history.instrument.asset_tag:
            return  # an answer for an instrument no longer shown
        self.trace = trace
        self._fill_trace(self.trace_used, trace.standards_used, lambda t: t.standard_tag)
        self._fill_trace(self.trace_served, trace.used_as_standard, lambda t: t.instrument_tag)
        self.trace_used_label.setText(
            f"Standards used to calibrate {trace.asset_tag} ({len(trace.standards_used)}):"
        )
        self.trace_served_label.setText(
            f"Calibrations in which {trace.asset_tag} served as a standard "
            f"({len(trace.used_as_standard)}):"
        )

    def _fill_trace(self, table: QTableWidget, links: list[TraceLink], other: Any) -> None:
        _fill(
            table,
            [
                [
                    f"#{t.record_id}",
                    str(t.performed_on),
                    other(t),
                    "VOID" if t.voided else t.result,
                ]
                for t in links
            ],
            [t.record_id for t in links],
            {i for i, t in enumerate(links) if t.voided},
        )
        for r, t in enumerate(links):
            for c in range(table.columnCount()):
                item = table.item(r, c)
                if item is not None:
                    item.setData(Qt.ItemDataRole.UserRole + 1, other(t))

    def _trace_clicked(self, item: QTableWidgetItem) -> None:
        tag = item.data(Qt.ItemDataRole.UserRole + 1)
        if tag:
            self.instrument_wanted.emit(str(tag))

    def _void_selected(self) -> None:
        selected = self.selected_calibration()
        if selected is not None and not selected.voided:
            self.void_calibration_requested.emit(selected.id, selected.version)

    def _with_attachment(self, signal: Any) -> None:
        rows = self.attachments.selectionModel().selectedRows()
        if rows and self.history is not None:
            signal.emit(self.history.attachments[rows[0].row()].id)
