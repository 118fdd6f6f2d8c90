"""The database is being edited by someone else: say who, offer the ways forward."""

from __future__ import annotations

import enum

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPushButton, QVBoxLayout, QWidget

from app.locking.holder import HolderInfo
from app.ui.dialogs.form import enter_presses
from app.ui.look import icon


class LockChoice(enum.Enum):
    """The answers to "database in use"."""

    READ_ONLY = "read-only"
    REQUEST = "request"
    NOTIFY = "notify"
    WAIT = "wait"
    TAKE_OVER = "take-over"
    CANCEL = "cancel"


class LockInUseDialog(QDialog):
    """ "CalTrack database in use — locked for editing by Alice (alice) on LAB-PC-3 since 09:12"."""

    def __init__(
        self,
        holder: HolderInfo | None,
        *,
        stale: bool = False,
        can_take_over: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.choice = LockChoice.CANCEL
        self.setWindowTitle("CalTrack database in use")
        self.setWindowIcon(icon("lock"))
        who = (
            f"<b>{holder.user}</b> on <b>{holder.machine}</b> since {holder.since_local()}"
            if holder
            else "another CalTrack session"
        )
        text = QLabel(f"<h3>CalTrack database in use</h3><p>Locked for editing by {who}.</p>")
        text.setWordWrap(True)
        more = QLabel(
            "You can open it read-only now and see everything, ask the editor to hand it "
            "over, or be told when it is free and then edit."
            + (
                "<br><br><b>Its heartbeat has stopped:</b> that session seems frozen or its "
                "PC is gone."
                if stale
                else ""
            )
        )
        more.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.read_only = QPushButton("Open &read-only")
        self.request = QPushButton("Re&quest edit")
        self.request.setToolTip("Open read-only and ask the editor to hand the database over")
        self.notify = QPushButton("&Notify me when available")
        self.wait = QPushButton("&Wait")
        self.wait.setToolTip("Wait until the lock is free, then open for editing")
        buttons.addButton(self.read_only, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.request, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.notify, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.wait, QDialogButtonBox.ButtonRole.ActionRole)
        self.take_over: QPushButton | None = None
        if can_take_over and stale:
            self.take_over = QPushButton("&Take over")
            self.take_over.setToolTip(
                "Admins only: fence off the frozen session so it can never save again"
            )
            buttons.addButton(self.take_over, QDialogButtonBox.ButtonRole.DestructiveRole)
            self.take_over.clicked.connect(lambda: self._choose(LockChoice.TAKE_OVER))
        cancel = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.read_only.clicked.connect(lambda: self._choose(LockChoice.READ_ONLY))
        self.request.clicked.connect(lambda: self._choose(LockChoice.REQUEST))
        self.notify.clicked.connect(lambda: self._choose(LockChoice.NOTIFY))
        self.wait.clicked.connect(lambda: self._choose(LockChoice.WAIT))
        cancel.clicked.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(more)
        layout.addWidget(buttons)
        # Enter opens read-only: it harms no one and shows everything.
        enter_presses(self, self.read_only)

    def _choose(self, choice: LockChoice) -> None:
        self.choice = choice
        self.accept()
