"""The QA part of the main window: the QA menu's actions and their flows.

Signing, correcting and superseding calibration records, the out-of-tolerance case
window, one's signing password and printed name, users and roles, and the status bar's
"n open OOT cases" and "login · role". Given the main window, it hooks into it with a
few lines there; every database call runs off the GUI thread through the window's task
runner, and only the callbacks touch widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QLabel, QMenu, QWidget

from app.errors import ConflictError, NotFoundError
from app.services.accounts import ROLE_NAMES, ROLE_RANK
from app.services.dto import (
    CalibrationInput,
    CalibrationView,
    CheckView,
    Traceability,
    UserView,
)
from app.services.point_entry import EntryRules
from app.services.standard_uncertainty import StandardUncertainty
from app.ui import messages
from app.ui.dialogs import oot_dialogs
from app.ui.dialogs.calibration_dialog import CalibrationDialog, already_saved_text
from app.ui.dialogs.conflict_dialog import reapply_mine, resolve_conflict
from app.ui.dialogs.oot_dialogs import OotWindow, signer_ready
from app.ui.dialogs.password_dialog import SigningPasswordDialog
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.dialogs.record_edit_dialog import RecordEditDialog
from app.ui.dialogs.sign_dialog import SignDialog
from app.ui.dialogs.users_dialog import PrintedNameDialog, UsersDialog
from app.ui.look import icon
from app.ui.modal import open_modal
from app.ui.tasks import Changes

if TYPE_CHECKING:
    from app.ui.window_api import WindowApi

Ok = Callable[[Any], None]
Fail = Callable[[BaseException], None]
# A signature, correction or supersede moves a record, its instrument and maybe a case.
RECORDS_CHANGED = Changes(calibrations=True, cases=True)


def bring_to_front(widget: QWidget) -> None:
    # The offscreen platform (tests, screenshots) has no window stacking and says so.
    if QGuiApplication.platformName() != "offscreen":
        widget.raise_()
        widget.activateWindow()


class QaActions(QObject):
    """Creates the QA actions on the window and runs what they start."""

    def __init__(self, window: WindowApi) -> None:
        super().__init__(window.as_widget())
        self.window = window
        self.me: UserView | None = None
        self.open_cases = 0
        self.oot_window: OotWindow | None = None
        self.case_notice: messages.Box | None = None
        self.users_dialog: UsersDialog | None = None

        self.act_sign = window.add_action(
            "&Sign calibration…",
            self.sign_selected,
            "Ctrl+Shift+S",
            "Sign the calibration selected in the history (QA)",
        )
        self.act_correct = window.add_action(
            "C&orrect calibration…",
            self.correct_selected,
            "Ctrl+Shift+E",
            "Correct the details of the selected, unsigned calibration",
        )
        self.act_supersede = window.add_action(
            "Su&persede calibration…",
            self.supersede_selected,
            None,
            "Replace the selected calibration by a corrected one",
        )
        self.act_oot = window.add_action(
            "&Out-of-tolerance cases…",
            self.show_oot_window,
            "Ctrl+Shift+O",
            "Assess and close out-of-tolerance cases (Ctrl+Shift+O)",
        )
        self.act_password = window.add_action(
            "My signing &password…", self.set_signing_password, None, "Set or change it"
        )
        self.act_name = window.add_action(
            "My printed &name…", self.set_printed_name, None, "The name on your signatures"
        )
        self.act_users = window.add_action(
            "&Users and roles…", self.show_users, None, "Accounts and roles (admins change them)"
        )
        self.act_clear_review = window.add_action(
            "Clear &review flag…",
            self.clear_review,
            None,
            "QA: the selected instrument's data has been reviewed; clear its flag with a reason",
        )
        self.act_clear_review.setIcon(icon("status-to-review"))
        # Every action that writes follows the window's editing state; the detail pane's
        # and the case window's buttons follow it too.
        self.act_sign.enabledChanged.connect(self._editing_changed)

        detail = window.detail
        detail.sign_calibration_requested.connect(self.sign)
        detail.correct_calibration_requested.connect(self.correct)
        detail.supersede_calibration_requested.connect(self.supersede)
        detail.oot_case_requested.connect(self.show_oot_window)
        detail.traceability_wanted.connect(self.load_traceability)
        detail.instrument_wanted.connect(self.select_instrument)
        detail.clear_review_requested.connect(self.clear_review)

        self.user_label = QLabel()
        self.user_label.setAccessibleName("You and your role")
        self.oot_label = QLabel()
        self.oot_label.setAccessibleName("Open out-of-tolerance cases")
        self.oot_label.setToolTip("Open the out-of-tolerance cases (Ctrl+Shift+O)")
        self.oot_label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.oot_label.linkActivated.connect(lambda _link: self.show_oot_window())
        self.oot_label.hide()
        window.as_widget().installEventFilter(self)

    # -- wiring ----------------------------------------------------------------------

    def fill_menu(self, menu: QMenu) -> None:
        for act in (self.act_sign, self.act_correct, self.act_supersede):
            menu.addAction(act)
        menu.addSeparator()
        menu.addAction(self.act_oot)
        menu.addSeparator()
        menu.addAction(self.act_password)
        menu.addAction(self.act_name)

    def editing_actions(self) -> tuple[QAction, ...]:
        return (
            self.act_sign,
            self.act_correct,
            self.act_supersede,
            self.act_password,
            self.act_name,
        )

    def start(self) -> None:
        """Once the status bar exists: show who works here, and the open cases."""
        status = self.window.status
        status.addPermanentWidget(self.oot_label)
        status.addPermanentWidget(self.user_label)
        # The list reloads after every change, refresh and filter: read ours with it.
        self.window.model.modelReset.connect(self.refresh_status)
        self.refresh_status()

    def _editing(self) -> bool:
        return self.window.app.session.editing

    def _editing_changed(self, editing: bool) -> None:
        self.window.detail.set_editing(editing)
        self.update_review()
        if self.oot_window is not None:
            self.oot_window.set_editing(editing)
        if self.users_dialog is not None:
            self.users_dialog.set_editing(editing)

    def refresh_status(self) -> None:
        accounts, oot = self.window.app.accounts, self.window.app.oot

        def read() -> tuple[UserView, int]:
            return accounts.me(), oot.open_count()

        self.window.run_task(read, self._status_read, lambda exc: None, key="qa-status")

    def _status_read(self, result: tuple[UserView, int]) -> None:
        self.me, self.open_cases = result
        me = self.me
        role = ROLE_NAMES.get(me.role, me.role)
        self.user_label.setText(f"{me.login} · {role.lower()}" + ("" if me.active else " (off)"))
        self.user_label.setToolTip(
            f"{me.display_name} ({me.login}), {role}"
            + ("" if me.known else " — no account: working as a technician")
            + ("" if me.active else " — account deactivated")
        )
        n = self.open_cases
        self.oot_label.setText(
            f"<a href='oot'>{n} open OOT case{'s' if n != 1 else ''}</a>" if n else ""
        )
        self.oot_label.setVisible(n > 0)
        self.update_review()

    def role_line(self) -> str:
        """For the About dialog."""
        if self.me is None:
            return "Role: not read yet"
        me = self.me
        extra = "" if me.known else " (no account: the default)"
        return f"Role: {ROLE_NAMES.get(me.role, me.role)}{extra}, printed name {me.display_name}"

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.window.as_widget()
            and event.type() == QEvent.Type.Close
            and self.oot_window is not None
            and self.oot_window.unsaved_cases()
        ):
            cases = ", ".join(f"OOT-{c}" for c in self.oot_window.unsaved_cases())
            if not oot_dialogs.ask_discard(
                self.window.as_widget(),
                f"The assessment of {cases} is not saved. Quit and lose it?",
            ):
                event.ignore()
                self.show_oot_window(self.oot_window.unsaved_cases()[0])
                return True
        return False

    # -- helpers ---------------------------------------------------------------------

    def _record(self, record_id: int) -> CalibrationView | None:
        history = self.window.history
        if history is None:
            return None
        return next((c for c in history.calibrations if c.id == record_id), None)

    def _selected(self) -> CalibrationView | None:
        selected = self.window.detail.selected_calibration()
        if selected is None or selected.voided:
            self.window.status.showMessage(
                "Select a calibration (not a voided one) in the Calibrations tab first.", 4000
            )
            return None
        return selected

    def _with_me(self, then: Callable[[UserView], None], doing: str) -> None:
        """Read the current user afresh (an admin may have changed the role), then go on."""
        accounts = self.window.app.accounts

        def got(me: UserView) -> None:
            self.me = me
            then(me)

        self.window.run_task(
            accounts.me,
            got,
            lambda exc: messages.explain(self.window.as_widget(), exc, doing=doing),
        )

    def _reload_detail(self) -> None:
        self.window.reload_ids()

    # -- the data-to-review flag -------------------------------------------------------

    def update_review(self) -> None:
        """Offer "Clear review flag…" only to QA, while editing, for a flagged instrument."""
        history = self.window.history
        flagged = history is not None and bool(history.instrument.review_reason)
        me = self.me
        if not flagged:
            allowed, why = False, "The selected instrument has no data flagged for review"
        elif not self._editing():
            allowed, why = False, "Read-only: another session edits this database"
        elif me is None or not me.active or ROLE_RANK[me.role] < ROLE_RANK["qa"]:
            allowed, why = False, "Only QA reviewers may clear a review flag"
        else:
            allowed, why = True, "The data has been reviewed: clear the flag with a reason"
        self.act_clear_review.setEnabled(allowed)
        self.window.detail.set_may_clear_review(allowed, why)

    def clear_review(self) -> None:
        history = self.window.history
        if history is None or not history.instrument.review_reason:
            self.window.status.showMessage("The selected instrument has nothing to review.", 4000)
            return
        d = history.instrument
        dialog = ReasonDialog(
            "Clear review flag",
            f"{d.asset_tag} — data to review: {d.review_reason}\n\nClear the flag? Say what "
            "you checked; the audit trail keeps it with the flag's text.",
            self.window.as_widget(),
        )

        def answered(result: int) -> None:
            if not result:
                return
            reason, service = dialog.reason, self.window.app.instruments
            self.window.run_task(
                lambda: service.clear_review(d.asset_tag, reason, expected_version=d.version),
                lambda done: self.window.status.showMessage(
                    f"Review flag of {done.asset_tag} cleared.", 6000
                ),
                lambda exc: messages.explain(
                    self.window.as_widget(), exc, doing="clearing the review flag"
                ),
                changes=Changes(instruments=True, instrument_ids=frozenset({d.id})),
            )

        open_modal(dialog, answered)

    # -- signing ---------------------------------------------------------------------

    def sign_selected(self) -> None:
        selected = self._selected()
        if selected is not None:
            self.sign(selected.id)

    def sign(self, record_id: int) -> None:
        record = self._record(record_id)
        if record is None or record.voided:
            return
        self._with_me(lambda me: self._sign_as(record, me), "reading your account")

    def _sign_as(self, record: CalibrationView, me: UserView) -> None:
        if not signer_ready(self.window.as_widget(), me, "sign calibration records"):
            return
        service = self.window.app.signatures
        history = self.window.history
        description = history.instrument.description if history is not None else ""

        def submit(meaning: str, comment: str, password: str, ok: Ok, fail: Fail) -> None:
            self.window.run_task(
                lambda: service.sign_record(
                    record.id,
                    meaning=meaning,
                    password=password,
                    comment=comment,
                    expected_version=record.version,
                ),
                ok,
                fail,
                changes=RECORDS_CHANGED,
            )

        dialog = SignDialog(
            record=record,
            signer=me,
            submit=submit,
            description=description,
            parent=self.window.as_widget(),
        )

        def done(result: int) -> None:
            if result and dialog.signature is not None:
                self.window.status.showMessage(
                    f"Calibration #{record.id}: {dialog.signature.manifestation}.", 8000
                )

        open_modal(dialog, done)

    # -- correcting ------------------------------------------------------------------

    def correct_selected(self) -> None:
        selected = self._selected()
        if selected is not None:
            self.correct(selected.id)

    def correct(self, record_id: int) -> None:
        record = self._record(record_id)
        if record is None or record.voided:
            return
        if record.signed:
            messages.info(
                self.window.as_widget(),
                "Signed record",
                f"Calibration #{record.id} is signed and can no longer be corrected.",
                "Supersede it with a corrected record instead (QA → Supersede calibration…).",
            )
            return
        service = self.window.app.calibrations
        dialog: RecordEditDialog | None = None

        def submit(changes: dict[str, Any], version: int, ok: Ok, fail: Fail) -> None:
            if dialog is None:
                raise RuntimeError("the record dialog called back before it was built")
            reason = dialog.reason_text
            self.window.run_task(
                lambda: service.edit(record.id, changes, reason=reason, expected_version=version),
                ok,
                fail,
                changes=RECORDS_CHANGED,
            )

        def conflict(exc: ConflictError, mine: dict[str, Any]) -> None:
            if dialog is None:
                raise RuntimeError("the record dialog called back before it was built")
            self._resolve_record_conflict(dialog, record, exc, mine)

        dialog = RecordEditDialog(
            record=record, submit=submit, on_conflict=conflict, parent=self.window.as_widget()
        )

        def done(result: int) -> None:
            if result and dialog.saved is not None:
                self.window.status.showMessage(f"Calibration #{record.id} corrected.", 5000)

        open_modal(dialog, done)

    def _resolve_record_conflict(
        self,
        dialog: RecordEditDialog,
        record: CalibrationView,
        exc: ConflictError,
        mine: dict[str, Any],
    ) -> None:
        def keep_theirs() -> None:
            dialog.reject()
            self._reload_detail()

        resolve_conflict(
            exc,
            mine,
            parent=dialog,
            cancel=lambda: dialog.show_banner(
                "Not saved yet: the record changed under you. Your entries are kept."
            ),
            keep_theirs=keep_theirs,
            reapply_mine=lambda: self._reload_and_reapply(dialog, record, mine),
        )

    def _reload_and_reapply(
        self, dialog: RecordEditDialog, record: CalibrationView, mine: dict[str, Any]
    ) -> None:
        service = self.window.app.calibrations
        record_id = record.id

        def fresh() -> CalibrationView | None:
            try:
                return service.get(record_id)
            except NotFoundError:
                return None

        def reapply(view: CalibrationView | None) -> None:
            if view is None or view.voided or view.signed:
                state = "voided" if view is None or view.voided else "signed"
                dialog.show_banner(
                    f"Not saved: calibration #{record_id} is {state} now and can no longer be "
                    "corrected. Cancel, and supersede it if it is still wrong."
                )
                return
            dialog.load(view)
            reapply_mine(dialog, mine)

        self.window.run_task(
            fresh,
            reapply,
            lambda err: messages.explain(dialog, err, doing="reloading the calibration"),
        )

    # -- superseding -----------------------------------------------------------------

    def supersede_selected(self) -> None:
        selected = self._selected()
        if selected is not None:
            self.supersede(selected.id)

    def supersede(self, record_id: int) -> None:
        record = self._record(record_id)
        history = self.window.history
        if record is None or record.voided or history is None:
            return
        if record.signed and self.me is not None and not self.me.may_sign:
            messages.warn(
                self.window.as_widget(),
                "Not allowed",
                f"Calibration #{record.id} is signed: only QA reviewers and admins may "
                f"supersede it; you ({self.me.login}) are a technician.",
                "Ask QA to supersede it, or an admin for the QA role (Database → Users and roles).",
            )
            return
        instruments = self.window.app.instruments
        detail = history.instrument
        calibrations = self.window.app.calibrations

        def load() -> tuple[list[str], EntryRules]:
            # The standards to offer, and what the grid judges by (the record keeps its
            # own rule; the lab's minimum TUR, the instrument's range and resolution).
            tags = [r.asset_tag for r in instruments.list(limit=None, sort="asset_tag").rows]
            return tags, calibrations.entry_rules(detail.asset_tag)

        self.window.run_task(
            load,
            lambda loaded: self._supersede_dialog(record, detail, *loaded),
            lambda exc: messages.explain(
                self.window.as_widget(), exc, doing="opening the supersede form"
            ),
        )

    def _supersede_dialog(
        self, record: CalibrationView, detail: Any, tags: list[str], rules: EntryRules
    ) -> None:
        service = self.window.app.calibrations
        version = [record.version]
        dialog: CalibrationDialog | None = None

        def submit(data: CalibrationInput, ok: Ok, fail: Fail) -> None:
            if dialog is None:
                raise RuntimeError("the supersede dialog called back before it was built")
            reason = dialog.supersede_reason.text().strip()
            expected = version[0]

            def failed(exc: BaseException) -> None:
                fail(exc)
                if isinstance(exc, ConflictError) and dialog is not None:
                    # Saving again supersedes the version now stored, knowingly.
                    version[0] = exc.theirs.version
                    who = exc.theirs.changed_by or "someone else"
                    dialog.banner.setText(
                        f"Not saved: calibration #{record.id} was changed by {who} since you "
                        "opened it. Your entries are kept; check the history, then Save again "
                        "to supersede the version now stored."
                    )
                    dialog.banner.show()

            self.window.run_task(
                lambda: service.supersede(
                    record.id, data, reason=reason, expected_version=expected
                ),
                ok,
                failed,
                changes=RECORDS_CHANGED,
            )

        dialog = CalibrationDialog(
            instrument=detail,
            today=self.window.app.clock.today(),
            user=self.window.app.identity.user,
            standard_tags=tags,
            submit=submit,
            check_standards=lambda tags, day, done: self.check_standards(
                tags, day, done, instrument=detail.asset_tag
            ),
            offer_uncertainty=self.standard_uncertainties,
            supersede=record,
            rules=rules,
            parent=self.window.as_widget(),
        )

        def done(result: int) -> None:
            if result and dialog.saved is not None:
                new: CalibrationView = dialog.saved
                self.window.detail.pending_record = new.id
                self.window.status.showMessage(
                    already_saved_text(new)
                    if new.already_saved
                    else f"Calibration #{record.id} superseded by #{new.id} (now voided).",
                    6000,
                )
                self.calibration_saved(new)

        open_modal(dialog, done)

    # -- calibration dialog hooks ----------------------------------------------------

    def check_standards(
        self,
        tags: list[str],
        day: date,
        done: Callable[[dict[str, str]], None],
        *,
        instrument: str = "",
    ) -> None:
        """For the calibration dialog: the standards' problems on that day (and the
        categories ``instrument``'s type requires that they lack), off the GUI thread;
        a failed check shows nothing (saving applies the rule anyway)."""
        service = self.window.app.calibrations
        self.window.run_task(
            lambda: service.standard_problems(tags, day, instrument=instrument),
            done,
            lambda exc: None,
            key="standard-problems",
        )

    def standard_uncertainties(
        self, tags: list[str], day: date, done: Callable[[list[StandardUncertainty]], None]
    ) -> None:
        """For the calibration dialog: what each standard offers as U on that day, off
        the GUI thread; a failed look-up offers nothing (the person types U)."""
        service = self.window.app.calibrations
        self.window.run_task(
            lambda: service.standard_uncertainties(tags, day),
            done,
            lambda exc: None,
            key="standard-uncertainties",
        )

    def calibration_saved(self, view: CalibrationView) -> None:
        """After a calibration was recorded: offer its out-of-tolerance case, if it opened one."""
        if view.oot_case_id is None:
            return
        case_id = view.oot_case_id
        self.case_notice = messages.choose(
            self.window.as_widget(),
            "Out-of-tolerance case opened",
            f"Calibration #{view.id} found {view.asset_tag} out of tolerance: case "
            f"OOT-{case_id} is open. QA assesses what it may have affected as a standard.",
            [
                (f"Open OOT-{case_id}", messages.Role.AcceptRole),
                ("Later", messages.Role.RejectRole),
            ],
            lambda chosen: self.show_oot_window(case_id) if chosen == 0 else None,
            icon=messages.Icon.Warning,
            detail=f"{view.asset_tag} stays out of service until QA closes the case."
            if view.as_found_failed or view.result == "fail"
            else "",
            object_name="ootNotice",
        )
        self.refresh_status()

    def check_saved(self, view: CheckView) -> None:
        """After an intermediate check was recorded: offer the case a failing one opened,
        as after a failing calibration."""
        if view.oot_case_id is None:
            return
        case_id = view.oot_case_id
        self.case_notice = messages.choose(
            self.window.as_widget(),
            "Out-of-tolerance case opened",
            f"Intermediate check #{view.id} on {view.performed_on} found {view.asset_tag} "
            f"out of its limits: case OOT-{case_id} is open. QA assesses what it may have "
            "affected as a standard.",
            [
                (f"Open OOT-{case_id}", messages.Role.AcceptRole),
                ("Later", messages.Role.RejectRole),
            ],
            lambda chosen: self.show_oot_window(case_id) if chosen == 0 else None,
            icon=messages.Icon.Warning,
            detail=f"{view.asset_tag} stays out of service until QA closes the case.",
            object_name="ootNotice",
        )
        self.refresh_status()

    # -- out-of-tolerance cases ------------------------------------------------------

    def show_oot_window(self, case_id: int | None = None) -> None:
        if self.oot_window is None:
            window = OotWindow(
                app=self.window.app,
                runner=self.window.runner,
                editing=self._editing(),
                parent=self.window.as_widget(),
            )
            window.instrument_wanted.connect(self.select_instrument)
            self.oot_window = window
        if case_id is not None:
            self.oot_window.show_case_id(case_id)
        else:
            self.oot_window.reload()
        self.oot_window.show()
        bring_to_front(self.oot_window)

    # -- traceability and the register -----------------------------------------------

    def load_traceability(self, tag: str) -> None:
        service = self.window.app.calibrations

        def shown(trace: Traceability) -> None:
            self.window.detail.show_traceability(trace)

        self.window.run_task(
            lambda: service.traceability(tag),
            shown,
            lambda exc: messages.explain(
                self.window.as_widget(), exc, doing="loading the traceability"
            ),
            key="traceability",
        )

    def select_instrument(self, tag: str) -> None:
        """Show an instrument in the register (from a traceability or an affected row)."""
        instruments = self.window.app.instruments
        window = self.window

        def found(instrument_id: int) -> None:
            bring_to_front(window.as_widget())
            row = window.model.row_of(instrument_id)
            if row is not None:
                if window.selected_id == instrument_id:
                    window.load_detail(instrument_id)  # already shown: show it afresh
                window.table.selectRow(row)
                window.table.scrollTo(window.model.index(row, 0))
                return
            # Not in this filter or search: show everything, then it gets selected.
            window.selected_id = instrument_id
            window.search.blockSignals(True)
            window.search.clear()
            window.search.blockSignals(False)
            window.set_filter(None)

        window.run_task(
            lambda: instruments.get(tag).id,
            found,
            lambda exc: messages.explain(window.as_widget(), exc, doing=f"finding {tag}"),
        )

    # -- accounts --------------------------------------------------------------------

    def set_signing_password(self) -> None:
        self._with_me(self._password_dialog, "reading your account")

    def _password_dialog(self, me: UserView) -> None:
        accounts = self.window.app.accounts

        def submit(new: str, current: str | None, ok: Ok, fail: Fail) -> None:
            self.window.run_task(
                lambda: accounts.set_signing_password(new, current=current), ok, fail
            )

        dialog = SigningPasswordDialog(me=me, submit=submit, parent=self.window.as_widget())

        def done(result: int) -> None:
            if result and dialog.saved is not None:
                self.window.status.showMessage("Signing password set.", 5000)
                self.refresh_status()

        open_modal(dialog, done)

    def set_printed_name(self) -> None:
        self._with_me(self._name_dialog, "reading your account")

    def _name_dialog(self, me: UserView) -> None:
        accounts = self.window.app.accounts

        def submit(name: str, ok: Ok, fail: Fail) -> None:
            self.window.run_task(lambda: accounts.set_display_name(name), ok, fail)

        dialog = PrintedNameDialog(me=me, submit=submit, parent=self.window.as_widget())

        def done(result: int) -> None:
            if result and dialog.saved is not None:
                self.window.status.showMessage(
                    f"Your signatures now show “{dialog.saved.display_name}”.", 5000
                )
                self.refresh_status()

        open_modal(dialog, done)

    def show_users(self) -> None:
        dialog = UsersDialog(
            app=self.window.app,
            runner=self.window.runner,
            editing=self._editing(),
            parent=self.window.as_widget(),
        )
        dialog.accounts_changed.connect(self.refresh_status)
        self.users_dialog = dialog

        def closed(_result: int) -> None:
            self.users_dialog = None

        open_modal(dialog, closed)
