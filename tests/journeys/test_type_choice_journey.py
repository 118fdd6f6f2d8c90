"""Journey (issue 14, "choosing a type"): a new instrument gets its type on the form, by
keyboard, with the type's required custom field; its first calibration starts from the
type's test plan.

The type: a 180-day default interval, three points, a required text field "Probe serial"
and an optional choice "Probe kind". Nobody types an interval, so the instrument takes
the type's 180 days (InstrumentService.add_in, ``interval_from_type``); the form shows
it before saving.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.dto import TypeFieldInput, TypeInput, TypePointInput
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.dialogs.instrument_dialog import CUSTOM_ROW, InstrumentDialog
from app.ui.main_window import MainWindow
from tests.journeys.person import Person, gone

pytestmark = pytest.mark.sqlite_only(
    "the form and the grid do the same on either backend; the type and instrument services "
    "they call are tested on both (tests/unit/test_instrument_types.py)"
)
TYPE = "Digital thermometer, 0-150 °C"
Screenshot = Callable[[QWidget, str], None]


def _label_of(dialog: InstrumentDialog, name: str) -> str:
    editor = dialog.form.rows[name].editor
    labels = [w for w in dialog.findChildren(QLabel) if w.buddy() is editor]
    return labels[0].text() if labels else ""


def test_a_type_chosen_on_the_form_prefills_the_first_calibration(
    qtbot: QtBot,
    person: Person,
    window: MainWindow,
    app: CalTrack,
    screenshot: Screenshot,
) -> None:
    app.types.add(
        TypeInput(
            name=TYPE,
            default_interval_days=180,
            resolution="0.01",
            points=(
                TypePointInput(0, "±0.3", "°C"),
                TypePointInput(100, "±(0.1 % + 2 digits)", "°C"),
            ),
            fields=(
                TypeFieldInput("Probe serial", "text", True),
                TypeFieldInput("Probe kind", "choice", False, ("Pt100", "Type K")),
            ),
        )
    )
    person.menu(window, "Instrument", "New instrument…")
    dialog = person.wait_for(InstrumentDialog)
    assert dialog.type_box.currentText() == "(no type)"
    assert not [n for n in dialog.form.rows if n.startswith(CUSTOM_ROW)]
    person.write("TH-0050")
    person.press(Qt.Key.Key_Tab)
    person.write("Digital thermometer")

    # Alt+Y goes to the type; Down picks the first (and only) type.
    person.shortcut("Alt+Y")
    assert person.focused() is dialog.type_box
    person.press(Qt.Key.Key_Down)
    assert dialog.type_box.currentText() == TYPE
    # Its custom fields show under it, the required one saying so in words.
    assert _label_of(dialog, CUSTOM_ROW + "Probe serial") == "Probe serial (required):"
    assert _label_of(dialog, CUSTOM_ROW + "Probe kind") == "Probe kind:"
    assert dialog.interval.value() == 180, "the type's default interval, shown before saving"

    # Saving without the required field: the service's message, at the field.
    person.press(Qt.Key.Key_Return)
    serial_row = dialog.form.rows[CUSTOM_ROW + "Probe serial"]
    qtbot.waitUntil(serial_row.error.isVisible, timeout=10_000)
    assert "required by type" in serial_row.error.text()
    assert not gone(dialog)

    # Tab from the type goes to its first custom field.
    person.shortcut("Alt+Y")
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is serial_row.editor
    assert isinstance(serial_row.editor, QLineEdit)
    person.write("PS-778")
    assert not serial_row.error.isVisible(), "typing what was asked for clears the message"
    # Once the form has laid itself out again without the message.
    qtbot.waitUntil(lambda: serial_row.height() <= serial_row.editor.height() + 2)
    screenshot(dialog, "instrument-type")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    saved = app.instruments.get("TH-0050")
    assert (saved.type_name, saved.custom_fields) == (TYPE, {"Probe serial": "PS-778"})
    assert saved.calibration_interval_days == 180

    # The detail pane shows the type and the value.
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10_000)
    person.click_cell(window.table, 0, 0)
    qtbot.waitUntil(lambda: window.detail.history is not None, timeout=10_000)
    tabs = window.detail.tabs
    person.click(tabs.tabBar(), tabs.tabBar().tabRect(tabs.indexOf(window.detail.fields)).center())

    def shown() -> set[str]:
        return {w.text() for w in window.detail.fields.findChildren(QLabel) if w.isVisible()}

    # (The pane may still be loading the saved instrument: wait for it.)
    qtbot.waitUntil(lambda: {"Type:", TYPE, "Probe serial:", "PS-778"} <= shown(), timeout=10_000)

    # Record a calibration: the grid starts from the type's points.
    person.menu(window, "Instrument", "New calibration…")
    calibration = person.wait_for(CalibrationDialog)
    grid = calibration.points

    def cell(row: int, col: int) -> str:
        item = grid.item(row, col)
        return item.text() if item is not None else ""

    assert [[cell(r, c) for c in range(5)] for r in range(grid.rowCount())] == [
        ["0", "", "", "±0.3", "°C"],
        ["100", "", "", "±(0.1 % + 2 digits)", "°C"],
    ]
    person.press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(calibration), timeout=10_000)
