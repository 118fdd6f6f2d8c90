"""Journeys: a technician records a calibration, QA reads, signs, corrects, supersedes
and voids records, all through clicks and keys in the window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QMessageBox, QTableWidgetItem, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.dto import CalibrationInput, CalibrationView, PointInput
from app.settings.user_settings import UserSettings
from app.ui.dialogs.calibration_dialog import (
    LAST_ENTRY_COLUMN,
    VERDICT_FOUND,
    VERDICT_LEFT,
    CalibrationDialog,
)
from app.ui.dialogs.password_dialog import SigningPasswordDialog
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.dialogs.record_edit_dialog import RecordEditDialog
from app.ui.dialogs.sign_dialog import SignDialog
from app.ui.main_window import MainWindow
from app.ui.readings_table import ReadingsTable
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone, whole_headers

TAG = "TH-001"
SIGNING_PASSWORD = "Calibrate-2026!"
Screenshot = Callable[[QWidget, str], None]


def _one_record(app: CalTrack) -> None:
    app.calibrations.add(
        TAG,
        CalibrationInput(
            performed_on=app.clock.today() - timedelta(days=3),
            result="pass",
            performed_by="alice",
            certificate_number="C-100",
            points=(
                PointInput(0.0, 0.01, None, 0.05, "°C"),
                PointInput(100.0, 100.02, None, 0.05, "°C"),
            ),
        ),
    )


@pytest.fixture
def th_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The window on a database holding one thermometer, not yet calibrated."""
    add_thermometer(app, TAG)
    yield from _shown(qtbot, app)


@pytest.fixture
def record_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The window on a thermometer with one unsigned calibration of two points."""
    add_thermometer(app, TAG)
    _one_record(app)
    yield from _shown(qtbot, app)


def _shown(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    win_iter = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(win_iter)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=10_000)
    yield win
    next(win_iter, None)


def _select_instrument(person: Person, qtbot: QtBot, window: MainWindow) -> None:
    person.click_cell(window.table, 0, 0)
    qtbot.waitUntil(lambda: window.detail.history is not None, timeout=10_000)


def _open_history(person: Person, qtbot: QtBot, window: MainWindow, row: int = 0) -> None:
    """Select the instrument, show the Calibrations tab and click a record in it."""
    _select_instrument(person, qtbot, window)
    detail = window.detail
    bar = detail.tabs.tabBar()
    person.click(bar, bar.tabRect(detail.cal_tab).center())
    qtbot.waitUntil(lambda: detail.calibrations.rowCount() > row, timeout=10_000)
    person.click_cell(detail.calibrations, row, 0)
    qtbot.waitUntil(lambda: detail.selected_calibration() is not None, timeout=10_000)


def _cells(table: ReadingsTable | QWidget, columns: range) -> list[list[str]]:
    assert isinstance(table, ReadingsTable)
    return [
        [table.item(r, c).text() for c in columns]  # type: ignore[union-attr]
        for r in range(table.rowCount())
    ]


def _verdicts(dialog: CalibrationDialog, row: int) -> tuple[str, str]:
    found = dialog.points.item(row, VERDICT_FOUND)
    left = dialog.points.item(row, VERDICT_LEFT)
    assert found is not None and left is not None
    return found.text(), left.text()


def test_record_three_points_by_keyboard_and_add_point(
    qtbot: QtBot,
    person: Person,
    th_window: MainWindow,
    app: CalTrack,
    screenshot: Screenshot,
) -> None:
    window = th_window
    _select_instrument(person, qtbot, window)
    seen: dict[str, object] = {}

    person.shortcut("Ctrl+K")
    dialog = person.wait_for(CalibrationDialog)
    grid = dialog.points
    # Point 1, typed entirely by keyboard (no U or k); Tab from its last cell adds point 2.
    person.click_cell(grid, 0, 0)
    for text in ("0", "0.01", "0.02", "0.05", "°C", "", ""):
        person.write(text)
        person.press(Qt.Key.Key_Tab)
    assert grid.rowCount() == 2, "Tab from the last cell adds a row"
    assert (grid.currentRow(), grid.currentColumn()) == (1, 0)
    assert _verdicts(dialog, 0) == ("Pass", "Pass")
    # Point 2: out of tolerance as found (100.08 against 100 ± 0.05), adjusted.
    for text in ("100", "100.08", "100.01", "0.05"):
        person.write(text)
        person.press(Qt.Key.Key_Tab)
    person.write("°C")
    qtbot.waitUntil(lambda: _verdicts(dialog, 1)[0] == "FAIL", timeout=5_000)
    assert _verdicts(dialog, 1) == ("FAIL", "Pass")
    assert dialog.oot_notice.isVisible(), "the OOT warning shows before saving"
    assert "out-of-tolerance case" in dialog.oot_notice.text()
    # Point 3 with the Add point button: a row appears, the cursor in its first cell.
    person.click_button("Add point")
    assert grid.rowCount() == 3
    assert person.focused() is grid or grid.isAncestorOf(person.focused())
    assert (grid.currentRow(), grid.currentColumn()) == (2, 0)
    for text in ("200", "200.03", "", "0.05"):
        person.write(text)
        person.press(Qt.Key.Key_Tab)
    person.write("°C")
    person.press(Qt.Key.Key_Return)
    # Return commits the cell once the event loop turns, as between two key presses.
    qtbot.waitUntil(lambda: grid.state() == QAbstractItemView.State.NoState, timeout=5_000)
    assert _verdicts(dialog, 2) == ("Pass", "")
    # The verdicts are computed, never typed: a person cannot edit them.
    for row in range(3):
        for col in (VERDICT_FOUND, VERDICT_LEFT):
            item = grid.item(row, col)
            assert item is not None
            assert not item.flags() & Qt.ItemFlag.ItemIsEditable
    # Result: Adjusted (Alt+R goes to it, Down picks the next choice).
    person.shortcut("Alt+R")
    assert person.focused() is dialog.result_box
    person.press(Qt.Key.Key_Down)
    assert dialog.result_box.currentData() == "adjusted"
    assert dialog.oot_notice.isVisible()
    seen["notice"] = dialog.oot_notice.text()
    screenshot(dialog, "calibration-entry")
    person.click_button("Save")
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    stored = app.calibrations.history(TAG)
    assert len(stored) == 1
    record_view = stored[0]
    assert record_view.result == "adjusted"
    assert [
        (p.nominal, p.as_found, p.as_left, p.tolerance, p.unit) for p in record_view.points
    ] == [
        (0.0, 0.01, 0.02, 0.05, "°C"),
        (100.0, 100.08, 100.01, 0.05, "°C"),
        (200.0, 200.03, None, 0.05, "°C"),
    ]
    assert record_view.oot_case_id is not None

    # The case notice comes up (non-modal); the person answers Later.
    notice = person.wait_for(QMessageBox, where=lambda b: b.objectName() == "ootNotice")
    person.click_button("Later", within=notice)
    qtbot.waitUntil(lambda: not notice.isVisible(), timeout=5_000)

    # The detail pane shows the new record's readings, point by point.
    detail = window.detail
    qtbot.waitUntil(lambda: detail.calibrations.rowCount() == 1, timeout=10_000)
    _open_history(person, qtbot, window)
    qtbot.waitUntil(lambda: detail.readings.isVisible(), timeout=10_000)
    assert _cells(detail.readings, range(8)) == [
        ["1", "0", "0.05", "°C", "0.01", "Pass", "0.02", "Pass"],
        ["2", "100", "0.05", "°C", "100.08", "FAIL", "100.01", "Pass"],
        ["3", "200", "0.05", "°C", "200.03", "Pass", "—", "—"],
    ]
    assert detail.readings.horizontalScrollBar().maximum() == 0, "no sideways scrolling"
    assert whole_headers(detail.readings) == [], "column titles cut off"
    assert f"#{record_view.id}" in detail.readings_label.text()
    screenshot(window, "qa-history")


def test_add_point_button_gives_a_live_row(
    qtbot: QtBot, person: Person, th_window: MainWindow, app: CalTrack
) -> None:
    """Finding 3: Add point used to raise and leave the grid without live verdicts."""
    _select_instrument(person, qtbot, th_window)

    person.shortcut("Ctrl+K")
    dialog = person.wait_for(CalibrationDialog)
    grid = dialog.points
    person.click_button("Add point")
    assert grid.rowCount() == 2
    assert (grid.currentRow(), grid.currentColumn()) == (1, 0)
    # Shift+Tab goes back to the k of the row above, Tab forward again.
    person.press(Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert (grid.currentRow(), grid.currentColumn()) == (0, LAST_ENTRY_COLUMN)
    person.press(Qt.Key.Key_Tab)
    assert (grid.currentRow(), grid.currentColumn()) == (1, 0)
    for text in ("100", "100.08", "", "0.05"):
        person.write(text)
        person.press(Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: _verdicts(dialog, 1)[0] == "FAIL", timeout=5_000)
    assert dialog.oot_notice.isVisible()
    found = grid.item(1, VERDICT_FOUND)
    assert found is not None and not found.flags() & Qt.ItemFlag.ItemIsEditable
    # Tab through the unit, U and k adds row 3; Tab through that empty row leaves the grid.
    for _cell in range(3):
        person.press(Qt.Key.Key_Tab)
    assert (grid.rowCount(), grid.currentRow(), grid.currentColumn()) == (3, 2, 0)
    for _cell in range(LAST_ENTRY_COLUMN + 1):
        person.press(Qt.Key.Key_Tab)
    assert grid.rowCount() == 3
    assert person.focused() is person.button("Add point")
    # Saving as Pass is refused next to Result, naming the row the grid shows failing.
    person.click_button("Save")
    error = dialog.form.rows["result"].error
    qtbot.waitUntil(error.isVisible, timeout=10_000)
    assert "point 2" in error.text()
    assert "out of tolerance" in error.text()
    person.click_button("Cancel")
    assert app.calibrations.history(TAG) == []


def _readings_of(view: CalibrationView) -> list[list[str]]:
    def text(value: float | None) -> str:
        if value is None:
            return "—"
        return repr(value)[:-2] if repr(value).endswith(".0") else repr(value)

    return [[text(p.nominal), text(p.as_found)] for p in view.points]


def test_void_a_calibration_with_a_reason(
    qtbot: QtBot, person: Person, record_window: MainWindow, app: CalTrack
) -> None:
    window = record_window
    _open_history(person, qtbot, window)

    person.click_button("Void", within=window.detail)
    dialog = person.wait_for(ReasonDialog)
    assert not dialog.ok.isEnabled(), "no void without a reason"
    person.write("Wrong instrument: the readings belong to TH-002")
    person.click_button("OK")

    qtbot.waitUntil(lambda: app.calibrations.history(TAG)[0].voided, timeout=10_000)
    assert app.calibrations.history(TAG)[0].void_reason == (
        "Wrong instrument: the readings belong to TH-002"
    )
    detail = window.detail
    qtbot.waitUntil(
        lambda: (
            (item := detail.calibrations.item(0, 1)) is not None and item.text().startswith("VOID")
        ),
        timeout=10_000,
    )
    person.click_cell(detail.calibrations, 0, 0)
    assert not detail.sign_button.isEnabled()


def test_sign_with_a_wrong_then_the_right_password(
    qtbot: QtBot,
    person: Person,
    record_window: MainWindow,
    app: CalTrack,
    screenshot: Screenshot,
) -> None:
    window = record_window

    # Alice sets her signing password through QA → My signing password….
    def set_password(dialog: SigningPasswordDialog) -> None:
        person.write(SIGNING_PASSWORD)
        person.press(Qt.Key.Key_Tab)
        person.write(SIGNING_PASSWORD)
        person.click_button("Set password")
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    with person.answers(SigningPasswordDialog, set_password):
        person.menu(window, "QA", "My signing password…")
    assert app.accounts.me().has_signing_password

    _open_history(person, qtbot, window)
    outcome: dict[str, str] = {}

    def sign(dialog: SignDialog) -> None:
        # The readings being signed are in the dialog, point by point.
        assert dialog.readings.isVisible()
        rows = _cells(dialog.readings, range(1, 5))
        assert rows == [["0", "0.05", "°C", "0.01"], ["100", "0.05", "°C", "100.02"]]
        assert dialog.readings.horizontalScrollBar().maximum() == 0
        screenshot(dialog, "sign-dialog")
        assert person.focused() is dialog.signing.password
        person.write("not-my-password")
        person.click_button("Sign")
        qtbot.waitUntil(lambda: dialog.signing.password_row.error.isVisible(), timeout=10_000)
        outcome["refused"] = dialog.signing.password_row.error.text()
        assert dialog.isVisible(), "a wrong password keeps the dialog open"
        assert not app.calibrations.history(TAG)[0].signed
        person.write(SIGNING_PASSWORD)
        person.click_button("Sign")
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    with person.answers(SignDialog, sign):
        person.click_button("Sign", within=window.detail)

    assert "wrong" in outcome["refused"].lower()
    record = app.calibrations.history(TAG)[0]
    assert record.signed
    assert [s.meaning for s in record.signatures] == ["reviewed"]
    detail = window.detail
    qtbot.waitUntil(lambda: "signed" in _text(detail.calibrations.item(0, 2)), timeout=10_000)


def _text(item: QTableWidgetItem | None) -> str:
    return item.text() if item is not None else ""


def test_correct_then_supersede_a_record(
    qtbot: QtBot, person: Person, record_window: MainWindow, app: CalTrack
) -> None:
    window = record_window
    _open_history(person, qtbot, window)

    # Correct: the certificate number was mistyped.
    person.click_button("Correct", within=window.detail)
    dialog = person.wait_for(RecordEditDialog)
    assert person.focused() is dialog.edits["certificate_number"]
    person.clear_and_type("C-1000")
    person.click(dialog.reason)
    person.write("Certificate number mistyped")
    person.click_button("Save")
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(
        lambda: app.calibrations.history(TAG)[0].certificate_number == "C-1000", timeout=10_000
    )

    # Supersede: the second reading was 100.03, not 100.02.
    detail = window.detail
    qtbot.waitUntil(lambda: detail.selected_calibration() is not None, timeout=10_000)
    qtbot.waitUntil(
        lambda: (
            (c := detail.selected_calibration()) is not None and c.certificate_number == "C-1000"
        ),
        timeout=10_000,
    )

    person.click_button("Supersede", within=window.detail)
    superseding = person.wait_for(CalibrationDialog)
    assert person.focused() is superseding.supersede_reason
    person.write("As-found reading of point 2 misread")
    grid = superseding.points
    assert grid.rowCount() == 2
    person.click_cell(grid, 1, 1)
    person.write("100.03")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: grid.item(1, 1) is not None and grid.item(1, 1).text() == "100.03")  # type: ignore[union-attr]
    assert _verdicts(superseding, 1)[0] == "Pass"
    person.click_button("Save")
    qtbot.waitUntil(lambda: gone(superseding), timeout=10_000)

    qtbot.waitUntil(lambda: len(app.calibrations.history(TAG)) == 2, timeout=10_000)
    records = {c.id: c for c in app.calibrations.history(TAG)}
    old = next(c for c in records.values() if c.superseded_by_id is not None)
    new = records[old.superseded_by_id or 0]
    assert old.voided
    assert new.supersedes_id == old.id
    assert _readings_of(new) == [["0", "0.01"], ["100", "100.03"]]
    assert new.certificate_number == "C-1000"


def _set_password_by_keys(person: Person, qtbot: QtBot, window: MainWindow) -> None:
    """QA → My signing password…, typed twice, Enter."""

    def set_password(dialog: SigningPasswordDialog) -> None:
        person.write(SIGNING_PASSWORD)
        person.press(Qt.Key.Key_Tab)
        person.write(SIGNING_PASSWORD)
        person.press(Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    with person.answers(SigningPasswordDialog, set_password):
        person.menu(window, "QA", "My signing password…")


def test_enter_after_the_password_signs(
    qtbot: QtBot, person: Person, record_window: MainWindow, app: CalTrack
) -> None:
    """Type the signing password, press Enter: the record is signed, not the dialog
    thrown away (Qt used to make Cancel the default button at show time)."""
    window = record_window
    _set_password_by_keys(person, qtbot, window)
    assert app.accounts.me().has_signing_password
    _open_history(person, qtbot, window)

    def sign(dialog: SignDialog) -> None:
        assert person.focused() is dialog.signing.password
        person.write(SIGNING_PASSWORD)
        assert dialog.ok.isDefault(), "Enter would not sign"
        person.press(Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    with person.answers(SignDialog, sign):
        person.click_button("Sign", within=window.detail)
    qtbot.waitUntil(lambda: app.calibrations.history(TAG)[0].signed, timeout=10_000)


def test_esc_in_the_sign_dialog_cancels(
    qtbot: QtBot, person: Person, record_window: MainWindow, app: CalTrack
) -> None:
    window = record_window
    _set_password_by_keys(person, qtbot, window)
    _open_history(person, qtbot, window)

    person.click_button("Sign", within=window.detail)
    dialog = person.wait_for(SignDialog)
    person.write("half a password")
    person.press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    assert not app.calibrations.history(TAG)[0].signed
