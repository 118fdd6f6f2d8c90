"""Admin tasks around the editor lock: who the admins are, lock status and release."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from app.clock import Clock
from app.db.fencing import LOCK_EPOCH_KEY
from app.errors import (
    FrozenWriterError,
    LockHeldError,
    NotAllowedError,
    UsageError,
    ValidationError,
)
from app.identity import Identity
from app.locking.editor_lock import LockObserver, LockStatus, os_lock_free, to_lock_holder
from app.locking.holder import HolderInfo, holder_path, lock_path, read_holder, write_holder
from app.locking.process import process_has_open, process_state
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import AccountService, admins_in
from app.services.audit import AuditChainWriter

# The longest a holder's heartbeat is watched to tell a long save from a frozen one (a
# holder file may claim any interval); far below the stale period either way.
MAX_WRITE_WATCH_S = 120.0
# How long an ended process, and then SQLite's write lock, get to go away.
END_WAIT_S = 15.0


@dataclass(frozen=True)
class FrozenWrite:
    """A holder frozen inside a write transaction, as found from here."""

    holder: HolderInfo
    same_machine: bool
    process_state: str | None
    how: str  # "frozen (stopped)", "hung (…)", "frozen (its heartbeat …)"

    def describe(self) -> str:
        h = self.holder
        return (
            f"held by {h.user} on {h.machine} (pid {h.pid}), which is {self.how} inside a "
            "write: SQLite's write lock is held, so no one can save until that process ends "
            "or that PC restarts"
        )

    def way_out(self) -> str:
        h = self.holder
        if self.same_machine:
            return (
                f"it runs on this PC: an admin can end it with `caltrack lock release --force "
                f"--end-process` (or end pid {h.pid} yourself)"
            )
        return (
            f"it runs on {h.machine} and cannot be ended from here: end CalTrack (pid {h.pid}) "
            "on that PC, or restart it"
        )


@dataclass(frozen=True)
class ReleaseResult:
    """What ``lock release`` did."""

    released: HolderInfo | None
    fenced_epoch: int | None
    message: str


class LockAdminService:
    """Lock status for everyone; lock release and the admin list for admins."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        identity: Identity,
        clock: Clock,
        stale_after_s: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._stale_after_s = stale_after_s
        self._sleep = sleep

    # -- admins ----------------------------------------------------------------------

    def admins(self) -> list[str]:
        return self._uow.read(admins_in)

    def is_admin(self) -> bool:
        login = self._identity.user.casefold()
        return any(a.casefold() == login for a in self.admins())

    def require_admin(self, what: str) -> None:
        if not self.is_admin():
            admins = self.admins()
            raise NotAllowedError(
                f"only CalTrack admins may {what}; admins of this database: "
                f"{', '.join(admins) or 'none'} — ask one of them"
            )

    def set_admin(self, user: str, *, admin: bool) -> list[str]:
        """Make a login admin, or a technician again (admins only); audited."""
        self.require_admin("change the admin list")
        if not user.strip() or len(user.strip()) > 128:
            raise ValidationError({"user": "give the OS login name (1 to 128 characters)"})
        accounts = AccountService(uow=self._uow, identity=self._identity, clock=self._clock)
        current = accounts.get(user)
        if admin and not (current.known and current.role == "admin"):
            accounts.set_role(user, "admin", reason="made an admin")
        elif not admin and current.known and current.role == "admin":
            accounts.set_role(user, "technician", reason="no longer an admin")
        return self.admins()

    # -- lock ------------------------------------------------------------------------

    def status(
        self,
        watch_s: float = 0.0,
        poll_s: float = 0.5,
        progress: Callable[[str], None] | None = None,
    ) -> LockStatus:
        """The lock as observed here, watching the heartbeat for ``watch_s`` seconds.

        When SQLite's write lock is held it also tells whether the holder is frozen
        inside that write (``frozen_in_write``), in seconds rather than a stale period.
        """
        path = self._uow.database.path
        if path is None:
            raise UsageError("server databases have no editor lock")
        observer = LockObserver(path, stale_after_s=self._stale_after_s)
        status = observer.observe()
        deadline = time.monotonic() + watch_s
        while time.monotonic() < deadline:
            self._sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
            status = observer.observe()
        if not status.held or status.holder is None or status.holder.released:
            return status
        # A process that runs on this PC is alive: no heartbeat to watch for a status
        # (a long import would make it wait); `lock release --force` still watches it.
        written, state, frozen = self._inspect(status.holder, progress, watch_running=False)
        return replace(
            status,
            write_lock_held=written,
            process_state=state,
            frozen_in_write=frozen.describe() if frozen else None,
        )

    def frozen_writer(self, progress: Callable[[str], None] | None = None) -> FrozenWrite | None:
        """The editor, if it is frozen inside a write (seconds, not the stale period)."""
        path = self._uow.database.path
        if path is None:
            return None
        holder = read_holder(holder_path(path))
        if holder is None or holder.released or os_lock_free(path):
            return None
        return self._inspect(holder, progress)[2]

    def _inspect(
        self,
        holder: HolderInfo,
        progress: Callable[[str], None] | None,
        *,
        watch_running: bool = True,
    ) -> tuple[bool | None, str | None, FrozenWrite | None]:
        """(write lock held, the holder's process state here, frozen inside a write).

        A holder frozen inside a write keeps SQLite's write lock, and then even fencing
        (a write) cannot get in: waiting out the stale period only ends in "busy". So
        when the write lock is held, decide now: on this PC the process state is direct
        proof; elsewhere (or for a process that runs but may hang) a live holder's
        heartbeat moves within its interval, which is watched — not the stale period.
        """
        database = self._uow.database
        same = holder.machine.casefold() == self._identity.machine.casefold()
        state = process_state(holder.pid) if same else None
        written = database.write_lock_held()
        if not written:
            return written, state, None
        if state == "stopped":
            return written, state, FrozenWrite(holder, same, state, "frozen (stopped)")
        if state == "gone":
            return written, state, None  # the named process ended: not this holder's write
        if state == "running" and not watch_running:
            return written, state, None
        window = min(holder.heartbeat_s * 1.5 + 1.0, MAX_WRITE_WATCH_S)
        if progress:
            progress(
                f"the database's write lock is held; watching {holder.user}'s heartbeat for "
                f"up to {window:.0f} s to tell a long save from a frozen one…"
            )
        path = holder_path(database.path) if database.path else None
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:
            self._sleep(min(0.5, max(0.0, deadline - time.monotonic())))
            now = read_holder(path) if path else None
            if now is None or (now.session_id, now.heartbeat) != (
                holder.session_id,
                holder.heartbeat,
            ):
                return written, state, None  # it beats (or left): alive
            if same:
                state = process_state(holder.pid)
                if state == "stopped":
                    return written, state, FrozenWrite(holder, same, state, "frozen (stopped)")
                if state == "gone":
                    return written, state, None
            if not database.write_lock_held():
                return False, state, None  # the save finished
        if same and state == "running":
            how = f"hung (its process runs, but its heartbeat has not moved for {window:.0f} s)"
        else:
            how = f"frozen (its heartbeat has not moved for {window:.0f} s as watched from here)"
        return written, state, FrozenWrite(holder, same, state, how)

    def release(
        self,
        *,
        force: bool = False,
        progress: Callable[[str], None] | None = None,
        observed: LockStatus | None = None,
        end_process: bool = False,
    ) -> ReleaseResult:
        """Release a lock left behind (admins only); ``force`` fences a stale holder.

        ``observed`` is a status the caller watched long enough to call stale (the
        window's own observer); without it, this call watches the heartbeat itself. A
        holder frozen inside a write cannot be fenced (the fence is a write): that is
        said at once (FrozenWriterError); ``end_process`` ends it when it runs on this PC.
        """
        self.require_admin("release the editor lock")
        if end_process and not force:
            raise UsageError("--end-process goes with --force")
        path = self._uow.database.path
        if path is None:
            raise UsageError("server databases have no editor lock")
        holder = read_holder(holder_path(path))
        if os_lock_free(path):
            if holder is None or holder.released:
                return ReleaseResult(None, None, "the editor lock is not held; nothing to do")
            self._record(holder, "release", fence=False)
            return ReleaseResult(
                holder,
                None,
                f"released the lock left by {holder.describe()} (that session ended without "
                "closing)",
            )
        if not force:
            raise LockHeldError(
                f"the editor lock is held by {holder.describe() if holder else 'another session'}"
                "; ask them to close CalTrack, or use --force if that session is frozen or its "
                "PC is gone (only a stale lock is released)",
                to_lock_holder(holder) if holder else None,
            )
        if holder is not None and not holder.released:
            _, state, frozen = self._inspect(holder, progress)
            if frozen is not None:
                if end_process:
                    return self._end_process(frozen, progress)
                raise FrozenWriterError(
                    f"{frozen.describe()}; {frozen.way_out()}", to_lock_holder(holder)
                )
            if state == "stopped" and observed is None:
                # Stopped on this PC: direct proof it is frozen, no heartbeat to wait for.
                observed = LockStatus(held=True, holder=holder, heartbeat_age_s=None, stale=True)
        if observed is not None and observed.stale:
            status = observed
        else:
            if progress:
                progress(
                    f"watching the heartbeat for {self._stale_after_s:.0f} s to make sure the "
                    "holder is not alive…"
                )
            status = self.status(watch_s=self._stale_after_s)
        if not status.held:
            return self.release(force=False)
        if not status.stale:
            raise LockHeldError(
                f"{status.describe()} and its session is alive (its heartbeat moved "
                f"{status.heartbeat_age_s or 0:.0f} s ago); it was not released",
                to_lock_holder(status.holder) if status.holder else None,
            )
        if self._uow.database.write_lock_held() and status.holder is not None:
            # It froze inside a write while we watched: fencing would only end in "busy".
            frozen = FrozenWrite(
                status.holder,
                status.holder.machine.casefold() == self._identity.machine.casefold(),
                None,
                "frozen (its heartbeat stopped)",
            )
            raise FrozenWriterError(
                f"{frozen.describe()}; {frozen.way_out()}", to_lock_holder(status.holder)
            )
        epoch = self._record(status.holder, "force-release", fence=True)
        return ReleaseResult(
            status.holder,
            epoch,
            f"fenced off the frozen session of {status.holder.describe() if status.holder else '?'}"
            f" (lock epoch now {epoch}): it can no longer save anything. A new editor can "
            "start as soon as the system frees its file lock (when its connection to the "
            "share times out)",
        )

    def _end_process(
        self, frozen: FrozenWrite, progress: Callable[[str], None] | None
    ) -> ReleaseResult:
        """End the frozen holder's process on this PC, then fence and release, audited."""
        holder = frozen.holder
        path = self._uow.database.path
        if path is None:
            raise UsageError("server databases have no editor lock")
        if not frozen.same_machine:
            raise FrozenWriterError(
                f"{frozen.describe()}; {frozen.way_out()}", to_lock_holder(holder)
            )
        if process_state(holder.pid) is None:
            raise FrozenWriterError(
                f"{frozen.describe()}; CalTrack can end a process only on Linux (it reads "
                f"/proc): end pid {holder.pid} yourself (Task Manager, Activity Monitor) or "
                "restart this PC",
                to_lock_holder(holder),
            )
        refused = (
            f"pid {holder.pid} is another OS user's process and {self._identity.user} may not "
            "end it: ask that user, or an administrator of this PC, to end it "
            f"(kill {holder.pid}) or restart the PC; nothing was ended"
        )
        try:
            # The pid must still be the session that holds this database's editor lock,
            # not an unrelated process that got the same number since.
            ours = process_has_open(holder.pid, lock_path(path))
        except PermissionError:
            raise NotAllowedError(refused) from None
        if not ours:
            raise LockHeldError(
                f"pid {holder.pid} on this PC is not the CalTrack session that holds this "
                f"database's editor lock (it does not have {lock_path(path).name} open); "
                "nothing was ended",
                to_lock_holder(holder),
            )
        if progress:
            progress(f"ending pid {holder.pid} ({holder.user}'s frozen CalTrack session)…")
        # A stopped process is killed outright, never resumed: resumed (even to handle
        # SIGTERM) it could finish the commit it was in, or carry on saving. Killed, it
        # leaves only what SQLite had committed before it froze; SQLite rolls back the
        # rest. A process that runs but hangs is asked first (SIGTERM), then killed.
        try:
            if frozen.process_state != "stopped":
                os.kill(holder.pid, signal.SIGTERM)
                self._wait(lambda: process_state(holder.pid) == "gone", END_WAIT_S / 3)
            if process_state(holder.pid) != "gone":
                os.kill(holder.pid, signal.SIGKILL)
        except PermissionError:
            raise NotAllowedError(refused) from None
        except ProcessLookupError:
            pass  # it ended by itself meanwhile
        if not self._wait(lambda: process_state(holder.pid) == "gone", END_WAIT_S):
            raise FrozenWriterError(
                f"pid {holder.pid} did not end within {END_WAIT_S:.0f} s of being killed; "
                "restart this PC to free the database",
                to_lock_holder(holder),
            )
        if not self._wait(lambda: self._uow.database.write_lock_held() is False, END_WAIT_S):
            raise FrozenWriterError(
                f"pid {holder.pid} ended, but SQLite's write lock is still held by another "
                "process; run `caltrack lock status` again",
                to_lock_holder(holder),
            )
        epoch = self._record(
            holder,
            "end-process",
            fence=True,
            reason=(
                f"ended pid {holder.pid} on {holder.machine} (frozen inside a write) and "
                f"released, by admin {self._identity.user} on {self._identity.machine}"
            ),
        )
        return ReleaseResult(
            holder,
            epoch,
            f"ended the frozen session of {holder.user} on {holder.machine} (pid "
            f"{holder.pid}) and released the lock (lock epoch now {epoch}). "
            + (
                "The write it was in never committed, so SQLite rolled it back: nothing of "
                "it was saved"
                if frozen.process_state == "stopped"
                else "What it had not committed was rolled back by SQLite"
            )
            + ". A new editor can start now",
        )

    def _wait(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() >= deadline:
                return False
            self._sleep(0.05)
        return True

    def _record(
        self,
        holder: HolderInfo | None,
        action: str,
        *,
        fence: bool,
        reason: str | None = None,
    ) -> int | None:
        path = self._uow.database.path
        if path is None:
            raise UsageError("server databases have no editor lock")

        def write(uow: UnitOfWork) -> int | None:
            epoch = uow.meta.increment(LOCK_EPOCH_KEY) if fence else None
            audit = AuditChainWriter(uow, self._identity, self._clock)
            audit.record(
                "lock",
                epoch or 0,
                path.name,
                action,
                {"holder": [holder.describe() if holder else None, None]},
                reason or f"released by admin {self._identity.user} on {self._identity.machine}",
            )
            audit.flush()
            return epoch

        epoch = self._uow.write(write, label="release lock", admin_override=True)
        # A new session id in the holder file tells a frozen holder, should it wake, that
        # it lost the lock; the epoch has already fenced off its writes.
        write_holder(
            holder_path(path),
            HolderInfo(
                user=self._identity.user,
                machine=self._identity.machine,
                pid=0,
                session_id=f"admin-release-{uuid.uuid4().hex}",
                app_version="",
                since=datetime.now(UTC).isoformat(timespec="seconds"),
                released=True,
                epoch=epoch or 0,
            ),
        )
        return epoch
