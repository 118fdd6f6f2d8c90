"""Correct the details of an unsigned calibration record, with a required reason.

Only the details may change here (certificate, provider, environment, uncertainty,
notes); readings, result and dates change by superseding the record. The save carries
the version the user started from, so a change made meanwhile leads to the conflict
dialog instead of being overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from app.errors import ConflictError, ValidationError
from app.limits import SHORT_LEN
from app.services.dto import CalibrationView
from app.ui import messages
from app.ui.dialogs.calibration_dialog import number_text
from app.ui.dialogs.form import ValidatingForm, dialog_layout, notice_box
from app.words import PROVIDER_LABELS

# changes, expected version, ok, fail
EditSubmit = Callable[
    [dict[str, Any], int, Callable[[Any], None], Callable[[BaseException], None]], None
]
TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("certificate_number", "Cer&tificate no.:"),
    ("performed_by", "Performed &by:"),
    ("provider_name", "Provider &name:"),
    ("uncertainty", "&Uncertainty:"),
)


class RecordEditDialog(QDialog):
    """The editable details of one record, plus the reason for the correction."""

    def __init__(
        self,
        *,
        record: CalibrationView,
        submit: EditSubmit,
        on_conflict: Callable[[ConflictError, dict[str, Any]], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._submit = submit
        self._on_conflict = on_conflict
        self._record = record
        self.expected_version = record.version
        self.saved: Any = None
        self.setWindowTitle(f"Correct calibration #{record.id} — {record.asset_tag}")
        self.setMinimumWidth(560)
        self.intro = QLabel()
        self.intro.setWordWrap(True)

        self.form = ValidatingForm()
        self.edits: dict[str, QLineEdit] = {}
        for name, label in TEXT_FIELDS:
            edit = QLineEdit()
            edit.setMaxLength(SHORT_LEN)
            self.edits[name] = edit
            self.form.add(name, label, edit)
            if name == "performed_by":
                self.provider = QComboBox()
                for value, text in PROVIDER_LABELS.items():
                    self.provider.addItem(text, value)
                self.form.add("provider_kind", "&Provider:", self.provider)
        env = QWidget()
        env_layout = QHBoxLayout(env)
        env_layout.setContentsMargins(0, 0, 0, 0)
        self.temperature = QLineEdit()
        self.temperature.setAccessibleName("Temperature in degrees Celsius")
        self.humidity = QLineEdit()
        self.humidity.setAccessibleName("Relative humidity in percent")
        env_layout.addWidget(self.temperature)
        env_layout.addWidget(QLabel("°C"))
        env_layout.addWidget(self.humidity)
        env_layout.addWidget(QLabel("%RH"))
        self.form.add("temperature_c", "&Environment:", env)
        # Both readings share one row: a message about either lands there.
        self.form.rows["humidity_pct"] = self.form.rows["temperature_c"]
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(60)
        self.form.add("notes", "N&otes:", self.notes)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why is the record corrected? (required, audit trail)")
        self.form.add("reason", "&Reason:", self.reason)

        self.banner = notice_box()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout = dialog_layout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.banner)
        layout.addWidget(self.form)
        layout.addWidget(self.buttons)
        self.load(record)
        self.edits["certificate_number"].setFocus()

    # -- values ----------------------------------------------------------------------

    def _loaded_values(self, record: CalibrationView) -> dict[str, Any]:
        return {
            "certificate_number": record.certificate_number,
            "performed_by": record.performed_by,
            "provider_name": record.provider_name,
            "uncertainty": record.uncertainty,
            "provider_kind": record.provider_kind,
            "temperature_c": number_text(record.temperature_c),
            "humidity_pct": number_text(record.humidity_pct),
            "notes": record.notes,
        }

    def load(self, record: CalibrationView) -> None:
        """Show a (fresh) version of the record; the reason typed so far stays."""
        self._record = record
        self.expected_version = record.version
        self.intro.setText(
            f"Calibration #{record.id} of <b>{record.asset_tag}</b>, {record.performed_on}, "
            f"result {record.result} (version {record.version}). Readings, result and dates "
            "are not corrected here: supersede the record to change them."
        )
        for name, value in self._loaded_values(record).items():
            self.set_value(name, value)

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {n: e.text().strip() for n, e in self.edits.items()}
        values["provider_kind"] = str(self.provider.currentData())
        values["temperature_c"] = self.temperature.text().strip()
        values["humidity_pct"] = self.humidity.text().strip()
        values["notes"] = self.notes.toPlainText().strip()
        return values

    def changes(self) -> dict[str, Any]:
        """Only what differs from the record as loaded (the audit trail shows just that)."""
        loaded = self._loaded_values(self._record)
        return {k: v for k, v in self.values().items() if str(loaded.get(k) or "") != v}

    def set_value(self, name: str, value: Any) -> None:
        text = "" if value is None else str(value)
        if name in self.edits:
            self.edits[name].setText(text)
        elif name == "provider_kind":
            self.provider.setCurrentIndex(max(0, self.provider.findData(text)))
        elif name == "temperature_c":
            self.temperature.setText(text)
        elif name == "humidity_pct":
            self.humidity.setText(text)
        elif name == "notes":
            self.notes.setPlainText(text)

    @property
    def reason_text(self) -> str:
        return self.reason.text().strip()

    # -- saving ----------------------------------------------------------------------

    def save_now(self) -> None:
        """Save as if the user pressed Save (after re-applying on a fresh version)."""
        self._save()

    def _save(self) -> None:
        changes = self.changes()
        errors = {} if self.reason_text else {"reason": "required: say why it is corrected"}
        self.form.show_errors(errors)
        self.show_banner("" if changes else "Nothing changed yet: correct a detail, or Cancel.")
        if errors or not changes:
            return
        self._busy(True)
        self._submit(changes, self.expected_version, self._saved, self._failed)

    def _busy(self, busy: bool) -> None:
        self.ok.setEnabled(not busy)
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
            rest = self.form.show_errors(exc.fields)
            self.show_banner("\n".join(rest))
        elif isinstance(exc, ConflictError):
            self._on_conflict(exc, self.changes())
        else:
            self.show_banner("Not saved — your entries are kept in this dialog.")
            messages.explain(self, exc, doing="correcting the calibration")

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))
