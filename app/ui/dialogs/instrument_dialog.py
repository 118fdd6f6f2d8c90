"""Add or edit an instrument, with messages next to the fields they are about.

The form also chooses the instrument's type and shows that type's custom fields under
it (the service, ``types.apply_type``, checks and stores them), and holds the expanded
uncertainty stated on it as a standard, typed as ``instruments edit --stated-u`` takes
it and read by the same parser (``standard_uncertainty.parse_stated``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QWidget,
)

from app.errors import ConflictError, ServerLostError, ValidationError
from app.limits import SHORT_LEN, TAG_LEN, TEXT_LEN
from app.services.dto import (
    DEFAULT_INTERVAL_DAYS,
    InstrumentChanges,
    InstrumentDetail,
    InstrumentInput,
    StatedUncertainty,
    TypeFieldView,
    TypeView,
)
from app.services.instruments import UNCHANGED, Unchanged
from app.services.standard_uncertainty import parse_stated, stated_input_text
from app.services.types import custom_value
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
# The row of the type combo; a custom field's row is CUSTOM_ROW + its name, which is how
# the service names a custom field's problem ("custom field Probe serial").
TYPE_ROW = "type_name"
CUSTOM_ROW = "custom field "
# The row of the stated uncertainty: the name the service gives its problems.
STATED_ROW = "stated_uncertainty"
# One field in the CLI's and the import column's form rather than three: a value alone
# ("0.02") is typed as it is, and what a technician learns here works in --stated-u and
# in a register's "Stated U" cell too.
STATED_PLACEHOLDER = "U:k:unit, e.g. 0.02:2:°C"
STATED_TIP = (
    "As a reference standard: the expanded uncertainty U stated for it (on its "
    "certificate or by its maker), typed as U:k:unit. 0.02:2:°C is U = 0.02 °C at k = 2; "
    "0.02::°C a U in °C without a k; 0.02 a U alone. A calibration that uses this "
    "standard is offered this U at points in the same unit that the standard's own "
    "calibration does not cover. Empty the field to remove it."
)
# An optional date a date editor holds no value for: shown as NO_DATE_TEXT (a date
# editor always holds some date; this one, its minimum, stands for none).
NO_DATE = QDate(1900, 1, 1)
NO_DATE_TEXT = "not given"
NOT_CHOSEN = "(not chosen)"
NO_TYPE = "(no type)"


def custom_label(field: TypeFieldView) -> str:
    """A custom field's label: "required" said in words, not only by a mark or colour."""
    return f"{field.name} (required):" if field.required else f"{field.name}:"


class InstrumentDialog(QDialog):
    """The instrument form. ``submit`` saves off the GUI thread and calls back."""

    def __init__(
        self,
        *,
        submit: Submit,
        on_conflict: Callable[[ConflictError, dict[str, Any]], None],
        detail: InstrumentDetail | None = None,
        types: Sequence[TypeView] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._submit = submit
        self._types = {t.name: t for t in types}
        # Custom field name -> its editor, for the type chosen now (and the values the
        # instrument holds that the type lacks, so they can be seen and emptied).
        self.custom: dict[str, QWidget] = {}
        self._custom_fields: dict[str, TypeFieldView | None] = {}
        self._typed_custom: dict[str, str] = {}  # kept when the type changes back
        self._interval_typed = False  # a new instrument's interval, changed by hand
        self._setting_interval = False
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
        self._add_stated_row()
        self._add_type_row()
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
        else:
            self._type_changed()
        self.edits["asset_tag"].setFocus()

    def _add_stated_row(self) -> None:
        self.stated = QLineEdit()
        # U, k and a unit of at most UNIT_LEN: well inside this.
        self.stated.setMaxLength(SHORT_LEN)
        self.stated.setPlaceholderText(STATED_PLACEHOLDER)
        self.stated.setToolTip(STATED_TIP)
        self.form.add(STATED_ROW, "Stat&ed U:", self.stated, column=1)
        self.stated.editingFinished.connect(self._check_stated)

    def _check_stated(self) -> None:
        """The service's parse and checks of the typed value, said at the field as soon
        as it is left (Save checks again)."""
        try:
            parse_stated(self.stated.text())
        except ValidationError as exc:
            self.form.rows[STATED_ROW].set_error(exc.fields.get(STATED_ROW, str(exc)))
            return
        self.form.rows[STATED_ROW].set_error(None)

    def stated_choice(self) -> StatedUncertainty | Unchanged | None:
        """What Save sends as the stated uncertainty: None for none (an edit's emptied
        field removes it), UNCHANGED for an edit that left it as loaded. Raises the
        service's ValidationError (field ``stated_uncertainty``) for what cannot be one."""
        stated = parse_stated(self.stated.text())
        if self._detail is not None and stated == self._detail.stated_uncertainty:
            return UNCHANGED
        return stated

    def stated_change(self) -> str | None:
        """The stated uncertainty as typed when it differs from what was loaded (None:
        left alone): what a conflict's "reapply mine" puts back."""
        text = self.stated.text().strip()
        loaded = stated_input_text(self._detail.stated_uncertainty) if self._detail else ""
        return None if text == loaded else text

    def _add_type_row(self) -> None:
        self.type_box = QComboBox()
        self.type_box.addItem(NO_TYPE, "")
        for name in sorted(self._types, key=str.casefold):
            self.type_box.addItem(name, name)
        # Wide enough for a type's name ("Digital thermometer, 0-150 °C") to read whole.
        self.type_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.type_box.setMinimumContentsLength(36)
        self.type_box.setToolTip(
            "The type's custom fields show below; a new instrument takes the type's "
            "default interval unless you change the interval yourself"
        )
        self.form.add(TYPE_ROW, "T&ype:", self.type_box, column=1)
        self.type_box.currentIndexChanged.connect(self._type_changed)

    def _add_numbers_and_status(self) -> None:
        self.interval = QSpinBox()
        self.interval.setRange(1, MAX_INTERVAL_DAYS)
        self.interval.setValue(365)
        self.interval.setSuffix(" days")
        self.interval.valueChanged.connect(self._interval_changed)
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

    def _interval_changed(self) -> None:
        if not self._setting_interval:
            self._interval_typed = True

    def _set_interval(self, days: int) -> None:
        self._setting_interval = True
        try:
            self.interval.setValue(days)
        finally:
            self._setting_interval = False

    # -- the type and its custom fields ------------------------------------------------

    def chosen_type(self) -> TypeView | None:
        return self._types.get(str(self.type_box.currentData() or ""))

    def _type_changed(self) -> None:
        """Show the chosen type's custom fields (what was typed in them is kept)."""
        form = self.form.columns[1]
        for name, editor in self.custom.items():
            self._typed_custom[name.casefold()] = self._custom_text(editor)
            form.removeRow(self.form.rows.pop(CUSTOM_ROW + name))
        self.custom.clear()
        self._custom_fields.clear()
        kind = self.chosen_type()
        held = dict(self._detail.custom_fields) if self._detail else {}
        fields: list[tuple[str, TypeFieldView | None]] = [
            (f.name, f) for f in (kind.fields if kind else ())
        ]
        own = {name.casefold() for name, _ in fields}
        # Values the instrument holds that this type has no field for: shown, so the
        # person sees what a change of type would leave behind and can empty them (the
        # service refuses to drop them unasked).
        fields += [(name, None) for name in held if name.casefold() not in own]
        previous: QWidget = self.type_box
        for name, field in fields:
            typed = self._typed_custom.get(name.casefold())
            value = typed if typed is not None else held.get(name, "")
            editor = self._custom_editor(name, field, value)
            label = (
                custom_label(field)
                if field is not None
                else f"{name} (not a field of this type; empty it to remove it):"
            )
            self.form.add(CUSTOM_ROW + name, label, editor, column=1)
            QWidget.setTabOrder(previous, editor)
            previous = editor
            self.custom[name] = editor
            self._custom_fields[name] = field
        if previous is not self.type_box:
            QWidget.setTabOrder(previous, self.notes)  # then on as before
        if self._detail is None and not self._interval_typed:
            # The service gives a new instrument its type's default interval when no
            # interval was typed (InstrumentService.add_in): shown here before saving.
            default = kind.default_interval_days if kind else None
            self._set_interval(default or DEFAULT_INTERVAL_DAYS)

    def _custom_editor(self, name: str, field: TypeFieldView | None, value: str) -> QWidget:
        if field is not None and field.kind == "choice":
            box = QComboBox()
            box.addItem(NOT_CHOSEN, "")
            for choice in field.choices:
                box.addItem(choice, choice)
            if value and box.findData(value) < 0:
                # Held from before the type's choices changed: kept as it is, never
                # cleared by a save that did not touch it.
                box.addItem(f"{value} (not one of the type's choices now)", value)
            box.setCurrentIndex(max(0, box.findData(value)))
            return box
        given = QDate.fromString(value, "yyyy-MM-dd")
        # A held date the editor cannot show as it is (not a date, or before its
        # "not given" minimum) stays in a plain field: a save never alters it unseen.
        shows = not value or (given.isValid() and given > NO_DATE)
        if field is not None and field.kind == "date" and shows:
            day = QDateEdit()
            day.setCalendarPopup(True)
            day.setDisplayFormat("yyyy-MM-dd")
            day.setMinimumDate(NO_DATE)
            day.setSpecialValueText(NO_DATE_TEXT)
            day.setDate(given if value else NO_DATE)
            return day
        edit = QLineEdit(value)
        if field is not None:
            kind = field.kind
            edit.editingFinished.connect(lambda: self._check_custom(name, kind, edit))
        return edit

    def _check_custom(self, name: str, kind: str, edit: QLineEdit) -> None:
        """The service's check of a typed value, said at the field as soon as it is left."""
        text = edit.text().strip()
        problem = custom_value(kind, name, (), text)[1] if text else None
        row = self.form.rows.get(CUSTOM_ROW + name)
        if row is not None:
            row.set_error(problem)

    @staticmethod
    def _custom_text(editor: QWidget) -> str:
        if isinstance(editor, QComboBox):
            return str(editor.currentData() or "")
        if isinstance(editor, QDateEdit):
            day = editor.date()
            return "" if day == NO_DATE else day.toString("yyyy-MM-dd")
        if isinstance(editor, QLineEdit):
            return editor.text().strip()
        return ""

    def custom_texts(self) -> dict[str, str]:
        """Each shown custom field's value as typed ("" for none)."""
        return {name: self._custom_text(editor) for name, editor in self.custom.items()}

    def type_choice(self) -> tuple[str | None, dict[str, str] | None]:
        """What Save sends besides the fields: the type (None: unchanged; "": none) and
        the custom values (a new instrument's given ones; an edit's changed ones, "" for
        one emptied)."""
        chosen = str(self.type_box.currentData() or "")
        texts = self.custom_texts()
        if self._detail is None:
            given = {name: value for name, value in texts.items() if value}
            return (chosen or None), (given or None)
        held = self._detail.custom_fields
        changed = {name: value for name, value in texts.items() if held.get(name, "") != value}
        return (chosen if chosen != self._detail.type_name else None), (changed or None)

    def reapply_type_choice(self, type_name: str | None, custom: Mapping[str, str] | None) -> None:
        """Put the person's own type and custom value changes (``type_choice``'s) back
        onto a form reloaded with someone else's newer version (a conflict's "reapply
        mine"); values the person did not change show the newer version's."""
        if type_name is not None:
            index = self.type_box.findData(type_name)
            if index < 0:
                self.type_box.addItem(type_name, type_name)
                index = self.type_box.count() - 1
            self.type_box.setCurrentIndex(index)  # rebuilds the custom fields
        for name, value in (custom or {}).items():
            editor = self.custom.get(name)
            if isinstance(editor, QComboBox):
                if editor.findData(value) < 0:
                    editor.addItem(value, value)
                editor.setCurrentIndex(editor.findData(value))
            elif isinstance(editor, QDateEdit):
                day = QDate.fromString(value, "yyyy-MM-dd")
                editor.setDate(day if value and day.isValid() else NO_DATE)
            elif isinstance(editor, QLineEdit):
                editor.setText(value)

    def interval_from_type(self) -> bool:
        """A new instrument whose interval nobody typed: the type's default applies."""
        return self._detail is None and not self._interval_typed

    # -- values ----------------------------------------------------------------------

    def load(self, detail: InstrumentDetail) -> None:
        for name, edit in self.edits.items():
            edit.setText(str(getattr(detail, name) or ""))
        self.interval.setValue(detail.calibration_interval_days)
        self.grace.setValue(detail.grace_days)
        self.status.setCurrentIndex(max(0, self.status.findData(detail.lifecycle)))
        self.notes.setPlainText(detail.notes)
        self.stated.setText(stated_input_text(detail.stated_uncertainty))
        self.expected_version = detail.version
        self._detail = detail
        self.requirement.setCurrentIndex(
            max(0, self.requirement.findData(detail.calibration_requirement))
        )
        self.requirement_reason.setText(detail.requirement_reason)
        self._requirement_changed()
        self._typed_custom.clear()
        index = self.type_box.findData(detail.type_name)
        if index < 0 and detail.type_name:
            # A type this form was not given (added meanwhile): still shown as it is.
            self.type_box.addItem(detail.type_name, detail.type_name)
            index = self.type_box.count() - 1
        self.type_box.blockSignals(True)
        self.type_box.setCurrentIndex(max(0, index))
        self.type_box.blockSignals(False)
        self._type_changed()

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
        stated: StatedUncertainty | Unchanged | None = UNCHANGED
        try:
            stated = self.stated_choice()
        except ValidationError as exc:
            errors.update(exc.fields)
        if errors:
            self.form.show_errors(errors)
            return
        type_name, custom = self.type_choice()
        untouched = type_name is None and not custom and isinstance(stated, Unchanged)
        if self._detail is not None and not values and untouched:
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
            # Values the new type lacks: said at the type, where the change was made.
            fields = {
                (TYPE_ROW if name == "custom_fields" else name): message
                for name, message in exc.fields.items()
            }
            unclaimed = self.form.show_errors(fields)
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
