"""Record an intermediate check of one instrument (issue 15): the day, the check
standard or artefact, the readings against their limits, and notes.

The result is the service's (``app.services.checks``): pass when every reading is
within ± its limit. Without readings the person says pass or fail. Errors come back at
their fields; nothing typed is lost when a save fails.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from app.errors import ValidationError
from app.services.checks import CheckInput, parse_reading
from app.services.dto import CheckReading, CheckView, InstrumentDetail
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout, notice_box

Submit = Callable[[CheckInput, Callable[[Any], None], Callable[[BaseException], None]], None]
RESULT_CHOICES = (("", "From the readings"), ("pass", "Pass"), ("fail", "Fail"))


class CheckDialog(QDialog):
    """The "Record check" form; ``saved`` holds the recorded check once accepted."""

    def __init__(
        self,
        *,
        instrument: InstrumentDetail,
        today: date,
        standard_tags: list[str],
        submit: Submit,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Record check — {instrument.asset_tag}")
        self._submit = submit
        self.saved: CheckView | None = None
        intro = QLabel(
            f"An intermediate check of {instrument.asset_tag} ({instrument.description}). "
            "Readings as nominal:reading:limit, separated by spaces (20:20.3:0.5); "
            "a reading outside ± its limit fails the check and takes the instrument "
            "out of service."
        )
        intro.setWordWrap(True)
        self.form = ValidatingForm(self)
        self.day = QLineEdit(today.isoformat())
        self.day.setPlaceholderText("YYYY-MM-DD")
        self.standard = QLineEdit()
        self.standard.setPlaceholderText("asset tag of a check standard, or the artefact")
        if standard_tags:
            self.standard.setToolTip(
                "Instruments of the register: " + ", ".join(standard_tags[:30])
            )
        self.readings = QLineEdit()
        self.readings.setPlaceholderText("20:20.3:0.5 100:100.2:0.5")
        self.result_box = QComboBox()
        for value, text in RESULT_CHOICES:
            self.result_box.addItem(text, value)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(self.fontMetrics().lineSpacing() * 4)
        self.form.add("date", "&Date:", self.day)
        self.form.add("standard", "&Standard:", self.standard)
        self.form.add("value", "&Readings:", self.readings)
        self.form.add("result", "Res&ult:", self.result_box)
        self.form.add("notes", "&Notes:", self.notes)
        self.banner = notice_box("Problems")
        self.banner.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        layout = dialog_layout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self.standard.setFocus()

    def check_input(self) -> tuple[CheckInput | None, dict[str, str]]:
        """What the form says, or the problems to show at its fields."""
        errors: dict[str, str] = {}
        try:
            day = date.fromisoformat(self.day.text().strip())
        except ValueError:
            errors["date"] = "write the date as YYYY-MM-DD"
            day = None
        readings: list[CheckReading] = []
        for text in self.readings.text().split():
            try:
                readings.append(parse_reading(text))
            except ValidationError as exc:
                errors.update(exc.fields)
                break
        if errors or day is None:
            return None, errors
        data = CheckInput(
            performed_on=day,
            readings=tuple(readings),
            standard=self.standard.text(),
            notes=self.notes.toPlainText(),
            result=str(self.result_box.currentData() or ""),
        )
        return data, errors

    def _save(self) -> None:
        data, errors = self.check_input()
        if data is None:
            self._show_errors(errors)
            return
        self.save_button.setEnabled(False)
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        self._submit(data, self._saved, self._failed)

    def _done(self) -> None:
        QGuiApplication.restoreOverrideCursor()
        self.save_button.setEnabled(True)

    def _saved(self, result: Any) -> None:
        self._done()
        self.saved = result if isinstance(result, CheckView) else None
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._done()
        if isinstance(exc, ValidationError):
            self._show_errors(exc.fields)
            return
        self.banner.setText("Not saved — your entries are kept in this dialog.")
        self.banner.show()
        messages.explain(self, exc, doing="recording the check")

    def _show_errors(self, errors: dict[str, str]) -> None:
        rest = self.form.show_errors(errors)
        self.banner.setText("\n".join(rest))
        self.banner.setVisible(bool(rest))
