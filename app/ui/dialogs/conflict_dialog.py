"""A save met someone else's newer change: show both sides and let the user choose.

The one conflict flow of the window: ``resolve_conflict`` shows the dialog and calls
what the caller does for each choice; ``reapply_mine`` puts the user's values on top of
the version just reloaded into a form and saves again.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import ConflictError
from app.ui.dialogs.form import enter_presses
from app.ui.modal import open_modal


class ConflictChoice(enum.Enum):
    """What to do about a conflict. Nothing is ever discarded without one of these."""

    REAPPLY_MINE = "reapply"  # reload their version, put my changes on top, save again
    KEEP_THEIRS = "theirs"  # drop my changes
    CANCEL = "cancel"  # back to my dialog, nothing lost


def _text(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


def field_label(name: str) -> str:
    """ "calibration_interval_days" → "Calibration interval days"."""
    return name.replace("_", " ").capitalize()


def conflict_fields(
    conflict: ConflictError, mine: Mapping[str, Any], base: Mapping[str, Any] | None
) -> list[str]:
    """The fields worth showing: those the user changed, and those the other person
    changed (their value differs from what the user's form started from)."""
    theirs = conflict.theirs.values
    names = set(mine)
    if base is not None:
        names |= {n for n in theirs if n in base and _text(base[n]) != _text(theirs[n])}
    return sorted(names, key=field_label)


class ConflictDialog(QDialog):
    """Fields with "yours" and "theirs (changed by Bob at 10:42)".

    Only the fields that matter are listed: what the user changed (``mine``), and, when
    ``base`` (what the user's form showed) is given, what the other person changed.
    """

    def __init__(
        self,
        conflict: ConflictError,
        mine: dict[str, Any],
        parent: QWidget | None = None,
        *,
        base: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.choice = ConflictChoice.CANCEL
        self.setWindowTitle(f"{conflict.label} was changed by someone else")
        self.setMinimumWidth(560)
        theirs = conflict.theirs
        who = theirs.changed_by or "another user"
        when = f" at {theirs.changed_at[11:16]} UTC" if theirs.changed_at else ""
        intro = QLabel(
            f"<b>{conflict.label}</b> was saved by <b>{who}</b>{when} after you opened it.<br>"
            f"<i>Yours</i>: what you typed. <i>Theirs</i>: what {who} saved. "
            "Your changes are not lost — compare and choose. Re-applying yours keeps "
            f"{who}'s changes to the fields you did not change."
        )
        intro.setWordWrap(True)
        names = conflict_fields(conflict, mine, base)
        table = QTableWidget(len(names), 3)
        table.setHorizontalHeaderLabels(["Field", "Yours", "Theirs"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, name in enumerate(names):
            touched = name in mine
            yours = mine.get(name, (base or {}).get(name, theirs.values.get(name)))
            cells = [
                QTableWidgetItem(field_label(name)),
                QTableWidgetItem(_text(yours) + ("" if touched else " (not changed by you)")),
                QTableWidgetItem(_text(theirs.values.get(name))),
            ]
            differs = _text(yours) != _text(theirs.values.get(name))
            for col, item in enumerate(cells):
                item.setToolTip(item.text())
                if differs and (col == 2 or (col == 1 and touched)):
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                table.setItem(row, col, item)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        theirs_header = QTableWidgetItem(f"Theirs ({who}{when})")
        theirs_header.setToolTip(f"Changed by {who}{when}")
        table.setHorizontalHeaderItem(2, theirs_header)
        table.setAccessibleName("Your values and the stored values")
        # Every row in sight without scrolling (there are only the few that differ).
        table.resizeRowsToContents()
        rows_height = sum(table.rowHeight(r) for r in range(table.rowCount()))
        table.setFixedHeight(
            min(480, header.sizeHint().height() + rows_height + 2 * table.frameWidth() + 2)
        )
        self.table = table

        buttons = QDialogButtonBox()
        self.reapply = QPushButton("&Reload and re-apply mine")
        self.reapply.setToolTip(
            "Take their version, put your changed fields on top of it, and save again"
        )
        self.keep = QPushButton("&Keep theirs")
        self.keep.setToolTip(f"Discard your changes to {conflict.label}")
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setToolTip("Go back to your dialog; nothing is saved or discarded")
        buttons.addButton(self.reapply, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.keep, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.reapply.clicked.connect(lambda: self._choose(ConflictChoice.REAPPLY_MINE))
        self.keep.clicked.connect(lambda: self._choose(ConflictChoice.KEEP_THEIRS))
        cancel.clicked.connect(self.reject)
        # Enter goes back to the person's dialog: it neither overwrites their change
        # nor discards this one (both need a deliberate click).
        enter_presses(self, cancel)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(table)
        layout.addWidget(buttons)

    def _choose(self, choice: ConflictChoice) -> None:
        self.choice = choice
        self.accept()


def resolve_conflict(
    conflict: ConflictError,
    mine: dict[str, Any],
    *,
    parent: QWidget,
    cancel: Callable[[], None],
    keep_theirs: Callable[[], None],
    reapply_mine: Callable[[], None],
    base: Mapping[str, Any] | None = None,
) -> None:
    """Show both sides, then call what the user chose (nothing is dropped without one).

    Returns at once: the dialog opens window-modal over ``parent`` and the choice is
    acted on when it closes."""
    dialog = ConflictDialog(conflict, mine, parent=parent, base=base)

    def chosen(_result: int) -> None:
        choice = dialog.choice
        if choice is ConflictChoice.CANCEL:
            cancel()
        elif choice is ConflictChoice.KEEP_THEIRS:
            keep_theirs()
        else:
            reapply_mine()

    open_modal(dialog, chosen)


class EditForm(Protocol):
    """A form that can take the user's values again and save them (instrument, record)."""

    def set_value(self, name: str, value: Any) -> None: ...

    def save_now(self) -> None: ...


def reapply_mine(form: EditForm, mine: Mapping[str, Any]) -> None:
    """Put the user's changed fields on top of the version just loaded, and save again."""
    for name, value in mine.items():
        form.set_value(name, value)
    form.save_now()
