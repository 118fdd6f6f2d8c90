"""Journeys: the window at a laptop's size, search counts, preferences and theme, help.

What a person notices first: which columns of the register they can read without
scrolling, whether the New instrument form shows all its fields, how many instruments
their search found, where the preferences and the help are, and whether the dark theme
is readable.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings, load_settings
from app.ui.app import Launcher
from app.ui.dialogs.help_dialogs import ShortcutsDialog, UserGuide
from app.ui.dialogs.instrument_dialog import ROWS_WHEN_NEEDED, InstrumentDialog
from app.ui.dialogs.oot_dialogs import OotWindow
from app.ui.dialogs.settings_dialog import SettingsDialog
from app.ui.look import apply_theme
from app.ui.main_window import MainWindow
from app.ui.models.instrument_table import COL_STATUS, COLUMNS, LOADING
from tests.journeys.person import Person, gone
from tests.ui.conftest import Shown
from tests.ui.test_qa_dialogs import build_lab
from tests.unit.test_theme_contrast import contrast

LAPTOP = (1280, 800)


@pytest.fixture
def restore_look(qapp: QApplication) -> Iterator[None]:
    """A journey that switches the theme puts the application's look back afterwards."""
    palette, sheet, style = qapp.palette(), qapp.styleSheet(), qapp.style().name()
    yield
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)


@pytest.fixture
def light_look(restore_look: None, qapp: QApplication) -> None:
    """The light theme, as the application applies it before its window opens."""
    apply_theme(qapp, "light")


def visible_columns(window: MainWindow) -> list[str]:
    header = window.table.horizontalHeader()
    shown = [c for c in range(len(COLUMNS)) if not header.isSectionHidden(c)]
    shown.sort(key=header.visualIndex)
    return [COLUMNS[c][0] for c in shown]


def test_register_at_laptop_size_shows_the_important_columns_whole(
    light_look: None,
    qtbot: QtBot,
    demo_window: MainWindow,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    assert (demo_window.width(), demo_window.height()) == LAPTOP
    columns = visible_columns(demo_window)
    # Issue 15: who has it and when its next check is due, beside when its calibration is.
    assert columns == [
        "asset_tag",
        "description",
        "status",
        "next_due",
        "next_check",
        "location",
        "holder",
    ]
    header = demo_window.table.horizontalHeader()
    viewport = demo_window.table.viewport().width()
    keys = [key for key, _label, _sort in COLUMNS]
    for key in columns:
        col = keys.index(key)
        right = header.sectionViewportPosition(col) + header.sectionSize(col)
        assert right <= viewport, f"column {key} is cut off at {viewport} px"
    assert not demo_window.table.horizontalScrollBar().isVisible()
    qtbot.waitUntil(lambda: demo_window.history is not None, timeout=10_000)
    assert demo_window.minimumSizeHint().width() <= LAPTOP[0]
    screenshot(demo_window, "main-window")


def test_search_says_how_many_it_found(
    qtbot: QtBot, person: Person, demo_window: MainWindow, demo_app: CalTrack
) -> None:
    expected = len(demo_app.instruments.list_ids(search="fluke"))
    assert 0 < expected < 60
    person.shortcut("Ctrl+F")
    assert person.focused() is demo_window.search
    person.write("fluke")
    qtbot.waitUntil(lambda: demo_window.model.rowCount() == expected, timeout=10_000)
    qtbot.waitUntil(lambda: demo_window.found.text() == f"{expected} found", timeout=10_000)
    assert demo_window.found.isVisible()
    person.clear_and_type("no such instrument anywhere")
    qtbot.waitUntil(lambda: demo_window.found.text() == "0 found", timeout=10_000)


def test_new_instrument_form_shows_every_field_at_laptop_size(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack
) -> None:
    seen: dict[str, object] = {}
    size: list[int] = []

    person.shortcut("Ctrl+N")
    dialog = person.wait_for(InstrumentDialog)
    qtbot.waitUntil(lambda: dialog.layout() is not None and dialog.height() > 0)
    size[:] = [dialog.width(), dialog.height()]
    seen["scrolling"] = [w for w in dialog.findChildren(QAbstractScrollArea) if w.isVisible()] and [
        w
        for w in dialog.findChildren(QAbstractScrollArea)
        if w.isVisible()
        and (w.verticalScrollBar().isVisible() or w.horizontalScrollBar().isVisible())
    ]
    hidden = []
    for name, row in dialog.form.rows.items():
        editor = row.editor
        top_left = editor.mapTo(dialog, editor.rect().topLeft())
        inside = dialog.rect().contains(top_left) and dialog.rect().contains(
            editor.mapTo(dialog, editor.rect().bottomRight())
        )
        if name in ROWS_WHEN_NEEDED:
            continue  # hidden until asked for (test_requirement_journey shows them)
        if not editor.isVisible() or not inside:
            hidden.append(name)
    seen["hidden"] = hidden
    # The person fills the first two fields and saves with Enter.
    person.write("TH-0001")
    person.press(Qt.Key.Key_Tab)
    person.write("Reference thermometer")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    width, height = size
    assert width <= LAPTOP[0] and height <= LAPTOP[1] - 60, size  # title bar, panel
    assert not seen["scrolling"], "no scroll area or scroll bar in the form"
    assert seen["hidden"] == []
    assert app.instruments.get("TH-0001").description == "Reference thermometer"


def test_a_new_instrument_is_not_yet_calibrated_not_overdue(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack
) -> None:
    person.shortcut("Ctrl+N")
    dialog = person.wait_for(InstrumentDialog)
    person.write("PG-0007")
    person.press(Qt.Key.Key_Tab)
    person.write("Pressure gauge")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10_000)
    status = window.model.index(0, COL_STATUS)
    qtbot.waitUntil(lambda: status.data() != LOADING, timeout=10_000)
    assert status.data() == "Not yet calibrated"
    colour = status.data(Qt.ItemDataRole.ForegroundRole)
    assert isinstance(colour, QColor)
    assert colour.red() <= colour.green() + 40, f"{colour.name()} is not an alarm red"
    qtbot.waitUntil(
        lambda: window.filter_buttons["not-calibrated"].text() == "Not yet calibrated (1)",
        timeout=10_000,
    )
    assert window.filter_buttons["overdue"].text() == "Overdue (0)"
    person.click(window.filter_buttons["not-calibrated"])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10_000)
    person.click(window.filter_buttons["overdue"])
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=10_000)


def test_preferences_switch_to_dark_restyles_the_window_and_is_stored(
    qtbot: QtBot,
    person: Person,
    demo_db: str,
    tmp_path: Path,
    shown: Shown,
    restore_look: None,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    apply_theme(qapp, "light")
    settings_path = tmp_path / "settings.json"
    launcher = Launcher(
        qapp,
        settings=UserSettings(reminders=False, theme="light"),
        settings_path=settings_path,
        state_dir=tmp_path / "me",
    )
    launcher.open(str(demo_db))
    qtbot.waitUntil(lambda: launcher.window is not None, timeout=15_000)
    window = launcher.window
    assert window is not None
    qtbot.addWidget(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 60, timeout=10_000)
    link = window.status.refresh
    assert window.palette().color(QPalette.ColorRole.Window).lightness() > 128

    person.shortcut("Ctrl+,")
    dialog = person.wait_for(SettingsDialog)
    theme = dialog.theme
    person.click(theme)
    popup = theme.view()
    qtbot.waitUntil(popup.isVisible, timeout=5000)
    person.write("Dark")  # the open list jumps to what the person types
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: theme.currentData() == "dark", timeout=5000)
    person.click_button("OK", within=dialog)
    qtbot.waitUntil(
        lambda: window.palette().color(QPalette.ColorRole.Window).lightness() < 128,
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: load_settings(settings_path).theme == "dark", timeout=10_000)
    # The status bar's Refresh link is drawn in a colour readable on the dark bar.
    ground = window.status.palette().color(QPalette.ColorRole.Window).name()
    drawn = _link_colour(link)
    assert contrast(drawn, ground) >= 4.5, f"link {drawn} on {ground}"
    assert window.minimumSizeHint().width() <= LAPTOP[0], "the dark theme fits a laptop too"
    screenshot(window, "dark-theme")
    window.close()
    launcher.shutdown()
    assert not [b for b in shown.boxes if b[0] != "CalTrack"], shown.boxes


def _link_colour(label: QLabel) -> str:
    """The most common colour in the label that is not its background: the link text."""
    image = label.grab().toImage()
    ground = image.pixelColor(0, 0).name()
    counts: dict[str, int] = {}
    for x in range(image.width()):
        for y in range(image.height()):
            name = image.pixelColor(x, y).name()
            if name != ground:
                counts[name] = counts.get(name, 0) + 1
    assert counts, "the label draws nothing"
    return max(counts, key=lambda name: counts[name])


def test_help_lists_keyboard_shortcuts_and_opens_the_guide(
    qtbot: QtBot, person: Person, window: MainWindow
) -> None:
    person.menu(window, "Help", "Keyboard shortcuts")
    shortcuts = person.wait_for(ShortcutsDialog)
    listed = shortcuts.shown()
    assert ("Ctrl+N", "New instrument") in listed
    assert ("Ctrl+,", "Preferences") in listed
    assert ("Ctrl+K", "New calibration") in listed
    person.click_button("Close", within=shortcuts)
    qtbot.waitUntil(lambda: not shortcuts.isVisible(), timeout=5000)

    person.menu(window, "Help", "User guide")
    guide = person.wait_for(UserGuide)
    assert "Record a calibration" in guide.text.toPlainText()
    person.click_button("Close", within=guide)


def test_preferences_is_in_the_file_menu(qtbot: QtBot, person: Person, window: MainWindow) -> None:
    person.menu(window, "File", "Preferences…")
    dialog = person.wait_for(SettingsDialog)
    assert dialog.findChild(QComboBox) is not None
    # The lab's metrology policy, shown to alice (an admin) to change: the defaults.
    qtbot.waitUntil(dialog.policy_box.isEnabled, timeout=10_000)
    assert dialog.rule.currentText().startswith("Simple acceptance (shared risk), w = 0")
    assert dialog.minimum_tur.text() == "4" and not dialog.indeterminate.isChecked()
    person.click_button("Cancel", within=dialog)
    assert not [m for m in QApplication.topLevelWidgets() if isinstance(m, QMessageBox)]
    assert isinstance(window.search, QLineEdit)


def test_oot_cases_window_has_room_for_its_cases(
    qtbot: QtBot,
    person: Person,
    window: MainWindow,
    app: CalTrack,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    build_lab(app)  # one open case: REF-1 found out of tolerance
    person.menu(window, "QA", "Out-of-tolerance cases…")
    cases = person.wait_for(OotWindow)
    qtbot.waitUntil(lambda: cases.loaded and cases.model.rowCount() == 1, timeout=10_000)
    assert cases.height() <= LAPTOP[1] - 60 and cases.width() <= LAPTOP[0]
    table = cases.table
    rows_fit = table.viewport().height() // max(1, table.verticalHeader().defaultSectionSize())
    assert rows_fit >= 8, f"only {rows_fit} case rows fit"
    chips = list(cases.filter_buttons.values())
    # Once the counts are in and laid out, every chip shows its whole text.
    qtbot.waitUntil(
        lambda: all(chip.width() >= chip.sizeHint().width() for chip in chips), timeout=5000
    )
    screenshot(cases, "oot-window")
    cases.close()
