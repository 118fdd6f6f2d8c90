"""The editor lock on real files: holder info, heartbeat, crash takeover, broken locks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.errors import LockHeldError
from app.identity import Identity
from app.locking.editor_lock import (
    BrokenLockingError,
    EditorLock,
    LockObserver,
    os_lock_free,
)
from app.locking.holder import HolderInfo, holder_path, read_holder, write_holder
from app.locking.process import process_has_open, process_state

ALICE = Identity("alice", "LAB-PC-3")
BOB = Identity("bob", "LAB-PC-7")


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    path = tmp_path / "lab.db"
    path.write_bytes(b"")
    return path


def test_acquire_writes_holder_and_release_marks_it(db_file: Path) -> None:
    lock = EditorLock(db_file, ALICE, heartbeat_s=60)
    result = lock.acquire()
    assert result.previous_unclean is None
    info = read_holder(holder_path(db_file))
    assert info is not None
    assert (info.user, info.machine, info.released) == ("alice", "LAB-PC-3", False)
    assert not os_lock_free(db_file)
    lock.release()
    after = read_holder(holder_path(db_file))
    assert after is not None and after.released
    assert os_lock_free(db_file)
    assert db_file.with_name("lab.db.lock").exists(), "the locked file is never deleted"


def test_second_session_is_refused_with_holder_named(db_file: Path) -> None:
    with EditorLock(db_file, ALICE, heartbeat_s=60):
        other = EditorLock(db_file, BOB, heartbeat_s=60)
        assert other.try_acquire() is None
        with pytest.raises(LockHeldError) as info:
            other.acquire(timeout=0.3, poll_s=0.05)
        assert "alice on LAB-PC-3" in str(info.value)
        assert info.value.holder is not None and info.value.holder.user == "alice"


def test_a_released_record_is_not_named_as_the_holder(db_file: Path) -> None:
    """The OS lock is held but the holder record still is the last session's, which
    released it (the new holder is between taking the lock and writing its record): the
    refusal names nobody rather than someone who has gone."""
    with EditorLock(db_file, ALICE, heartbeat_s=60) as held:
        assert held.info is not None
        gone = replace(held.info, user="carol", machine="LAB-PC-9", released=True)
        write_holder(holder_path(db_file), gone)
        other = EditorLock(db_file, BOB, heartbeat_s=60)
        with pytest.raises(LockHeldError) as info:
            other.acquire(timeout=0.1, poll_s=0.05)
        assert "carol" not in str(info.value)
        assert str(info.value) == "Database is locked for editing by another CalTrack session"
        assert info.value.holder is None


def test_waiting_acquire_gets_the_lock_when_freed(db_file: Path) -> None:
    first = EditorLock(db_file, ALICE, heartbeat_s=60)
    first.acquire()
    timer = threading.Timer(0.3, first.release)
    timer.start()
    second = EditorLock(db_file, BOB, heartbeat_s=60)
    second.acquire(timeout=5, poll_s=0.05)
    assert second.held
    info = read_holder(holder_path(db_file))
    assert info is not None and info.user == "bob"
    second.release()
    timer.join()


def test_heartbeat_advances_the_counter(db_file: Path) -> None:
    lock = EditorLock(db_file, ALICE, heartbeat_s=60)
    lock.acquire()
    lock.beat()
    lock.beat()
    info = read_holder(holder_path(db_file))
    assert info is not None and info.heartbeat == 2
    lock.release()


def test_crashed_predecessor_on_this_machine_is_reported(db_file: Path) -> None:
    dead = HolderInfo(
        "bob", ALICE.machine, 2**22 + 12345, "dead-session", "0.1.0", "2026-11-23T08:00:00+00:00"
    )
    write_holder(holder_path(db_file), dead)
    lock = EditorLock(db_file, ALICE, heartbeat_s=60)
    result = lock.acquire()
    assert result.previous_unclean is not None
    assert result.previous_unclean.user == "bob"
    lock.release()


def test_silent_predecessor_elsewhere_is_taken_over_after_watching(db_file: Path) -> None:
    gone = HolderInfo("bob", "LAB-PC-7", 4242, "gone-session", "0.1.0", "2026-11-23T08:00:00+00:00")
    write_holder(holder_path(db_file), gone)
    lock = EditorLock(db_file, ALICE, heartbeat_s=60, takeover_check_s=0.4)
    result = lock.acquire()
    assert result.previous_unclean == gone
    lock.release()


def test_live_heartbeat_behind_a_granted_lock_means_broken_locking(db_file: Path) -> None:
    # What a share mounted with nobrl looks like: the OS grants the lock, yet another
    # session's heartbeat keeps moving in the holder file.
    live = HolderInfo("bob", "LAB-PC-7", 4242, "live-session", "0.1.0", "2026-11-23T08:00:00+00:00")
    write_holder(holder_path(db_file), live)
    stop = threading.Event()

    def beat() -> None:
        current = live
        while not stop.wait(0.1):
            current = replace(current, heartbeat=current.heartbeat + 1)
            write_holder(holder_path(db_file), current)

    beater = threading.Thread(target=beat)
    beater.start()
    try:
        lock = EditorLock(db_file, ALICE, heartbeat_s=60, takeover_check_s=1.0)
        with pytest.raises(BrokenLockingError, match="does not lock files reliably"):
            lock.acquire()
    finally:
        stop.set()
        beater.join()
    assert not lock.held
    assert os_lock_free(db_file), "the refused session let go of the OS lock"


def test_takeover_is_noticed_by_the_old_holder(db_file: Path) -> None:
    lost: list[str] = []
    lock = EditorLock(db_file, ALICE, heartbeat_s=60, on_lost=lost.append)
    lock.acquire()
    usurper = HolderInfo("bob", "LAB-PC-7", 1, "new-session", "0.1.0", "2026-11-23T09:00:00+00:00")
    write_holder(holder_path(db_file), usurper)
    lock.beat()
    assert not lock.held
    assert lost and "bob on LAB-PC-7" in lost[0]
    lock.release()
    assert read_holder(holder_path(db_file)) == usurper, "release leaves the new holder alone"


def test_observer_judges_staleness_on_its_own_clock(db_file: Path) -> None:
    now = [1000.0]
    lock = EditorLock(db_file, ALICE, heartbeat_s=60)
    lock.acquire()
    observer = LockObserver(db_file, stale_after_s=300, monotonic=lambda: now[0])
    assert observer.observe().stale is False
    now[0] += 299
    assert observer.observe().stale is False
    lock.beat()  # a heartbeat resets the age
    now[0] += 200
    status = observer.observe()
    assert status.heartbeat_age_s == 0 and not status.stale
    now[0] += 301
    status = observer.observe()
    assert status.held and status.stale and status.heartbeat_age_s == 301
    lock.release()
    assert observer.observe().held is False


# -- telling a frozen writer (issue 10, point 5) -------------------------------------


def test_holder_records_its_heartbeat_interval_and_old_files_read_the_default(
    db_file: Path,
) -> None:
    lock = EditorLock(db_file, ALICE, heartbeat_s=0.7)
    lock.acquire()
    try:
        info = read_holder(holder_path(db_file))
        assert info is not None and info.heartbeat_s == 0.7
    finally:
        lock.release()
    for recorded, read in ((None, 30.0), ("soon", 30.0), (-1, 30.0), (1e9, 30.0), (5, 5.0)):
        data = {"user": "bob", "machine": "M", "pid": 1, "session_id": "s", "since": "x"}
        if recorded is not None:
            data["heartbeat_s"] = recorded
        holder_path(db_file).write_text(json.dumps(data))
        info = read_holder(holder_path(db_file))
        assert info is not None and info.heartbeat_s == read, recorded


@pytest.mark.skipif(sys.platform != "linux", reason="/proc and SIGSTOP")
def test_process_state_tells_running_stopped_and_gone() -> None:
    assert process_state(os.getpid()) == "running"
    child = subprocess.Popen(["sleep", "600"])
    try:
        assert process_has_open(os.getpid(), Path(__file__)) is False
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 60
        while process_state(child.pid) != "stopped":
            assert time.monotonic() < deadline, "sleep never stopped"
            time.sleep(0.01)
        child.kill()
        deadline = time.monotonic() + 60
        while process_state(child.pid) != "gone":  # a zombie has ended
            assert time.monotonic() < deadline, "sleep never ended"
            time.sleep(0.01)
    finally:
        child.kill()
        child.communicate()
    assert process_state(child.pid) == "gone"
    with open(__file__, "rb"):
        assert process_has_open(os.getpid(), Path(__file__)) is True


@pytest.mark.sqlite_only("SQLite's single-writer lock; a server has row locks")
def test_write_lock_probe_sees_another_connections_write(app: CalTrack, db_path: Path) -> None:
    assert app.database.write_lock_held() is False
    other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert app.database.write_lock_held() is True
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert app.database.write_lock_held() is False
