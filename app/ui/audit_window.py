"""The audit trail window: who changed what, when and why, and whether the chain holds.

At the top, the state of the hash chain as ``AuditService.verify`` finds it when the
window opens (and on Verify): intact with the number of events checked, or broken at
its first bad event, with every problem listed and a button that shows that event.
Below, the events of a period filtered by entity type, user and entity (an asset tag
takes its calibrations and attachments along), searched in the worker a moment after
the last change of a filter; the search has a limit, and the window says when it was
reached. What is shown exports to CSV or XLSX through the export's table writers.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.services.audit import CREATING_ACTIONS, AuditService, ChainReport, readable_changes
from app.services.bounds import LATEST_DAY
from app.services.dto import AuditView
from app.storage.tables import SheetSpec, write_csv, write_xlsx
from app.ui import messages
from app.ui.look import status_color
from app.ui.models.audit_table import (
    COL_CHANGES,
    COL_ID,
    ENTITY_TYPES,
    AuditTableModel,
    change_summary,
    entity_text,
    time_text,
)
from app.ui.tasks import TaskRunner, run_for

SEARCH_DEBOUNCE_MS = 300
DEFAULT_DAYS = 30
LIMITS = (1_000, 5_000, 20_000)
EARLIEST = date(2000, 1, 1)  # "from the beginning" for the date edits
EXPORT_HEADER = (
    "Event",
    "Time (UTC)",
    "User",
    "Machine",
    "Entity type",
    "Entity",
    "Action",
    "Changes (before → after)",
    "Changes (JSON)",
    "Reason",
)
EXPORT_WIDTHS = (8, 20, 12, 14, 14, 24, 10, 60, 60, 40)


@dataclass(frozen=True)
class AuditFilters:
    """One search: UTC days from/to (both included), and the optional filters."""

    since: date
    until: date
    entity_type: str | None = None
    user: str | None = None
    entity: str | None = None
    limit: int = LIMITS[0]

    def days_text(self) -> str:
        """The period as the count says it, "from … to … (UTC days, both included)"."""
        if self.since <= EARLIEST:
            return f"up to {self.until} (UTC day included)"
        return f"from {self.since} to {self.until} (UTC days, both included)"

    def period_name(self) -> str:
        """The period in a file name: "2026-10-24-to-2026-11-23" or "to-2026-11-23"."""
        if self.since <= EARLIEST:
            return f"to-{self.until}"
        return f"{self.since}-to-{self.until}"

    def search(self, audit: AuditService) -> tuple[list[AuditView], bool]:
        """The events, newest first, and whether there are more than the limit (in the
        worker)."""
        events = audit.search(
            since=datetime.combine(self.since, time.min, tzinfo=UTC),
            until=datetime.combine(self.until + timedelta(days=1), time.min, tzinfo=UTC),
            user=self.user,
            entity_type=self.entity_type,
            entity=self.entity,
            limit=self.limit + 1,
            newest_first=True,  # a limit keeps the latest events
        )
        return events[: self.limit], len(events) > self.limit


def day_of_event(audit: AuditService, event_id: int) -> date | None:
    """The UTC day event ``event_id`` was written on (in the worker)."""
    event = audit.event(event_id)
    return event.occurred_at.date() if event is not None else None


def export_rows(events: Sequence[AuditView], *, text_only: bool) -> list[list[Any]]:
    """One row per event as shown (CSV wants text; XLSX keeps the time a time)."""
    rows: list[list[Any]] = []
    for e in events:
        compact = json.dumps(e.changes, ensure_ascii=False, sort_keys=True, default=str)
        rows.append(
            [
                str(e.id) if text_only else e.id,
                time_text(e.occurred_at) if text_only else e.occurred_at,
                e.user,
                e.machine,
                e.entity_type,
                e.entity_label,
                e.action,
                change_summary(e),
                compact,
                e.reason,
            ]
        )
    return rows


def write_events(target: Path, events: Sequence[AuditView]) -> int:
    """Write the events to ``target`` (.csv or .xlsx), atomically; in the worker."""
    if target.suffix.lower() == ".csv":
        write_csv(target, EXPORT_HEADER, export_rows(events, text_only=True))
    else:
        write_xlsx(
            target,
            [
                SheetSpec(
                    "Audit trail",
                    EXPORT_HEADER,
                    export_rows(events, text_only=False),
                    EXPORT_WIDTHS,
                )
            ],
        )
    return len(events)


def choose_export_file(parent: QWidget, suggested: str) -> str:
    """The save dialog for "Export shown" (tests replace this)."""
    path, chosen = QFileDialog.getSaveFileName(
        parent, "Export the events shown", suggested, "Excel workbook (*.xlsx);;CSV (*.csv)"
    )
    if path and Path(path).suffix.lower() not in (".csv", ".xlsx"):
        path += ".csv" if chosen.startswith("CSV") else ".xlsx"
    return path


def event_detail(event: AuditView) -> str:
    """Everything recorded about one event, for the detail area: one readable
    "field: before → after" line per change (readings one per line)."""
    lines = [
        f"Event #{event.id} · {time_text(event.occurred_at)} UTC · {event.user} on {event.machine}",
        f"{entity_text(event)} — {event.action}",
        f"Reason: {event.reason or '—'}",
        "",
    ]
    changes = readable_changes(event)
    creating = event.action in CREATING_ACTIONS
    for label, before, after in changes:
        if before is None and creating:
            lines.append(f"{label}: {detail_value(after)}")
        else:
            lines.append(f"{label}: {detail_value(before)} → {detail_value(after)}")
    if not changes:
        lines.append("No field changed.")
    lines += ["", f"Hash: {event.hash}"]
    return "\n".join(lines)


def detail_value(value: Any) -> str:
    """A value in full (the table's summary shortens long ones)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list) and all(not isinstance(v, list | dict) for v in value):
        return ", ".join(detail_value(v) for v in value) or "—"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class AuditWindow(QWidget):
    """The whole audit trail of this database, filtered, with its verification state."""

    verified = Signal(object)  # ChainReport
    searched = Signal()

    def __init__(self, *, app: CalTrack, runner: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle("Audit trail")
        self.setObjectName("auditWindow")
        self.resize(1280, 800)
        self._app = app
        self._runner = runner
        self.report: ChainReport | None = None
        self.truncated = False
        self.searching = False
        self._wanted: int | None = None  # an event to select when the search comes back
        self._widened = ""  # said with the count when show_event changed the filters
        self._filling = False
        today = app.clock.now_utc().date()

        self.chain = QLabel("Verifying the audit chain…")
        self.chain.setObjectName("chainState")
        self.chain.setWordWrap(True)
        self.chain.setAccessibleName("Audit chain state")
        self.chain.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verify_button = QPushButton("&Verify again")
        self.verify_button.setToolTip("Recompute every event's hash and replay the trail")
        self.verify_button.clicked.connect(self.verify)
        self.jump_button = QPushButton()
        self.jump_button.setToolTip("Show the first bad event in the list")
        self.jump_button.clicked.connect(self._show_first_bad)
        self.jump_button.hide()
        self.problems = QPlainTextEdit()
        self.problems.setReadOnly(True)
        self.problems.setAccessibleName("Problems found")
        self.problems.hide()
        chain_row = QHBoxLayout()
        chain_row.addWidget(self.chain, 1)
        chain_row.addWidget(self.jump_button)
        chain_row.addWidget(self.verify_button)

        self.entity_type = QComboBox()
        self.entity_type.setAccessibleName("Entity type")
        self.entity_type.addItem("All entity types", None)
        for value, name in ENTITY_TYPES:
            self.entity_type.addItem(name, value)
        self.user = QComboBox()
        self.user.setEditable(True)
        self.user.setAccessibleName("User")
        self.user.setMinimumContentsLength(12)
        self.user.addItem("")
        line = self.user.lineEdit()
        if line is not None:
            line.setPlaceholderText("everyone")
        self._recent = today - timedelta(days=DEFAULT_DAYS)
        self.since = self._date_edit("From (UTC day)", self._recent)
        # Whether the person set From: until then, a tag or entity typed is searched from
        # the beginning, so that it shows what the instrument's own audit tab shows.
        self._since_chosen = False
        self.since.dateChanged.connect(self._since_changed)
        self.until = self._date_edit("To (UTC day, included)", today)
        self.entity = QLineEdit()
        self.entity.setAccessibleName("Entity or asset tag")
        self.entity.setPlaceholderText("Asset tag or entity (TH-001, OOT-3, alice)")
        self.entity.setClearButtonEnabled(True)
        self.entity.setMinimumWidth(240)
        self.limit = QComboBox()
        self.limit.setAccessibleName("At most")
        for n in LIMITS:
            self.limit.addItem(f"{n:,} events", n)
        filters = QHBoxLayout()
        for text, widget in (
            ("Entity t&ype:", self.entity_type),
            ("&User:", self.user),
            ("&From:", self.since),
            ("T&o:", self.until),
            ("&Tag or entity:", self.entity),
            ("At &most:", self.limit),
        ):
            label = QLabel(text)
            label.setBuddy(widget)
            filters.addWidget(label)
            filters.addWidget(widget)
        filters.addStretch(1)

        self.model = AuditTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Audit events")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        # Newest first: what happened last is what a reviewer looks for first.
        header.setSortIndicator(COL_ID, Qt.SortOrder.DescendingOrder)
        for col, width in enumerate((64, 140, 80, 90, 200, 64, 400, 220)):
            self.table.setColumnWidth(col, width)
        # The changes take whatever room the window has; the other columns keep theirs.
        header.setSectionResizeMode(COL_CHANGES, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.detail = QPlainTextEdit()
        self.detail.setReadOnly(True)
        self.detail.setAccessibleName("The selected event, as recorded")
        self.detail.setPlaceholderText("Select an event to see everything recorded about it.")
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.detail.setFont(mono)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([520, 180])

        self.count = QLabel()
        self.count.setWordWrap(True)
        self.count.setAccessibleName("Events shown")
        self.export_button = QPushButton("E&xport shown…")
        self.export_button.setToolTip("Save the events shown as CSV or an Excel workbook")
        self.export_button.clicked.connect(self.export_shown)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.export_button)

        layout = QVBoxLayout(self)
        layout.addLayout(chain_row)
        layout.addWidget(self.problems)
        layout.addLayout(filters)
        layout.addWidget(splitter, 1)
        layout.addLayout(bottom)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._timer.timeout.connect(self.search)
        self.entity_type.currentIndexChanged.connect(lambda _i: self._filters_changed())
        self.user.editTextChanged.connect(lambda _t: self._filters_changed())
        self.entity.textChanged.connect(self._entity_changed)
        self.limit.currentIndexChanged.connect(lambda _i: self._filters_changed())
        QShortcut(QKeySequence(QKeySequence.StandardKey.Refresh), self, self.search)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self, self._focus_entity)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.close)
        self._load_users()

    def _date_edit(self, name: str, day: date) -> QDateEdit:
        edit = QDateEdit(_qdate(day))
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("yyyy-MM-dd")
        edit.setMinimumDate(_qdate(EARLIEST))
        # The calendar CalTrack keeps (the day after "until" is still a date Python has).
        edit.setMaximumDate(_qdate(LATEST_DAY))
        edit.setAccessibleName(name)
        edit.dateChanged.connect(lambda _d: self._filters_changed())
        return edit

    # -- running ---------------------------------------------------------------------

    def _run(
        self,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        fail: Callable[[BaseException], None],
        *,
        key: str | None = None,
    ) -> None:
        run_for(self, self._runner, fn, done, fail, key=key)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not event.spontaneous():
            # Opened (again): the chain and the events may have moved since.
            self.verify()
            self.search()

    # -- the chain -------------------------------------------------------------------

    def verify(self) -> None:
        audit = self._app.audit
        self.verify_button.setEnabled(False)
        self._set_chain("Verifying the audit chain…", None)
        self._run(audit.verify, self._verified, self._verify_failed, key="audit-verify")

    def _set_chain(self, text: str, good: bool | None) -> None:
        self.chain.setText(text)
        if good is None:
            self.chain.setStyleSheet("font-weight: 600")
        else:
            color = status_color("ok" if good else "overdue").name()
            self.chain.setStyleSheet(f"color: {color}; font-weight: 600")

    def _verified(self, report: ChainReport) -> None:
        self.report = report
        self.verify_button.setEnabled(True)
        problems = report.problems
        if not problems:
            self._set_chain(f"Audit chain intact: {report.events:,} events checked", True)
        elif report.first_bad_event is not None:
            self._set_chain(
                f"Audit chain BROKEN at event #{report.first_bad_event}: {problems[0]}", False
            )
        else:
            self._set_chain(
                f"The audit trail does not match the data ({report.events:,} events checked; "
                f"the chain itself holds): {problems[0]}",
                False,
            )
        rest = problems[1:]
        self.problems.setPlainText("\n".join(f"• {p}" for p in rest))
        # As tall as the problems, up to five lines (it scrolls beyond).
        lines = min(max(len(rest), 1), 5)
        self.problems.setFixedHeight(self.problems.fontMetrics().lineSpacing() * lines + 14)
        self.problems.setVisible(bool(rest))
        bad = report.first_bad_event
        self.model.set_broken_at(bad)
        self.jump_button.setText(f"&Show event #{bad}" if bad is not None else "")
        self.jump_button.setVisible(bad is not None)
        self.verified.emit(report)

    def _verify_failed(self, exc: BaseException) -> None:
        self.verify_button.setEnabled(True)
        self._set_chain(f"The audit chain could not be verified: {exc}", False)
        messages.explain(self, exc, doing="verifying the audit chain")

    def _show_first_bad(self) -> None:
        if self.report is not None and self.report.first_bad_event is not None:
            self.show_event(self.report.first_bad_event)

    # -- filters ---------------------------------------------------------------------

    def filters(self) -> AuditFilters | None:
        since, until = _pydate(self.since.date()), _pydate(self.until.date())
        if since > until:
            return None
        return AuditFilters(
            since=since,
            until=until,
            entity_type=self.entity_type.currentData(),
            user=self.user.currentText().strip() or None,
            entity=self.entity.text().strip() or None,
            limit=int(self.limit.currentData()),
        )

    def _since_changed(self, _day: QDate) -> None:
        if not self._filling:
            self._since_chosen = True

    def _entity_changed(self, text: str) -> None:
        if not self._filling and not self._since_chosen:
            self._filling = True
            try:
                self.since.setDate(_qdate(EARLIEST if text.strip() else self._recent))
            finally:
                self._filling = False
        self._filters_changed()

    def _filters_changed(self) -> None:
        if not self._filling:
            self._timer.start()

    def _focus_entity(self) -> None:
        self.entity.setFocus()
        self.entity.selectAll()

    def _set_filters(
        self, *, since: date, until: date, entity: str = "", limit: int | None = None
    ) -> None:
        """Show everything of ``entity`` (or everyone's) between the two days."""
        self._filling = True
        try:
            self.entity_type.setCurrentIndex(0)
            self.user.setCurrentText("")
            self.entity.setText(entity)
            self.since.setDate(_qdate(since))
            self.until.setDate(_qdate(until))
            if limit is not None:
                self.limit.setCurrentIndex(max(0, self.limit.findData(limit)))
        finally:
            self._filling = False

    def show_entity(self, entity: str, event_id: int | None = None) -> None:
        """Every event of one entity (an asset tag: with its records and files)."""
        today = self._app.clock.now_utc().date()
        self._set_filters(since=EARLIEST, until=today, entity=entity)
        self._wanted = event_id
        if self.isVisible():
            self.search()

    def show_event(self, event_id: int) -> None:
        """Select an event, changing the filters to its day when it is not shown."""
        row = self.model.row_of(event_id)
        if row is not None:
            self._select_row(row)
            return
        audit = self._app.audit

        def found(day: date | None) -> None:
            if day is None:
                self.count.setText(f"Event #{event_id} is not in the audit trail.")
                return
            self._set_filters(since=day, until=day, limit=LIMITS[-1])
            self._wanted = event_id
            self._widened = (
                f"To show event #{event_id}, the filters now show its whole day ({day}), "
                f"everyone's, up to {LIMITS[-1]:,} events. "
            )
            self.search()

        self.count.setText(f"Looking for event #{event_id}…")
        self._run(
            lambda: day_of_event(audit, event_id),
            found,
            lambda exc: messages.explain(self, exc, doing=f"looking for event #{event_id}"),
            key="audit-locate",
        )

    # -- searching -------------------------------------------------------------------

    def search(self) -> None:
        self._timer.stop()
        filters = self.filters()
        if filters is None:
            self._show_count("The From day is after the To day: nothing to show.", bad=True)
            return
        audit = self._app.audit
        self.searching = True
        self._run(
            lambda: filters.search(audit),
            lambda result: self._searched(filters, *result),
            self._search_failed,
            key="audit-search",
        )

    def _searched(self, filters: AuditFilters, events: list[AuditView], more: bool) -> None:
        self.searching = False
        keep = self._wanted if self._wanted is not None else self._current_id()
        self.model.set_events(events)
        self.truncated = more
        n = len(events)
        days = filters.days_text()
        if more:
            # Said quietly: a limit is a choice of how much to show, not a fault.
            self._show_count(
                f"The newest {n:,} events {days} are shown; "
                "there are older ones. Narrow the days, the user or the entity, or raise "
                "“At most”, to see them."
            )
        elif n:
            self._show_count(f"{n:,} event{'s' if n != 1 else ''} {days}.")
        else:
            self._show_count("No audit event matches these filters.")
        self._add_users(self.model.users())
        widened, self._widened = self._widened, ""
        if keep is not None:
            row = self.model.row_of(keep)
            if row is not None:
                self._select_row(row)
                if widened:
                    self._show_count(widened + self.count.text())
            elif self._wanted is not None:
                self._show_count(
                    f"Event #{keep} is not among the events shown (its time may have been "
                    "changed too, or its day holds more events than the limit).",
                    bad=True,
                )
        self._wanted = None
        if self.model.rowCount() and not self.table.selectionModel().hasSelection():
            self.detail.clear()
        self.export_button.setEnabled(bool(n))
        self.searched.emit()

    def _search_failed(self, exc: BaseException) -> None:
        self.searching = False
        self._show_count(f"The search failed: {exc}", bad=True)
        messages.explain(self, exc, doing="searching the audit trail")

    def _show_count(self, text: str, *, bad: bool = False) -> None:
        self.count.setText(text)
        self.count.setStyleSheet(f"color: {status_color('overdue').name()}" if bad else "")

    def _current_id(self) -> int | None:
        index = self.table.selectionModel().currentIndex()
        event = self.model.event_at(index.row()) if index.isValid() else None
        return event.id if event is not None else None

    def _select_row(self, row: int) -> None:
        self.table.selectRow(row)
        self.table.scrollTo(
            self.model.index(row, COL_ID), QAbstractItemView.ScrollHint.PositionAtCenter
        )
        self.table.setFocus()

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        event = self.model.event_at(current.row()) if current.isValid() else None
        self.detail.setPlainText(event_detail(event) if event is not None else "")

    # -- users -----------------------------------------------------------------------

    def _load_users(self) -> None:
        accounts = self._app.accounts
        self._run(
            lambda: [u.login for u in accounts.list()],
            lambda logins: self._add_users(set(logins)),
            lambda _exc: None,  # the combo still takes any name typed
            key="audit-users",
        )

    def _add_users(self, logins: set[str]) -> None:
        known = {self.user.itemText(i) for i in range(self.user.count())}
        new = sorted(logins - known, key=str.casefold)
        if not new:
            return
        text = self.user.currentText()
        self._filling = True
        try:
            names = sorted((known | set(new)) - {""}, key=str.casefold)
            self.user.clear()
            self.user.addItem("")
            self.user.addItems(names)
            self.user.setCurrentText(text)
        finally:
            self._filling = False

    # -- export ----------------------------------------------------------------------

    def export_shown(self) -> None:
        events = self.model.events()
        if not events:
            return
        filters = self.filters()
        period = filters.period_name() if filters else "shown"
        path = choose_export_file(self, f"audit-trail-{period}.xlsx")
        if not path:
            return
        target = Path(path)
        self.export_button.setEnabled(False)
        self._show_count(f"Writing {target.name}…")

        def written(n: int) -> None:
            self.export_button.setEnabled(True)
            self._show_count(
                f"Saved {target.name} ({n:,} event{'s' if n != 1 else ''}) in {target.parent}."
            )

        def failed(exc: BaseException) -> None:
            self.export_button.setEnabled(True)
            self._show_count(f"Not saved: {exc}", bad=True)
            messages.explain(self, exc, doing=f"writing {target.name}")

        self._run(lambda: write_events(target, events), written, failed)

    # -- for tests and the window ----------------------------------------------------

    def shown_ids(self) -> list[int]:
        return [e.id for e in self.model.events()]
