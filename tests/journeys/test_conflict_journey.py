"""Journey: a technician edits an instrument that someone else changes meanwhile.

The person opens Edit instrument, types a new description, and before saving another
user (the service, in the test) saves the same instrument. Saving shows the conflict
dialog with both sides; the person chooses, and nothing is silently overwritten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.dto import InstrumentChanges
from app.settings.user_settings import UserSettings
from app.ui.dialogs.conflict_dialog import ConflictDialog
from app.ui.dialogs.instrument_dialog import InstrumentDialog
from app.ui.main_window import MainWindow
from app.ui.models.instrument_table import COL_DESCRIPTION
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone


@pytest.fixture
def th_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The main window on a register of one instrument, TH-001, selected."""
    add_thermometer(app, "TH-001", location="Lab 1")
    windows = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(windows)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=10_000)
    yield win
    next(windows, None)


def theirs_row(dialog: ConflictDialog, field: str) -> tuple[str, str]:
    table = dialog.table
    for row in range(table.rowCount()):
        name = table.item(row, 0)
        if name is not None and name.text() == field:
            yours, theirs = table.item(row, 1), table.item(row, 2)
            assert yours is not None and theirs is not None
            return yours.text(), theirs.text()
    raise AssertionError(f"{field} not in the conflict table")


def open_editor(person: Person, window: MainWindow) -> None:
    person.click_cell(window.table, 0, 0)
    person.shortcut("Ctrl+E")


def type_description(person: Person, dialog: InstrumentDialog, text: str) -> None:
    person.press(Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)  # &Description:
    assert person.focused() is dialog.edits["description"]
    person.clear_and_type(text)


def test_reapply_mine_keeps_their_other_change(
    qtbot: QtBot,
    person: Person,
    th_window: MainWindow,
    app: CalTrack,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    seen: dict[str, tuple[str, ...]] = {}

    def choose(conflict: ConflictDialog) -> None:
        seen["fields"] = tuple(
            conflict.table.item(row, 0).text()  # type: ignore[union-attr]
            for row in range(conflict.table.rowCount())
        )
        seen["description"] = theirs_row(conflict, "Description")
        seen["location"] = theirs_row(conflict, "Location")
        screenshot(conflict, "conflict")
        person.click(conflict.reapply)

    def edit(dialog: InstrumentDialog) -> None:
        type_description(person, dialog, "Thermometer of lab 2")
        # Another user moves it to another lab meanwhile.
        app.instruments.edit("TH-001", InstrumentChanges(location="Lab 2"))
        with person.answers(ConflictDialog, choose):
            person.press(Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    with person.answers(InstrumentDialog, edit):
        open_editor(person, th_window)

    # Only what differs: the field the person changed and the one they changed.
    assert seen["fields"] == ("Description", "Location")
    assert seen["description"] == ("Thermometer of lab 2", "Digital thermometer")
    assert seen["location"] == ("Lab 1 (not changed by you)", "Lab 2")
    stored = app.instruments.get("TH-001")
    assert (stored.description, stored.location) == ("Thermometer of lab 2", "Lab 2")
    qtbot.waitUntil(lambda: "Saved TH-001" in th_window.status.currentMessage(), timeout=10_000)


def test_cancel_keeps_my_entries_then_keep_theirs_drops_them(
    qtbot: QtBot, person: Person, th_window: MainWindow, app: CalTrack
) -> None:
    def cancel(conflict: ConflictDialog) -> None:
        person.click_button("Cancel", conflict)

    def keep_theirs(conflict: ConflictDialog) -> None:
        assert theirs_row(conflict, "Description") == ("Mine", "Theirs")
        assert conflict.table.rowCount() == 1
        person.click(conflict.keep)

    def edit(dialog: InstrumentDialog) -> None:
        type_description(person, dialog, "Mine")
        app.instruments.edit("TH-001", InstrumentChanges(description="Theirs"))
        with person.answers(ConflictDialog, cancel):
            person.press(Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: dialog.banner.isVisible(), timeout=10_000)
        assert "Your entries are kept" in dialog.banner.text()
        assert dialog.edits["description"].text() == "Mine"
        assert app.instruments.get("TH-001").description == "Theirs"
        with person.answers(ConflictDialog, keep_theirs):
            person.click_button("Save", dialog)
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    with person.answers(InstrumentDialog, edit):
        open_editor(person, th_window)

    assert app.instruments.get("TH-001").description == "Theirs"
    qtbot.waitUntil(
        lambda: th_window.model.index(0, COL_DESCRIPTION).data() == "Theirs", timeout=10_000
    )
