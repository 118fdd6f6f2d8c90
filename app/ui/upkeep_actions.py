"""The maintenance log's part of the main window: "Log maintenance…" (Ctrl+M) and voiding.

Reached from the Instrument menu, the shortcut and the Maintenance page of the detail
pane's Log tab.
Every database call runs off the GUI thread through the window's task runner, and each
write announces what it changed (the instrument's status and due date may move with
an event that needs a calibration before use).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from app.services.dto import MaintenanceInput, MaintenanceView
from app.services.upkeep import KIND_LABELS
from app.ui import messages
from app.ui.dialogs.maintenance_dialog import Fail, MaintenanceDialog, Ok
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.modal import open_modal
from app.ui.tasks import Changes

if TYPE_CHECKING:
    from app.ui.window_api import WindowApi


class UpkeepActions(QObject):
    """Creates the maintenance log's action on the window and runs what it starts."""

    def __init__(self, window: WindowApi) -> None:
        super().__init__(window.as_widget())
        self.window = window
        self.dialog: MaintenanceDialog | None = None
        self.act_log = window.add_action(
            "Log &maintenance…",
            self.log_selected,
            "Ctrl+M",
            "Log maintenance, damage or a repair of the selected instrument (Ctrl+M)",
        )
        tab = window.detail.maintenance
        tab.log_requested.connect(self.log_selected)
        tab.void_requested.connect(self.void)

    def editing_actions(self) -> tuple[QAction, ...]:
        """The actions that write: enabled only while this window edits the database."""
        return (self.act_log,)

    def _changes(self, instrument_id: int) -> Changes:
        # Its status and next due may move: the register reloads, and the pane with it.
        return Changes(instruments=True, instrument_ids=frozenset({instrument_id}))

    def log_selected(self) -> None:
        history = self.window.history
        if history is None:
            self.window.status.showMessage("Select an instrument first.", 4000)
            return
        if not self.act_log.isEnabled():
            return  # read-only: the action and the button say so
        d = history.instrument
        service = self.window.app.upkeep

        def submit(data: MaintenanceInput, ok: Ok, fail: Fail) -> None:
            self.window.run_task(
                lambda: service.add(d.asset_tag, data), ok, fail, changes=self._changes(d.id)
            )

        dialog = self.dialog = MaintenanceDialog(
            asset_tag=d.asset_tag,
            today=self.window.app.clock.today(),
            submit=submit,
            parent=self.window.as_widget(),
        )

        def done(result: int) -> None:
            saved: MaintenanceView | None = dialog.saved
            self.dialog = None
            if result and saved is not None:
                what = KIND_LABELS[saved.kind].lower()
                extra = (
                    f"; {saved.asset_tag} is out of use until it is calibrated"
                    if saved.awaiting_calibration
                    else ""
                )
                self.window.status.showMessage(f"Logged M-{saved.id}: {what}{extra}.", 8000)

        open_modal(dialog, done)

    def void(self, event_id: int, version: int) -> None:
        history = self.window.history
        if history is None:
            return
        instrument_id = history.instrument.id
        dialog = ReasonDialog(
            "Void maintenance event",
            f"Void M-{event_id}? It stays in the log, marked void. If it still waits for a "
            "calibration, the instrument's due date and status go back to what they were "
            "before it (unless something else holds it out of service).",
            self.window.as_widget(),
        )

        def answered(result: int) -> None:
            if not result:
                return
            reason, service = dialog.reason, self.window.app.upkeep
            self.window.run_task(
                lambda: service.void(event_id, reason, expected_version=version),
                lambda done: self.window.status.showMessage(f"Voided M-{done.id}.", 6000),
                lambda exc: messages.explain(
                    self.window.as_widget(), exc, doing="voiding the maintenance event"
                ),
                changes=self._changes(instrument_id),
            )

        open_modal(dialog, answered)
