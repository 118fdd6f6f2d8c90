"""The types dialog's fields of a default check or maintenance schedule (issue 15).

One ``DefaultScheduleFields`` per kind, on one labelled row of the dialog's form (so the
test points keep their room): every (``30d``, ``6m``; empty: none), grace days,
due-soon days (its lowest value: the lab's window) and "before each use", each with a
label of its own. The row is the form's ``<kind>_every``: every message of the kind's
default (``check_every``, ``maintenance_grace_days`` ...) is shown under it
(``form_key``). The rules are the schedules service's; this only reads and fills the
widgets.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QSpinBox, QWidget

from app.services.dto import ScheduleDefault
from app.services.schedules import MAX_WINDOW_DAYS, ROW_KINDS
from app.ui.dialogs.form import ValidatingForm

LAB_WINDOW = -1  # the due-soon spin box's lowest value: the lab's window
# kind: (row label, grace label, before-use text); the mnemonics are free in the dialog.
LABELS = {
    "check": ("Chec&k every:", "&grace", "due &before each use"),
    "maintenance": ("Maint&enance every:", "grace", "due before each use"),
}


def form_key(error_key: str) -> str:
    """The form row a service message about a default schedule is shown at."""
    for kind in ROW_KINDS:
        if error_key.startswith(f"{kind}_"):
            return f"{kind}_every"
    return error_key


class DefaultScheduleFields:
    """The widgets of one kind's default schedule, on a row of ``form``'s whole width
    (side by side in its columns they would not fit)."""

    def __init__(self, kind: str, form: ValidatingForm) -> None:
        self.kind = kind
        title = "Check" if kind == "check" else "Maintenance"
        row_label, grace_label, before_text = LABELS[kind]
        self.every = QLineEdit()
        self.every.setMaxLength(12)
        self.every.setPlaceholderText("6m, 90d; empty: none")
        self.every.setMinimumWidth(self.every.fontMetrics().averageCharWidth() * 14)
        self.grace = QSpinBox()
        self.grace.setRange(0, MAX_WINDOW_DAYS)
        self.grace.setSuffix(" d")
        self.grace.setAccessibleName(f"{title} grace days")
        self.soon = QSpinBox()
        self.soon.setRange(LAB_WINDOW, MAX_WINDOW_DAYS)
        self.soon.setSuffix(" d")
        self.soon.setSpecialValueText("lab's")
        self.soon.setAccessibleName(f"{title} due-soon days (lowest: the lab's window)")
        self.soon.setToolTip("Due-soon window in days; at its lowest: the lab's window")
        self.before_use = QCheckBox(before_text)
        self.before_use.setAccessibleName(f"{title} due before each use")
        box = QWidget()
        line = QHBoxLayout(box)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.every, 2)
        for text, editor in ((grace_label, self.grace), ("soon", self.soon)):
            label = QLabel(text)
            label.setBuddy(editor)
            line.addWidget(label)
            line.addWidget(editor, 1)
        line.addWidget(self.before_use)
        form.add_wide(f"{kind}_every", row_label, box)
        # The row's label (and its mnemonic) leads to the interval, not to the box.
        for label in form.findChildren(QLabel):
            if label.buddy() is box:
                label.setBuddy(self.every)
        box.setAccessibleName(f"{title} default schedule")
        self.every.setAccessibleName(f"{title} every")

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
