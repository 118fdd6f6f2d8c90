"""The import wizard on real databases and the messy files of tests/data/import: a clean
file end to end (rows imported, mapping remembered, audit events naming the file), a
messy one (errors with their lines, Import disabled until the bad lines are left out),
files that cannot be read, Stop, Back, drag and drop, and a read-only database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QComboBox, QWizard
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.services.editing import EditingOptions
from app.settings.import_mappings import EXTRA_KEY
from app.settings.user_settings import UserSettings
from app.ui.dialogs import import_wizard
from app.ui.dialogs.import_mapping_page import COL_SOURCE
from app.ui.dialogs.import_state import ImportState
from app.ui.dialogs.import_wizard import (
    PAGE_DONE,
    PAGE_FILE,
    PAGE_MAPPING,
    PAGE_PREVIEW,
    PAGE_READING,
    PAGE_VALUES,
    ImportWizard,
)
from app.ui.main_window import MainWindow
from app.ui.models.import_preview_table import COL_ACTION, COL_IMPORT, COL_NOTES, COL_TAG
from app.ui.models.import_values_table import CHOICES_ROLE, COL_ROWS, COL_TARGET
from app.ui.models.import_values_table import COL_SOURCE as VALUE_SOURCE
from app.ui.tasks import TaskRunner
from tests.conftest import add_thermometer
from tests.integration.helpers import fingerprint
from tests.ui.conftest import Shown

DATA = Path(__file__).parents[1] / "data" / "import"
WAIT_MS = 20_000


@pytest.fixture
def window(qtbot: QtBot, app: CalTrack, shown: Shown) -> Iterator[MainWindow]:
    runner = TaskRunner()
    win = MainWindow(app=app, runner=runner, settings=UserSettings(reminders=False))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.lock_view is not None, timeout=WAIT_MS)
    yield win
    win.close()
    runner.wait()


def button(wizard: QWizard, which: QWizard.WizardButton) -> object:
    found = wizard.button(which)
    assert found is not None
    return found


def click(wizard: QWizard, which: QWizard.WizardButton) -> None:
    found = wizard.button(which)
    assert found is not None and found.isVisible() and found.isEnabled(), which
    found.click()


def open_wizard(
    qtbot: QtBot,
    window: MainWindow,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str = "instruments",
) -> ImportWizard:
    """File → Import…, the file chosen in the file dialog."""
    monkeypatch.setattr(import_wizard, "choose_file", lambda parent, k: str(path))
    action = (
        window.transfer.act_import_instruments
        if kind == "instruments"
        else window.transfer.act_import_calibrations
    )
    assert action.isEnabled()
    action.trigger()
    wizard = window.transfer.wizard
    assert wizard is not None and wizard.isVisible()
    wizard.file_page.browse.click()
    assert wizard.file_page.path.text() == str(path)
    return wizard


def to_reading(qtbot: QtBot, wizard: ImportWizard) -> None:
    click(wizard, QWizard.WizardButton.NextButton)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_READING, timeout=WAIT_MS)


def to_preview(qtbot: QtBot, wizard: ImportWizard) -> None:
    """From the reading page over the mapping (and the values, when the file has a
    fixed-set column whose values all have a meaning) to the checked preview."""
    if wizard.currentId() == PAGE_READING:
        click(wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == PAGE_MAPPING
    click(wizard, QWizard.WizardButton.NextButton)
    qtbot.waitUntil(lambda: wizard.currentId() in (PAGE_VALUES, PAGE_PREVIEW), timeout=WAIT_MS)
    if wizard.currentId() == PAGE_VALUES:
        click(wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == PAGE_PREVIEW
    settle(qtbot, wizard)


def settle(qtbot: QtBot, wizard: ImportWizard) -> None:
    """Until the newest choices are checked (a recheck waits a moment after a tick)."""
    page = wizard.preview_page
    qtbot.waitUntil(
        lambda: not wizard.busy and not page._recheck.isActive() and wizard.state.check_fresh,
        timeout=WAIT_MS,
    )


def busy(wizard: ImportWizard) -> bool:
    return wizard.busy


def combo(wizard: ImportWizard, header: str) -> QComboBox:
    found = wizard.mapping_page.combo_for(header)
    assert found is not None
    return found


def source(wizard: ImportWizard, header: str) -> str:
    page = wizard.mapping_page
    for row in range(page.table.rowCount()):
        item = page.table.item(row, 0)
        if item is not None and item.text() == header:
            cell = page.table.item(row, COL_SOURCE)
            assert cell is not None
            return cell.text()
    raise AssertionError(header)


def rows(wizard: ImportWizard) -> list[tuple[str, str, str, str]]:
    """(line, action, tag, problems and notes) as the preview table shows them."""
    model = wizard.preview_page.model
    return [
        (
            str(model.index(r, 1).data()),
            str(model.index(r, COL_ACTION).data()),
            str(model.index(r, COL_TAG).data()),
            str(model.index(r, COL_NOTES).data()),
        )
        for r in range(model.rowCount())
    ]


def untick(wizard: ImportWizard, line: int) -> None:
    model = wizard.preview_page.model
    row = model.row_of(line)
    assert row is not None
    assert model.setData(
        model.index(row, COL_IMPORT), Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole
    )


def test_a_clean_file_end_to_end(
    qtbot: QtBot, window: MainWindow, app: CalTrack, shown: Shown, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = DATA / "register-semicolon-bom.csv"
    wizard = open_wizard(qtbot, window, path, monkeypatch)
    assert wizard.windowTitle() == "Import instruments"
    to_reading(qtbot, wizard)
    reading = wizard.reading_page
    assert reading.encoding.currentText() == "Detect — UTF-8 with BOM"
    assert reading.delimiter.currentText() == "Detect — semicolon"
    assert reading.header_note.text() == "found on line 1"
    assert reading.dates_note.text() == "day first (dd.mm.yyyy): line 2 has 14.03.2026"
    assert not reading.sheet.isVisible()  # a CSV file has no sheets
    click(wizard, QWizard.WizardButton.NextButton)

    # The mapping: guessed from the names, months understood; Notes left out by the user.
    assert combo(wizard, "Asset no.").currentData() == "asset_tag"
    assert combo(wizard, "Interval (months)").currentData() == "calibration_interval_months"
    assert source(wizard, "Mfr") == "guessed"
    notes = combo(wizard, "Notes")
    notes.setCurrentIndex(notes.findData(""))
    assert source(wizard, "Notes") == "yours"
    assert not wizard.mapping_page.problem.isVisible()

    click(wizard, QWizard.WizardButton.NextButton)
    settle(qtbot, wizard)
    page = wizard.preview_page
    assert page.counts.text() == "3 to add · 0 to update · 0 with errors"
    assert [(line, action, tag) for line, action, tag, _n in rows(wizard)] == [
        ("2", "add", "TH-101"),
        ("3", "add", "BAL-102"),
        ("4", "add", "PIP-103"),
    ]
    assert "the save was tried, then rolled back" in page.checked.text()
    assert app.instruments.status_counts()["all"] == 0, "a dry run writes nothing"

    # Back keeps what was chosen; Next checks again.
    click(wizard, QWizard.WizardButton.BackButton)
    assert wizard.currentId() == PAGE_MAPPING
    assert combo(wizard, "Notes").currentData() == ""
    click(wizard, QWizard.WizardButton.NextButton)
    settle(qtbot, wizard)

    commit = wizard.button(QWizard.WizardButton.CommitButton)
    assert commit is not None and commit.text() == "&Import" and commit.isEnabled()
    commit.click()
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=WAIT_MS)
    assert wizard.done_page.summary.text() == (
        "Imported 3 instruments from register-semicolon-bom.csv; every row is in the audit trail."
    )
    assert not shown.boxes
    # The register shows them, each audited with the file and its line.
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=WAIT_MS)
    detail = app.instruments.get("PIP-103")
    assert detail.notes == "", "the Notes column was left out"
    (created,) = app.audit.for_entity("instrument", detail.id)
    assert created.reason == "imported from register-semicolon-bom.csv line 4"
    # The confirmed mapping is remembered in the window's settings (saved with them).
    remembered = window.settings.extra[EXTRA_KEY]
    (entry,) = remembered.values()
    assert entry["kind"] == "instruments"
    assert entry["mapping"]["Notes"] == "" and entry["mapping"]["Asset no."] == "asset_tag"
    click(wizard, QWizard.WizardButton.FinishButton)
    assert not wizard.isVisible()

    # The same layout again: the mapping is offered as remembered.
    again = open_wizard(qtbot, window, path, monkeypatch)
    to_reading(qtbot, again)
    click(again, QWizard.WizardButton.NextButton)
    assert source(again, "Notes") == "remembered"
    assert combo(again, "Notes").currentData() == ""
    assert source(again, "Mfr") == "remembered"
    click(again, QWizard.WizardButton.NextButton)
    settle(qtbot, again)
    # Already registered now: refused in "add new only", which Import cannot pass.
    assert again.preview_page.counts.text() == "0 to add · 0 to update · 3 with errors"
    assert not again.preview_page.isComplete()
    again.reject()


def test_a_messy_file_shows_each_error_with_its_line_until_left_out(
    qtbot: QtBot, window: MainWindow, app: CalTrack, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = fingerprint(db_url)
    wizard = open_wizard(qtbot, window, DATA / "register-bad-values.csv", monkeypatch)
    to_reading(qtbot, wizard)
    click(wizard, QWizard.WizardButton.NextButton)
    click(wizard, QWizard.WizardButton.NextButton)
    # "on loan" has no meaning: the values page says so and holds Next until it has one.
    assert wizard.currentId() == PAGE_VALUES
    values = wizard.values_page
    assert values.count.isVisible()
    assert "1 value not mapped: choose what it means" in values.count.text()
    next_ = wizard.button(QWizard.WizardButton.NextButton)
    assert next_ is not None and not next_.isEnabled()
    values.leave_out.click()  # its rows (line 6) are left out
    qtbot.waitUntil(lambda: next_.isEnabled(), timeout=WAIT_MS)
    assert "Left out of the import: line 6" in values.left_out.text()
    click(wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == PAGE_PREVIEW
    settle(qtbot, wizard)
    page = wizard.preview_page
    assert page.counts.text() == "1 to add · 0 to update · 4 with errors · 1 left out"
    # Taken back in on the check page, the value is listed once, above the rows.
    model = page.model
    row6 = model.row_of(6)
    assert row6 is not None
    assert model.setData(
        model.index(row6, COL_IMPORT), Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole
    )
    settle(qtbot, wizard)
    assert page.counts.text() == "1 to add · 0 to update · 5 with errors"
    assert page.value_problems.isVisible()
    assert page.value_problems.text().startswith(
        "column 'Status': 'on loan' (1 row: line 6) is not a status CalTrack knows"
    )
    assert "every value is mapped" in page.why.text()
    assert rows(wizard) == [
        (
            "2",
            "ERROR",
            "PH-401",
            "Last calibrated: '2026-02-30' is not a valid date (day is out of range for month)",
        ),
        ("3", "ERROR", "PH-402", "Interval (days): must be a whole number (got 'ninety')"),
        ("4", "ERROR", "PH-403", "Description: at most 255 characters (got 300)"),
        (
            "5",
            "ERROR",
            "PH-404",
            "Last calibrated: 'next week' is not a date; write it as yyyy-mm-dd",
        ),
        (
            "6",
            "ERROR",
            "PH-405",
            "Status: 'on loan' is not a status CalTrack knows (in_service, out_of_service, "
            "retired, lost) and no value mapping says which it is",
        ),
        ("7", "add", "PH-406", ""),
    ]
    commit = wizard.button(QWizard.WizardButton.CommitButton)
    assert commit is not None and not commit.isEnabled()
    assert page.why.isVisible()
    # Only the failing rows, on request.
    page.only_problems.setChecked(True)
    assert [r[0] for r in rows(wizard)] == ["2", "3", "4", "5", "6"]
    page.only_problems.setChecked(False)

    # Leaving out the bad lines one by one: still refused while one is left.
    for line in (2, 3, 4, 5):
        untick(wizard, line)
    assert not commit.isEnabled(), "not while the check is pending"
    settle(qtbot, wizard)
    assert page.counts.text() == "1 to add · 0 to update · 1 with errors · 4 left out"
    assert not commit.isEnabled()
    untick(wizard, 6)
    settle(qtbot, wizard)
    assert page.counts.text() == "1 to add · 0 to update · 0 with errors · 5 left out"
    assert rows(wizard)[0][:3] == ("2", "left out", "PH-401"), "left-out rows keep their place"
    assert fingerprint(db_url) == before, "checking wrote nothing"
    assert commit.isEnabled()
    commit.click()
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=WAIT_MS)
    assert "Left out: lines 2, 3, 4, 5, 6." in wizard.done_page.details.text()
    assert app.instruments.status_counts()["all"] == 1
    ph = app.instruments.get("PH-406")
    assert ph.notes == 'Buffer 4.01 "old"\nreplaced in March'
    assert app.audit.for_entity("instrument", ph.id)[0].reason == (
        "imported from register-bad-values.csv line 7"
    )


def test_leave_out_every_error_and_update_existing(
    qtbot: QtBot, window: MainWindow, app: CalTrack, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_thermometer(app)  # TH-001, which line 3 repeats
    wizard = open_wizard(qtbot, window, DATA / "register-duplicates.csv", monkeypatch)
    to_reading(qtbot, wizard)
    to_preview(qtbot, wizard)
    problems = dict((r[0], r[3]) for r in rows(wizard) if r[1] == "ERROR")
    assert set(problems) == {"3", "4"}
    assert problems["3"].startswith("Asset tag: TH-001 is already in the database")
    # Back to the mapping page: update the registered ones instead of refusing them.
    click(wizard, QWizard.WizardButton.BackButton)
    wizard.mapping_page.add_or_update.setChecked(True)
    click(wizard, QWizard.WizardButton.NextButton)
    settle(qtbot, wizard)
    assert [r[:2] for r in rows(wizard)] == [
        ("4", "ERROR"),
        ("2", "add"),
        ("3", "update"),
        ("5", "add"),
    ]
    wizard.preview_page.leave_out.click()
    settle(qtbot, wizard)
    assert (
        wizard.preview_page.counts.text() == "2 to add · 1 to update · 0 with errors · 1 left out"
    )
    click(wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=WAIT_MS)
    assert wizard.done_page.summary.text().startswith("Imported 3 instruments from register-dup")
    assert app.instruments.get("TH-001").calibration_interval_days == 180


def test_files_that_cannot_be_read_are_explained_and_the_choices_stay(
    qtbot: QtBot, window: MainWindow, shown: Shown, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = DATA / "not-a-table.csv"
    wizard = open_wizard(qtbot, window, path, monkeypatch)
    click(wizard, QWizard.WizardButton.NextButton)
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=WAIT_MS)
    title, text, _detail = shown.boxes[-1]
    assert title == "CalTrack"
    assert text.startswith("not-a-table.csv is not a table: it is a PNG image")
    assert wizard.isVisible() and wizard.currentId() == PAGE_FILE
    assert wizard.file_page.path.text() == str(path)
    assert wizard.file_page.error.isVisible()
    assert "PNG image" in wizard.file_page.error.text()

    # A file read with the wrong encoding, as the user asked: explained, choice kept.
    shown.boxes.clear()
    wizard.file_page.set_path(str(DATA / "register-cp1252.csv"))
    to_reading(qtbot, wizard)
    reading = wizard.reading_page
    assert reading.encoding.currentText().startswith("Detect — Windows-1252")
    reading.encoding.setCurrentIndex(reading.encoding.findData("utf-8"))
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=WAIT_MS)
    assert "cannot be read as utf-8" in shown.boxes[-1][1]
    assert wizard.currentId() == PAGE_READING
    assert reading.encoding.currentData() == "utf-8"
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    assert next_button is not None and not next_button.isEnabled()
    assert reading.error.isVisible() and reading.again.isVisible()
    reading.encoding.setCurrentIndex(reading.encoding.findData("cp1252"))
    qtbot.waitUntil(lambda: wizard.state.read_fresh and not wizard.busy, timeout=WAIT_MS)
    assert not reading.error.isVisible()
    assert next_button.isEnabled()


def test_the_sheet_header_line_and_date_order_can_be_chosen(
    qtbot: QtBot, window: MainWindow, shown: Shown, monkeypatch: pytest.MonkeyPatch
) -> None:
    wizard = open_wizard(qtbot, window, DATA / "register-title-rows.xlsx", monkeypatch)
    to_reading(qtbot, wizard)
    reading = wizard.reading_page
    assert reading.format.text().startswith("Excel workbook (XLSX): register-title-rows.xlsx")
    assert reading.header_note.text() == "found on line 3"
    assert "the header is on line 3" in reading.warnings.text()
    assert not reading.encoding.isEnabled()
    reading.header_line.setValue(4)
    qtbot.waitUntil(lambda: wizard.state.read_fresh and not wizard.busy, timeout=WAIT_MS)
    assert wizard.state.loaded is not None and wizard.state.loaded.preview.header_line == 4
    # Rows as read: the title (1), the header found (3), two rows; the blank line 2 is skipped.
    header_item = reading.raw.verticalHeaderItem(2)
    assert header_item is not None and header_item.text() == "4 (header)"
    reading.header_line.setValue(0)  # back to "Detect"
    qtbot.waitUntil(lambda: wizard.state.read_fresh and not wizard.busy, timeout=WAIT_MS)
    assert wizard.state.loaded is not None and wizard.state.loaded.preview.header_line == 3

    # A workbook with two sheets offers both; the other one is read when chosen.
    wizard.reject()
    wizard = open_wizard(qtbot, window, DATA / "register-dates.xlsx", monkeypatch)
    to_reading(qtbot, wizard)
    reading = wizard.reading_page
    assert reading.sheet.isEnabled()
    assert [reading.sheet.itemText(i) for i in range(reading.sheet.count())] == [
        "Register",
        "Notes",
    ]
    reading.sheet.setCurrentIndex(1)
    qtbot.waitUntil(lambda: wizard.state.read_fresh and not wizard.busy, timeout=WAIT_MS)
    assert wizard.state.loaded is not None and wizard.state.loaded.table.sheet == "Notes"
    click(wizard, QWizard.WizardButton.NextButton)
    assert "Required, and no column is imported as it: asset tag, description" in (
        wizard.mapping_page.problem.text()
    )
    next_button = wizard.button(QWizard.WizardButton.NextButton)
    assert next_button is not None and not next_button.isEnabled()
    assert not shown.boxes

    # Date order: month first, as chosen.
    wizard.reject()
    wizard = open_wizard(qtbot, window, DATA / "register-mixed-dates.csv", monkeypatch)
    to_reading(qtbot, wizard)
    to_preview(qtbot, wizard)
    assert "the dates mix two orders" in wizard.preview_page.problems.text()
    click(wizard, QWizard.WizardButton.BackButton)
    click(wizard, QWizard.WizardButton.BackButton)
    reading = wizard.reading_page
    reading.dates.setCurrentIndex(reading.dates.findData("mdy"))
    qtbot.waitUntil(lambda: wizard.state.read_fresh and not wizard.busy, timeout=WAIT_MS)
    to_preview(qtbot, wizard)
    assert [r[0] for r in rows(wizard) if r[1] == "ERROR"] == ["2"]


def test_stop_stops_waiting_and_the_late_result_is_dropped(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    wizard = open_wizard(qtbot, window, DATA / "register-blank-lines.csv", monkeypatch)
    click(wizard, QWizard.WizardButton.NextButton)
    assert busy(wizard)
    bar = wizard.file_page.busy_bar
    assert bar.isVisible() and bar.button.isVisible()
    bar.button.click()  # before the worker's answer is delivered
    assert not busy(wizard) and not bar.isVisible()
    window.runner.wait()
    qtbot.wait(50)  # the worker's (dropped) answer arrives through the event loop
    assert wizard.state.loaded is None
    assert wizard.currentId() == PAGE_FILE
    assert "Stopped before the check finished" in wizard.file_page.error.text()
    to_reading(qtbot, wizard)  # Next tries again
    assert wizard.state.loaded is not None


def test_calibration_history_keeps_the_registered_status(
    qtbot: QtBot, window: MainWindow, app: CalTrack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for tag in ("TH-001", "TH-002", "REF-1"):
        add_thermometer(app, tag)
    wizard = open_wizard(
        qtbot, window, DATA / "calibrations-history.csv", monkeypatch, kind="calibrations"
    )
    assert wizard.windowTitle() == "Import calibration history"
    assert wizard.file_page.calibrations.isChecked()
    to_reading(qtbot, wizard)
    click(wizard, QWizard.WizardButton.NextButton)
    page = wizard.mapping_page
    assert page.keep_status.isVisible() and not page.add_or_update.isVisible()
    page.keep_status.setChecked(True)
    click(wizard, QWizard.WizardButton.NextButton)  # checks the new choice first
    # The history's results and provider kinds are shown, each with what it becomes.
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_VALUES, timeout=WAIT_MS)
    assert [m.column.field for m in wizard.values_page.models if m.column] == ["result"]
    click(wizard, QWizard.WizardButton.NextButton)
    settle(qtbot, wizard)
    assert wizard.state.loaded is not None
    options = wizard.state.loaded.preview.options
    assert options is not None and options.keep_status
    errors = [r[0] for r in rows(wizard) if r[1] == "ERROR"]
    assert errors == ["6", "7", "8"]
    wizard.preview_page.leave_out.click()
    settle(qtbot, wizard)
    click(wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=WAIT_MS)
    assert wizard.done_page.summary.text() == (
        "Imported 4 calibration records from calibrations-history.csv; every row is in the "
        "audit trail."
    )
    # The failing calibration opened its case, and the instrument kept its status.
    assert app.instruments.get("TH-001").lifecycle == "in_service"


def test_a_dropped_file_is_taken(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    wizard = open_wizard(qtbot, window, DATA / "register-bad-values.csv", monkeypatch)
    dropped = DATA / "register-us-dates.csv"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped))])
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    wizard.dropEvent(event)
    assert wizard.file_page.path.text() == str(dropped)
    mime.setUrls([QUrl.fromLocalFile(str(DATA / "README.md"))])
    wizard.dropEvent(event)
    assert wizard.file_page.path.text() == str(dropped), "not a table: not taken"


def test_escape_cancels_and_enter_goes_on(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    wizard = open_wizard(qtbot, window, DATA / "register-us-dates.csv", monkeypatch)
    wizard.file_page.path.setFocus()
    qtbot.keyClick(wizard.file_page.path, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_READING, timeout=WAIT_MS)
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)
    assert not wizard.isVisible()


def test_a_read_only_database_checks_fields_only_and_refuses_to_import(
    qtbot: QtBot,
    app: CalTrack,
    db_url: str,
    clock: FixedClock,
    tmp_path: Path,
    shown: Shown,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bob = Identity(user="bob", machine="LAB-PC-4")
    with open_caltrack(
        db_url,
        identity=bob,
        clock=clock,
        editing=EditingOptions(edit=False),
        state_dir=tmp_path / "bob",
    ) as reader:
        runner = TaskRunner()
        win = MainWindow(app=reader, runner=runner, settings=UserSettings(reminders=False))
        qtbot.addWidget(win)
        win.show()
        try:
            qtbot.waitUntil(lambda: win.lock_view is not None, timeout=WAIT_MS)
            assert not win.transfer.act_import_instruments.isEnabled()
            assert not win.transfer.act_import_calibrations.isEnabled()
            assert win.transfer.act_export.isEnabled() and win.transfer.act_audit.isEnabled()
            # A wizard opened while editing still runs when the editing stops.
            before = fingerprint(db_url)
            wizard = win.transfer.import_file("instruments", str(DATA / "register-us-dates.csv"))
            to_reading(qtbot, wizard)
            to_preview(qtbot, wizard)
            assert "fields only — the database is read-only" in wizard.preview_page.checked.text()
            click(wizard, QWizard.WizardButton.CommitButton)
            qtbot.waitUntil(lambda: bool(shown.boxes), timeout=WAIT_MS)
            title, text, _detail = shown.boxes[-1]
            assert (title, text) == (
                "Read-only",
                "This window cannot save while importing register-us-dates.csv.",
            )
            assert wizard.isVisible() and wizard.currentId() == PAGE_PREVIEW
            assert wizard.state.result is None
            assert not wizard.busy
            back = wizard.button(QWizard.WizardButton.BackButton)
            assert back is not None and back.isEnabled()
            assert fingerprint(db_url) == before
            wizard.reject()
        finally:
            win.close()
            runner.wait()


def test_values_are_chosen_on_the_values_page_and_remembered_with_the_mapping(
    qtbot: QtBot, window: MainWindow, app: CalTrack, monkeypatch: pytest.MonkeyPatch
) -> None:
    wizard = open_wizard(qtbot, window, DATA / "register-lab-status.csv", monkeypatch)
    to_reading(qtbot, wizard)
    click(wizard, QWizard.WizardButton.NextButton)
    click(wizard, QWizard.WizardButton.NextButton)
    assert wizard.currentId() == PAGE_VALUES
    page = wizard.values_page
    model = page.models[0]
    assert "2 values not mapped: choose what they mean" in page.count.text()
    extended = model.row_of("extended")  # EXTENDED and Extended are one value
    assert extended is not None
    assert model.index(extended, COL_ROWS).data() == "3"
    target = model.index(extended, COL_TARGET)
    assert [t for _text, t in target.data(CHOICES_ROLE)] == [
        "in_service",
        "out_of_service",
        "retired",
        "lost",
        None,
    ]
    assert not model.setData(target, None), "(not mapped) is no choice to make"
    assert not model.setData(target, "on_loan"), "only the field's values"
    assert model.setData(target, "in_service")
    assert wizard.state.values == {"Status": {"EXTENDED": "in_service"}}
    qtbot.waitUntil(lambda: not wizard.busy and wizard.state.check_fresh, timeout=WAIT_MS)
    assert model.index(extended, VALUE_SOURCE).data() == "your choice"
    assert "1 value not mapped: choose what it means" in page.count.text()
    next_ = wizard.button(QWizard.WizardButton.NextButton)
    assert next_ is not None and not next_.isEnabled()
    page.leave_out.click()  # PR#33199's row, line 15
    qtbot.waitUntil(lambda: not wizard.busy and wizard.state.check_fresh, timeout=WAIT_MS)
    assert wizard.state.excluded == frozenset({15})
    assert not page.count.isVisible() and next_.isEnabled()
    click(wizard, QWizard.WizardButton.NextButton)
    settle(qtbot, wizard)

    # Old history that contradicts itself: the choice goes to the check.
    preview = wizard.preview_page
    assert preview.flag.isChecked()
    preview.leave_out_inconsistent.setChecked(True)
    settle(qtbot, wizard)
    loaded = wizard.state.loaded
    assert loaded is not None and loaded.preview.options is not None
    assert loaded.preview.options.inconsistent == "leave_out"
    assert preview.counts.text() == "14 to add · 0 to update · 0 with errors · 1 left out"
    click(wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=WAIT_MS)
    assert app.instruments.get("G-0011").lifecycle == "in_service"
    assert app.instruments.get("G-0006").lifecycle == "out_of_service"  # SERVICE, guessed
    remembered = window.settings.extra[EXTRA_KEY][loaded.key]["values"]["Status"]
    assert remembered["EXTENDED"] == "in_service"
    assert remembered["IN-ACTIVE"] == "retired"  # the guesses confirmed by the import
    assert "PR#33199" not in remembered


def test_a_changed_column_forgets_its_value_choices() -> None:
    state = ImportState()
    state.set_value("Status", "EXTENDED", "in_service")
    revision = state.check_revision
    state.set_value("Status", "EXTENDED", "in_service")
    assert state.check_revision == revision, "the same choice again changes nothing"
    assert state.options().values == {"Status": {"EXTENDED": "in_service"}}
    state.set_override("Status", "")  # the column is left out now
    assert state.values == {}
    assert state.check_revision == revision + 1
