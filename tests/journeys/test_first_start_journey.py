"""Journeys: the first start of CalTrack, and the start after a crash.

Both start the real Launcher (as ``./caltrack`` does) on temporary user folders, so
nothing touches the real user's database, settings, run markers or log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import open_caltrack
from app.services.editing import EditingOptions
from app.settings.user_settings import UserSettings, load_settings
from app.ui.app import Launcher
from tests.crashing import killed_while_open
from tests.journeys.person import Person
from tests.ui.conftest import Shown

SLOW_MS = 120_000  # 300 demo instruments with their history, on a shared machine


@pytest.fixture
def launcher(qapp: QApplication, tmp_path: Path) -> Iterator[Launcher]:
    """CalTrack as ``./caltrack`` starts it, with its user folders in ``tmp_path``."""
    log = tmp_path / "log" / "caltrack.log"
    log.parent.mkdir()
    log.write_text("2026-12-02 14:04:12 4242 INFO app: an earlier run\n", encoding="utf-8")
    started = Launcher(
        qapp,
        settings=UserSettings(reminders=False),
        settings_path=tmp_path / "settings.json",
        state_dir=tmp_path / "state",
        data_dir=tmp_path / "data",
        log_file=log,
    )
    yield started
    if started.window is not None:
        started.window.close()
    started.shutdown()
    started.deleteLater()


def test_first_start_offers_demo_data_in_a_database_of_its_own(
    qtbot: QtBot,
    person: Person,
    launcher: Launcher,
    screenshot: Callable[[QWidget, str], None],
    tmp_path: Path,
) -> None:
    offered: list[str] = []

    def yes(box: QMessageBox) -> None:
        offered.append(box.text())
        screenshot(box, "first-start-demo-offer")
        person.click_button("Yes", box)

    with person.answers(QMessageBox, yes, where=lambda box: "demo" in box.text()):
        launcher.start(None)
    assert "separate demo database (demo.db)" in offered[0]

    def demo_shown() -> bool:
        return launcher.window is not None and "DEMO" in launcher.window.windowTitle()

    qtbot.waitUntil(demo_shown, timeout=SLOW_MS)
    window = launcher.window
    assert window is not None
    assert window.windowTitle() == "CalTrack — DEMO DATA — demo.db"
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=SLOW_MS)

    # The default database, the lab's real register, stays empty, and is what the next
    # start opens.
    real = tmp_path / "data" / "caltrack.db"
    assert load_settings(tmp_path / "settings.json").last_database == str(real)
    with open_caltrack(
        str(real), editing=EditingOptions(edit=False), state_dir=tmp_path / "look"
    ) as register:
        assert register.instruments.status_counts().get("all", 0) == 0
        assert not register.demo.holds_demo_data()
    assert (tmp_path / "data" / "demo.db").exists()


def test_first_start_without_demo_data_then_the_demo_from_the_file_menu(
    qtbot: QtBot, person: Person, launcher: Launcher, tmp_path: Path
) -> None:
    with person.answers(
        QMessageBox, lambda box: person.click_button("No", box), where=lambda b: "demo" in b.text()
    ):
        launcher.start(None)
    window = launcher.window
    assert window is not None
    real = tmp_path / "data" / "caltrack.db"
    assert window.windowTitle() == f"CalTrack — {real}"
    assert not (tmp_path / "data" / "demo.db").exists()

    # Later, the person wants to look around after all.
    person.menu(window, "File", "Open demo database…")

    def demo_shown() -> bool:
        return launcher.window is not None and "DEMO DATA" in launcher.window.windowTitle()

    qtbot.waitUntil(demo_shown, timeout=SLOW_MS)
    demo = launcher.window
    assert demo is not None
    qtbot.waitUntil(lambda: demo.model.rowCount() > 0, timeout=SLOW_MS)
    assert not demo.act_open_demo.isEnabled()
    with open_caltrack(
        str(real), editing=EditingOptions(edit=False), state_dir=tmp_path / "look"
    ) as register:
        assert register.instruments.status_counts().get("all", 0) == 0


class _FileViewer(QObject):
    """Stands in for the desktop's program for file:// links (Qt's own hook for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def show(self, url: QUrl) -> None:
        self.opened.append(url.toLocalFile())


def test_start_after_a_crash_says_so_once_in_local_time_with_the_log_at_hand(
    qtbot: QtBot,
    person: Person,
    launcher: Launcher,
    tmp_path: Path,
    shown: Shown,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    db = tmp_path / "lab.db"
    killed_while_open(db, tmp_path / "state", create=True)
    viewer = _FileViewer()
    # PySide's stub says bytes; at run time it wants the slot's name as str.
    QDesktopServices.setUrlHandler("file", viewer, "show")  # type: ignore[arg-type]
    said: list[str] = []

    def read_and_open_log(box: QMessageBox) -> None:
        said.append(box.text())
        screenshot(box, "after-a-crash")
        person.click_button("Open log", box)

    try:
        with person.answers(
            QMessageBox,
            read_and_open_log,
            where=lambda box: box.windowTitle() == "CalTrack did not close properly",
        ):
            launcher.start(str(db))
        qtbot.waitUntil(lambda: launcher.window is not None, timeout=SLOW_MS)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert len(said) == 1
    assert re.fullmatch(
        r"CalTrack did not close properly last time \(started today at \d\d:\d\d\); "
        r"the database was checked and is fine\.",
        said[0],
    ), said[0]
    assert viewer.opened == [str(launcher.log_file)]
    # Exactly one dialog: neither the lock's "ended without closing" nor a second notice.
    assert shown.boxes == []
    window = launcher.window
    assert window is not None and window.isVisible()


def test_a_database_named_that_does_not_exist_is_offered_to_be_created(
    qtbot: QtBot, person: Person, launcher: Launcher, tmp_path: Path
) -> None:
    """``./caltrack --db new.db``: a question with a Create button, not a command to type."""
    target = tmp_path / "new-lab.db"
    asked: list[str] = []

    def create(box: QMessageBox) -> None:
        asked.append(f"{box.text()}\n{box.informativeText()}")
        assert "caltrack --db" not in asked[0], "no command line to copy in a window"
        person.press(Qt.Key.Key_Return)  # Create is the default button

    with person.answers(QMessageBox, create, where=lambda b: "no CalTrack database" in b.text()):
        launcher.start(str(target))
    assert str(target) in asked[0]
    qtbot.waitUntil(lambda: launcher.window is not None, timeout=SLOW_MS)
    window = launcher.window
    assert window is not None
    assert window.windowTitle() == f"CalTrack — {target}"
    assert target.is_file()
    assert not (tmp_path / "data" / "demo.db").exists(), "no demo offer for a named database"
