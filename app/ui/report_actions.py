"""The Reports part of the main window: the Reports menu, "Print history…" and labels.

Each entry opens the report dialog for its kind (due, overdue, history, OOT log, audit
trail) or the labels dialog; a calibration record's certificate (the detail pane's
Certificate… button and the history's context menu) asks for a file name in the Save
dialog and is read and written in the background. Reports only read, so none of these
actions follows the editing state: they work in read-only mode too. The last format,
folder and label size are remembered per user in ``UserSettings.extra`` ("reports" and
"labels").
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QMenu

from app.reports.output import check_output_path, write_report
from app.ui import files, messages
from app.ui.dialogs.labels_dialog import LabelPrefs, LabelsDialog
from app.ui.dialogs.report_dialog import ReportDialog, ReportPrefs
from app.ui.files import proposed_folder, safe_file_part

if TYPE_CHECKING:
    from app.ui.window_api import WindowApi

REPORTS_KEY = "reports"
LABELS_KEY = "labels"
FILTER_NAMES = {
    None: "all",
    "due-soon": "due soon",
    "overdue": "overdue",
    "out-of-service": "out of service",
    "retired": "retired",
    "lost": "lost",
}


class ReportActions(QObject):
    """Creates the report actions on the window and opens their dialogs."""

    def __init__(self, window: WindowApi) -> None:
        super().__init__(window.as_widget())
        self.window = window
        self.dialog: QDialog | None = None  # the report or labels dialog open now

        def kind(key: str) -> Any:
            return lambda: self.open_report(key)

        self.act_due = window.add_action(
            "&Due list…", kind("due"), None, "Instruments in service falling due soon"
        )
        self.act_overdue = window.add_action(
            "&Overdue list…", kind("overdue"), None, "Instruments past due or never calibrated"
        )
        self.act_history = window.add_action(
            "Instrument &history…",
            kind("history"),
            None,
            "One instrument's record, certificate-like",
        )
        self.act_oot = window.add_action(
            "Out-of-&tolerance log…", kind("oot"), None, "The out-of-tolerance cases"
        )
        self.act_custody = window.add_action(
            "&Custody…", kind("custody"), None, "What is checked out now, with whom; late back"
        )
        self.act_audit = window.add_action(
            "&Audit trail report…", kind("audit"), None, "The audit trail of a period"
        )
        self.act_labels = window.add_action(
            "&Labels…",
            self.open_labels,
            None,
            "Printable labels with a QR code of the asset tag",
        )
        self.act_print_history = window.add_action(
            "&Print history…",
            self.print_history,
            QKeySequence.StandardKey.Print,
            "Print the selected instrument's history (Ctrl+P)",
        )
        window.detail.certificate_requested.connect(self.save_certificate)

    # -- wiring ----------------------------------------------------------------------

    def fill_menu(self, menu: QMenu) -> None:
        for act in (self.act_due, self.act_overdue, self.act_history, self.act_oot):
            menu.addAction(act)
        menu.addAction(self.act_custody)
        menu.addAction(self.act_audit)
        menu.addSeparator()
        menu.addAction(self.act_labels)

    def actions(self) -> tuple[QAction, ...]:
        """Every action here (none of them writes to the database)."""
        return (
            self.act_due,
            self.act_overdue,
            self.act_history,
            self.act_oot,
            self.act_custody,
            self.act_audit,
            self.act_labels,
            self.act_print_history,
        )

    # -- settings per user -----------------------------------------------------------

    def _prefs(self, key: str) -> object:
        return self.window.settings.extra.get(key)

    def _remember(self, key: str, value: dict[str, Any]) -> None:
        window = self.window
        # Re-read: other parts of the window keep their own entries in ``extra``.
        extra = {**window.settings.extra, key: value}
        window.settings = replace(window.settings, extra=extra)
        window.settings_changed.emit(window.settings)

    def _selected_tag(self) -> str:
        history = self.window.history
        return history.instrument.asset_tag if history is not None else ""

    def _show(self, dialog: QDialog) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = dialog
        dialog.finished.connect(lambda _r: self._forget(dialog))
        dialog.open()

    def _forget(self, dialog: QDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def _written(self, text: str) -> None:
        self.window.status.showMessage(text, 10_000)

    # -- the dialogs -----------------------------------------------------------------

    def open_report(self, kind: str, *, print_first: bool = False) -> ReportDialog:
        dialog = ReportDialog(
            app=self.window.app,
            runner=self.window.runner,
            kind=kind,
            prefs=ReportPrefs.from_extra(self._prefs(REPORTS_KEY)),
            tag=self._selected_tag(),
            print_first=print_first,
            parent=self.window.as_widget(),
        )
        dialog.written.connect(self._written)
        dialog.prefs_changed.connect(lambda p: self._remember(REPORTS_KEY, p.to_extra()))
        self._show(dialog)
        return dialog

    def save_certificate(self, record_id: int) -> None:
        """Ask where to save the record's certificate, then read and write it off the GUI
        thread; the status bar says where it went and the record's standing."""
        window = self.window
        prefs = ReportPrefs.from_extra(self._prefs(REPORTS_KEY))
        tag = self._selected_tag()
        proposed = proposed_folder(prefs.folder) / safe_file_part(
            f"certificate-{record_id}-{tag}" if tag else f"certificate-{record_id}"
        )
        chosen = files.ask_save_path(
            window.as_widget(),
            f"Save the certificate of calibration #{record_id}",
            f"{proposed}.pdf",
            "PDF (*.pdf)",
        )
        if not chosen:
            return
        target = Path(chosen)
        confirmed = target.suffix.lower() == ".pdf"  # the Save dialog asked about this name
        if not confirmed:
            target = target.with_name(f"{target.name}.pdf")
        if (
            not confirmed
            and target.exists()
            and not files.confirm_replace(window.as_widget(), target)
        ):
            return
        reports = window.app.reports
        window.status.showMessage(f"Writing the certificate of calibration #{record_id}…")

        def write() -> tuple[Path, str]:
            checked = check_output_path(target)  # before any work: one clear line
            report = reports.certificate(record_id)
            return write_report(report, checked, "pdf"), dict(report.parameters)["Status"]

        def written(result: tuple[Path, str]) -> None:
            path, status = result
            self._remember(REPORTS_KEY, replace(prefs, folder=str(path.parent)).to_extra())
            self._written(
                f"Wrote the certificate of calibration #{record_id} to {path} ({status})."
            )

        def failed(exc: BaseException) -> None:
            window.status.clearMessage()
            messages.explain(window.as_widget(), exc, doing="writing the calibration certificate")

        window.run_task(write, written, failed)

    def print_history(self) -> None:
        if not self._selected_tag():
            self.window.status.showMessage("Select an instrument first.", 4000)
            return
        self.open_report("history", print_first=True)

    def list_name(self) -> str:
        """The register's filter and search as the labels dialog names them."""
        window = self.window
        name = FILTER_NAMES.get(window.status_filter, str(window.status_filter))
        search = window.search.text().strip()
        return f"{name}, search “{search}”" if search else name

    def open_labels(self) -> LabelsDialog:
        model = self.window.model
        ids = [i for r in range(model.rowCount()) if (i := model.id_at(r)) is not None]
        dialog = LabelsDialog(
            app=self.window.app,
            runner=self.window.runner,
            prefs=LabelPrefs.from_extra(self._prefs(LABELS_KEY)),
            selected_tag=self._selected_tag() or None,
            list_ids=ids,
            list_name=self.list_name(),
            parent=self.window.as_widget(),
        )
        dialog.written.connect(self._written)
        dialog.prefs_changed.connect(lambda p: self._remember(LABELS_KEY, p.to_extra()))
        self._show(dialog)
        return dialog
