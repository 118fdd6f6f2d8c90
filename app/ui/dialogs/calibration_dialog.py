"""Record a calibration: readings grid with live verdicts, standards, next due date.

The grid takes each point's tolerance as written (a plain number is ± that much), its
expanded uncertainty U and coverage factor k, and shows as typed the tolerance limits,
the acceptance limits under the decision rule in force, the TUR (flagged below the lab's
minimum, which then requires a justification) and the as-found and as-left verdicts,
all from ``app.services.point_entry`` (the same judging as saving). A typed
instrument's new calibration starts from its type's test plan and rule.

While standards and the date are chosen, the dialog asks (off the GUI thread, debounced)
whether each standard could vouch for a calibration on that day (and whether they cover
the categories a typed instrument's type requires), and shows the problems next to the
standards with a justification that then becomes required. It also asks what U each
standard offers (``app.services.standard_uncertainty``): an empty U cell gets the
offer of the standards picked, shown in italics with its source in the tooltip, so TUR
computes without retyping; a U or k typed by the person is never overwritten, and
typing over an offer makes the row's U and k the person's own. The same dialog,
prefilled, supersedes a record with a corrected one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, QModelIndex, Qt, QTimer
from PySide6.QtGui import QColor, QFocusEvent, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractScrollArea,
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
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import ServerLostError, ValidationError
from app.services.decision_rules import DecisionRule, Verdict, parse_rule
from app.services.dto import (
    CalibrationInput,
    CalibrationPrefill,
    CalibrationView,
    InstrumentDetail,
    PointInput,
)
from app.services.point_entry import (
    EntryRules,
    RowPreview,
    preview_row,
    read_number,
    rule_choices,
)
from app.services.standard_uncertainty import (
    StandardUncertainty,
    UncertaintyOffer,
    combined_offer,
)
from app.services.tolerance_spec import ACCEPTED_FORMS, format_number
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout, notice_box
from app.ui.look import status_color
from app.words import PROVIDER_LABELS, RESULT_LABELS

Submit = Callable[[CalibrationInput, Callable[[Any], None], Callable[[BaseException], None]], None]
# standard tags, calibration date, callback with tag → problem; runs off the GUI thread
StandardsCheck = Callable[[list[str], date, Callable[[dict[str, str]], None]], None]
# standard tags, calibration date, callback with what each offers as U; off the GUI thread
UncertaintyLookup = Callable[[list[str], date, Callable[[list[StandardUncertainty]], None]], None]
# Marks a U or k cell whose value the standards offered (not typed by the person).
OFFERED = Qt.ItemDataRole.UserRole + 1
STANDARDS_CHECK_MS = 300
POINT_COLUMNS = (
    "Nominal",
    "As found",
    "As left",
    "Tolerance",
    "Unit",
    "U",
    "k",
    "Limits",
    "Acceptance",
    "TUR",
    "Found",
    "Left",
)
NOMINAL, AS_FOUND, AS_LEFT, TOLERANCE, UNIT, U_COLUMN, K_COLUMN = range(7)
LIMITS, ACCEPTANCE, TUR_COLUMN, VERDICT_FOUND, VERDICT_LEFT = range(7, 12)
LAST_ENTRY_COLUMN = K_COLUMN  # the last cell a person types into; the computed ones follow
COLUMN_TIPS = {
    TOLERANCE: f"The tolerance as written: {ACCEPTED_FORMS}",
    U_COLUMN: "Expanded uncertainty U of the measurement, in the point's unit",
    K_COLUMN: "Coverage factor k of U (2 when not stated)",
    LIMITS: "Tolerance limits at the nominal",
    ACCEPTANCE: "Acceptance limits under the decision rule: the tolerance limits moved "
    "inside by the guard band w",
    TUR_COLUMN: "Test uncertainty ratio: tolerance span over 2U (ANSI/NCSL Z540.3)",
    VERDICT_FOUND: "Verdict of the as-found reading under the decision rule",
    VERDICT_LEFT: "Verdict of the as-left reading under the decision rule",
}
VERDICT_TEXT = {
    Verdict.PASS: "Pass",
    Verdict.CONDITIONAL_PASS: "Cond. pass",
    Verdict.CONDITIONAL_FAIL: "Cond. FAIL",
    Verdict.FAIL: "FAIL",
}
VERDICT_STATUS = {
    Verdict.PASS: "ok",
    Verdict.CONDITIONAL_PASS: "due-soon",
    Verdict.CONDITIONAL_FAIL: "overdue",
    Verdict.FAIL: "overdue",
}


def number_text(value: float | None) -> str:
    """A reading as text without losing digits (``:g`` would round to six)."""
    if value is None:
        return ""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


class PointsTable(QTableWidget):
    """The readings grid, moving the way a person enters readings row by row.

    Tab goes through the cells a person types into (Nominal … k) and skips the
    computed ones (limits, TUR, verdicts); Tab from the last row's k adds a row and goes
    to its first
    cell, instead of wrapping to the first row. When that last row is still empty, Tab
    leaves the grid instead (to Add point), so the keyboard can get out of it. Shift+Tab
    goes back the same way.
    """

    def __init__(self, add_row: Callable[[], None], parent: QWidget | None = None) -> None:
        super().__init__(0, len(POINT_COLUMNS), parent)
        self._add_row = add_row

    def moveCursor(
        self, cursorAction: QTableWidget.CursorAction, modifiers: Qt.KeyboardModifier
    ) -> QModelIndex:
        current = self.currentIndex()
        if not current.isValid():
            return super().moveCursor(cursorAction, modifiers)
        row, col = current.row(), current.column()
        model = self.model()
        if cursorAction == QTableWidget.CursorAction.MoveNext and col >= LAST_ENTRY_COLUMN:
            if row + 1 >= self.rowCount():
                if self._row_empty(row):
                    return QModelIndex()  # nothing to go on with: focus moves on
                self._add_row()
            return model.index(row + 1, 0)
        if cursorAction == QTableWidget.CursorAction.MovePrevious and col == 0 and row > 0:
            return model.index(row - 1, LAST_ENTRY_COLUMN)
        if cursorAction == QTableWidget.CursorAction.MovePrevious and col > LAST_ENTRY_COLUMN:
            return model.index(row, LAST_ENTRY_COLUMN)
        return super().moveCursor(cursorAction, modifiers)

    def focusInEvent(self, event: QFocusEvent) -> None:
        # Reached by keyboard (its label's shortcut, or Tab): start at the first cell
        # still to be typed, e.g. As found of a grid prefilled from a test plan.
        if not self.currentIndex().isValid() and self.rowCount() > 0:
            self.setCurrentCell(0, self._first_blank(0))
        super().focusInEvent(event)

    def _first_blank(self, row: int) -> int:
        for col in range(LAST_ENTRY_COLUMN + 1):
            item = self.item(row, col)
            if item is None or not item.text().strip():
                return col
        return 0

    def _at_end(self, forward: bool) -> bool:
        """Whether Tab (or Shift+Tab) from the current cell should leave the grid."""
        current = self.currentIndex()
        if not forward:
            return not current.isValid() or (current.row() == 0 and current.column() == 0)
        last = self.rowCount() - 1
        return (
            current.isValid()
            and current.row() == last
            and current.column() >= LAST_ENTRY_COLUMN
            and self._row_empty(last)
        )

    def focusNextPrevChild(self, next: bool) -> bool:
        # The view would keep Tab inside the grid for good (wrapping, or typing a tab);
        # at its ends the focus goes on to the next (or previous) field instead.
        if self.state() != QTableWidget.State.EditingState and self._at_end(next):
            return QAbstractScrollArea.focusNextPrevChild(self, next)
        return super().focusNextPrevChild(next)

    def closeEditor(self, editor: QWidget, hint: QAbstractItemDelegate.EndEditHint) -> None:
        # Tab out of a cell being edited, at the grid's ends: leave the grid too.
        forward = hint == QAbstractItemDelegate.EndEditHint.EditNextItem
        backward = hint == QAbstractItemDelegate.EndEditHint.EditPreviousItem
        if (forward or backward) and self._at_end(forward):
            super().closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)
            QAbstractScrollArea.focusNextPrevChild(self, forward)
            return
        super().closeEditor(editor, hint)

    def _row_empty(self, row: int) -> bool:
        return not any(
            (item := self.item(row, col)) is not None and item.text().strip()
            for col in range(LAST_ENTRY_COLUMN + 1)
        )


class StandardInput(QLineEdit):
    """The field a standard's tag is typed into: Enter adds it, and only that.

    A QLineEdit passes Enter on to its dialog after ``returnPressed``, and the dialog
    then presses its default button: Enter after a tag saved the calibration half
    entered.
    """

    def keyPressEvent(self, event: QKeyEvent) -> None:
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()  # handled: added (returnPressed), not for the dialog


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def already_saved_text(view: CalibrationView) -> str:
    """What a Save that found its entry recorded by an earlier Save says."""
    return (
        f"Already saved: the earlier save reached the database as calibration #{view.id} "
        f"of {view.asset_tag}; it was not recorded again."
    )


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
        check_standards: StandardsCheck | None = None,
        offer_uncertainty: UncertaintyLookup | None = None,
        supersede: CalibrationView | None = None,
        rules: EntryRules | None = None,
        plan: CalibrationPrefill | None = None,
        provider_names: Sequence[str] = (),
        parent: QWidget | None = None,
    ) -> None:
        """``provider_names``: the register's providers in use, offered as the provider
        name is typed (any other name is still taken, as before the register).

        ``rules``: what the grid judges by (``CalibrationService.entry_rules``: the
        lab's rule, minimum TUR and case policy, the instrument's range and resolution;
        without it simple acceptance, 4:1 and the instrument's own range); ``plan``: the
        type's test plan a new calibration starts from."""
        super().__init__(parent)
        self._instrument = instrument
        self._base_rules = rules or EntryRules.of(
            DecisionRule.simple(),
            range_text=instrument.range_text,
            resolution_text=instrument.resolution_text,
        )
        self.plan = plan if supersede is None else None
        self._previews: list[RowPreview] = []
        self._submit = submit
        self._check_standards = check_standards
        self._offer_uncertainty = offer_uncertainty
        # What the standards picked offer as U on the calibration day (empty: none).
        self._offers: list[StandardUncertainty] = []
        self.superseding = supersede
        self.standard_problems: dict[str, str] = {}
        self._check_generation = 0
        self._found_fail = False
        # Grid row (1-based) of each point sent: empty rows are skipped, so the service's
        # "point N" is translated back to the row the person sees.
        self._point_rows: list[int] = []
        self.saved: Any = None
        # This entry's key, the same on every Save of it: a Save repeated after the first
        # one's answer was lost (the server dropped during COMMIT) finds the record that
        # one made instead of recording the calibration twice.
        self.entry_key = str(uuid.uuid4())
        if supersede is not None:
            self.setWindowTitle(f"Supersede calibration #{supersede.id} — {instrument.asset_tag}")
        else:
            self.setWindowTitle(f"New calibration — {instrument.asset_tag}")
        self.setMinimumSize(760, 560)
        self.resize(1040, 780)

        # Superseding: why (required), and what happens to the old record.
        self.top = ValidatingForm()
        self.supersede_reason = QLineEdit()
        self.supersede_reason.setPlaceholderText(
            "Why is the record replaced? (required, kept in the audit trail)"
        )
        self.top.add("reason", "Reason &for superseding:", self.supersede_reason)
        self.top.setVisible(supersede is not None)

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
        for value, label in RESULT_LABELS.items():
            self.result_box.addItem(label, value)
        form.add("result", "&Result:", self.result_box)
        self.performed_by = QLineEdit(user)
        form.add("performed_by", "Performed &by:", self.performed_by)
        self.provider = QComboBox()
        for kind, label in PROVIDER_LABELS.items():
            self.provider.addItem(label, kind)
        self.provider_name = QLineEdit()
        self.provider_name.setPlaceholderText("Calibration lab (external only)")
        if provider_names:
            completer = QCompleter(list(provider_names), self.provider_name)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            self.provider_name.setCompleter(completer)
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
        side.rows["humidity_pct"] = side.rows["temperature_c"]  # one row, both readings
        self.uncertainty = QLineEdit()
        self.uncertainty.setPlaceholderText("e.g. ±0.05 °C (k=2)")
        side.add("uncertainty", "&Uncertainty:", self.uncertainty)

        # The decision rule in force: the record's own when superseding, else the type's,
        # else the lab's; another may be chosen. What is shown is what is stored.
        if supersede is not None:
            in_force, origin = parse_rule(supersede.decision_rule), f"as on #{supersede.id}"
        elif self.plan is not None and self.plan.decision_rule:
            in_force = parse_rule(self.plan.decision_rule)
            origin = f"type {self.plan.type_name}"
        else:
            in_force, origin = self._base_rules.rule, "lab default"
        self.rule_box = QComboBox()
        self.rule_box.setAccessibleName("Decision rule")
        self.rule_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.rule_box.setMinimumContentsLength(64)
        for choice in rule_choices(in_force, origin):
            self.rule_box.addItem(choice.label, choice.code)
            self.rule_box.setItemData(
                self.rule_box.count() - 1, choice.label, Qt.ItemDataRole.ToolTipRole
            )
        self.rule_box.currentIndexChanged.connect(lambda _i: self._rule_changed())
        self.rules = ValidatingForm()
        self.rules.add("decision_rule", "Decision ru&le:", self.rule_box)
        self._entry_rules = self._rules_for(in_force)

        # Readings grid.
        self.points = PointsTable(self._append_row)
        self.points.setHorizontalHeaderLabels(list(POINT_COLUMNS))
        for col, tip in COLUMN_TIPS.items():
            header_item = self.points.horizontalHeaderItem(col)
            if header_item is not None:
                header_item.setToolTip(tip)
        # The tolerance as written takes the room left; the computed cells fit their
        # text; the numbers get a width that holds a reading with its decimals.
        header = self.points.horizontalHeader()
        digits = self.fontMetrics().horizontalAdvance("0")
        for col, chars in ((NOMINAL, 10), (AS_FOUND, 9), (AS_LEFT, 9), (UNIT, 5), (U_COLUMN, 7)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(col, digits * chars)
        header.setSectionResizeMode(K_COLUMN, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(TOLERANCE, QHeaderView.ResizeMode.Stretch)
        for col in range(LIMITS, len(POINT_COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.points.setAccessibleName("Measurement points")
        self.points.setMinimumHeight(150)
        self.points.itemChanged.connect(self._point_changed)
        points_label = QLabel(
            "Measurement points — readin&gs (limits, TUR and verdicts from the rule, live):"
        )
        points_label.setBuddy(self.points)
        self.plan_label = QLabel()
        self.plan_label.setObjectName("planText")
        self.plan_label.setWordWrap(True)
        if self.plan is not None:
            procedure = f", procedure {self.plan.procedure}" if self.plan.procedure else ""
            self.plan_label.setText(
                f"Test plan of type {self.plan.type_name}{procedure}: "
                f"{len(self.plan.points)} points prefilled; type the readings, U and k."
            )
        self.plan_label.setVisible(self.plan is not None)
        add_point = QPushButton("&Add point")
        # ``clicked`` passes its ``checked`` flag: it must not reach add_point's values.
        add_point.clicked.connect(lambda _checked=False: self._add_point_clicked())
        remove_point = QPushButton("Re&move point")
        remove_point.clicked.connect(self._remove_point)
        point_buttons = QHBoxLayout()
        point_buttons.addWidget(add_point)
        point_buttons.addWidget(remove_point)
        point_buttons.addStretch(1)
        self.verdict = QLabel()
        self.oot_notice = QLabel()
        self.oot_notice.setObjectName("ootNotice")
        self.oot_notice.setWordWrap(True)
        self.oot_notice.setStyleSheet(f"color: {status_color('due-soon').name()};")
        self.oot_notice.setAccessibleName("Out-of-tolerance notice")
        self.oot_notice.hide()

        # Standards used.
        self.standard_input = StandardInput()
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
        self.standards_problem_text = QLabel()
        self.standards_problem_text.setObjectName("standardsProblems")
        self.standards_problem_text.setWordWrap(True)
        self.standards_problem_text.setStyleSheet(f"color: {status_color('due-soon').name()};")
        self.standards_problem_text.setAccessibleName("Problems with the standards")
        self.standards_problem_text.hide()
        self.justification = QPlainTextEdit()
        self.justification.setTabChangesFocus(True)
        self.justification.setFixedHeight(48)
        self.justification.setPlaceholderText(
            "Why these standards could still vouch for this calibration (required)"
        )
        self.tur_problem_text = QLabel()
        self.tur_problem_text.setObjectName("turProblems")
        self.tur_problem_text.setWordWrap(True)
        self.tur_problem_text.setStyleSheet(f"color: {status_color('due-soon').name()};")
        self.tur_problem_text.setAccessibleName("Points below the minimum TUR")
        self.tur_problem_text.hide()
        self.tur_justification = QPlainTextEdit()
        self.tur_justification.setTabChangesFocus(True)
        self.tur_justification.setFixedHeight(48)
        self.tur_justification.setPlaceholderText(
            "Why a TUR below the lab's minimum is accepted for these points (required)"
        )
        self.tur_justification.setAccessibleName("TUR justification")
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(STANDARDS_CHECK_MS)
        self._check_timer.timeout.connect(self._ask_standard_problems)
        self.standards.model().rowsInserted.connect(lambda *_a: self._check_timer.start())
        self.standards.model().rowsRemoved.connect(lambda *_a: self._check_timer.start())
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
        tur_box = QWidget()
        tb = QVBoxLayout(tur_box)
        tb.setContentsMargins(0, 0, 0, 0)
        tb.addWidget(self.tur_problem_text)
        tb.addWidget(self.tur_justification)
        self.tur_row = after.add("tur_justification", "TUR justif&ication:", tur_box)
        # Alt+I goes to the text itself (a label's buddy must take focus; the box does not).
        tur_label = after.layout_.labelForField(self.tur_row)
        if isinstance(tur_label, QLabel):
            tur_label.setBuddy(self.tur_justification)
        after.layout_.setRowVisible(self.tur_row, False)
        standards_box = QWidget()
        sb = QVBoxLayout(standards_box)
        sb.setContentsMargins(0, 0, 0, 0)
        sb.addWidget(self.standard_input)
        sb.addWidget(self.standards)
        sb.addWidget(self.standards_problem_text)
        sb.addWidget(remove_standard, 0, Qt.AlignmentFlag.AlignLeft)
        after.add("standards", "&Standards used:", standards_box)
        self.justification_row = after.add(
            "standards_justification", "&Justification:", self.justification
        )
        after.layout_.setRowVisible(self.justification_row, False)
        after.add("next_due", "Next &due:", due_row)
        after.add("notes", "N&otes:", self.notes)

        self.banner = notice_box()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)

        # The body scrolls rather than squeezing its fields when notices and the
        # justification appear in a small window.
        body = QWidget()
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(form, 1)
        top.addWidget(side, 1)
        body_layout.addWidget(self.top)
        body_layout.addLayout(top)
        body_layout.addWidget(self.rules)
        body_layout.addWidget(points_label)
        body_layout.addWidget(self.plan_label)
        body_layout.addWidget(self.points, 1)
        body_layout.addLayout(point_buttons)
        body_layout.addWidget(self.verdict)
        body_layout.addWidget(self.oot_notice)
        body_layout.addWidget(after)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        self._scroll = scroll
        layout = dialog_layout(self)
        layout.addWidget(self.banner)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.buttons)

        self.performed_on.dateChanged.connect(self._recompute_due)
        self.performed_on.dateChanged.connect(lambda _d: self._check_timer.start())
        self.performed_on.dateChanged.connect(lambda _d: self._update_oot_notice())
        self.result_box.currentIndexChanged.connect(lambda _i: self._update_oot_notice())
        self._recompute_due()
        if self.plan is not None and self.plan.points:
            for p in self.plan.points:
                self.add_point((number_text(p.nominal), "", "", p.tolerance, p.unit))
        else:
            self.add_point()
        if supersede is not None:
            self.prefill(supersede)
            self.banner.setText(
                f"The new record replaces calibration #{supersede.id} of "
                f"{supersede.performed_on}; #{supersede.id} stays in the history, voided, "
                "with your reason. Correct what was wrong below."
            )
            self.banner.show()
            self.supersede_reason.setFocus()
        elif instrument.type_name:
            # Its type may require categories of standard: said before any is picked.
            self._check_timer.start()

    def prefill(self, record: CalibrationView) -> None:
        """Start from an existing record (superseding it): every value it holds."""
        self.performed_on.setDate(_qdate(record.performed_on))
        self.result_box.setCurrentIndex(max(0, self.result_box.findData(record.result)))
        self.performed_by.setText(record.performed_by)
        self.provider.setCurrentIndex(max(0, self.provider.findData(record.provider_kind)))
        self.provider_name.setText(record.provider_name)
        self.certificate.setText(record.certificate_number)
        self.temperature.setText(number_text(record.temperature_c))
        self.humidity.setText(number_text(record.humidity_pct))
        self.uncertainty.setText(record.uncertainty)
        self.notes.setPlainText(record.notes)
        self.points.setRowCount(0)
        for p in record.points:
            # Every value the point holds: its tolerance as written (else the ± number),
            # U and k, so the new record loses none of them.
            self.add_point(
                (
                    number_text(p.nominal),
                    number_text(p.as_found),
                    number_text(p.as_left),
                    p.tolerance_text or number_text(p.tolerance),
                    p.unit,
                    number_text(p.uncertainty),
                    number_text(p.coverage_factor),
                )
            )
        if not record.points:
            self.add_point()
        self.standards.clear()
        for tag in record.standards:
            self.standards.addItem(tag)
        self.justification.setPlainText(record.standards_justification)
        self.tur_justification.setPlainText(record.tur_justification)
        computed = record.performed_on + timedelta(days=self._instrument.calibration_interval_days)
        if record.next_due is not None and record.next_due != computed:
            # Kept as it was; the reason for the override is asked again for this record.
            self.override_due.setChecked(True)
            self.next_due.setDate(_qdate(record.next_due))
        self._show_justification(bool(record.standards_justification))
        self._update_verdicts()

    # -- readings --------------------------------------------------------------------

    def add_point(self, values: Sequence[str] = ()) -> None:
        """Append a row holding ``values`` (Nominal, As found, As left, Tolerance, Unit, U, k)."""
        values = [str(v) for v in values]  # a stray non-sequence fails here, before any change
        row = self.points.rowCount()
        blocked = self.points.blockSignals(True)
        try:
            self.points.insertRow(row)
            for col in range(len(POINT_COLUMNS)):
                item = QTableWidgetItem(values[col] if col < len(values) else "")
                if col > LAST_ENTRY_COLUMN:
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # computed: never typed over
                self.points.setItem(row, col, item)
        finally:
            # Left blocked, the grid would stop updating its verdicts for good.
            self.points.blockSignals(blocked)
        self._update_verdicts()

    def _append_row(self) -> None:
        """Tab from the last cell: a new empty row."""
        self.add_point()

    def _add_point_clicked(self) -> None:
        """Add point: a new row, with the cursor in its first cell ready for typing."""
        self.add_point()
        row = self.points.rowCount() - 1
        self.points.setFocus(Qt.FocusReason.OtherFocusReason)
        self.points.setCurrentCell(row, 0)
        self.points.scrollTo(self.points.model().index(row, 0))

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
        column, row = item.column(), item.row()
        if column in (U_COLUMN, K_COLUMN) and item.data(OFFERED):
            self._make_typed(row)  # typed over: the row's U and k are the person's now
        elif column in (NOMINAL, UNIT):
            self._apply_offers([row])
        if column <= LAST_ENTRY_COLUMN:
            self._update_verdicts()

    # -- U offered by the standards --------------------------------------------------

    def show_offers(self, offers: list[StandardUncertainty]) -> None:
        """What the standards picked offer as U: fill the cells open to an offer."""
        self._offers = list(offers)
        self._apply_offers(range(self.points.rowCount()))
        self._update_verdicts()

    def offered(self, row: int) -> bool:
        """Whether the row's U is the standards' offer (not typed by the person)."""
        item = self.points.item(row, U_COLUMN)
        return item is not None and bool(item.data(OFFERED))

    def _open_to_offer(self, row: int) -> bool:
        """A row whose U and k are each empty or offered (nothing typed there)."""
        for col in (U_COLUMN, K_COLUMN):
            item = self.points.item(row, col)
            if item is not None and item.text().strip() and not item.data(OFFERED):
                return False
        return True

    def _apply_offers(self, rows: Sequence[int] | range) -> None:
        """Put the combined offer (``standard_uncertainty.combined_offer``) in each of
        these rows open to one; clear an earlier offer the standards no longer make."""
        blocked = self.points.blockSignals(True)
        try:
            for row in rows:
                if not self._open_to_offer(row):
                    continue
                try:
                    nominal = read_number(self._cell(row, NOMINAL))
                except ValueError:
                    nominal = None
                offer = (
                    combined_offer(self._offers, nominal, self._cell(row, UNIT))
                    if nominal is not None and self._offers
                    else None
                )
                k = offer.coverage_factor if offer is not None else None
                self._set_offered(row, U_COLUMN, offer, offer.uncertainty if offer else None)
                self._set_offered(row, K_COLUMN, offer, k)
        finally:
            # Left blocked, the grid would stop updating its verdicts for good.
            self.points.blockSignals(blocked)

    def _set_offered(
        self, row: int, col: int, offer: UncertaintyOffer | None, value: float | None
    ) -> None:
        item = self.points.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            self.points.setItem(row, col, item)
        marked = offer is not None and value is not None
        item.setText(number_text(value))
        item.setData(OFFERED, marked)
        font = item.font()
        font.setItalic(marked)
        item.setFont(font)
        item.setToolTip(
            f"Offered by the standards: {offer.source}. Type over it to use your own."
            if offer is not None and marked
            else ""
        )

    def _make_typed(self, row: int) -> None:
        blocked = self.points.blockSignals(True)
        try:
            for col in (U_COLUMN, K_COLUMN):
                item = self.points.item(row, col)
                if item is not None and item.data(OFFERED):
                    item.setData(OFFERED, False)
                    font = item.font()
                    font.setItalic(False)
                    item.setFont(font)
                    item.setToolTip("")
        finally:
            self.points.blockSignals(blocked)

    # -- the decision rule -----------------------------------------------------------

    def _rules_for(self, rule: DecisionRule) -> EntryRules:
        return self._base_rules.with_rule(rule)

    def rule_code(self) -> str:
        """The code of the decision rule chosen (what the record stores)."""
        return str(self.rule_box.currentData())

    def _rule_changed(self) -> None:
        rule = parse_rule(self.rule_code())
        self._entry_rules = self._rules_for(rule)
        self._update_verdicts()

    # -- live judging ----------------------------------------------------------------

    def _preview(self, row: int) -> RowPreview:
        texts = [self._cell(row, col) for col in range(LAST_ENTRY_COLUMN + 1)]
        return preview_row(self._entry_rules, *texts)

    def _computed(self, row: int, col: int, text: str, status: str | None, tip: str = "") -> None:
        item = self.points.item(row, col)
        if item is None:
            item = QTableWidgetItem()
            self.points.setItem(row, col, item)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # computed: never typed over
        item.setText(text)
        item.setToolTip(tip)
        item.setForeground(status_color(status) if status is not None else QColor())

    def _update_verdicts(self) -> None:
        """Judge every row as saving will (``point_entry.preview_row``) and show it."""
        self.points.blockSignals(True)
        previews: list[RowPreview] = []
        try:
            for row in range(self.points.rowCount()):
                preview = self._preview(row)
                previews.append(preview)
                self._computed(row, LIMITS, preview.limits, None, preview.problem)
                self._computed(row, ACCEPTANCE, preview.acceptance, None)
                tur = f"{preview.tur} low" if preview.tur_low else preview.tur
                minimum = format_number(self._base_rules.minimum_tur)
                self._computed(
                    row,
                    TUR_COLUMN,
                    tur,
                    "overdue" if preview.tur_low else None,
                    f"Below the lab's minimum of {minimum}:1" if preview.tur_low else "",
                )
                for col, verdict in (
                    (VERDICT_FOUND, preview.as_found),
                    (VERDICT_LEFT, preview.as_left),
                ):
                    self._computed(
                        row,
                        col,
                        "" if verdict is None else VERDICT_TEXT[verdict],
                        None if verdict is None else VERDICT_STATUS[verdict],
                        "" if verdict is None else verdict.label,
                    )
        finally:
            # Left blocked, the grid would stop updating its verdicts for good.
            self.points.blockSignals(False)
        self._previews = previews
        indeterminate = self._base_rules.indeterminate_opens_case
        self._found_fail = any(
            p.found_outside or (indeterminate and p.found_indeterminate) for p in previews
        )
        self._update_oot_notice()
        self._update_tur_notice()
        lines: list[str] = []
        if any(p.left_outside for p in previews):
            lines.append("A reading is out of tolerance as left: the result is Fail.")
        elif any(p.as_left is not None and not p.as_left.conforms for p in previews):
            lines.append(
                "A reading as left is not accepted under the decision rule: the result "
                "cannot be Pass."
            )
        elif any(p.found_outside for p in previews):
            lines.append("Out of tolerance as found: record Adjusted (or Fail).")
        elif any(p.as_found is not None and not p.as_found.conforms for p in previews):
            lines.append(
                "Not accepted as found under the decision rule: record Adjusted (or Fail)."
            )
        lines += [f"Point {row + 1}: {p.problem}" for row, p in enumerate(previews) if p.problem]
        self.verdict.setText("\n".join(lines))

    def _update_tur_notice(self) -> None:
        """A point below the lab's minimum TUR makes the TUR justification required."""
        low = [f"point {row + 1} ({p.tur})" for row, p in enumerate(self._previews) if p.tur_low]
        if low:
            self.tur_problem_text.setText(
                f"The TUR of {', '.join(low)} is below the lab's minimum of "
                f"{format_number(self._base_rules.minimum_tur)}:1. Use a better standard or "
                "method, or justify accepting it below."
            )
        self.tur_problem_text.setVisible(bool(low))
        visible = bool(low) or bool(self.tur_justification.toPlainText().strip())
        appearing = visible and self.tur_row.isHidden()
        self.after.layout_.setRowVisible(self.tur_row, visible)
        if appearing:
            QTimer.singleShot(0, lambda: self._scroll.ensureWidgetVisible(self.tur_justification))

    @property
    def tur_low(self) -> bool:
        """Whether a point's TUR is below the lab's minimum (a justification is required)."""
        return any(p.tur_low for p in self._previews)

    def _failing_rows(self) -> list[int]:
        """Grid rows (1-based) with a verdict that does not conform (fail or conditional
        fail, as found or as left): the result cannot be Pass."""
        return [row + 1 for row, p in enumerate(self._previews) if p.nonconforming]

    def point_inputs(self) -> tuple[tuple[PointInput, ...], dict[str, str]]:
        points: list[PointInput] = []
        errors: dict[str, str] = {}
        self._point_rows = []
        for row in range(self.points.rowCount()):
            preview = self._preview(row)
            if preview.empty:
                continue  # an empty row is not a point
            if preview.point is None:
                errors[f"point {row + 1}"] = preview.problem
                continue
            points.append(preview.point)
            self._point_rows.append(row + 1)
        return tuple(points), errors

    def _update_oot_notice(self) -> None:
        """Before saving: say that a failure opens a case and stops the instrument."""
        failed = self._found_fail or self.result_box.currentData() == "fail"
        if not failed:
            self.oot_notice.hide()
            return
        d = self._instrument
        performed = _pydate(self.performed_on.date())
        newest = d.last_calibrated is None or performed >= d.last_calibrated
        stops = (
            f" and takes {d.asset_tag} out of service until QA closes the case"
            if newest and d.lifecycle == "in_service"
            else ""
        )
        cause = (
            "The as-found readings are out of tolerance (or not surely within it)"
            if self._found_fail
            else "A Fail"
        )
        self.oot_notice.setText(
            f"{cause}: saving opens an out-of-tolerance case{stops}. QA then assesses "
            f"what {d.asset_tag} may have affected as a standard since its last good "
            "calibration."
        )
        self.oot_notice.show()

    # -- standards and due date ------------------------------------------------------

    def standard_tags(self) -> list[str]:
        return [self.standards.item(i).text() for i in range(self.standards.count())]

    def _ask_standard_problems(self) -> None:
        tags = self.standard_tags()
        self._check_generation += 1
        generation = self._check_generation
        day = _pydate(self.performed_on.date())
        self._ask_offers(tags, day, generation)
        # A typed instrument is asked about even without standards: its type may
        # require categories of standard.
        if (not tags and not self._instrument.type_name) or self._check_standards is None:
            self.show_standard_problems({})
            return

        def answered(problems: dict[str, str]) -> None:
            # An answer to an older question (the list or date changed since) is dropped.
            if shiboken6.isValid(self) and generation == self._check_generation:
                self.show_standard_problems(problems)

        self._check_standards(tags, day, answered)

    def _ask_offers(self, tags: list[str], day: date, generation: int) -> None:
        if not tags or self._offer_uncertainty is None:
            self.show_offers([])
            return

        def answered(offers: list[StandardUncertainty]) -> None:
            if shiboken6.isValid(self) and generation == self._check_generation:
                self.show_offers(offers)

        self._offer_uncertainty(tags, day, answered)

    def show_standard_problems(self, problems: dict[str, str]) -> None:
        self.standard_problems = dict(problems)
        if problems:
            self.standards_problem_text.setText(
                "\n".join(f"• {text}" for text in problems.values())
                + "\nUse another standard, or justify using it below."
            )
        self.standards_problem_text.setVisible(bool(problems))
        self._show_justification(bool(problems) or bool(self.justification.toPlainText().strip()))

    def _show_justification(self, visible: bool) -> None:
        appearing = visible and self.justification_row.isHidden()
        self.after.layout_.setRowVisible(self.justification_row, visible)
        if appearing:
            # Bring the newly required field into view (the body may be scrolled).
            QTimer.singleShot(0, lambda: self._scroll.ensureWidgetVisible(self.justification))

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
            standards=tuple(self.standard_tags()),
            standards_justification=self.justification.toPlainText().strip(),
            entry_key=self.entry_key,
            decision_rule=self.rule_code(),
            tur_justification=self.tur_justification.toPlainText().strip(),
        )
        failing = self._failing_rows()
        if data.result == "pass" and failing and "result" not in errors:
            rows = ", ".join(str(r) for r in failing)
            errors["result"] = (
                f"point {rows} {'is' if len(failing) == 1 else 'are'} out of tolerance or "
                "not accepted under the decision rule (FAIL in the grid): choose Adjusted "
                "or Fail"
            )
        if self.override_due.isChecked() and not self.due_reason.text().strip():
            errors["next_due"] = "give a reason for changing the computed due date"
        if self.standard_problems and not data.standards_justification:
            errors["standards_justification"] = (
                "required: say why these standards could still be used, or use others"
            )
        if self.tur_low and not data.tur_justification:
            errors["tur_justification"] = (
                "required: a point's TUR is below the lab's minimum; say why it is "
                "accepted, or use a better standard"
            )
        if self.superseding is not None and not self.supersede_reason.text().strip():
            errors["reason"] = "required: say why the record is superseded"
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
        if isinstance(result, CalibrationView) and result.already_saved:
            # The earlier Save had reached the database; this one wrote nothing.
            self.banner.setText(already_saved_text(result))
            self.banner.show()
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._done()
        if isinstance(exc, ValidationError):
            self._show_errors(self._grid_rows(exc.fields))
            return
        if isinstance(exc, ServerLostError):
            # Its first line says whether the record was saved: a drop during COMMIT
            # leaves that to the server, and saving again blindly would record it twice.
            self.banner.setText(str(exc).partition("\n")[0])
        else:
            self.banner.setText("Not saved — your entries are kept in this dialog.")
        self.banner.show()
        messages.explain(self, exc, doing="recording the calibration")

    def _grid_rows(self, errors: dict[str, str]) -> dict[str, str]:
        """The service numbers the points it got; name the grid rows the person sees."""
        shown: dict[str, str] = {}
        for key, text in errors.items():
            kind, _sep, number = key.partition(" ")
            if kind == "point" and number.isdigit() and 0 < int(number) <= len(self._point_rows):
                key = f"point {self._point_rows[int(number) - 1]}"
            shown[key] = text
        return shown

    def _show_errors(self, errors: dict[str, str]) -> None:
        rest: list[str] = []
        known: set[str] = set()
        if "standards" in errors:
            self._show_justification(True)
        if "tur_justification" in errors:
            self.after.layout_.setRowVisible(self.tur_row, True)
        for form in (self.top, self.form, self.side, self.rules, self.after):
            rest += form.show_errors({k: v for k, v in errors.items() if k in form.rows})
            known |= set(form.rows)
        rest += [f"{k}: {v}" for k, v in errors.items() if k not in known]
        self.banner.setText("\n".join(rest))
        self.banner.setVisible(bool(rest))
