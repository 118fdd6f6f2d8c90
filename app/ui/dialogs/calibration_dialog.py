"""Record a calibration: readings grid with live pass/fail, standards, next due date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import ValidationError
from app.services.calibrations import within
from app.services.dto import CalibrationInput, InstrumentDetail, PointInput
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm
from app.ui.look import STATUS_COLOR

Submit = Callable[[CalibrationInput, Callable[[Any], None], Callable[[BaseException], None]], None]
POINT_COLUMNS = (
    "Nominal",
    "As found",
    "As left",
    "Tolerance ±",
    "Unit",
    "✓ found",
    "✓ left",
)
VERDICT_FOUND, VERDICT_LEFT = 5, 6
RESULT_LABELS = (
    ("pass", "Pass"),
    ("adjusted", "Adjusted (passed after adjustment)"),
    ("fail", "Fail"),
)


def _number(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class CalibrationDialog(QDialog):
    """The calibration form for one instrument."""

    def __init__(
        self,
        *,
        instrument: InstrumentDetail,
        today: date,
        user: str,
        standard_tags: list[str],
        submit: Submit,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._instrument = instrument
        self._submit = submit
        self.saved: Any = None
        self.setWindowTitle(f"New calibration — {instrument.asset_tag}")
        self.setMinimumSize(760, 620)

        form = ValidatingForm()
        self.form = form
        side = ValidatingForm()
        self.side = side
        self.performed_on = QDateEdit(_qdate(today))
        self.performed_on.setCalendarPopup(True)
        self.performed_on.setDisplayFormat("yyyy-MM-dd")
        self.performed_on.setMaximumDate(_qdate(today))
        form.add("performed_on", "&Calibrated on:", self.performed_on)
        self.result_box = QComboBox()
        for value, label in (
            ("pass", "Pass"),
            ("adjusted", "Adjusted (passed after adjustment)"),
            ("fail", "Fail"),
        ):
            self.result_box.addItem(label, value)
        form.add("result", "&Result:", self.result_box)
        self.performed_by = QLineEdit(user)
        form.add("performed_by", "Performed &by:", self.performed_by)
        self.provider = QComboBox()
        self.provider.addItem("In-house", "in_house")
        self.provider.addItem("External provider", "external")
        self.provider_name = QLineEdit()
        self.provider_name.setPlaceholderText("Calibration lab (external only)")
        form.add("provider_kind", "&Provider:", self.provider)
        form.add("provider_name", "Provider &name:", self.provider_name)
        self.certificate = QLineEdit()
        side.add("certificate_number", "Cer&tificate no.:", self.certificate)
        env = QWidget()
        env_layout = QHBoxLayout(env)
        env_layout.setContentsMargins(0, 0, 0, 0)
        self.temperature = QLineEdit()
        self.temperature.setPlaceholderText("°C")
        self.temperature.setAccessibleName("Temperature in degrees Celsius")
        self.humidity = QLineEdit()
        self.humidity.setPlaceholderText("%RH")
        self.humidity.setAccessibleName("Relative humidity in percent")
        env_layout.addWidget(self.temperature)
        env_layout.addWidget(QLabel("°C"))
        env_layout.addWidget(self.humidity)
        env_layout.addWidget(QLabel("%RH"))
        side.add("temperature_c", "&Environment:", env)
        self.uncertainty = QLineEdit()
        self.uncertainty.setPlaceholderText("e.g. ±0.05 °C (k=2)")
        side.add("uncertainty", "&Uncertainty:", self.uncertainty)

        # Readings grid.
        self.points = QTableWidget(0, len(POINT_COLUMNS))
        self.points.setHorizontalHeaderLabels(list(POINT_COLUMNS))
        self.points.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.points.setAccessibleName("Measurement points")
        self.points.setMinimumHeight(170)
        self.points.itemChanged.connect(self._point_changed)
        add_point = QPushButton("&Add point")
        add_point.clicked.connect(self.add_point)
        remove_point = QPushButton("Re&move point")
        remove_point.clicked.connect(self._remove_point)
        point_buttons = QHBoxLayout()
        point_buttons.addWidget(add_point)
        point_buttons.addWidget(remove_point)
        point_buttons.addStretch(1)
        self.verdict = QLabel()

        # Standards used.
        self.standard_input = QLineEdit()
        self.standard_input.setPlaceholderText("Asset tag of a reference standard, then Enter")
        self.standard_input.setAccessibleName("Add a standard used")
        completer = QCompleter(standard_tags, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.standard_input.setCompleter(completer)
        self.standard_input.returnPressed.connect(self._add_standard)
        self.standards = QListWidget()
        self.standards.setMaximumHeight(48)
        self.standards.setAccessibleName("Standards used")
        remove_standard = QPushButton("Remove standard")
        remove_standard.clicked.connect(
            lambda: [
                self.standards.takeItem(self.standards.row(i))
                for i in self.standards.selectedItems()
            ]
        )

        # Next due.
        self.next_due = QDateEdit()
        self.next_due.setCalendarPopup(True)
        self.next_due.setDisplayFormat("yyyy-MM-dd")
        self.next_due.setEnabled(False)
        self.override_due = QCheckBox("&Override")
        self.override_due.toggled.connect(self._override_toggled)
        self.due_reason = QLineEdit()
        self.due_reason.setPlaceholderText("Reason for a different due date (required)")
        self.due_reason.setEnabled(False)
        due_row = QWidget()
        due_layout = QHBoxLayout(due_row)
        due_layout.setContentsMargins(0, 0, 0, 0)
        due_layout.addWidget(self.next_due)
        due_layout.addWidget(self.override_due)
        due_layout.addWidget(self.due_reason, 1)
        self.notes = QPlainTextEdit()
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(54)

        after = ValidatingForm()
        self.after = after
        standards_box = QWidget()
        sb = QVBoxLayout(standards_box)
        sb.setContentsMargins(0, 0, 0, 0)
        sb.addWidget(self.standard_input)
        sb.addWidget(self.standards)
        sb.addWidget(remove_standard, 0, Qt.AlignmentFlag.AlignLeft)
        after.add("standards", "&Standards used:", standards_box)
        after.add("next_due", "Next &due:", due_row)
        after.add("notes", "N&otes:", self.notes)

        self.banner = QLabel()
        self.banner.setObjectName("noticeBox")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(form, 1)
        top.addWidget(side, 1)
        layout.addWidget(self.banner)
        layout.addLayout(top)
        layout.addWidget(QLabel("Measurement points (pass/fail from the tolerance, live):"))
        layout.addWidget(self.points, 1)
        layout.addLayout(point_buttons)
        layout.addWidget(self.verdict)
        layout.addWidget(after)
        layout.addWidget(self.buttons)

        self.performed_on.dateChanged.connect(self._recompute_due)
        self._recompute_due()
        self.add_point()

    # -- readings --------------------------------------------------------------------

    def add_point(self, values: tuple[str, ...] = ()) -> None:
        row = self.points.rowCount()
        self.points.blockSignals(True)
        self.points.insertRow(row)
        for col in range(len(POINT_COLUMNS)):
            item = QTableWidgetItem(values[col] if col < len(values) else "")
            if col in (VERDICT_FOUND, VERDICT_LEFT):
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.points.setItem(row, col, item)
        self.points.blockSignals(False)
        self._update_verdicts()

    def _remove_point(self) -> None:
        rows = sorted({i.row() for i in self.points.selectedIndexes()}, reverse=True)
        for row in rows or [self.points.rowCount() - 1]:
            if row >= 0:
                self.points.removeRow(row)
        self._update_verdicts()

    def _cell(self, row: int, col: int) -> str:
        item = self.points.item(row, col)
        return item.text() if item is not None else ""

    def _point_changed(self, item: QTableWidgetItem) -> None:
        if item.column() not in (VERDICT_FOUND, VERDICT_LEFT):
            self._update_verdicts()

    def _update_verdicts(self) -> None:
        self.points.blockSignals(True)
        any_found_fail = any_left_fail = False
        for row in range(self.points.rowCount()):
            nominal = _number(self._cell(row, 0))
            tolerance = _number(self._cell(row, 3))
            for col, source in ((VERDICT_FOUND, 1), (VERDICT_LEFT, 2)):
                reading = _number(self._cell(row, source))
                verdict = (
                    within(reading, nominal, tolerance)
                    if nominal is not None and tolerance is not None
                    else None
                )
                item = self.points.item(row, col)
                if item is None:
                    continue
                item.setText("" if verdict is None else ("Pass" if verdict else "FAIL"))
                item.setForeground(
                    QColor(STATUS_COLOR["ok" if verdict else "overdue"])
                    if verdict is not None
                    else QColor()
                )
                if verdict is False:
                    any_found_fail |= col == VERDICT_FOUND
                    any_left_fail |= col == VERDICT_LEFT
        self.points.blockSignals(False)
        if any_left_fail:
            self.verdict.setText("⚠ A reading is out of tolerance as left: the result is Fail.")
        elif any_found_fail:
            self.verdict.setText("⚠ Out of tolerance as found: record Adjusted (or Fail).")
        else:
            self.verdict.setText("")

    def point_inputs(self) -> tuple[tuple[PointInput, ...], dict[str, str]]:
        points: list[PointInput] = []
        errors: dict[str, str] = {}
        for row in range(self.points.rowCount()):
            texts = [self._cell(row, c) for c in range(5)]
            if not any(t.strip() for t in texts):
                continue  # an empty row is not a point
            nominal, found, left, tol = (_number(t) for t in texts[:4])
            if nominal is None or tol is None:
                errors[f"point {row + 1}"] = "nominal and tolerance must be numbers"
                continue
            bad = [
                POINT_COLUMNS[c] for c in (1, 2) if texts[c].strip() and _number(texts[c]) is None
            ]
            if bad:
                errors[f"point {row + 1}"] = f"{', '.join(bad)} must be a number"
                continue
            points.append(PointInput(nominal, found, left, tol, texts[4].strip()))
        return tuple(points), errors

    # -- standards and due date ------------------------------------------------------

    def _add_standard(self) -> None:
        tag = self.standard_input.text().strip()
        existing = {self.standards.item(i).text().upper() for i in range(self.standards.count())}
        if tag and tag.upper() not in existing:
            self.standards.addItem(tag)
        self.standard_input.clear()

    def _remove_standard(self) -> None:
        for item in self.standards.selectedItems():
            self.standards.takeItem(self.standards.row(item))

    def _recompute_due(self) -> None:
        if self.override_due.isChecked():
            return
        performed = _pydate(self.performed_on.date())
        due = performed + timedelta(days=self._instrument.calibration_interval_days)
        self.next_due.setDate(_qdate(due))

    def _override_toggled(self, on: bool) -> None:
        self.next_due.setEnabled(on)
        self.due_reason.setEnabled(on)
        if not on:
            self.due_reason.clear()
            self._recompute_due()

    # -- saving ----------------------------------------------------------------------

    def calibration_input(self) -> tuple[CalibrationInput, dict[str, str]]:
        points, errors = self.point_inputs()
        data = CalibrationInput(
            performed_on=_pydate(self.performed_on.date()),
            result=str(self.result_box.currentData()),
            performed_by=self.performed_by.text(),
            provider_kind=str(self.provider.currentData()),
            provider_name=self.provider_name.text(),
            certificate_number=self.certificate.text(),
            temperature_c=self.temperature.text() or None,
            humidity_pct=self.humidity.text() or None,
            uncertainty=self.uncertainty.text(),
            next_due=_pydate(self.next_due.date()) if self.override_due.isChecked() else None,
            next_due_reason=self.due_reason.text(),
            notes=self.notes.toPlainText(),
            points=points,
            standards=tuple(self.standards.item(i).text() for i in range(self.standards.count())),
        )
        if self.override_due.isChecked() and not self.due_reason.text().strip():
            errors["next_due"] = "give a reason for changing the computed due date"
        return data, errors

    def _save(self) -> None:
        data, errors = self.calibration_input()
        if errors:
            self._show_errors(errors)
            return
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        self._submit(data, self._saved, self._failed)

    def _done(self) -> None:
        QGuiApplication.restoreOverrideCursor()
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)

    def _saved(self, result: Any) -> None:
        self._done()
        self.saved = result
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._done()
        if isinstance(exc, ValidationError):
            self._show_errors(exc.fields)
            return
        self.banner.setText("Not saved — your entries are kept in this dialog.")
        self.banner.show()
        messages.explain(self, exc, doing="recording the calibration")

    def _show_errors(self, errors: dict[str, str]) -> None:
        rest: list[str] = []
        known: set[str] = set()
        for form in (self.form, self.side, self.after):
            rest += form.show_errors({k: v for k, v in errors.items() if k in form.rows})
            known |= set(form.rows)
        rest += [f"{k}: {v}" for k, v in errors.items() if k not in known]
        self.banner.setText("\n".join(rest))
        self.banner.setVisible(bool(rest))
