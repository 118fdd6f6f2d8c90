"""Transactions: the Database handle, write/read scopes and the busy retry.

Writes start with ``BEGIN IMMEDIATE`` on SQLite so that a busy database is met at the
first statement, before anything was done, which is what makes a retry safe.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.db.engine import BEGIN_MODE_OPTION, JournalChoice, JournalPolicy, choose_journal
from app.db.filesystem import Location, detect_location
from app.db.maintenance import integrity_problems
from app.db.server import lost_server_error
from app.errors import (
    DatabaseBusyError,
    DatabaseDamagedError,
    MovedError,
    NotAllowedError,
    ReadOnlyError,
    StorageError,
)

T = TypeVar("T")

SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
SQLITE_READONLY_DBMOVED = 1032
SQLITE_IOERR_DELETE = 2570
# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available (lock_timeout).
# The server rolled the whole transaction back: repeating it is safe, as for SQLITE_BUSY.
PG_RETRYABLE = frozenset({"40001", "40P01", "55P03"})
# query_canceled: statement_timeout (or an admin's cancel). Rolled back too, but a
# statement that ran out of time would most likely run out again: said, not repeated.
PG_TIMED_OUT = frozenset({"57014"})
# insufficient_privilege: the server's roles or CalTrack's guard triggers refused.
PG_NOT_ALLOWED = "42501"


class _MovedBeforeCommit(Exception):
    """Internal: the file was renamed during a write transaction, found before COMMIT."""


class _MovedDuringCommit(Exception):
    """Internal: the file was renamed between the last check and COMMIT."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a busy transaction is tried again."""

    attempts: int = 3
    initial_delay_s: float = 0.5
    factor: float = 2.0
    max_delay_s: float = 5.0

    def delays(self) -> Iterator[float]:
        delay = self.initial_delay_s
        for _ in range(self.attempts - 1):
            yield min(delay, self.max_delay_s)
            delay *= self.factor


def sqlstate(exc: DBAPIError) -> str | None:
    """PostgreSQL's SQLSTATE of a failure (psycopg 3's ``sqlstate``), None for SQLite."""
    code = getattr(exc.orig, "sqlstate", None)
    return code if isinstance(code, str) else None


def is_busy_error(exc: BaseException) -> bool:
    """True when the database refused because someone else holds it."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in (SQLITE_BUSY, SQLITE_LOCKED):
        return True
    if sqlstate(exc) in PG_RETRYABLE:
        return True
    message = str(orig).lower()
    return isinstance(exc, OperationalError) and (
        "database is locked" in message or "database is busy" in message
    )


def is_timeout_error(exc: BaseException) -> bool:
    """True when the server cancelled a statement (statement_timeout): busy, not retried."""
    return isinstance(exc, DBAPIError) and sqlstate(exc) in PG_TIMED_OUT


def busy_advice(exc: DBAPIError) -> str:
    """The "busy" message for the backend that refused: a file, or a database server."""
    if sqlstate(exc) is not None:
        return SERVER_BUSY_ADVICE
    return BUSY_ADVICE


def is_corruption_error(exc: BaseException) -> bool:
    """True when SQLite says the file is damaged (malformed pages, not a database)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    message = str(orig).lower()
    return isinstance(orig, sqlite3.DatabaseError) and (
        "malformed" in message or "file is not a database" in message
    )


DAMAGE_ADVICE = (
    "`db verify` lists every finding, `db salvage -o NEW.db` copies what can still be read "
    "into a new file (this one is left as it is), or restore a backup"
)


def damage_message(findings: list[str]) -> str:
    """The read-only reason of a damaged file: what SQLite found first, and the way out."""
    first = findings[0] if findings else "SQLite reports the file as damaged"
    more = f" (and {len(findings) - 1} more finding(s))" if len(findings) > 1 else ""
    return (
        f"the database file is damaged: {first}{more}; it is open read-only and nothing is "
        f"written to it — {DAMAGE_ADVICE}"
    )


BUSY_ADVICE = (
    "the database is busy: another program or user kept it locked; "
    "wait a moment and try again, or close other programs using the file"
)
SERVER_BUSY_ADVICE = (
    "the database server is busy: other users' changes kept the same records locked, or "
    "the server's time limit ran out; nothing was changed — wait a moment and try again"
)


def with_busy_retry(
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    path: Path | None = None,
    *,
    writing: bool = True,
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorator: repeat a whole transaction on SQLITE_BUSY (on a server: serialization
    failure, deadlock, lock timeout), then DatabaseBusyError.

    Only for functions that open and finish their own transaction and touch nothing
    outside the database, so that a repeat cannot do anything twice.
    """

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        def wrapper(*args: Any, **kwargs: Any) -> T:
            delays = policy.delays()
            while True:
                try:
                    return fn(*args, **kwargs)
                except DBAPIError as exc:
                    if is_timeout_error(exc):
                        raise DatabaseBusyError(busy_advice(exc)) from exc
                    if not is_busy_error(exc):
                        translated = translate_storage_error(exc, path, writing=writing)
                        if translated is not None:
                            raise translated from exc
                        raise
                    delay = next(delays, None)
                    if delay is None:
                        raise DatabaseBusyError(busy_advice(exc)) from exc
                    sleep(delay)

        wrapper.__name__ = getattr(fn, "__name__", "transaction")
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return decorate


class Database:
    """An open database: engine, sessions, write guard and read-only state."""

    def __init__(
        self,
        engine: Engine,
        *,
        url: str,
        path: Path | None,
        location: Location | None = None,
        journal_choice: JournalChoice = "auto",
        retry: RetryPolicy | None = None,
        write_lock_timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.url = url
        self.path = path
        self.location = location
        self.journal_choice: JournalChoice = journal_choice
        # The policy in force, decided once the shared mark in meta is known.
        self.journal: JournalPolicy | None = (
            choose_journal(location, journal_choice) if location is not None else None
        )
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._write_engine = engine.execution_options(**{BEGIN_MODE_OPTION: "IMMEDIATE"})
        # A read is one snapshot, as a SQLite read transaction is. PostgreSQL's default
        # (read committed) gives each statement its own: a chain head and an event count
        # read while others commit would disagree, and so would a replay and its tables.
        # Writes stay read committed: after taking the chain lock they must see the newest.
        read_engine = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if engine.dialect.name == "postgresql"
            else engine
        )
        self._read_sessions = sessionmaker(bind=read_engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(bind=self._write_engine, expire_on_commit=False)
        self._write_lock = threading.Lock()
        self._write_holder = ""
        self._write_lock_timeout_s = write_lock_timeout_s
        self._read_only_reason: str | None = None
        # quick_check findings, once checked (before the first write of the session).
        self.damage: list[str] | None = None
        self._identity: tuple[int, int] | None = None
        self._rescued = False
        self._read_only_error: type[ReadOnlyError] = ReadOnlyError
        # Set by the editing session: checks the lock epoch in every write transaction.
        self.fence: Callable[[Session], None] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @property
    def read_only_reason(self) -> str | None:
        """Why writes are refused (damage first: no editor lock lifts it), else None."""
        if self.damage:
            return damage_message(self.damage)
        return self._read_only_reason

    def set_read_only(self, reason: str | None, error: type[ReadOnlyError] = ReadOnlyError) -> None:
        """Refuse (or allow again) every write, naming why."""
        self._read_only_reason = reason
        self._read_only_error = error

    def check_writable(self) -> None:
        if self.damage:
            raise DatabaseDamagedError(damage_message(self.damage), self.damage)
        if self._read_only_reason:
            raise self._read_only_error(self._read_only_reason)

    def check_sound(self) -> list[str]:
        """SQLite's ``quick_check`` once per session, before its first write.

        Writing into a damaged file spreads the damage and can make it unrecoverable;
        a file that fails the check turns this session read-only (``damage``).
        """
        if self.damage is None:
            self.damage = self._quick_check() if self.is_sqlite and self.path else []
        return self.damage

    def forget_check(self) -> None:
        """The file was replaced (a restore): check it again before the next write."""
        self.damage = None

    def note_damage(self, exc: BaseException) -> DatabaseDamagedError:
        """A read or write met a damaged page: check the file, turn read-only, say so."""
        findings = self._quick_check() if self.is_sqlite else []
        if not findings:
            orig = exc.orig if isinstance(exc, DBAPIError) else exc
            findings = [f"SQLite: {orig}"]
        self.damage = findings
        return DatabaseDamagedError(damage_message(findings), findings)

    def _quick_check(self) -> list[str]:
        try:
            return integrity_problems(self.engine, quick=True)
        except DBAPIError as exc:
            if is_corruption_error(exc):  # not even the schema can be read
                return [f"SQLite: {exc.orig}"]
            raise

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A consistent read-only snapshot; nothing it does is committed.

        Leaving the block closes the session, which rolls its transaction back and
        returns the connection (an explicit rollback first would only repeat that).
        """
        with self._read_sessions() as session:
            yield session

    @contextmanager
    def write_session(
        self, label: str = "write", *, admin_override: bool = False
    ) -> Iterator[Session]:
        """One writer per process at a time; commit on success, rollback on error.

        ``admin_override`` skips the read-only state and the fence: only for an admin
        fencing off a stale editor, which is exactly when this session cannot edit.
        """
        if not admin_override:
            self.check_writable()
            if self.check_sound():
                self.check_writable()  # damaged: refused before anything is written
        self.check_not_moved()
        if not self._write_lock.acquire(timeout=self._write_lock_timeout_s):
            raise DatabaseBusyError(
                f"another task of this session is still writing ({self._write_holder}); "
                "wait for it to finish and try again"
            )
        try:
            self._write_holder = f"{label} in {threading.current_thread().name}"
            try:
                with self._write_sessions() as session:
                    with session.begin():
                        if self.fence is not None and not admin_override:
                            self.fence(session)
                        yield session
                        # Just before COMMIT: a file renamed during the transaction would
                        # take the commit with it while its journal or WAL stays under the
                        # old name, where nobody opening the new name will look.
                        if self.moved():
                            raise _MovedBeforeCommit
                    if self.moved():  # renamed between that check and the commit
                        raise _MovedDuringCommit
            except _MovedBeforeCommit:
                # The transaction was rolled back on the way out of session.begin().
                raise self._refuse_moved(committed=False) from None
            except _MovedDuringCommit:
                raise self._refuse_moved(committed=True) from None
        finally:
            self._write_holder = ""
            self._write_lock.release()

    def write_lock_held(self, wait_s: float = 0.2) -> bool | None:
        """Does another connection hold SQLite's write lock right now? None: cannot tell.

        A ``BEGIN IMMEDIATE`` on a short busy timeout, rolled back at once: it takes the
        write lock only when it is free, so it never waits behind (or blocks) a writer
        for long. A session frozen inside a write keeps this lock until its process ends.
        """
        if not self.is_sqlite or self.path is None:
            return None
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout={max(0, int(wait_s * 1000))}")
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:
                    code = getattr(exc, "sqlite_errorcode", None)
                    if (isinstance(code, int) and code & 0xFF in (SQLITE_BUSY, SQLITE_LOCKED)) or (
                        "locked" in str(exc).lower()
                    ):
                        return True
                    return None  # read-only file or folder, a snapshot: no write to probe
                cursor.execute("ROLLBACK")
                return False
            finally:
                cursor.close()
        finally:
            # Not back into the pool: its busy timeout was changed for this probe.
            raw.invalidate()

    def run_write(
        self, fn: Callable[[Session], T], *, label: str = "write", admin_override: bool = False
    ) -> T:
        """Run ``fn`` in a write transaction, retried whole while the database is busy."""

        @with_busy_retry(self.retry, self.sleep, self.path)
        def attempt() -> T:
            with self.write_session(label, admin_override=admin_override) as session:
                return fn(session)

        return self._watch_damage(attempt)

    def run_read(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn`` in a read transaction, retried while the database is busy."""

        @with_busy_retry(self.retry, self.sleep, self.path, writing=False)
        def attempt() -> T:
            with self.read_session() as session:
                return fn(session)

        return self._watch_damage(attempt)

    def _watch_damage(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt``; a damaged page met on the way turns the session read-only."""
        try:
            return attempt()
        except (DatabaseDamagedError, StorageError, DBAPIError) as exc:
            if isinstance(exc, DatabaseDamagedError) and exc.findings:
                raise  # already checked (refused before the write)
            cause = exc if isinstance(exc, DBAPIError) else exc.__cause__
            if cause is not None and is_corruption_error(cause):
                raise self.note_damage(cause) from exc
            raise

    def journal_mode(self) -> str:
        """The journal mode in force (SQLite), or the backend name."""
        if not self.is_sqlite:
            return self.engine.dialect.name
        with self.engine.connect() as conn:
            return str(conn.execute(text("PRAGMA journal_mode")).scalar_one())

    def switch_journal(self, mode: str) -> bool:
        """Put the file in ``mode`` (only the editor calls this); False if others hold it."""
        if not self.is_sqlite or self.journal_mode() == mode:
            return True
        # The switch needs the only connection to the file: drop our pooled ones.
        self.engine.dispose()
        raw = self.engine.raw_connection()
        try:
            # Outside any transaction: the raw connection runs in autocommit mode.
            cursor = raw.cursor()
            try:
                cursor.execute(f"PRAGMA journal_mode={mode.upper()}")
                row = cursor.fetchone()
                new = str(row[0]).lower() if row else ""
            except sqlite3.OperationalError:
                return False  # "database is locked": other connections have it open
            finally:
                cursor.close()
        finally:
            raw.close()
        # Pooled connections chose their synchronous level for the old mode.
        self.engine.dispose()
        return new == mode

    def checked_out_connections(self) -> int:
        """Connections currently lent out by the pool (0 when all are returned)."""
        checkedout = getattr(self.engine.pool, "checkedout", None)
        return int(checkedout()) if callable(checkedout) else 0

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_dev, info.st_ino

    def remember_file(self) -> None:
        """Note which file this is (after opening or creating it)."""
        self._identity = self._file_identity()

    def moved(self) -> bool:
        """True when the path no longer names the file this session opened."""
        return self._identity is not None and self._file_identity() != self._identity

    def check_not_moved(self) -> None:
        """Refuse to write once the file was moved, renamed or deleted while open."""
        if self.moved():
            raise self._refuse_moved(committed=False)

    def new_name(self) -> Path | None:
        """Where the file this session opened is now, if it is still in the same folder."""
        if self.path is None or self._identity is None:
            return None
        # "with": returning mid-listing must close the iterator (else a ResourceWarning).
        with contextlib.suppress(OSError), os.scandir(self.path.parent) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    info = entry.stat(follow_symlinks=False)
                    if (info.st_dev, info.st_ino) == self._identity:
                        return Path(entry.path)
        return None

    def _refuse_moved(self, *, committed: bool) -> StorageError:
        """Turn read-only because the file moved; the error that says so, and what to do.

        ``committed``: the file moved while the last change was being committed, so that
        change may be in the moved file or in a journal/WAL left under the old name.
        """
        self._rescue_wal()
        new = self.new_name()
        where = f" (it is now {new})" if new is not None else ""
        again = f"open {new}" if new is not None else "open it again from its new place"
        reason = (
            f"the database file {self.path} was moved, renamed or deleted while open{where}; "
            f"CalTrack saves nothing more here — {again}"
        )
        self.set_read_only(reason, MovedError)
        if not committed:
            return StorageError(
                f"the database file {self.path} was moved, renamed or deleted while open"
                f"{where}; nothing was saved — {again}"
            )
        if self.path is None:  # moved() is only ever True for a file
            raise RuntimeError("a database without a file was reported as moved")
        left = [
            str(side)
            for side in (Path(f"{self.path}-wal"), Path(f"{self.path}-journal"))
            if _size(side) > 0
        ]
        stays = (
            f"; part of it may be in {' and '.join(left)} left under the old name" if left else ""
        )
        return StorageError(
            f"the database file {self.path} was moved or renamed WHILE this change was being "
            f"saved{where}: the change may be missing from the moved file{stays}. Check "
            f"before doing it again: {again} with CalTrack (it says where anything unfinished "
            "is and how to bring it back); do not delete files named like the old name"
        )

    def _rescue_wal(self) -> None:
        """Move committed WAL pages into the moved file while our connections still see it.

        SQLite keeps ``<old name>-wal`` beside the old name; without this checkpoint the
        moved file would lack the last committed changes.
        """
        if not self.is_sqlite or self._rescued:
            return
        self._rescued = True
        with contextlib.suppress(DBAPIError, sqlite3.Error, OSError):
            raw = self.engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.close()
            finally:
                raw.close()

    def dispose(self) -> None:
        if self.moved():
            self._rescue_wal()
        self.engine.dispose()


def _size(path: Path) -> int:
    """The size of ``path`` in bytes, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


# Less free space than this beside the database: an I/O error there is the disk being full.
NEARLY_FULL_BYTES = 1024 * 1024


def _io_error(path: Path | None, writing: bool) -> StorageError:
    """SQLite's "disk I/O error" said as what it most likely is, where the file is.

    SQLite reports some writes that fail for lack of space (the journal, the WAL index)
    as an I/O error: look at the disk before blaming a share the file may not be on.
    """
    if not writing:
        # A read changes nothing: "nothing was saved" or "rolled back" would mislead.
        where = f" ({path.parent})" if path is not None else ""
        return StorageError(
            f"the disk or share holding the database{where} failed while reading it (disk "
            "I/O error); nothing was changed — check the disk or the connection to the "
            "share and try again"
        )
    if path is not None:
        folder = path.parent
        with contextlib.suppress(OSError):
            if shutil.disk_usage(folder).free < NEARLY_FULL_BYTES:
                return StorageError(
                    f"the disk holding the database ({folder}) is full; nothing was saved — "
                    "free space and try again"
                )
        with contextlib.suppress(OSError):
            if not detect_location(folder).is_network:
                return StorageError(
                    f"the disk holding the database ({folder}) failed while writing (disk "
                    "I/O error); nothing was saved — check the disk (is it removable and "
                    "still connected?) and try again"
                )
    return StorageError(
        "the disk or network share failed while writing (disk I/O error); nothing was "
        "saved — check the connection to the share and try again"
    )


def not_allowed_error(exc: DBAPIError) -> NotAllowedError:
    """The server refused for want of a privilege: its own words, then the way out.

    CalTrack's guard triggers (migration 0006) say what rule was broken; a missing
    privilege names the table. Either way nothing was written.
    """
    diag = getattr(exc.orig, "diag", None)
    said = getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]
    return NotAllowedError(
        f"the database server refused: {said}; nothing was changed — your server login's "
        "group role does not allow it (`users whoami` shows your role; an admin or the "
        "database owner grants roles)"
    )


def translate_storage_error(
    exc: DBAPIError, path: Path | None = None, *, writing: bool = True
) -> Exception | None:
    """A domain error for failures of the disk or share under SQLite, else None.

    ``path`` (the database file, when known) lets an I/O error say whether the disk is
    full and whether it is a share at all; ``writing`` False (a read transaction) says
    that nothing was changed.
    """
    if sqlstate(exc) == PG_NOT_ALLOWED:
        return not_allowed_error(exc)
    if sqlstate(exc) is not None or not isinstance(exc.orig, sqlite3.Error):
        # A database server: it went away, or a connection could not be made.
        lost = lost_server_error(exc, writing=writing)
        if lost is not None:
            return lost
    message = str(exc.orig).lower()
    code = getattr(exc.orig, "sqlite_errorcode", None)
    if code == SQLITE_IOERR_DELETE:
        # The commit point in DELETE mode is deleting the journal; on a share another
        # program holding it open makes that fail. Not retried automatically: if the
        # share deleted it later after all, a repeat would save the change twice.
        return StorageError(
            "the network share would not let CalTrack finish the save (the journal file "
            "could not be deleted; a backup or antivirus program may hold it open) — "
            "refresh to see whether the change is there before trying again"
        )
    if code == SQLITE_READONLY_DBMOVED:
        return StorageError(
            "the database file was moved or renamed while open; nothing was saved — "
            "open it again from its new place"
        )
    if "readonly database" in message or "read-only" in message:
        return ReadOnlyError(
            "the database file or its folder is read-only; nothing was saved — "
            "ask an admin for write access"
        )
    if "database or disk is full" in message or "disk is full" in message:
        return StorageError(
            "the disk holding the database is full; nothing was saved — free space and try again"
        )
    if "disk i/o error" in message:
        return _io_error(path, writing)
    if "unable to open database file" in message:
        return StorageError(
            "the database file cannot be opened any more (moved, renamed or the share is "
            "gone); nothing was saved — reconnect the share or reopen the database"
        )
    if "file is not a database" in message or "malformed" in message:
        return DatabaseDamagedError(
            f"the database file is damaged (SQLite: {exc.orig}); nothing was saved — "
            + DAMAGE_ADVICE
        )
    return None
