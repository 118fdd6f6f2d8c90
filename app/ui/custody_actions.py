"""Custody in the main window: the Scan box, check-out and check-in, voiding an entry.

A barcode or QR scanner types like a keyboard: the tag, then Enter. The Scan box
(Ctrl+B) takes that (and the tag a CalTrack label's QR code holds), selects the
instrument in the register and offers to check it out, or in when someone has it. The
rules are the custody service's; this module only asks and shows. Every database call
runs off the GUI thread through the window's task runner, and a write announces what
it changed through the one change signal, so the register's "With" column and the
Custody page of the detail pane's Log tab follow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLineEdit, QMenu

from app.errors import ValidationError
from app.services.custody import scanned_tag
from app.services.dto import CustodyCheck, CustodyView
from app.ui import messages
from app.ui.dialogs.custody_dialog import CustodyDialog, CustodyRequest
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.modal import open_modal
from app.ui.tasks import Changes

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.ui.window_api import WindowApi


class CustodyActions(QObject):
    """Creates the custody actions on the window and runs what they start."""

    def __init__(self, window: WindowApi, scan: QLineEdit) -> None:
        super().__init__(window.as_widget())
        self.window = window
        self.scan = scan
        self.act_scan = window.add_action(
            "&Scan tag…",
            self.focus_scan,
            "Ctrl+B",
            "Scan a label or type an asset tag to check the instrument out or in (Ctrl+B)",
        )
        self.act_check = window.add_action(
            "Check &out or in…",
            self.check_selected,
            None,
            "Check the selected instrument out to a person, or back in",
        )
        scan.returnPressed.connect(self.scanned)
        window.detail.void_custody_requested.connect(self.void)

    def fill_menu(self, menu: QMenu) -> None:
        menu.addAction(self.act_scan)
        menu.addAction(self.act_check)

    def editing_actions(self) -> tuple[QAction, ...]:
        return (self.act_check,)

    # -- scanning --------------------------------------------------------------------

    def focus_scan(self) -> None:
        self.scan.setFocus()
        self.scan.selectAll()

    def scanned(self) -> None:
        """The scanner's Enter (or the person's): look the tag up, then offer the dialog."""
        tag = scanned_tag(self.scan.text())
        self.scan.clear()
        if tag:
            self.offer(tag)

    def check_selected(self) -> None:
        history = self.window.history
        if history is None:
            self.window.status.showMessage("Select an instrument first.", 4000)
            return
        self.offer(history.instrument.asset_tag)

    def offer(self, tag: str) -> None:
        service = self.window.app.custody
        window = self.window
        window.run_task(
            lambda: service.check(tag),
            self._show,
            lambda exc: messages.explain(window.as_widget(), exc, doing=f"looking up {tag!r}"),
        )

    def _show(self, check: CustodyCheck) -> None:
        self._select(check.instrument_id)
        service = self.window.app.custody
        window = self.window
        changed = Changes(instruments=True, instrument_ids=frozenset({check.instrument_id}))
        dialog: CustodyDialog | None = None

        def submit(
            request: CustodyRequest,
            ok: Callable[[CustodyView], None],
            fail: Callable[[BaseException], None],
        ) -> None:
            def failed(exc: BaseException) -> None:
                fail(exc)
                if not isinstance(exc, ValidationError) and dialog is not None:
                    messages.explain(dialog, exc, doing=f"saving the custody of {check.asset_tag}")

            if request.check_in:
                job: Callable[[], CustodyView] = lambda: service.check_in(check.asset_tag)  # noqa: E731
            else:
                job = lambda: service.check_out(  # noqa: E731
                    check.asset_tag,
                    holder=request.holder,
                    place=request.place,
                    due_back=request.until.strip() or None,
                    override_reason=request.override_reason,
                )
            window.run_task(job, ok, failed, changes=changed)

        opened = dialog = CustodyDialog(check, submit=submit, parent=window.as_widget())

        def done(_result: int) -> None:
            saved = opened.saved
            if saved is not None:
                if saved.state == "out":
                    text = f"{saved.asset_tag} checked out to {saved.holder}."
                else:
                    text = f"{saved.asset_tag} checked in from {saved.holder}."
                window.status.showMessage(text, 6000)
            # Ready for the next scan.
            self.focus_scan()

        open_modal(opened, done)

    def _select(self, instrument_id: int) -> None:
        """Show the instrument in the register (everything, if the filter hides it)."""
        window = self.window
        row = window.model.row_of(instrument_id)
        if row is not None:
            if window.selected_id == instrument_id:
                window.load_detail(instrument_id)
            window.table.selectRow(row)
            window.table.scrollTo(window.model.index(row, 0))
            return
        window.selected_id = instrument_id
        window.search.blockSignals(True)
        window.search.clear()
        window.search.blockSignals(False)
        window.set_filter(None)

    # -- voiding ---------------------------------------------------------------------

    def void(self, custody_id: int, version: int) -> None:
        window = self.window
        dialog = ReasonDialog(
            "Void custody entry",
            "Why is this check-out void? The entry stays in the history, marked void.",
            window.as_widget(),
        )

        def done(result: int) -> None:
            if not result:
                return
            reason = dialog.reason
            service = window.app.custody
            window.run_task(
                lambda: service.void(custody_id, reason=reason, expected_version=version),
                lambda view: window.status.showMessage(
                    f"Custody entry of {view.asset_tag} voided.", 6000
                ),
                lambda exc: messages.explain(
                    window.as_widget(), exc, doing="voiding the custody entry"
                ),
                changes=Changes(instruments=True),
            )

        open_modal(dialog, done)
