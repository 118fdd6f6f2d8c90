"""Journey: a technician imports a register from a CSV file with the wizard.

File → Import instruments…, the file's path typed into the wizard's file field, Next
through how the file was read and the column mapping, the dry run's preview, Import,
and the rows in the register and the database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QWidget, QWizard
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.ui.dialogs.import_wizard import (
    PAGE_DONE,
    PAGE_MAPPING,
    PAGE_PREVIEW,
    PAGE_READING,
    PAGE_VALUES,
    ImportWizard,
)
from app.ui.main_window import MainWindow
from tests.conftest import add_thermometer
from tests.journeys.person import Person, gone

CSV = (
    "Asset tag,Description,Manufacturer,Serial number,Interval (days)\n"
    "TH-101,Digital thermometer,Fluke,SN-1,365\n"
    "BAL-102,Analytical balance,Mettler,SN-2,180\n"
    "PIP-103,Pipette 100 µl,Eppendorf,SN-3,90\n"
)


def next_button(wizard: QWizard, which: QWizard.WizardButton) -> QWidget:
    button = wizard.button(which)
    assert button is not None
    return button


def test_import_a_csv_with_the_wizard(
    qtbot: QtBot,
    person: Person,
    window: MainWindow,
    app: CalTrack,
    tmp_path: Path,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    path = tmp_path / "register.csv"
    path.write_text(CSV, encoding="utf-8")

    person.menu(window, "File", "Import instruments…")
    wizard = person.wait_for(ImportWizard)
    assert wizard.windowTitle() == "Import instruments"
    person.press(Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)  # &File:
    assert person.focused() is wizard.file_page.path
    person.write(str(path))

    next_ = next_button(wizard, QWizard.WizardButton.NextButton)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_READING, timeout=20_000)
    assert wizard.reading_page.header_note.text() == "found on line 1"

    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_MAPPING, timeout=20_000)
    tag = wizard.mapping_page.combo_for("Asset tag")
    assert tag is not None and tag.currentData() == "asset_tag"
    screenshot(wizard, "import-mapping")

    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_PREVIEW, timeout=20_000)
    page = wizard.preview_page
    qtbot.waitUntil(
        lambda: page.counts.text() == "3 to add · 0 to update · 0 with errors", timeout=20_000
    )
    commit = next_button(wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(commit.isEnabled, timeout=20_000)
    assert app.instruments.status_counts()["all"] == 0, "the dry run writes nothing"
    screenshot(wizard, "import-preview")

    person.click(commit)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=20_000)
    assert wizard.done_page.summary.text() == (
        "Imported 3 instruments from register.csv; every row is in the audit trail."
    )
    assert app.instruments.get("BAL-102").description == "Analytical balance"
    assert app.instruments.get("PIP-103").calibration_interval_days == 90
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=20_000)
    assert "Imported 3 instruments" in window.status.currentMessage()

    person.click(next_button(wizard, QWizard.WizardButton.FinishButton))
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)


def test_browse_for_the_file_by_keyboard(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack, tmp_path: Path
) -> None:
    path = tmp_path / "register.csv"
    path.write_text(CSV, encoding="utf-8")

    def choose(dialog: QFileDialog) -> None:
        person.write(str(path))  # the file name field has the focus
        person.press(Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    person.shortcut("Ctrl+Shift+I")
    wizard = person.wait_for(ImportWizard)
    with person.answers(QFileDialog, choose):
        person.press(Qt.Key.Key_B, Qt.KeyboardModifier.AltModifier)  # &Browse…
    qtbot.waitUntil(lambda: wizard.file_page.path.text() == str(path), timeout=10_000)
    person.press(Qt.Key.Key_Return)  # Next
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_READING, timeout=20_000)
    person.click_button("Cancel", wizard)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)
    assert app.instruments.status_counts()["all"] == 0


CHECKS_CSV = (
    "Asset tag,Date,Standard,Readings,Result\n"
    "TH-101,2026-11-02,gauge block,,pass\n"
    "TH-101,2026-11-09,REF-9,20:20.9:0.5,\n"
)


def test_import_intermediate_checks_with_the_wizard(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack, tmp_path: Path
) -> None:
    add_thermometer(app, "TH-101")
    path = tmp_path / "checks.csv"
    path.write_text(CHECKS_CSV, encoding="utf-8")

    person.menu(window, "File", "Import instruments…")
    wizard = person.wait_for(ImportWizard)
    person.press(Qt.Key.Key_K, Qt.KeyboardModifier.AltModifier)  # Intermediate chec&k history
    # A mnemonic clicks the button as the mouse would: after a short animation.
    qtbot.waitUntil(wizard.file_page.checks.isChecked, timeout=10_000)
    assert wizard.windowTitle() == "Import intermediate check history"
    person.press(Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)  # &File:
    person.write(str(path))

    next_ = next_button(wizard, QWizard.WizardButton.NextButton)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_READING, timeout=20_000)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_MAPPING, timeout=20_000)
    readings = wizard.mapping_page.combo_for("Readings")
    assert readings is not None and readings.currentData() == "readings"
    person.click(next_)
    # The result column takes pass or fail: its values are shown before the check.
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_VALUES, timeout=20_000)
    view = wizard.values_page.view_for("Result")
    assert view is not None
    qtbot.waitUntil(view.isVisible, timeout=20_000)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_PREVIEW, timeout=20_000)
    page = wizard.preview_page
    qtbot.waitUntil(lambda: page.counts.text() == "2 to add · 0 with errors", timeout=20_000)
    commit = next_button(wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(commit.isEnabled, timeout=20_000)
    assert app.checks.list("TH-101") == [], "the dry run writes nothing"

    person.click(commit)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=20_000)
    assert wizard.done_page.summary.text() == (
        "Imported 2 intermediate checks from checks.csv; every row is in the audit trail."
    )
    # The readings decide: 20.9 is outside 20 ± 0.5, so the check failed and the
    # thermometer is out of service, as when the check is typed in.
    assert [c.result for c in app.checks.list("TH-101")] == ["fail", "pass"]
    assert app.instruments.get("TH-101").lifecycle == "out_of_service"
    assert "Imported 2 intermediate checks" in window.status.currentMessage()
    person.click(next_button(wizard, QWizard.WizardButton.FinishButton))
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=10_000)


CUSTODY_CSV = (
    "Asset tag,With,Place,Out (UTC),Due back,Back (UTC)\n"
    "TH-101,Dana,Line 2,2026-10-01 08:00:00,,2026-10-02 16:00:00\n"
    "TH-101,Eve,,2026-11-20 09:00:00,2026-12-01,\n"
)


def test_import_custody_history_with_the_wizard(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack, tmp_path: Path
) -> None:
    add_thermometer(app, "TH-101")
    path = tmp_path / "custody.csv"
    path.write_text(CUSTODY_CSV, encoding="utf-8")

    person.menu(window, "File", "Import instruments…")
    wizard = person.wait_for(ImportWizard)
    person.press(Qt.Key.Key_U, Qt.KeyboardModifier.AltModifier)  # C&ustody history
    qtbot.waitUntil(wizard.file_page.custody.isChecked, timeout=10_000)
    assert wizard.windowTitle() == "Import custody history"
    person.press(Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)  # &File:
    person.write(str(path))

    next_ = next_button(wizard, QWizard.WizardButton.NextButton)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_READING, timeout=20_000)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_MAPPING, timeout=20_000)
    back = wizard.mapping_page.combo_for("Back (UTC)")
    assert back is not None and back.currentData() == "in_at"
    # History changes no instrument's status: nothing to choose about it.
    assert not wizard.mapping_page.mode_box.isVisible()
    person.click(next_)
    # No fixed-set column: straight to the check.
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_PREVIEW, timeout=20_000)
    page = wizard.preview_page
    qtbot.waitUntil(lambda: page.counts.text() == "2 to add · 0 with errors", timeout=20_000)
    commit = next_button(wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(commit.isEnabled, timeout=20_000)
    assert app.custody.history("TH-101") == [], "the dry run writes nothing"

    person.click(commit)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=20_000)
    assert wizard.done_page.summary.text() == (
        "Imported 2 check-outs from custody.csv; every row is in the audit trail."
    )
    assert [(v.holder, v.state) for v in app.custody.history("TH-101")] == [
        ("Eve", "out"),
        ("Dana", "returned"),
    ]
    person.click(next_button(wizard, QWizard.WizardButton.FinishButton))
