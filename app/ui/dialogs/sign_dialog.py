"""Sign a calibration record (21 CFR Part 11): what is signed, its meaning, the password.

The dialog shows exactly what the signature will cover, who signs, and what signing
means (11.50, 11.100), and asks for the signer's own signing password. ``SigningBox`` is
the signer-and-password part, shared with closing an out-of-tolerance case.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import NotAllowedError, ValidationError
from app.services.accounts import ROLE_NAMES
from app.services.dto import CalibrationView, SignatureView, UserView
from app.ui import messages
from app.ui.detail_pane import readings_summary
from app.ui.dialogs.form import FieldRow, dialog_layout, enter_presses, notice_box
from app.ui.readings_table import ReadingsTable

# meaning, comment, password, ok, fail
SignSubmit = Callable[[str, str, str, Callable[[Any], None], Callable[[BaseException], None]], None]
MEANINGS: tuple[tuple[str, str], ...] = (
    ("reviewed", "&Reviewed — I checked this record, its readings and its certificate"),
    ("approved", "&Approved — I approve this calibration result for use"),
)
RECORD_STATEMENT = (
    "Your electronic signature is the legally binding equivalent of your handwritten "
    "signature (21 CFR 11.100). It shows your printed name, your login, the meaning you "
    "chose and the date and time in UTC (11.50), and it is bound to exactly this content "
    "of the record (11.70): a change made to the record afterwards shows the signature as "
    "broken. A signed record can no longer be corrected, only superseded or voided with a "
    "reason."
)


def signature_line(sig: SignatureView) -> str:
    """The manifestation as people read it, flagged when the signed content changed."""
    comment = f" — “{sig.comment}”" if sig.comment else ""
    if sig.intact:
        return f"{sig.manifestation}{comment}"
    return f"BROKEN: {sig.manifestation}{comment} (the record changed after signing)"


class SigningBox(QGroupBox):
    """Who signs, the signing password (echo off) and what signing means."""

    password_changed = Signal(bool)  # True while a password is typed

    def __init__(self, signer: UserView, statement: str, parent: QWidget | None = None) -> None:
        super().__init__("Your signature", parent)
        role = ROLE_NAMES.get(signer.role, signer.role)
        self.signer = QLabel(
            f"<b>{html.escape(signer.display_name)}</b> ({html.escape(signer.login)}) · {role}"
        )
        self.signer.setAccessibleName("Signer")
        self.signer.setTextFormat(Qt.TextFormat.RichText)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Signing password")
        self.password.setPlaceholderText("Your own signing password")
        self.password.textChanged.connect(lambda text: self.password_changed.emit(bool(text)))
        self.password_row = FieldRow(self.password)
        self.statement = QLabel(statement)
        self.statement.setWordWrap(True)
        self.statement.setObjectName("signingStatement")
        self.statement.setAccessibleName("What signing means")
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.addRow("Signer:", self.signer)
        label = QLabel("Signing &password:")
        label.setBuddy(self.password)
        form.addRow(label, self.password_row)
        form.addRow(self.statement)

    def text(self) -> str:
        return self.password.text()

    def refuse(self, message: str) -> None:
        """A refused password: say why next to the field, and clear it for a new try."""
        self.password.clear()
        self.password_row.set_error(message)
        self.password.setFocus()

    def clear_error(self) -> None:
        self.password_row.set_error(None)


def show_signing_failure(
    dialog: QDialog,
    exc: BaseException,
    *,
    signing: SigningBox,
    field: tuple[str, QLabel],
    banner: QLabel,
    not_done: str,
    doing: str,
) -> None:
    """What a signing dialog shows when its action failed: a refused password next to
    the password, the dialog's own ``field`` next to its editor, the rest in ``banner``.
    A role or a locked password is explained and closes the dialog: nothing typed in it
    can fix that."""
    if isinstance(exc, ValidationError):
        fields = dict(exc.fields)
        if "password" in fields:
            signing.refuse(fields.pop("password"))
        name, error = field
        if name in fields:
            error.setText(fields.pop(name))
            error.show()
        if fields:
            banner.setText(f"{not_done}: " + "; ".join(fields.values()))
            banner.show()
        return
    if isinstance(exc, NotAllowedError):
        messages.explain(dialog, exc, doing=doing)
        dialog.reject()
        return
    banner.setText(f"{not_done} — nothing was saved.")
    banner.show()
    messages.explain(dialog, exc, doing=doing)


class SignDialog(QDialog):
    """Shows the record, asks for a meaning, an optional comment and the password."""

    def __init__(
        self,
        *,
        record: CalibrationView,
        signer: UserView,
        submit: SignSubmit,
        description: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._record = record
        self._submit = submit
        self._busy_now = False
        self.signature: Any = None
        self.setWindowTitle(f"Sign calibration #{record.id} — {record.asset_tag}")
        self.setMinimumWidth(620)

        self.banner = notice_box()

        what = QGroupBox("What you sign")
        facts = QFormLayout(what)
        instrument = f"{record.asset_tag} — {description}" if description else record.asset_tag
        provider = record.provider_name if record.provider_kind == "external" else "in-house"
        rows: list[tuple[str, str]] = [
            ("Instrument:", instrument),
            ("Calibrated on:", f"{record.performed_on} by {record.performed_by} ({provider})"),
            (
                "Result:",
                record.result
                + (" (adjusted)" if record.adjustment_made and record.result != "adjusted" else ""),
            ),
            ("Readings:", readings_summary(record)),
            ("Certificate:", record.certificate_number or "—"),
            ("Standards used:", ", ".join(record.standards) or "—"),
            ("Next due:", str(record.next_due or "—")),
        ]
        if record.standards_justification:
            rows.append(("Standards justification:", record.standards_justification))
        for label, value in rows:
            text = QLabel(value)
            text.setWordWrap(True)
            text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            facts.addRow(label, text)
        existing = [signature_line(s) for s in record.signatures]
        self.existing = QLabel("\n".join(existing) if existing else "none yet")
        self.existing.setWordWrap(True)
        self.existing.setAccessibleName("Existing signatures")
        facts.addRow("Signatures so far:", self.existing)
        # The readings themselves, point by point: the signature vouches for them.
        self.readings = ReadingsTable()
        self.readings.setAccessibleName("Readings you sign")
        self.readings.show_points(record.points)
        self.readings.setVisible(bool(record.points))
        facts.addRow(self.readings)

        meaning_box = QGroupBox("Meaning of your signature")
        meaning_layout = QVBoxLayout(meaning_box)
        self.meanings = QButtonGroup(self)
        self.meaning_buttons: dict[str, QRadioButton] = {}
        mine = {
            s.meaning for s in record.signatures if s.signer.casefold() == signer.login.casefold()
        }
        for value, label in MEANINGS:
            button = QRadioButton(label)
            button.setAccessibleName(f"Meaning: {value}")
            if value in mine:
                button.setEnabled(False)
                button.setToolTip(f"You signed this record as {value} already")
            self.meanings.addButton(button)
            self.meaning_buttons[value] = button
            meaning_layout.addWidget(button)
        free = [v for v, _label in MEANINGS if v not in mine]
        if free:
            self.meaning_buttons[free[0]].setChecked(True)
        self.meaning_error = QLabel()
        self.meaning_error.setObjectName("fieldError")
        self.meaning_error.setWordWrap(True)
        self.meaning_error.hide()
        meaning_layout.addWidget(self.meaning_error)
        self.meanings.buttonToggled.connect(lambda *_a: self._update_ok())

        self.comment = QPlainTextEdit()
        self.comment.setTabChangesFocus(True)
        self.comment.setFixedHeight(52)
        self.comment.setPlaceholderText("Optional: what you checked, anything QA should know")
        self.comment.setAccessibleName("Comment")
        comment_label = QLabel("&Comment:")
        comment_label.setBuddy(self.comment)

        self.signing = SigningBox(signer, RECORD_STATEMENT)
        self.signing.password_changed.connect(lambda _typed: self._update_ok())

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.addButton("&Sign", QDialogButtonBox.ButtonRole.AcceptRole)
        enter_presses(self, self.ok)
        self.buttons.accepted.connect(self._sign)
        self.buttons.rejected.connect(self.reject)

        layout = dialog_layout(self)
        layout.addWidget(self.banner)
        layout.addWidget(what)
        layout.addWidget(meaning_box)
        layout.addWidget(comment_label)
        layout.addWidget(self.comment)
        layout.addWidget(self.signing)
        layout.addWidget(self.buttons)
        if not free:
            self._say("You have signed this record with every meaning already.")
        self._update_ok()
        self.signing.password.setFocus()

    # -- state -----------------------------------------------------------------------

    def meaning(self) -> str | None:
        return next((v for v, b in self.meaning_buttons.items() if b.isChecked()), None)

    def _update_ok(self) -> None:
        ready = bool(self.signing.text()) and self.meaning() is not None
        self.ok.setEnabled(ready and not self._busy_now)

    def _say(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    def _busy(self, busy: bool) -> None:
        self._busy_now = busy
        self.signing.password.setReadOnly(busy)
        if busy:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        else:
            QGuiApplication.restoreOverrideCursor()
        self._update_ok()

    # -- signing ---------------------------------------------------------------------

    def _sign(self) -> None:
        meaning = self.meaning()
        if meaning is None or not self.signing.text() or self._busy_now:
            return
        self.signing.clear_error()
        self.meaning_error.hide()
        self._say("")
        self._busy(True)
        self._submit(
            meaning,
            self.comment.toPlainText().strip(),
            self.signing.text(),
            self._done,
            self._failed,
        )

    def _done(self, signature: Any) -> None:
        self._busy(False)
        self.signature = signature
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        show_signing_failure(
            self,
            exc,
            signing=self.signing,
            field=("meaning", self.meaning_error),
            banner=self.banner,
            not_done="Not signed",
            doing="signing the record",
        )
