"""Settings: theme, reminders and quiet hours (per user); due-soon window and idle
release (per database, shared by everyone, saved only by the editor)."""

from __future__ import annotations

from dataclasses import replace
from datetime import time

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui import messages
from app.ui.tasks import TaskRunner

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}


def _qtime(text: str, default: time) -> QTime:
    try:
        value = time.fromisoformat(text)
    except ValueError:
        value = default
    return QTime(value.hour, value.minute)


class SettingsDialog(QDialog):
    """Per-user and per-database settings in one place."""

    def __init__(
        self,
        settings: UserSettings,
        app: CalTrack,
        runner: TaskRunner,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self._app = app
        self._runner = runner
        mine = QGroupBox("For me on this PC")
        mine_form = QFormLayout(mine)
        self.theme = QComboBox()
        for value, label in THEME_LABELS.items():
            self.theme.addItem(label, value)
        self.theme.setCurrentIndex(max(0, self.theme.findData(settings.theme)))
        mine_form.addRow("&Theme:", self.theme)
        self.reminders = QCheckBox("Remind me of overdue and due-soon instruments")
        self.reminders.setChecked(settings.reminders)
        mine_form.addRow(self.reminders)
        self.quiet = QCheckBox("&Quiet hours (no reminders)")
        self.quiet.setChecked(bool(settings.quiet_start and settings.quiet_end))
        self.quiet_start = QTimeEdit(_qtime(settings.quiet_start, time(18, 0)))
        self.quiet_end = QTimeEdit(_qtime(settings.quiet_end, time(8, 0)))
        mine_form.addRow(self.quiet)
        mine_form.addRow("From:", self.quiet_start)
        mine_form.addRow("Until:", self.quiet_end)

        shared = QGroupBox("For everyone using this database")
        shared_form = QFormLayout(shared)
        self.due_soon = QSpinBox()
        self.due_soon.setRange(0, 365)
        self.due_soon.setSuffix(" days")
        self.idle = QSpinBox()
        self.idle.setRange(1, 24 * 60)
        self.idle.setSuffix(" minutes")
        shared_form.addRow("&Due-soon window:", self.due_soon)
        shared_form.addRow("Release the editor lock after &idle:", self.idle)
        self.shared_note = QLabel()
        self.shared_note.setWordWrap(True)
        shared_form.addRow(self.shared_note)
        shared.setEnabled(False)
        self.shared_box = shared

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(mine)
        layout.addWidget(shared)
        layout.addWidget(buttons)
        self._loaded: tuple[int, int] | None = None
        runner.run(app.settings.shared, self._shared_loaded, lambda exc: None)

    def _shared_loaded(self, values: tuple[int, int]) -> None:
        self._loaded = values
        self.due_soon.setValue(values[0])
        self.idle.setValue(values[1])
        editing = self._app.session.editing
        self.shared_box.setEnabled(editing)
        self.shared_note.setText(
            "" if editing else "Only the current editor can change these (you are read-only)."
        )

    def result_settings(self) -> UserSettings:
        quiet = self.quiet.isChecked()
        return replace(
            self._settings,
            theme=str(self.theme.currentData()),
            reminders=self.reminders.isChecked(),
            quiet_start=self.quiet_start.time().toString("HH:mm") if quiet else "",
            quiet_end=self.quiet_end.time().toString("HH:mm") if quiet else "",
        )

    def _ok(self) -> None:
        wanted = (self.due_soon.value(), self.idle.value())
        if self._loaded is None or wanted == self._loaded or not self._app.session.editing:
            self.accept()
            return
        service = self._app.settings
        self._runner.run(
            lambda: service.set_shared(*wanted),
            lambda _r: self.accept(),
            lambda exc: messages.explain(self, exc, doing="saving the shared settings"),
        )
