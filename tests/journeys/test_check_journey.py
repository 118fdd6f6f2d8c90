"""Journey: a technician records a failing intermediate check through the dialog.

TH-001 has a monthly check schedule (due within the lab's window, so the register's
"Check due" chip shows it). The person selects it, presses Ctrl+Shift+K, types the
check standard and the readings (one typed wrong first: the error shows at its field
and nothing is stored), saves, and sees the instrument out of service, the failed check
in the Checks tab, and the check schedule moved on. The failing check opened an
out-of-tolerance case (issue 15): the notice offers it, the Checks tab names it, and
the cases window (Ctrl+Shift+O) lists it as found by the check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.schedules import ScheduleInput
from app.settings.user_settings import UserSettings
from app.ui.dialogs.check_dialog import CheckDialog
from app.ui.dialogs.oot_dialogs import OotWindow
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.dialogs.schedule_dialog import ScheduleDialog
from app.ui.main_window import MainWindow
from app.ui.models.oot_table import COL_FOUND
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import WAIT_MS, Person, gone


@pytest.fixture
def lab_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    add_thermometer(app, "REF-1", description="Reference PRT")
    add_thermometer(app, "TH-001")
    app.schedules.set("TH-001", ScheduleInput("check", every="1m"))
    yield from open_window(qtbot, app, UserSettings(reminders=False))


def _rows_of(window: MainWindow, tag: str) -> list[int]:
    return [r for r in range(window.model.rowCount()) if window.model.index(r, 0).data() == tag]


def _select(person: Person, window: MainWindow, tag: str) -> None:
    person.qtbot.waitUntil(lambda: bool(_rows_of(window, tag)), timeout=WAIT_MS)
    rows = _rows_of(window, tag)
    person.click_cell(window.table, rows[0], 0)
    person.qtbot.waitUntil(
        lambda: window.history is not None and window.history.instrument.asset_tag == tag,
        timeout=WAIT_MS,
    )


def test_a_failing_check_takes_the_instrument_out_of_service(
    qtbot: QtBot,
    person: Person,
    lab_window: MainWindow,
    app: CalTrack,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    window = lab_window
    chip = window.filter_buttons["check-due"]
    qtbot.waitUntil(chip.isVisible, timeout=WAIT_MS)
    assert chip.text() == "Check due (1)"
    person.click(chip)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=WAIT_MS)
    _select(person, window, "TH-001")

    person.shortcut("Ctrl+Shift+K")
    dialog = person.wait_for(CheckDialog)
    assert dialog.windowTitle() == "Record check — TH-001"
    assert person.focused() is dialog.standard
    person.write("REF-1")
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is dialog.readings
    person.write("20:20.2:0.5 100:abc:0.5")
    person.click(dialog.save_button)
    row = dialog.form.rows["value"]
    qtbot.waitUntil(row.error.isVisible, timeout=WAIT_MS)
    assert "'abc'" in row.error.text()
    assert dialog.isVisible() and app.checks.list("TH-001") == []

    person.click(dialog.readings)
    person.clear_and_type("20:20.2:0.5 100:101:0.5")
    person.click(dialog.notes)
    person.write("reads high at 100")
    screenshot(dialog, "record-check")
    person.click(dialog.save_button)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)
    # As after a failing calibration: the case it opened is offered, for later here.
    notice = person.wait_for(QMessageBox, where=lambda b: b.objectName() == "ootNotice")
    assert "Intermediate check #1 on 2026-11-23 found TH-001" in notice.text()
    person.click_button("Later", within=notice)

    qtbot.waitUntil(lambda: "is now out of service" in window.status.currentMessage())
    assert "Check of TH-001 recorded: fail" in window.status.currentMessage()
    (check,) = app.checks.list("TH-001")
    assert (check.result, check.standard, check.notes) == ("fail", "REF-1", "reads high at 100")
    assert app.instruments.get("TH-001").lifecycle == "out_of_service"
    schedules = {s.kind: s for s in app.schedules.list("TH-001")}
    assert schedules["check"].next_due == date(2026, 12, 23)  # done Nov 23, one month on

    # What the person sees: the register's chip is gone (out of service is not "due"),
    # and the detail pane says out of service with the failed check in the Checks tab.
    qtbot.waitUntil(lambda: not chip.isVisible() or chip.text() == "Check due (0)")
    person.click(window.filter_buttons[None])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=WAIT_MS)
    _select(person, window, "TH-001")
    qtbot.waitUntil(lambda: "Out of service" in window.detail.status.text(), timeout=WAIT_MS)
    tabs = window.detail.tabs
    titles = [tabs.tabText(i).replace("&", "") for i in range(tabs.count())]
    bar = tabs.tabBar()
    person.click(bar, bar.tabRect(titles.index("Log")).center())
    inner = window.detail.log_tabs.tabBar()
    person.click(inner, inner.tabRect(window.detail.checks_tab).center())
    table = window.detail.checks
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=WAIT_MS)
    cells = [table.item(0, c).text() for c in range(table.columnCount())]  # type: ignore[union-attr]
    assert cells[:4] == ["2026-11-23", "fail", "alice", "REF-1"]
    assert cells[4] == "20:20.2:0.5 100:101:0.5"
    (case,) = app.oot.list(status="open")
    assert (case.check_id, case.asset_tag, case.found_on) == (
        check.id,
        "TH-001",
        date(2026, 11, 23),
    )
    assert cells[6] == f"OOT-{case.id}"
    schedule_rows = window.detail.schedules
    assert schedule_rows.item(1, 0).text() == "Check"  # type: ignore[union-attr]
    assert schedule_rows.item(1, 3).text() == "2026-12-23"  # type: ignore[union-attr]
    screenshot(window, "check-failed")

    # The cases window lists the case as found by the check, with what it says.
    _select(person, window, "TH-001")  # the click brings the main window forward
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    person.shortcut("Ctrl+Shift+O")
    cases = person.wait_for(OotWindow)
    qtbot.waitUntil(lambda: cases.loaded and cases.model.rowCount() == 1, timeout=WAIT_MS)
    qtbot.waitUntil(cases.isActiveWindow, timeout=WAIT_MS)
    person.click_cell(cases.table, 0, 1)
    qtbot.waitUntil(lambda: cases.case is not None, timeout=WAIT_MS)
    assert cases.case is not None and cases.case.id == case.id
    found = cases.model.index(0, COL_FOUND)
    assert found.data() == "2026-11-23 (check)"
    assert found.data(Qt.ItemDataRole.ToolTipRole) == "Found by intermediate check #1 on 2026-11-23"
    assert "intermediate check #1 on 2026-11-23" in cases.facts.text()
    assert "out of limits at 1 of 2 readings" in cases.facts.text()

    # Entered by mistake: voided from the Checks tab with a reason. As for a failed
    # calibration, the case stays open for QA and TH-001 stays out of service.
    _select(person, window, "TH-001")
    qtbot.waitUntil(window.isActiveWindow, timeout=WAIT_MS)
    person.click(bar, bar.tabRect(titles.index("Log")).center())
    person.click(inner, inner.tabRect(window.detail.checks_tab).center())
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=WAIT_MS)
    person.click_cell(table, 0, 0)
    qtbot.waitUntil(window.detail.check_void.isEnabled, timeout=WAIT_MS)
    person.click(window.detail.check_void)
    reason = person.wait_for(ReasonDialog)
    person.write("checked the wrong thermometer")
    person.click_button("OK")
    qtbot.waitUntil(lambda: gone(reason), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "stays open for QA" in window.status.currentMessage())
    assert f"its case OOT-{case.id}" in window.status.currentMessage()

    def shows_void() -> bool:
        item = table.item(0, 1)
        return table.rowCount() == 1 and item is not None and item.text().startswith("VOID")

    qtbot.waitUntil(shows_void, timeout=WAIT_MS)
    assert app.checks.list("TH-001")[0].void_reason == "checked the wrong thermometer"
    assert app.oot.get(case.id).status == "open"
    assert app.instruments.get("TH-001").lifecycle == "out_of_service"
    # The open cases window followed the write: the case says its check is void.
    qtbot.waitUntil(lambda: "(voided since)" in cases.facts.text(), timeout=WAIT_MS)


def test_a_maintenance_schedule_set_and_cleared_through_the_dialog(
    qtbot: QtBot, person: Person, lab_window: MainWindow, app: CalTrack
) -> None:
    window = lab_window
    _select(person, window, "REF-1")
    person.menu(window, "Instrument", "Schedules…")
    dialog = person.wait_for(ScheduleDialog)
    assert person.focused() is dialog.every
    person.press(Qt.Key.Key_K, Qt.KeyboardModifier.AltModifier)  # &Kind
    person.write("M")  # Maintenance
    assert dialog.chosen_kind() == "maintenance"
    person.click(dialog.every)
    person.write("6 weeks")
    person.click(dialog.save_button)
    row = dialog.form.rows["every"]
    qtbot.waitUntil(row.error.isVisible, timeout=WAIT_MS)
    assert "not an interval" in row.error.text()
    person.click(dialog.every)
    person.clear_and_type("6m")
    person.click(dialog.save_button)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Maintenance schedule set" in window.status.currentMessage())
    kinds = {s.kind: s for s in app.schedules.list("REF-1")}
    assert kinds["maintenance"].interval == "6m"
    assert kinds["maintenance"].next_due == date(2027, 5, 23)

    person.menu(window, "Instrument", "Schedules…")
    dialog = person.wait_for(ScheduleDialog)
    person.press(Qt.Key.Key_K, Qt.KeyboardModifier.AltModifier)
    person.write("M")
    assert dialog.every.text() == "6m"  # what is set now
    person.click(dialog.clear_button)
    # Clearing asks why (required, as for a void); OK waits for a reason.
    reason = person.wait_for(ReasonDialog)
    assert reason.windowTitle() == "Clear schedule" and not reason.ok.isEnabled()
    assert person.focused() is reason.text
    person.write("pump sold")
    person.click(reason.ok)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)
    assert [s.kind for s in app.schedules.list("REF-1")] == ["calibration"]
    cleared = next(e for e in app.audit.recent(limit=10) if e.action == "clear")
    assert cleared.reason == "pump sold"
