"""The editing session: who may write to a shared database, and hand-over between users.

One session at a time is the *editor* (it holds the editor lock and the current fencing
epoch); every other session is read-only and says who edits. The GUI drives the idle
release and the notifications by calling ``check_idle``, ``touch`` and ``lock_free``;
nothing here starts Qt timers.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.clock import Clock
from app.db.engine import choose_journal
from app.db.fencing import LOCK_EPOCH_KEY, Fence
from app.db.transactions import Database
from app.errors import LeaseLostError, LockHeldError, ReadOnlyError
from app.identity import Identity
from app.locking.editor_lock import (
    DEFAULT_HEARTBEAT_S,
    DEFAULT_STALE_AFTER_S,
    BrokenLockingError,
    EditorLock,
    LockObserver,
    LockStatus,
    held_message,
    os_lock_free,
)
from app.locking.holder import HolderInfo, holder_path, read_holder
from app.locking.requests import EditRequest, read_request, write_request
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.settings import DEFAULT_IDLE_MINUTES, IDLE_KEY

SHARED_KEY = "shared_since"


@dataclass(frozen=True)
class EditingOptions:
    """How a session tries to become the editor."""

    edit: bool = True  # False: open for reading only, never take the lock
    wait_s: float = 0.0
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    takeover_check_s: float | None = None
    idle_release_s: float | None = None  # None: the database's own setting


@dataclass
class StartReport:
    """What becoming the editor found, for the user to see."""

    notices: list[str] = field(default_factory=list)
    previous_unclean: HolderInfo | None = None


class EditingSession:
    """This window's (or command's) role on one database: editor or reader."""

    def __init__(
        self,
        *,
        database: Database,
        uow: UnitOfWorkFactory,
        identity: Identity,
        clock: Clock,
        options: EditingOptions,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = database
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._options = options
        self._monotonic = monotonic
        self._last_activity = monotonic()
        self._idle_released = False
        self._seen_request: str | None = None
        self.epoch: int | None = None
        # The epoch in the previous holder's file, read when the database could not be.
        self.seen_epoch = 0
        self.lock: EditorLock | None = None
        self.observer: LockObserver | None = None
        path = database.path
        if path is not None:
            self.lock = EditorLock(
                path,
                identity,
                heartbeat_s=options.heartbeat_s,
                takeover_check_s=options.takeover_check_s,
                on_lost=self._lost,
            )
            self.observer = LockObserver(path, stale_after_s=options.stale_after_s)

    # -- state -----------------------------------------------------------------------

    @property
    def wants_edit(self) -> bool:
        """True when this session was opened to edit (it may still end up read-only)."""
        return self._options.edit

    @property
    def stale_after_s(self) -> float:
        return self._options.stale_after_s

    @property
    def editing(self) -> bool:
        if self.lock is None:
            return self._db.read_only_reason is None
        return self.lock.held and self._db.read_only_reason is None

    @property
    def read_only_reason(self) -> str | None:
        return self._db.read_only_reason

    def status(self) -> LockStatus | None:
        """The lock as observed from this session (None for server databases)."""
        return self.observer.observe() if self.observer else None

    # -- becoming the editor ---------------------------------------------------------

    def start(self) -> StartReport:
        """Become the editor if the options say so and the lock is free; else read-only."""
        if not self._options.edit:
            self._db.set_read_only("opened for reading only")
            return StartReport()
        return self.become_editor(self._options.wait_s)

    def become_editor(self, wait_s: float = 0.0) -> StartReport:
        report = StartReport()
        if self.lock is None:  # a server database: the server arbitrates
            self._db.set_read_only(None)
            return report
        try:
            result = self.lock.acquire(wait_s)
        except BrokenLockingError as exc:
            # Said once, as the read-only reason every write (and the window) repeats.
            self._db.set_read_only(str(exc))
            return report
        except LockHeldError as exc:
            self._db.set_read_only(f"{exc} (this session is read-only)")
            return report
        report.previous_unclean = result.previous_unclean
        if result.previous_unclean is not None:
            prev = result.previous_unclean
            report.notices.append(
                f"The previous editing session of {prev.user} on {prev.machine} "
                f"(since {prev.since_local()}) ended without closing."
            )
        try:
            self._take_epoch(report)
        except BaseException:
            self.lock.release()
            raise
        self._last_activity = self._monotonic()
        self._idle_released = False
        return report

    def hold_without_writing(self) -> None:
        """Hold the editor lock but write nothing: the file is damaged.

        Nobody else may write while a restore is possible, and the lock epoch is not
        moved (that is a write into the damaged file); a restore moves it past every
        epoch seen, the one in the previous holder's file included.
        """
        if self.lock is None or self._db.path is None:
            return
        previous = read_holder(holder_path(self._db.path))
        self.seen_epoch = previous.epoch if previous is not None else 0
        try:
            self.lock.acquire(self._options.wait_s)
        except LockHeldError:
            return  # someone else edits: this session only reads

    def holds_lock(self) -> bool:
        """True when no other session may write (the lock is ours, or a server arbitrates)."""
        return self.lock is None or self.lock.held

    def _take_epoch(self, report: StartReport) -> None:
        assert self.lock is not None
        db = self._db
        db.set_read_only(None)
        db.fence = None
        network = db.location is not None and db.location.is_network
        now = self._clock.now_utc().isoformat(timespec="seconds")

        def write(uow: UnitOfWork) -> tuple[int, bool]:
            epoch = uow.meta.increment(LOCK_EPOCH_KEY)
            if network and uow.meta.get(SHARED_KEY) is None:
                # One-way: from now on this file stays in rollback-journal mode.
                uow.meta.set(SHARED_KEY, now)
            return epoch, uow.meta.get(SHARED_KEY) is not None

        epoch, shared = self._uow.write(write, label="take editor lock")
        self.epoch = epoch
        db.fence = Fence(epoch, self._lost)
        self.lock.set_epoch(epoch)
        if db.location is not None:
            policy = choose_journal(db.location, db.journal_choice, shared=shared)
            db.journal = policy
            if not db.switch_journal(policy.mode):
                report.notices.append(
                    f"could not switch the database to {policy.mode} mode while other "
                    "programs have it open; it keeps its current mode for now"
                )

    def adopt_epoch(self, epoch: int) -> None:
        """After a restore moved the epoch on under this editor: write under the new one."""
        if self.lock is None or not self.lock.held:
            return
        self.epoch = epoch
        self._db.fence = Fence(epoch, self._lost)
        self.lock.set_epoch(epoch)

    def _lost(self, reason: str) -> None:
        self._db.set_read_only(reason, LeaseLostError)

    # -- giving it up ----------------------------------------------------------------

    def release(self, reason: str = "you stopped editing") -> None:
        """Stop editing: give the lock back and turn read-only."""
        if self.lock is not None and self.lock.info is not None:
            self.lock.release()
            self._db.set_read_only(f"read-only: {reason}")
        self._db.fence = None

    def close(self) -> None:
        if self.lock is not None:
            self.lock.release()

    # -- idle hand-over --------------------------------------------------------------

    def idle_release_s(self) -> float:
        if self._options.idle_release_s is not None:
            return self._options.idle_release_s
        raw = self._uow.read(lambda uow: uow.meta.get(IDLE_KEY))
        try:
            minutes = int(raw) if raw else DEFAULT_IDLE_MINUTES
        except ValueError:
            minutes = DEFAULT_IDLE_MINUTES
        return float(minutes * 60)

    @property
    def idle_released(self) -> bool:
        """True while the lock is given up for idleness (activity may take it back)."""
        return self._idle_released

    def note_activity(self) -> None:
        """User activity (cheap, no I/O: safe on the GUI thread)."""
        self._last_activity = self._monotonic()

    def touch(self) -> bool:
        """User activity; an editor released for idleness takes the lock back if free."""
        self.note_activity()
        if self._idle_released and self.lock is not None and not self.lock.held:
            self.become_editor(0.0)
            return self.editing
        return False

    def check_idle(self) -> bool:
        """Release the lock after the idle time; True when this call released it."""
        if not self.editing or self.lock is None:
            return False
        idle = self._monotonic() - self._last_activity
        limit = self.idle_release_s()
        if idle < limit:
            return False
        self.release(f"released the editor lock after {int(limit // 60)} minutes without activity")
        self._idle_released = True
        return True

    # -- notify and requests ---------------------------------------------------------

    def lock_free(self) -> bool:
        """Could this session become the editor right now?"""
        return self._db.path is None or os_lock_free(self._db.path)

    def wait_until_free(
        self,
        timeout_s: float,
        poll_s: float = 1.0,
        cancelled: Callable[[], bool] | None = None,
    ) -> bool:
        """Block (in a worker, not the GUI thread) until the lock frees up or time runs out."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.lock_free():
                return True
            if time.monotonic() >= deadline or (cancelled is not None and cancelled()):
                return False
            time.sleep(poll_s)

    def request_edit(self, message: str = "") -> EditRequest:
        """Ask the current editor to hand over (they see it on their next poll)."""
        if self._db.path is None:
            raise ReadOnlyError("edit requests apply to shared database files only")
        request = EditRequest(
            user=self._identity.user,
            machine=self._identity.machine,
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            message=message.strip()[:500],
            request_id=uuid.uuid4().hex,
        )
        write_request(self._db.path, request)
        return request

    def pending_request(self) -> EditRequest | None:
        """A request for the lock not yet shown to this editor (each shown once)."""
        if self._db.path is None or not self.editing:
            return None
        request = read_request(self._db.path)
        if request is None or request.request_id == self._seen_request:
            return None
        self._seen_request = request.request_id
        return request

    def holder(self) -> HolderInfo | None:
        return self.lock.current_holder() if self.lock else None

    def describe(self) -> str:
        if self.editing:
            return "Editing"
        holder = self.holder()
        if holder is not None and not holder.released and self.lock and not self.lock.held:
            return f"Read-only — {held_message(holder).replace('Database is locked', 'locked')}"
        return f"Read-only — {self.read_only_reason or 'not editing'}"


def db_identity(path: Path | None, url: str) -> str:
    return str(path.resolve()) if path is not None else url
