"""Journey: a technician logs a repair that needs a calibration before use (issue 15).

Ctrl+M on the selected thermometer opens "Log maintenance…"; the kind, what was done,
cost, currency, downtime and "calibrate before use" are typed and ticked with keys; a
cost with three decimals is refused at its field and corrected; after Save the
register shows the thermometer out of service and due today, and its Maintenance tab
shows the repair waiting for its calibration. Then the repair is voided with a reason
from that tab and the thermometer is back as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.dto import CalibrationInput
from app.settings.user_settings import UserSettings
from app.ui.dialogs.maintenance_dialog import MaintenanceDialog
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.main_window import MainWindow
from app.ui.maintenance_tab import CALIBRATION_COLUMN
from app.ui.models.instrument_table import COL_NEXT_DUE, COL_STATUS
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone, whole_headers

TAG = "TH-001"
Screenshot = Callable[[QWidget, str], None]


@pytest.fixture
def calibrated_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The window on one thermometer calibrated 30 days ago (in service, due next year)."""
    add_thermometer(app, TAG)
    app.calibrations.add(
        TAG,
        CalibrationInput(performed_on=app.clock.today() - timedelta(days=30), result="pass"),
    )
    win_iter = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(win_iter)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=10_000)
    yield win
    next(win_iter, None)


def test_a_repair_needing_calibration_takes_it_out_of_service_and_makes_it_due(
    qtbot: QtBot,
    person: Person,
    calibrated_window: MainWindow,
    app: CalTrack,
    screenshot: Screenshot,
) -> None:
    window = calibrated_window
    today = app.clock.today()
    assert window.model.index(0, COL_STATUS).data() == "OK"
    person.click_cell(window.table, 0, 0)
    qtbot.waitUntil(lambda: window.detail.history is not None, timeout=10_000)

    person.shortcut("Ctrl+M")
    dialog = person.wait_for(MaintenanceDialog)
    # The kind list has the focus as it opens: typing a kind's first letters picks it.
    qtbot.waitUntil(lambda: person.focused() is dialog.kind, timeout=5_000)
    person.write("Rep")
    assert dialog.kind.currentText() == "Repair"
    person.press(Qt.Key.Key_Tab)  # the date: today, kept
    assert person.focused() is dialog.date
    for _section in ("year", "month", "day"):  # Tab walks the date's parts, then on
        person.press(Qt.Key.Key_Tab)
    assert person.focused() is dialog.what
    person.write("Replaced the probe cable")
    person.press(Qt.Key.Key_Tab)
    person.write("180.505")
    person.press(Qt.Key.Key_Tab)
    person.write("eur")
    person.press(Qt.Key.Key_Tab)
    person.write("2d")
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is dialog.calibrate
    person.press(Qt.Key.Key_Space)
    assert dialog.calibrate.isChecked()
    person.click_button("Save")
    # The service's objection shows at the cost, and everything typed is kept.
    cost_row = dialog.form.rows["cost"]
    qtbot.waitUntil(lambda: cost_row.error.isVisible(), timeout=10_000)
    assert "2 decimals" in cost_row.error.text()
    assert dialog.what.toPlainText() == "Replaced the probe cable"
    assert person.focused() is dialog.cost
    person.clear_and_type("180.50")
    assert not cost_row.error.isVisible()
    screenshot(dialog, "maintenance-dialog")
    person.click_button("Save")
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    # The register: out of service, due today.
    qtbot.waitUntil(
        lambda: window.model.index(0, COL_STATUS).data() == "Out of service", timeout=10_000
    )
    assert window.model.index(0, COL_NEXT_DUE).data() == str(today)
    detail = window.detail
    qtbot.waitUntil(
        lambda: detail.history is not None and len(detail.history.maintenance) == 1,
        timeout=10_000,
    )
    bar = detail.tabs.tabBar()
    person.click(bar, bar.tabRect(detail.log_tab).center())
    inner = detail.log_tabs.tabBar()
    person.click(inner, inner.tabRect(detail.maintenance_tab).center())
    table = detail.maintenance.table
    assert table.rowCount() == 1
    cells = [table.item(0, c).text() for c in range(table.columnCount())]  # type: ignore[union-attr]
    assert cells == [
        str(today),
        "Repair",
        "needed before use",
        "Replaced the probe cable",
        "180.50 EUR",
    ]
    assert "Out of service" in detail.status.text() and f"next due {today}" in detail.status.text()
    # At 1280x800 every column title reads whole, and nothing scrolls sideways.
    assert (window.width(), window.height()) == (1280, 800)
    qtbot.waitUntil(lambda: table.horizontalHeader().length() <= table.viewport().width())
    assert whole_headers(table) == [], "column titles cut off"
    assert not table.horizontalScrollBar().isVisible(), "the log scrolls sideways"
    screenshot(window, "maintenance-log")
    # What is stored is what was shown.
    [stored] = app.upkeep.history(TAG)
    assert (stored.kind, stored.cost, stored.currency, stored.downtime_hours) == (
        "repair",
        "180.50",
        "EUR",
        48.0,
    )
    assert stored.awaiting_calibration

    # Void it from the tab, with a reason: the thermometer is back as it was.
    person.click_cell(table, 0, 0)
    # Who logged it and the downtime: under the table, for the event selected.
    notes = detail.maintenance.notes.text()
    assert "UTC by alice: Replaced the probe cable" in notes and "Downtime: 48 h" in notes
    person.click_button("Void event", within=window)
    reason = person.wait_for(ReasonDialog)
    person.write("logged on the wrong thermometer")
    person.click_button("OK")
    qtbot.waitUntil(lambda: gone(reason), timeout=10_000)
    qtbot.waitUntil(lambda: window.model.index(0, COL_STATUS).data() == "OK", timeout=10_000)

    def shows_void() -> bool:
        item = table.item(0, CALIBRATION_COLUMN)
        return table.rowCount() == 1 and item is not None and item.text().startswith("VOID")

    qtbot.waitUntil(shows_void, timeout=10_000)
    assert app.upkeep.history(TAG)[0].void_reason == "logged on the wrong thermometer"
    assert app.maintenance.verify().clean
