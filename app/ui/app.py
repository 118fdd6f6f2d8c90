"""Starting the desktop application: open a database, settle who edits, show the window."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog, QWidget

from app import __version__
from app.bootstrap import CalTrack, open_caltrack
from app.locking.editor_lock import os_lock_free
from app.services.editing import EditingOptions
from app.settings.logs import setup_logging
from app.settings.paths import default_database_path
from app.settings.user_settings import UserSettings, load_settings, save_settings
from app.ui import messages
from app.ui.dialogs.lock_dialog import LockChoice, LockInUseDialog
from app.ui.look import apply_theme, icon
from app.ui.main_window import MainWindow
from app.ui.modal import run_modal
from app.ui.tasks import TaskRunner

log = logging.getLogger(__name__)

DEMO_OFFER_SIZE = 300


class Launcher(QObject):
    """Opens databases (off the GUI thread) and owns the one main window."""

    def __init__(
        self,
        qapp: QApplication,
        *,
        settings: UserSettings,
        settings_path: Path | None = None,
        state_dir: Path | None = None,
        editing: EditingOptions | None = None,
    ) -> None:
        super().__init__(qapp)
        self.qapp = qapp
        self.settings = settings
        self.settings_path = settings_path
        self.state_dir = state_dir
        self.editing = editing or EditingOptions()
        self.runner = TaskRunner(parent=self)
        self.window: MainWindow | None = None
        self.app: CalTrack | None = None
        self._progress: QProgressDialog | None = None

    # -- opening ---------------------------------------------------------------------

    def open(self, path: str, create: bool = False) -> None:
        parent: QWidget | None = self.window
        self._progress = QProgressDialog(f"Opening {path}…", "", 0, 0, parent)
        self._progress.setWindowTitle("CalTrack")
        self._progress.setCancelButton(None)
        self._progress.setMinimumDuration(300)
        self._progress.setWindowModality(Qt.WindowModality.ApplicationModal)
        editing, state_dir = self.editing, self.state_dir

        def run() -> CalTrack:
            return open_caltrack(path, create=create, editing=editing, state_dir=state_dir)

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
        messages.explain(self.window, exc, doing=f"opening {path}")
        if self.window is None:
            self._choose_another_or_quit()

    def _choose_another_or_quit(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _filter = QFileDialog.getOpenFileName(
            None, "Open a CalTrack database", "", "CalTrack database (*.db);;All files (*)"
        )
        if path:
            self.open(path)
        else:
            self.qapp.quit()

    def _opened(self, app: CalTrack, path: str) -> None:
        self._close_progress()
        parent = self.window
        if app.problems:
            messages.warn(
                parent,
                "Problems found when opening",
                "CalTrack found problems with this database.",
                "\n".join(f"• {p}" for p in app.problems)
                + "\n\nYou can keep working read-only; restore the latest backup or ask your "
                "admin before entering new data.",
            )
        for notice in app.notices:
            messages.info(parent, "CalTrack", notice)
        session = app.session
        holder = session.holder()
        held_elsewhere = (
            not session.editing
            and session.lock is not None
            and app.database.path is not None
            and not os_lock_free(app.database.path)
        )
        notify = False
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
                self._wait_then_show(app, path)
                return
            notify = choice is LockChoice.NOTIFY
        self._show(app, path, notify=notify)

    def _wait_then_show(self, app: CalTrack, path: str) -> None:
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
            self._show(app, path, notify=False)

        self.runner.run(wait, done, lambda exc: self._open_failed(exc, path))
        progress.show()

    def _show(self, app: CalTrack, path: str, *, notify: bool) -> None:
        old_window, old_app = self.window, self.app
        self.app = app
        self.settings = self.settings.with_database(path)
        if old_window is not None:
            self.settings = old_window.saved_settings().with_database(path)
        self._save_settings()
        window = MainWindow(app=app, runner=self.runner, settings=self.settings)
        window.open_database_requested.connect(self.open)
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
        if app.session.editing:
            self._offer_demo(app, window)

    def _offer_demo(self, app: CalTrack, window: MainWindow) -> None:
        service = app.instruments

        def empty() -> bool:
            return service.status_counts().get("all", 0) == 0

        def answer(is_empty: bool) -> None:
            if not is_empty:
                return
            choice = QMessageBox.question(
                window,
                "An empty database",
                f"This database has no instruments yet. Add {DEMO_OFFER_SIZE} demo instruments "
                "with their calibration history to look around?\n\n(Use a separate database "
                "for demo data: it is audited like real data.)",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if choice == QMessageBox.StandardButton.Yes:
                demo = app.demo
                self.runner.run(
                    lambda: demo.generate(DEMO_OFFER_SIZE, seed=7),
                    lambda _counts: window.refresh(),
                    lambda exc: messages.explain(window, exc, doing="adding demo data"),
                )

        self.runner.run(empty, answer, lambda exc: None)

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
    setup_logging()
    qapp = QApplication.instance() or QApplication(list(argv or sys.argv[:1]))
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("CalTrack")
    qapp.setApplicationVersion(__version__)
    qapp.setWindowIcon(icon("caltrack"))
    settings = load_settings()
    apply_theme(qapp, settings.theme)
    target = database or settings.last_database or str(default_database_path())
    create = not Path(target).exists() and target == str(default_database_path())
    if create:
        default_database_path().parent.mkdir(parents=True, exist_ok=True)
    launcher = Launcher(qapp, settings=settings)
    qapp.setQuitOnLastWindowClosed(True)
    # SIGTERM (logout, kill) closes the window properly, releasing the editor lock.
    # Python runs signal handlers only when it gets control: a timer gives it that.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: _quit_gracefully(launcher))
    wake = QTimer()
    wake.start(500)
    wake.timeout.connect(lambda: None)
    launcher.open(target, create=create)
    code = qapp.exec()
    launcher.shutdown()
    return int(code)
