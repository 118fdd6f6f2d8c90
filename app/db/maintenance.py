"""Database-level checks and copies: integrity, statistics, backup, checkpoint.

Backups use SQLite's online backup API, which copies a consistent snapshot even
while others read; a plain file copy of a live database can capture half a write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text

from app.errors import UsageError

SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class TableStats:
    """A table with its row count and index names."""

    name: str
    rows: int
    indexes: list[str]


def table_stats(engine: Engine) -> list[TableStats]:
    inspector = inspect(engine)
    result = []
    with engine.connect() as conn:
        for name in sorted(inspector.get_table_names()):
            rows = conn.execute(text(f'SELECT COUNT(*) FROM "{name}"')).scalar_one()
            indexes = sorted(ix["name"] or "" for ix in inspector.get_indexes(name))
            indexes += sorted(uq["name"] or "" for uq in inspector.get_unique_constraints(name))
            result.append(TableStats(name, int(rows), indexes))
    return result


def integrity_problems(engine: Engine, *, quick: bool = False) -> list[str]:
    """``integrity_check`` (or ``quick_check``) and ``foreign_key_check`` findings."""
    if engine.dialect.name != "sqlite":
        return []
    problems: list[str] = []
    pragma = "quick_check" if quick else "integrity_check"
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text(f"PRAGMA {pragma}"))]
        if rows != ["ok"]:
            problems += [f"{pragma}: {r}" for r in rows]
        for table, rowid, parent, _fk in conn.execute(text("PRAGMA foreign_key_check")):
            problems.append(
                f"foreign_key_check: {table} row {rowid} points to a missing {parent} row"
            )
    return problems


def is_sqlite_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(16) == SQLITE_HEADER
    except OSError:
        return False


def sqlite_backup(
    engine: Engine, destination: Path, progress: Callable[[int, int], None] | None = None
) -> None:
    """Online backup of the engine's database into a new file."""
    if destination.exists():
        raise UsageError(f"{destination} already exists; choose another label")
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        if not isinstance(source, sqlite3.Connection):  # pragma: no cover - sqlite only
            raise UsageError("backups of this database are made with its server's tools")
        target = sqlite3.connect(destination)
        try:
            # Pages in steps so other users are not locked out for the whole copy.
            source.backup(
                target,
                pages=1024,
                progress=(lambda _s, left, total: progress(total - left, total))
                if progress
                else None,
            )
            # A backup is a self-contained file: no -wal beside it.
            target.execute("PRAGMA journal_mode=DELETE")
        finally:
            target.close()
    finally:
        raw.close()


def checkpoint(engine: Engine) -> tuple[int, int, int]:
    """WAL checkpoint (TRUNCATE): (busy, wal pages, pages checkpointed)."""
    with engine.connect() as conn:
        row = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        return int(row[0]), int(row[1]), int(row[2])


def check_backup_file(path: Path) -> list[str]:
    """Problems that make ``path`` unfit to restore from (empty when fit)."""
    if not path.is_file():
        return [f"no backup file at {path}"]
    if not is_sqlite_file(path):
        return [f"{path} is not a SQLite database"]
    problems: list[str] = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if rows != ["ok"]:
                problems += [f"integrity_check: {r}" for r in rows[:10]]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if not {"meta", "instrument", "alembic_version"} <= tables:
                problems.append(f"{path} is a SQLite database but not a CalTrack one")
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        problems.append(f"{path} cannot be read: {exc}")
    return problems


def backup_revision(path: Path) -> str | None:
    """The schema revision recorded in a backup file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return str(row[0]) if row else None
    except sqlite3.DatabaseError:
        return None
    finally:
        conn.close()


def restore_into(backup: Path, target: Path) -> None:
    """Copy a checked backup over the live database through the backup API."""
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target, timeout=10)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
