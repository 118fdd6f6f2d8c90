"""Journeys: scanning a label to check an instrument out and back in, and a refusal.

By clicks and keys only. A barcode or QR scanner is a keyboard: it types the tag and
Enter into the focused widget, which is what these journeys press (Ctrl+B first, to
put the focus in the Scan box). The register's "With" column, the detail pane's
custody tab and the database show who has the instrument; an overdue instrument is
refused at check-out with the reason in the dialog, and QA lets it out with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui.dialogs.custody_dialog import CustodyDialog
from app.ui.main_window import MainWindow
from app.ui.models.instrument_table import COLUMNS
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone
from tests.unit.qa_helpers import calibrate

WAIT_MS = 10_000
COL_WITH = [key for key, _label, _sort in COLUMNS].index("holder")


@pytest.fixture
def lab_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    add_thermometer(app, "TH-001", location="Lab 1")
    calibrate(app, "TH-001", "2026-11-01")  # in date
    add_thermometer(app, "PG-002", description="Pressure gauge", location="Lab 2")
    calibrate(app, "PG-002", "2025-01-02")  # due 2026-01-02: overdue today (2026-11-23)
    windows = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(windows)
    qtbot.waitUntil(lambda: win.model.rowCount() == 2, timeout=WAIT_MS)
    yield win
    next(windows, None)


def scan(person: Person, window: MainWindow, text: str) -> None:
    """Ctrl+B, then what a scanner sends: the characters of the label, then Enter."""
    person.shortcut("Ctrl+B")
    assert person.focused() is window.scan
    person.write(text)
    person.press(Qt.Key.Key_Return)


def cell(table: QTableWidget, row: int, column: int) -> str:
    item = table.item(row, column)
    return item.text() if item is not None else ""


def with_column(window: MainWindow, tag: str) -> str:
    for row in range(window.model.rowCount()):
        if window.model.index(row, 0).data() == tag:
            return str(window.model.index(row, COL_WITH).data())
    return ""


def test_scan_a_label_to_check_out_and_back_in(
    qtbot: QtBot,
    person: Person,
    lab_window: MainWindow,
    app: CalTrack,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    scan(person, lab_window, "TH-001")
    dialog = person.wait_for(CustodyDialog)
    assert dialog.windowTitle() == "Check out TH-001"
    assert not dialog.refusal.isVisible()
    qtbot.waitUntil(lambda: lab_window.selected_id == dialog.check.instrument_id, timeout=WAIT_MS)
    assert person.focused() is dialog.person
    person.write("Dana Whitfield")
    person.press(Qt.Key.Key_Tab)
    person.write("Line 2")
    person.press(Qt.Key.Key_Tab)
    person.write("2026-12-01")
    person.click_button("Check out", dialog)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)

    now = app.custody.check("TH-001").current
    assert now is not None and (now.holder, now.place) == ("Dana Whitfield", "Line 2")
    qtbot.waitUntil(lambda: with_column(lab_window, "TH-001") == "Dana Whitfield", timeout=WAIT_MS)
    assert with_column(lab_window, "PG-002") == ""
    # Ready for the next scan, and the detail pane's custody tab says who has it.
    assert person.focused() is lab_window.scan
    detail = lab_window.detail
    bar = detail.tabs.tabBar()
    person.click(bar, bar.tabRect(detail.log_tab).center())
    inner = detail.log_tabs.tabBar()
    person.click(inner, inner.tabRect(detail.custody_tab).center())
    qtbot.waitUntil(
        lambda: detail.custody.rowCount() == 1 and cell(detail.custody, 0, 0) == "Dana Whitfield",
        timeout=WAIT_MS,
    )
    assert cell(detail.custody, 0, 5) == "out"
    screenshot(lab_window, "custody")

    # The same label again (lower case, as some scanners send it): check it back in.
    scan(person, lab_window, "th-001")
    back = person.wait_for(CustodyDialog)
    assert back.windowTitle() == "Check in TH-001"
    person.click_button("Check in", back)
    qtbot.waitUntil(lambda: gone(back), timeout=WAIT_MS)
    assert app.custody.check("TH-001").current is None
    qtbot.waitUntil(lambda: with_column(lab_window, "TH-001") == "", timeout=WAIT_MS)
    assert [v.state for v in app.custody.history("TH-001")] == ["returned"]


def test_an_overdue_instrument_is_refused_with_the_reason(
    qtbot: QtBot,
    person: Person,
    lab_window: MainWindow,
    app: CalTrack,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    scan(person, lab_window, "PG-002")
    dialog = person.wait_for(CustodyDialog)
    assert dialog.refusal.isVisible()
    assert "PG-002 is overdue for calibration (due 2026-01-02)" in dialog.refusal.text()
    person.write("Eve")
    go = person.button("Check out", dialog)
    assert not go.isEnabled()  # refused: only a QA override reason lets it out
    screenshot(dialog, "custody-refused")
    assert app.custody.check("PG-002").current is None

    # Alice is an admin, so QA's override is offered: she gives the reason.
    person.press(Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)  # QA over&ride reason:
    assert person.focused() is dialog.reason
    person.write("one reading for the line, then straight to calibration")
    person.click(go)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)
    out = app.custody.check("PG-002").current
    assert out is not None and out.holder == "Eve"
    assert out.override_reason == "one reading for the line, then straight to calibration"
    qtbot.waitUntil(lambda: with_column(lab_window, "PG-002") == "Eve", timeout=WAIT_MS)
