"""Fencing: the lock epoch in ``meta`` that every write transaction checks.

Each acquisition of the editor lock increments the epoch. A session remembers the epoch
it got and checks it inside each write transaction (after ``BEGIN IMMEDIATE``, so no one
can change it until commit). A frozen editor whose lock was taken over finds a newer
epoch and cannot write: the other session's work is safe from its stale view.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Meta
from app.errors import LeaseLostError

LOCK_EPOCH_KEY = "lock_epoch"


def read_epoch(session: Session) -> int:
    value = session.execute(select(Meta.value).where(Meta.key == LOCK_EPOCH_KEY)).scalar()
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


class Fence:
    """Refuses a write transaction whose session no longer owns the current epoch."""

    def __init__(self, epoch: int, on_lost: Callable[[str], None]) -> None:
        self.epoch = epoch
        self._on_lost = on_lost

    def __call__(self, session: Session) -> None:
        current = read_epoch(session)
        if current != self.epoch:
            reason = (
                "another session took over the editor lock while this one was not "
                f"responding (lock epoch {self.epoch} → {current}); nothing was saved, and "
                "this window is now read-only — reopen the database to edit again"
            )
            self._on_lost(reason)
            raise LeaseLostError(reason)
