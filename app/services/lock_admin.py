"""Admin tasks around the editor lock: who the admins are, lock status and release."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from app.clock import Clock
from app.db.fencing import LOCK_EPOCH_KEY
from app.errors import (
    LockHeldError,
    NotAllowedError,
    UsageError,
    ValidationError,
)
from app.identity import Identity
from app.locking.editor_lock import LockObserver, LockStatus, os_lock_free, to_lock_holder
from app.locking.holder import HolderInfo, holder_path, read_holder, write_holder
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import AccountService, admins_in
from app.services.audit import AuditChainWriter


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

    def status(self, watch_s: float = 0.0, poll_s: float = 0.5) -> LockStatus:
        """The lock as observed here, watching the heartbeat for ``watch_s`` seconds."""
        path = self._uow.database.path
        if path is None:
            raise UsageError("server databases have no editor lock")
        observer = LockObserver(path, stale_after_s=self._stale_after_s)
        status = observer.observe()
        deadline = time.monotonic() + watch_s
        while time.monotonic() < deadline:
            self._sleep(min(poll_s, max(0.0, deadline - time.monotonic())))
            status = observer.observe()
        return status

    def release(
        self,
        *,
        force: bool = False,
        progress: Callable[[str], None] | None = None,
        observed: LockStatus | None = None,
    ) -> ReleaseResult:
        """Release a lock left behind (admins only); ``force`` fences a stale holder.

        ``observed`` is a status the caller watched long enough to call stale (the
        window's own observer); without it, this call watches the heartbeat itself.
        """
        self.require_admin("release the editor lock")
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
        epoch = self._record(status.holder, "force-release", fence=True)
        return ReleaseResult(
            status.holder,
            epoch,
            f"fenced off the frozen session of {status.holder.describe() if status.holder else '?'}"
            f" (lock epoch now {epoch}): it can no longer save anything. A new editor can "
            "start as soon as the system frees its file lock (when its connection to the "
            "share times out)",
        )

    def _record(self, holder: HolderInfo | None, action: str, *, fence: bool) -> int | None:
        path = self._uow.database.path
        assert path is not None

        def write(uow: UnitOfWork) -> int | None:
            epoch = uow.meta.increment(LOCK_EPOCH_KEY) if fence else None
            audit = AuditChainWriter(uow, self._identity, self._clock)
            audit.record(
                "lock",
                epoch or 0,
                path.name,
                action,
                {"holder": [holder.describe() if holder else None, None]},
                f"released by admin {self._identity.user} on {self._identity.machine}",
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
