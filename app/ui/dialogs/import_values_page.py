"""The import wizard's value mapping: for every column whose field takes a fixed set of
values (an instrument's status, a calibration's result and provider kind), each value
as the file writes it, how many rows hold it, and what it becomes — exact, your choice,
remembered, or guessed (marked as a guess) — or NOT MAPPED, which stops the import
until it is chosen or its rows are left out.

A choice here runs the dry run again at once (in the worker, as every check does); the
choices are remembered with the column mapping when the import is saved.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    Qt,
    QTimer,
)
from PySide6.QtGui import QKeyEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOption,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.services.transfer_model import VALUE_NAMES, ColumnValues, ImportPreview
from app.ui.dialogs.import_state import ImportHost
from app.ui.jobs import BusyBar
from app.ui.look import icon_html
from app.ui.models.import_values_table import (
    CHOICES_ROLE,
    COL_ROWS,
    COL_SOURCE,
    COL_TARGET,
    COL_VALUE,
    TARGET_ROLE,
    ValuesTableModel,
)

ModelIndex = QModelIndex | QPersistentModelIndex
ARROW_WIDTH = 18
OPEN_KEYS = (Qt.Key.Key_F2, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space)
FIELD_TITLES = {
    "status": "Status",
    "result": "Result",
    "provider_kind": "Provider kind",
    "kind": "Kind",
    "approval": "Approval",
}


def unmapped_lines(preview: ImportPreview) -> frozenset[int]:
    """The lines of the rows holding a value nothing maps (every one, not only the
    first few a value table names)."""
    return frozenset(r.line for r in preview.rows if any(i.unmapped_value for i in r.issues))


def count_line(n: int) -> str:
    return (
        f"{n} value{'s' if n != 1 else ''} not mapped: choose what "
        f"{'they mean' if n != 1 else 'it means'}, or leave {'their' if n != 1 else 'its'} "
        "rows out"
    )


class ValueDelegate(QStyledItemDelegate):
    """A combo of the column's values on "Becomes": it opens with its list shown, and
    a choice (Enter, or a click) is taken at once."""

    def createEditor(
        self, parent: QWidget, option: QStyleOptionViewItem, index: ModelIndex
    ) -> QWidget:
        combo = QComboBox(parent)
        value = index.model().index(index.row(), COL_VALUE).data()
        combo.setAccessibleName(f"Becomes, for {value}")
        for text, target in index.data(CHOICES_ROLE) or []:
            combo.addItem(text, target)
        combo.activated.connect(lambda _i, c=combo: self._chosen(c))
        # Shown once the editor is on screen; the list is what the person chooses from.
        QTimer.singleShot(0, lambda c=combo: self._open(c))
        return combo

    @staticmethod
    def _open(combo: QComboBox) -> None:
        if shiboken6.isValid(combo) and combo.isVisible():
            combo.showPopup()

    def _chosen(self, combo: QComboBox) -> None:
        self.commitData.emit(combo)
        self.closeEditor.emit(combo, QStyledItemDelegate.EndEditHint.NoHint)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: ModelIndex) -> None:
        # The cell as usual, and the arrow of a combo: it says the value can be chosen.
        super().paint(painter, option, index)
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        arrow = QStyleOption()
        rect = option.rect
        arrow.rect = QRect(rect.right() - ARROW_WIDTH, rect.top(), ARROW_WIDTH - 4, rect.height())
        arrow.palette = option.palette
        arrow.state = QStyle.StateFlag.State_Enabled
        style.drawPrimitive(QStyle.PrimitiveElement.PE_IndicatorArrowDown, arrow, painter, widget)

    def setEditorData(self, editor: QWidget, index: ModelIndex) -> None:
        if isinstance(editor, QComboBox):
            editor.setCurrentIndex(max(0, editor.findData(index.data(TARGET_ROLE))))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: ModelIndex) -> None:
        if isinstance(editor, QComboBox):
            model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)


class ValuesView(QTableView):
    """A value table: Tab reaches it, arrows move, F2, Enter or Space open the choice
    of the current row (Enter would otherwise press the wizard's Next)."""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        index = self.currentIndex()
        if (
            event.key() in OPEN_KEYS
            and event.modifiers()
            in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.KeypadModifier)
            and index.isValid()
            and self.state() != QAbstractItemView.State.EditingState
        ):
            target = index.siblingAtColumn(COL_TARGET)
            self.setCurrentIndex(target)
            self.edit(target)
            event.accept()
            return
        super().keyPressEvent(event)


class ValuesPage(QWizardPage):
    """What each value of each fixed-set column becomes."""

    def __init__(self, host: ImportHost) -> None:
        super().__init__()
        self.host = host
        self.setTitle("Values")
        self.setSubTitle(
            "What each value of the file becomes in CalTrack. Check the guesses; choose a "
            "meaning for each value that is not mapped. Your choices are remembered for "
            "files with the same columns once the import is saved."
        )
        self.count = QLabel()
        self.count.setObjectName("fieldError")
        self.count.setWordWrap(True)
        self.count.setTextFormat(Qt.TextFormat.RichText)
        self.count.setAccessibleName("Values not mapped")
        self.count.hide()
        self.leave_out = QPushButton("&Leave out the rows of values not mapped")
        self.leave_out.setToolTip(
            "Untick every row holding a value that is not mapped (the Check page shows them)"
        )
        self.leave_out.clicked.connect(self._leave_out_unmapped)
        self.left_out = QLabel()
        self.left_out.setWordWrap(True)
        self.left_out.setAccessibleName("Rows left out")
        self.left_out.hide()
        count_row = QHBoxLayout()
        count_row.addWidget(self.count, 1)
        count_row.addWidget(self.leave_out)
        self.tables = QVBoxLayout()
        self.models: list[ValuesTableModel] = []
        self.views: list[ValuesView] = []
        self.labels: list[QLabel] = []
        self.delegate = ValueDelegate(self)
        self.busy_bar = BusyBar(host.stop)
        host.add_busy_bar(self.busy_bar)
        layout = QVBoxLayout(self)
        layout.addLayout(count_row)
        layout.addWidget(self.left_out)
        layout.addLayout(self.tables, 1)
        layout.addWidget(self.busy_bar)

    # -- QWizardPage -----------------------------------------------------------------

    def initializePage(self) -> None:
        self.refresh()
        # After the wizard has placed the focus itself (on Next, or past it once Next is
        # held): the keyboard starts in the table.
        QTimer.singleShot(0, self._focus_first)

    def _focus_first(self) -> None:
        """The keyboard on the first value that needs a meaning (else the first value)."""
        if not shiboken6.isValid(self) or not self.isVisible():
            return
        for model, view in zip(self.models, self.views, strict=True):
            missing = model.unmapped()
            if missing:
                row = model.row_of(missing[0].value) or 0
                view.setCurrentIndex(model.index(row, COL_TARGET))
                view.setFocus()
                return
        if self.views:
            self.views[0].setCurrentIndex(self.models[0].index(0, COL_TARGET))
            self.views[0].setFocus()

    def cleanupPage(self) -> None:
        """Back keeps the choices made here."""

    def isComplete(self) -> bool:
        state = self.host.state
        if self.host.busy or not state.check_fresh or state.loaded is None:
            return False
        return not any(c.unmapped for c in state.loaded.preview.values)

    # -- showing ---------------------------------------------------------------------

    def refresh(self) -> None:
        loaded = self.host.state.loaded
        columns = list(loaded.preview.values) if loaded is not None else []
        self._show_tables(columns)
        unmapped = sum(len(c.unmapped) for c in columns)
        if unmapped:
            self.count.setText(f"{icon_html('warning')}&nbsp;{count_line(unmapped)}")
        self.count.setVisible(bool(unmapped))
        self.leave_out.setVisible(bool(unmapped))
        self.leave_out.setEnabled(bool(unmapped) and not self.host.busy)
        excluded = sorted(self.host.state.excluded)
        if excluded:
            shown = ", ".join(str(n) for n in excluded[:12]) + (" …" if len(excluded) > 12 else "")
            word = "line" if len(excluded) == 1 else "lines"
            self.left_out.setText(
                f"Left out of the import: {word} {shown} (take them back in on the Check page)."
            )
        self.left_out.setVisible(bool(excluded))
        self.completeChanged.emit()

    def _show_tables(self, columns: list[ColumnValues]) -> None:
        if [c.column for c in columns] != [m.column.column for m in self.models if m.column]:
            self._build(len(columns))
        for index, (model, label, column) in enumerate(
            zip(self.models, self.labels, columns, strict=True)
        ):
            model.set_column(column)
            name = FIELD_TITLES.get(column.field, VALUE_NAMES.get(column.field, column.field))
            name = name[:1].upper() + name[1:]
            n = len(column.values)
            # The room goes where the rows are: a table of nine values is not squeezed
            # to leave a table of one value half the page.
            self.tables.setStretch(index, min(n, 12) + 2)
            label.setText(
                f"{name}, from the column “{column.column}” "
                f"({n} distinct value{'s' if n != 1 else ''}):"
            )

    def _build(self, n: int) -> None:
        while self.tables.count():
            item = self.tables.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.models, self.views, self.labels = [], [], []
        for _ in range(n):
            model = ValuesTableModel(self)
            model.value_chosen.connect(self._value_chosen)
            view = ValuesView()
            view.setModel(model)
            view.setItemDelegateForColumn(COL_TARGET, self.delegate)
            view.setAccessibleName("Values and what they become")
            view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
            view.setEditTriggers(
                QAbstractItemView.EditTrigger.DoubleClicked
                | QAbstractItemView.EditTrigger.SelectedClicked
                | QAbstractItemView.EditTrigger.EditKeyPressed
            )
            view.setTabKeyNavigation(False)  # Tab leaves the table, as in a form
            view.setAlternatingRowColors(True)
            view.setWordWrap(False)
            view.verticalHeader().hide()
            header = view.horizontalHeader()
            for col, width in ((COL_VALUE, 260), (COL_ROWS, 70), (COL_TARGET, 200)):
                header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
                view.setColumnWidth(col, width)
            header.setSectionResizeMode(COL_SOURCE, QHeaderView.ResizeMode.Stretch)
            label = QLabel()
            label.setBuddy(view)
            box = QWidget()
            inner = QVBoxLayout(box)
            inner.setContentsMargins(0, 0, 0, 0)
            inner.addWidget(label)
            inner.addWidget(view, 1)
            self.tables.addWidget(box, 1)
            self.models.append(model)
            self.views.append(view)
            self.labels.append(label)

    def view_for(self, header: str) -> ValuesView | None:
        """The table of the column named ``header`` in the file."""
        for model, view in zip(self.models, self.views, strict=True):
            if model.column is not None and model.column.column == header:
                return view
        return None

    # -- choices ---------------------------------------------------------------------

    def _value_chosen(self, header: str, value: str, target: str) -> None:
        self.host.state.set_value(header, value, target)
        self.host.run_check()
        self.refresh()

    def _leave_out_unmapped(self) -> None:
        state = self.host.state
        loaded = state.loaded
        if loaded is None:
            return
        state.set_excluded(state.excluded | unmapped_lines(loaded.preview))
        self.host.run_check()
        self.refresh()
