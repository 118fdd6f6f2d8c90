"""More window flows: reminders, attachments, settings, calibration and void."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.services.decision_rules import DecisionRule
from app.services.editing import EditingOptions
from app.services.settings import MINIMUM_TUR_KEY, LabMetrology
from app.settings.user_settings import UserSettings
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.dialogs.settings_dialog import SettingsDialog
from app.ui.main_window import MainWindow
from app.ui.tasks import Changes, TaskRunner
from app.words import count
from tests.ui.conftest import Shown
from tests.ui.opened import closed, opened
from tests.unit.qa_helpers import BOB, open_as, png


@pytest.fixture
def window(qtbot: QtBot, demo_app: CalTrack, shown: Shown) -> Iterator[MainWindow]:
    runner = TaskRunner()
    win = MainWindow(app=demo_app, runner=runner, settings=UserSettings(reminders=False))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.history is not None, timeout=10_000)
    yield win
    win.close()
    runner.wait()


def test_reminder_is_non_modal_and_leads_to_the_list(
    qtbot: QtBot, window: MainWindow, demo_app: CalTrack
) -> None:
    counts = demo_app.instruments.status_counts()
    window.settings = UserSettings(reminders=True)
    window.remind()
    qtbot.waitUntil(lambda: getattr(window, "reminder", None) is not None, timeout=5000)
    box: QMessageBox = window.reminder
    assert not box.isModal()
    assert f"Overdue: {count(counts['overdue'], 'calibration')}" in box.text()
    show = next(b for b in box.buttons() if b.text() == "Show overdue")
    show.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == counts["overdue"], timeout=5000)
    assert window.status_filter == "overdue"


def test_reminder_counts_every_schedule_kind(
    qtbot: QtBot, window: MainWindow, demo_app: CalTrack
) -> None:
    """Issue 15: checks and maintenance have their place in the reminder beside the
    calibrations, and a button to their filter chip."""
    due = demo_app.schedules.counts()
    # The demo lab has a check overdue, one due soon and a maintenance due soon.
    assert (due.overdue["check"], due.due_soon["check"], due.due_soon["maintenance"]) == (1, 1, 1)
    window.settings = UserSettings(reminders=True)
    window.remind()
    qtbot.waitUntil(lambda: getattr(window, "reminder", None) is not None, timeout=5000)
    box: QMessageBox = window.reminder
    soon, late = due.due_soon["calibration"], due.overdue["calibration"]
    assert box.text() == (
        f"Overdue: {count(late, 'calibration')}, 1 check, 0 maintenance.\n"
        f"Due soon: {count(soon, 'calibration')}, 1 check, 1 maintenance."
    )
    labels = [b.text() for b in box.buttons()]
    assert {"Show checks due", "Show maintenance due", "Later"} <= set(labels)
    next(b for b in box.buttons() if b.text() == "Show checks due").click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=5000)
    assert window.status_filter == "check-due"
    assert window.filter_buttons["check-due"].isChecked()


def test_reminder_is_quiet_during_quiet_hours(qtbot: QtBot, window: MainWindow) -> None:
    window.settings = UserSettings(reminders=True, quiet_start="00:00", quiet_end="23:59")
    window.remind()
    # Had remind() asked for the counts, the runner would be busy until the answer (and
    # the reminder it shows) arrived: once it is idle, the reminder had its chance.
    qtbot.waitUntil(lambda: window.runner.running == 0, timeout=10_000)
    assert getattr(window, "reminder", None) is None


def test_attach_then_void_from_the_window(qtbot: QtBot, window: MainWindow, tmp_path: Path) -> None:
    assert window.history is not None
    source = tmp_path / "certificate.pdf"
    source.write_bytes(b"%PDF-1.7 " + b"x" * 200_000)
    window.attach_file(str(source))
    qtbot.waitUntil(
        lambda: window.history is not None and len(window.history.attachments) == 1,
        timeout=10_000,
    )
    assert window.detail.attachments.item(0, 0).text() == "certificate.pdf"  # type: ignore[union-attr]
    attachment_id = window.history.attachments[0].id

    window.void_attachment(attachment_id)
    dialog = opened(qtbot, ReasonDialog)
    dialog.text.setPlainText("scanned the wrong page")
    dialog.ok.click()
    qtbot.waitUntil(
        lambda: window.history is not None and window.history.attachments[0].voided,
        timeout=10_000,
    )
    assert "void: scanned the wrong page" in window.detail.attachments.item(0, 5).text()  # type: ignore[union-attr]


def test_record_calibration_from_the_window(
    qtbot: QtBot, window: MainWindow, demo_app: CalTrack
) -> None:
    assert window.history is not None
    tag = window.history.instrument.asset_tag
    before = len(demo_app.calibrations.history(tag))

    window.new_calibration()
    dialog = opened(qtbot, CalibrationDialog)
    dialog.certificate.setText("C-UI-1")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: len(demo_app.calibrations.history(tag)) == before + 1, timeout=10_000)
    history = demo_app.calibrations.history(tag)
    assert history[0].certificate_number == "C-UI-1"


def test_settings_dialog_changes_theme_and_shared_settings(
    qtbot: QtBot, demo_app: CalTrack, tmp_path: Path
) -> None:
    runner = TaskRunner()
    dialog = SettingsDialog(UserSettings(), demo_app, runner)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.shared_box.isEnabled, timeout=5000)
    assert dialog.due_soon.value() == 30 and dialog.idle.value() == 15
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.due_soon.setValue(45)
    dialog.quiet.setChecked(True)
    # The lab's name and logo (the demo's user is its admin, so they may): the logo file
    # is read and checked before OK.
    qtbot.waitUntil(dialog.lab_box.isEnabled, timeout=5000)
    assert dialog.logo_state.text() == "none" and not dialog.logo_remove.isEnabled()
    dialog.lab_name.setText("Acme Metrology")
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    dialog.logo_file_chosen(logo)
    qtbot.waitUntil(lambda: dialog.logo_state.text().startswith("PNG, "), timeout=5000)
    dialog._ok()
    qtbot.waitUntil(lambda: dialog.result() == 1, timeout=5000)
    chosen = dialog.result_settings()
    assert chosen.theme == "dark" and chosen.quiet_start == "18:00"
    assert demo_app.settings.shared() == (45, 15)
    lab = demo_app.settings.lab()
    assert (lab.name, lab.logo) == ("Acme Metrology", png())
    runner.wait()


POLICY_ONLY_SQLITE = (
    "the dialog's handling of the service's answers; the policy's service (values, role, "
    "audit) is tested on both backends in tests/unit/test_point_metrology.py"
)


@pytest.mark.sqlite_only(POLICY_ONLY_SQLITE)
def test_qa_sets_the_metrology_policy_in_preferences_and_the_next_calibration_uses_it(
    qtbot: QtBot, window: MainWindow, demo_app: CalTrack, shown: Shown
) -> None:
    window.open_settings()
    dialog = opened(qtbot, SettingsDialog)
    qtbot.waitUntil(dialog.policy_box.isEnabled, timeout=10_000)  # alice is the demo's admin
    # The demo lab sets no policy: the service's defaults (simple acceptance, 4:1, off).
    simple = DecisionRule.simple().sentence
    assert dialog.rule.currentText() == f"{simple} — in force now"
    assert dialog.minimum_tur.text() == "4" and not dialog.indeterminate.isChecked()
    assert dialog.policy_note.text() == ""
    # Down on the closed list picks the next rule offered (point_entry.COMMON_RULES).
    qtbot.keyClick(dialog.rule, Qt.Key.Key_Down)
    assert dialog.rule.currentData() == "guard r=1 binary"
    assert dialog.rule.currentText() == "Guarded acceptance, w = U (ILAC G8:2019 4.2.2)"
    qtbot.keyClick(dialog.indeterminate, Qt.Key.Key_Space)
    assert dialog.indeterminate.isChecked()
    # A minimum TUR of 0 is the service's to refuse; its message is shown at the field
    # and nothing is saved (the policy is checked before anything is written).
    qtbot.keyClick(dialog.minimum_tur, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(dialog.minimum_tur, "0")
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    error = dialog.policy_form.rows["minimum_tur"].error
    qtbot.waitUntil(error.isVisible, timeout=10_000)
    assert error.text() == "must be more than 0 and at most 100 (4 means 4:1), not 0"
    assert dialog.isVisible() and shown.boxes == []
    assert demo_app.settings.metrology() == LabMetrology(DecisionRule.simple(), Decimal(4), False)

    qtbot.keyClick(dialog.minimum_tur, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(dialog.minimum_tur, "3.5")
    assert not error.isVisible()  # typing answers the message
    with qtbot.waitSignal(window.runner.changed, timeout=10_000) as announced:
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    closed(qtbot, dialog)
    assert isinstance(announced.args[0], Changes) and announced.args[0].settings
    lab = demo_app.settings.metrology()
    assert (lab.decision_rule.code, lab.minimum_tur, lab.indeterminate_opens_case) == (
        "guard r=1 binary",
        Decimal("3.5"),
        True,
    )
    event = demo_app.audit.search(entity_type="settings", limit=1, newest_first=True)[0]
    assert (event.user, event.action) == ("alice", "update")
    assert event.changes == {
        "decision_rule": [None, "guard r=1 binary"],
        "minimum_tur": [None, "3.5"],
        "indeterminate_opens_case": [None, "yes"],
    }

    # The next calibration dialog judges by the lab's new default (the demo's
    # instruments have no type, whose own rule would come first).
    window.new_calibration()
    calibration = opened(qtbot, CalibrationDialog)
    assert calibration.rule_box.currentData() == "guard r=1 binary"
    assert calibration.rule_box.currentText() == (
        "Guarded acceptance, w = U (ILAC G8:2019 4.2.2) — lab default"
    )
    calibration.reject()
    closed(qtbot, calibration)


@pytest.mark.sqlite_only(POLICY_ONLY_SQLITE)
def test_a_technician_and_a_read_only_window_see_the_policy_without_changing_it(
    qtbot: QtBot, app: CalTrack, db_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    runner = TaskRunner()
    # A stored minimum TUR that cannot be read (changed outside CalTrack) is said, and the
    # group stays shut even for an admin: OK must not save defaults over it.
    app.uow.write(lambda uow: uow.meta.set(MINIMUM_TUR_KEY, "four"))
    dialog = SettingsDialog(UserSettings(), app, runner)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.policy_note.text() != "", timeout=10_000)
    assert dialog.policy_note.text().startswith("the lab's metrology settings cannot be read")
    assert "`settings set`" in dialog.policy_note.text()
    assert not dialog.policy_box.isEnabled() and dialog.metrology is None
    # w = 2 U is not one of the rules the grid offers: the list still shows it as the lab's.
    app.settings.set_metrology(
        decision_rule="guard r=2 binary", minimum_tur="3", indeterminate_opens_case=True
    )
    policy = app.settings.metrology()

    def shown_to(caltrack: CalTrack) -> SettingsDialog:
        dialog = SettingsDialog(UserSettings(), caltrack, runner)
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: dialog.policy_note.text() != "", timeout=10_000)
        assert not dialog.policy_box.isEnabled()
        assert dialog.rule.currentText() == (
            "Guarded acceptance, w = 2 U (ILAC G8:2019 4.2.2) — in force now"
        )
        assert dialog.minimum_tur.text() == "3" and dialog.indeterminate.isChecked()
        return dialog

    reading = EditingOptions(edit=False)
    state = tmp_path / "reader"
    with open_caltrack(db_url, identity=alice, clock=clock, state_dir=state, editing=reading) as ro:
        dialog = shown_to(ro)
        note = "Only the current editor can change these (you are read-only)."
        assert dialog.policy_note.text() == note
        runner.wait()
    app.close()
    with open_as(db_url, BOB, clock) as bob:  # no account: a technician
        dialog = shown_to(bob)
        assert dialog.policy_note.text() == (
            "Only QA reviewers and admins can change these; you (bob) are a technician."
        )
        # A disabled field takes no typing; even a value put there is not sent on OK.
        dialog.minimum_tur.setText("2")
        dialog._ok()
        qtbot.waitUntil(lambda: dialog.result() == 1, timeout=10_000)
        assert bob.settings.metrology() == policy
        runner.wait()
