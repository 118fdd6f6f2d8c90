"""Many editors at once on a database server: no editor lock, one audit chain.

On PostgreSQL every session opened to edit edits; two saves over the same loaded
version are caught by the version columns as on a file. The audit chain stays one
chain: a writer owns the chain head (an advisory lock in its transaction) from before
it reads the head until it commits, so a second writer waits and chains onto the
first. Serialization failures, deadlocks and lock timeouts are retried like a busy
SQLite file; a statement timeout says "busy" at once.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import ConflictError, DatabaseBusyError
from app.identity import Identity
from app.repositories.audit import CHAIN_LOCK_KEY
from app.repositories.unit_of_work import UnitOfWork
from app.services.audit import HEAD_KEY, AuditChainWriter
from app.services.dto import InstrumentChanges
from app.services.editing import SERVER_EDITING
from tests.conftest import add_thermometer
from tests.integration.process_helpers import wait_until

BOB = Identity(user="bob", machine="LAB-PC-4")


@contextmanager
def two_sessions(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> Iterator[tuple[CalTrack, CalTrack]]:
    """alice creates the lab (two instruments), then alice and bob both open it to edit."""
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "a"
    ) as first:
        add_thermometer(first, "TH-001")
        add_thermometer(first, "TH-002")
        with open_caltrack(pg_url, identity=BOB, clock=clock, state_dir=tmp_path / "b") as second:
            yield first, second


def sql(url: str, statement: str, **params: Any) -> list[tuple[Any, ...]]:
    """Straight to the server, outside CalTrack (autocommit)."""
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def chain(url: str) -> list[tuple[int, str, str, str]]:
    """(id, action, prev_hash, hash) of every event in order."""
    return [
        (int(i), str(a), str(p), str(h))
        for i, a, p, h in sql(
            url, "SELECT id, action, prev_hash, hash FROM audit_event ORDER BY id"
        )
    ]


def assert_one_chain(url: str) -> None:
    events = chain(url)
    assert [e[0] for e in events] == list(range(1, len(events) + 1))
    for before, after in itertools.pairwise(events):
        assert after[2] == before[3], (before, after)


def lock_waiters(url: str) -> int:
    """Backends of this database waiting for a lock right now."""
    [(n,)] = sql(
        url,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    return int(n)


def test_two_sessions_on_one_server_both_edit_without_a_lock(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with two_sessions(pg_url, clock, alice, tmp_path) as (a, b):
        for app in (a, b):
            assert app.session.editing
            assert app.session.lock is None and app.session.status() is None
            assert app.session.holds_lock() and app.session.shared_editing
            # The window's status bar shows this text: it claims no lock.
            assert app.session.describe() == SERVER_EDITING
            assert "no editor lock" in app.session.describe()
        # Both save, each its own instrument, at the same time as far as they know.
        a.instruments.edit("TH-001", InstrumentChanges(location="Lab 1"))
        b.instruments.edit("TH-002", InstrumentChanges(location="Lab 2"))
        # Same instrument from the same loaded version: the second is a conflict.
        loaded = a.instruments.get("TH-001").version
        b.instruments.edit("TH-001", InstrumentChanges(notes="bob's"), expected_version=loaded)
        with pytest.raises(ConflictError) as caught:
            a.instruments.edit(
                "TH-001", InstrumentChanges(notes="alice's"), expected_version=loaded
            )
        assert caught.value.theirs.version == loaded + 1
        assert b.instruments.get("TH-001").notes == "bob's"
        # Stopping "editing" has no lock to give back: still editing, still no lock.
        a.session.release()
        assert a.session.editing
        report = b.maintenance.verify()
        assert report.problems == []
    assert_one_chain(pg_url)


def _held_write(
    app: CalTrack, tag: str, holding: threading.Event, go: threading.Event
) -> Callable[[], None]:
    """A save that stops, chain head owned and event written, until ``go``."""

    def run() -> None:
        def write(uow: UnitOfWork) -> None:
            audit = AuditChainWriter(uow, app.identity, app.clock)
            app.instruments.edit_in(uow, audit, tag, InstrumentChanges(location="held"))
            audit.flush()
            holding.set()
            assert go.wait(60)

        app.uow.write(write, label="held edit")

    return run


def _in_thread(fn: Callable[[], object], errors: list[BaseException]) -> threading.Thread:
    def body() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not lost here
            errors.append(exc)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def _race_behind_a_held_write(pg_url: str, a: CalTrack, b: CalTrack) -> list[BaseException]:
    """alice's save holds the chain head; bob saves meanwhile; alice commits; both end."""
    holding, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    first = _in_thread(_held_write(a, "TH-001", holding, go), errors)
    assert holding.wait(60), errors
    waiting_before = lock_waiters(pg_url)
    second = _in_thread(
        lambda: b.instruments.edit("TH-002", InstrumentChanges(location="bob")), errors
    )
    # bob's transaction cannot append while alice's is open: it waits for her.
    wait_until(lambda: lock_waiters(pg_url) > waiting_before or bool(errors), "bob waits")
    go.set()
    first.join(60)
    second.join(60)
    assert not first.is_alive() and not second.is_alive()
    return errors


def test_a_second_writer_waits_and_chains_onto_the_first(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with two_sessions(pg_url, clock, alice, tmp_path) as (a, b):
        before = len(chain(pg_url))
        errors = _race_behind_a_held_write(pg_url, a, b)
        assert errors == []
        assert b.maintenance.verify().problems == []
    events = chain(pg_url)
    assert len(events) == before + 2
    alices, bobs = events[-2], events[-1]
    assert bobs[2] == alices[3]  # bob's event follows alice's: one chain
    assert_one_chain(pg_url)


def test_a_missing_head_row_does_not_fork_the_chain(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    """The head row deleted behind CalTrack's back: a row lock has nothing to lock.

    Both writers would read the same newest event, both record "head missing" as event
    N+1, and the second fail on the duplicate id (or fork the chain). Under the chain
    lock the second waits, finds the head alice wrote, and chains on.
    """
    with two_sessions(pg_url, clock, alice, tmp_path) as (a, b):
        sql(pg_url, "DELETE FROM meta WHERE key = :key", key=HEAD_KEY)
        before = len(chain(pg_url))
        errors = _race_behind_a_held_write(pg_url, a, b)
        assert errors == []
    events = chain(pg_url)
    # One "head missing" event (alice's), her edit, bob's edit: one chain.
    assert [e[1] for e in events[before:]] == ["head_missing", "update", "update"]
    assert_one_chain(pg_url)


def _lock_meta(session: Session, key: str) -> None:
    session.execute(text("SELECT value FROM meta WHERE key = :key FOR UPDATE"), {"key": key})


def test_a_deadlock_is_retried_and_both_saves_commit(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with two_sessions(pg_url, clock, alice, tmp_path) as (a, b):
        sql(pg_url, "INSERT INTO meta (key, value) VALUES ('k1', '0'), ('k2', '0')")
        both_hold_one = threading.Barrier(2, timeout=60)
        attempts = {"a": 0, "b": 0}

        def crossing(name: str, first: str, second: str) -> Callable[[Session], None]:
            def write(session: Session) -> None:
                attempts[name] += 1
                _lock_meta(session, first)
                if attempts[name] == 1:
                    both_hold_one.wait()  # each holds one row and wants the other's
                _lock_meta(session, second)
                session.execute(
                    text("UPDATE meta SET value = :v WHERE key = :key"), {"v": name, "key": first}
                )

            return write

        errors: list[BaseException] = []
        threads = [
            _in_thread(lambda: a.database.run_write(crossing("a", "k1", "k2")), errors),
            _in_thread(lambda: b.database.run_write(crossing("b", "k2", "k1")), errors),
        ]
        for thread in threads:
            thread.join(120)
        assert errors == []
        # PostgreSQL broke the deadlock by failing one; that one ran again and committed.
        assert sorted(attempts.values()) == [1, 2]
        assert dict(sql(pg_url, "SELECT key, value FROM meta WHERE key IN ('k1', 'k2')")) == {
            "k1": "a",
            "k2": "b",
        }


def test_a_lock_timeout_is_retried_then_said_busy(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with two_sessions(pg_url, clock, alice, tmp_path) as (a, b):
        sleeps: list[float] = []
        b.database.sleep = sleeps.append  # observe the back-off, do not wait it out
        holding, go = threading.Event(), threading.Event()
        errors: list[BaseException] = []
        held = _in_thread(_held_write(a, "TH-001", holding, go), errors)
        assert holding.wait(60)
        try:
            tries = 0

            def impatient(session: Session) -> None:
                nonlocal tries
                tries += 1
                session.execute(text("SET LOCAL lock_timeout = '50ms'"))
                # The chain lock alice's open save holds.
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})

            with pytest.raises(DatabaseBusyError) as busy:
                b.database.run_write(impatient)
        finally:
            go.set()
            held.join(60)
        assert errors == []
        assert tries == b.database.retry.attempts and len(sleeps) == tries - 1
        assert "database server is busy" in str(busy.value)
        assert "try again" in str(busy.value)


def test_a_statement_timeout_says_busy_without_repeating(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with two_sessions(pg_url, clock, alice, tmp_path) as (a, _b):
        tries = 0

        def slow(session: Session) -> None:
            nonlocal tries
            tries += 1
            session.execute(text("SET LOCAL statement_timeout = '50ms'"))
            session.execute(text("SELECT pg_sleep(5)"))

        with pytest.raises(DatabaseBusyError) as busy:
            a.database.run_write(slow)
        assert tries == 1
        assert "database server is busy" in str(busy.value)
