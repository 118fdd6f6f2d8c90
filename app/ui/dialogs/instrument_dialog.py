"""Add or edit an instrument, with messages next to the fields they are about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from app.errors import ConflictError, ServerLostError, ValidationError
from app.limits import SHORT_LEN, TAG_LEN, TEXT_LEN
from app.services.dto import InstrumentChanges, InstrumentDetail, InstrumentInput
from app.services.validation import MAX_GRACE_DAYS, MAX_INTERVAL_DAYS
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout, notice_box
from app.words import LIFECYCLE_LABELS, REQUIREMENT_LABELS

# What is saved: a new instrument, or the changes to the one loaded (at a version).
Submit = Callable[
    [
        InstrumentInput | InstrumentChanges,
        int | None,
        Callable[[Any], None],
        Callable[[BaseException], None],
    ],
    None,
]

TEXT_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("asset_tag", "&Asset tag:", TAG_LEN),
    ("description", "&Description:", TEXT_LEN),
    ("category", "&Category:", SHORT_LEN),
    ("location", "&Location:", SHORT_LEN),
    ("owner", "O&wner / department:", SHORT_LEN),
    ("manufacturer", "&Manufacturer:", SHORT_LEN),
    ("model", "M&odel:", SHORT_LEN),
    ("serial_number", "&Serial number:", SHORT_LEN),
    ("firmware_version", "&Firmware:", SHORT_LEN),
    ("range_text", "&Range:", SHORT_LEN),
    ("resolution_text", "Resol&ution:", SHORT_LEN),
    ("accuracy_text", "Acc&uracy:", SHORT_LEN),
)
# Two columns, so every field shows at once on a 1280×800 screen: who and where the
# instrument is (and its calibration rhythm) on the left, what it is on the right.
# Creation order is the Tab order: down the left column, then down the right one.
RIGHT_COLUMN_FROM = "manufacturer"
# Rows shown only when asked for: the reason an instrument is not calibrated
# periodically, and the reason for switching between kinds (an edit).
ROWS_WHEN_NEEDED = frozenset({"requirement_reason", "reason"})


class InstrumentDialog(QDialog):
    """The instrument form. ``submit`` saves off the GUI thread and calls back."""

    def __init__(
        self,
        *,
        submit: Submit,
        on_conflict: Callable[[ConflictError, dict[str, Any]], None],
        detail: InstrumentDetail | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._submit = submit
        self._on_conflict = on_conflict
        self._detail = detail
        self.expected_version = detail.version if detail else None
        self.saved: Any = None
        self.setWindowTitle(f"Edit {detail.asset_tag}" if detail else "New instrument")

        self.form = ValidatingForm(columns=2)
        self.edits: dict[str, QLineEdit] = {}
        column = 0
        for name, label, max_len in TEXT_FIELDS:
            if name == RIGHT_COLUMN_FROM:
                self._add_numbers_and_status()
                column = 1
            edit = QLineEdit()
            edit.setMaxLength(max_len)
            self.edits[name] = edit
            self.form.add(name, label, edit, column=column)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(70)
        self.form.add_wide("notes", "&Notes:", self.notes)

        self.banner = notice_box()

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        layout = dialog_layout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.form)
        layout.addWidget(self.buttons)
        if detail:
            self.load(detail)
        self.edits["asset_tag"].setFocus()

    def _add_numbers_and_status(self) -> None:
        self.interval = QSpinBox()
        self.interval.setRange(1, MAX_INTERVAL_DAYS)
        self.interval.setValue(365)
        self.interval.setSuffix(" days")
        self.form.add("calibration_interval_days", "Calibration &interval:", self.interval)
        self.grace = QSpinBox()
        self.grace.setRange(0, MAX_GRACE_DAYS)
        self.grace.setSuffix(" days")
        self.form.add("grace_days", "&Grace period:", self.grace)
        self.status = QComboBox()
        for value, label in LIFECYCLE_LABELS.items():
            self.status.addItem(label, value)
        self.form.add("status", "S&tatus:", self.status)
        # How it is calibrated; a reason when not periodically, and why the kind changed
        # (both audited). Shown only when they are asked for.
        self.requirement = QComboBox()
        for requirement, label in REQUIREMENT_LABELS.items():
            self.requirement.addItem(label, requirement)
        self.form.add("calibration_requirement", "Cali&bration:", self.requirement)
        self.requirement_reason = QLineEdit()
        self.requirement_reason.setMaxLength(TEXT_LEN)
        self.requirement_reason.setPlaceholderText("e.g. kept for parts, reference item")
        self.form.add("requirement_reason", "Why not &periodic:", self.requirement_reason)
        self.change_reason = QLineEdit()
        self.change_reason.setMaxLength(TEXT_LEN)
        self.change_reason.setPlaceholderText("kept in the audit trail")
        self.form.add("reason", "Reason for the switc&h:", self.change_reason)
        self.requirement.currentIndexChanged.connect(self._requirement_changed)
        self._requirement_changed()

    def _requirement_changed(self) -> None:
        """Interval and grace mean nothing while not periodic; the reasons show when asked."""
        periodic = self.requirement.currentData() == "periodic"
        self.interval.setEnabled(periodic)
        self.grace.setEnabled(periodic)
        form = self.form.columns[0]
        form.setRowVisible(self.form.rows["requirement_reason"], not periodic)
        loaded = self._detail.calibration_requirement if self._detail else "periodic"
        switching = self._detail is not None and self.requirement.currentData() != loaded
        form.setRowVisible(self.form.rows["reason"], switching)
        self._switching = switching

    # -- values ----------------------------------------------------------------------

    def load(self, detail: InstrumentDetail) -> None:
        for name, edit in self.edits.items():
            edit.setText(str(getattr(detail, name) or ""))
        self.interval.setValue(detail.calibration_interval_days)
        self.grace.setValue(detail.grace_days)
        self.status.setCurrentIndex(max(0, self.status.findData(detail.lifecycle)))
        self.notes.setPlainText(detail.notes)
        self.expected_version = detail.version
        self._detail = detail
        self.requirement.setCurrentIndex(
            max(0, self.requirement.findData(detail.calibration_requirement))
        )
        self.requirement_reason.setText(detail.requirement_reason)
        self._requirement_changed()

    def values(self) -> dict[str, Any]:
        """What the form holds now."""
        values: dict[str, Any] = {name: edit.text().strip() for name, edit in self.edits.items()}
        values["calibration_interval_days"] = self.interval.value()
        values["grace_days"] = self.grace.value()
        values["status"] = self.status.currentData()
        values["notes"] = self.notes.toPlainText().strip()
        values["calibration_requirement"] = self.requirement.currentData()
        # A periodic instrument has no requirement reason (the service clears it).
        periodic = values["calibration_requirement"] == "periodic"
        values["requirement_reason"] = "" if periodic else self.requirement_reason.text().strip()
        return values

    def reason(self) -> str:
        """Why the calibration kind changed (the edit's audit reason), if it did."""
        return self.change_reason.text().strip() if self._switching else ""

    def set_value(self, name: str, value: Any) -> None:
        """Put one value back into its editor (re-applying the user's changes)."""
        if name in self.edits:
            self.edits[name].setText("" if value is None else str(value))
        elif name == "calibration_interval_days":
            self.interval.setValue(int(value))
        elif name == "grace_days":
            self.grace.setValue(int(value))
        elif name == "status":
            self.status.setCurrentIndex(max(0, self.status.findData(value)))
        elif name == "notes":
            self.notes.setPlainText(str(value or ""))
        elif name == "calibration_requirement":
            self.requirement.setCurrentIndex(max(0, self.requirement.findData(value)))
        elif name == "requirement_reason":
            self.requirement_reason.setText(str(value or ""))

    def save_now(self) -> None:
        """Save as if the user pressed Save."""
        self._save()

    def changes(self) -> dict[str, Any]:
        """For an edit: only the fields that differ from what was loaded."""
        values = self.values()
        if self._detail is None:
            return values
        loaded = {
            **{n: str(getattr(self._detail, n) or "") for n in self.edits},
            "calibration_interval_days": self._detail.calibration_interval_days,
            "grace_days": self._detail.grace_days,
            "status": self._detail.lifecycle,
            "notes": self._detail.notes,
            "calibration_requirement": self._detail.calibration_requirement,
            "requirement_reason": self._detail.requirement_reason,
        }
        changed = {k: v for k, v in values.items() if loaded.get(k) != v}
        if values["calibration_requirement"] != "periodic":
            # Unused while not periodic: never sent as a change the person did not see.
            for name in ("calibration_interval_days", "grace_days"):
                changed.pop(name, None)
        return changed

    def submitted(self) -> InstrumentInput | InstrumentChanges:
        """What Save sends: the whole new instrument, or an edit's changed fields."""
        if self._detail is None:
            return InstrumentInput(**self.values())
        return InstrumentChanges(**self.changes())

    def _local_errors(self, values: dict[str, Any]) -> dict[str, str]:
        errors = {}
        for name in ("asset_tag", "description"):
            if not values.get(name, "x"):
                errors[name] = "required"
        return errors

    # -- saving ----------------------------------------------------------------------

    def _save(self) -> None:
        values = self.changes()
        errors = self._local_errors(self.values())
        if errors:
            self.form.show_errors(errors)
            return
        if self._detail is not None and not values:
            self.accept()  # nothing changed: nothing to save
            return
        self._busy(True)
        self._submit(self.submitted(), self.expected_version, self._saved, self._failed)

    def _busy(self, busy: bool) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(not busy)
        if busy:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        else:
            QGuiApplication.restoreOverrideCursor()

    def _saved(self, result: Any) -> None:
        self._busy(False)
        self.saved = result
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        if isinstance(exc, ValidationError):
            unclaimed = self.form.show_errors(exc.fields)
            self.show_banner("\n".join(unclaimed) if unclaimed else "")
        elif isinstance(exc, ConflictError):
            self._on_conflict(exc, self.changes())
        elif isinstance(exc, ServerLostError):
            # Its first line says whether the change was saved (a drop during COMMIT
            # leaves that to the server): never a flat "Not saved" here.
            self.show_banner(str(exc).partition("\n")[0])
            messages.explain(self, exc, doing="saving the instrument")
        else:
            # Read-only now, lost lock, busy...: keep everything typed, say why.
            self.show_banner("Not saved — your entries are kept in this dialog. " + _short(exc))
            messages.explain(self, exc, doing="saving the instrument")

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))


def _short(exc: BaseException) -> str:
    return str(exc).split("; ")[0] if str(exc) else type(exc).__name__
