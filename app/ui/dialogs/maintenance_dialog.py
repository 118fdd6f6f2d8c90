"""The "Log maintenance…" dialog: maintenance, damage or a repair of one instrument.

The service checks everything (``app.services.upkeep``); its objections show at their
fields, and what was typed stays in the dialog until it is saved or cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from app.errors import ValidationError
from app.services.dto import MaintenanceInput, MaintenanceView
from app.services.upkeep import KIND_LABELS
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout, enter_presses, notice_box
from app.vocabulary import MAINTENANCE_KINDS

Ok = Callable[[Any], None]
Fail = Callable[[BaseException], None]
Submit = Callable[[MaintenanceInput, Ok, Fail], None]


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


class MaintenanceDialog(QDialog):
    """Log one event; ``submit`` saves off the GUI thread and calls back."""

    def __init__(
        self, *, asset_tag: str, today: date, submit: Submit, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Log maintenance — {asset_tag}")
        self._submit = submit
        self.saved: MaintenanceView | None = None
        intro = QLabel(
            f"What was done to or found on {asset_tag}. An event is never edited or "
            "deleted: a wrong one is voided with a reason."
        )
        intro.setWordWrap(True)
        self.form = ValidatingForm(self)
        self.kind = QComboBox()
        for kind in MAINTENANCE_KINDS:
            self.kind.addItem(KIND_LABELS[kind], kind)
        self.form.add("kind", "&Kind:", self.kind)
        self.date = QDateEdit(_qdate(today))
        self.date.setCalendarPopup(True)
        self.date.setDisplayFormat("yyyy-MM-dd")
        self.date.setMaximumDate(_qdate(today))
        self.form.add("date", "&Date:", self.date)
        self.what = QPlainTextEdit()
        self.what.setTabChangesFocus(True)
        self.what.setPlaceholderText("What was done or found (required)")
        self.what.setFixedHeight(self.fontMetrics().lineSpacing() * 4)
        self.form.add("what", "&What was done:", self.what)
        self.cost = QLineEdit()
        self.cost.setPlaceholderText("for example 180.50")
        self.form.add("cost", "&Cost:", self.cost)
        self.currency = QLineEdit()
        self.currency.setPlaceholderText("for example EUR")
        self.currency.setMaxLength(8)
        self.form.add("currency", "C&urrency:", self.currency)
        self.downtime = QLineEdit()
        self.downtime.setPlaceholderText("hours (8), or days (2d)")
        self.form.add("downtime", "Down&time (hours):", self.downtime)
        self.calibrate = QCheckBox(
            "Calibrate &before use: due now, and out of service until a calibration after it"
        )
        self.form.add("calibrate_before_use", "Calibration:", self.calibrate)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(self.fontMetrics().lineSpacing() * 3)
        self.form.add("notes", "&Notes:", self.notes)
        self.banner = notice_box("Why it was not saved")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.save_button = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        self.save_button.clicked.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        enter_presses(self, self.save_button)
        layout = dialog_layout(self)
        layout.addWidget(intro)
        layout.addWidget(self.form)
        layout.addWidget(self.banner)
        layout.addWidget(self.buttons)
        self.kind.setFocus()

    def submitted(self) -> MaintenanceInput:
        """What Save sends: the fields as typed (the service checks them)."""
        day = self.date.date()
        return MaintenanceInput(
            kind=str(self.kind.currentData()),
            performed_on=date(day.year(), day.month(), day.day()),
            what_done=self.what.toPlainText(),
            cost=self.cost.text(),
            currency=self.currency.text(),
            downtime=self.downtime.text(),
            notes=self.notes.toPlainText(),
            calibrate_before_use=self.calibrate.isChecked(),
        )

    def _save(self) -> None:
        self.form.show_errors({})
        self.banner.hide()
        self._busy(True)
        self._submit(self.submitted(), self._saved, self._failed)

    def _busy(self, busy: bool) -> None:
        self.save_button.setEnabled(not busy)
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
            unclaimed = self.form.show_errors(dict(exc.fields))
            self.banner.setText("\n".join(unclaimed))
            self.banner.setVisible(bool(unclaimed))
            return
        # Read-only now, lost lock, busy...: keep everything typed, say why.
        self.banner.setText("Not saved — your entries are kept in this dialog.")
        self.banner.show()
        messages.explain(self, exc, doing="logging maintenance")
