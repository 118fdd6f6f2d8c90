"""Database-level checks and copies: integrity, statistics, backup, checkpoint.

Backups use SQLite's online backup API, which copies a consistent snapshot even
while others read; a plain file copy of a live database can capture half a write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from app.errors import StorageError, UsageError
from app.storage.atomic import fsync_directory
from app.storage.sharing import replace_file, unlink_file

SQLITE_HEADER = b"SQLite format 3\x00"
# Hidden temporary copies end so; a kill can leave one (never under a backup's name).
COPY_TMP_SUFFIX = ".partial"
# Room beyond the pages themselves: the journal of the final header change, directories.
COPY_MARGIN_BYTES = 256 * 1024


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


def check_findings(run: Callable[[str], list[str]], pragma: str) -> list[str]:
    """``PRAGMA integrity_check`` or ``quick_check`` findings, each as one line.

    ``run`` executes a statement and returns its first column. On a damaged file SQLite
    can fail with "malformed" once the check has more to say than it can read, and the
    findings are lost with the error; asking for fewer findings gets them back.
    """
    for limit in (100, 10, 1):
        try:
            rows = run(f"PRAGMA {pragma}({limit})")
        except (sqlite3.DatabaseError, DBAPIError) as exc:
            failure = exc.orig if isinstance(exc, DBAPIError) else exc
            if not isinstance(failure, sqlite3.DatabaseError):
                raise
            continue
        lines = [
            line.strip()
            for row in rows
            for line in str(row).splitlines()
            if line.strip() and not line.startswith("*** in database")
        ]
        return [] if lines == ["ok"] else [f"{pragma}: {line}" for line in lines]
    return [f"{pragma}: SQLite cannot read the file far enough to check it (malformed)"]


def integrity_problems(engine: Engine, *, quick: bool = False) -> list[str]:
    """``integrity_check`` (or ``quick_check``) and ``foreign_key_check`` findings."""
    if engine.dialect.name != "sqlite":
        return []
    pragma = "quick_check" if quick else "integrity_check"
    with engine.connect() as conn:

        def run(sql: str) -> list[str]:
            return [str(r[0]) for r in conn.execute(text(sql))]

        problems = check_findings(run, pragma)
        if problems:
            return problems  # foreign keys on damaged pages would only fail to read
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


def human_bytes(size: int) -> str:
    """A size as people read it (``3.2 MiB``)."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # pragma: no cover - the loop always returns


def database_bytes(engine: Engine) -> int:
    """How many bytes a copy of the database takes (every page, the WAL's included)."""
    with engine.connect() as conn:
        pages = int(conn.execute(text("PRAGMA page_count")).scalar_one())
        size = int(conn.execute(text("PRAGMA page_size")).scalar_one())
    return pages * size


def _no_room(folder: Path, needed: int, free: int | None = None) -> StorageError:
    if free is None:
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(folder).free
    room = f"; {human_bytes(free)} is free there" if free is not None else ""
    return StorageError(
        f"not enough room in {folder} for the copy: it needs about {human_bytes(needed)}"
        f"{room}; nothing was written — free some space (or choose another folder) and "
        "try again"
    )


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.Error) and "full" in str(exc).lower()


def temp_copy_path(destination: Path) -> Path:
    """A hidden name beside ``destination`` that is never taken for a real copy."""
    return destination.with_name(f".{destination.name}.{secrets.token_hex(4)}{COPY_TMP_SUFFIX}")


def discard_copy(tmp: Path) -> None:
    """Remove a temporary copy and whatever journal SQLite left beside it."""
    for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, destination: Path) -> None:
    """Give the checked copy its real name without ever replacing an existing file."""
    try:
        # A hard link fails if the name is taken, so a copy made in the same second
        # under the same label is never overwritten.
        os.link(tmp, destination)
    except FileExistsError:
        raise UsageError(f"{destination} already exists; choose another label") from None
    except OSError:
        # Some shares have no hard links: check, then rename (the name holds a UTC
        # timestamp, so a clash in between is out of the ordinary).
        if destination.exists():
            raise UsageError(f"{destination} already exists; choose another label") from None
        replace_file(tmp, destination)
    else:
        # A virus scanner may hold the fresh copy open on Windows: wait it out.
        unlink_file(tmp)
    fsync_directory(destination.parent)


def sqlite_backup(
    engine: Engine, destination: Path, progress: Callable[[int, int], None] | None = None
) -> None:
    """Online backup of the engine's database into ``destination``, whole or not at all.

    The copy is written under a hidden temporary name in the destination folder, checked
    (``quick_check``), flushed to disk and only then given its real name, so a full disk,
    a kill or a power cut leaves no file under a backup's name that is not a whole, good
    copy. A full disk is a ``StorageError`` that says how much room the copy needs.
    """
    if destination.exists():
        raise UsageError(f"{destination} already exists; choose another label")
    folder = destination.parent
    needed = database_bytes(engine) + COPY_MARGIN_BYTES
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None  # some shares do not say; the write itself will tell
    if free is not None and free < needed:
        raise _no_room(folder, needed, free)
    tmp = temp_copy_path(destination)
    raw = engine.raw_connection()
    try:
        # Made here rather than by SQLite, so a full disk or a missing permission comes
        # back as the operating system's error, not as "unable to open database file".
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        source = raw.driver_connection
        if not isinstance(source, sqlite3.Connection):  # pragma: no cover - sqlite only
            raise UsageError("backups of this database are made with its server's tools")
        target = sqlite3.connect(tmp)
        try:
            # A temporary file needs no journal of its own: a failed copy is thrown away.
            target.execute("PRAGMA journal_mode=OFF")
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
        problems = check_backup_file(tmp, quick=True)
        if problems:
            raise UsageError(f"the copy failed its check ({problems[0]}); nothing was written")
        _fsync_file(tmp)
        _publish(tmp, destination)
    except (OSError, sqlite3.Error) as exc:
        discard_copy(tmp)
        if _is_disk_full(exc):
            raise _no_room(folder, needed) from None
        raise
    except BaseException:
        discard_copy(tmp)
        raise
    finally:
        raw.close()


def backup_audit_head(path: Path) -> tuple[int, str] | None:
    """(id, hash) of the newest audit event in a backup file, read without changing it."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            query = "SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1"
            row = conn.execute(query).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise UsageError(f"cannot read the audit trail of {path}: {exc}") from None
    return (int(row[0]), str(row[1])) if row else None


def checkpoint(engine: Engine) -> tuple[int, int, int]:
    """WAL checkpoint (TRUNCATE): (busy, wal pages, pages checkpointed)."""
    with engine.connect() as conn:
        row = conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)")).one()
        return int(row[0]), int(row[1]), int(row[2])


def check_backup_file(path: Path, *, quick: bool = False) -> list[str]:
    """Problems that make ``path`` unfit to restore from (empty when fit)."""
    if not path.is_file():
        return [f"no backup file at {path}"]
    if not is_sqlite_file(path):
        return [f"{path} is not a SQLite database"]
    problems: list[str] = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            pragma = "quick_check" if quick else "integrity_check"
            problems += check_findings(lambda sql: [str(r[0]) for r in conn.execute(sql)], pragma)[
                :10
            ]
            if problems:
                return problems
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


def copy_damaged(source: Path, destination: Path) -> Path:
    """A plain copy of a damaged database file (a checked backup of it cannot be made)."""
    if destination.exists():
        raise UsageError(f"{destination} already exists; try again in a second")
    needed = source.stat().st_size + COPY_MARGIN_BYTES
    tmp = temp_copy_path(destination)
    try:
        shutil.copyfile(source, tmp)
        _fsync_file(tmp)
        _publish(tmp, destination)
    except OSError as exc:
        discard_copy(tmp)
        if _is_disk_full(exc):
            raise _no_room(destination.parent, needed) from None
        raise
    except BaseException:
        discard_copy(tmp)
        raise
    return destination


def backup_meta(path: Path, keys: tuple[str, ...]) -> dict[str, str | None]:
    """Values of the ``meta`` table of a backup file (None where missing)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        marks = ", ".join("?" * len(keys))
        rows = conn.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", keys)
        found = {str(k): (None if v is None else str(v)) for k, v in rows}
    except sqlite3.DatabaseError:
        found = {}
    finally:
        conn.close()
    return {key: found.get(key) for key in keys}


def restore_into(backup: Path, target: Path) -> None:
    """Copy a checked backup over the live database through the backup API.

    SQLite writes the pages in one transaction of the live database (its journal or WAL),
    so a failure part-way, a full disk included, leaves the database as it was.
    """
    # The pages go through the journal or WAL first: room for the copy twice over.
    needed = 2 * backup.stat().st_size + COPY_MARGIN_BYTES
    try:
        free: int | None = shutil.disk_usage(target.parent).free
    except OSError:
        free = None
    if free is not None and free < needed:
        raise _no_room(target.parent, needed, free)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(target, timeout=10)
        try:
            source.backup(dest)
        except sqlite3.Error as exc:
            if _is_disk_full(exc):
                raise _no_room(target.parent, needed) from None
            raise
        finally:
            dest.close()
    finally:
        source.close()


@dataclass(frozen=True)
class SalvageResult:
    """What ``db salvage`` recovered: rows per table in the new file."""

    output: Path
    tables: dict[str, int]
    lost_and_found: int
    findings: list[str]


SQLITE_SHELL = "sqlite3"
LOST_AND_FOUND = "lost_and_found"


def salvage(source: Path, output: Path, *, work: Path) -> SalvageResult:
    """Recover what can be read from a damaged ``source`` into a new file ``output``.

    Uses the ``sqlite3`` shell's ``.recover`` on a copy of the file (and its WAL) made in
    ``work``, so the damaged database is only ever read, never opened for writing.
    Rows whose table cannot be told go to a ``lost_and_found`` table.
    """
    shell = shutil.which(SQLITE_SHELL)
    if shell is None:
        raise UsageError(
            "salvage needs the sqlite3 program, which is not installed here: install it "
            "(Debian/Ubuntu: apt-get install sqlite3; Windows and macOS: the sqlite-tools "
            "from sqlite.org) and try again; the damaged file was not touched"
        )
    if not source.is_file():
        raise UsageError(f"no database file at {source}")
    if output.exists():
        raise UsageError(f"{output} already exists; name a new file for what is salvaged")
    if not output.parent.is_dir():
        raise UsageError(f"folder {output.parent} does not exist; create it first")
    if output.resolve() == source.resolve():
        raise UsageError("salvage writes into a new file; name another file than the database")
    copy = work / source.name
    shutil.copyfile(source, copy)
    wal = source.with_name(source.name + "-wal")
    if wal.is_file():
        shutil.copyfile(wal, work / wal.name)
    findings = check_backup_file(copy, quick=True)
    recovered = subprocess.run(
        [shell, str(copy), f".recover --lost-and-found {LOST_AND_FOUND}"],
        capture_output=True,
        check=False,
    )
    tmp = temp_copy_path(output)
    try:
        if recovered.returncode == 0 and recovered.stdout:
            loaded = subprocess.run(
                [shell, "-bail", str(tmp)],
                input=recovered.stdout,
                capture_output=True,
                check=False,
            )
            if loaded.returncode != 0:
                reason = loaded.stderr.decode("utf-8", "replace").strip().splitlines()
                raise StorageError(
                    "the recovered data could not be written"
                    + (f" (sqlite3: {reason[0]})" if reason else "")
                    + "; check the free space of the folder and try again"
                )
        else:
            # Some builds of the shell lack what .recover needs (the sqlite_dbpage
            # table): read row by row what SQLite can still reach instead.
            discard_copy(tmp)
            try:
                findings = findings + _copy_readable(copy, tmp)
            except sqlite3.Error as exc:
                if _is_disk_full(exc):
                    raise _no_room(output.parent, 2 * source.stat().st_size) from None
                raise
        conn = sqlite3.connect(tmp)
        try:
            names = [
                str(r[0])
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            tables = {
                n: int(conn.execute(f'SELECT COUNT(*) FROM "{n}"').fetchone()[0]) for n in names
            }
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
        _fsync_file(tmp)
        _publish(tmp, output)
    except BaseException:
        discard_copy(tmp)
        raise
    lost = tables.pop(LOST_AND_FOUND, 0)
    return SalvageResult(output=output, tables=tables, lost_and_found=lost, findings=findings)


# Probing stops after this many row ids in a row that hold nothing.
PROBE_GAP = 10_000


def _readable_rows(src: sqlite3.Connection, table: str) -> tuple[list[tuple[object, ...]], int]:
    """The rows of ``table`` that can be read, and how many ids could not be."""
    quoted = table.replace('"', '""')
    try:
        return list(src.execute(f'SELECT rowid, * FROM "{quoted}"')), 0
    except sqlite3.DatabaseError:
        pass
    # A damaged page on the way: look each row id up on its own, skipping the damage.
    rows: list[tuple[object, ...]] = []
    failed = 0
    rowid, gap = 1, 0
    while gap < PROBE_GAP:
        try:
            row = src.execute(
                f'SELECT rowid, * FROM "{quoted}" WHERE rowid = ?', (rowid,)
            ).fetchone()
        except sqlite3.DatabaseError:
            row = None
            failed += 1
        if row is None:
            gap += 1
        else:
            rows.append(tuple(row))
            gap = 0
        rowid += 1
    return rows, failed


def _copy_readable(copy: Path, tmp: Path) -> list[str]:
    """Copy schema and every readable row of ``copy`` into a new file ``tmp``; notes."""
    notes: list[str] = []
    src = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    dst = sqlite3.connect(tmp)
    try:
        try:
            schema = list(
                src.execute(
                    "SELECT type, name, sql FROM sqlite_master "
                    "WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
                )
            )
        except sqlite3.DatabaseError as exc:
            raise StorageError(
                f"nothing could be recovered: the file's list of tables cannot be read ({exc}); "
                "restore a backup instead"
            ) from None
        tables = [(name, sql) for kind, name, sql in schema if kind == "table"]
        for name, sql in tables:
            dst.execute(sql)
            rows, failed = _readable_rows(src, name)
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                quoted = name.replace('"', '""')
                columns = [c[1] for c in src.execute(f'PRAGMA table_info("{quoted}")')]
                names = ", ".join('"' + c.replace('"', '""') + '"' for c in ["rowid", *columns])
                dst.executemany(
                    f'INSERT OR IGNORE INTO "{quoted}" ({names}) VALUES ({marks})', rows
                )
            if failed:
                notes.append(f"salvage: {name}: {failed} row id(s) could not be read")
        dst.commit()
        for kind, name, sql in schema:
            if kind == "table":
                continue
            try:
                dst.execute(sql)
            except sqlite3.DatabaseError as exc:
                notes.append(f"salvage: {kind} {name} not recreated ({exc})")
        dst.commit()
    finally:
        dst.close()
        src.close()
    return notes
