"""What the main window offers its action modules (QA, reports, transfer).

The action modules add their menu entries and run their work through these public
members, never the window's privates; ``MainWindow`` satisfies this Protocol (mypy
checks it where the window hands itself to them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QLineEdit, QTableView, QWidget

    from app.bootstrap import CalTrack
    from app.services.dto import InstrumentHistory
    from app.settings.user_settings import UserSettings
    from app.ui.detail_pane import DetailPane
    from app.ui.models.instrument_table import InstrumentTableModel
    from app.ui.status_bar import CalTrackStatusBar
    from app.ui.tasks import Changes, TaskRunner


class WindowApi(Protocol):
    """The main window as an action module sees it."""

    app: CalTrack
    runner: TaskRunner
    settings: UserSettings
    status: CalTrackStatusBar
    detail: DetailPane
    history: InstrumentHistory | None
    model: InstrumentTableModel
    search: QLineEdit
    table: QTableView
    selected_id: int | None
    status_filter: str | None

    @property
    def settings_changed(self) -> SignalInstance:
        """Emitted with the user's settings after they changed."""
        ...

    def as_widget(self) -> QWidget:
        """The window as the parent of the dialogs and message boxes an action opens."""
        ...

    def add_action(
        self, text: str, slot: Callable[[], Any], shortcut: Any = None, tip: str = ""
    ) -> QAction:
        """A window action (menu entry, shortcut, tip) that calls ``slot``."""
        ...

    def run_task(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], object],
        on_error: Callable[[BaseException], object],
        *,
        key: str | None = None,
        changes: Changes | None = None,
    ) -> None:
        """Run ``fn`` off the GUI thread; the callbacks run only while the window is open."""
        ...

    def load_detail(self, instrument_id: int) -> None:
        """Show this instrument in the detail pane."""
        ...

    def reload_ids(self, keep_cache: bool = False) -> None:
        """Read the register's rows again."""
        ...

    def set_filter(self, key: str | None) -> None:
        """Show one status chip's instruments (None: all)."""
        ...
