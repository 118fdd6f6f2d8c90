"""Export everything from the window: XLSX and CSV read back, files that exist replaced
only when the user agrees, a missing folder explained, and a read-only database."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from PySide6.QtWidgets import QMenu
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.services.editing import EditingOptions
from app.services.transfer_mapping import exported_columns
from app.services.transfer_model import ImportOptions
from app.settings.user_settings import UserSettings
from app.ui.dialogs import export_dialog
from app.ui.dialogs.export_dialog import ExportDialog
from app.ui.main_window import MainWindow
from app.ui.tasks import TaskRunner
from tests.conftest import add_thermometer
from tests.ui.conftest import Shown
from tests.unit.qa_helpers import calibrate

WAIT_MS = 20_000


@pytest.fixture
def lab(app: CalTrack) -> CalTrack:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "=CMD-2", description="Formula-looking tag")
    calibrate(app, "TH-001", "2026-11-20")
    return app


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.wait()


def make_dialog(qtbot: QtBot, app: CalTrack, runner: TaskRunner, folder: Path) -> ExportDialog:
    dialog = ExportDialog(
        transfer=app.transfer, runner=runner, today=app.clock.today(), folder=folder
    )
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def export(qtbot: QtBot, dialog: ExportDialog) -> None:
    assert dialog.export_button.isEnabled()
    dialog.export_button.click()
    qtbot.waitUntil(lambda: not dialog._job, timeout=WAIT_MS)


def test_xlsx_one_workbook_read_back(
    qtbot: QtBot,
    lab: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    shown: Shown,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dialog = make_dialog(qtbot, lab, runner, tmp_path)
    assert dialog.target.text() == str(tmp_path / "caltrack-export-2026-11-23.xlsx")
    assert dialog.writes.text() == f"caltrack-export-2026-11-23.xlsx in {tmp_path}"
    export(qtbot, dialog)
    assert not shown.boxes
    assert dialog.saved.isVisible()
    assert dialog.saved.text().startswith(
        "Saved caltrack-export-2026-11-23.xlsx (2 instruments, 1 calibration)."
    )
    workbook = openpyxl.load_workbook(tmp_path / "caltrack-export-2026-11-23.xlsx")
    assert workbook.sheetnames == ["Instruments", "Calibrations", "Custody", "Maintenance"]
    instruments = [[c.value for c in r] for r in workbook["Instruments"].iter_rows()]
    assert instruments[0] == [c.label for c in exported_columns("instruments")]
    assert sorted(str(r[0]) for r in instruments[1:]) == ["=CMD-2", "TH-001"]
    assert len(list(workbook["Calibrations"].iter_rows())) == 2
    opened: list[Path] = []
    monkeypatch.setattr(export_dialog, "open_folder", opened.append)
    assert dialog.open_button.isVisible()
    dialog.open_button.click()
    assert opened == [tmp_path]


def test_csv_one_file_per_kind_read_back_and_imported_again(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner, tmp_path: Path
) -> None:
    dialog = make_dialog(qtbot, lab, runner, tmp_path)
    dialog.csv.setChecked(True)
    assert dialog.target.text() == str(tmp_path / "caltrack-export-2026-11-23")
    assert dialog.writes.text() == (
        "caltrack-export-2026-11-23-instruments.csv, "
        "caltrack-export-2026-11-23-calibrations.csv, "
        "caltrack-export-2026-11-23-custody.csv and "
        f"caltrack-export-2026-11-23-maintenance.csv in {tmp_path}"
    )
    dialog.target.setText(f"{tmp_path}/")
    assert dialog.writes.text() == (
        "caltrack-export-instruments.csv, caltrack-export-calibrations.csv, "
        f"caltrack-export-custody.csv and caltrack-export-maintenance.csv in {tmp_path}"
    )
    dialog.target.setText(str(tmp_path / "lab.csv"))
    assert dialog.writes.text() == (
        "lab-instruments.csv, lab-calibrations.csv, lab-custody.csv and "
        f"lab-maintenance.csv in {tmp_path}"
    )
    export(qtbot, dialog)
    assert dialog.saved.text().startswith(
        "Saved lab-instruments.csv, lab-calibrations.csv, lab-custody.csv and "
        "lab-maintenance.csv (2 instruments, 1 calibration)."
    )
    with (tmp_path / "lab-instruments.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [c.label for c in exported_columns("instruments")]
    # A tag that a spreadsheet would run as a formula is written escaped ...
    assert sorted(r[0] for r in rows[1:]) == ["'=CMD-2", "TH-001"]
    # ... and reads back as it was: the export imports again without loss.
    preview = lab.transfer.preview(
        tmp_path / "lab-instruments.csv", ImportOptions(kind="instruments", update_existing=True)
    )
    assert preview.ok and {r.action for r in preview.rows} == {"unchanged"}


def test_existing_files_are_replaced_only_when_agreed(
    qtbot: QtBot,
    lab: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "caltrack-export-2026-11-23.xlsx"
    target.write_text("keep me", encoding="utf-8")
    answers = [False, True]
    asked: list[Any] = []

    def ask(parent: object, files: list[Path]) -> bool:
        asked.append(files)
        return answers.pop(0)

    monkeypatch.setattr(export_dialog, "ask_overwrite", ask)
    dialog = make_dialog(qtbot, lab, runner, tmp_path)
    export(qtbot, dialog)
    assert asked == [[target]]
    assert target.read_text(encoding="utf-8") == "keep me"
    assert not dialog.saved.isVisible()
    export(qtbot, dialog)
    assert len(asked) == 2
    assert openpyxl.load_workbook(target).sheetnames == [
        "Instruments",
        "Calibrations",
        "Custody",
        "Maintenance",
    ]


def test_a_missing_folder_is_explained_and_nothing_is_written(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner, tmp_path: Path, shown: Shown
) -> None:
    dialog = make_dialog(qtbot, lab, runner, tmp_path)
    dialog.target.setText(str(tmp_path / "nowhere" / "out.xlsx"))
    export(qtbot, dialog)
    assert shown.boxes == [
        ("CalTrack", f"folder {tmp_path / 'nowhere'} does not exist; create it first", "")
    ]
    assert dialog.isVisible() and dialog.target.text().endswith("out.xlsx")
    assert dialog.export_button.isEnabled()
    assert not (tmp_path / "nowhere").exists()


def test_export_works_on_a_read_only_database_from_the_file_menu(
    qtbot: QtBot,
    lab: CalTrack,
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
            assert not win.app.session.editing
            file_menu = next(m for m in win.menuBar().actions() if m.text() == "&File").menu()
            assert isinstance(file_menu, QMenu) and win.transfer.act_export in file_menu.actions()
            assert win.transfer.act_export.isEnabled()
            win.transfer.act_export.trigger()
            dialog = win.transfer.export_dialog
            assert dialog is not None and dialog.isVisible()
            dialog.target.setText(str(tmp_path / "read-only.xlsx"))
            export(qtbot, dialog)
            assert not shown.boxes
            assert dialog.saved.text().startswith("Saved read-only.xlsx (2 instruments")
            dialog.close()
        finally:
            win.close()
            runner.wait()
