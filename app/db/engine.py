"""The engine: connection URL, SQLite pragmas and the journal policy.

SQLite-specific behaviour is attached through connection events so that the rest of
the program speaks plain SQLAlchemy and a ``postgresql://`` URL keeps working.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from app.db.filesystem import Location, detect_location
from app.db.server import connect_args as server_connect_args
from app.db.server import is_server_url, service_name, service_url

JournalChoice = Literal["auto", "wal", "truncate", "delete"]
JournalMode = Literal["wal", "truncate", "delete"]

# Execution option read by the "begin" hook: which BEGIN a transaction starts with.
BEGIN_MODE_OPTION = "caltrack_begin"
# Keep a WAL or journal from staying huge after a big transaction (demo data, imports).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
# Page cache per connection (KiB; SQLite's default is 2 MiB). Big writes (demo data,
# imports) otherwise spill dirty pages and re-read index pages over and over.
CACHE_SIZE_KIB = 64 * 1024


@dataclass(frozen=True)
class EngineOptions:
    """Knobs for opening a database."""

    busy_timeout_s: float = 5.0
    journal: JournalChoice = "auto"


@dataclass(frozen=True)
class JournalPolicy:
    """The journal mode chosen for a SQLite file and why."""

    mode: JournalMode
    synchronous: Literal["NORMAL", "FULL"]
    reason: str


def is_url(text: str) -> bool:
    """True for ``dialect://...`` strings, false for file paths (``C:\\x`` included)."""
    head, sep, _ = text.partition("://")
    return bool(sep) and len(head) > 1 and head.replace("+", "").isalnum()


def safe_url(url: str) -> str:
    """A URL fit to print or log: the password hidden, the query as the user wrote it.

    SQLAlchemy renders query values percent-encoded (``host=%2Fvar%2Frun``); a report or
    a message names the database the way it was typed (``host=/var/run``).
    """
    rendered = make_url(url).render_as_string(hide_password=True)
    base, sep, query = rendered.partition("?")
    return base + sep + unquote(query)


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other backends and memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def database_url(path_or_url: str) -> str:
    """A SQLAlchemy URL for a file path, a ``service=NAME`` or an already-formed URL."""
    if is_url(path_or_url):
        return path_or_url
    service = service_name(path_or_url)
    if service is not None:
        return service_url(service)
    return f"sqlite:///{Path(path_or_url).expanduser().absolute()}"


def choose_journal(
    location: Location, choice: JournalChoice, *, shared: bool = False
) -> JournalPolicy:
    """WAL on local disk, rollback journal on network shares, unless overridden.

    ``shared`` is the one-way mark of a database once opened over the network: the PC
    hosting the folder must not turn WAL back on under the feet of the network users.
    The rollback journal is kept and truncated at each commit rather than deleted: on an
    SMB share deleting it fails whenever any handle to it is still open (a scanner, a
    backup agent, or the share still closing our own), and a failed delete fails the save.
    """
    if choice == "wal":
        return JournalPolicy("wal", "NORMAL", "WAL forced by option")
    if choice in ("delete", "truncate"):
        return JournalPolicy(choice, "FULL", f"rollback journal ({choice}) forced by option")
    if location.is_network:
        return JournalPolicy(
            "truncate", "FULL", f"rollback journal: database is on a {location.describe()}"
        )
    if shared:
        return JournalPolicy(
            "truncate",
            "FULL",
            "rollback journal: this database has been opened over a network share, so it "
            "stays in rollback mode even from a local disk",
        )
    return JournalPolicy("wal", "NORMAL", f"WAL: database is on {location.describe()}")


def rollback_mode(choice: JournalChoice) -> Literal["truncate", "delete"]:
    """The rollback journal a connection uses while the file is not in WAL mode."""
    return "delete" if choice == "delete" else "truncate"


def sqlite_header_mode(path: Path) -> str | None:
    """'wal' or 'delete' (any rollback journal) from the file header (bytes 18-19)."""
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError:
        return None
    if len(header) < 20 or not header.startswith(b"SQLite format 3\x00"):
        return None
    return "wal" if header[18] == 2 or header[19] == 2 else "delete"


SIDE_FILE_SUFFIXES = ("-wal", "-shm", "-journal")


def share_side_files(path: Path) -> None:
    """Let the others who may write the folder write the side files we created.

    SQLite gives ``-wal``/``-shm`` the database file's mode, owned by whoever opened the
    file first. A user who may only read the database would otherwise leave them
    unwritable for its owner, who is then refused every save until someone deletes
    them. Opening them as wide as the folder already is gives nobody a new power.
    """
    if not hasattr(os, "getuid"):
        return  # Windows: no POSIX owners or modes to fix
    try:
        folder_write = os.stat(path.parent).st_mode & 0o022
        if not folder_write:
            return
        uid = os.getuid()
        for suffix in SIDE_FILE_SUFFIXES:
            side = path.with_name(path.name + suffix)
            try:
                info = os.stat(side)
            except FileNotFoundError:
                continue
            wanted = (info.st_mode & 0o7777) | folder_write
            if info.st_uid == uid and info.st_mode & 0o7777 != wanted:
                os.chmod(side, wanted)
    except OSError:
        return  # best effort: a failure here only means the old behaviour


def _install_sqlite_hooks(engine: Engine, options: EngineOptions, path: Path) -> None:
    busy_ms = int(options.busy_timeout_s * 1000)
    rollback = rollback_mode(options.journal)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take BEGIN out of pysqlite's hands so that we can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            # The journal mode itself is switched only by the editor (see
            # Database.switch_journal); each connection matches its durability to it.
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if mode in ("delete", "truncate", "persist") and mode != rollback:
                # Rollback journal modes belong to the connection, not to the file.
                mode = cursor.execute(f"PRAGMA journal_mode={rollback}").fetchone()[0]
            cursor.execute(f"PRAGMA synchronous={'NORMAL' if mode == 'wal' else 'FULL'}")
            cursor.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
            cursor.execute(f"PRAGMA cache_size=-{CACHE_SIZE_KIB}")
        finally:
            cursor.close()
        if mode == "wal" and not os.access(path, os.W_OK):
            share_side_files(path)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def file_url(path: Path) -> str:
    """A SQLite URI URL in which a missing file is an error, never a new empty database.

    (A plain path would let any new connection after a rename or a lost share quietly
    create an empty database where the real one used to be. New databases are created
    as empty files by the caller first.)
    """
    return f"sqlite:///{path.absolute().as_uri()}?mode=rw&uri=true"


def snapshot_url(path: Path) -> str:
    """Read-only, lock-free access to a WAL database whose folder we cannot write.

    Only for a database closed cleanly (no ``-wal`` beside it): then the file holds
    every commit, and SQLite need not create ``-shm`` in a folder we may not write.
    """
    return f"sqlite:///{path.absolute().as_uri()}?mode=ro&immutable=1&uri=true"


def needs_snapshot(path: Path, folder_writable: bool) -> bool:
    """True for a cleanly closed WAL database in a folder this user cannot write."""
    return (
        not folder_writable
        and path.exists()
        and sqlite_header_mode(path) == "wal"
        and not path.with_name(path.name + "-wal").exists()
        and not path.with_name(path.name + "-shm").exists()
    )


def build_engine(
    url: str, options: EngineOptions, *, snapshot: bool = False
) -> tuple[Engine, Location | None]:
    """Create the engine; for SQLite also where its file lives."""
    path = sqlite_path(url)
    if path is None:
        # pre-ping: after a server restart the next action reconnects instead of failing
        # on a connection the server closed.
        extra = server_connect_args(url) if is_server_url(url) else {}
        return create_engine(url, pool_pre_ping=True, connect_args=extra), None
    location = detect_location(path.parent)
    engine = create_engine(
        snapshot_url(path) if snapshot else file_url(path),
        connect_args={"timeout": options.busy_timeout_s, "check_same_thread": False},
    )
    _install_sqlite_hooks(engine, options, path)
    return engine, location


def server_login(path_or_url: str) -> str | None:
    """The login a database server knows this connection by (``session_user``).

    None for a file, or when the server cannot be reached or asked: opening the
    database connects again and reports that failure in its own words.
    """
    url = database_url(path_or_url)  # a ``service=NAME`` asks the server too
    if sqlite_path(url) is not None or make_url(url).get_backend_name() != "postgresql":
        return None
    # The connect timeout too: an unreachable server must not hang here, before the
    # open that says so plainly.
    engine = create_engine(url, poolclass=NullPool, connect_args=server_connect_args(url))
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("SELECT session_user")).scalar_one())
    except DBAPIError:
        return None
    finally:
        engine.dispose()
