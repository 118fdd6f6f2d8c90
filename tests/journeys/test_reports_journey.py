"""Journeys: every report of the Reports menu, a record's certificate, the labels and the
export, saved as files.

A person opens each entry of the Reports menu, sees a file proposed in a folder that
exists (on a fresh account the Documents folder is created for it) with its whole path
shown, types a file of their own, unticks "open when done" and clicks Save; the file is
there with what the report says. Labels are saved through the Save dialog, and
File → Export everything… writes the workbook.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest
import shiboken6
from pypdf import PdfReader
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QLineEdit,
    QMessageBox,
    QStyle,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui.dialogs.export_dialog import ExportDialog
from app.ui.dialogs.labels_dialog import LabelsDialog
from app.ui.dialogs.report_dialog import ReportDialog
from app.ui.main_window import MainWindow
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person
from tests.ui.test_qa_dialogs import build_lab
from tests.unit.qa_helpers import calibrate

WAIT_MS = 20_000


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh account: a home folder without a Documents folder yet."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / ".config"))
    monkeypatch.delenv("XDG_DOCUMENTS_DIR", raising=False)
    return folder


@pytest.fixture
def lab_window(qtbot: QtBot, app: CalTrack, home: Path) -> Iterator[MainWindow]:
    """REF-1 found out of tolerance (a case), TH-SOON due this month, TH-OLD overdue."""
    build_lab(app)
    add_thermometer(app, "TH-SOON")
    calibrate(app, "TH-SOON", "2025-12-01")
    add_thermometer(app, "TH-OLD")
    calibrate(app, "TH-OLD", "2025-10-01")
    win_iter = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(win_iter)
    qtbot.waitUntil(lambda: win.model.rowCount() == 5, timeout=WAIT_MS)
    yield win
    next(win_iter, None)


def gone(widget: QWidget) -> bool:
    """Closed: hidden, or already deleted (the window deletes a finished dialog)."""
    return not shiboken6.isValid(widget) or not widget.isVisible()


def pdf_text(path: Path) -> str:
    """The words of a PDF, one space apart (its layout puts tabs and breaks between them)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def xlsx_text(path: Path) -> str:
    book = openpyxl.load_workbook(path)
    return "\n".join(
        " | ".join(str(c.value) for c in row if c.value is not None)
        for sheet in book.worksheets
        for row in sheet.iter_rows()
    )


def select_tag(person: Person, window: MainWindow, tag: str) -> None:
    rows = [r for r in range(window.model.rowCount()) if window.model.index(r, 0).data() == tag]
    assert rows, f"{tag} is not in the register"
    person.click_cell(window.table, rows[0], 0)
    person.qtbot.waitUntil(
        lambda: window.history is not None and window.history.instrument.asset_tag == tag,
        timeout=WAIT_MS,
    )


def untick(person: Person, box: QCheckBox) -> None:
    """Clicks a ticked box on its tick (a box's row is wider than what takes a click)."""
    if box.isChecked():
        person.click(
            box,
            QPoint(
                box.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth) // 2 + 1,
                box.height() // 2,
            ),
        )
    assert not box.isChecked()


def shows_whole_path(field: QLineEdit) -> bool:
    return field.width() >= field.fontMetrics().horizontalAdvance(field.text())


def save_report(
    person: Person, window: MainWindow, entry: str, target: Path, fmt: str
) -> ReportDialog:
    """Reports → ``entry``, the format chosen by keyboard, ``target`` typed, Save clicked."""
    person.menu(window, "Reports", entry)
    dialog = person.wait_for(ReportDialog)
    proposed = Path(dialog.file.text())
    assert proposed.parent.is_dir(), f"proposed {proposed}: its folder does not exist"
    assert shows_whole_path(dialog.file), "the File field shows the whole path"
    person.click(dialog.file)
    person.press(Qt.Key.Key_Backtab)  # to the Format above it
    assert person.focused() is dialog.format
    person.press(Qt.Key.Key_Home)  # the first format, then down the list
    for _ in range(dialog.format.count()):
        if dialog.format.currentData() == fmt:
            break
        person.press(Qt.Key.Key_Down)
    assert dialog.format.currentData() == fmt
    person.click(dialog.file)
    person.clear_and_type(str(target))
    untick(person, dialog.open_when_done)
    person.click_button("Save", dialog)
    person.qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)
    assert target.is_file()
    return dialog


def test_every_report_is_saved_where_the_person_says(
    qtbot: QtBot,
    person: Person,
    lab_window: MainWindow,
    home: Path,
    tmp_path: Path,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    window = lab_window
    documents = home / "Documents"
    assert not documents.exists()

    # The first report of a fresh account proposes the Documents folder, created for it.
    person.menu(window, "Reports", "Due list…")
    dialog = person.wait_for(ReportDialog)
    assert Path(dialog.file.text()) == documents / "due-list-2026-11-23.pdf"
    assert documents.is_dir()
    assert shows_whole_path(dialog.file)
    screenshot(dialog, "report-dialog")
    person.click_button("Close", dialog)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)

    out = tmp_path / "out"
    out.mkdir()
    save_report(person, window, "Due list…", out / "due.pdf", "pdf")
    due = pdf_text(out / "due.pdf")
    assert "Calibrations due" in due and "TH-SOON" in due and "TH-OLD" not in due

    save_report(person, window, "Overdue list…", out / "overdue.csv", "csv")
    tags = [row[0] for row in csv_rows(out / "overdue.csv") if row]
    assert "TH-OLD" in tags and "TH-SOON" not in tags

    select_tag(person, window, "REF-1")
    save_report(person, window, "Instrument history…", out / "ref-1.pdf", "pdf")
    history = pdf_text(out / "ref-1.pdf")
    assert "Instrument history: REF-1" in history
    assert "Out-of-tolerance case OOT-1" in history and "Oot case" not in history
    assert "Reading 1" in history and "as found 0.9" in history
    assert "[[" not in history, "readings are not printed as a raw list"

    # The certificate of REF-1's latest calibration, from its history in the detail pane:
    # the record selected, Certificate… clicked, the file named in the Save dialog.
    detail = window.detail
    bar = detail.tabs.tabBar()
    person.click(bar, bar.tabRect(detail.cal_tab).center())
    person.click_cell(detail.calibrations, 0, 0)
    record = detail.selected_calibration()
    assert record is not None and record.performed_on.isoformat() == "2026-11-20"
    certificate = out / "ref-1-certificate.pdf"

    def name_the_certificate(save_as: QFileDialog) -> None:
        person.clear_and_type(str(certificate))
        person.press(Qt.Key.Key_Return)

    with person.answers(QFileDialog, name_the_certificate):
        person.click_button("Certificate…", detail)
    qtbot.waitUntil(certificate.is_file, timeout=WAIT_MS)
    text = pdf_text(certificate)
    assert f"calibration #{record.id} of REF-1" in text
    assert "NOT SIGNED" in text and "Decision rule: Simple acceptance" in text
    qtbot.waitUntil(
        lambda: "Wrote the certificate" in window.status.currentMessage(), timeout=WAIT_MS
    )

    save_report(person, window, "Out-of-tolerance log…", out / "oot.xlsx", "xlsx")
    assert "REF-1" in xlsx_text(out / "oot.xlsx")

    save_report(person, window, "Audit trail report…", out / "audit.csv", "csv")
    rows = csv_rows(out / "audit.csv")
    assert any("REF-1" in cell for row in rows for cell in row)
    assert "Wrote " in window.status.currentMessage()


def test_labels_are_saved_as_a_pdf(
    qtbot: QtBot,
    person: Person,
    lab_window: MainWindow,
    app: CalTrack,
    tmp_path: Path,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    window = lab_window
    select_tag(person, window, "REF-1")
    person.menu(window, "Reports", "Labels…")
    dialog = person.wait_for(LabelsDialog)
    screenshot(dialog, "labels-dialog")
    untick(person, dialog.open_when_done)
    target = tmp_path / "labels.pdf"

    def name_the_file(save_as: QFileDialog) -> None:
        person.clear_and_type(str(target))
        person.press(Qt.Key.Key_Return)

    with person.answers(QFileDialog, name_the_file):
        person.click_button("Save PDF", dialog)
    qtbot.waitUntil(target.is_file, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)
    assert "REF-1" in pdf_text(target)
    # The labels name the audit head they were made at (a label has no room for it: the
    # PDF's title and the status bar do).
    head = app.reports.stamp().audit_head
    assert head.startswith("#")
    metadata = PdfReader(target).metadata
    assert metadata is not None and f"audit head {head}" in str(metadata.title)
    assert f"(audit head {head})" in window.status.currentMessage()


@pytest.mark.sqlite_only("a file backup in the backups folder beside the database file")
def test_backup_now_names_the_audit_head_it_holds(
    qtbot: QtBot, person: Person, lab_window: MainWindow, app: CalTrack
) -> None:
    window = lab_window
    seen: list[str] = []

    def read_and_close(box: QMessageBox) -> None:
        seen.append(f"{box.text()}\n{box.informativeText()}")
        person.press(Qt.Key.Key_Return)

    with person.answers(QMessageBox, read_and_close, where=lambda b: "Backup" in b.text()):
        person.menu(window, "File", "Backup now")
    head = app.reports.stamp().audit_head
    backups = sorted((Path(str(app.database.path)).parent / "backups").iterdir())
    assert len(backups) == 1
    assert str(backups[0]) in seen[0]
    assert f"It holds the audit trail up to event {head}." in seen[0]


def test_everything_is_exported(
    qtbot: QtBot, person: Person, lab_window: MainWindow, tmp_path: Path
) -> None:
    window = lab_window
    person.menu(window, "File", "Export everything…")
    dialog = person.wait_for(ExportDialog)
    assert Path(dialog.target.text()).parent.is_dir(), "a folder that exists is proposed"
    target = tmp_path / "everything.xlsx"
    person.click(dialog.target)
    person.clear_and_type(str(target))
    person.click_button("Export", dialog)
    qtbot.waitUntil(dialog.saved.isVisible, timeout=WAIT_MS)
    book = openpyxl.load_workbook(target)
    text = xlsx_text(target)
    assert len(book.worksheets) >= 2
    for tag in ("REF-1", "TH-001", "TH-002", "TH-SOON", "TH-OLD"):
        assert tag in text
    person.click_button("Close", dialog)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)


def test_enter_in_the_export_dialog_exports(
    qtbot: QtBot, person: Person, lab_window: MainWindow, tmp_path: Path
) -> None:
    """Type where to export, press Enter: it exports (Enter used to close the dialog)."""
    window = lab_window
    person.menu(window, "File", "Export everything…")
    dialog = person.wait_for(ExportDialog)
    target = tmp_path / "by-enter.xlsx"
    person.click(dialog.target)
    person.clear_and_type(str(target))
    # Before, Enter pressed Browse… (the file dialog) or Close: fail here, not hang there.
    assert dialog.export_button.isDefault(), "Enter would not export"
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(dialog.saved.isVisible, timeout=WAIT_MS)
    assert target.is_file()
    assert "REF-1" in xlsx_text(target)
    person.press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)


def test_enter_in_the_labels_dialog_saves_the_pdf(
    qtbot: QtBot, person: Person, lab_window: MainWindow, tmp_path: Path
) -> None:
    """Pick the asset tags, press Enter: the Save dialog comes (Enter used to close)."""
    window = lab_window
    person.menu(window, "Reports", "Labels…")
    dialog = person.wait_for(LabelsDialog)
    untick(person, dialog.open_when_done)
    person.click(dialog.tags)
    person.write("REF-1")
    target = tmp_path / "by-enter.pdf"
    assert dialog.save_button.isDefault(), "Enter would not save the PDF"

    def name_the_file(save_as: QFileDialog) -> None:
        person.clear_and_type(str(target))
        person.press(Qt.Key.Key_Return)

    with person.answers(QFileDialog, name_the_file):
        person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(target.is_file, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)
    assert "REF-1" in pdf_text(target)
