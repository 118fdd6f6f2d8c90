"""File → Import/Export and View → Audit trail: the main window's actions and flows.

Importing (the wizard), exporting everything (the export dialog) and the audit trail
window, hooked into the main window with a few lines there (as ``qa_actions`` is).
The import actions write, so they follow the window's editing state; export and the
audit trail only read and work on a read-only database as well.

The column mappings (and value mappings) a user confirmed are kept in the window's
``UserSettings`` (under the same key and in the same form as
``app.settings.import_mappings`` keeps them for the command line), so the window's own
save of its settings never drops them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QTableWidgetItem

from app.services.transfer_model import ImportPreview
from app.settings.import_mappings import remembered_in, remembered_values_in, with_mapping
from app.ui.audit_window import AuditWindow
from app.ui.dialogs.export_dialog import ExportDialog
from app.ui.dialogs.import_wizard import ImportWizard, summary_line
from app.ui.qa_actions import bring_to_front

if TYPE_CHECKING:
    from app.ui.window_api import WindowApi


class TransferActions(QObject):
    """Creates the import, export and audit trail actions on the window and runs them."""

    def __init__(self, window: WindowApi) -> None:
        super().__init__(window.as_widget())
        self.window = window
        self.wizard: ImportWizard | None = None
        self.export_dialog: ExportDialog | None = None
        self.audit_window: AuditWindow | None = None
        self.act_import_instruments = window.add_action(
            "&Import instruments…",
            lambda: self.import_file("instruments"),
            "Ctrl+Shift+I",
            "Import instruments from a CSV or Excel file: checked first, then all rows or none",
        )
        self.act_import_calibrations = window.add_action(
            "Import calibration &history…",
            lambda: self.import_file("calibrations"),
            None,
            "Import calibration records of registered instruments from a CSV or Excel file",
        )
        self.act_export = window.add_action(
            "E&xport everything…",
            self.export,
            "Ctrl+Shift+X",
            "Every instrument and calibration record to one Excel workbook or two CSV files",
        )
        self.act_audit = window.add_action(
            "&Audit trail…",
            self.show_audit_window,
            "Ctrl+Shift+T",
            "Review the audit trail and its verification (Ctrl+Shift+T)",
        )
        # The instrument's own audit tab leads to the whole trail of that instrument.
        window.detail.audit.itemDoubleClicked.connect(self._audit_row_opened)

    # -- wiring ----------------------------------------------------------------------

    def fill_file_menu(self, menu: QMenu) -> None:
        menu.addSeparator()
        menu.addAction(self.act_import_instruments)
        menu.addAction(self.act_import_calibrations)
        menu.addAction(self.act_export)

    def editing_actions(self) -> tuple[QAction, ...]:
        return (self.act_import_instruments, self.act_import_calibrations)

    # -- import ----------------------------------------------------------------------

    def import_file(self, kind: str, path: str = "") -> ImportWizard:
        window = self.window
        wizard = ImportWizard(
            transfer=window.app.transfer,
            runner=window.runner,
            kind=kind,
            memory=remembered_in(window.settings),
            value_memory=remembered_values_in(window.settings),
            remember=self._remember,
            parent=window.as_widget(),
        )
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        wizard.imported.connect(self._imported)
        if path:
            wizard.file_page.set_path(path)
        self.wizard = wizard
        wizard.open()
        return wizard

    def _remember(
        self,
        key: str,
        kind: str,
        headers: list[str],
        mapping: dict[str, str],
        values: dict[str, dict[str, str]],
    ) -> None:
        window = self.window
        now = window.app.clock.now_utc()
        window.settings = with_mapping(
            window.settings, key, kind, headers, mapping, now=now, values=values
        )
        window.settings_changed.emit(window.settings)

    def _imported(self, result: ImportPreview) -> None:
        # The register reloads from the runner's change announcement.
        self.window.status.showMessage(summary_line(result), 10_000)

    # -- export ----------------------------------------------------------------------

    def export(self) -> None:
        window = self.window
        dialog = ExportDialog(
            transfer=window.app.transfer,
            runner=window.runner,
            today=window.app.clock.today(),
            parent=window.as_widget(),
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.export_dialog = dialog
        dialog.open()

    # -- the audit trail -------------------------------------------------------------

    def show_audit_window(self, entity: str | None = None, event_id: int | None = None) -> None:
        if self.audit_window is None:
            self.audit_window = AuditWindow(
                app=self.window.app, runner=self.window.runner, parent=self.window.as_widget()
            )
        window = self.audit_window
        if entity is not None:
            window.show_entity(entity, event_id)
        window.show()
        bring_to_front(window)

    def _audit_row_opened(self, item: QTableWidgetItem) -> None:
        history = self.window.history
        if history is None:
            return
        event_id = item.data(Qt.ItemDataRole.UserRole)
        self.show_audit_window(
            history.instrument.asset_tag, int(event_id) if event_id is not None else None
        )
