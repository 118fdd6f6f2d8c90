"""The operation helper under load: thousands of operations while their owners come and go.

The segfaults seen in the window came from Python ``QRunnable`` objects that Qt deleted
behind Python's back. These tests run many operations at once while widgets and dialogs
are created and deleted mid-operation, and check that every outcome is delivered on the
GUI thread exactly once, to owners that still exist, and never to ones that are gone.
"""

from __future__ import annotations

import os
import threading
from functools import partial
from pathlib import Path

import shiboken6
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui.dialogs.settings_dialog import SettingsDialog
from app.ui.tasks import Changes, TaskRunner

OPERATIONS = int(os.environ.get("CALTRACK_STRESS_OPERATIONS", "3000"))


def double(n: int) -> int:
    return n * 2


def same(n: int) -> int:
    return n


def ignore(_exc: BaseException) -> None:
    pass


def test_outcomes_reach_live_owners_on_the_gui_thread_and_never_dead_ones(qtbot: QtBot) -> None:
    runner = TaskRunner(max_threads=4)
    gui = threading.get_ident()
    delivered: list[int] = []
    wrong_thread: list[int] = []
    to_dead: list[int] = []
    owners: dict[int, QWidget] = {}
    dead: set[int] = set()

    def deliver(n: int) -> None:
        if threading.get_ident() != gui:
            wrong_thread.append(n)
        if n in dead:
            to_dead.append(n)
        delivered.append(n)

    for n in range(OPERATIONS):
        owner = QWidget()
        owners[n] = owner
        runner.run(partial(double, n), lambda r: deliver(r // 2), ignore, owner=owner)
        if n % 3 == 0:
            # Deleted while its operation may be running, queued or already posted.
            dead.add(n)
            shiboken6.delete(owners.pop(n))
        if n % 50 == 0:
            QApplication.processEvents()
    qtbot.waitUntil(lambda: runner.running == 0, timeout=60_000)
    assert wrong_thread == []
    assert to_dead == []
    assert sorted(delivered) == sorted(set(range(OPERATIONS)) - dead)
    for owner in owners.values():
        owner.deleteLater()


def test_failures_come_back_as_errors_and_only_the_newest_keyed_result_counts(
    qtbot: QtBot,
) -> None:
    runner = TaskRunner()
    errors: list[str] = []
    results: list[int] = []

    def boom() -> int:
        raise ValueError("no such instrument")

    runner.run(boom, results.append, lambda exc: errors.append(str(exc)))
    for n in range(200):
        runner.run(partial(same, n), results.append, ignore, key="search")
    qtbot.waitUntil(lambda: runner.running == 0, timeout=30_000)
    assert errors == ["no such instrument"]
    assert results == [199]


def test_a_write_is_announced_after_its_callback_and_a_failed_one_is_not(qtbot: QtBot) -> None:
    runner = TaskRunner()
    seen: list[object] = []
    runner.changed.connect(seen.append)

    def fail() -> None:
        raise RuntimeError("disk full")

    change = Changes(instruments=True, instrument_ids=frozenset({7}))

    def one() -> int:
        return 1

    runner.run(one, lambda _r: seen.append("done"), lambda _e: None, changes=change)
    runner.run(fail, lambda r: None, lambda e: seen.append("failed"), changes=Changes.everything())
    qtbot.waitUntil(lambda: runner.running == 0, timeout=30_000)
    assert seen.index("done") < seen.index(change)
    assert "failed" in seen and Changes.everything() not in seen
    assert change.touches(7) and not change.touches(8)
    assert Changes(settings=True).touches(7) is False


def test_runner_deleted_with_operations_in_flight(qtbot: QtBot) -> None:
    parent = QWidget()
    runner = TaskRunner(parent=parent)
    release = threading.Event()
    calls: list[int] = []

    def note(n: int, _held: bool) -> None:
        calls.append(n)

    def hold() -> bool:
        return release.wait(10)

    for n in range(20):
        runner.run(hold, partial(note, n), ignore)
    parent.deleteLater()
    qtbot.waitUntil(lambda: not _alive(runner), timeout=10_000)
    release.set()
    qtbot.wait(50)
    QApplication.processEvents()
    assert calls == []


def _alive(obj: object) -> bool:
    return bool(shiboken6.isValid(obj))


def test_dialogs_open_and_close_while_their_operations_run(
    qtbot: QtBot, app: CalTrack, tmp_path: Path
) -> None:
    runner = TaskRunner()
    for n in range(60):
        # The dialog reads the shared settings itself (its own method is the owner).
        dialog = SettingsDialog(UserSettings(), app, runner)
        dialog.show()
        for _n in range(10):
            runner.run(app.settings.shared, lambda s: None, lambda e: None, owner=dialog)
        if n % 2:
            QApplication.processEvents()
        dialog.close()
        dialog.deleteLater()
    qtbot.waitUntil(lambda: runner.running == 0, timeout=60_000)
    runner.wait()
