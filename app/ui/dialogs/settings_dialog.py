"""Settings: theme, reminders and quiet hours (per user); due-soon window and idle
release (per database, shared by everyone, saved only by the editor); the lab's name and
logo printed on certificates (per database, QA's to change, audited)."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from pathlib import Path

from PySide6.QtCore import QTime
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.services.accounts import ROLE_RANK
from app.services.dto import UserView
from app.services.settings import MAX_LAB_NAME, LabIdentity, image_kind, read_logo
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

        lab = QGroupBox("The lab, printed on certificates (QA)")
        lab_form = QFormLayout(lab)
        self.lab_name = QLineEdit()
        self.lab_name.setMaxLength(MAX_LAB_NAME)
        lab_form.addRow("Lab &name:", self.lab_name)
        self.logo_state = QLabel("none")
        self.logo_choose = QPushButton("Choose lo&go…")
        self.logo_choose.clicked.connect(self._choose_logo)
        self.logo_remove = QPushButton("Remo&ve logo")
        self.logo_remove.clicked.connect(lambda: self._logo_chosen(b""))
        logo_row = QHBoxLayout()
        logo_row.addWidget(self.logo_state, 1)
        logo_row.addWidget(self.logo_choose)
        logo_row.addWidget(self.logo_remove)
        lab_form.addRow("Logo:", logo_row)
        self.lab_note = QLabel()
        self.lab_note.setWordWrap(True)
        lab_form.addRow(self.lab_note)
        lab.setEnabled(False)
        self.lab_box = lab
        self._lab: LabIdentity | None = None
        self._logo: bytes | None = None  # chosen here: None unchanged, b"" removed

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(mine)
        layout.addWidget(shared)
        layout.addWidget(lab)
        layout.addWidget(buttons)
        self._loaded: tuple[int, int] | None = None
        runner.run(app.settings.shared, self._shared_loaded, lambda exc: None)
        settings_service, accounts = app.settings, app.accounts
        runner.run(
            lambda: (settings_service.lab(), accounts.me()),
            lambda loaded: self._lab_loaded(*loaded),
            lambda exc: None,
            owner=self,  # a lambda names no owner: nothing reaches a closed dialog
        )

    def _shared_loaded(self, values: tuple[int, int]) -> None:
        self._loaded = values
        self.due_soon.setValue(values[0])
        self.idle.setValue(values[1])
        editing = self._app.session.editing
        self.shared_box.setEnabled(editing)
        self.shared_note.setText(
            "" if editing else "Only the current editor can change these (you are read-only)."
        )

    def _lab_loaded(self, lab: LabIdentity, me: UserView) -> None:
        self._lab = lab
        self.lab_name.setText(lab.name)
        self._show_logo(lab.logo)
        may = self._app.session.editing and ROLE_RANK[me.role] >= ROLE_RANK["qa"]
        self.lab_box.setEnabled(may)
        if not self._app.session.editing:
            self.lab_note.setText("Only the current editor can change these (you are read-only).")
        elif not may:
            self.lab_note.setText("Only QA reviewers and admins can change these.")

    def _show_logo(self, logo: bytes) -> None:
        self.logo_state.setText(
            f"{image_kind(logo).upper()}, {len(logo):,} bytes" if logo else "none"
        )
        self.logo_remove.setEnabled(bool(logo))

    def _choose_logo(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Choose the lab's logo", "", "Images (*.png *.jpg *.jpeg)"
        )
        if path:
            self.logo_file_chosen(Path(path))

    def logo_file_chosen(self, path: Path) -> None:
        """Read and check the file in the background (a PNG or JPEG, 256 KiB at most)."""
        self._runner.run(
            lambda: read_logo(path),
            self._logo_chosen,
            lambda exc: messages.explain(self, exc, doing="reading the logo"),
            owner=self,
        )

    def _logo_chosen(self, logo: bytes) -> None:
        self._logo = logo
        self._show_logo(logo)

    def _lab_changes(self) -> tuple[str | None, bytes | None] | None:
        """(name, logo) to save (None: that part unchanged), or None for no change."""
        if self._lab is None or not self.lab_box.isEnabled():
            return None
        name = self.lab_name.text().strip()
        changed_name = name if name != self._lab.name else None
        logo = self._logo if self._logo is not None and self._logo != self._lab.logo else None
        if changed_name is None and logo is None:
            return None
        return changed_name, logo

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
        shared = self._loaded is not None and wanted != self._loaded and self._app.session.editing
        lab = self._lab_changes()
        if not shared and lab is None:
            self.accept()
            return
        service = self._app.settings

        def save() -> None:
            if shared:
                service.set_shared(*wanted)
            if lab is not None:
                service.set_lab(name=lab[0], logo=lab[1])

        self._runner.run(
            save,
            lambda _r: self.accept(),
            lambda exc: messages.explain(self, exc, doing="saving the shared settings"),
            owner=self,
        )
