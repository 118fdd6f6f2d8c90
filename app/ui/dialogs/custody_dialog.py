"""Check an instrument out (to a person, a place, until a day) or back in.

Opened for a scanned or typed tag with what the custody service says about it
(``CustodyCheck``): who has it now, and why the check-out rules refuse it. A refused
instrument shows the reason in red above the form; QA may let it out with a reason of
their own, anyone else sees that only QA may. The dialog only collects what the person
typed: the window runs the check-out or check-in, and a refusal the service finds then
is shown here, next to the form, with nothing lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from app.errors import ValidationError
from app.services.dto import CustodyCheck, CustodyView
from app.ui.dialogs.form import dialog_layout

# What the service's fields are called in this form.
FIELD_LABELS = {
    "holder": "Person",
    "place": "Place",
    "due_back": "Until",
    "override_reason": "QA override reason",
}


@dataclass(frozen=True)
class CustodyRequest:
    """What the person asked for: a check-out (with its fields) or a check-in."""

    check_in: bool
    holder: str = ""
    place: str = ""
    until: str = ""
    override_reason: str = ""


Submit = Callable[
    [CustodyRequest, Callable[[CustodyView], None], Callable[[BaseException], None]], None
]


def holder_line(view: CustodyView) -> str:
    """ "With Dana at Line 2 since 2026-11-23 09:30 UTC, due back 2026-11-30 (late)"."""
    place = f" at {view.place}" if view.place else ""
    due = f", due back {view.due_back}" if view.due_back else ""
    late = " (late)" if view.late else ""
    return f"With {view.holder}{place} since {view.out_at:%Y-%m-%d %H:%M} UTC{due}{late}"


class CustodyDialog(QDialog):
    """Check out or check in the instrument of ``check``; ``saved`` is what was stored."""

    def __init__(self, check: CustodyCheck, *, submit: Submit, parent: QWidget) -> None:
        super().__init__(parent)
        self.check = check
        self._submit = submit
        self.saved: CustodyView | None = None
        checking_in = check.current is not None
        verb = "Check in" if checking_in else "Check out"
        self.setWindowTitle(f"{verb} {check.asset_tag}")
        layout = dialog_layout(self)
        title = QLabel(f"<b>{check.asset_tag}</b> — {check.description}")
        title.setObjectName("custodyInstrument")
        layout.addWidget(title)

        # Owned by the dialog; those the form does not use stay hidden (see below).
        self.person = QLineEdit(self)
        self.place = QLineEdit(self)
        self.until = QLineEdit(self)
        self.reason = QLineEdit(self)
        used: list[QLineEdit] = []
        for edit in (self.person, self.place, self.until, self.reason):
            # Wide enough that the placeholders read whole (the layout sets the minimum).
            edit.setMinimumWidth(edit.fontMetrics().horizontalAdvance("x" * 44))
        self.refusal = QLabel()
        # The themes' error colour (contrast checked in both themes), in bold.
        self.refusal.setObjectName("fieldError")
        self.refusal.setWordWrap(True)
        bold = self.refusal.font()
        bold.setBold(True)
        self.refusal.setFont(bold)
        self.refusal.hide()
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.hide()

        if check.current is not None:
            held = QLabel(holder_line(check.current))
            held.setObjectName("custodyHolder")
            held.setWordWrap(True)
            layout.addWidget(held)
        else:
            if check.refusal:
                self.refusal.setText(f"Refused: {check.refusal}.")
                self.refusal.show()
            layout.addWidget(self.refusal)
            form = QFormLayout()
            self.person.setAccessibleName("Person")
            self.person.setPlaceholderText("who takes it (required)")
            self.place.setAccessibleName("Place")
            self.place.setPlaceholderText("where it goes")
            self.until.setAccessibleName("Until")
            self.until.setPlaceholderText("YYYY-MM-DD, the day it is due back")
            form.addRow("&Person:", self.person)
            form.addRow("P&lace:", self.place)
            form.addRow("&Until:", self.until)
            used += [self.person, self.place, self.until]
            if check.refusal and check.may_override:
                used.append(self.reason)
                self.reason.setAccessibleName("QA override reason")
                self.reason.setPlaceholderText("why it may go out anyway (kept in the audit trail)")
                form.addRow("QA over&ride reason:", self.reason)
            layout.addLayout(form)
            if check.refusal and not check.may_override:
                only_qa = QLabel("Only QA may let it out anyway; ask QA, or calibrate it first.")
                only_qa.setObjectName("custodyOnlyQa")
                only_qa.setWordWrap(True)
                layout.addWidget(only_qa)
        layout.addWidget(self.error)
        for edit in (self.person, self.place, self.until, self.reason):
            if edit not in used:
                edit.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.go = self.buttons.addButton(
            "Check &in" if checking_in else "Check &out", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.go.setDefault(True)
        self.buttons.accepted.connect(self._send)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for edit in (self.person, self.reason):
            edit.textChanged.connect(self._update_button)
        self._update_button()
        if not checking_in:
            self.person.setFocus()

    def _update_button(self) -> None:
        if self.check.current is not None:
            self.go.setEnabled(True)
            return
        ready = bool(self.person.text().strip())
        if self.check.refusal:
            ready = ready and self.check.may_override and bool(self.reason.text().strip())
        self.go.setEnabled(ready)

    def _send(self) -> None:
        if not self.go.isEnabled():
            return
        self.go.setEnabled(False)
        self.error.hide()
        request = CustodyRequest(
            check_in=self.check.current is not None,
            holder=self.person.text(),
            place=self.place.text(),
            until=self.until.text(),
            override_reason=self.reason.text(),
        )
        self._submit(request, self._saved, self.failed)

    def _saved(self, view: CustodyView) -> None:
        self.saved = view
        self.accept()

    def failed(self, exc: BaseException) -> None:
        """A refusal from the service is said here; the typed values are kept.

        Other failures (busy, read-only, not allowed) the window explains in its one
        message box; the form stays as typed for another try.
        """
        self._update_button()
        if isinstance(exc, ValidationError):
            self.error.setText(
                "\n".join(
                    f"{FIELD_LABELS[k]}: {v}" if k in FIELD_LABELS else str(v)
                    for k, v in exc.fields.items()
                )
            )
            self.error.show()
