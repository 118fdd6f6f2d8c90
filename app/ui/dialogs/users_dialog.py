"""The account dialogs: users and roles (admins), adding or changing an account, and
one's own printed name (the name printed on signatures).

Every account change is audited by the service and asks for a reason here. Non-admins
see the list read-only, with the admins named, so they know whom to ask.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.errors import ValidationError
from app.limits import SHORT_LEN, USER_LEN
from app.services.accounts import ROLE_NAMES
from app.services.dto import UserView
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout, notice_box
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.modal import open_modal
from app.ui.models.users_table import UsersTableModel
from app.ui.tasks import TaskRunner, run_for

Ok = Callable[[Any], None]
Fail = Callable[[BaseException], None]
# login, printed name, role, reason, ok, fail
AccountSubmit = Callable[[str, str, str, str, Ok, Fail], None]
ROLE_HELP = {
    "technician": "records instruments and calibrations",
    "qa": "also signs records and assesses and closes out-of-tolerance cases",
    "admin": "also manages accounts and releases stale locks",
}


def _busy(button: QPushButton, busy: bool) -> None:
    """While a save runs: its button disabled, the wait cursor shown."""
    button.setEnabled(not busy)
    if busy:
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    else:
        QGuiApplication.restoreOverrideCursor()


class AccountDialog(QDialog):
    """Add an account (login, printed name, role) or change one's role and name."""

    def __init__(
        self,
        *,
        submit: AccountSubmit,
        user: UserView | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._submit = submit
        self.saved: Any = None
        self.setWindowTitle(f"Change {user.login}" if user else "Add an account")
        self.setMinimumWidth(500)
        self.form = ValidatingForm()
        self.login = QLineEdit(user.login if user else "")
        self.login.setMaxLength(USER_LEN)
        self.login.setPlaceholderText("The person's OS login name, as CalTrack shows it")
        self.login.setReadOnly(user is not None)
        self.form.add("login", "&Login:", self.login)
        self.name = QLineEdit(user.display_name if user else "")
        self.name.setMaxLength(SHORT_LEN)
        self.name.setPlaceholderText("Printed on their signatures, e.g. Quinn Q. Reviewer")
        self.form.add("display_name", "&Printed name:", self.name)
        self.role = QComboBox()
        for value, label in ROLE_NAMES.items():
            self.role.addItem(f"{label} — {ROLE_HELP[value]}", value)
        self.role.setCurrentIndex(max(0, self.role.findData(user.role if user else "technician")))
        self.form.add("role", "&Role:", self.role)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why (required, kept in the audit trail)")
        self.form.add("reason", "R&eason:", self.reason)
        self.banner = notice_box()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        for edit in (self.login, self.name, self.reason):
            edit.textChanged.connect(self._update_ok)
        layout = dialog_layout(self)
        layout.addWidget(self.form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self._update_ok()
        (self.name if user else self.login).setFocus()

    def _update_ok(self) -> None:
        filled = all(e.text().strip() for e in (self.login, self.name, self.reason))
        self.ok.setEnabled(filled)

    def _save(self) -> None:
        if not self.ok.isEnabled():
            return
        _busy(self.ok, True)
        self._submit(
            self.login.text().strip(),
            self.name.text().strip(),
            str(self.role.currentData()),
            self.reason.text().strip(),
            self._saved,
            self._failed,
        )

    def _saved(self, result: Any) -> None:
        _busy(self.ok, False)
        self.saved = result
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        _busy(self.ok, False)
        if isinstance(exc, ValidationError):
            rest = self.form.show_errors(exc.fields)
            self.banner.setText("\n".join(rest))
            self.banner.setVisible(bool(rest))
            return
        messages.explain(self, exc, doing="saving the account")


class PrintedNameDialog(QDialog):
    """One's own printed name: what every signature of theirs shows."""

    def __init__(
        self,
        *,
        me: UserView,
        submit: Callable[[str, Ok, Fail], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._submit = submit
        self.saved: Any = None
        self.setWindowTitle("My printed name")
        self.setMinimumWidth(460)
        intro = QLabel(
            f"The name printed with your login ({me.login}) on every signature you give in this "
            "database, e.g. “Approved by Quinn Q. Reviewer (quinn) on …”. Signatures already "
            "given keep the name they were given with."
        )
        intro.setWordWrap(True)
        self.form = ValidatingForm()
        self.name = QLineEdit(me.display_name)
        self.name.setMaxLength(SHORT_LEN)
        self.form.add("display_name", "&Printed name:", self.name)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        self.name.textChanged.connect(lambda text: self.ok.setEnabled(bool(text.strip())))
        layout = dialog_layout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(self.buttons)
        self.name.selectAll()

    def _save(self) -> None:
        if not self.ok.isEnabled():
            return
        _busy(self.ok, True)
        self._submit(self.name.text().strip(), self._saved, self._failed)

    def _saved(self, result: Any) -> None:
        _busy(self.ok, False)
        self.saved = result
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        _busy(self.ok, False)
        if isinstance(exc, ValidationError):
            rest = self.form.show_errors(exc.fields)
            if rest:
                messages.explain(self, exc, doing="saving your printed name")
            return
        messages.explain(self, exc, doing="saving your printed name")


class UsersDialog(QDialog):
    """The accounts of this database; admins add, change, deactivate and reset them."""

    accounts_changed = Signal()

    def __init__(
        self,
        *,
        app: CalTrack,
        runner: TaskRunner,
        editing: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._app = app
        self._runner = runner
        self._editing = editing
        self.me: UserView | None = None
        self.admins: list[str] = []
        self.setWindowTitle("Users and roles")
        self.resize(760, 440)

        self.model = UsersTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Accounts")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update_buttons())
        self.table.doubleClicked.connect(lambda _i: self.change_role())

        self.note = QLabel("Loading the accounts…")
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Who may change accounts")
        honest = QLabel(
            "Logins without an account work as technicians. On a shared database file, roles "
            "guard against mistakes, not against someone determined: anyone who can write "
            "the folder can change the file (the audit trail makes that detectable)."
        )
        honest.setWordWrap(True)

        self.add_button = QPushButton("&Add…")
        self.role_button = QPushButton("&Change role…")
        self.active_button = QPushButton("&Deactivate…")
        self.reset_button = QPushButton("&Reset signing password…")
        self.reset_button.setToolTip(
            "Clear the selected person's signing password (for a forgotten or locked one); "
            "they set a new one before signing again"
        )
        self.add_button.clicked.connect(self.add)
        self.role_button.clicked.connect(self.change_role)
        self.active_button.clicked.connect(self.toggle_active)
        self.reset_button.clicked.connect(self.reset_password)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.role_button, self.active_button, self.reset_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(honest)
        layout.addWidget(close)
        self._update_buttons()
        self.reload()

    # -- loading ---------------------------------------------------------------------

    def _run(self, fn: Callable[[], Any], done: Ok, fail: Fail) -> None:
        run_for(self, self._runner, fn, done, fail)

    def reload(self) -> None:
        accounts = self._app.accounts

        def load() -> tuple[UserView, list[UserView], list[str]]:
            return accounts.me(), accounts.list(), accounts.admins()

        self._run(
            load,
            self._loaded,
            lambda exc: messages.explain(self, exc, doing="loading the accounts"),
        )

    def _loaded(self, result: tuple[UserView, list[UserView], list[str]]) -> None:
        selected = self.selected()
        self.me, users, self.admins = result
        self.model.set_users(users)
        if selected is not None:
            row = self.model.row_of(selected.login)
            if row is not None:
                self.table.selectRow(row)
        self._show_state()

    def _show_state(self) -> None:
        if self.me is None:
            raise RuntimeError("the accounts dialog showed its state before loading the user")
        admins = ", ".join(self.admins) or "nobody yet"
        if not self.is_admin():
            role = ROLE_NAMES.get(self.me.role, self.me.role).lower()
            self.note.setText(
                f"You ({self.me.login}) are a {role}: only admins change accounts. "
                f"Admins here: {admins}."
            )
        elif not self._editing:
            self.note.setText(
                "Read-only: another session edits this database, so accounts cannot be changed "
                f"from here now. Admins here: {admins}."
            )
        else:
            self.note.setText(f"You are an admin. Admins here: {admins}.")
        self._update_buttons()

    # -- state -----------------------------------------------------------------------

    def is_admin(self) -> bool:
        return self.me is not None and self.me.active and self.me.role == "admin"

    def set_editing(self, editing: bool) -> None:
        self._editing = editing
        if self.me is not None:
            self._show_state()

    def selected(self) -> UserView | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.user_at(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        may = self.is_admin() and self._editing
        user = self.selected()
        self.add_button.setEnabled(may)
        for button in (self.role_button, self.active_button, self.reset_button):
            button.setEnabled(may and user is not None)
        self.active_button.setText(
            "Re&activate…" if user is not None and not user.active else "&Deactivate…"
        )
        self.reset_button.setEnabled(may and user is not None and user.has_signing_password)
        why = "" if may else "Only admins, while editing, change accounts"
        tips = {
            self.add_button: "Give a login a role and a printed name",
            self.role_button: "Change the selected account's role or printed name",
            self.active_button: "Deactivate the selected account (it keeps its history), "
            "or reactivate it",
        }
        for button, tip in tips.items():
            button.setStatusTip(why)
            button.setToolTip(why or tip)

    # -- changes ---------------------------------------------------------------------

    def _account_dialog(self, user: UserView | None) -> None:
        accounts = self._app.accounts
        dialog: AccountDialog | None = None

        def submit(login: str, name: str, role: str, reason: str, ok: Ok, fail: Fail) -> None:
            self._run(
                lambda: accounts.set_role(login, role, display_name=name, reason=reason), ok, fail
            )

        dialog = AccountDialog(submit=submit, user=user, parent=self)

        def done(result: int) -> None:
            if result and dialog.saved is not None:
                self._changed()

        open_modal(dialog, done)

    def add(self) -> None:
        if self.is_admin() and self._editing:
            self._account_dialog(None)

    def change_role(self) -> None:
        user = self.selected()
        if user is not None and self.is_admin() and self._editing:
            self._account_dialog(user)

    def toggle_active(self) -> None:
        user = self.selected()
        if user is None or not (self.is_admin() and self._editing):
            return
        verb = "Reactivate" if not user.active else "Deactivate"
        effect = (
            "They work with their role again."
            if not user.active
            else "They can no longer sign or change anything; their history stays."
        )
        accounts = self._app.accounts
        login, active = user.login, not user.active

        def change(reason: str) -> None:
            self._run(
                lambda: accounts.set_active(login, active, reason=reason),
                lambda _v: self._changed(),
                lambda exc: messages.explain(self, exc, doing=f"changing {login}"),
            )

        self._ask_reason(f"{verb} {user.login}", f"{verb} {user.login}? {effect}", change)

    def reset_password(self) -> None:
        user = self.selected()
        if user is None or not (self.is_admin() and self._editing):
            return
        accounts = self._app.accounts
        login = user.login

        def reset(reason: str) -> None:
            self._run(
                lambda: accounts.reset_signing_password(login, reason=reason),
                lambda _v: self._changed(),
                lambda exc: messages.explain(self, exc, doing=f"resetting the password of {login}"),
            )

        self._ask_reason(
            f"Reset the signing password of {user.login}",
            f"Clear the signing password of {user.display_name} ({user.login})? They cannot "
            "sign until they set a new one (QA → My signing password).",
            reset,
        )

    def _ask_reason(self, title: str, prompt: str, then: Callable[[str], None]) -> None:
        """Asks why (window-modal); ``then`` gets the reason once given (not if cancelled)."""
        dialog = ReasonDialog(title, prompt, self)

        def done(result: int) -> None:
            if result:
                then(dialog.reason)

        open_modal(dialog, done)

    def _changed(self) -> None:
        self.accounts_changed.emit()
        self.reload()
