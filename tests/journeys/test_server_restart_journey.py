"""Journey: the database server restarts while a technician is typing in the window.

The person opens Edit instrument on a server database and types a new description; the
server crashes; the person presses Save and sees one plain message, with the dialog
still open and everything typed still in it; the server comes back; Save again saves,
and the register shows the change. Nothing of the refused save reached the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.settings.user_settings import UserSettings
from app.ui.dialogs.instrument_dialog import InstrumentDialog
from app.ui.main_window import MainWindow
from app.ui.models.instrument_table import COL_DESCRIPTION
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone
from tests.pg_server import PgServer

TYPED = "Bath probe, moved to lab 2"
WAIT_MS = 20_000  # a restarted server replays its log before it takes connections


@pytest.fixture
def lab(pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path) -> Iterator[CalTrack]:
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ) as app:
        add_thermometer(app, "TH-001")
        yield app


@pytest.fixture
def lab_window(qtbot: QtBot, lab: CalTrack) -> Iterator[MainWindow]:
    windows = open_window(qtbot, lab, UserSettings(reminders=False))
    win = next(windows)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1 and win.live.listening, timeout=WAIT_MS)
    yield win
    next(windows, None)


def events(app: CalTrack) -> int:
    """Events in the audit trail, checked whole (chain, and its replay against the tables)."""
    report = app.audit.verify()
    assert report.problems == []
    return report.events


def visible_boxes() -> list[QMessageBox]:
    return [
        w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
    ]


def test_a_save_while_the_server_is_down_keeps_the_entry_and_saves_once_it_is_back(
    qtbot: QtBot, person: Person, pg_server: PgServer, lab: CalTrack, lab_window: MainWindow
) -> None:
    events_before = events(lab)
    person.click_cell(lab_window.table, 0, 0)
    person.shortcut("Ctrl+E")
    dialog = person.wait_for(InstrumentDialog)
    person.press(Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)  # &Description:
    person.clear_and_type(TYPED)

    said: list[tuple[str, str, str]] = []

    def read_and_close(box: QMessageBox) -> None:
        said.append((box.windowTitle(), box.text(), box.informativeText()))
        person.click_button("OK", box)

    with pg_server.down():
        qtbot.waitUntil(lambda: not lab_window.live.listening, timeout=WAIT_MS)
        with person.answers(QMessageBox, read_and_close):
            person.click_button("Save", dialog)
        # One message, in words: no second box, no traceback, the dialog and the entry kept.
        assert visible_boxes() == []
        assert len(said) == 1
        title, text, detail = said[0]
        assert title == "Database server unreachable"
        assert "nothing was saved; your entry is kept" in text
        assert "Traceback" not in text + detail
        assert dialog.isVisible()
        assert dialog.edits["description"].text() == TYPED
        assert "nothing was saved" in dialog.banner.text()
        assert "Live updates paused" in lab_window.status.currentMessage()

    # Back: nothing of the refused save is there; the same dialog, Save again, saves.
    assert lab.instruments.get("TH-001").description == "Digital thermometer"
    assert events(lab) == events_before
    qtbot.waitUntil(lambda: lab_window.live.listening, timeout=WAIT_MS)
    person.click_button("Save", dialog)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)
    assert visible_boxes() == []
    assert lab.instruments.get("TH-001").description == TYPED
    assert events(lab) == events_before + 1
    qtbot.waitUntil(
        lambda: lab_window.model.index(0, COL_DESCRIPTION).data() == TYPED, timeout=WAIT_MS
    )
