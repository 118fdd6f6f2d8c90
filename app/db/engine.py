"""The engine: connection URL, SQLite pragmas and the journal policy.

SQLite-specific behaviour is attached through connection events so that the rest of
the program speaks plain SQLAlchemy and a ``postgresql://`` URL keeps working.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from app.db.filesystem import Location, detect_location

JournalChoice = Literal["auto", "wal", "delete"]

# Execution option read by the "begin" hook: which BEGIN a transaction starts with.
BEGIN_MODE_OPTION = "caltrack_begin"


@dataclass(frozen=True)
class EngineOptions:
    """Knobs for opening a database."""

    busy_timeout_s: float = 5.0
    journal: JournalChoice = "auto"


@dataclass(frozen=True)
class JournalPolicy:
    """The journal mode chosen for a SQLite file and why."""

    mode: Literal["wal", "delete"]
    synchronous: Literal["NORMAL", "FULL"]
    reason: str


def is_url(text: str) -> bool:
    """True for ``dialect://...`` strings, false for file paths (``C:\\x`` included)."""
    head, sep, _ = text.partition("://")
    return bool(sep) and len(head) > 1 and head.replace("+", "").isalnum()


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other backends and memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    if parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def database_url(path_or_url: str) -> str:
    """A SQLAlchemy URL for a file path or an already-formed URL."""
    if is_url(path_or_url):
        return path_or_url
    return f"sqlite:///{Path(path_or_url).expanduser().absolute()}"


def choose_journal(location: Location, choice: JournalChoice) -> JournalPolicy:
    """WAL on local disk, rollback journal on network shares, unless overridden."""
    if choice == "wal":
        return JournalPolicy("wal", "NORMAL", "WAL forced by option")
    if choice == "delete":
        return JournalPolicy("delete", "FULL", "rollback journal forced by option")
    if location.is_network:
        return JournalPolicy(
            "delete", "FULL", f"rollback journal: database is on a {location.describe()}"
        )
    return JournalPolicy("wal", "NORMAL", f"WAL: database is on {location.describe()}")


def _install_sqlite_hooks(engine: Engine, options: EngineOptions, policy: JournalPolicy) -> None:
    busy_ms = int(options.busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take BEGIN out of pysqlite's hands so that we can say BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            current = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if current != policy.mode:
                # Another connection may hold the file; it then keeps its mode, which
                # Database.journal_mode reports rather than hides.
                with contextlib.suppress(sqlite3.OperationalError):
                    cursor.execute(f"PRAGMA journal_mode={policy.mode.upper()}")
            cursor.execute(f"PRAGMA synchronous={policy.synchronous}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(BEGIN_MODE_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def build_engine(url: str, options: EngineOptions) -> tuple[Engine, JournalPolicy | None]:
    """Create the engine; for SQLite also the journal policy it runs under."""
    path = sqlite_path(url)
    if path is None:
        return create_engine(url, pool_pre_ping=True), None
    policy = choose_journal(detect_location(path.parent), options.journal)
    engine = create_engine(
        url,
        connect_args={"timeout": options.busy_timeout_s, "check_same_thread": False},
    )
    _install_sqlite_hooks(engine, options, policy)
    return engine, policy
