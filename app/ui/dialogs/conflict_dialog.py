"""A save met someone else's newer change: show both sides and let the user choose."""

from __future__ import annotations

import enum
from typing import Any

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


class ConflictChoice(enum.Enum):
    """What to do about a conflict. Nothing is ever discarded without one of these."""

    REAPPLY_MINE = "reapply"  # reload their version, put my changes on top, save again
    KEEP_THEIRS = "theirs"  # drop my changes
    CANCEL = "cancel"  # back to my dialog, nothing lost


def _text(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


class ConflictDialog(QDialog):
    """Fields with "yours" and "theirs (changed by Bob at 10:42)"."""

    def __init__(
        self, conflict: ConflictError, mine: dict[str, Any], parent: QWidget | None = None
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
            "Your changes are not lost — compare and choose:"
        )
        intro.setWordWrap(True)
        names = sorted(set(mine) | set(conflict.changed_fields))
        table = QTableWidget(len(names), 3)
        table.setHorizontalHeaderLabels(["Field", "Yours", "Theirs"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, name in enumerate(names):
            yours = mine.get(name, theirs.values.get(name))
            cells = [
                QTableWidgetItem(name.replace("_", " ")),
                QTableWidgetItem(_text(yours)),
                QTableWidgetItem(_text(theirs.values.get(name))),
            ]
            differs = _text(yours) != _text(theirs.values.get(name))
            for col, item in enumerate(cells):
                if differs and col:
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
        self.table = table

        buttons = QDialogButtonBox()
        self.reapply = QPushButton("&Reload and re-apply mine")
        self.reapply.setToolTip(
            "Take their version, put your changed fields on top of it, and save again"
        )
        self.keep = QPushButton("&Keep theirs")
        self.keep.setToolTip("Discard your changes to this instrument")
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setToolTip("Go back to your dialog; nothing is saved or discarded")
        buttons.addButton(self.reapply, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.keep, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.reapply.clicked.connect(lambda: self._choose(ConflictChoice.REAPPLY_MINE))
        self.keep.clicked.connect(lambda: self._choose(ConflictChoice.KEEP_THEIRS))
        cancel.clicked.connect(self.reject)
        cancel.setDefault(True)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(table)
        layout.addWidget(buttons)

    def _choose(self, choice: ConflictChoice) -> None:
        self.choice = choice
        self.accept()
