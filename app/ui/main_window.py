"""The main window: instrument list, filters, detail pane, status bar, multi-user state.

Every database call goes through the task runner; callbacks update widgets on the GUI
thread. The window holds one open database (a ``CalTrack``) and never builds services.
"""

from __future__ import annotations

import base64
import contextlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QButtonGroup,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QProgressDialog,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.bootstrap import CalTrack
from app.errors import ConflictError
from app.locking.requests import EditRequest
from app.services.changes import ChangeWatcher
from app.services.checks import CheckInput
from app.services.connecting import display_name
from app.services.dto import (
    CalibrationInput,
    CalibrationPrefill,
    CheckView,
    InstrumentChanges,
    InstrumentDetail,
    InstrumentHistory,
    InstrumentInput,
    InstrumentRow,
    ScheduleView,
    TypeView,
)
from app.services.editing import RequestOutcome, RequestStatus
from app.services.instruments import Unchanged
from app.services.point_entry import EntryRules
from app.services.schedules import DueCounts, ScheduleInput
from app.settings.user_settings import UserSettings
from app.ui import messages
from app.ui.custody_actions import CustodyActions
from app.ui.detail_pane import DetailPane
from app.ui.dialogs.calibration_dialog import CalibrationDialog, already_saved_text
from app.ui.dialogs.check_dialog import CheckDialog
from app.ui.dialogs.conflict_dialog import reapply_mine, resolve_conflict
from app.ui.dialogs.help_dialogs import ShortcutsDialog, UserGuide
from app.ui.dialogs.instrument_dialog import InstrumentDialog
from app.ui.dialogs.providers_dialog import ProvidersDialog
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.dialogs.schedule_dialog import ClearRequest, ScheduleDialog
from app.ui.dialogs.server_dialog import ServerDialog
from app.ui.dialogs.types_dialog import TypesDialog
from app.ui.flow_layout import FlowLayout
from app.ui.live_updates import LiveUpdates
from app.ui.look import icon, status_icon
from app.ui.modal import open_modal
from app.ui.models.instrument_table import (
    COLUMNS,
    ID_ROLE,
    PAGE,
    AfterPaint,
    InstrumentTableModel,
    fit_register_columns,
    positions_of,
)
from app.ui.qa_actions import QaActions
from app.ui.report_actions import ReportActions
from app.ui.status_bar import CalTrackStatusBar
from app.ui.tasks import Changes, TaskRunner, run_for
from app.ui.transfer_actions import TransferActions
from app.ui.upkeep_actions import UpkeepActions
from app.words import count

FILTERS: tuple[tuple[str | None, str], ...] = (
    (None, "All"),
    ("due-soon", "Due soon"),
    ("overdue", "Overdue"),
    ("not-calibrated", "Not yet calibrated"),
    ("out-of-service", "Out of service"),
    ("retired", "Retired"),
    ("lost", "Lost"),
    ("verify-before-use", "Verify before use"),
    ("not-required", "Not required"),
    ("to-review", "Data to review"),
    ("check-due", "Check due"),
    ("maintenance-due", "Maintenance due"),
)
# Chips shown only while some instrument is in them (or while one is the filter chosen):
# most registers have none, and a chip that always says (0) is noise.
WHEN_ANY = ("verify-before-use", "not-required", "to-review", "check-due", "maintenance-due")
SEARCH_DEBOUNCE_MS = 250
POLL_MS = 3000
IDLE_CHECK_MS = 30_000
REMINDER_MS = 3_600_000


def in_quiet_hours(settings: UserSettings, now: time) -> bool:
    """True inside the user's quiet hours (which may run over midnight)."""
    try:
        start = time.fromisoformat(settings.quiet_start)
        end = time.fromisoformat(settings.quiet_end)
    except ValueError:
        return False
    if start == end:
        return False
    return start <= now < end if start < end else now >= start or now < end


@dataclass(frozen=True)
class LockView:
    """Who edits, as the window shows it (read off the GUI thread)."""

    editing: bool
    text: str
    held_elsewhere: bool
    idle_released: bool
    stale: bool
    admin: bool
    has_lock: bool
    asked: bool = False  # this session's edit request waits for an answer
    editor: str = ""  # the user who edits elsewhere, to name in the banner
    can_start: bool = False  # nobody edits and this session may take the lock


def read_lock_view(app: CalTrack) -> LockView:
    """Reads the holder file and probes the lock: call it in a worker."""
    session = app.session
    status = session.status()
    held_elsewhere = bool(status is not None and status.held and not session.editing)
    stale = bool(status is not None and status.stale)
    holder = status.holder if status is not None else None
    return LockView(
        editing=session.editing,
        text=session.describe(),
        held_elsewhere=held_elsewhere,
        idle_released=session.idle_released,
        stale=stale,
        admin=stale and app.locks.is_admin(),
        has_lock=session.lock is not None,
        asked=session.my_request is not None,
        editor=holder.user if holder is not None and held_elsewhere else "",
        can_start=bool(
            status is not None
            and not status.held
            and not session.editing
            and session.may_edit_again
        ),
    )


@dataclass(frozen=True)
class _Poll:
    """What one poll found (read in a worker)."""

    changed: bool
    request: EditRequest | None  # a new request to this editor
    shown_live: bool  # the request on screen still waits
    mine: RequestStatus | None  # what became of this session's own request
    free: bool  # notify-me: the lock is free now
    view: LockView


class _Progress(QObject):
    """Carries progress from a worker thread to a progress dialog (queued signal)."""

    moved = Signal(int, int)


class _ActivityFilter(QObject):
    """Notes keyboard and mouse activity for the idle release of the editor lock."""

    def __init__(self, on_activity: Callable[[], None], parent: QObject) -> None:
        super().__init__(parent)
        self._on_activity = on_activity

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress):
            self._on_activity()
        return False


class MainWindow(QMainWindow):
    """One open database, its instrument register and everything done with it."""

    open_database_requested = Signal(str, bool)  # path, create
    open_demo_requested = Signal()  # the separate demo database, never this one
    settings_changed = Signal(object)  # UserSettings

    def __init__(
        self,
        *,
        app: CalTrack,
        runner: TaskRunner,
        settings: UserSettings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.app = app
        self.runner = runner
        self.settings = settings
        self.status_filter: str | None = None
        self.sort_key = "next_due"
        self.sort_desc = False
        self.selected_id: int | None = None
        self.history: InstrumentHistory | None = None
        self.counts: dict[str, int] = {}
        self._searched = ""  # the search term of the list last asked for
        self.notify_when_free = False
        self._closing = False
        self.watcher: ChangeWatcher | None = None
        self.lock_view: LockView | None = None
        self._request_box: messages.Box | None = None
        self._request_shown: EditRequest | None = None
        self.setWindowTitle(f"CalTrack — {app.database.path or 'server database'}")
        self.setWindowIcon(icon("caltrack"))
        self.setAcceptDrops(True)
        self.resize(1280, 800)

        self.model = InstrumentTableModel(self)
        self.model.rows_wanted.connect(self._fetch_rows)
        self.model.sort_wanted.connect(self._sort)
        self._build_actions()
        self._build_central()
        self.qa = QaActions(self)
        self.custody_actions = CustodyActions(self, self.scan)
        self.transfer = TransferActions(self)
        self.report_actions = ReportActions(self)
        self.upkeep = UpkeepActions(self)
        self._build_menus()
        self.status = CalTrackStatusBar(self)
        self.setStatusBar(self.status)
        self.status.refresh_clicked.connect(self.refresh)
        self.status.set_path(str(app.database.path or display_name(app.database.url)))
        self._build_timers()
        self._restore_state()
        self.activity = _ActivityFilter(self._activity, self)
        qapp = QApplication.instance()
        if qapp is not None:
            qapp.installEventFilter(self.activity)
        self.update_lock_state()
        self.runner.changed.connect(self._data_changed)
        self.qa.start()
        self.refresh(initial=True)
        self.run_task(
            self.app.change_watcher,
            self._watcher_ready,
            lambda exc: None,
        )
        # On a server, others' changes arrive as they are committed (see _others_changed).
        self.live = LiveUpdates(app, self)
        self.live.arrived.connect(self._others_changed)
        self.live.listening_changed.connect(self._live_listening)
        self.live.resumed.connect(self._reload_all_after_outage)
        self._live_lost = False

    def run_task(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], object],
        on_error: Callable[[BaseException], object],
        *,
        key: str | None = None,
        changes: Changes | None = None,
    ) -> None:
        """Run off the GUI thread; results for a window already closed are dropped.

        A write names what it ``changes``: the runner announces it once it succeeded,
        and every view (this window's register and detail pane among them) reloads
        what it shows from that one signal.
        """

        run_for(
            self,
            self.runner,
            fn,
            on_done,
            on_error,
            key=key,
            changes=changes,
            alive=lambda: not self._closing,
        )

    def _data_changed(self, changes: Changes) -> None:
        """A write succeeded somewhere in this window: show the data as it is now."""
        if self._closing:
            return
        if changes.instruments or changes.calibrations or changes.cases:
            self.reload_ids()
        elif self.selected_id is not None and changes.touches(self.selected_id):
            self.load_detail(self.selected_id)

    # -- construction ----------------------------------------------------------------

    def as_widget(self) -> QWidget:
        """The window as a parent widget (for the action modules, see ``WindowApi``)."""
        return self

    def add_action(
        self, text: str, slot: Callable[[], Any], shortcut: Any = None, tip: str = ""
    ) -> QAction:
        """A window action (menu entry, shortcut, tip) that calls ``slot`` when triggered."""
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.act_new_db = self.add_action("&New database…", self.new_database)
        self.act_open_db = self.add_action(
            "&Open database…", self.open_database, QKeySequence.StandardKey.Open
        )
        self.act_open_server = self.add_action(
            "Open a database &server…",
            self.open_server,
            tip="Open a CalTrack database on a PostgreSQL server (by service name or address)",
        )
        self.act_open_demo = self.add_action(
            "Open &demo database…",
            self.open_demo_requested.emit,
            tip="Look around in a separate database of demo instruments; this one is not changed",
        )
        self.act_backup = self.add_action("&Backup now", self.backup)
        self.act_verify = self.add_action("&Verify database…", self.verify)
        self.act_quit = self.add_action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_new = self.add_action(
            "&New instrument…",
            self.new_instrument,
            QKeySequence.StandardKey.New,
            "Register a new instrument (Ctrl+N)",
        )
        self.act_edit = self.add_action(
            "&Edit instrument…", self.edit_instrument, "Ctrl+E", "Edit the selected instrument"
        )
        self.act_calibrate = self.add_action(
            "New &calibration…",
            self.new_calibration,
            "Ctrl+K",
            "Record a calibration of the selected instrument (Ctrl+K)",
        )
        self.act_check = self.add_action(
            "Record c&heck…",
            self.record_check,
            "Ctrl+Shift+K",
            "Record an intermediate check of the selected instrument (Ctrl+Shift+K)",
        )
        self.act_schedules = self.add_action(
            "&Schedules…",
            self.edit_schedules,
            tip="Set or clear the check and maintenance schedules of the selected instrument",
        )
        self.act_void = self.add_action(
            "&Void calibration…",
            self.void_selected_calibration,
            "Ctrl+Shift+V",
            "Void the calibration selected in the history",
        )
        self.act_attach = self.add_action(
            "&Attach file…", self.attach_file, "Ctrl+Shift+A", "Attach a file to the instrument"
        )
        self.act_find = self.add_action("&Find", self.focus_search, QKeySequence.StandardKey.Find)
        self.act_refresh = self.add_action(
            "&Refresh", self.refresh, QKeySequence.StandardKey.Refresh, "Reload data (F5)"
        )
        self.act_stop_editing = self.add_action("Stop &editing", self.stop_editing)
        self.act_edit_again = self.add_action("Try to &edit", self.try_edit)
        self.act_types = self.add_action(
            "Instrument &types…",
            self.open_types,
            "Ctrl+T",
            "The register of instrument types and their test plans (Ctrl+T)",
        )
        self.act_providers = self.add_action(
            "&Providers…",
            self.open_providers,
            "Ctrl+Shift+P",
            "External calibration providers and the instruments sent to them (Ctrl+Shift+P)",
        )
        self.act_settings = self.add_action(
            "&Preferences…", self.open_settings, "Ctrl+,", "Theme, reminders, due-soon window"
        )
        self.act_guide = self.add_action(
            "&User guide", self.show_guide, QKeySequence.StandardKey.HelpContents
        )
        self.act_shortcuts = self.add_action("&Keyboard shortcuts", self.show_shortcuts)
        self.act_about = self.add_action("&About CalTrack", self.about)
        for act, name in (
            (self.act_new, "new"),
            (self.act_edit, "edit"),
            (self.act_calibrate, "calibrate"),
            (self.act_attach, "attach"),
            (self.act_refresh, "refresh"),
        ):
            act.setIcon(icon(name))

    def _editing_actions(self) -> tuple[QAction, ...]:
        return (
            self.act_new,
            self.act_edit,
            self.act_calibrate,
            self.act_check,
            self.act_schedules,
            self.act_void,
            self.act_attach,
            *self.qa.editing_actions(),
            *self.custody_actions.editing_actions(),
            *self.transfer.editing_actions(),
            *self.upkeep.editing_actions(),
        )

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_new_db)
        file_menu.addAction(self.act_open_db)
        file_menu.addAction(self.act_open_server)
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addAction(self.act_open_demo)
        self._fill_recent()
        file_menu.addSeparator()
        file_menu.addAction(self.act_backup)
        file_menu.addAction(self.act_verify)
        self.transfer.fill_file_menu(file_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act_settings)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        edit_menu = bar.addMenu("&Instrument")
        for act in (
            self.act_new,
            self.act_edit,
            self.act_calibrate,
            self.act_check,
            self.act_schedules,
            self.act_void,
            self.act_attach,
            self.upkeep.act_log,
        ):
            edit_menu.addAction(act)
        edit_menu.addAction(self.qa.act_clear_review)
        edit_menu.addSeparator()
        self.custody_actions.fill_menu(edit_menu)
        edit_menu.addSeparator()
        edit_menu.addAction(self.report_actions.act_print_history)
        self.qa.fill_menu(bar.addMenu("&QA"))
        self.report_actions.fill_menu(bar.addMenu("&Reports"))
        view_menu = bar.addMenu("&View")
        view_menu.addAction(self.act_find)
        view_menu.addAction(self.act_refresh)
        view_menu.addAction(self.transfer.act_audit)
        self.columns_menu = view_menu.addMenu("&Columns")
        self._fill_columns_menu()
        db_menu = bar.addMenu("&Database")
        db_menu.addAction(self.act_stop_editing)
        db_menu.addAction(self.act_edit_again)
        db_menu.addSeparator()
        db_menu.addAction(self.qa.act_users)
        db_menu.addAction(self.act_types)
        db_menu.addAction(self.act_providers)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_guide)
        help_menu.addAction(self.act_shortcuts)
        help_menu.addSeparator()
        help_menu.addAction(self.act_about)
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("mainToolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for act in (self.act_new, self.act_edit, self.act_calibrate, self.act_attach):
            toolbar.addAction(act)
        toolbar.addSeparator()
        toolbar.addAction(self.act_refresh)

    def _build_central(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 0)

        self.banner = QWidget()
        self.banner.setObjectName("readOnlyBanner")
        self.banner.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        banner_layout = QHBoxLayout(self.banner)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.request_button = QPushButton("&Request edit")
        self.request_button.setToolTip("Ask the current editor to hand the database over")
        self.request_button.clicked.connect(self.request_edit)
        self.notify_button = QPushButton("&Notify me")
        self.notify_button.setToolTip("Tell me when the database is free, then let me edit")
        self.notify_button.setCheckable(True)
        self.notify_button.toggled.connect(self._set_notify)
        self.take_over_button = QPushButton("&Take over")
        self.take_over_button.setToolTip("Admins: fence off a frozen editor and edit")
        self.take_over_button.clicked.connect(self.take_over)
        self.take_over_button.hide()
        self.start_button = QPushButton("&Start editing")
        self.start_button.setToolTip("Nobody edits the database now: take the editor lock")
        self.start_button.clicked.connect(self.try_edit)
        self.start_button.hide()
        banner_layout.addWidget(QLabel(pixmap=icon("lock").pixmap(18, 18)))
        banner_layout.addWidget(self.banner_text, 1)
        buttons = (self.start_button, self.request_button, self.notify_button)
        for button in (*buttons, self.take_over_button):
            banner_layout.addWidget(button)
        self.banner.hide()
        layout.addWidget(self.banner)

        filter_bar = QWidget()
        filter_bar.setObjectName("filterBar")
        filter_layout = QHBoxLayout(filter_bar)
        filter_layout.setContentsMargins(0, 0, 0, 0)
        # The chips wrap onto a second line rather than widen the window past the screen.
        chips = QWidget()
        chips_layout = FlowLayout(chips)
        filter_layout.addWidget(chips, 1, Qt.AlignmentFlag.AlignTop)
        self.filter_group = QButtonGroup(self)
        self.filter_group.setExclusive(True)
        self.filter_buttons: dict[str | None, QToolButton] = {}
        for key, label in FILTERS:
            chip = QToolButton()
            chip.setCheckable(True)
            chip.setText(label)
            chip.setAccessibleName(f"Show {label.lower()}")
            if key is not None:
                chip.setIcon(status_icon(key))
            chip.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            chip.clicked.connect(lambda _c=False, k=key: self.set_filter(k))
            self.filter_group.addButton(chip)
            self.filter_buttons[key] = chip
            chips_layout.addWidget(chip)
        self.filter_buttons[None].setChecked(True)
        for key in WHEN_ANY:
            self.filter_buttons[key].hide()  # until some instrument is in it
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search (Ctrl+F): tag, description, serial, maker, model")
        self.search.setAccessibleName("Search instruments")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(200)
        self.search.setMaximumWidth(420)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DEBOUNCE_MS)
        self._search_timer.timeout.connect(self.reload_ids)
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        # reload_ids only starts this: the requests of one turn of the event loop (the
        # view's initial sort, the restored sort, the first refresh) make one load.
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(0)
        self._reload_timer.timeout.connect(self._load_ids)
        filter_layout.addWidget(self.search, 0, Qt.AlignmentFlag.AlignTop)
        # How many the search found, next to the box where the person typed.
        self.found = QLabel()
        self.found.setObjectName("searchCount")
        self.found.setAccessibleName("Search result count")
        self.found.setMinimumWidth(self.fontMetrics().horizontalAdvance("9,999 found"))
        filter_layout.addWidget(self.found, 0, Qt.AlignmentFlag.AlignTop)
        # A barcode or QR scanner types the tag and Enter here (Ctrl+B): see CustodyActions.
        self.scan = QLineEdit()
        self.scan.setObjectName("scanBox")
        self.scan.setPlaceholderText("Scan (Ctrl+B): a label or a tag, then Enter")
        self.scan.setAccessibleName("Scan asset tag")
        self.scan.setToolTip("Scan an instrument's label (or type its tag) to check it out or in")
        self.scan.setMinimumWidth(160)
        self.scan.setMaximumWidth(260)
        filter_layout.addWidget(self.scan, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(filter_bar)

        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Instruments")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setSortingEnabled(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        vertical = self.table.verticalHeader()
        vertical.hide()
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(
            lambda pos: self.columns_menu.exec(header.mapToGlobal(pos))
        )
        header.setSortIndicator(2, Qt.SortOrder.AscendingOrder)
        fit_register_columns(self.table)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table.doubleClicked.connect(lambda _i: self.edit_instrument())

        self.detail = DetailPane()
        self.detail.void_calibration_requested.connect(self.void_calibration)
        self.detail.void_check_requested.connect(self.void_check)
        self.detail.add_attachment_requested.connect(self.attach_file)
        self.detail.open_attachment_requested.connect(self.open_attachment)
        self.detail.save_attachment_requested.connect(self.save_attachment)
        self.detail.void_attachment_requested.connect(self.void_attachment)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        # The detail pane's readings table needs about 520 px for its eight columns; the
        # register's important columns (issue 15 added the next check and who has it)
        # fit in the rest at 1280 px.
        self.splitter.setSizes([760, 520])
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

    def _fill_columns_menu(self) -> None:
        self.columns_menu.clear()
        header = self.table.horizontalHeader()
        for col, (_key, label, _sort) in enumerate(COLUMNS):
            action = self.columns_menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(col))
            action.setEnabled(col != 0)  # the asset tag always stays
            action.toggled.connect(lambda on, c=col: header.setSectionHidden(c, not on))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_databases:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(
                lambda _c=False, p=path: self.open_database_requested.emit(p, False)
            )
        self.recent_menu.setEnabled(bool(self.settings.recent_databases))

    def _build_timers(self) -> None:
        self.poll_timer = QTimer(self)
        self.poll_timer.setInterval(POLL_MS)
        self.poll_timer.timeout.connect(self.poll)
        self.poll_timer.start()
        self.idle_timer = QTimer(self)
        self.idle_timer.setInterval(IDLE_CHECK_MS)
        self.idle_timer.timeout.connect(self._check_idle)
        self.idle_timer.start()
        self.reminder_timer = QTimer(self)
        self.reminder_timer.setInterval(REMINDER_MS)
        self.reminder_timer.timeout.connect(self.remind)
        self.reminder_timer.start()
        QTimer.singleShot(1500, self.remind)

    # -- state saved per user --------------------------------------------------------

    def _restore_state(self) -> None:
        def restore(text: str, apply: Callable[[QByteArray], Any]) -> None:
            if text:
                with contextlib.suppress(ValueError):
                    apply(QByteArray(base64.b64decode(text)))

        restore(self.settings.window_geometry, self.restoreGeometry)
        restore(self.settings.window_state, self.restoreState)
        restore(self.settings.splitter_state, self.splitter.restoreState)
        restore(self.settings.table_header_state, self.table.horizontalHeader().restoreState)
        header = self.table.horizontalHeader()
        column = header.sortIndicatorSection()
        if 0 <= column < len(COLUMNS) and COLUMNS[column][2]:
            self.sort_key = str(COLUMNS[column][2])
            self.sort_desc = header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        self._fill_columns_menu()

    def saved_settings(self) -> UserSettings:
        from dataclasses import replace

        def b64(data: QByteArray) -> str:
            return base64.b64encode(bytes(data.data())).decode("ascii")

        return replace(
            self.settings,
            window_geometry=b64(self.saveGeometry()),
            window_state=b64(self.saveState()),
            splitter_state=b64(self.splitter.saveState()),
            table_header_state=b64(self.table.horizontalHeader().saveState()),
        )

    # -- loading ---------------------------------------------------------------------

    def refresh(self, initial: bool = False) -> None:
        """Reload the list, the counts and the selected instrument from the database."""
        self.reload_ids(keep_cache=False)
        if not initial:
            self.status.refreshed()
            if self.watcher is not None:
                watcher = self.watcher
                self.run_task(watcher.acknowledge, lambda _r: None, lambda _e: None)

    def reload_ids(self, keep_cache: bool = False) -> None:
        """Reload the list's ids and the filter counts (once per turn of the event loop:
        each load reads every matching id, 100k of them in a big register)."""
        self._reload_timer.start()

    def _load_ids(self) -> None:
        service = self.app.instruments
        status, search = self.status_filter, self.search.text()
        sort, desc = self.sort_key, self.sort_desc
        self._searched = search.strip()

        def load() -> tuple[list[int], dict[int, int], dict[int, InstrumentRow], dict[str, int]]:
            ids = service.list_ids(status=status, search=search, sort=sort, descending=desc)
            # The id → row map and the rows the view shows first come from here too: all
            # off the GUI thread, and the first paint needs no second round trip.
            first = service.rows(ids[:PAGE]) if ids else {}
            return ids, positions_of(ids), first, service.status_counts()

        self.run_task(load, self._ids_loaded, self._load_failed, key="ids")

    def _ids_loaded(
        self,
        result: tuple[list[int], dict[int, int], dict[int, InstrumentRow], dict[str, int]],
    ) -> None:
        ids, positions, first, counts = result
        self.model.set_ids(ids, positions=positions)
        self.model.set_rows(first)
        self.counts = counts
        for key, label in FILTERS:
            n = counts.get(key or "all", 0)
            self.filter_buttons[key].setText(f"{label} ({n:,})")
        for key in WHEN_ANY:
            chip = self.filter_buttons[key]
            chip.setVisible(counts.get(key, 0) > 0 or chip.isChecked())
        self.found.setText(f"{len(ids):,} found" if self._searched else "")
        # After the repaint the new rows cause: the detail pane's load, Python-heavy,
        # then does not compete with the painting for the GIL (that froze the window
        # for a tenth of a second).
        AfterPaint(self.table.viewport(), self._reselect)

    def _load_failed(self, exc: BaseException) -> None:
        self.model.forget_requests()
        messages.explain(self, exc, doing="loading the instrument list")

    def _fetch_rows(self, ids: list[int]) -> None:
        service = self.app.instruments
        self.run_task(lambda: service.rows(ids), self.model.set_rows, self._load_failed)

    def _sort(self, key: str, descending: bool) -> None:
        self.sort_key, self.sort_desc = key, descending
        self.reload_ids()

    def set_filter(self, key: str | None) -> None:
        self.status_filter = key
        self.filter_buttons[key].setChecked(True)
        self.reload_ids()

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def _reselect(self) -> None:
        if self._closing:  # a repaint queued before closing: nothing to read for any more
            return
        if self.selected_id is None:
            if self.model.rowCount() and not self.table.selectionModel().hasSelection():
                self.table.selectRow(0)
            return
        row = self.model.row_of(self.selected_id)
        if row is None:
            # The selected instrument is not in this list: show the first one instead.
            self.selected_id = None
            self.history = None
            self.detail.show_history(None)
            self.qa.update_review()
            if self.model.rowCount():
                self.table.selectRow(0)
            return
        self.table.selectRow(row)
        self.load_detail(self.selected_id)

    def _row_changed(self, current: Any, _previous: Any) -> None:
        instrument_id = current.data(ID_ROLE) if current.isValid() else None
        if instrument_id is None or (instrument_id == self.selected_id and self.history):
            return
        self.selected_id = instrument_id
        self.load_detail(instrument_id)

    def load_detail(self, instrument_id: int) -> None:
        row = self.model.cached(instrument_id)
        service = self.app.instruments

        def load() -> InstrumentHistory:
            tag = row.asset_tag if row is not None else service.tag_of(instrument_id)
            return service.history(tag)

        self.run_task(load, self._detail_loaded, self._detail_failed, key="detail")

    def _detail_loaded(self, history: InstrumentHistory) -> None:
        self.history = history
        self.detail.show_history(history)
        self.qa.update_review()

    def _detail_failed(self, exc: BaseException) -> None:
        self.history = None
        self.detail.show_history(None)
        self.qa.update_review()
        messages.explain(self, exc, doing="loading the instrument")

    # -- live updates (a server) -----------------------------------------------------

    def _others_changed(self, changes: Changes) -> None:
        """Someone else committed a write: say so and reload what the views show, through
        the one signal every view follows (as after a write of this window)."""
        if self._closing:
            return
        self.status.show_change_hint()
        self.runner.changed.emit(changes)

    def _reload_all_after_outage(self) -> None:
        if not self._closing:
            self.runner.changed.emit(Changes.everything())

    def _live_listening(self, listening: bool) -> None:
        if self._closing:
            return
        if not listening:
            if not self._live_lost:  # once per outage: the listener keeps trying
                self._live_lost = True
                self.status.showMessage(
                    "Live updates paused: the database server cannot be reached. Trying again…"
                )
        elif self._live_lost:
            self._live_lost = False
            self.status.showMessage("Live updates resumed.", 8000)

    # -- polling: changes, lock state, requests --------------------------------------

    def _watcher_ready(self, watcher: ChangeWatcher) -> None:
        self.watcher = watcher

    def poll(self) -> None:
        """Cheap checks every few seconds, off the GUI thread."""
        session = self.app.session
        app = self.app
        watcher = self.watcher
        # While the server's notices are heard they bring the changes; the head is only
        # followed, so a later fall-back to polling does not report them again.
        live = self.live.listening
        notify = self.notify_when_free
        shown = self._request_shown if self._request_box is not None else None

        def check() -> _Poll:
            changed = False
            if watcher is not None and live:
                watcher.acknowledge()
            elif watcher is not None:
                changed = watcher.changed()
            # The author's own request first: a hand-over makes her the editor here.
            mine = session.check_my_request()
            request = session.pending_request()
            shown_live = shown is None or session.request_live(shown)
            free = notify and not session.editing and session.lock_free()
            return _Poll(changed, request, shown_live, mine, free, read_lock_view(app))

        self.run_task(check, self._polled, lambda exc: None, key="poll")

    def _polled(self, result: _Poll) -> None:
        if result.changed:
            self.status.show_change_hint()
        self.show_lock_view(result.view)
        if not result.shown_live and self._request_box is not None:
            who = self._request_shown.user if self._request_shown is not None else "They"
            self._close_request_box()
            self.status.showMessage(f"{who} no longer asks to edit.", 8000)
        if result.request is not None:
            self._show_request(result.request)
        if result.mine is not None:
            self._request_answered(result.mine)
        if result.free and not result.view.editing:
            self.notify_when_free = False
            self.notify_button.setChecked(False)
            answer = messages.ask(
                self,
                "Database available",
                "The database is free for editing now. Start editing?",
                messages.Button.Yes | messages.Button.No,
                messages.Button.Yes,
            )
            if answer == messages.Button.Yes:
                self.try_edit()

    def _request_answered(self, status: RequestStatus) -> None:
        """Tell the author what became of her request (the lock view already shows it)."""
        outcome = status.outcome
        if outcome is RequestOutcome.WAITING:
            return
        if status.editing:
            self.notify_when_free = False
            self.notify_button.setChecked(False)
            how = (
                f"{status.by} handed the database over to you."
                if outcome is RequestOutcome.HANDED_OVER
                else f"{status.by or 'The editor'} stopped editing."
            )
            self.status.showMessage("You are editing now.", 10_000)
            messages.info(self, "You can edit now", f"{how} You are the editor now.")
        elif outcome is RequestOutcome.HANDED_OVER:
            messages.warn(
                self,
                "Still read-only",
                f"{status.by} handed the database over, but another session took it first.",
                self.app.session.describe(),
            )
        elif outcome is RequestOutcome.DECLINED:
            messages.info(
                self,
                "Edit request declined",
                f"{status.by} keeps editing for now.",
                "Ask again later, or click Notify me to be told when the database is free.",
            )
        else:
            self.status.showMessage(
                "Your edit request is no longer open; ask again if you still need to edit.",
                10_000,
            )

    def update_lock_state(self) -> None:
        """Re-read who edits (files on the share: off the GUI thread), then show it."""
        app = self.app
        self.run_task(lambda: read_lock_view(app), self.show_lock_view, lambda exc: None)

    def show_lock_view(self, view: LockView) -> None:
        self.lock_view = view
        self.status.set_lock_state(view.text, view.editing)
        self.banner.setVisible(not view.editing)
        if not view.editing:
            text = view.text
            if view.asked and view.held_elsewhere:
                text += (
                    f" — you asked to edit; waiting for {view.editor or 'the editor'} to answer."
                )
            self.banner_text.setText(text)
            self.request_button.setVisible(view.held_elsewhere)
            self.request_button.setText("&Withdraw request" if view.asked else "&Request edit")
            self.request_button.setToolTip(
                "Take your edit request back"
                if view.asked
                else "Ask the current editor to hand the database over"
            )
            self.notify_button.setVisible(view.held_elsewhere or view.idle_released)
            self.start_button.setVisible(view.can_start)
            self.take_over_button.setVisible(view.stale and view.admin)
        for act in self._editing_actions():
            act.setEnabled(view.editing)
        self.act_stop_editing.setEnabled(view.editing and view.has_lock)
        self.act_edit_again.setEnabled(not view.editing)

    def _show_request(self, request: EditRequest) -> None:
        self._close_request_box()
        note = f"\n\nTheir note: {request.message}" if request.message else ""
        box = messages.choose(
            self,
            "Edit requested",
            f"{request.user} on {request.machine} asks to edit this database.{note}",
            [
                (f"Hand over to {request.user}", messages.Role.AcceptRole),
                ("Keep editing", messages.Role.RejectRole),
            ],
            lambda chosen: self.answer_request(request, hand_over=chosen == 0),
            icon=messages.Icon.Information,
            detail="Handing over ends your editing: this window turns read-only and "
            f"{request.user} becomes the editor. What you saved stays saved.",
        )
        self._request_box = box
        self._request_shown = request

    def _close_request_box(self) -> None:
        box, self._request_box, self._request_shown = self._request_box, None, None
        if box is not None:
            box.close()
            box.deleteLater()

    def answer_request(self, request: EditRequest, *, hand_over: bool) -> None:
        """The editor's answer to a request (from the request's message box)."""
        self._request_box = self._request_shown = None
        session = self.app.session

        def done(answered: bool) -> None:
            self.update_lock_state()
            if not answered:
                messages.info(
                    self,
                    "Edit request",
                    f"{request.user} no longer asks to edit (withdrawn or closed). "
                    "You keep editing.",
                )
            elif hand_over:
                self.status.showMessage(f"You handed the database over to {request.user}.", 10_000)

        self.run_task(
            lambda: session.answer_request(request, hand_over=hand_over),
            done,
            lambda exc: messages.explain(self, exc, doing="answering the edit request"),
        )

    def _activity(self) -> None:
        session = self.app.session
        session.note_activity()
        if session.idle_released and not session.editing:
            self.run_task(
                session.touch, lambda _ok: self.update_lock_state(), lambda e: None, key="touch"
            )

    def _check_idle(self) -> None:
        session = self.app.session

        def check() -> bool:
            return session.check_idle()

        self.run_task(
            check,
            lambda released: self._idle_checked(bool(released)),
            lambda exc: None,
            key="idle",
        )

    def _idle_checked(self, released: bool) -> None:
        if released:
            self.update_lock_state()

    def _set_notify(self, on: bool) -> None:
        self.notify_when_free = on
        if on:
            self.status.showMessage("You will be told when the database is free.", 5000)

    def request_edit(self) -> None:
        """Request edit, or take the waiting request back (the same banner button)."""
        session = self.app.session
        if session.my_request is not None:
            self.run_task(
                session.withdraw_request,
                lambda _r: self._request_sent("Edit request withdrawn."),
                lambda exc: messages.explain(self, exc, doing="withdrawing the edit request"),
            )
            return
        self.run_task(
            lambda: session.request_edit(""),
            lambda _r: self._request_sent("Edit request sent to the current editor."),
            lambda exc: messages.explain(self, exc, doing="sending the edit request"),
        )

    def _request_sent(self, message: str) -> None:
        self.status.showMessage(message, 5000)
        self.update_lock_state()

    def try_edit(self) -> None:
        session = self.app.session

        def take() -> bool:
            session.become_editor(0.0)
            return session.editing

        def done(editing: bool) -> None:
            self.update_lock_state()
            if not editing:
                messages.info(self, "Still read-only", session.describe())

        self.run_task(take, done, lambda exc: messages.explain(self, exc, doing="taking the lock"))

    def stop_editing(self) -> None:
        session = self.app.session
        self.run_task(
            lambda: session.release("you stopped editing"),
            lambda _r: self.update_lock_state(),
            lambda exc: messages.explain(self, exc, doing="releasing the lock"),
        )

    def take_over(self) -> None:
        locks = self.app.locks
        session = self.app.session
        answer = messages.ask(
            self,
            "Take over the database?",
            "The editing session's heartbeat has stopped. Taking over fences it off: even if "
            "it wakes up, it can never save again. Continue?",
            messages.Button.Yes | messages.Button.Cancel,
            messages.Button.Cancel,
            icon=messages.Icon.Warning,
        )
        if answer != messages.Button.Yes:
            return

        def run() -> str:
            result = locks.release(force=True, observed=session.status())
            session.become_editor(0.0)
            return result.message

        def done(message: str) -> None:
            self.update_lock_state()
            messages.info(self, "Take over", message)

        self.run_task(run, done, lambda exc: messages.explain(self, exc, doing="taking over"))

    # -- reminders -------------------------------------------------------------------

    def remind(self) -> None:
        if not self.settings.reminders or in_quiet_hours(self.settings, datetime.now().time()):
            return
        service = self.app.schedules
        self.run_task(service.counts, self._show_reminder, lambda exc: None, key="remind")

    def _show_reminder(self, counts: DueCounts) -> None:
        """Every schedule kind in the reminder (issue 15): calibrations, checks and
        maintenance, each with a button to its filter chip when any is due."""
        overdue, soon = counts.overdue, counts.due_soon
        if not any(overdue.values()) and not any(soon.values()):
            return
        # A button per filter with something in it; "Later" always.
        offered: list[tuple[str, str]] = []
        if overdue.get("calibration"):
            offered.append(("overdue", "Show overdue"))
        if soon.get("calibration"):
            offered.append(("due-soon", "Show due soon"))
        if overdue.get("check") or soon.get("check"):
            offered.append(("check-due", "Show checks due"))
        if overdue.get("maintenance") or soon.get("maintenance"):
            offered.append(("maintenance-due", "Show maintenance due"))

        def chosen(index: int) -> None:
            if index < len(offered):
                self.set_filter(offered[index][0])

        roles = [messages.Role.AcceptRole] + [messages.Role.ActionRole] * (len(offered) - 1)
        box = messages.choose(
            self,
            "Schedules due",
            f"{counts.sentence('overdue')}.\n{counts.sentence('due_soon')}.",
            [
                *((label, role) for (_key, label), role in zip(offered, roles, strict=False)),
                ("Later", messages.Role.RejectRole),
            ],
            chosen,
            icon=messages.Icon.Information,
            object_name="dueReminder",
        )
        self.reminder = box

    # -- instruments -----------------------------------------------------------------

    def _current_detail(self) -> InstrumentDetail | None:
        # Only the detail of the selected row: right after a click the one loaded may
        # still be the instrument selected before.
        history = self.history
        if history is None or history.instrument.id != self.selected_id:
            return None
        return history.instrument

    def _with_detail(self, then: Callable[[InstrumentDetail], None]) -> None:
        """Runs ``then`` on the selected instrument, once its detail is loaded.

        A shortcut pressed right after clicking a row acts on that row's instrument
        (not the one shown before, and without "Select an instrument first").
        """
        detail = self._current_detail()
        if detail is not None:
            then(detail)
            return
        wanted = self.selected_id
        if wanted is None:
            self.status.showMessage("Select an instrument first.", 4000)
            return
        row = self.model.cached(wanted)
        service = self.app.instruments

        def load() -> InstrumentHistory:
            return service.history(row.asset_tag if row is not None else service.tag_of(wanted))

        def loaded(history: InstrumentHistory) -> None:
            if self.selected_id != wanted:
                return  # the person moved on meanwhile
            self._detail_loaded(history)
            then(history.instrument)

        self.run_task(load, loaded, self._detail_failed)

    def new_instrument(self) -> None:
        self._instrument_dialog(None)

    def edit_instrument(self) -> None:
        self._with_detail(self._instrument_dialog)

    def _instrument_dialog(self, detail: InstrumentDetail | None) -> None:
        # The types to choose from are read first, off the GUI thread, like the
        # calibration form's lookups.
        self.run_task(
            self.app.types.list,
            lambda types: self._open_instrument_dialog(detail, types),
            lambda exc: messages.explain(self, exc, doing="opening the instrument form"),
        )

    def _open_instrument_dialog(
        self, detail: InstrumentDetail | None, types: Sequence[TypeView]
    ) -> None:
        service = self.app.instruments
        dialog: InstrumentDialog | None = None

        def submit(
            data: InstrumentInput | InstrumentChanges,
            version: int | None,
            ok: Callable[[Any], None],
            fail: Callable[[BaseException], None],
        ) -> None:
            if dialog is None:
                raise RuntimeError("the instrument dialog called back before it was built")
            type_name, custom = dialog.type_choice()
            # Checked by the dialog before it submits (the service checks it again).
            stated = dialog.stated_choice()
            if isinstance(data, InstrumentInput):
                from_type = dialog.interval_from_type()
                given = None if isinstance(stated, Unchanged) else stated
                self.run_task(
                    lambda: service.add(
                        data,
                        type_name=type_name,
                        custom=custom,
                        interval_from_type=from_type,
                        stated=given,
                    ),
                    ok,
                    fail,
                    changes=Changes(instruments=True),
                )
            else:
                if detail is None:  # an edit's changes come from a loaded instrument
                    raise RuntimeError("an instrument's changes arrived without the instrument")
                tag = detail.asset_tag
                reason = dialog.reason()  # why the calibration kind changed, if it did
                self.run_task(
                    lambda: service.edit(
                        tag,
                        data,
                        expected_version=version,
                        reason=reason,
                        type_name=type_name,
                        custom=custom,
                        stated=stated,
                    ),
                    ok,
                    fail,
                    changes=Changes(instruments=True, instrument_ids=frozenset({detail.id})),
                )

        def conflict(exc: ConflictError, mine: dict[str, Any]) -> None:
            if dialog is None:
                raise RuntimeError("the instrument dialog called back before it was built")
            self._resolve_conflict(dialog, exc, mine)

        opened = dialog = InstrumentDialog(
            submit=submit, on_conflict=conflict, detail=detail, types=types, parent=self
        )

        def done(result: int) -> None:
            if result and opened.saved is not None:
                saved: InstrumentDetail = opened.saved
                self.selected_id = saved.id
                self.status.showMessage(f"Saved {saved.asset_tag}.", 4000)

        open_modal(opened, done)

    def _resolve_conflict(
        self, dialog: InstrumentDialog, exc: ConflictError, mine: dict[str, Any]
    ) -> None:
        service = self.app.instruments
        tag = exc.label

        def keep_theirs() -> None:
            dialog.reject()
            self.refresh()

        # The person's type and custom value changes, as against what they opened.
        type_name, custom = dialog.type_choice()
        stated = dialog.stated_change()

        def reapply(fresh: InstrumentDetail) -> None:
            dialog.load(fresh)
            # Before reapply_mine, which saves: what Save sends is read from the form
            # as it saves (after it, the type and stated U were lost).
            dialog.reapply_type_choice(type_name, custom)
            if stated is not None:
                dialog.stated.setText(stated)
            reapply_mine(dialog, mine)

        resolve_conflict(
            exc,
            mine,
            parent=dialog,
            # What the form shows: for the fields the user left alone, what they opened.
            base=dialog.values(),
            cancel=lambda: dialog.show_banner(
                "Not saved yet: the instrument changed under you. Your entries are kept."
            ),
            keep_theirs=keep_theirs,
            reapply_mine=lambda: self.run_task(
                lambda: service.get(tag),
                reapply,
                lambda err: messages.explain(dialog, err, doing="reloading the instrument"),
            ),
        )

    # -- calibrations ----------------------------------------------------------------

    def new_calibration(self) -> None:
        self._with_detail(self._calibration_dialog)

    def _calibration_dialog(self, detail: InstrumentDetail) -> None:
        service = self.app.calibrations
        instruments = self.app.instruments
        types = self.app.types

        providers = self.app.providers
        Loaded = tuple[list[str], EntryRules, CalibrationPrefill | None, list[str]]

        def load() -> Loaded:
            # What the dialog starts from: the standards to offer, what the grid judges
            # by (the lab's rule and minimum TUR), a typed instrument's test plan, and
            # the register's providers to offer as an external provider's name.
            tags = [r.asset_tag for r in instruments.list(limit=None, sort="asset_tag").rows]
            plan = types.prefill(detail.asset_tag) if detail.type_name else None
            names = [p.name for p in providers.list(include_retired=False)]
            return tags, service.entry_rules(detail.asset_tag), plan, names

        def open_dialog(loaded: Loaded) -> None:
            standard_tags, rules, plan, provider_names = loaded

            def submit(
                data: CalibrationInput,
                ok: Callable[[Any], None],
                fail: Callable[[BaseException], None],
            ) -> None:
                self.run_task(
                    lambda: service.add(detail.asset_tag, data),
                    ok,
                    fail,
                    changes=Changes(calibrations=True, instrument_ids=frozenset({detail.id})),
                )

            dialog = CalibrationDialog(
                instrument=detail,
                today=self.app.clock.today(),
                user=self.app.identity.user,
                standard_tags=standard_tags,
                submit=submit,
                check_standards=lambda tags, day, done: self.qa.check_standards(
                    tags, day, done, instrument=detail.asset_tag
                ),
                offer_uncertainty=self.qa.standard_uncertainties,
                rules=rules,
                plan=plan,
                provider_names=provider_names,
                parent=self,
            )

            def done(result: int) -> None:
                if result and dialog.saved is not None:
                    due = dialog.saved.next_due
                    self.status.showMessage(
                        already_saved_text(dialog.saved)
                        if dialog.saved.already_saved
                        else f"Calibration of {detail.asset_tag} recorded, next due {due}.",
                        6000,
                    )
                    self.qa.calibration_saved(dialog.saved)

            open_modal(dialog, done)

        self.run_task(
            load,
            open_dialog,
            lambda exc: messages.explain(self, exc, doing="opening the calibration form"),
        )

    def record_check(self) -> None:
        self._with_detail(self._check_dialog)

    def _check_dialog(self, detail: InstrumentDetail) -> None:
        service = self.app.checks
        instruments = self.app.instruments

        def load() -> list[str]:
            return [r.asset_tag for r in instruments.list(limit=None, sort="asset_tag").rows]

        def open_dialog(standard_tags: list[str]) -> None:
            def submit(
                data: CheckInput,
                ok: Callable[[Any], None],
                fail: Callable[[BaseException], None],
            ) -> None:
                self.run_task(
                    lambda: service.add(detail.asset_tag, data),
                    ok,
                    fail,
                    # A failing check opens a case (issue 15): the cases window follows.
                    changes=Changes(
                        instruments=True, cases=True, instrument_ids=frozenset({detail.id})
                    ),
                )

            dialog = CheckDialog(
                instrument=detail,
                today=self.app.clock.today(),
                standard_tags=standard_tags,
                submit=submit,
                parent=self,
            )

            def done(result: int) -> None:
                saved = dialog.saved
                if not result or saved is None:
                    return
                failed = saved.result == "fail" and detail.lifecycle == "in_service"
                self.status.showMessage(
                    f"Check of {detail.asset_tag} recorded: {saved.result}"
                    + (f"; {detail.asset_tag} is now out of service." if failed else "."),
                    8000,
                )
                self.qa.check_saved(saved)

            open_modal(dialog, done)

        self.run_task(
            load,
            open_dialog,
            lambda exc: messages.explain(self, exc, doing="opening the check form"),
        )

    def void_check(self, check_id: int) -> None:
        """Void an intermediate check with a reason, as ``checks void`` does."""
        dialog = ReasonDialog(
            "Void check",
            f"Why is check #{check_id} void? It stays in the history, marked void; an "
            "out-of-tolerance case it opened stays open for QA to close.",
            self,
        )
        service = self.app.checks

        def saved(view: CheckView) -> None:
            stays = (
                f"; its case OOT-{view.oot_case_id} stays open for QA"
                if view.oot_case_id is not None
                else ""
            )
            self.status.showMessage(f"Check #{view.id} of {view.asset_tag} voided{stays}.", 8000)

        def done(result: int) -> None:
            if not result:
                return
            reason = dialog.reason
            self.run_task(
                lambda: service.void(check_id, reason),
                saved,
                lambda exc: messages.explain(self, exc, doing="voiding the check"),
                changes=Changes(instruments=True, cases=True),
            )

        open_modal(dialog, done)

    def edit_schedules(self) -> None:
        self._with_detail(self._schedule_dialog)

    def _schedule_dialog(self, detail: InstrumentDetail) -> None:
        service = self.app.schedules

        def open_dialog(schedules: list[ScheduleView]) -> None:
            def submit(
                what: ScheduleInput | ClearRequest,
                ok: Callable[[Any], None],
                fail: Callable[[BaseException], None],
            ) -> None:
                def write() -> ScheduleView | None:
                    if isinstance(what, ClearRequest):
                        service.clear(detail.asset_tag, what.kind, reason=what.reason)
                        return None
                    return service.set(detail.asset_tag, what)

                self.run_task(
                    write,
                    ok,
                    fail,
                    changes=Changes(instruments=True, instrument_ids=frozenset({detail.id})),
                )

            dialog = ScheduleDialog(
                instrument=detail, schedules=schedules, submit=submit, parent=self
            )

            def done(result: int) -> None:
                if result and dialog.done_text:
                    self.status.showMessage(f"{detail.asset_tag}: {dialog.done_text}.", 6000)

            open_modal(dialog, done)

        self.run_task(
            lambda: service.list(detail.asset_tag),
            open_dialog,
            lambda exc: messages.explain(self, exc, doing="opening the schedules"),
        )

    def void_selected_calibration(self) -> None:
        selected = self.detail.selected_calibration()
        if selected is None or selected.voided:
            self.status.showMessage("Select a calibration in the Calibrations tab first.", 4000)
            return
        self.void_calibration(selected.id, selected.version)

    def void_calibration(self, record_id: int, version: int) -> None:
        dialog = ReasonDialog(
            "Void calibration",
            f"Void calibration #{record_id}? It stays in the history, marked void, and the "
            "due date falls back to the latest valid calibration.",
            self,
        )

        def done(result: int) -> None:
            if not result:
                return
            reason = dialog.reason
            service = self.app.calibrations
            self.run_task(
                lambda: service.void(record_id, reason, expected_version=version),
                lambda _v: None,
                lambda exc: messages.explain(self, exc, doing="voiding the calibration"),
                changes=Changes(calibrations=True),
            )

        open_modal(dialog, done)

    # -- attachments -----------------------------------------------------------------

    def attach_file(self, path: str | None = None) -> None:
        self._with_detail(lambda detail: self._attach_to(detail, path))

    def _attach_to(self, detail: InstrumentDetail, path: str | None) -> None:
        if not path:
            path, _filter = QFileDialog.getOpenFileName(
                self, f"Attach a file to {detail.asset_tag}"
            )
            if not path:
                return
        source = Path(path)
        service = self.app.attachments
        progress = QProgressDialog(f"Attaching {source.name}…", "", 0, 100, self)
        progress.setCancelButton(None)
        progress.setMinimumDuration(400)
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        relay = _Progress(self)
        relay.moved.connect(
            lambda done, total: progress.setValue(int(done * 100 / total) if total else 100)
        )

        def run() -> Any:
            return service.add(detail.asset_tag, source, progress=relay.moved.emit)

        def finished(view: Any) -> None:
            progress.close()
            self.status.showMessage(f"Attached {view.original_name}.", 4000)

        def failed(exc: BaseException) -> None:
            progress.close()
            messages.explain(self, exc, doing=f"attaching {source.name}")

        self.run_task(
            run,
            finished,
            failed,
            changes=Changes(attachments=True, instrument_ids=frozenset({detail.id})),
        )

    def open_attachment(self, attachment_id: int) -> None:
        service = self.app.attachments
        folder = Path(tempfile.mkdtemp(prefix="caltrack-open-"))
        self.run_task(
            lambda: service.export(attachment_id, folder),
            lambda path: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))),
            lambda exc: messages.explain(self, exc, doing="opening the attachment"),
        )

    def save_attachment(self, attachment_id: int) -> None:
        if self.history is None:
            return
        name = next(
            (a.original_name for a in self.history.attachments if a.id == attachment_id), ""
        )
        target, _filter = QFileDialog.getSaveFileName(self, "Save a copy", name)
        if not target:
            return
        service = self.app.attachments
        self.run_task(
            lambda: service.export(attachment_id, Path(target)),
            lambda path: self.status.showMessage(f"Saved a copy to {path}.", 5000),
            lambda exc: messages.explain(self, exc, doing="saving a copy"),
        )

    def void_attachment(self, attachment_id: int) -> None:
        dialog = ReasonDialog("Void attachment", "Void this attachment? The file is kept.", self)

        def done(result: int) -> None:
            if not result:
                return
            reason = dialog.reason
            service = self.app.attachments
            self.run_task(
                lambda: service.void(attachment_id, reason),
                lambda _v: None,
                lambda exc: messages.explain(self, exc, doing="voiding the attachment"),
                changes=Changes(attachments=True),
            )

        open_modal(dialog, done)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and self.app.session.editing and self.history is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            if url.isLocalFile():
                self.attach_file(url.toLocalFile())
        event.acceptProposedAction()

    # -- database --------------------------------------------------------------------

    def new_database(self) -> None:
        path, _filter = QFileDialog.getSaveFileName(
            self, "New CalTrack database", "", "CalTrack database (*.db);;All files (*)"
        )
        if path:
            if not path.endswith(".db"):
                path += ".db"
            self.open_database_requested.emit(path, True)

    def open_database(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Open CalTrack database", "", "CalTrack database (*.db);;All files (*)"
        )
        if path:
            self.open_database_requested.emit(path, False)

    def open_server(self) -> None:
        dialog = ServerDialog(self)

        def done(result: int) -> None:
            if result and dialog.target:
                self.open_database_requested.emit(dialog.target, False)

        open_modal(dialog, done)

    def backup(self) -> None:
        service = self.app.maintenance
        self.status.showMessage("Backing up…")

        def make() -> tuple[Path, str]:
            path = service.backup("manual")
            return path, service.backup_head(path)

        def done(made: tuple[Path, str]) -> None:
            self.status.clearMessage()
            path, head = made
            messages.info(
                self,
                "Backup done",
                f"Backup written to\n{path}",
                f"It holds the audit trail up to event {head}.",
            )

        self.run_task(make, done, lambda exc: messages.explain(self, exc, doing="backing up"))

    def verify(self) -> None:
        service = self.app.maintenance
        self.status.showMessage("Verifying the database…")

        def done(report: Any) -> None:
            self.status.clearMessage()
            if report.clean:
                messages.info(
                    self,
                    "Database verified",
                    "No problems found.",
                    f"Integrity, foreign keys, {count(report.audit_events, 'audit event')} and "
                    f"{count(report.attachments_checked, 'attachment file')} checked.",
                )
            else:
                messages.warn(
                    self,
                    "Problems found",
                    f"{count(len(report.problems), 'problem')} found. Restore the latest backup or "
                    "ask your admin.",
                    "\n".join(f"• {p}" for p in report.problems[:30]),
                )

        self.run_task(
            service.verify, done, lambda exc: messages.explain(self, exc, doing="verifying")
        )

    def open_settings(self) -> None:
        from app.ui.dialogs.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self.app, self.runner, parent=self)

        def done(result: int) -> None:
            if result:
                self.settings = dialog.result_settings()
                self.settings_changed.emit(self.settings)

        open_modal(dialog, done)

    def open_types(self) -> None:
        """The register of instrument types (QA and admins change it; others read it)."""
        dialog = TypesDialog(
            app=self.app, runner=self.runner, editing=self.app.session.editing, parent=self
        )
        open_modal(dialog, lambda _result: None)

    def open_providers(self) -> None:
        """Providers (QA keeps them; others read) and send-outs (anyone who edits)."""
        dialog = ProvidersDialog(
            app=self.app, runner=self.runner, editing=self.app.session.editing, parent=self
        )
        open_modal(dialog, lambda _result: None)

    def show_guide(self) -> None:
        UserGuide.show_for(self)

    def show_shortcuts(self) -> None:
        ShortcutsDialog.show_for(self)

    def about(self) -> None:
        import platform
        import sqlite3

        import sqlalchemy
        from PySide6 import __version__ as pyside_version

        session = self.app.session
        db = self.app.database
        journal = db.journal.reason if db.journal else "server database"

        def show(mode: str) -> None:
            messages.info(
                self,
                "About CalTrack",
                f"CalTrack {__version__} — calibration tracker for laboratories",
                f"Database: {db.path or db.url}\n"
                f"Journal: {mode} — {journal}\n"
                f"Lock: {session.describe()}\n"
                f"You: {self.app.identity}\n"
                f"{self.qa.role_line()}\n\n"
                f"Python {platform.python_version()}, Qt/PySide {pyside_version}, "
                f"SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}",
            )

        self.run_task(db.journal_mode, show, lambda exc: show("unknown"))

    # -- closing ---------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self._closing = True
        for timer in (self.poll_timer, self.idle_timer, self.reminder_timer):
            timer.stop()
        self.live.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self.activity)
        self.settings_changed.emit(self.saved_settings())
        self.runner.wait(10_000)
        event.accept()
