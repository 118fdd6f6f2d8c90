"""The register of instrument types in the window: list them, add one, change one.

The list of types is on the left; the selected type's plan is on the right: its name,
default interval, decision rule, procedure, range and resolution, the standard
categories a calibration of it needs, its test points (nominal, tolerance as written,
unit, and the limits the service reads from them, live) and its custom fields.

Everything a type means is the service's (``app.services.types``): the dialog sends what
was typed and shows what the service says back — the limits of each row
(``limits_preview``, the reading saving checks), every problem with a save, named at its
field, and a concurrent change (the window's one conflict flow, nothing typed is lost).
Only QA and admins keep types (``TypeService``'s role check); anyone else, and a
window that does not edit the database, sees the register read-only with a line saying
why. Writes run through the task runner and are announced through its change signal.

Keys: Ctrl+N a new type, Ctrl+S saves, Insert and Delete add and remove a row of the
test points or custom fields table that has the focus, Esc closes (asking first when
something typed is not saved).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from itertools import pairwise
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.errors import ConflictError, ServerLostError, ValidationError
from app.limits import SHORT_LEN, TEXT_LEN
from app.services.accounts import ROLE_NAMES, ROLE_RANK
from app.services.decision_rules import DecisionRule
from app.services.dto import (
    ScheduleDefault,
    TypeChanges,
    TypeFieldInput,
    TypeInput,
    TypePointInput,
    TypeView,
    UserView,
)
from app.services.point_entry import LAB_DEFAULT_CODE, read_number, type_rule_choices
from app.services.schedules import ROW_KINDS
from app.services.types import KEEPER_ROLE, limits_preview
from app.services.validation import MAX_INTERVAL_DAYS
from app.ui import messages
from app.ui.dialogs.conflict_dialog import resolve_conflict
from app.ui.dialogs.form import FieldRow, ValidatingForm, notice_box
from app.ui.dialogs.type_schedule_fields import DefaultScheduleFields
from app.ui.dialogs.type_schedule_fields import form_key as schedule_row
from app.ui.models.types_table import (
    COL_FIELD_NAME,
    COL_KIND,
    COL_LIMITS,
    COL_NOMINAL,
    COL_TYPE_NAME,
    FieldsModel,
    PointsModel,
    TypesTableModel,
    nominal_text,
)
from app.ui.tasks import Changes, TaskRunner, run_for
from app.vocabulary import FIELD_KINDS

ModelIndex = QModelIndex | QPersistentModelIndex
SHOWN_PROBLEMS = 8  # problems listed at once in the notice (and under each table)
# (the user, the types, the lab's decision rule today)
Loaded = tuple[UserView, list[TypeView], DecisionRule]
TEXT_FIELDS: tuple[tuple[str, str, int, int], ...] = (
    # name, label, max length, column
    ("name", "Na&me:", TEXT_LEN, 0),
    ("procedure_id", "&Procedure document:", SHORT_LEN, 0),
    ("procedure_revision", "Re&vision:", SHORT_LEN, 0),
    ("range_low", "Range lo&w:", SHORT_LEN, 1),
    ("range_high", "Range &high:", SHORT_LEN, 1),
    ("resolution", "Resol&ution:", SHORT_LEN, 1),
)


class EditTable(QTableView):
    """A table of rows typed by keyboard: Insert adds a row below the current one,
    Delete removes the current row, typing starts editing the cell."""

    def __init__(self, model: PointsModel | FieldsModel, name: str) -> None:
        super().__init__()
        self.rows = model
        self.setModel(model)
        self.setAccessibleName(name)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # Tab leaves the table (arrows move between cells); while a cell is edited, Tab
        # goes on to the next cell, as in the calibration grid.
        self.setTabKeyNavigation(False)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.AnyKeyPressed
            | QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Insert and not self.rows.read_only:
            current = self.currentIndex()
            row = self.rows.insert_row(current.row() + 1 if current.isValid() else 0)
            self.setCurrentIndex(self.rows.index(row, 0))
            return
        if event.key() == Qt.Key.Key_Delete and not self.rows.read_only:
            current = self.currentIndex()
            if current.isValid() and self.rows.remove_row(current.row()):
                left = min(current.row(), self.rows.rowCount() - 1)
                if left >= 0:
                    self.setCurrentIndex(self.rows.index(left, current.column()))
            return
        super().keyPressEvent(event)

    def commit_edit(self) -> None:
        """What is being typed in a cell goes into the table (before a save reads it)."""
        if self.state() != QAbstractItemView.State.EditingState:
            return
        editor = QApplication.focusWidget()
        if editor is not None and self.isAncestorOf(editor):
            self.commitData(editor)
            self.closeEditor(editor, QAbstractItemDelegate.EndEditHint.NoHint)


class KindDelegate(QStyledItemDelegate):
    """A custom field's kind is picked from the kinds the service knows."""

    def createEditor(
        self, parent: QWidget, option: QStyleOptionViewItem, index: ModelIndex
    ) -> QWidget:
        combo = QComboBox(parent)
        combo.addItems(list(FIELD_KINDS))
        combo.setAccessibleName("Kind")
        return combo

    def setEditorData(self, editor: QWidget, index: ModelIndex) -> None:
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findText(str(index.data()))))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: ModelIndex) -> None:
        if isinstance(editor, QComboBox):
            model.setData(index, editor.currentText())


def _split(text: str, separator: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(separator) if part.strip())


def _at_most(lines: list[str]) -> list[str]:
    """The first problems of a long list, and how many more: a plan of 200 points typed
    wrong must not push the tables off the dialog (each row's own limits cell says it)."""
    if len(lines) <= SHOWN_PROBLEMS:
        return lines
    return [*lines[:SHOWN_PROBLEMS], f"… and {len(lines) - SHOWN_PROBLEMS} more"]


def _as_input(view: TypeView) -> TypeInput:
    """A stored type as the form would send it unchanged (what a change is measured from)."""
    return TypeInput(
        name=view.name,
        description=view.description,
        default_interval_days=view.default_interval_days,
        decision_rule=view.decision_rule,
        procedure_id=view.procedure_id,
        procedure_revision=view.procedure_revision,
        range_low=view.range_low,
        range_high=view.range_high,
        resolution=view.resolution,
        standard_categories=view.standard_categories,
        points=tuple(TypePointInput(p.nominal, p.tolerance, p.unit) for p in view.points),
        fields=tuple(TypeFieldInput(f.name, f.kind, f.required, f.choices) for f in view.fields),
        check=view.check,
        maintenance=view.maintenance,
    )


def _shown(value: Any) -> Any:
    """A changed value as the conflict dialog lists it (points and fields as text)."""
    if isinstance(value, tuple) and value and isinstance(value[0], TypePointInput):
        return "; ".join(f"{nominal_text(p.nominal)} {p.tolerance} {p.unit}".strip() for p in value)
    if isinstance(value, tuple) and value and isinstance(value[0], TypeFieldInput):
        return "; ".join(f"{f.name} ({f.kind}{', required' if f.required else ''})" for f in value)
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    if isinstance(value, ScheduleDefault):
        return value.text()
    return value


def _theirs_shown(values: Mapping[str, Any]) -> dict[str, Any]:
    """The stored type's audited values (``type_snapshot``) as the form's are shown."""
    shown = dict(values)
    if isinstance(values.get("points"), list):
        shown["points"] = _shown(tuple(TypePointInput(p[1], p[2], p[3]) for p in values["points"]))
    if isinstance(values.get("fields"), list):
        shown["fields"] = _shown(
            tuple(TypeFieldInput(f[1], f[2], bool(f[3]), tuple(f[4])) for f in values["fields"])
        )
    if isinstance(values.get("standard_categories"), list):
        shown["standard_categories"] = _shown(tuple(values["standard_categories"]))
    for kind in ROW_KINDS:
        # Stored as four columns each; the form shows (and changes) one default.
        every, soon, grace = (
            shown.pop(f"{kind}_{n}", None) for n in ("every", "soon_days", "grace_days")
        )
        before = bool(shown.pop(f"{kind}_before_use", False))
        default = ScheduleDefault(
            str(every or ""),
            soon if isinstance(soon, int) else None,
            grace if isinstance(grace, int) else 0,
            before,
        )
        shown[kind] = _shown(default) if default.is_set() else None  # as the form's None
    return shown


class TypesDialog(QDialog):
    """The instrument types: the list, and the selected (or new) type's plan."""

    def __init__(
        self,
        *,
        app: CalTrack,
        runner: TaskRunner,
        editing: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._app = app
        self._runner = runner
        self._editing = editing
        self.me: UserView | None = None
        self.lab_rule = DecisionRule.simple()
        self.current: TypeView | None = None  # the type shown; None: a new one
        self._baseline: tuple[Any, ...] = ()
        self._selecting = False  # the list's selection is being set, not chosen
        self.saved: TypeView | None = None  # the last type saved here
        # The shown type's instruments lacking a schedule it gives, by kind; what the
        # Apply button gave last ("" none yet).
        self.lacking: dict[str, list[str]] = {}
        self.apply_done = ""
        self.setWindowTitle("Instrument types")
        self.resize(1200, 720)

        self.note = QLabel("Loading the types…")
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Who may change types")
        self.banner = notice_box("Problems")

        self.model = TypesTableModel(self)
        self.list = QTableView()
        self.list.setModel(self.model)
        self.list.setAccessibleName("Instrument types")
        self.list.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setTabKeyNavigation(False)
        self.list.verticalHeader().hide()
        self.list.setAlternatingRowColors(True)
        header = self.list.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_TYPE_NAME, QHeaderView.ResizeMode.Stretch)
        self.list.setMinimumWidth(380)
        self.list.selectionModel().currentRowChanged.connect(self._row_chosen)
        list_label = QLabel("T&ypes:")
        list_label.setBuddy(self.list)

        self._build_form()
        self._build_tables()
        self._build_buttons()

        left = QVBoxLayout()
        left.addWidget(list_label)
        left.addWidget(self.list, 1)
        right = QVBoxLayout()
        right.addWidget(self.heading)
        right.addWidget(self.form)
        right.addWidget(self.points_label)
        right.addWidget(self.points_row, 3)
        right.addWidget(self.fields_label)
        right.addWidget(self.fields_row, 2)
        body = QHBoxLayout()
        body.addLayout(left, 2)
        body.addLayout(right, 5)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.banner)
        layout.addLayout(body, 1)
        layout.addLayout(self.button_row)

        self._tab_order()
        QShortcut(QKeySequence.StandardKey.Save, self, self.save)
        QShortcut(QKeySequence.StandardKey.New, self, self.new_type)
        self._set_may_edit(False)
        self._fill_rules(None)
        self._show(None)
        self.reload()

    # -- building ----------------------------------------------------------------------

    def _build_form(self) -> None:
        self.heading = QLabel()
        bold = self.heading.font()
        bold.setBold(True)
        self.heading.setFont(bold)
        self.form = ValidatingForm(columns=2)
        self.edits: dict[str, QLineEdit] = {}
        for name, label, max_len, column in TEXT_FIELDS:
            edit = QLineEdit()
            edit.setMaxLength(max_len)
            self.edits[name] = edit
            self.form.add(name, label, edit, column=column)
            if name == "name":
                self.interval = QSpinBox()
                self.interval.setRange(0, MAX_INTERVAL_DAYS)
                self.interval.setSuffix(" days")
                # 0 is "no default": each instrument keeps its own interval.
                self.interval.setSpecialValueText("instrument's own")
                self.form.add("default_interval_days", "Default &interval:", self.interval)
        self.edits["procedure_id"].setPlaceholderText("e.g. WI-12")
        self.edits["procedure_revision"].setPlaceholderText("e.g. C")
        self.edits["range_low"].setPlaceholderText("for %FS tolerances, e.g. 0")
        self.edits["range_high"].setPlaceholderText("e.g. 150")
        self.edits["resolution"].setPlaceholderText("for digits, e.g. 0.01")
        self.categories = QLineEdit()
        self.categories.setMaxLength(SHORT_LEN * 4)
        self.categories.setPlaceholderText("comma-separated, e.g. PRT, bath")
        self.form.add("standard_categories", "Standard &categories:", self.categories, column=1)
        # Default schedules its instruments get (issue 15), a row each.
        self.defaults = {kind: DefaultScheduleFields(kind, self.form) for kind in ROW_KINDS}
        self.rule = QComboBox()
        self.rule.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.rule.setMinimumContentsLength(50)
        self.form.add_wide("decision_rule", "Decision ru&le:", self.rule)
        self.description = QPlainTextEdit()
        self.description.setTabChangesFocus(True)
        self.description.setFixedHeight(46)
        self.form.add_wide("description", "&Description:", self.description)
        for name in ("range_low", "range_high", "resolution"):
            # A %FS or digits tolerance reads differently with another range or step.
            self.edits[name].textChanged.connect(lambda _t: self.points.limits_changed())

    def _build_tables(self) -> None:
        self.points = PointsModel(self._preview, self)
        self.points_table = EditTable(self.points, "Test points")
        header = self.points_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in ((COL_NOMINAL, 90), (COL_NOMINAL + 1, 200), (COL_NOMINAL + 2, 70)):
            self.points_table.setColumnWidth(column, width)
        header.setSectionResizeMode(COL_LIMITS, QHeaderView.ResizeMode.Stretch)
        self.points_label = QLabel(
            "&Test points (Insert adds a row, Delete removes it; limits as the type reads them):"
        )
        self.points_label.setBuddy(self.points_table)
        self.points_row = FieldRow(self.points_table)

        self.fields = FieldsModel(self)
        self.fields_table = EditTable(self.fields, "Custom fields")
        self.fields_table.setItemDelegateForColumn(COL_KIND, KindDelegate(self.fields_table))
        for column, width in ((COL_FIELD_NAME, 200), (COL_KIND, 90), (COL_KIND + 1, 200)):
            self.fields_table.setColumnWidth(column, width)
        self.fields_label = QLabel(
            "Custom &fields of its instruments (Space ticks Required; Insert, Delete):"
        )
        self.fields_label.setBuddy(self.fields_table)
        self.fields_row = FieldRow(self.fields_table)
        for model in (self.points, self.fields):
            model.dataChanged.connect(lambda *_a: self._edited())
            model.rowsInserted.connect(lambda *_a: self._edited())
            model.rowsRemoved.connect(lambda *_a: self._edited())

    def _build_buttons(self) -> None:
        self.new_button = QPushButton("&New")
        self.new_button.setToolTip("Start a new type (Ctrl+N)")
        self.save_button = QPushButton("&Save")
        self.save_button.setToolTip("Save this type (Ctrl+S)")
        self.revert_button = QPushButton("&Revert")
        self.revert_button.setToolTip("Drop what you typed: show the type as stored")
        # Editing a type's defaults changes no instrument: giving them is asked for here.
        self.apply_button = QPushButton("&Apply default schedules")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply_defaults)
        self.apply_button.setAutoDefault(False)
        self._tips = {
            b: b.toolTip() for b in (self.new_button, self.save_button, self.revert_button)
        }
        self.new_button.clicked.connect(self.new_type)
        self.save_button.clicked.connect(self.save)
        self.revert_button.clicked.connect(self.revert)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        self.close_button = close.button(QDialogButtonBox.StandardButton.Close)
        # Enter finishes a cell or a field, never a save nor a close: Ctrl+S saves.
        for button in (self.new_button, self.save_button, self.revert_button, self.close_button):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.button_row = QHBoxLayout()
        for button in (self.new_button, self.save_button, self.revert_button):
            self.button_row.addWidget(button)
        self.button_row.addWidget(self.apply_button)
        self.button_row.addStretch(1)
        self.button_row.addWidget(close)

    def _tab_order(self) -> None:
        """The list, then the form down its columns, the tables, the buttons."""
        chain: list[QWidget] = [
            self.list,
            self.edits["name"],
            self.interval,
            self.edits["procedure_id"],
            self.edits["procedure_revision"],
            self.edits["range_low"],
            self.edits["range_high"],
            self.edits["resolution"],
            self.categories,
            *(w for fields in self.defaults.values() for w in fields.widgets()),
            self.rule,
            self.description,
            self.points_table,
            self.fields_table,
            self.new_button,
            self.save_button,
            self.revert_button,
            self.apply_button,
            self.close_button,
        ]
        for first, second in pairwise(chain):
            QWidget.setTabOrder(first, second)

    # -- loading -----------------------------------------------------------------------

    def _run(
        self,
        fn: Callable[[], Any],
        done: Callable[[Any], None],
        fail: Callable[[BaseException], None],
        *,
        changes: Changes | None = None,
    ) -> None:
        run_for(self, self._runner, fn, done, fail, changes=changes)

    def reload(self, select: str | None = None) -> None:
        """Read the types (and who may change them) again; then show ``select``."""
        accounts, types, settings = self._app.accounts, self._app.types, self._app.settings

        def load() -> Loaded:
            return accounts.me(), types.list(), settings.metrology().decision_rule

        self._run(
            load,
            lambda loaded: self._loaded(loaded, select),
            lambda exc: messages.explain(self, exc, doing="loading the instrument types"),
        )

    def _loaded(self, loaded: Loaded, select: str | None) -> None:
        self.me, kinds, self.lab_rule = loaded
        self._selecting = True
        try:
            self.model.set_items(kinds)
        finally:
            self._selecting = False
        self._show_role()
        if select is None and self.current is None and self.dirty():
            return  # a new type is being typed: keep it
        wanted = select or (self.current.name if self.current is not None else None)
        row = self.model.row_of(wanted) if wanted else (0 if kinds else None)
        if row is None:
            self._show(None)
            return
        self._select_row(row)
        fresh = self.model.item_at(row)
        # The form is filled again only when the type changed: a reload after a save
        # must not close the cell the person has started typing in. What the person
        # typed over a stored type stays; its version too, so a save over someone
        # else's change meets the conflict flow.
        if fresh != self.current and (select is not None or not self.dirty()):
            self._show(fresh)

    def _select_row(self, row: int) -> None:
        self._selecting = True
        try:
            self.list.selectRow(row)
        finally:
            self._selecting = False

    def _select_none(self) -> None:
        """No row chosen, nor current: a click on any type (the last one too) opens it."""
        self._selecting = True
        try:
            self.list.selectionModel().clear()
        finally:
            self._selecting = False

    def _row_chosen(self, current: QModelIndex, previous: QModelIndex) -> None:
        if self._selecting or not current.isValid():
            return
        chosen = self.model.item_at(current.row())
        if chosen is None or (self.current is not None and chosen.id == self.current.id):
            return
        if self.dirty() and not self._may_drop("open another type"):
            if previous.isValid():
                self._select_row(previous.row())
            else:
                self._select_none()
            return
        self._show(chosen)

    # -- who may change types -----------------------------------------------------------

    def may_edit(self) -> bool:
        me = self.me
        return (
            self._editing
            and me is not None
            and me.active
            and ROLE_RANK.get(me.role, -1) >= ROLE_RANK[KEEPER_ROLE]
        )

    def _show_role(self) -> None:
        me = self.me
        if me is None:
            return
        if not self._editing:
            self.note.setText(
                "Read-only: another session edits this database, so types cannot be changed "
                "from here now."
            )
        elif not self.may_edit():
            role = ROLE_NAMES.get(me.role, me.role).lower()
            self.note.setText(
                f"Read-only: you ({me.login}) are a {role}"
                + ("" if me.active else " (off)")
                + ". Types state how the lab calibrates and judges an instrument, so QA "
                "reviewers and admins keep them; you assign them to instruments."
            )
        else:
            self.note.setText(
                "A type is the test plan new calibrations start from. Changing it never "
                "changes a calibration already recorded."
            )
        self._set_may_edit(self.may_edit())

    def _set_may_edit(self, may: bool) -> None:
        for edit in (*self.edits.values(), self.categories):
            edit.setReadOnly(not may)
        self.description.setReadOnly(not may)
        self.interval.setReadOnly(not may)
        for fields in self.defaults.values():
            fields.set_read_only(not may)
        self.rule.setEnabled(may)
        for model in (self.points, self.fields):
            model.read_only = not may
            model.layoutChanged.emit()  # flags changed
        for button, tip in self._tips.items():
            button.setEnabled(may)
            button.setToolTip(tip if may else "Only QA reviewers and admins change types")

    # -- the form ----------------------------------------------------------------------

    def _preview(self, nominal: str, tolerance: str) -> str:
        return limits_preview(
            nominal,
            tolerance,
            range_low=self.edits["range_low"].text(),
            range_high=self.edits["range_high"].text(),
            resolution=self.edits["resolution"].text(),
        )

    def _fill_rules(self, current: str | None) -> None:
        self.rule.blockSignals(True)
        self.rule.clear()
        for choice in type_rule_choices(self.lab_rule, current):
            self.rule.addItem(choice.label, choice.code)
            self.rule.setItemData(self.rule.count() - 1, choice.label, Qt.ItemDataRole.ToolTipRole)
        self.rule.setCurrentIndex(max(0, self.rule.findData(current or LAB_DEFAULT_CODE)))
        self.rule.blockSignals(False)

    def rule_code(self) -> str:
        return str(self.rule.currentData() or "")

    def _show(self, view: TypeView | None) -> None:
        """Put a stored type (or an empty new one) into the form: nothing typed yet."""
        self.current = view
        data = _as_input(view) if view is not None else TypeInput(name="")
        self._fill_rules(data.decision_rule)
        for name in self.edits:
            self.set_value(name, getattr(data, name))
        for name in ("description", "default_interval_days", "standard_categories"):
            self.set_value(name, getattr(data, name))
        self.set_value("points", data.points)
        self.set_value("fields", data.fields)
        for kind in ROW_KINDS:
            self.set_value(kind, getattr(data, kind))
        self.form.show_errors({})
        self._table_errors({})
        self.show_banner("")
        if view is None:
            self.heading.setText("New type")
        else:
            used = f"{view.instruments} instrument{'s' if view.instruments != 1 else ''}"
            self.heading.setText(
                f"{view.name} — used by {used}; saved by {view.updated_by} "
                f"{view.updated_at:%Y-%m-%d %H:%M} UTC"
            )
        self._baseline = self.state()
        self._edited()
        self._count_lacking()

    def set_value(self, name: str, value: Any) -> None:
        """Put one value into its editor (loading a type, or re-applying the user's)."""
        if name in self.edits:
            self.edits[name].setText("" if value is None else str(value))
        elif name == "description":
            self.description.setPlainText(str(value or ""))
        elif name == "default_interval_days":
            self.interval.setValue(int(value or 0))
        elif name == "decision_rule":
            self._fill_rules(str(value) if value else None)
        elif name == "standard_categories":
            self.categories.setText(", ".join(value or ()))
        elif name == "points":
            self.points.set_rows([[nominal_text(p.nominal), p.tolerance, p.unit] for p in value])
        elif name in self.defaults:
            self.defaults[name].set_value(value)
        elif name == "fields":
            self.fields.set_rows(
                [[f.name, f.kind, "|".join(f.choices), bool(f.required)] for f in value]
            )

    def state(self) -> tuple[Any, ...]:
        """Everything the form holds, to tell whether anything was typed."""
        return (
            tuple(e.text() for e in self.edits.values()),
            self.description.toPlainText(),
            self.interval.value(),
            self.rule_code(),
            self.categories.text(),
            tuple(tuple(r) for r in self.points.rows),
            tuple(tuple(r) for r in self.fields.rows),
            tuple(fields.state() for fields in self.defaults.values()),
        )

    def dirty(self) -> bool:
        return self.may_edit() and self.state() != self._baseline

    def _edited(self) -> None:
        self.revert_button.setEnabled(self.may_edit() and self.state() != self._baseline)
        self._show_lacking()

    def typed(self) -> tuple[TypeInput | None, dict[str, str]]:
        """What the form holds as the service's input, or the rows it cannot send."""
        errors: dict[str, str] = {}
        points = []
        for n, (nominal, tolerance, unit) in enumerate(self.points.rows, start=1):
            if not (str(nominal).strip() or str(tolerance).strip() or str(unit).strip()):
                continue  # a row added and left empty holds nothing
            try:
                value = read_number(str(nominal))
            except ValueError:
                errors[f"point {n}"] = f"the nominal must be a number (got {nominal!r})"
                continue
            if value is None:
                errors[f"point {n}"] = "give the nominal"
                continue
            points.append(TypePointInput(value, str(tolerance), str(unit)))
        fields = [
            TypeFieldInput(f.name, f.kind, f.required, _split(f.choices, "|"))
            for f in self.fields.field_rows()
            if f.name.strip() or f.choices.strip()
        ]
        defaults = {kind: fields.value(errors) for kind, fields in self.defaults.items()}
        if errors:
            return None, errors
        interval = self.interval.value()
        return TypeInput(
            name=self.edits["name"].text(),
            description=self.description.toPlainText(),
            default_interval_days=interval or None,
            decision_rule=self.rule_code() or None,
            procedure_id=self.edits["procedure_id"].text(),
            procedure_revision=self.edits["procedure_revision"].text(),
            range_low=self.edits["range_low"].text(),
            range_high=self.edits["range_high"].text(),
            resolution=self.edits["resolution"].text(),
            standard_categories=_split(self.categories.text(), ","),
            points=tuple(points),
            fields=tuple(fields),
            check=defaults["check"],
            maintenance=defaults["maintenance"],
        ), {}

    def changes(self, typed: TypeInput) -> dict[str, Any]:
        """An edit's changed fields, as ``TypeChanges`` takes them."""
        if self.current is None:
            return {}
        loaded = _as_input(self.current)
        changed: dict[str, Any] = {}
        for field in dataclass_fields(TypeInput):
            mine, stored = getattr(typed, field.name), getattr(loaded, field.name)
            if field.name in self.edits or field.name == "description":
                differs = str(mine).strip() != str(stored).strip()
            else:
                differs = mine != stored
            if differs:
                changed[field.name] = mine
        if "default_interval_days" in changed and changed["default_interval_days"] is None:
            changed["default_interval_days"] = 0  # the service's "no default interval"
        if "decision_rule" in changed and changed["decision_rule"] is None:
            changed["decision_rule"] = LAB_DEFAULT_CODE
        for kind in ROW_KINDS:
            if kind in changed and changed[kind] is None:
                changed[kind] = ScheduleDefault()  # the service's "no default"
        return changed

    # -- actions -----------------------------------------------------------------------

    def _commit_cells(self) -> None:
        for table in (self.points_table, self.fields_table):
            table.commit_edit()

    def new_type(self) -> None:
        if not self.may_edit():
            return
        self._commit_cells()
        if self.dirty() and not self._may_drop("start a new type"):
            return
        self._select_none()
        self._show(None)
        self.edits["name"].setFocus()

    def revert(self) -> None:
        if self.may_edit():
            self._show(self.current)

    def save(self) -> None:
        if not self.may_edit():
            return
        self._commit_cells()
        typed, errors = self.typed()
        if typed is None:
            self._show_problems(errors)
            return
        types = self._app.types
        loaded = self.current
        if loaded is None:
            self._busy(True)
            self._run(
                lambda: types.add(typed),
                self._saved,
                self._failed,
                changes=Changes(types=True),
            )
            return
        changed = self.changes(typed)
        if not changed:
            self.show_banner("Nothing to save: the type is as stored.")
            return
        name, version = loaded.name, loaded.version
        self._busy(True)
        self._run(
            lambda: types.edit(name, TypeChanges(**changed), expected_version=version),
            self._saved,
            lambda exc: self._failed(exc, changed),
            # A type's name shows on its instruments.
            changes=Changes(types=True, instruments=True),
        )

    # -- giving the defaults to instruments ------------------------------------------------

    def _count_lacking(self) -> None:
        """How many of the shown type's instruments lack a schedule it gives (read off
        the GUI thread); the Apply button says it."""
        self.lacking = {}
        self._show_lacking()
        view = self.current
        if view is None or (view.check is None and view.maintenance is None):
            return
        types, name = self._app.types, view.name

        def counted(found: dict[str, list[str]]) -> None:
            if self.current is not None and self.current.name == name:
                self.lacking = found
                self._show_lacking()

        self._run(
            lambda: types.apply_defaults(name, dry_run=True),
            counted,
            lambda exc: messages.explain(self, exc, doing="counting the instruments"),
        )

    def lacking_count(self) -> int:
        """The instruments the Apply button would give a schedule to."""
        return len({tag for tags in self.lacking.values() for tag in tags})

    def _show_lacking(self) -> None:
        count = self.lacking_count()
        stored = self.current is not None and self.state() == self._baseline
        self.apply_button.setEnabled(self._editing and stored and count > 0)
        kinds = " and ".join(k for k, tags in self.lacking.items() if tags)
        self.apply_button.setText(
            f"&Apply default schedules to {count} instrument{'s' if count != 1 else ''}"
            if count
            else "&Apply default schedules"
        )
        self.apply_button.setToolTip(
            f"Give this type's default {kinds} schedule to its {count} instruments that have "
            "none of that kind (their own schedules are kept; audited)"
            if count and stored
            else "Save the type first: the stored defaults are given"
            if count
            else "Every instrument of this type has its schedules: nothing to give"
        )

    def apply_defaults(self) -> None:
        """Give the stored defaults to the instruments lacking them: an explicit action."""
        view = self.current
        if view is None or not self.apply_button.isEnabled():
            return
        types, name = self._app.types, view.name

        def given(found: dict[str, list[str]]) -> None:
            self._busy(False)
            parts = [f"{kind} to {', '.join(tags)}" for kind, tags in found.items() if tags]
            self.show_banner(
                "Gave the default schedules: " + "; ".join(parts) + "."
                if parts
                else "No instrument lacked a schedule: nothing given."
            )
            self.apply_done = "; ".join(parts)
            self._count_lacking()

        self._busy(True)
        self._run(
            lambda: types.apply_defaults(name, reason="given from the types dialog"),
            given,
            self._apply_failed,
            changes=Changes(instruments=True),
        )

    def _apply_failed(self, exc: BaseException) -> None:
        self._busy(False)
        messages.explain(self, exc, doing="giving the default schedules")

    def save_now(self) -> None:
        """Save again (the conflict flow, after re-applying the user's changes)."""
        self.save()

    def _busy(self, busy: bool) -> None:
        self.save_button.setEnabled(not busy and self.may_edit())
        if busy:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        else:
            QGuiApplication.restoreOverrideCursor()

    def _saved(self, view: TypeView, *, saved: bool = True) -> None:
        """Show the type as now stored (saved here, or someone else's after a conflict)."""
        self._busy(False)
        if saved:
            self.saved = view
        self._show(view)
        self.reload()  # the list: the name, interval or rule shown there may have changed

    def _failed(self, exc: BaseException, changed: dict[str, Any] | None = None) -> None:
        self._busy(False)
        if isinstance(exc, ValidationError):
            self._show_problems(exc.fields)
        elif isinstance(exc, ConflictError) and changed is not None:
            self._conflict(exc, changed)
        elif isinstance(exc, ServerLostError):
            # Its first line says whether the change was saved (a drop during COMMIT
            # leaves that to the server): never a flat "Not saved" here.
            self.show_banner(str(exc).partition("\n")[0])
            messages.explain(self, exc, doing="saving the instrument type")
        else:
            first = str(exc).split("; ")[0] if str(exc) else type(exc).__name__
            self.show_banner("Not saved — what you typed is kept here. " + first)
            messages.explain(self, exc, doing="saving the instrument type")

    def _show_problems(self, errors: dict[str, str]) -> None:
        """Each problem at its field, and all of them, named, in the notice above."""
        on_form: dict[str, str] = {}
        for key, message in errors.items():
            form_key = (
                "standard_categories" if key.startswith("standard categor") else schedule_row(key)
            )
            if form_key in self.form.rows:
                # A default schedule's row holds its every, grace and window: all said.
                on_form[form_key] = "; ".join(m for m in (on_form.get(form_key), message) if m)
        self.form.show_errors(on_form)
        self._table_errors(errors)
        count = len(errors)
        lines = [f"• {key}: {message}" for key, message in errors.items()]
        self.show_banner(
            f"Not saved — {count} problem{'s' if count != 1 else ''} to fix:\n"
            + "\n".join(_at_most(lines))
        )

    def _table_errors(self, errors: dict[str, str]) -> None:
        def about(word: str) -> str:
            return "\n".join(
                _at_most(
                    [
                        f"{key}: {message}" if key != word + "s" else message
                        for key, message in errors.items()
                        if key == word + "s" or key.startswith(word + " ")
                    ]
                )
            )

        self.points_row.set_error(about("point"))
        self.fields_row.set_error(about("field"))

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner.setVisible(bool(text))

    # -- a concurrent change -----------------------------------------------------------

    def _conflict(self, exc: ConflictError, changed: dict[str, Any]) -> None:
        types = self._app.types
        name = exc.label

        def keep_theirs() -> None:
            self._run(
                lambda: types.get(name),
                lambda fresh: self._saved(fresh, saved=False),
                lambda err: messages.explain(self, err, doing="reloading the type"),
            )

        def reapply(fresh: TypeView) -> None:
            self._show(fresh)
            for key, value in changed.items():
                self.set_value(key, value)
            self.save_now()

        shown = {key: _shown(value) for key, value in changed.items()}
        base = _as_input(self.current) if self.current is not None else None
        # Both sides in the same words, so only what differs is listed.
        told = ConflictError(
            exc.entity,
            exc.label,
            yours=exc.yours,
            theirs=replace(exc.theirs, values=_theirs_shown(exc.theirs.values)),
        )
        resolve_conflict(
            told,
            shown,
            parent=self,
            base={f.name: _shown(getattr(base, f.name)) for f in dataclass_fields(TypeInput)}
            if base is not None
            else None,
            cancel=lambda: self.show_banner(
                f"Not saved yet: {name} was changed by someone else after you opened it. "
                "What you typed is kept here."
            ),
            keep_theirs=keep_theirs,
            reapply_mine=lambda: self._run(
                lambda: types.get(name),
                reapply,
                lambda err: messages.explain(self, err, doing="reloading the type"),
            ),
        )

    # -- closing -----------------------------------------------------------------------

    def _may_drop(self, doing: str) -> bool:
        """Asks before what is typed is dropped; True: drop it."""
        name = self.edits["name"].text().strip() or "the new type"
        answer = messages.ask(
            self,
            "Unsaved changes",
            f"What you typed for {name} is not saved. Drop it and {doing}?",
            messages.Button.Discard | messages.Button.Cancel,
            messages.Button.Cancel,
            icon=messages.Icon.Warning,
        )
        return answer == messages.Button.Discard

    def reject(self) -> None:
        self._commit_cells()
        if self.dirty() and not self._may_drop("close"):
            return
        super().reject()
