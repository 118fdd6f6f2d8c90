"""More window flows: reminders, attachments, settings, calibration and void."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.dialogs.settings_dialog import SettingsDialog
from app.ui.main_window import MainWindow
from app.ui.tasks import TaskRunner
from app.words import count
from tests.ui.conftest import Shown
from tests.ui.opened import opened
from tests.unit.qa_helpers import png


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
    assert f"{count(counts['overdue'], 'instrument')} overdue" in box.text()
    show = next(b for b in box.buttons() if b.text() == "Show overdue")
    show.click()
    qtbot.waitUntil(lambda: window.model.rowCount() == counts["overdue"], timeout=5000)
    assert window.status_filter == "overdue"


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
