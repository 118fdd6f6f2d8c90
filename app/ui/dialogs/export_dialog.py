"""Export everything: every instrument and calibration record to XLSX or CSV.

The export reads one consistent snapshot in the worker and writes each file atomically
(``TransferService.export``); it only reads the database, so it works read-only too.
Files that already exist are named and replaced only when the user says so.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.services.transfer import EXPORT_BASE_NAME as BASE_NAME
from app.services.transfer import TransferService, export_paths
from app.services.transfer_model import ExportResult
from app.ui import messages
from app.ui.dialogs.form import dialog_layout, enter_presses, notice_box
from app.ui.dialogs.import_state import ProgressRelay
from app.ui.files import documents_folder, show_whole_path
from app.ui.jobs import BusyBar
from app.ui.tasks import TaskRunner, run_for

FILTERS = {
    "xlsx": "Excel workbook (*.xlsx)",
    "csv": "CSV files: the name is the start of each file name (*.csv)",
}


def choose_target(parent: QWidget, fmt: str, current: str) -> str:
    """The save dialog (tests replace this); overwriting is asked about afterwards."""
    path, _filter = QFileDialog.getSaveFileName(
        parent,
        "Export everything to",
        current,
        FILTERS[fmt],
        options=QFileDialog.Option.DontConfirmOverwrite,
    )
    return path


def ask_overwrite(parent: QWidget, files: Sequence[Path]) -> bool:
    """True when the user agrees to replace these files (tests replace this)."""
    names = "\n".join(f"• {f}" for f in files)
    answer = messages.ask(
        parent,
        "Replace files?",
        f"These files exist already and would be replaced:\n{names}",
        messages.Button.Yes | messages.Button.Cancel,
        messages.Button.Cancel,
    )
    return answer == messages.Button.Yes


def open_folder(folder: Path) -> None:
    """Show the folder in the desktop's file manager (tests replace this)."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


def saved_text(result: ExportResult) -> str:
    names = ", ".join(Path(f).name for f in result.files[:-1])
    names = f"{names} and {Path(result.files[-1]).name}" if names else Path(result.files[-1]).name
    instruments = f"{result.instruments:,} instrument{'s' if result.instruments != 1 else ''}"
    records = f"{result.calibrations:,} calibration{'s' if result.calibrations != 1 else ''}"
    return f"Saved {names} ({instruments}, {records})."


class ExportDialog(QDialog):
    """Choose XLSX or CSV and where; export in the worker; say what was saved."""

    def __init__(
        self,
        *,
        transfer: TransferService,
        runner: TaskRunner,
        today: date,
        folder: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._transfer = transfer
        self._runner = runner
        self._job = 0  # the job whose result is awaited; 0: none
        self._jobs = 0
        self.result_: ExportResult | None = None
        self.setWindowTitle("Export everything")
        self.setMinimumWidth(640)
        intro = QLabel(
            "Every instrument, calibration record, custody entry and maintenance event (voided "
            "ones included), as stored now and read in one snapshot. The instruments and "
            "calibrations import again without losing anything; custody and the maintenance "
            "log are for reading."
        )
        intro.setWordWrap(True)
        self.xlsx = QRadioButton("&Excel workbook (.xlsx): one workbook, a sheet per kind")
        self.csv = QRadioButton("&CSV (UTF-8, for Excel): one file per kind")
        group = QButtonGroup(self)
        group.addButton(self.xlsx)
        group.addButton(self.csv)
        self.xlsx.setChecked(True)
        self.xlsx.toggled.connect(lambda _on: self._format_changed())
        start = folder or documents_folder()  # one that exists (created when missing)
        self.target = QLineEdit(str(start / f"{BASE_NAME}-{today.isoformat()}.xlsx"))
        show_whole_path(self.target)
        self.target.setAccessibleName("Export to")
        self.target.textChanged.connect(lambda _t: self._update_writes())
        self.browse = QPushButton("&Browse…")
        self.browse.clicked.connect(self._browse)
        target_row = QHBoxLayout()
        target_row.addWidget(self.target, 1)
        target_row.addWidget(self.browse)
        self.writes = QLabel()
        self.writes.setWordWrap(True)
        self.writes.setAccessibleName("Files written")
        form = QFormLayout()
        format_box = QVBoxLayout()
        format_box.addWidget(self.xlsx)
        format_box.addWidget(self.csv)
        form.addRow("Format:", format_box)
        target_label = QLabel("&Save to:")
        target_label.setBuddy(self.target)
        form.addRow(target_label, target_row)
        form.addRow("Writes:", self.writes)

        self.relay = ProgressRelay(self._progress, self)
        self.busy_bar = BusyBar(lambda: None)
        self.saved = notice_box("What was saved")
        self.open_button = QPushButton("&Open folder")
        self.open_button.clicked.connect(self._open_folder)
        self.open_button.hide()
        saved_row = QHBoxLayout()
        saved_row.addWidget(self.saved, 1)
        saved_row.addWidget(self.open_button)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton(
            "E&xport", QDialogButtonBox.ButtonRole.AcceptRole
        )
        enter_presses(self, self.export_button)
        self.buttons.accepted.connect(self.start_export)
        self.buttons.rejected.connect(self.reject)
        layout = dialog_layout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.busy_bar)
        layout.addLayout(saved_row)
        layout.addWidget(self.buttons)
        self._update_writes()
        self.target.setFocus()

    # -- choices ---------------------------------------------------------------------

    @property
    def fmt(self) -> str:
        return "xlsx" if self.xlsx.isChecked() else "csv"

    def _format_changed(self) -> None:
        text = self.target.text().strip()
        if text:
            path = Path(text)
            if path.suffix.lower() in (".csv", ".xlsx"):
                path = path.with_suffix("")
            self.target.setText(str(path) + (".xlsx" if self.fmt == "xlsx" else ""))
        self._update_writes()

    def _update_writes(self) -> None:
        text = self.target.text().strip()
        if not text:
            self.writes.setText("—")
            self.export_button.setEnabled(False)
            return
        # Names only: the file system is asked in the worker (a share can be slow to
        # answer), so a folder is recognised here by the separator it ends with.
        path = Path(text)
        if text.endswith(("/", os.sep)):
            base = path / BASE_NAME
        else:
            base = path.with_suffix("") if path.suffix.lower() in (".csv", ".xlsx") else path
        if self.fmt == "xlsx":
            self.writes.setText(f"{base.name}.xlsx in {base.parent}")
        else:
            self.writes.setText(
                f"{base.name}-instruments.csv, {base.name}-calibrations.csv, "
                f"{base.name}-custody.csv and {base.name}-maintenance.csv in {base.parent}"
            )
        self.export_button.setEnabled(not self._job)

    def _browse(self) -> None:
        path = choose_target(self, self.fmt, self.target.text())
        if path:
            if self.fmt == "xlsx" and not path.lower().endswith(".xlsx"):
                path += ".xlsx"
            self.target.setText(path)

    # -- exporting -------------------------------------------------------------------

    def _run(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self._jobs += 1
        job = self._job = self._jobs

        def ok(result: Any) -> None:
            self._finish()
            done(result)

        def failed(exc: BaseException) -> None:
            self._finish()
            messages.explain(self, exc, doing="exporting")

        run_for(self, self._runner, fn, ok, failed, alive=lambda: self._job == job)

    def _finish(self) -> None:
        self._job = 0
        self.busy_bar.hide()
        for widget in (self.export_button, self.browse, self.target, self.xlsx, self.csv):
            widget.setEnabled(True)

    def _busy(self, text: str) -> None:
        self.busy_bar.start(text, stoppable=False)
        self.saved.hide()
        self.open_button.hide()
        for widget in (self.export_button, self.browse, self.target, self.xlsx, self.csv):
            widget.setEnabled(False)

    def start_export(self) -> None:
        """Check what would be replaced (in the worker), ask, then export."""
        text = self.target.text().strip()
        if not text or self._job:
            return
        fmt, target = self.fmt, Path(text).expanduser()

        def existing() -> list[Path]:
            return [f for f in export_paths(fmt, target) if f.exists()]

        def checked(found: list[Path]) -> None:
            if found and not ask_overwrite(self, found):
                return
            self._export(fmt, target)

        self._busy("Checking the folder…")
        self._run(existing, checked)

    def _export(self, fmt: str, target: Path) -> None:
        transfer = self._transfer
        job = self._jobs + 1  # the number _run gives it
        emit = self.relay.moved.emit

        def progress(phase: str, n: int, total: int) -> None:
            with contextlib.suppress(RuntimeError):  # the dialog is gone: export anyway
                emit(job, phase, n, total)

        def run() -> ExportResult:
            return transfer.export(fmt, target, progress=progress)

        self._busy("Exporting…")
        self._run(run, self._exported)

    def _progress(self, job: int, _phase: str, n: int, total: int) -> None:
        if job == self._job:
            self.busy_bar.advance(f"Exporting: {n:,} rows written", n, total)

    def _exported(self, result: ExportResult) -> None:
        self.result_ = result
        self.saved.setText(saved_text(result) + "\n" + "\n".join(result.files))
        self.saved.show()
        self.open_button.show()
        self.open_button.setFocus()

    def _open_folder(self) -> None:
        if self.result_ is not None and self.result_.files:
            open_folder(Path(self.result_.files[0]).parent)

    def reject(self) -> None:
        if self._job:
            return  # the files are being written: wait for the end, then say what it was
        super().reject()
