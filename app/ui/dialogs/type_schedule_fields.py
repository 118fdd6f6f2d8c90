"""The types dialog's fields of a default check or maintenance schedule (issue 15).

One ``DefaultScheduleFields`` per kind: every (``30d``, ``6m``; empty: none), grace
days, due-soon days (its lowest value: the lab's window) and "due before each use",
each on a labelled row of the dialog's form so the service's messages
(``check_every``, ``maintenance_grace_days`` ...) show at their field. The rules are
the schedules service's; this only reads and fills the widgets.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QLineEdit, QSpinBox, QWidget

from app.services.dto import ScheduleDefault
from app.services.schedules import MAX_WINDOW_DAYS
from app.ui.dialogs.form import ValidatingForm

LAB_WINDOW = -1  # the due-soon spin box's lowest value: the lab's window
# kind: (every, grace, soon, before use) labels; the mnemonics are free in the dialog.
LABELS = {
    "check": (
        "Chec&k every:",
        "Check &grace days:",
        "Check due-s&oon days:",
        "Check due &before each use",
    ),
    "maintenance": (
        "Maint&enance every:",
        "Maintenance grace days:",
        "Maintenance due-soon days:",
        "Maintenance due before each use",
    ),
}  # fmt: skip


class DefaultScheduleFields:
    """The widgets of one kind's default schedule, added to ``form`` in ``column``."""

    def __init__(self, kind: str, form: ValidatingForm, column: int) -> None:
        self.kind = kind
        every_label, grace_label, soon_label, before_label = LABELS[kind]
        self.every = QLineEdit()
        self.every.setMaxLength(12)
        self.every.setPlaceholderText("6m or 90d; empty: none")
        self.grace = QSpinBox()
        self.grace.setRange(0, MAX_WINDOW_DAYS)
        self.grace.setSuffix(" days")
        self.soon = QSpinBox()
        self.soon.setRange(LAB_WINDOW, MAX_WINDOW_DAYS)
        self.soon.setSuffix(" days")
        self.soon.setSpecialValueText("the lab's window")
        self.before_use = QCheckBox(before_label)
        form.add(f"{kind}_every", every_label, self.every, column=column)
        form.add(f"{kind}_grace_days", grace_label, self.grace, column=column)
        form.add(f"{kind}_soon_days", soon_label, self.soon, column=column)
        form.add(f"{kind}_before_use", "", self.before_use, column=column)
        self.before_use.setAccessibleName(before_label.replace("&", ""))

    def widgets(self) -> tuple[QWidget, ...]:
        """In tab order."""
        return (self.every, self.grace, self.soon, self.before_use)

    def set_value(self, value: ScheduleDefault | None) -> None:
        value = value or ScheduleDefault()
        self.every.setText(value.every)
        self.grace.setValue(value.grace_days)
        self.soon.setValue(LAB_WINDOW if value.soon_days is None else value.soon_days)
        self.before_use.setChecked(value.before_use)

    def value(self, errors: dict[str, str]) -> ScheduleDefault | None:
        """What the fields hold (None: no default); a grace or window without an
        interval or before use is named in ``errors`` rather than dropped."""
        soon = self.soon.value()
        value = ScheduleDefault(
            every=self.every.text().strip(),
            soon_days=None if soon == LAB_WINDOW else soon,
            grace_days=self.grace.value(),
            before_use=self.before_use.isChecked(),
        )
        if value.is_set():
            return value
        if value.grace_days or value.soon_days is not None:
            errors[f"{self.kind}_every"] = "give an interval (as 30d or 6m), or before use, or both"
        return None

    def state(self) -> tuple[object, ...]:
        return (
            self.every.text(),
            self.grace.value(),
            self.soon.value(),
            self.before_use.isChecked(),
        )

    def set_read_only(self, read_only: bool) -> None:
        self.every.setReadOnly(read_only)
        self.grace.setReadOnly(read_only)
        self.soon.setReadOnly(read_only)
        self.before_use.setEnabled(not read_only)
