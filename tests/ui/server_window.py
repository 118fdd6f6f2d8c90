"""A main window on a one-instrument server database, for the window tests about a
server connection that is lost, restarted, or loses a commit's answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pytestqt.qtbot import QtBot

from app.bootstrap import open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.settings.user_settings import UserSettings
from app.ui.main_window import MainWindow
from app.ui.tasks import TaskRunner
from tests.conftest import add_thermometer

TAG = "TH-001"
WAIT_MS = 20_000  # a restarted server replays its log before it takes connections


def lab_window_on(
    qtbot: QtBot, url: str, clock: FixedClock, alice: Identity, state: Path
) -> Iterator[MainWindow]:
    """alice's window on a new database at ``url`` holding TAG, shown and listening."""
    with open_caltrack(url, create=True, identity=alice, clock=clock, state_dir=state) as app:
        add_thermometer(app, TAG)
        win = MainWindow(app=app, runner=TaskRunner(), settings=UserSettings(reminders=False))
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: win.history is not None and win.live.listening, timeout=WAIT_MS)
        yield win
        win.close()
        win.runner.wait()
