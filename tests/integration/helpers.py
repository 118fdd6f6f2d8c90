"""Helpers for the integration tests: real processes, real files, no mocks."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from app.bootstrap import CalTrack, open_caltrack
from app.clock import Clock
from app.db.fencing import LOCK_EPOCH_KEY
from app.identity import Identity
from app.services.editing import EditingOptions
from tests.conftest import is_server, state_for

T = TypeVar("T")
R = TypeVar("R")

PROJECT = Path(__file__).resolve().parents[2]
# A child that hangs is a failure, not a stuck suite; generous, never a timing assertion.
CHILD_TIMEOUT_S = 120.0


def child_env(home: Path) -> dict[str, str]:
    """The environment of a child process: no inherited database, per-test user folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALTRACK_")}
    env["XDG_DATA_HOME"] = str(home / "xdg-data")
    env["XDG_CONFIG_HOME"] = str(home / "xdg-config")
    env["XDG_STATE_HOME"] = str(home / "xdg-state")
    env["PYTHONUNBUFFERED"] = "1"
    # The child's code may import the tests' helpers, from any working folder.
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(PROJECT), os.environ.get("PYTHONPATH", "")) if p
    )
    return env


def home_for(db: Path | str) -> Path:
    """The folder a test works in for ``db``: the file's folder, or the test's own."""
    return state_for(db).parent


def open_lab(
    db: Path | str,
    *,
    create: bool = False,
    edit: bool = True,
    identity: Identity | None = None,
    clock: Clock | None = None,
) -> CalTrack:
    """Open a database in this process; run markers go beside it, not in the user's home.

    ``edit=False`` opens for reading only and never waits for the editor lock (after a
    kill -9 the lock file still names the dead editor).
    """
    return open_caltrack(
        str(db),
        create=create,
        identity=identity,
        clock=clock,
        editing=EditingOptions(edit=edit),
        state_dir=state_for(db),
    )


def cli_command(db: Path | str, *args: str) -> list[str]:
    return [sys.executable, "-m", "app", "--db", str(db), *args]


def run_cli(
    db: Path | str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m app --db DB ARGS...`` in a separate process (in the database's folder)."""
    work = cwd or home_for(db)
    return subprocess.run(
        cli_command(db, *args),
        cwd=work,
        env=child_env(work),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )


def side_by_side(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``map`` over independent process launches, a few at a time (keeps the suite quick)."""
    with ThreadPoolExecutor(max_workers=max(1, min(len(items), os.cpu_count() or 2))) as pool:
        return list(pool.map(fn, items))


def run_cli_many(
    db: Path | str, commands: Sequence[Sequence[str]], cwd: Path | None = None
) -> list[subprocess.CompletedProcess[str]]:
    """Run independent commands side by side (each still its own process)."""
    return side_by_side(lambda a: run_cli(db, *a, cwd=cwd), commands)


def run_python(
    code: str, *args: str, cwd: Path, timeout: float = CHILD_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """``python -c CODE ARGS...`` in a separate process."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=child_env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def popen_python(code: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    """Start ``python -c CODE ARGS...`` without waiting for it."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=child_env(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_file(path: Path, proc: subprocess.Popen[str] | None = None) -> None:
    """Block until ``path`` exists; fail early if ``proc`` died first."""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"child exited with {proc.returncode} before {path.name}:\n{out}\n{err}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.01)


def assert_one_error_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The CLI failed with ``code`` and said why in exactly one ``caltrack:`` line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("caltrack: "), lines[0]
    return lines[0]


def query(db: Path | str, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
    """Read straight from the database, past the application.

    A file is read with the sqlite3 module (read-only URI); a server URL through the
    driver itself (``?`` placeholders become the driver's ``%s``) on a connection of its
    own, in a read-only transaction.
    """
    if is_server(db):
        engine = create_engine(str(db), poolclass=NullPool)
        try:
            with engine.connect() as server:
                server.exec_driver_sql("SET TRANSACTION READ ONLY")
                found = server.exec_driver_sql(sql.replace("?", "%s"), tuple(params))
                return [tuple(row) for row in found]
        finally:
            engine.dispose()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.execute(sql, tuple(params)))
    finally:
        conn.close()


def scalar(db: Path | str, sql: str, params: Sequence[object] = ()) -> object:
    rows = query(db, sql, params)
    assert len(rows) == 1 and len(rows[0]) == 1, rows
    return rows[0][0]


def epoch(db: Path) -> int:
    """The lock epoch stored in the database (each taken lock moves it on)."""
    return int(str(scalar(db, "SELECT value FROM meta WHERE key = ?", (LOCK_EPOCH_KEY,))))


def count(db: Path | str, table: str) -> int:
    value = scalar(db, f'SELECT COUNT(*) FROM "{table}"')
    assert isinstance(value, int)
    return value


def fingerprint(db: Path | str) -> tuple[int, int, int, int, str | None]:
    """What an error must leave alone: row counts and the newest audit hash."""
    head = query(db, "SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1")
    return (
        count(db, "instrument"),
        count(db, "calibration_record"),
        count(db, "attachment"),
        count(db, "audit_event"),
        str(head[0][0]) if head else None,
    )


def end_listening_connections(app: CalTrack) -> int:
    """End the server connections that listen for change notices on this database, as
    a server restart does; how many there were."""
    with app.database.engine.connect() as conn:
        ended = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND query LIKE 'LISTEN%'"
            )
        ).scalar_one()
        conn.commit()
    return int(ended)


def tamper(db: Path | str, *statements: str) -> None:
    """Write straight to the database behind CalTrack's back, in one transaction.

    What someone with a sqlite3 shell on the file, or psql on the server, could do: the
    application must notice, never be fooled.
    """
    if is_server(db):
        engine = create_engine(str(db), poolclass=NullPool)
        try:
            with engine.begin() as server:
                for sql in statements:
                    server.exec_driver_sql(sql)
        finally:
            engine.dispose()
        return
    conn = sqlite3.connect(db)
    try:
        with conn:
            for sql in statements:
                conn.execute(sql)
    finally:
        conn.close()
