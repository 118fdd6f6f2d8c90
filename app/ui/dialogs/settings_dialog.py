"""Settings: theme, reminders and quiet hours (per user); due-soon window and idle
release (per database, shared by everyone, saved only by the editor); the lab's name and
logo printed on certificates, and its metrology policy (default decision rule, minimum
TUR, whether an indeterminate as-found result opens a case) — per database, QA's to
change, audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from pathlib import Path

from PySide6.QtCore import Qt, QTime
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
from app.errors import ValidationError
from app.services.accounts import ROLE_NAMES, ROLE_RANK
from app.services.dto import UserView
from app.services.point_entry import rule_choices
from app.services.settings import (
    MAX_LAB_NAME,
    LabIdentity,
    LabMetrology,
    image_kind,
    read_logo,
)
from app.services.tolerance_spec import format_number
from app.settings.user_settings import UserSettings
from app.ui import messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout
from app.ui.tasks import Changes, TaskRunner

THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
# What the lab's current rule is labelled with in the rule list (the others: their sentence).
RULE_NOW = "in force now"
NEVER_REJUDGES = (
    "A change applies to calibrations recorded from now on. It never re-judges an existing "
    "record: each keeps the decision rule it was judged by."
)

# (decision rule code, minimum TUR as typed, indeterminate opens a case); None: unchanged.
PolicyChanges = tuple[str | None, str | None, bool | None]


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

        # The lab's metrology policy: the service checks the values (the minimum TUR's
        # message is shown at its field) and audits the change.
        policy = QGroupBox("Metrology policy (QA)")
        policy_layout = QVBoxLayout(policy)
        self.policy_form = ValidatingForm()
        self.policy_form.layout_.setContentsMargins(0, 0, 0, 0)  # aligned with the box
        self.rule = QComboBox()
        # The rules' sentences are long: the list is as wide as a good part of one, and
        # each item's tooltip has it whole.
        self.rule.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.rule.setMinimumContentsLength(64)
        # Keyed by the service's field names, so its messages land at their field.
        self.policy_form.add("decision rule", "Default decision ru&le:", self.rule)
        self.minimum_tur = QLineEdit()
        self.minimum_tur.setPlaceholderText("4 means 4:1")
        self.policy_form.add("minimum_tur", "Minimum T&UR (4 means 4:1):", self.minimum_tur)
        self.indeterminate = QCheckBox(
            "An indeterminate as-found result o&pens an out-of-tolerance case"
        )
        never = QLabel(NEVER_REJUDGES)
        never.setWordWrap(True)
        self.policy_note = QLabel()
        self.policy_note.setWordWrap(True)
        policy_layout.addWidget(self.policy_form)
        policy_layout.addWidget(self.indeterminate)
        policy_layout.addWidget(never)
        policy_layout.addWidget(self.policy_note)
        policy.setEnabled(False)
        self.policy_box = policy
        self.metrology: LabMetrology | None = None  # as loaded

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self._ok)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        # Grows when the minimum TUR's message is shown under its field.
        layout = dialog_layout(self)
        layout.addWidget(mine)
        layout.addWidget(shared)
        layout.addWidget(lab)
        layout.addWidget(policy)
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
        runner.run(
            lambda: (settings_service.metrology(), accounts.me()),
            lambda loaded: self._metrology_loaded(*loaded),
            self._metrology_unreadable,
            owner=self,
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
        self.lab_box.setEnabled(self._keeps_lab_settings(me))
        self.lab_note.setText(self._why_read_only(me))

    def _keeps_lab_settings(self, me: UserView) -> bool:
        """True when this window may change the lab's QA settings: it is the editor and
        its user an active QA reviewer or admin (the service checks it again)."""
        return self._app.session.editing and me.active and ROLE_RANK[me.role] >= ROLE_RANK["qa"]

    def _why_read_only(self, me: UserView) -> str:
        """The line under a QA group saying why it is read-only ("" when it is not)."""
        if not self._app.session.editing:
            return "Only the current editor can change these (you are read-only)."
        if self._keeps_lab_settings(me):
            return ""
        role = ROLE_NAMES.get(me.role, me.role).lower() + ("" if me.active else ", deactivated")
        return f"Only QA reviewers and admins can change these; you ({me.login}) are a {role}."

    def _metrology_loaded(self, lab: LabMetrology, me: UserView) -> None:
        self.metrology = lab
        self.rule.clear()
        # The rules the calibration dialog offers, the lab's own first (also when it is
        # not a common one, e.g. w = 2 U set with `settings set`).
        for choice in rule_choices(lab.decision_rule, RULE_NOW):
            self.rule.addItem(choice.label, choice.code)
            self.rule.setItemData(self.rule.count() - 1, choice.label, Qt.ItemDataRole.ToolTipRole)
        self.rule.setCurrentIndex(0)
        self.minimum_tur.setText(format_number(lab.minimum_tur))
        self.indeterminate.setChecked(lab.indeterminate_opens_case)
        self.policy_box.setEnabled(self._keeps_lab_settings(me))
        self.policy_note.setText(self._why_read_only(me))

    def _metrology_unreadable(self, exc: BaseException) -> None:
        # Left disabled: saving defaults over values that cannot be read would change
        # the lab's policy without anyone choosing to. The service's message says how
        # to set them again.
        if isinstance(exc, ValidationError):
            self.policy_note.setText("; ".join(exc.fields.values()))
        else:
            self.policy_note.setText("The policy could not be read now; open Preferences again.")

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

    def _policy_changes(self) -> PolicyChanges | None:
        """The parts of the lab's policy changed here, or None for no change."""
        lab = self.metrology
        if lab is None or not self.policy_box.isEnabled():
            return None
        code = str(self.rule.currentData())
        tur = self.minimum_tur.text().strip()
        opens = self.indeterminate.isChecked()
        changes: PolicyChanges = (
            code if code != lab.decision_rule.code else None,
            tur if tur != format_number(lab.minimum_tur) else None,
            opens if opens != lab.indeterminate_opens_case else None,
        )
        return changes if changes != (None, None, None) else None

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
        policy = self._policy_changes()
        if not shared and lab is None and policy is None:
            self.accept()
            return
        service = self._app.settings

        def save() -> None:
            # The policy first: the service checks its values before it writes, so a
            # minimum TUR it refuses leaves everything else unsaved too.
            if policy is not None:
                service.set_metrology(
                    decision_rule=policy[0],
                    minimum_tur=policy[1],
                    indeterminate_opens_case=policy[2],
                )
            if shared:
                service.set_shared(*wanted)
            if lab is not None:
                service.set_lab(name=lab[0], logo=lab[1])

        self._runner.run(
            save,
            lambda _r: self.accept(),
            self._save_failed,
            owner=self,
            changes=Changes(settings=True),
        )

    def _save_failed(self, exc: BaseException) -> None:
        """A message the policy's fields claim is shown at them; anything else in a box."""
        if isinstance(exc, ValidationError):
            unclaimed = self.policy_form.show_errors(exc.fields)
            if len(unclaimed) < len(exc.fields):
                if unclaimed:
                    messages.warn(
                        self, "Please check the input", "Nothing was saved.", "\n".join(unclaimed)
                    )
                return
        messages.explain(self, exc, doing="saving the shared settings")
