"""Noticing that someone else changed the data.

Every change CalTrack makes moves the audit chain head in ``meta`` (same transaction),
so one primary-key read tells whether anything changed, on SQLite and on servers alike
(``ChangeWatcher``, polled). On PostgreSQL each committed write also sends a notice
naming what it changed, and ``LiveChanges`` hands those to the window as they arrive.
This process's own writes do not count: the unit of work remembers each move of the head
it made, and a head reached from the last one seen through those moves alone is ours.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.db.notify import ChangeListener, ChangeNotice, decode_notice
from app.repositories.unit_of_work import UnitOfWorkFactory
from app.services.audit import GENESIS_HASH, HEAD_KEY

# The window knows what a notice says from here (it never imports app.db).
__all__ = ["ChangeNotice", "ChangeWatcher", "LiveChanges"]


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


class LiveChanges:
    """Others' committed writes as they happen, from the server's change notices.

    ``on_change(notice)`` and ``on_state(listening)`` are called on the listener's
    thread (a window hands them to its GUI thread). Notices of this process's own writes
    are dropped. After a lost connection comes back, notices sent meanwhile are gone:
    ``on_change`` then gets a ``many`` notice (reload everything), so nothing is missed.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        on_change: Callable[[ChangeNotice], None],
        on_state: Callable[[bool], None] = lambda _listening: None,
    ) -> None:
        self._uow = uow
        self._on_change = on_change
        self._on_state = on_state
        self._lost = False
        self._listener = ChangeListener(uow.database.engine, self._notice, self._state)
        self._started = threading.Event()

    def start(self) -> None:
        self._listener.start()

    def wait_listening(self, timeout_s: float) -> bool:
        """True once the first ``LISTEN`` is in place (writes after it are heard)."""
        return self._started.wait(timeout_s)

    def stop(self) -> None:
        self._listener.stop()

    def _notice(self, payload: str) -> None:
        notice = decode_notice(payload)
        if notice.head is not None and notice.head in set(dict(self._uow.own_heads).values()):
            return  # this process's own write: its views already followed it
        self._on_change(notice)

    def _state(self, listening: bool) -> None:
        if listening:
            self._started.set()
            if self._lost:
                self._on_change(ChangeNotice(head=None, many=True, missed=True))
        self._lost = not listening
        self._on_state(listening)
