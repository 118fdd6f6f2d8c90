"""The editor lock: an OS lock on ``<db>.lock`` held for a whole editing session.

The OS lock (portalocker) decides who edits. The holder file next to it says who that
is and carries a heartbeat counter, so observers on other PCs can tell a live editor
from a frozen one by watching the counter on their *own* monotonic clock — PC clocks
disagree, counters do not. The locked file itself is never written, deleted or renamed:
another process may be blocked on it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import portalocker

from app import __version__
from app.errors import LockHeldError, LockHolder
from app.identity import Identity
from app.locking.holder import (
    DEFAULT_HEARTBEAT_S,
    HolderInfo,
    holder_path,
    lock_path,
    read_holder,
    write_holder,
)
from app.locking.process import pid_alive

DEFAULT_STALE_AFTER_S = 300.0


class BrokenLockingError(LockHeldError):
    """The share granted a lock that another live session also holds."""


def to_lock_holder(info: HolderInfo) -> LockHolder:
    return LockHolder(
        user=info.user,
        machine=info.machine,
        pid=info.pid,
        session_id=info.session_id,
        since=info.since,
        app_version=info.app_version,
        heartbeat=info.heartbeat,
    )


def live_holder(info: HolderInfo | None) -> HolderInfo | None:
    """The record of the session holding the lock; None when the record is one that says
    it released the lock: it names the last holder, who has gone (the new one is between
    taking the OS lock and writing its record)."""
    return None if info is None or info.released else info


def held_message(info: HolderInfo | None) -> str:
    holder = live_holder(info)
    if holder is None:
        return "Database is locked for editing by another CalTrack session"
    return f"Database is locked for editing by {holder.describe()}"


def _open_lock_file(path: Path) -> IO[bytes]:
    # Create if needed, never truncate. Not O_APPEND: smbnetfs answers it with EIO and
    # then fails every later call on the mount.
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    # Everyone who may write the database must be able to open its lock file, whatever
    # the creator's umask (only the owner can change the mode; others leave it).
    with contextlib.suppress(OSError):
        if os.fstat(fd).st_mode & 0o666 != 0o666:
            os.fchmod(fd, 0o666)
    return os.fdopen(fd, "r+b")


def os_lock_free(db_path: Path) -> bool:
    """Probe: could an editor lock be taken right now? (Taken and given back at once.)"""
    try:
        handle = _open_lock_file(lock_path(db_path))
    except OSError:
        return False
    try:
        portalocker.lock(
            handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
        )
    except portalocker.LockException:
        return False
    else:
        portalocker.unlock(handle)
        return True
    finally:
        handle.close()


@dataclass(frozen=True)
class AcquireResult:
    """What taking the lock found: a predecessor that ended without closing, if any."""

    previous_unclean: HolderInfo | None


class EditorLock:
    """One session's hold on the editor lock of one database."""

    def __init__(
        self,
        db_path: Path,
        identity: Identity,
        *,
        heartbeat_s: float = DEFAULT_HEARTBEAT_S,
        takeover_check_s: float | None = None,
        on_lost: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.db_path = db_path
        self.identity = identity
        self.heartbeat_s = heartbeat_s
        # Long enough to see at least one heartbeat of a live holder.
        self.takeover_check_s = (
            takeover_check_s if takeover_check_s is not None else heartbeat_s * 1.5
        )
        self.session_id = uuid.uuid4().hex
        self.on_lost = on_lost
        self._sleep = sleep
        self._handle: IO[bytes] | None = None
        self._info: HolderInfo | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()
        self.lost_reason: str | None = None

    @property
    def lock_file(self) -> Path:
        return lock_path(self.db_path)

    @property
    def holder_file(self) -> Path:
        return holder_path(self.db_path)

    @property
    def held(self) -> bool:
        return self._handle is not None and self.lost_reason is None

    @property
    def info(self) -> HolderInfo | None:
        return self._info

    def current_holder(self) -> HolderInfo | None:
        return read_holder(self.holder_file)

    # -- acquiring -------------------------------------------------------------------

    def try_acquire(self) -> AcquireResult | None:
        """Take the lock if it is free; None when another session holds it."""
        if self._handle is not None:
            return AcquireResult(None)
        try:
            handle = _open_lock_file(self.lock_file)
        except OSError as exc:
            raise LockHeldError(
                f"cannot open the lock file {self.lock_file}: {exc.strerror or exc}"
            ) from None
        try:
            portalocker.lock(
                handle, portalocker.LockFlags.EXCLUSIVE | portalocker.LockFlags.NON_BLOCKING
            )
        except portalocker.LockException:
            handle.close()
            return None
        try:
            previous = self._check_previous()
            self._info = HolderInfo(
                user=self.identity.user,
                machine=self.identity.machine,
                pid=os.getpid(),
                session_id=self.session_id,
                app_version=__version__,
                since=datetime.now(UTC).isoformat(timespec="seconds"),
                heartbeat_s=self.heartbeat_s,
            )
            write_holder(self.holder_file, self._info)
        except BaseException:
            # Interrupted (SIGTERM, a full disk) after the holder record may have been
            # written: say it was released, or the next session reports a crash.
            if self._info is not None:
                with contextlib.suppress(OSError):
                    current = self.current_holder()
                    if current is not None and current.session_id == self.session_id:
                        write_holder(self.holder_file, replace(self._info, released=True))
            self._info = None
            portalocker.unlock(handle)
            handle.close()
            raise
        self._handle = handle
        self.lost_reason = None
        self._start_heartbeat()
        return AcquireResult(previous)

    def acquire(self, timeout: float = 0.0, *, poll_s: float = 0.25) -> AcquireResult:
        """Take the lock, waiting up to ``timeout`` seconds; LockHeldError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.try_acquire()
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                holder = live_holder(self.current_holder())
                raise LockHeldError(
                    held_message(holder), to_lock_holder(holder) if holder else None
                )
            self._sleep(min(poll_s, max(0.0, deadline - time.monotonic())))

    def _check_previous(self) -> HolderInfo | None:
        """After taking the OS lock: did the last holder crash, or does the share not lock?"""
        previous = self.current_holder()
        if previous is None or previous.released or previous.session_id == self.session_id:
            return None
        same_machine = previous.machine == self.identity.machine
        if same_machine and not pid_alive(previous.pid):
            return previous  # it died; its OS lock went with it
        # Alive elsewhere (or here): a live holder's counter moves within a heartbeat.
        deadline = time.monotonic() + self.takeover_check_s
        while time.monotonic() < deadline:
            self._sleep(min(0.2, self.takeover_check_s))
            now = self.current_holder()
            if now is not None and (
                now.session_id != previous.session_id or now.heartbeat != previous.heartbeat
            ):
                raise BrokenLockingError(
                    "this folder does not lock files reliably (for example a share mounted "
                    f"with nobrl): the system granted the editor lock while {now.describe()} "
                    "still holds it. CalTrack will not edit here; ask IT to enable locking "
                    "on the share",
                    to_lock_holder(now),
                )
        return previous

    # -- holding ---------------------------------------------------------------------

    def set_epoch(self, epoch: int) -> None:
        """Record the fencing epoch this session writes under."""
        with self._mutex:
            if self._info is not None:
                self._info = replace(self._info, epoch=epoch)
                write_holder(self.holder_file, self._info)

    def _start_heartbeat(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._heartbeat_loop, name="caltrack-lock-heartbeat", daemon=True
        )
        self._thread.start()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self.beat()
            except OSError:
                # The share may blink; the next beat tries again, and fencing
                # protects the data if another session takes over meanwhile.
                continue

    def beat(self) -> None:
        """Advance the heartbeat counter, unless someone else now owns the holder file."""
        with self._mutex:
            if self._info is None or self.lost_reason is not None:
                return
            current = self.current_holder()
            if current is not None and current.session_id != self.session_id:
                self._lose(f"the editor lock was taken over by {current.describe()}")
                return
            self._info = self._info.beat()
            write_holder(self.holder_file, self._info)

    def _lose(self, reason: str) -> None:
        self.lost_reason = reason
        self._stop.set()
        if self.on_lost is not None:
            self.on_lost(reason)

    # -- releasing -------------------------------------------------------------------

    def release(self) -> None:
        """Give the lock back: mark the holder file released, then unlock."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)
        self._thread = None
        with self._mutex:
            handle, self._handle = self._handle, None
            if handle is None:
                return
            try:
                current = self.current_holder()
                if self._info is not None and (
                    current is None or current.session_id == self.session_id
                ):
                    with contextlib.suppress(OSError):
                        write_holder(self.holder_file, replace(self._info, released=True))
            finally:
                with contextlib.suppress(OSError, portalocker.LockException):
                    portalocker.unlock(handle)
                handle.close()

    def __enter__(self) -> EditorLock:
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()


@dataclass(frozen=True)
class LockStatus:
    """The lock as seen from here."""

    held: bool
    holder: HolderInfo | None
    heartbeat_age_s: float | None  # time since the counter last moved, on our clock
    stale: bool
    # SQLite's write lock held by another connection right now (None: not probed).
    write_lock_held: bool | None = None
    # The holder's process on this machine: running, stopped or gone (None: elsewhere).
    process_state: str | None = None
    # Set when the holder is frozen inside a write: the sentence that says so.
    frozen_in_write: str | None = None

    def describe(self) -> str:
        if not self.held:
            return "not held"
        return held_message(self.holder)


class LockObserver:
    """Watches another session's heartbeat on this process's monotonic clock."""

    def __init__(
        self,
        db_path: Path,
        *,
        stale_after_s: float = DEFAULT_STALE_AFTER_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db_path = db_path
        self.stale_after_s = stale_after_s
        self._monotonic = monotonic
        self._seen: tuple[str, int] | None = None
        self._since: float | None = None

    def observe(self) -> LockStatus:
        holder = read_holder(holder_path(self.db_path))
        now = self._monotonic()
        key = (holder.session_id, holder.heartbeat) if holder else None
        if key != self._seen:
            self._seen = key
            self._since = now
        held = not os_lock_free(self.db_path)
        age = None if self._since is None else now - self._since
        stale = held and age is not None and age >= self.stale_after_s
        return LockStatus(held=held, holder=holder, heartbeat_age_s=age, stale=stale)
