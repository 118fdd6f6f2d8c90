"""Journey: a technician attaches a certificate to an instrument, saves a copy, voids it.

Ctrl+Shift+A on the selected instrument, the file dialog answered by typing the path
and Enter; the Attachments tab lists the file; Save a copy… writes it where the person
types; Void… with a reason marks it void in the list and in the database (the file is
kept).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.main_window import MainWindow
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone

CONTENT = b"%PDF-1.4\n% a calibration certificate\n" * 40


@pytest.fixture
def th_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The main window on a register of one instrument, TH-001."""
    add_thermometer(app, "TH-001")
    windows = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(windows)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=10_000)
    yield win
    next(windows, None)


def type_path(person: Person, qtbot: QtBot, path: Path) -> Callable[[QFileDialog], None]:
    """Answers a file dialog: the path typed into its file name field, then Enter."""

    def answer(dialog: QFileDialog) -> None:
        person.write(str(path))
        person.press(Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    return answer


def test_attach_save_a_copy_and_void(
    qtbot: QtBot, person: Person, th_window: MainWindow, app: CalTrack, tmp_path: Path
) -> None:
    window = th_window
    certificate = tmp_path / "certificate 2026.pdf"
    certificate.write_bytes(CONTENT)

    person.click_cell(window.table, 0, 0)
    with person.answers(QFileDialog, type_path(person, qtbot, certificate)):
        person.shortcut("Ctrl+Shift+A")
    qtbot.waitUntil(lambda: len(app.attachments.list("TH-001")) == 1, timeout=10_000)
    (stored,) = app.attachments.list("TH-001")
    assert stored.original_name == "certificate 2026.pdf"
    assert stored.size_bytes == len(CONTENT)
    qtbot.waitUntil(
        lambda: "Attached certificate 2026.pdf" in window.status.currentMessage(), timeout=10_000
    )

    detail = window.detail
    tabs = detail.tabs
    tab = next(i for i in range(tabs.count()) if tabs.tabText(i) == "&Attachments")
    person.click(tabs.tabBar(), tabs.tabBar().tabRect(tab).center())
    qtbot.waitUntil(lambda: detail.attachments.rowCount() == 1, timeout=10_000)
    assert detail.attachments.item(0, 0).text() == "certificate 2026.pdf"  # type: ignore[union-attr]

    # Nothing selected yet: what needs an attachment is not offered.
    assert not detail.att_open.isEnabled()
    assert not detail.att_save.isEnabled()
    assert not detail.att_void.isEnabled()
    assert detail.att_void.toolTip() == "Select an attachment first"
    person.click_cell(detail.attachments, 0, 0)
    copy = tmp_path / "copy.pdf"
    with person.answers(QFileDialog, type_path(person, qtbot, copy)):
        person.click(detail.att_save)
    qtbot.waitUntil(copy.exists, timeout=10_000)
    assert copy.read_bytes() == CONTENT

    person.click_cell(detail.attachments, 0, 0)
    person.click(detail.att_void)
    reason = person.wait_for(ReasonDialog)
    assert reason.windowTitle() == "Void attachment"
    assert person.focused() is reason.text
    person.write("wrong instrument's certificate")
    person.click(reason.ok)
    qtbot.waitUntil(lambda: gone(reason), timeout=10_000)
    qtbot.waitUntil(lambda: app.attachments.get(stored.id).voided, timeout=10_000)
    assert app.attachments.get(stored.id).void_reason == "wrong instrument's certificate"

    def state() -> str:
        item = detail.attachments.item(0, 5)
        return item.text() if item is not None else ""

    qtbot.waitUntil(lambda: state() == "void: wrong instrument's certificate", timeout=10_000)
    assert certificate.exists(), "the person's own file is untouched"
    # A void attachment can still be opened and copied, not voided again.
    person.click_cell(detail.attachments, 0, 0)
    assert detail.att_save.isEnabled()
    assert not detail.att_void.isEnabled()
    assert "already void" in detail.att_void.toolTip()
