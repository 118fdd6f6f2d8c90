"""The editing session: who may write to a shared database, and hand-over between users.

On a shared file one session at a time is the *editor* (it holds the editor lock and the
current fencing epoch); every other session is read-only and says who edits. On a database
server there is no editor lock: every session opened to edit edits, the server serialises
the writes, and the version columns catch two users saving over the same loaded data.
The GUI drives the idle release and the notifications by calling ``check_idle``,
``touch`` and ``lock_free``; nothing here starts Qt timers.
"""

from __future__ import annotations

import enum
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from app.clock import Clock
from app.db.engine import choose_journal, safe_url
from app.db.fencing import LOCK_EPOCH_KEY, Fence
from app.db.transactions import Database
from app.errors import LeaseLostError, LockHeldError, ReadOnlyError
from app.identity import Identity
from app.locking.editor_lock import (
    DEFAULT_STALE_AFTER_S,
    BrokenLockingError,
    EditorLock,
    LockObserver,
    LockStatus,
    os_lock_free,
)
from app.locking.holder import DEFAULT_HEARTBEAT_S, HolderInfo, holder_path, read_holder
from app.locking.requests import (
    DECLINED,
    HANDED_OVER,
    EditRequest,
    RequestAnswer,
    RequestWatch,
    read_answer,
    read_request,
    remove_request,
    write_answer,
    write_request,
)
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.settings import DEFAULT_IDLE_MINUTES, IDLE_KEY

SHARED_KEY = "shared_since"
# What an editing session on a database server says it does (there is no lock to name).
SERVER_EDITING = "Editing — database server: everyone edits, no editor lock"


@dataclass(frozen=True)
class EditingOptions:
    """How a session tries to become the editor."""

    edit: bool = True  # False: open for reading only, never take the lock
    wait_s: float = 0.0
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    stale_after_s: float = DEFAULT_STALE_AFTER_S
    takeover_check_s: float | None = None
    idle_release_s: float | None = None  # None: the database's own setting


class RequestOutcome(enum.Enum):
    """What became of this session's own edit request (seen by its author)."""

    WAITING = "waiting"  # still asked, the editor has not answered
    HANDED_OVER = "handed-over"  # the editor handed over (``editing`` says if we took it)
    EDITOR_LEFT = "editor-left"  # the editor stopped without answering; the lock was free
    DECLINED = "declined"  # the editor keeps editing
    EXPIRED = "expired"  # the request file is gone (removed as dead by another session)


@dataclass(frozen=True)
class RequestStatus:
    """The author's view of her request after a check."""

    outcome: RequestOutcome
    by: str = ""  # who answered ("alice on LAB-PC-3")
    editing: bool = False  # this session is the editor now


@dataclass
class StartReport:
    """What becoming the editor found, for the user to see."""

    notices: list[str] = field(default_factory=list)
    previous_unclean: HolderInfo | None = None
    unclean_notice: str | None = None  # the notice about it, for a caller who says it better


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
        self._lock_reason: str | None = None  # the read-only reason the lock logic set
        self._held_at_start = False  # read-only because someone else held the lock
        self._seen_request: set[str] = set()
        self._my_request: EditRequest | None = None
        self._request_mutex = threading.RLock()
        self._last_request_beat = 0.0
        self.epoch: int | None = None
        # The epoch in the previous holder's file, read when the database could not be.
        self.seen_epoch = 0
        self.lock: EditorLock | None = None
        self.observer: LockObserver | None = None
        self.requests: RequestWatch | None = None
        self.session_id = uuid.uuid4().hex
        path = database.path
        if path is not None:
            self.lock = EditorLock(
                path,
                identity,
                heartbeat_s=options.heartbeat_s,
                takeover_check_s=options.takeover_check_s,
                on_lost=self._lost,
            )
            self.session_id = self.lock.session_id
            self.observer = LockObserver(path, stale_after_s=options.stale_after_s)
            # A waiting author beats at her lock heartbeat; three missed beats is dead.
            self.requests = RequestWatch(
                path,
                machine=identity.machine,
                stale_after_s=options.heartbeat_s * 3,
                monotonic=monotonic,
            )

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

    @property
    def may_edit_again(self) -> bool:
        """Read-only only because of the lock (someone held it, or this session gave it
        up), so taking a free lock makes it the editor; not when opened read-only, for a
        newer schema, a read-only folder or a share that does not lock."""
        return (
            self.lock is not None
            and self._options.edit
            and self._lock_reason is not None
            and self._db.read_only_reason == self._lock_reason
        )

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
            self._lock_reason = f"{exc} (this session is read-only)"
            self._held_at_start = True
            self._db.set_read_only(self._lock_reason)
            return report
        report.previous_unclean = result.previous_unclean
        if result.previous_unclean is not None:
            prev = result.previous_unclean
            report.unclean_notice = (
                f"The previous editing session of {prev.user} on {prev.machine} "
                f"(since {prev.since_local()}) ended without closing."
            )
            report.notices.append(report.unclean_notice)
        try:
            self._take_epoch(self.lock, report)
        except BaseException:
            self.lock.release()
            raise
        self._last_activity = self._monotonic()
        self._idle_released = False
        # Whoever asked is now the editor: her request is settled, nobody else sees it.
        self.withdraw_request()
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

    def _take_epoch(self, lock: EditorLock, report: StartReport) -> None:
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
        lock.set_epoch(epoch)
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
            self._lock_reason = reason
            self._held_at_start = False
            self._db.set_read_only(reason)
        self._db.fence = None

    def close(self) -> None:
        """The session ends: its request (if any) goes with it, the lock is given back."""
        self.withdraw_request()
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
        """Ask the current editor to hand over (they see it on their next poll).

        Asking again replaces this session's earlier request; the request lives until it
        is answered, withdrawn, or this session ends (or dies: then it expires).
        """
        if self._db.path is None:
            raise ReadOnlyError("edit requests apply to shared database files only")
        path = self._db.path
        request = EditRequest(
            user=self._identity.user,
            machine=self._identity.machine,
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            message=message.strip()[:500],
            request_id=uuid.uuid4().hex,
            session_id=self.session_id,
            pid=os.getpid(),
            beat_s=self._options.heartbeat_s,
        )
        with self._request_mutex:
            remove_request(path, self.session_id)  # an old answer must not answer this one
            write_request(path, request)
            self._my_request = request
            self._last_request_beat = self._monotonic()
        return request

    @property
    def my_request(self) -> EditRequest | None:
        """This session's own request while it waits for an answer."""
        return self._my_request

    def withdraw_request(self) -> None:
        """Take this session's request back (a no-op when there is none)."""
        with self._request_mutex:
            if self._my_request is None or self._db.path is None:
                self._my_request = None
                return
            self._my_request = None
            remove_request(self._db.path, self.session_id)

    def check_my_request(self, take_wait_s: float = 5.0) -> RequestStatus | None:
        """For the author: has the editor answered? Hands-over are taken at once.

        Call it from a worker on every poll: it also beats the request so the others
        know its author still waits. None when this session asked nothing.
        """
        # One at a time with request_edit and withdraw_request (the window runs them in
        # workers): a beat written after a withdrawal would bring the file back.
        with self._request_mutex:
            return self._check_my_request(take_wait_s)

    def _check_my_request(self, take_wait_s: float) -> RequestStatus | None:
        mine, path = self._my_request, self._db.path
        if mine is None or path is None:
            return None
        if self.editing:
            self.withdraw_request()
            return None
        answer = read_answer(path, self.session_id)
        if answer is not None and answer.request_id == mine.request_id:
            if answer.answer == HANDED_OVER:
                # The editor released before answering: the lock is ours unless someone
                # else was quicker; wait a little in case the release is still on its way.
                self.become_editor(take_wait_s)
                self.withdraw_request()
                return RequestStatus(RequestOutcome.HANDED_OVER, answer.by, self.editing)
            self.withdraw_request()
            return RequestStatus(RequestOutcome.DECLINED, answer.by)
        current = read_request(path, self.session_id)
        if current is None or current.request_id != mine.request_id:
            self._my_request = None
            remove_request(path, self.session_id)
            return RequestStatus(RequestOutcome.EXPIRED)
        if self.lock_free():
            # The editor stopped (closed, idle release) without answering: she asked to
            # edit, so she edits.
            holder = self.holder()
            by = f"{holder.user} on {holder.machine}" if holder is not None else ""
            self.become_editor(0.0)
            if self.lock is not None and self.lock.held:  # (mypy narrowed ``editing``)
                return RequestStatus(RequestOutcome.EDITOR_LEFT, by, self.editing)
        now = self._monotonic()
        if now - self._last_request_beat >= self._options.heartbeat_s:
            self._last_request_beat = now
            mine = mine.beaten(datetime.now(UTC).isoformat(timespec="seconds"))
            write_request(path, mine)
            self._my_request = mine
        return RequestStatus(RequestOutcome.WAITING)

    def pending_request(self) -> EditRequest | None:
        """A live request for the lock not yet shown to this editor (each shown once).

        Requests of dead sessions are removed on the way; this session's own request is
        never shown to it.
        """
        if self.requests is None or not self.editing:
            return None
        for request in self.requests.live_requests(own_session=self.session_id):
            if request.request_id not in self._seen_request:
                self._seen_request.add(request.request_id)
                return request
        return None

    def request_live(self, request: EditRequest) -> bool:
        """Is this request still waiting (not withdrawn, answered by someone, or dead)?"""
        path = self._db.path
        if path is None:
            return False
        current = read_request(path, request.session_id)
        return (
            current is not None
            and current.request_id == request.request_id
            and read_answer(path, request.session_id) is None
        )

    def answer_request(self, request: EditRequest, *, hand_over: bool) -> bool:
        """The editor's answer. Handing over releases the lock first, then tells her.

        False (and nothing changes) when the request is no longer waiting: withdrawn,
        expired, or its author became the editor some other way.
        """
        path = self._db.path
        if path is None or not self.request_live(request):
            return False
        if hand_over:
            if not self.editing:
                return False
            self.release(f"you handed the database over to {request.user}")
        me = self._identity
        write_answer(
            path,
            request.session_id,
            RequestAnswer(
                request_id=request.request_id,
                answer=HANDED_OVER if hand_over else DECLINED,
                by=f"{me.user} on {me.machine}",
                by_user=me.user,
                at=datetime.now(UTC).isoformat(timespec="seconds"),
            ),
        )
        return True

    def holder(self) -> HolderInfo | None:
        return self.lock.current_holder() if self.lock else None

    @property
    def shared_editing(self) -> bool:
        """True on a database server: no editor lock, everyone opened to edit edits."""
        return self.lock is None

    def describe(self) -> str:
        if self.editing:
            # No lock to claim on a server: say so rather than suggest this session holds one.
            return SERVER_EDITING if self.shared_editing else "Editing"
        holder = self.holder()
        if (
            holder is not None
            and not holder.released
            and self.lock is not None
            and not self.lock.held
            and holder.session_id != self.session_id
        ):
            who = f"{holder.user} on {holder.machine}"
            return f"Read-only — {who} edits since {holder.since_local()}"
        if self._held_at_start and self.may_edit_again:
            # The editor named when this session opened has gone: do not name them still.
            return "Read-only — nobody is editing now"
        return f"Read-only — {self.read_only_reason or 'not editing'}"


def db_identity(path: Path | None, url: str) -> str:
    """The file's full path, or the server URL without its password (it is written down)."""
    return str(path.resolve()) if path is not None else safe_url(url)
