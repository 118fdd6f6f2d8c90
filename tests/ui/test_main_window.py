"""The main window on a real database: list, filters, search, refresh, lock states."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLabel
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.db.fencing import LOCK_EPOCH_KEY
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWorkFactory
from app.services.dto import InstrumentChanges, StatedUncertainty, TypeInput
from app.services.instruments import InstrumentService
from app.settings.user_settings import UserSettings
from app.ui.app import Launcher
from app.ui.dialogs.conflict_dialog import ConflictDialog
from app.ui.dialogs.instrument_dialog import InstrumentDialog
from app.ui.dialogs.lock_dialog import LockInUseDialog
from app.ui.main_window import MainWindow, in_quiet_hours
from app.ui.models.instrument_table import COL_TAG, LOADING
from app.ui.tasks import TaskRunner
from tests.ui.conftest import Shown
from tests.ui.opened import closed, opened
from tests.unit.qa_helpers import BOB


@pytest.fixture
def window(qtbot: QtBot, demo_app: CalTrack, shown: Shown) -> Iterator[MainWindow]:
    runner = TaskRunner()
    win = MainWindow(app=demo_app, runner=runner, settings=UserSettings(reminders=False))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.model.rowCount() == 60, timeout=10_000)
    yield win
    win.close()
    runner.wait()


def visible_tags(qtbot: QtBot, win: MainWindow) -> list[str]:
    def loaded() -> bool:
        return all(
            win.model.data(win.model.index(r, COL_TAG)) != LOADING
            for r in range(win.model.rowCount())
        )

    qtbot.waitUntil(loaded, timeout=10_000)
    return [str(win.model.data(win.model.index(r, COL_TAG))) for r in range(win.model.rowCount())]


def test_list_counts_and_detail(
    qtbot: QtBot, window: MainWindow, demo_app: CalTrack, backend: str
) -> None:
    counts = demo_app.instruments.status_counts()
    assert window.filter_buttons[None].text() == f"All ({counts['all']})"
    assert window.filter_buttons["overdue"].text() == f"Overdue ({counts['overdue']})"
    qtbot.waitUntil(lambda: window.history is not None, timeout=10_000)
    assert window.history is not None
    assert window.detail.title.text().startswith(window.history.instrument.asset_tag)
    assert window.detail.calibrations.rowCount() == len(window.history.calibrations)
    qtbot.waitUntil(lambda: window.lock_view is not None, timeout=5000)
    lock_state = window.status.lock_state.text()
    if backend == "sqlite":
        assert lock_state.endswith("Editing")
    else:
        assert lock_state == "Editing — database server: everyone edits, no editor lock"
    assert not window.banner.isVisible()


def test_status_filter_and_search(qtbot: QtBot, window: MainWindow, demo_app: CalTrack) -> None:
    overdue = demo_app.instruments.status_counts()["overdue"]
    window.filter_buttons["overdue"].click()
    qtbot.waitUntil(lambda: window.model.rowCount() == overdue, timeout=10_000)
    window.filter_buttons[None].click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 60, timeout=10_000)
    expected = demo_app.instruments.list(search="fluke", limit=None).total
    assert 0 < expected < 60
    qtbot.keyClicks(window.search, "fluke")
    qtbot.waitUntil(lambda: window.model.rowCount() == expected, timeout=10_000)
    tags = set(visible_tags(qtbot, window))
    assert tags == {r.asset_tag for r in demo_app.instruments.list(search="fluke", limit=None).rows}


def test_refresh_link_says_refreshed_then_comes_back(qtbot: QtBot, window: MainWindow) -> None:
    window.status.refresh.linkActivated.emit("refresh")
    assert window.status.refresh.text() == "Refreshed"
    assert window.status.refresh.toolTip() == "Reload data from database (data may have changed)"
    qtbot.waitUntil(lambda: "Refresh</a>" in window.status.refresh.text(), timeout=5000)


def test_change_by_someone_else_shows_the_hint(
    qtbot: QtBot, window: MainWindow, demo_app: CalTrack
) -> None:
    qtbot.waitUntil(lambda: window.watcher is not None, timeout=5000)
    assert not window.status.change_hint.isVisible()
    tags = [r.asset_tag for r in demo_app.instruments.list(limit=2).rows]
    # This window's own saves are no news to it.
    demo_app.instruments.edit(tags[0], InstrumentChanges(notes="changed here"))
    window.poll()
    # The poll's answer has been handled once the runner has delivered every outcome.
    qtbot.waitUntil(lambda: window.runner.running == 0, timeout=10_000)
    assert window.watcher is not None and not window.watcher.changed()
    assert not window.status.change_hint.isVisible()
    # Someone else's are: another process writing the same database (as after a
    # hand-over), here through a unit of work of its own.
    elsewhere = InstrumentService(
        uow=UnitOfWorkFactory(demo_app.uow.database), identity=BOB, clock=demo_app.clock
    )
    elsewhere.edit(tags[1], InstrumentChanges(notes="changed elsewhere"))
    demo_app.instruments.edit(tags[0], InstrumentChanges(notes="and here again"))
    window.poll()
    qtbot.waitUntil(window.status.change_hint.isVisible, timeout=5000)
    assert "Refresh" in window.status.change_hint.text()


@pytest.mark.sqlite_only(
    "the editor lock's epoch in the file's meta table: a server has no editor lock"
)
def test_lost_lock_turns_the_window_read_only(
    qtbot: QtBot, window: MainWindow, demo_app: CalTrack, demo_db: str, shown: Shown
) -> None:
    # Someone took the editor role over while this window was frozen.
    import sqlite3

    conn = sqlite3.connect(demo_db)
    with conn:
        conn.execute("UPDATE meta SET value = value + 1 WHERE key = ?", (LOCK_EPOCH_KEY,))
    conn.close()
    tag = demo_app.instruments.list(limit=1).rows[0].asset_tag
    window.runner.run(
        lambda: demo_app.instruments.edit(tag, InstrumentChanges(notes="too late")),
        lambda _r: None,
        lambda exc: shown.boxes.append(("failed", str(exc), "")),
    )
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=5000)
    window.poll()
    qtbot.waitUntil(window.banner.isVisible, timeout=5000)
    assert "took over" in window.banner_text.text()
    assert not window.act_new.isEnabled()


def test_conflict_flow_reapplies_mine_on_their_version(
    qtbot: QtBot, window: MainWindow, demo_app: CalTrack, shown: Shown
) -> None:
    qtbot.waitUntil(lambda: window.history is not None, timeout=10_000)
    assert window.history is not None
    tag = window.history.instrument.asset_tag
    start_version = window.history.instrument.version
    demo_app.types.add(TypeInput(name="Bench thermometer"))  # read as the form opens
    window.edit_instrument()
    dialog = opened(qtbot, InstrumentDialog)
    dialog.edits["location"].setText("Mine: Lab 1.01")
    # Sent beside the fields, and so reapplied beside them, before the save.
    dialog.type_box.setCurrentIndex(dialog.type_box.findData("Bench thermometer"))
    dialog.stated.setText("0.05:2:°C")
    # Meanwhile the instrument is saved by someone else.
    demo_app.instruments.edit(tag, InstrumentChanges(notes="theirs"))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    opened(qtbot, ConflictDialog).reapply.click()
    closed(qtbot, dialog)
    saved = demo_app.instruments.get(tag)
    assert saved.location == "Mine: Lab 1.01"
    assert saved.type_name == "Bench thermometer"
    assert saved.stated_uncertainty == StatedUncertainty(0.05, 2.0, "°C")
    assert saved.notes == "theirs", "their change is kept"
    assert saved.version == start_version + 2


@pytest.mark.sqlite_only(
    "a second process finds the file's editor lock held; on a server everyone edits"
)
def test_second_process_opens_read_only_and_names_the_holder(
    qtbot: QtBot, demo_db: str, tmp_path: Path, shown: Shown
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from app.bootstrap import open_caltrack
                from app.identity import Identity
                app = open_caltrack({str(demo_db)!r}, identity=Identity("bob", "LAB-PC-7"),
                                    state_dir=Path({str(tmp_path / "bob")!r}))
                print("editing" if app.session.editing else "not editing", flush=True)
                sys.stdin.readline()
                app.close()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "editing"
        qapp = QApplication.instance()
        assert isinstance(qapp, QApplication)
        launcher = Launcher(
            qapp,
            settings=UserSettings(reminders=False),
            settings_path=tmp_path / "settings.json",
            state_dir=tmp_path / "alice",
        )
        seen: list[str] = []

        def answer() -> None:
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, LockInUseDialog):
                QTimer.singleShot(50, answer)
                return
            seen.append(" ".join(lbl.text() for lbl in dialog.findChildren(QLabel)))
            dialog.read_only.click()

        QTimer.singleShot(0, answer)
        launcher.open(str(demo_db))
        qtbot.waitUntil(lambda: launcher.window is not None, timeout=15_000)
        win = launcher.window
        assert win is not None
        qtbot.addWidget(win)
        assert seen and "<b>bob</b> on <b>LAB-PC-7</b>" in seen[0]
        qtbot.waitUntil(win.banner.isVisible, timeout=5000)
        assert "bob on LAB-PC-7" in win.banner_text.text()
        assert "Read-only" in win.status.lock_state.text()
        assert not win.act_new.isEnabled()
        win.close()
        launcher.shutdown()
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
        holder.stdin.close()
        if holder.stdout is not None:
            holder.stdout.close()


@pytest.mark.parametrize(
    ("start", "end", "now", "quiet"),
    [
        ("18:00", "08:00", "22:00", True),
        ("18:00", "08:00", "07:59", True),
        ("18:00", "08:00", "12:00", False),
        ("12:00", "13:00", "12:30", True),
        ("", "", "12:00", False),
    ],
)
def test_quiet_hours(start: str, end: str, now: str, quiet: bool) -> None:
    from datetime import time

    settings = UserSettings(quiet_start=start, quiet_end=end)
    assert in_quiet_hours(settings, time.fromisoformat(now)) is quiet


def test_identity_fixture_is_alice(alice: Identity) -> None:
    assert alice.user == "alice"
