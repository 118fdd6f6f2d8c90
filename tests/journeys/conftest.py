"""Journey tests: a person's workflows driven only by clicks and keys, on real xcb.

Every test here runs on the xcb platform against a private Xvfb that this conftest
starts before Qt is loaded (``./run-tests`` runs this folder in a pytest process of its
own, because a process has one Qt platform). A journey may only press keys into the
focused widget and click visible widgets (``tests/journeys/person.py``), then assert what
the person sees and what is stored.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui.look import apply_theme
from app.ui.main_window import MainWindow
from app.ui.tasks import TaskRunner
from tests.journeys.person import Person
from tests.journeys.xserver import start_xvfb
from tests.ui.conftest import _collect_on_gui_thread, demo_app, demo_db, demo_db_template, shown

__all__ = [
    "_collect_on_gui_thread",
    "demo_app",
    "demo_db",
    "demo_db_template",
    "shown",
]  # fixtures shared with the offscreen UI tests

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

_SERVER = start_xvfb()
os.environ["DISPLAY"] = _SERVER.display
os.environ["QT_QPA_PLATFORM"] = "xcb"
# No desktop session: keep Qt from looking for a portal or an accessibility bus.
os.environ.pop("WAYLAND_DISPLAY", None)
os.environ["QT_ACCESSIBILITY"] = "0"
os.environ["NO_AT_BRIDGE"] = "1"


def pytest_unconfigure() -> None:
    # Qt keeps its connection until the process ends, and Xvfb (-terminate) ends with it;
    # a run that never started Qt stops the server here.
    if QApplication.instance() is None:
        _SERVER.stop()


def pytest_report_header() -> str:
    return f"journeys: xcb platform on Xvfb {_SERVER.display}"


@pytest.fixture
def person(qtbot: QtBot) -> Person:
    return Person(qtbot)


@pytest.fixture
def screenshot() -> Callable[[QWidget, str], None]:
    """Saves a widget as ``docs/screenshots/NAME.png`` when CALTRACK_SCREENSHOTS=1.

    The README's pictures are made by the journeys, so they show only what a person
    can reach by clicking and typing.
    """

    def save(widget: QWidget, name: str) -> None:
        if os.environ.get("CALTRACK_SCREENSHOTS") != "1":
            return
        QApplication.processEvents()
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        assert widget.grab().save(str(SCREENSHOTS / f"{name}.png"))

    return save


def open_window(qtbot: QtBot, app: CalTrack, settings: UserSettings) -> Iterator[MainWindow]:
    """The main window on ``app``, shown, active and with its first rows loaded."""
    runner = TaskRunner()
    win = MainWindow(app=app, runner=runner, settings=settings)
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=10_000)
    yield win
    win.close()
    runner.wait()


@pytest.fixture
def window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The main window on an empty database (alice edits)."""
    yield from open_window(qtbot, app, UserSettings(reminders=False))


@pytest.fixture
def demo_window(qtbot: QtBot, demo_app: CalTrack) -> Iterator[MainWindow]:
    """The main window on a database with 60 demo instruments (alice edits)."""
    win_iter = open_window(qtbot, demo_app, UserSettings(reminders=False))
    win = next(win_iter)
    qtbot.waitUntil(lambda: win.model.rowCount() > 0, timeout=10_000)
    yield win
    next(win_iter, None)


@pytest.fixture(autouse=True)
def _default_look(qapp: QApplication) -> None:
    """The look ``./caltrack`` starts with (the default theme), whatever an earlier journey
    chose: each journey sees the window a new user sees, in any order, and so do the
    screenshots (an unstyled window showed only when a journey ran alone)."""
    apply_theme(qapp, UserSettings().theme)


@pytest.fixture(autouse=True)
def _on_xcb(qapp: QApplication) -> None:
    assert qapp.platformName() == "xcb", "journeys run on the real X11 platform"


class _FocusReverts(QObject):
    """What a desktop's window manager does, which a bare Xvfb does not: when the active
    window (a dialog) goes away, its parent window becomes active again, so the person's
    next key lands there; and a click into a window behind brings it forward."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonPress and isinstance(watched, QWidget):
            clicked = watched.window()
            if not clicked.isActiveWindow() and QApplication.activeModalWidget() is None:
                clicked.raise_()
                clicked.activateWindow()
            return False
        if event.type() != QEvent.Type.Hide or not isinstance(watched, QWidget):
            return False
        owner = watched.parentWidget()
        if watched.isWindow() and owner is not None:
            parent = owner.window()

            def revert() -> None:
                if (
                    shiboken6.isValid(parent)
                    and parent.isVisible()
                    and QApplication.activeWindow() is None
                ):
                    parent.activateWindow()

            QTimer.singleShot(0, revert)
        return False


@pytest.fixture(autouse=True)
def _window_manager(qapp: QApplication) -> Iterator[None]:
    manager = _FocusReverts()
    qapp.installEventFilter(manager)
    yield
    qapp.removeEventFilter(manager)
