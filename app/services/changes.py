"""Noticing that someone else changed the data: a cheap poll of the audit chain head.

Every change CalTrack makes moves the audit chain head in ``meta`` (same transaction),
so one primary-key read tells whether anything changed, on SQLite and on servers alike.
This process's own writes do not count: the unit of work remembers each move of the head
it made, and a head reached from the last one seen through those moves alone is ours.
"""

from __future__ import annotations

from app.repositories.unit_of_work import UnitOfWorkFactory
from app.services.audit import GENESIS_HASH, HEAD_KEY


class ChangeWatcher:
    """Answers "did the data change since I last looked?"."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._seen: str | None = self._head()

    def _head(self) -> str | None:
        return self._uow.read(lambda uow: uow.meta.get(HEAD_KEY))

    def changed(self) -> bool:
        """True once per change made by someone else since the last ``changed`` or
        ``acknowledge``."""
        head = self._head()
        if head == self._seen:
            return False
        seen, self._seen = self._seen, head
        own = dict(self._uow.own_heads)  # written by worker threads meanwhile
        step: str | None = seen if seen is not None else GENESIS_HASH  # a new database
        for _ in range(len(own)):
            step = own.get(step) if step is not None else None
            if step is None:
                break
            if step == head:
                return False
        return True

    def acknowledge(self) -> None:
        """Take the current state as seen (after this window's own save or a refresh)."""
        self._seen = self._head()
