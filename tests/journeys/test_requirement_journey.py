"""Journey: a technician marks an instrument "calibration not required", with a reason.

By clicks and keys only: select the instrument, Ctrl+E, choose Calibration: Not required
with the keyboard, save without a reason (told where to give one), give it and the
reason for the switch, save. The register and the detail pane say so; the database
holds it, audited with the reason typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.dto import CalibrationInput, InstrumentInput
from app.settings.user_settings import UserSettings
from app.ui.dialogs.instrument_dialog import InstrumentDialog
from app.ui.main_window import MainWindow
from app.ui.models.instrument_table import COL_STATUS
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone

WAIT_MS = 10_000


@pytest.fixture
def th_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    add_thermometer(app, "TH-001", location="Lab 1")
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-01-10", result="pass"))
    windows = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(windows)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=WAIT_MS)
    yield win
    next(windows, None)


def pane_text(window: MainWindow) -> str:
    return " ".join(label.text() for label in window.detail.findChildren(QLabel))


def test_mark_not_required_with_a_reason(
    qtbot: QtBot,
    person: Person,
    th_window: MainWindow,
    app: CalTrack,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    person.click_cell(th_window.table, 0, 0)
    person.shortcut("Ctrl+E")
    dialog = person.wait_for(InstrumentDialog)
    assert not dialog.form.rows["requirement_reason"].isVisible()
    person.press(Qt.Key.Key_B, Qt.KeyboardModifier.AltModifier)  # Cali&bration:
    assert person.focused() is dialog.requirement
    person.press(Qt.Key.Key_Down)
    person.press(Qt.Key.Key_Down)
    assert dialog.requirement.currentText() == "Not required"
    # Asked for now: why not periodic, and why the switch; the interval is unused.
    assert dialog.form.rows["requirement_reason"].isVisible()
    assert dialog.form.rows["reason"].isVisible()
    assert not dialog.interval.isEnabled()
    # With them, the form still fits a laptop screen (1280×800 less title and panel).
    layout = dialog.layout()
    assert layout is not None
    qtbot.waitUntil(lambda: dialog.height() >= layout.totalSizeHint().height())
    assert dialog.height() <= 800 - 60 and dialog.width() <= 1280
    person.press(Qt.Key.Key_Return)
    row = dialog.form.rows["requirement_reason"]
    qtbot.waitUntil(lambda: row.error.isVisible(), timeout=WAIT_MS)
    assert "reason calibration is not required" in row.error.text()
    assert app.instruments.get("TH-001").calibration_requirement == "periodic"
    person.press(Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)  # Why not &periodic:
    assert person.focused() is dialog.requirement_reason
    person.write("kept for parts")
    person.press(Qt.Key.Key_H, Qt.KeyboardModifier.AltModifier)  # Reason for the switc&h:
    assert person.focused() is dialog.change_reason
    person.write("display broken, not repaired")
    screenshot(dialog, "instrument-not-required")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)

    qtbot.waitUntil(
        lambda: th_window.model.index(0, COL_STATUS).data() == "Cal. not required",
        timeout=WAIT_MS,
    )
    qtbot.waitUntil(
        lambda: "calibration not required (kept for parts)" in pane_text(th_window),
        timeout=WAIT_MS,
    )
    assert "kept for parts" in th_window.detail.status.text()
    stored = app.instruments.get("TH-001")
    assert (stored.calibration_requirement, stored.requirement_reason, stored.next_due) == (
        "not_required",
        "kept for parts",
        None,
    )
    event = app.audit.for_entity("instrument", stored.id)[-1]
    assert event.reason == "display broken, not repaired"
    assert event.changes["calibration_requirement"] == ["periodic", "not_required"]
    assert "calibration_interval_days" not in event.changes


def test_every_filter_chip_fits_a_laptop_screen_and_filters(
    qtbot: QtBot, person: Person, app: CalTrack
) -> None:
    """With data to review and instruments of both other kinds, the chips wrap onto a
    second line instead of pushing the window past a 1280-pixel screen (they did)."""
    add_thermometer(app, "TH-001")
    app.instruments.add(
        InstrumentInput(
            asset_tag="SP-1",
            description="Spare thermometer",
            calibration_requirement="not_required",
            requirement_reason="kept for parts",
        )
    )
    app.instruments.add(
        InstrumentInput(
            asset_tag="VB-1",
            description="Gauge block set",
            calibration_requirement="verify_before_use",
        )
    )
    app.instruments.flag_for_review("TH-001", "certificate number missing")
    windows = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(windows)
    win.resize(1280, 800)
    qtbot.waitUntil(lambda: win.model.rowCount() == 3, timeout=WAIT_MS)
    chips = win.filter_buttons
    for key in ("verify-before-use", "not-required", "to-review"):
        qtbot.waitUntil(chips[key].isVisible, timeout=WAIT_MS)
    assert chips["not-required"].text() == "Not required (1)"
    assert win.minimumSizeHint().width() <= 1280
    qtbot.waitUntil(lambda: win.width() == 1280, timeout=WAIT_MS)
    for chip in chips.values():
        right = chip.mapTo(win, QPoint(chip.width(), 0)).x()
        assert right <= win.width(), f"the {chip.text()} chip is cut off at {right} px"

    person.click(chips["not-required"])
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=WAIT_MS)
    assert win.model.index(0, 0).data() == "SP-1"
    person.click(chips["verify-before-use"])
    qtbot.waitUntil(lambda: win.model.index(0, 0).data() == "VB-1", timeout=WAIT_MS)
    assert win.model.rowCount() == 1
    next(windows, None)
