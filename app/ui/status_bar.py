"""The status bar: a permanent Refresh link, the lock state, change hints, the path."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from app.ui.look import icon

REFRESH_TIP = "Reload data from database (data may have changed)"


class CalTrackStatusBar(QStatusBar):
    """Refresh link · change hint · lock state · database path."""

    refresh_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.refresh = QLabel()
        self.refresh.setToolTip(REFRESH_TIP)
        self.refresh.setAccessibleName("Refresh")
        self.refresh.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.refresh.linkActivated.connect(lambda _link: self.refresh_clicked.emit())
        self._show_refresh_link()
        self.change_hint = QLabel()
        self.change_hint.setAccessibleName("Data changed by another user")
        self.change_hint.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.change_hint.linkActivated.connect(lambda _link: self.refresh_clicked.emit())
        self.change_hint.hide()
        # An icon, not an emoji glyph: a desktop without an emoji font shows a box.
        self.lock_icon = QLabel()
        self.lock_icon.setAccessibleName("Editing state icon")
        self.lock_state = QLabel()
        self.lock_state.setAccessibleName("Editing state")
        self.path = QLabel()
        self.path.setAccessibleName("Database path")
        self.path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # Permanent, so a temporary message ("Signed", "Saved") never draws over it.
        self.addPermanentWidget(self.change_hint)
        self.addPermanentWidget(self.lock_icon)
        self.addPermanentWidget(self.lock_state)
        self.addPermanentWidget(self.path)
        self.addPermanentWidget(self.refresh)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._show_refresh_link)

    def _show_refresh_link(self) -> None:
        self.refresh.setText("<a href='refresh'>Refresh</a>")

    def refreshed(self) -> None:
        """Say "Refreshed" for about two seconds, then offer the link again."""
        self.refresh.setText("Refreshed")
        self.change_hint.hide()
        self._timer.start(2000)

    def show_change_hint(self) -> None:
        self.change_hint.setText("Data changed by another user — <a href='refresh'>Refresh</a>")
        self.change_hint.show()

    def set_lock_state(self, text: str, editing: bool) -> None:
        size = self.fontMetrics().height()
        self.lock_icon.setPixmap(icon("edit" if editing else "lock").pixmap(size, size))
        self.lock_icon.setToolTip(text)
        self.lock_state.setText(text)
        self.lock_state.setToolTip(text)

    def set_path(self, text: str) -> None:
        self.path.setText(text if len(text) < 60 else "…" + text[-58:])
        self.path.setToolTip(text)
