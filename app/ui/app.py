"""Starting the desktop application: open a database, settle who edits, show the window."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QProgressDialog,
    QWidget,
)

from app import __version__
from app.bootstrap import CalTrack, CrashReport, open_caltrack
from app.locking.editor_lock import os_lock_free
from app.services.connecting import display_name, has_password, is_server
from app.services.editing import EditingOptions
from app.settings.logs import setup_logging
from app.settings.paths import default_database_path
from app.settings.user_settings import UserSettings, load_settings, save_settings
from app.ui import messages
from app.ui.collector import GuiThreadCollector
from app.ui.dialogs.lock_dialog import LockChoice, LockInUseDialog
from app.ui.look import apply_theme, icon
from app.ui.main_window import MainWindow
from app.ui.modal import run_modal
from app.ui.platform_check import EXIT_NO_WINDOW, window_problem
from app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

DEMO_OFFER_SIZE = 300
# Demo data lives in its own database beside the default one, never in a real register.
DEMO_DATABASE_NAME = "demo.db"


class Launcher(QObject):
    """Opens databases (off the GUI thread) and owns the one main window.

    ``data_dir`` holds the default database (and the demo one beside it), ``state_dir``
    the run markers, ``log_file`` what "Open log" shows: tests give temporary ones so
    nothing touches the real user's files.
    """

    def __init__(
        self,
        qapp: QApplication,
        *,
        settings: UserSettings,
        settings_path: Path | None = None,
        state_dir: Path | None = None,
        editing: EditingOptions | None = None,
        data_dir: Path | None = None,
        log_file: Path | None = None,
    ) -> None:
        super().__init__(qapp)
        self.qapp = qapp
        self.settings = settings
        self.settings_path = settings_path
        self.state_dir = state_dir
        self.editing = editing or EditingOptions()
        self.data_dir = data_dir
        self.log_file = log_file
        self.runner = TaskRunner(parent=self)
        self.window: MainWindow | None = None
        self.app: CalTrack | None = None
        self._progress: QProgressDialog | None = None
        self._first_start = False

    @property
    def default_database(self) -> Path:
        if self.data_dir is None:
            return default_database_path()
        return self.data_dir / default_database_path().name

    @property
    def demo_database(self) -> Path:
        return self.default_database.with_name(DEMO_DATABASE_NAME)

    # -- opening ---------------------------------------------------------------------

    def start(self, database: str | None) -> None:
        """Open ``database``, the last one used, or the default one (created on first start)."""
        default = self.default_database
        target = database or self.settings.last_database or str(default)
        if is_server(target):
            # A server database: no file to look for; the server says what is wrong.
            self.open(target)
            return
        missing = not Path(target).exists()
        create = missing and target == str(default)
        if missing and not create:
            if database is None:
                # Never an empty database in its place: the share may only be disconnected.
                messages.warn(
                    None,
                    "Database not found",
                    f"The database you used last is not there any more:\n{target}",
                    "It may have been moved or renamed, or it is on a share that is not "
                    "connected now. Choose where it is now, or connect the share and start "
                    "CalTrack again.",
                )
                self._choose_another_or_quit()
                return
            if not self._create_asked(Path(target)):
                self._choose_another_or_quit()
                return
            create = True
        if create:
            default.parent.mkdir(parents=True, exist_ok=True)
        # A brand-new default database: the one time CalTrack offers a demo database.
        self._first_start = create and target == str(default)
        self.open(target, create=create)

    def _create_asked(self, path: Path) -> bool:
        """A database named on the command line that does not exist: make a new one there?"""
        if not path.parent.is_dir():
            messages.warn(
                None,
                "Folder not found",
                f"There is no folder {path.parent}.",
                "Check the path, or create the folder first.",
            )
            return False
        chosen = messages.choose_now(
            None,
            "Create a new database?",
            f"There is no CalTrack database at\n{path}",
            [("&Create", messages.Role.AcceptRole), ("&Open another…", messages.Role.RejectRole)],
            default=0,
            detail="Create a new, empty register there? Choose Open another… if it is "
            "somewhere else.",
        )
        return chosen == 0

    def open(self, path: str, create: bool = False) -> None:
        parent: QWidget | None = self.window
        self._progress = QProgressDialog(f"Opening {display_name(path)}…", "", 0, 0, parent)
        self._progress.setWindowTitle("CalTrack")
        self._progress.setCancelButton(None)
        self._progress.setMinimumDuration(300)
        self._progress.setWindowModality(Qt.WindowModality.ApplicationModal)
        editing, state_dir = self.editing, self.state_dir

        def run() -> tuple[CalTrack, bool]:
            app = open_caltrack(path, create=create, editing=editing, state_dir=state_dir)
            try:
                return app, app.demo.holds_demo_data()
            except BaseException:
                app.close()
                raise

        self.runner.run(
            run,
            lambda app: self._opened(app, path),
            lambda exc: self._open_failed(exc, path),
        )

    def _close_progress(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None

    def _open_failed(self, exc: BaseException, path: str) -> None:
        self._close_progress()
        self._first_start = False
        messages.explain(self.window, exc, doing=f"opening {display_name(path)}")
        if self.window is None:
            self._choose_another_or_quit()

    def _choose_another_or_quit(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            None, "Open a CalTrack database", "", "CalTrack database (*.db);;All files (*)"
        )
        if path:
            self.open(path)
        else:
            self.qapp.quit()

    def _opened(self, opened: tuple[CalTrack, bool], path: str) -> None:
        app, demo = opened
        self._close_progress()
        parent = self.window
        covered = set(app.crash.covers) if app.crash is not None else set()
        if app.crash is not None:
            self._tell_crash(parent, app.crash)
        problems = [p for p in app.problems if p not in covered]
        if problems:
            messages.warn(
                parent,
                "Problems found when opening",
                "CalTrack found problems with this database.",
                "\n".join(f"• {p}" for p in problems)
                + "\n\nYou can keep working read-only; restore the latest backup or ask your "
                "admin before entering new data.",
            )
        for notice in app.notices:
            if notice not in covered:
                messages.info(parent, "CalTrack", notice)
        session = app.session
        holder = session.holder()
        held_elsewhere = (
            not session.editing
            and session.lock is not None
            and app.database.path is not None
            and not os_lock_free(app.database.path)
        )
        notify = request = False
        if held_elsewhere:
            dialog = LockInUseDialog(holder, parent=parent)
            run_modal(dialog)
            choice = dialog.choice
            if choice is LockChoice.CANCEL:
                app.close()
                if self.window is None:
                    self.qapp.quit()
                return
            if choice is LockChoice.WAIT:
                self._wait_then_show(app, path, demo=demo)
                return
            notify = choice is LockChoice.NOTIFY
            request = choice is LockChoice.REQUEST
        self._show(app, path, notify=notify, request=request, demo=demo)

    def _tell_crash(self, parent: QWidget | None, crash: CrashReport) -> None:
        """One dialog for the run that ended without closing, with the way to its log."""
        damaged = bool(crash.damage)
        # The path is on the button's tooltip, and said in full if no viewer opens it.
        detail = "The CalTrack log file says what happened before it stopped."
        if damaged:
            detail = "\n".join(f"• {p}" for p in crash.damage) + "\n\n" + detail
        buttons = [("&OK", messages.Role.AcceptRole)]
        has_log = self.log_file is not None and self.log_file.exists()
        if has_log:
            buttons.append(("Open log", messages.Role.ActionRole))
        chosen = messages.choose_now(
            parent,
            "CalTrack did not close properly",
            crash.text,
            buttons,
            default=0,
            escape=0,
            icon=messages.Icon.Warning if damaged else messages.Icon.Information,
            detail=detail,
            tooltips={1: str(self.log_file)} if has_log else None,
            plain_text=True,
        )
        if has_log and chosen == 1:
            if self.log_file is None:
                raise RuntimeError("'Open log' was offered without a log file")
            if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_file))):
                messages.info(
                    parent,
                    "Open log",
                    "No program to show the log file is set up on this computer.",
                    f"Open it in a text editor: {self.log_file}",
                )

    def _wait_then_show(self, app: CalTrack, path: str, *, demo: bool) -> None:
        holder = app.session.holder()
        who = holder.describe() if holder else "the current editor"
        progress = QProgressDialog(f"Waiting for {who} to finish…", "Open read-only", 0, 0)
        progress.setWindowTitle("CalTrack database in use")
        progress.setMinimumDuration(0)
        cancelled = threading.Event()
        progress.canceled.connect(cancelled.set)
        session = app.session

        def wait() -> bool:
            if session.wait_until_free(24 * 3600, poll_s=1.0, cancelled=cancelled.is_set):
                session.become_editor(0.0)
            return session.editing

        def done(_editing: bool) -> None:
            progress.close()
            self._show(app, path, notify=False, demo=demo)

        self.runner.run(wait, done, lambda exc: self._open_failed(exc, path))
        progress.show()

    def _show(
        self, app: CalTrack, path: str, *, notify: bool, request: bool = False, demo: bool = False
    ) -> None:
        old_window, old_app = self.window, self.app
        self.app = app
        if old_window is not None:
            self.settings = old_window.saved_settings()
        if not demo and not has_password(path):
            # A demo database is never the one the next start opens: that is the register.
            # Nor is a URL with a password in it: settings are no place for a password.
            self.settings = self.settings.with_database(path)
        self._save_settings()
        window = MainWindow(app=app, runner=self.runner, settings=self.settings)
        if demo:
            window.setWindowTitle(f"CalTrack — DEMO DATA — {Path(path).name}")
            window.act_open_demo.setEnabled(False)  # this is it
        window.open_database_requested.connect(self.open)
        window.open_demo_requested.connect(lambda: self._open_demo(self.demo_database, window))
        window.settings_changed.connect(self._settings_changed)
        window.destroyed.connect(lambda _obj=None: None)
        self.window = window
        if old_window is not None:
            old_window.close()
            old_window.deleteLater()
        if old_app is not None:
            old_app.close()
        window.show()
        if notify:
            window.notify_button.setChecked(True)
        if request:
            window.request_edit()
        first_start, self._first_start = self._first_start, False
        if first_start and app.session.editing:
            self._offer_demo(app, window)

    def _offer_demo(self, app: CalTrack, window: MainWindow) -> None:
        """On first start: look around in a separate demo database; this one stays empty."""
        service = app.instruments

        def empty() -> bool:
            return service.status_counts().get("all", 0) == 0

        def answer(is_empty: bool) -> None:
            if not is_empty:
                return
            demo_path = self.demo_database
            choice = messages.ask(
                window,
                "Welcome to CalTrack",
                "Your database is ready and empty, for your lab's real instruments.\n\n"
                f"Open a separate demo database ({demo_path.name}) with {DEMO_OFFER_SIZE} "
                "demo instruments and their calibration history to look around first?",
                messages.Button.Yes | messages.Button.No,
                messages.Button.No,
            )
            if choice == messages.Button.Yes:
                self._open_demo(demo_path, window)

        self.runner.run(empty, answer, lambda exc: None)

    def _open_demo(self, demo_path: Path, window: MainWindow) -> None:
        """Fill the demo database (once), then open it in place of the empty register."""
        editing, state_dir = self.editing, self.state_dir
        create = not demo_path.exists()
        window.status.showMessage(f"Opening the demo database {demo_path}…")

        def fill() -> None:
            with open_caltrack(
                str(demo_path), create=create, editing=editing, state_dir=state_dir
            ) as demo:
                if demo.instruments.status_counts().get("all", 0) == 0:
                    demo.demo.generate(DEMO_OFFER_SIZE, seed=7)

        self.runner.run(
            fill,
            lambda _none: self.open(str(demo_path)),
            lambda exc: messages.explain(window, exc, doing="making the demo database"),
        )

    # -- settings and shutdown -------------------------------------------------------

    def _settings_changed(self, settings: UserSettings) -> None:
        theme_changed = settings.theme != self.settings.theme
        self.settings = settings
        self._save_settings()
        if theme_changed:
            apply_theme(self.qapp, settings.theme)

    def _save_settings(self) -> None:
        try:
            save_settings(self.settings, self.settings_path)
        except OSError as exc:
            log.warning("cannot save settings: %s", exc)

    def shutdown(self) -> None:
        self.runner.wait(15_000)
        if self.app is not None:
            self.app.close()
            self.app = None


def _quit_gracefully(launcher: Launcher) -> None:
    if launcher.window is not None:
        launcher.window.close()
    launcher.qapp.quit()


def run_gui(database: str | None, argv: Sequence[str] | None = None) -> int:
    """Open the window on ``database``, the last one used, or the default one."""
    if QApplication.instance() is None:
        # Before Qt loads its platform plugin: Qt would abort with a page of text.
        problem = window_problem()
        if problem is not None:
            sys.stderr.write(problem + "\n")
            return EXIT_NO_WINDOW
    log_file = setup_logging(faults=True)
    qapp = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    if not isinstance(qapp, QApplication):
        raise RuntimeError("a Qt application without windows already runs in this process")
    qapp.setApplicationName("CalTrack")
    qapp.setApplicationVersion(__version__)
    qapp.setWindowIcon(icon("caltrack"))
    settings = load_settings()
    apply_theme(qapp, settings.theme)
    launcher = Launcher(qapp, settings=settings, log_file=log_file)
    GuiThreadCollector(launcher)
    qapp.setQuitOnLastWindowClosed(True)
    # SIGTERM (logout, kill) closes the window properly, releasing the editor lock.
    # Python runs signal handlers only when it gets control: a timer gives it that.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: _quit_gracefully(launcher))
    wake = QTimer()
    wake.start(500)
    wake.timeout.connect(lambda: None)
    launcher.start(database)
    code = qapp.exec()
    launcher.shutdown()
    return int(code)
