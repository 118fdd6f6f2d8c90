"""Journey: a person opens the lab's database on a server through File → Open a database server…

The real Launcher starts on its default file database; the person picks the menu entry,
types where the server is (this run's private server: a socket folder, the database and
the user), clicks Open, and sees the server's instruments. A wrong database name first
gets one plain message, and the window on the file database stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot
from sqlalchemy.engine import make_url

from app.bootstrap import open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.settings.user_settings import UserSettings
from app.ui.app import Launcher
from app.ui.dialogs.server_dialog import ServerDialog
from tests.conftest import add_thermometer
from tests.journeys.person import Person

SLOW_MS = 60_000


@pytest.fixture
def launcher(qapp: QApplication, tmp_path: Path) -> Iterator[Launcher]:
    started = Launcher(
        qapp,
        settings=UserSettings(reminders=False),
        settings_path=tmp_path / "settings.json",
        state_dir=tmp_path / "state",
        data_dir=tmp_path / "data",
        log_file=tmp_path / "caltrack.log",
    )
    yield started
    if started.window is not None:
        started.window.close()
    started.shutdown()
    started.deleteLater()


def _fill(person: Person, dialog: ServerDialog, host: str, database: str, user: str) -> None:
    for field, text in ((dialog.host, host), (dialog.database, database), (dialog.user, user)):
        person.click(field)
        person.clear_and_type(text)
    person.click_button("Open", dialog)


def test_opening_a_server_database_from_the_file_menu(
    qtbot: QtBot,
    person: Person,
    launcher: Launcher,
    pg_url: str,
    clock: FixedClock,
    alice: Identity,
    tmp_path: Path,
) -> None:
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "seed"
    ) as lab:
        add_thermometer(lab, "PG-100")
    url = make_url(pg_url)
    socket, database, user = str(url.query["host"]), str(url.database), str(url.username)

    with person.answers(
        QMessageBox, lambda box: person.click_button("No", box), where=lambda b: "demo" in b.text()
    ):
        launcher.start(None)
    window = launcher.window
    assert window is not None
    file_title = window.windowTitle()

    # A database that is not there: one plain sentence, the file window stays.
    said: list[str] = []

    def read(box: QMessageBox) -> None:
        said.append(box.text())
        person.click_button("OK", box)

    with (
        person.answers(QMessageBox, read, where=lambda b: "no such database" in b.text()),
        person.answers(ServerDialog, lambda d: _fill(person, d, socket, "nosuchdb", user)),
    ):
        person.menu(window, "File", "Open a database server…")
    assert "ask the administrator to create it" in said[0]
    assert launcher.window is window and window.windowTitle() == file_title

    with person.answers(ServerDialog, lambda d: _fill(person, d, socket, database, user)):
        person.menu(window, "File", "Open a database server…")

    def server_shown() -> bool:
        shown = launcher.window
        return shown is not None and shown is not window and shown.model.rowCount() > 0

    qtbot.waitUntil(server_shown, timeout=SLOW_MS)
    server_window = launcher.window
    assert server_window is not None
    assert server_window.windowTitle() == "CalTrack — server database"
    tags = {
        server_window.model.index(row, 0).data() for row in range(server_window.model.rowCount())
    }
    assert tags == {"PG-100"}
