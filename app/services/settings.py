"""Settings shared by everyone using one database (kept in its meta table)."""

from __future__ import annotations

from app.clock import Clock
from app.errors import ValidationError
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit import AuditChainWriter
from app.services.due import DEFAULT_DUE_SOON_DAYS

DUE_SOON_KEY = "due_soon_days"
IDLE_KEY = "idle_release_minutes"
DEFAULT_IDLE_MINUTES = 15


def due_soon_days(uow: UnitOfWork) -> int:
    raw = uow.meta.get(DUE_SOON_KEY)
    try:
        days = int(raw) if raw is not None else DEFAULT_DUE_SOON_DAYS
    except ValueError:
        return DEFAULT_DUE_SOON_DAYS
    return days if 0 <= days <= 365 else DEFAULT_DUE_SOON_DAYS


class SharedSettingsService:
    """Settings everyone using the database shares; changed by the editor, audited."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def shared(self) -> tuple[int, int]:
        """(due-soon window in days, idle minutes before the editor lock is released)."""

        def read(uow: UnitOfWork) -> tuple[int, int]:
            raw = uow.meta.get(IDLE_KEY)
            try:
                idle = int(raw) if raw else DEFAULT_IDLE_MINUTES
            except ValueError:
                idle = DEFAULT_IDLE_MINUTES
            return due_soon_days(uow), idle

        return self._uow.read(read)

    def set_shared(self, due_soon: int, idle_minutes: int) -> None:
        errors = {}
        if not 0 <= due_soon <= 365:
            errors["due_soon_days"] = "must be between 0 and 365 days"
        if not 1 <= idle_minutes <= 24 * 60:
            errors["idle_release_minutes"] = "must be between 1 and 1440 minutes"
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> None:
            before = {"due_soon_days": uow.meta.get(DUE_SOON_KEY), IDLE_KEY: uow.meta.get(IDLE_KEY)}
            after = {"due_soon_days": str(due_soon), IDLE_KEY: str(idle_minutes)}
            changes = {k: [before[k], v] for k, v in after.items() if before[k] != v}
            if not changes:
                return
            uow.meta.set(DUE_SOON_KEY, str(due_soon))
            uow.meta.set(IDLE_KEY, str(idle_minutes))
            audit = AuditChainWriter(uow, self._identity, self._clock)
            audit.record("settings", 0, "shared settings", "update", changes)
            audit.flush()

        self._uow.write(write, label="settings")
