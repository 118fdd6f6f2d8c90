"""A form whose fields can show their own validation message right below them, and the
notice box dialogs show above their buttons."""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


class _GrowToFit(QObject):
    """Makes a dialog taller when what it holds needs more height than it has, and
    shorter again (never below where it started) when that is gone.

    A minimum-size constraint alone does not do it: word-wrapped labels (notices, field
    errors, the signing statement) need a height that depends on the width, which a
    window's minimum size does not follow. Without the shrink, the room an error took
    stays as gaps between the fields and their labels once it is fixed.
    """

    def __init__(self, dialog: QDialog) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._pending = False
        # The height before we grew it, and the height we grew it to: a dialog the
        # person resized since is theirs, and is left alone.
        self._before: int | None = None
        self._grown_to: int | None = None
        dialog.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest and not self._pending:
            self._pending = True
            # Once the layout has taken the change in; never after the dialog is gone.
            QTimer.singleShot(0, self, self._grow)
        return False

    def _grow(self) -> None:
        self._pending = False
        if not shiboken6.isValid(self._dialog):
            return
        dialog, layout = self._dialog, self._dialog.layout()
        if layout is None or not dialog.isVisible():
            return
        width = dialog.width()
        need = (
            layout.totalHeightForWidth(width)
            if layout.hasHeightForWidth()
            else layout.totalSizeHint().height()
        )
        screen = dialog.screen()
        if screen is not None:
            need = min(need, screen.availableGeometry().height() - 40)
        if need > dialog.height():
            if self._grown_to != dialog.height():
                self._before = dialog.height()
            dialog.resize(width, need)
            self._grown_to = dialog.height()  # the minimum size may have made it more
        elif self._before is not None and self._grown_to == dialog.height():
            target = max(need, self._before)
            if target < dialog.height():
                dialog.resize(width, target)
                self._grown_to = dialog.height()


class _EnterPresses(QObject):
    """Makes one button the dialog's default each time the dialog is shown.

    Qt picks the default button at show time. ``setDefault`` called while the button is
    not yet inside the dialog (its button box not yet in the layout) never reaches the
    dialog, so Qt fell back to the first button in the tab order after the focused
    field, often Cancel: Enter after typing a signing password threw the dialog away.
    Asserting the choice on every show does not depend on the order things were built in.
    """

    def __init__(self, dialog: QDialog, button: QPushButton) -> None:
        super().__init__(dialog)
        self._dialog = dialog
        self._button = button
        dialog.installEventFilter(self)
        self.apply()

    def apply(self) -> None:
        button = self._button
        if not shiboken6.isValid(button) or button.window() is not self._dialog:
            return
        # setDefault(True) on a button that believes it is the default already does
        # nothing, even when the dialog never heard of it: off, then on.
        button.setDefault(False)
        button.setDefault(True)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._dialog and event.type() == QEvent.Type.Show:
            self.apply()
        return False


def enter_presses(dialog: QDialog, button: QPushButton) -> None:
    """Enter in ``dialog`` presses ``button`` (its main action: Sign, Save, Export, ...).

    The one rule for every dialog whose main button is not a plain OK or Save: call this
    with it, before or after the button is laid out. Esc still cancels (QDialog's own
    handling); a disabled main button makes Enter do nothing rather than cancel; a
    button the person tabbed onto is still pressed by Enter, as everywhere.
    """
    _EnterPresses(dialog, button)


def dialog_layout(dialog: QDialog) -> QVBoxLayout:
    """The dialog's main layout. The dialog is never smaller than what it holds, so a
    notice or an error shown later makes it grow instead of squeezing the rest."""
    layout = QVBoxLayout(dialog)
    layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
    _GrowToFit(dialog)
    return layout


def notice_box(accessible_name: str = "") -> QLabel:
    """A hidden, word-wrapped notice (styled as ``#noticeBox`` by the themes).

    Plain text always: notices quote what users typed and files held, which must never
    be taken for markup, and their line breaks must show.
    """
    box = QLabel()
    box.setObjectName("noticeBox")
    box.setWordWrap(True)
    box.setContentsMargins(8, 6, 8, 6)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if accessible_name:
        box.setAccessibleName(accessible_name)
    box.hide()
    return box


class FieldRow(QWidget):
    """An editor with an error label under it (hidden while there is nothing to say)."""

    def __init__(self, editor: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.error = QLabel(self)
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor)
        layout.addWidget(self.error)
        if isinstance(editor, QLineEdit):
            # What the message asked for is being typed: it no longer applies.
            editor.textEdited.connect(lambda _text: self.set_error(None))

    def set_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        self.editor.setAccessibleDescription(message or "")


def _form_layout() -> QFormLayout:
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    return form


class ValidatingForm(QWidget):
    """Rows of labelled fields keyed by name; errors go next to the field they are about.

    With ``columns`` above 1 the rows are laid out in side-by-side columns (``add`` takes
    the column), and ``add_wide`` puts a row under all of them: a long form then fits a
    laptop screen without a scroll bar.
    """

    def __init__(self, parent: QWidget | None = None, *, columns: int = 1) -> None:
        super().__init__(parent)
        self.columns = [_form_layout() for _ in range(max(1, columns))]
        self.layout_ = self.columns[0]
        self.wide = _form_layout()
        if len(self.columns) == 1:
            self.setLayout(self.layout_)
        else:
            outer = QVBoxLayout(self)
            outer.setContentsMargins(0, 0, 0, 0)
            side_by_side = QHBoxLayout()
            side_by_side.setSpacing(24)
            for form in self.columns:
                side_by_side.addLayout(form, 1)
            outer.addLayout(side_by_side)
            outer.addLayout(self.wide)
        self.rows: dict[str, FieldRow] = {}

    def add(self, name: str, label: str, editor: QWidget, *, column: int = 0) -> FieldRow:
        return self._add(self.columns[column], name, label, editor)

    def add_wide(self, name: str, label: str, editor: QWidget) -> FieldRow:
        """A row under every column (notes, long text)."""
        return self._add(self.wide if len(self.columns) > 1 else self.layout_, name, label, editor)

    def _add(self, form: QFormLayout, name: str, label: str, editor: QWidget) -> FieldRow:
        row = FieldRow(editor, self)
        if len(self.columns) > 1 and form is not self.wide:
            # Side by side, each field still shows a description or a model whole (the
            # dialog's layout keeps it no smaller than this).
            wide_enough = self.fontMetrics().averageCharWidth() * 28
            editor.setMinimumWidth(max(editor.minimumWidth(), wide_enough))
        title = QLabel(label, self)
        title.setBuddy(editor)
        editor.setAccessibleName(label.replace("&", "").rstrip(":"))
        form.addRow(title, row)
        self.rows[name] = row
        return row

    def show_errors(self, errors: dict[str, str]) -> list[str]:
        """Show each message at its field; returns the messages no field claimed."""
        for row in self.rows.values():
            row.set_error(None)
        unclaimed = []
        first: QWidget | None = None
        for name, message in errors.items():
            field = self.rows.get(name)
            if field is None:
                unclaimed.append(f"{name}: {message}")
                continue
            field.set_error(message)
            first = first or field.editor
        if first is not None:
            first.setFocus()
        return unclaimed
