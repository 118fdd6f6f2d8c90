"""Set or clear an instrument's check or maintenance schedule (issue 15).

The calibration schedule is the instrument's own (the instrument form's interval and
grace); this dialog keeps the other two. The kind chosen fills the form from what is
set now; Save sets it, Clear schedule stops it (kept, audited; it asks for the
reason the service requires). Rules and messages are
the service's (``app.services.schedules``), shown at their fields.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from app.errors import ValidationError
from app.services.dto import InstrumentDetail, ScheduleView
from app.services.schedules import ROW_KINDS, ScheduleInput
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout, notice_box
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.modal import open_modal


@dataclass(frozen=True)
class ClearRequest:
    """Clear the ``kind`` schedule, for ``reason`` (required, as the service says)."""

    kind: str
    reason: str


Submit = Callable[
    [ScheduleInput | ClearRequest, Callable[[Any], None], Callable[[BaseException], None]], None
]  # a ScheduleInput to set, or a ClearRequest


class ScheduleDialog(QDialog):
    """Check and maintenance schedules of one instrument; ``done_text`` says what happened."""

    def __init__(
        self,
        *,
        instrument: InstrumentDetail,
        schedules: Sequence[ScheduleView],
        submit: Submit,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Schedules — {instrument.asset_tag}")
        self._submit = submit
        self._current = {s.kind: s for s in schedules}
        self.done_text = ""
        intro = QLabel(
            "Every N days (30d) or calendar months (6m); before use: due again each time "
            "the instrument goes out. The due-soon window left empty is the lab's."
        )
        intro.setWordWrap(True)
        self.form = ValidatingForm(self)
        self.kind = QComboBox()
        for kind in ROW_KINDS:
            self.kind.addItem("Intermediate check" if kind == "check" else "Maintenance", kind)
        self.every = QLineEdit()
        self.every.setPlaceholderText("6m or 90d")
        self.grace = QLineEdit("0")
        self.soon = QLineEdit()
        self.soon.setPlaceholderText("the lab's window")
        self.before_use = QCheckBox("Due before each use")
        self.form.add("kind", "&Kind:", self.kind)
        self.form.add("every", "&Every:", self.every)
        self.form.add("grace_days", "&Grace days:", self.grace)
        self.form.add("soon_days", "Due-soon &window (days):", self.soon)
        self.form.add("before_use", "", self.before_use)
        self.banner = notice_box("Problems")
        self.banner.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.clear_button = QPushButton("C&lear schedule")
        self.buttons.addButton(self.clear_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        self.clear_button.clicked.connect(self._clear)
        self.kind.currentIndexChanged.connect(lambda _i: self._fill())
        layout = dialog_layout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self._fill()
        self.every.setFocus()

    def chosen_kind(self) -> str:
        return str(self.kind.currentData())

    def _fill(self) -> None:
        current = self._current.get(self.chosen_kind())
        self.every.setText(current.interval if current else "")
        self.grace.setText(str(current.grace_days) if current else "0")
        self.soon.setText("")
        self.before_use.setChecked(bool(current and current.before_use))
        self.clear_button.setEnabled(current is not None)
        self.form.show_errors({})

    def _number(self, name: str, text: str, errors: dict[str, str]) -> int | None:
        text = text.strip()
        if not text:
            return None
        if not text.isascii() or not text.isdigit() or len(text) > 6:
            errors[name] = "a whole number of days"
            return None
        return int(text)

    def _save(self) -> None:
        errors: dict[str, str] = {}
        grace = self._number("grace_days", self.grace.text(), errors)
        soon = self._number("soon_days", self.soon.text(), errors)
        if errors:
            self._show_errors(errors)
            return
        data = ScheduleInput(
            kind=self.chosen_kind(),
            every=self.every.text().strip(),
            grace_days=grace or 0,
            soon_days=soon,
            before_use=self.before_use.isChecked(),
        )
        self.save_button.setEnabled(False)
        self._submit(data, self._saved, self._failed)

    def _clear(self) -> None:
        kind = self.chosen_kind()
        label = "intermediate check" if kind == "check" else "maintenance"
        dialog = ReasonDialog(
            "Clear schedule",
            f"Stop the {label} schedule? It is kept, marked cleared, and the audit trail "
            "keeps your reason.",
            self,
        )

        def answered(result: int) -> None:
            if not result:
                return
            self.clear_button.setEnabled(False)
            self._submit(ClearRequest(kind, dialog.reason), self._saved, self._failed)

        open_modal(dialog, answered)

    def _saved(self, result: Any) -> None:
        self.save_button.setEnabled(True)
        if isinstance(result, ScheduleView):
            due = f", next due {result.next_due}" if result.next_due else ""
            self.done_text = (
                f"{result.kind.capitalize()} schedule set: every {result.interval}{due}"
            )
        else:
            self.done_text = f"{self.chosen_kind().capitalize()} schedule cleared"
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.clear_button.setEnabled(self.chosen_kind() in self._current)
        if isinstance(exc, ValidationError):
            self._show_errors(exc.fields)
            return
        messages.explain(self, exc, doing="saving the schedule")

    def _show_errors(self, errors: dict[str, str]) -> None:
        rest = self.form.show_errors(errors)
        self.banner.setText("\n".join(rest))
        self.banner.setVisible(bool(rest))
