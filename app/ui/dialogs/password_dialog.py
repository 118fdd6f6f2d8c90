"""Set or change one's own signing password: the rules shown, two entries that must match."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from app.errors import ValidationError
from app.services.dto import UserView
from app.services.passwords import MIN_LENGTH, password_problem
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout, notice_box

# new password, current password (None when there is none yet), ok, fail
PasswordSubmit = Callable[
    [str, str | None, Callable[[Any], None], Callable[[BaseException], None]], None
]
RULES = (
    f"At least {MIN_LENGTH} characters and not your login name; a phrase of a few words is "
    "easy to remember and hard to guess. It is only for signing, and only you should know "
    "it: CalTrack keeps a salted scrypt hash of it, never the password itself. Five wrong "
    "attempts in a row lock it until an admin resets it."
)


def _password_edit(name: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setEchoMode(QLineEdit.EchoMode.Password)
    edit.setAccessibleName(name)
    return edit


class SigningPasswordDialog(QDialog):
    """Current password (when one is set), the new one twice; OK once they agree."""

    def __init__(
        self, *, me: UserView, submit: PasswordSubmit, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._me = me
        self._submit = submit
        self._busy_now = False
        self.saved: Any = None
        changing = me.has_signing_password
        self.setWindowTitle("Change my signing password" if changing else "Set my signing password")
        self.setMinimumWidth(520)
        intro = QLabel(
            f"Signing password of <b>{html.escape(me.display_name)}</b> ({html.escape(me.login)}) "
            "for this database."
            + (
                ""
                if changing
                else "<br>You have none yet: set one before you sign records or close cases."
            )
        )
        intro.setWordWrap(True)
        self.rules = QLabel(RULES)
        self.rules.setWordWrap(True)
        self.rules.setAccessibleName("Password rules")

        self.form = ValidatingForm()
        self.current = _password_edit("Current signing password")
        if changing:
            self.form.add("current_password", "&Current password:", self.current)
        self.new = _password_edit("New signing password")
        self.form.add("password", "&New password:", self.new)
        self.repeat = _password_edit("Repeat the new password")
        self.form.add("repeat", "&Repeat it:", self.repeat)
        for edit in (self.current, self.new, self.repeat):
            edit.textChanged.connect(self._check)

        self.banner = notice_box()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("&Set password")
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout = dialog_layout(self)
        layout.addWidget(intro)
        layout.addWidget(self.rules)
        layout.addWidget(self.form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self._check()
        (self.current if changing else self.new).setFocus()

    def _local_errors(self) -> dict[str, str]:
        """What can be said while typing, without asking the database."""
        errors: dict[str, str] = {}
        new, repeat = self.new.text(), self.repeat.text()
        if new:
            problem = password_problem(new, self._me.login)
            if problem:
                errors["password"] = problem
        if repeat and new != repeat:
            errors["repeat"] = "the two entries differ"
        return errors

    def _check(self) -> None:
        errors = self._local_errors()
        # Only the rule broken by what is typed: no nagging about empty fields.
        for name, row in self.form.rows.items():
            row.set_error(errors.get(name))
        complete = bool(self.new.text()) and self.new.text() == self.repeat.text()
        if self._me.has_signing_password:
            complete = complete and bool(self.current.text())
        self.ok.setEnabled(complete and not errors and not self._busy_now)

    def _busy(self, busy: bool) -> None:
        self._busy_now = busy
        if busy:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        else:
            QGuiApplication.restoreOverrideCursor()
        self._check()

    def _save(self) -> None:
        if not self.ok.isEnabled():
            return
        current = self.current.text() if self._me.has_signing_password else None
        self.banner.hide()
        self._busy(True)
        self._submit(self.new.text(), current, self._saved, self._failed)

    def _saved(self, result: Any) -> None:
        self._busy(False)
        self.saved = result
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        if isinstance(exc, ValidationError):
            if "current_password" in exc.fields:
                self.current.clear()
            rest = self.form.show_errors(exc.fields)
            self.banner.setText("\n".join(rest))
            self.banner.setVisible(bool(rest))
            return
        self.banner.setText("Not changed — your signing password is as it was.")
        self.banner.show()
        messages.explain(self, exc, doing="setting the signing password")
