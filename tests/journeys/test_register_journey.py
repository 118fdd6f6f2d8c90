"""Journey: a technician registers a new instrument with the keyboard and sees it listed."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.ui.dialogs.instrument_dialog import InstrumentDialog
from app.ui.main_window import MainWindow
from tests.journeys.person import Person, gone


def test_new_instrument_by_keyboard(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack
) -> None:
    person.shortcut("Ctrl+N")
    dialog = person.wait_for(InstrumentDialog)
    person.write("TH-0042")
    person.press(Qt.Key.Key_Tab)
    person.write("Digital thermometer")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10_000)
    assert app.instruments.get("TH-0042").description == "Digital thermometer"
    assert window.model.index(0, 0).data() is not None
