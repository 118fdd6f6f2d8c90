"""Journey: QA opens an out-of-tolerance case, assesses it, and closes it with a signature.

A reference thermometer served as the standard for two instruments and was then found
out of tolerance (its as-found reading failed), which opened a case and took it out of
service. The QA person sets a signing password through the QA menu, opens the cases
window, types an assessment, picks a disposition, saves, and closes the case with the
signature, returning the reference to service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.dialogs.oot_dialogs import CloseCaseDialog, OotWindow
from app.ui.dialogs.password_dialog import SigningPasswordDialog
from app.ui.main_window import MainWindow
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone
from tests.unit.qa_helpers import PASSWORD, calibrate, reading


def build_failed_reference(app: CalTrack) -> None:
    """REF-1 was the standard of TH-001 and TH-002, then found 0.9 °C off (±0.5)."""
    add_thermometer(app, "REF-1", description="Reference PRT")
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    calibrate(app, "REF-1", "2026-01-10", points=(reading(0, 0.2),))
    calibrate(app, "TH-001", "2026-03-01", standards=("REF-1",))
    calibrate(app, "TH-002", "2026-06-15", standards=("REF-1",))
    calibrate(app, "REF-1", "2026-11-20", "adjusted", points=(reading(0, 0.9, left=0.1),))
    app.accounts.set_display_name("Alice A. Admin")


@pytest.fixture
def lab_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The main window on the lab above; alice (admin) has no signing password yet."""
    build_failed_reference(app)
    yield from open_window(qtbot, app, UserSettings(reminders=False))


def set_password_through_menu(person: Person, qtbot: QtBot, window: MainWindow) -> None:
    person.menu(window, "QA", "My signing password…")
    dialog = person.wait_for(SigningPasswordDialog)
    assert dialog.windowTitle() == "Set my signing password"
    person.write(PASSWORD)  # the new password field has the focus
    person.press(Qt.Key.Key_Tab)
    person.write(PASSWORD)
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: "Signing password set" in window.status.currentMessage())
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)


def test_assess_and_close_a_case_after_setting_the_signing_password(
    qtbot: QtBot,
    person: Person,
    lab_window: MainWindow,
    app: CalTrack,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    window = lab_window
    case = app.oot.list()[0]
    assert app.instruments.get("REF-1").lifecycle == "out_of_service"
    qtbot.waitUntil(lambda: window.qa.oot_label.text() != "", timeout=10_000)
    assert "1 open OOT case" in window.qa.oot_label.text()

    set_password_through_menu(person, qtbot, window)
    assert app.accounts.me().has_signing_password

    person.shortcut("Ctrl+Shift+O")
    cases = person.wait_for(OotWindow)
    qtbot.waitUntil(lambda: cases.loaded and cases.case is not None, timeout=10_000)
    # Alt+D below is a mnemonic of the window in front: under load the cases window came
    # to the front after the keys, which then went to the main window's "&Details".
    qtbot.waitUntil(cases.isActiveWindow, timeout=10_000)
    person.click_cell(cases.table, 0, 1)
    assert cases.case is not None and cases.case.id == case.id
    assert "REF-1" in cases.case_title.text()
    assert cases.affected.rowCount() == 2
    assert not cases.close_button.isEnabled(), "not assessed yet"

    person.click(cases.assessment)
    person.write("Offset 0.9 °C is within the ±1 °C TH-001/002 need.")
    person.press(Qt.Key.Key_D, Qt.KeyboardModifier.AltModifier)  # &Disposition
    assert person.focused() is cases.disposition
    person.write("N")  # "No impact on earlier results"
    assert cases.disposition.currentData() == "no_impact"
    assert cases.unsaved.text() == "Unsaved changes"
    screenshot(cases, "oot-case")

    person.click(cases.save_button)
    qtbot.waitUntil(lambda: app.oot.get(case.id).version == 2, timeout=10_000)
    qtbot.waitUntil(lambda: cases.close_button.isEnabled(), timeout=10_000)
    assert cases.unsaved.text() == ""
    stored = app.oot.get(case.id)
    assert stored.disposition == "no_impact"
    assert stored.impact_assessment.startswith("Offset 0.9 °C")

    person.click(cases.close_button)
    dialog = person.wait_for(CloseCaseDialog)
    assert dialog.return_to_service.isEnabled(), "the latest calibration left it good"
    assert person.focused() is dialog.signing.password
    # A wrong password first: refused next to the field, which is ready for a retry.
    person.write("not my password")
    person.press(Qt.Key.Key_Return)
    error = dialog.signing.password_row
    qtbot.waitUntil(lambda: dialog.signing.text() == "", timeout=10_000)
    assert dialog.isVisible() and app.oot.get(case.id).status == "open"
    assert person.focused() is dialog.signing.password
    assert error.error.isVisible() and "wrong" in error.error.text().lower()
    person.write(PASSWORD)
    box = dialog.return_to_service
    person.click(box, QPoint(8, box.height() // 2))  # on the box itself
    assert dialog.return_to_service.isChecked()
    person.click(dialog.comment)
    person.write("no recall needed")
    person.click(dialog.ok)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: app.oot.get(case.id).status == "closed", timeout=10_000)
    closed = app.oot.get(case.id)
    assert closed.returned_to_service
    assert app.instruments.get("REF-1").lifecycle == "in_service"
    qtbot.waitUntil(
        lambda: cases.case is not None and cases.case.status == "closed", timeout=10_000
    )
    assert "Closed by Alice A. Admin (alice)" in cases.signatures.text()
    assert "no recall needed" in cases.signatures.text()
    assert cases.assessment.isReadOnly()
    assert not cases.close_button.isEnabled()
    assert cases.filter_buttons["closed"].text() == "Closed (1)"
    # The register hears of it: no open case left in the status bar.
    qtbot.waitUntil(lambda: not window.qa.oot_label.isVisible(), timeout=10_000)


def test_the_status_bar_link_opens_the_cases(
    qtbot: QtBot, person: Person, lab_window: MainWindow
) -> None:
    window = lab_window
    label = window.qa.oot_label
    qtbot.waitUntil(label.isVisible, timeout=10_000)
    person.click(label, label.rect().center())
    cases = person.wait_for(OotWindow)
    qtbot.waitUntil(lambda: cases.case is not None, timeout=10_000)
    assert cases.model.rowCount() == 1


def test_the_cases_window_follows_a_failure_recorded_in_the_register(
    qtbot: QtBot, person: Person, lab_window: MainWindow, app: CalTrack
) -> None:
    """The cases window stays open while a technician records a failing calibration in
    the main window: the new case appears there without pressing Refresh. Ctrl+K pressed
    at once after clicking the row records for that row (the detail may still load)."""
    window = lab_window
    person.shortcut("Ctrl+Shift+O")
    cases = person.wait_for(OotWindow)
    qtbot.waitUntil(lambda: cases.loaded and cases.model.rowCount() == 1, timeout=10_000)
    assert cases.filter_buttons["open"].text() == "Open (1)"

    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10_000)
    rows = [r for r in range(3) if window.model.index(r, 0).data() == "TH-002"]
    person.click_cell(window.table, rows[0], 0)
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)  # the click brought it forward

    person.shortcut("Ctrl+K")
    dialog = person.wait_for(CalibrationDialog)
    assert "TH-002" in dialog.windowTitle()
    person.click_cell(dialog.points, 0, 0)
    for text in ("0", "0.9", "", "0.5"):  # 0.9 off against ± 0.5, not adjusted
        person.write(text)
        person.press(Qt.Key.Key_Tab)
    person.write("°C")
    qtbot.waitUntil(dialog.oot_notice.isVisible, timeout=5_000)
    person.shortcut("Alt+R")
    assert person.focused() is dialog.result_box
    while dialog.result_box.currentData() != "fail":
        person.press(Qt.Key.Key_Down)
    person.click_button("Save")
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: len(app.oot.list()) == 2, timeout=10_000)
    notice = person.wait_for(QMessageBox, where=lambda b: b.objectName() == "ootNotice")
    person.click_button("Later", within=notice)

    # No click on Refresh: the write announced itself and the open window followed.
    qtbot.waitUntil(lambda: cases.model.rowCount() == 2, timeout=10_000)
    assert cases.filter_buttons["open"].text() == "Open (2)"
    tags = {case.asset_tag for r in range(2) if (case := cases.model.case_at(r)) is not None}
    assert tags == {"REF-1", "TH-002"}
