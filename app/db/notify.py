"""Change notices on a PostgreSQL server: ``NOTIFY`` in each write, ``LISTEN`` in a thread.

A writing transaction sends one notice on the ``caltrack_changes`` channel with
``pg_notify`` inside the transaction, so the server delivers it only if (and when) the
transaction commits. A ``ChangeListener`` holds a connection of its own (autocommit,
``LISTEN``) on a background thread and hands each notice's text to a callback; when the
server goes away it reconnects, and tells its owner that notices may have been missed.
SQLite has no such thing: there the window polls (``app.services.changes``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger(__name__)

CHANNEL = "caltrack_changes"
# PostgreSQL refuses a payload of 8000 bytes or more; leave room for the envelope.
MAX_PAYLOAD_BYTES = 7900


@dataclass(frozen=True)
class ChangeNotice:
    """What one committed write changed: entity kind → ids, and the audit chain head
    it left. ``many`` means "too much to list (or unknown): assume everything";
    ``missed`` that the listener was away and notices may have been lost (not a write)."""

    head: str | None
    changed: Mapping[str, frozenset[int]] = field(default_factory=dict)
    many: bool = False
    missed: bool = False

    def kinds(self) -> frozenset[str]:
        return frozenset(self.changed)


def encode_notice(head: str, changed: Mapping[str, Iterable[int]]) -> str:
    """The notice's text: JSON, cut down to "many changed" when it would not fit."""
    listed = {kind: sorted(set(ids)) for kind, ids in sorted(changed.items())}
    payload = json.dumps({"head": head, "changed": listed}, separators=(",", ":"))
    if len(payload.encode("utf-8")) <= MAX_PAYLOAD_BYTES:
        return payload
    # Kinds without ids still tell a view whether it must reload at all.
    return json.dumps({"head": head, "many": True, "kinds": sorted(listed)}, separators=(",", ":"))


def decode_notice(payload: str) -> ChangeNotice:
    """Read a notice's text; anything unreadable (another program on the channel) is
    taken as "something changed", never as nothing."""
    try:
        raw = json.loads(payload)
        head = raw.get("head")
        if raw.get("many"):
            kinds = raw.get("kinds") or []
            changed = {str(kind): frozenset[int]() for kind in kinds}
            return ChangeNotice(head=str(head) if head else None, changed=changed, many=True)
        changed = {
            str(kind): frozenset(int(i) for i in ids) for kind, ids in raw["changed"].items()
        }
        return ChangeNotice(head=str(head) if head else None, changed=changed)
    except (ValueError, TypeError, KeyError, AttributeError):
        return ChangeNotice(head=None, many=True)


def send_notice(session: Session, payload: str) -> None:
    """Queue a notice in this session's transaction (delivered on commit, dropped on
    rollback; ``encode_notice`` keeps the payload under the server's limit)."""
    session.execute(
        text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
    )


class ChangeListener:
    """A dedicated ``LISTEN`` connection on a daemon thread.

    ``on_notice(payload)`` is called on that thread for each notice; ``on_state(True)``
    once listening (again, after a lost connection: notices sent meanwhile are lost, so
    the owner should treat everything as changed), ``on_state(False)`` once when the
    connection is lost or cannot be made. ``stop`` ends the thread within ``poll_s``.
    """

    def __init__(
        self,
        engine: Engine,
        on_notice: Callable[[str], None],
        on_state: Callable[[bool], None],
        *,
        poll_s: float = 0.2,
        retry_s: tuple[float, ...] = (0.2, 0.5, 1.0),
    ) -> None:
        # Retries stay at a second: a server back from a restart is heard from within one
        # (the issue's promise for others' changes), and a try a second is nothing to it.
        # The same connection arguments the engine uses (host, socket folder, user…).
        _args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._connect_kwargs: dict[str, Any] = dict(kwargs)
        # An unreachable host must not hold the thread (and ``stop``) for minutes.
        self._connect_kwargs.setdefault("connect_timeout", 5)
        self._on_notice = on_notice
        self._on_state = on_state
        self._poll_s = poll_s
        self._retry_s = retry_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caltrack-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        # Loaded on the listener's thread, not at the top: only a window on a server
        # listens, and a command on SQLite should not pay psycopg's start-up.
        import psycopg

        failures = 0
        reported: bool | None = None  # the state last told, so each change is told once
        while not self._stop.is_set():
            try:
                with psycopg.connect(**self._connect_kwargs, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    failures = 0
                    if reported is not True:
                        reported = True
                        self._on_state(True)
                    self._listen(conn)
            except psycopg.Error as exc:
                if reported is not False:
                    log.warning("change notices: connection lost or refused: %s", exc)
                    reported = False
                    self._on_state(False)
            except Exception:  # a callback's bug must not end live updates silently
                log.exception("change notices: the listener failed")
                if reported is not False:
                    reported = False
                    self._on_state(False)
            delay = self._retry_s[min(failures, len(self._retry_s) - 1)]
            failures += 1
            self._stop.wait(delay)

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        import psycopg

        while not self._stop.is_set():
            # The timeout bounds how long ``stop`` waits; notices arrive at once.
            for notice in conn.notifies(timeout=self._poll_s):
                self._on_notice(notice.payload)
                if self._stop.is_set():
                    return
            if conn.closed:
                raise psycopg.OperationalError("the connection was closed")
