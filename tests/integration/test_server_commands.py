"""Backups, restore, stats, reports, labels, import and export on a server database.

Each test runs ``python -m app --db URL …`` in a real process against this run's private
PostgreSQL server (``pg_url``), with the real ``pg_dump``, ``pg_restore`` and ``psql``,
and reads the result back from the server with ``psql``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import make_url

from app.bootstrap import open_caltrack
from app.clock import FixedClock
from app.db import pg_tools
from app.db.pg_tools import TOOL_DIR_ENV
from app.errors import DatabaseBusyError
from app.identity import Identity
from app.repositories.audit import CHAIN_LOCK_KEY
from tests.integration.helpers import CHILD_TIMEOUT_S, assert_one_error_line, child_env
from tests.pg_server import PgServer

DATA = Path(__file__).parents[1] / "data" / "import"


def _cli(
    url: str, work: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--db", url, *args],
        cwd=work,
        env={**child_env(work), **(env or {})},
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.args, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    return done.stdout


def _sql(pg_server: PgServer, url: str, sql: str) -> str:
    name = make_url(url).database
    assert name
    return pg_server.psql(sql, name).strip()


def _lab(url: str, work: Path, *tags: str) -> None:
    _ok(_cli(url, work, "init"))
    for tag in tags:
        _ok(_cli(url, work, "instruments", "add", "--asset-tag", tag, "--description", "Therm"))


def _tags(pg_server: PgServer, url: str) -> list[str]:
    return _sql(pg_server, url, "SELECT asset_tag FROM instrument ORDER BY asset_tag").split()


def test_backup_then_restore_brings_the_server_database_back(
    pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    _lab(pg_url, tmp_path, "TH-001")
    attachment = tmp_path / "cert.pdf"
    attachment.write_bytes(b"%PDF-1.7 certificate " * 1000)
    _ok(_cli(pg_url, tmp_path, "attachments", "add", "TH-001", str(attachment)))
    head_id, head_hash = _sql(
        pg_server, pg_url, "SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1"
    ).split("|")
    folder = tmp_path / "backups"
    out = _ok(_cli(pg_url, tmp_path, "db", "backup", "weekly", "--to", str(folder)))
    [backup] = list(folder.iterdir())  # nothing else: no temporary file left
    assert backup.name.endswith("_weekly.dump") and backup.read_bytes().startswith(b"PGDMP")
    assert f"backup written to {backup} (audit head #{head_id} {head_hash[:12]}…)" in out

    # One save after the backup: the anchor check of this PC lets a restore explain a
    # trail one event longer than it saw, not more (as on a database file).
    _ok(_cli(pg_url, tmp_path, "attachments", "void", "1", "--reason", "wrong file"))

    restored = _ok(_cli(pg_url, tmp_path, "db", "restore", str(backup)))
    assert "verified: clean" in restored
    # The attachment came back with the data, its content included.
    assert _sql(pg_server, pg_url, "SELECT voided_at IS NULL FROM attachment") == "t"
    export = tmp_path / "back.pdf"
    _ok(_cli(pg_url, tmp_path, "attachments", "export", "1", str(export)))
    assert export.read_bytes() == attachment.read_bytes()
    # What was replaced was backed up first, and the restore is in the restored trail.
    safety = Path(restored.splitlines()[0].rsplit(" ", 1)[-1])
    assert safety.name.endswith("_before-restore.dump") and safety.is_file()
    event = _sql(
        pg_server,
        pg_url,
        "SELECT id, action FROM audit_event ORDER BY id DESC LIMIT 1",
    )
    assert event == f"{int(head_id) + 1}|restore"
    _ok(_cli(pg_url, tmp_path, "db", "verify", "--deep"))

    # And back again to the state before the restore, from its safety copy.
    back = _ok(_cli(pg_url, tmp_path, "db", "restore", str(safety)))
    assert "verified: clean" in back
    assert _sql(pg_server, pg_url, "SELECT voided_at IS NULL FROM attachment") == "f"


def test_a_backup_of_another_server_database_is_refused_even_when_asked(
    pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    """Its grants and guard functions name the other database's groups: restored here
    they would let that lab's people in. Another lab's data comes in by `db copy`."""
    theirs = pg_server.new_database()
    _lab(theirs, tmp_path, "OTHER-1")
    _ok(_cli(theirs, tmp_path, "db", "backup", "--to", str(tmp_path / "b")))
    [backup] = list((tmp_path / "b").iterdir())
    _lab(pg_url, tmp_path, "TH-001")

    for asked in ((), ("--other-database",)):
        refused = _cli(pg_url, tmp_path, "db", "restore", str(backup), *asked)
        assert refused.returncode == 2, refused.stderr
        assert "restores only into the database it was made from" in refused.stderr
        assert "db copy" in refused.stderr and "Traceback" not in refused.stderr
    assert _tags(pg_server, pg_url) == ["TH-001"]
    assert not (tmp_path / "xdg-data").exists()  # not even a safety backup was needed


def test_a_file_that_is_no_server_backup_is_refused_and_nothing_changes(
    pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    _lab(pg_url, tmp_path, "TH-001")
    sqlite_db = tmp_path / "lab.db"
    _ok(_cli(str(sqlite_db), tmp_path, "init"))
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"PGDMP" + b"\0" * 100)
    for name, words in ((sqlite_db, "database file"), (junk, "cannot be read")):
        done = _cli(pg_url, tmp_path, "db", "restore", str(name))
        assert done.returncode == 2, done.stderr
        assert words in done.stderr and "Traceback" not in done.stderr
    assert _tags(pg_server, pg_url) == ["TH-001"]


def test_backup_without_pg_dump_names_the_package_and_writes_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    _lab(pg_url, tmp_path)
    empty = tmp_path / "no-tools"
    empty.mkdir()
    folder = tmp_path / "backups"
    done = _cli(
        pg_url, tmp_path, "db", "backup", "--to", str(folder), env={TOOL_DIR_ENV: str(empty)}
    )
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "pg_dump" in line and "apt-get install postgresql-client" in line
    assert list(folder.iterdir()) == []


def test_an_older_pg_dump_than_the_server_is_refused(pg_url: str, tmp_path: Path) -> None:
    _lab(pg_url, tmp_path)
    old = tmp_path / "old-tools"
    old.mkdir()
    fake = old / "pg_dump"
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    fake.chmod(0o755)
    done = _cli(
        pg_url, tmp_path, "db", "backup", "--to", str(tmp_path / "b"), env={TOOL_DIR_ENV: str(old)}
    )
    assert done.returncode == 2, done.stderr
    assert "PostgreSQL 9, older than the server" in done.stderr


def test_stats_on_a_server(pg_server: PgServer, pg_url: str, tmp_path: Path) -> None:
    _lab(pg_url, tmp_path, "TH-001")
    attachment = tmp_path / "cert.pdf"
    attachment.write_bytes(b"x" * 5000)
    _ok(_cli(pg_url, tmp_path, "attachments", "add", "TH-001", str(attachment)))
    stats = json.loads(_ok(_cli(pg_url, tmp_path, "db", "stats", "--json")))
    server = stats["server"]
    version = _sql(pg_server, pg_url, "SHOW server_version")
    assert server["server_version"] == version
    assert server["connections"] >= 1
    assert server["attachments_bytes"] == 5000
    assert server["database_size_bytes"] > sum(server["table_sizes"].values()) > 0
    assert server["table_sizes"]["attachment_chunk"] >= 5000
    text = _ok(_cli(pg_url, tmp_path, "db", "stats"))
    assert f"PostgreSQL {version}" in text
    assert "Connections" in text and "TABLE" in text and "SIZE" in text


def test_reports_on_a_server(pg_url: str, tmp_path: Path) -> None:
    _lab(pg_url, tmp_path, "TH-001", "TH-002")
    out = _ok(_cli(pg_url, tmp_path, "report", "history", "TH-001", "-o", "h.csv"))
    assert "wrote" in out
    assert "TH-001" in (tmp_path / "h.csv").read_text(encoding="utf-8-sig")
    _ok(_cli(pg_url, tmp_path, "report", "audit", "-o", "audit.pdf"))
    pdf = "".join(p.extract_text() for p in PdfReader(tmp_path / "audit.pdf").pages)
    assert "TH-002" in pdf


def test_labels_on_a_server(pg_url: str, tmp_path: Path) -> None:
    _lab(pg_url, tmp_path, "TH-001", "TH-002")
    out = _ok(_cli(pg_url, tmp_path, "labels", "--all", "--size", "dymo-99012", "-o", "l.pdf"))
    assert "wrote 2 labels" in out and "audit head #" in out
    assert len(PdfReader(tmp_path / "l.pdf").pages) == 2


def test_import_on_a_server_writes_all_rows_or_none(
    pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    _lab(pg_url, tmp_path, "TH-001")
    shutil.copy(DATA / "register-duplicates.csv", tmp_path / "r.csv")
    refused = _cli(pg_url, tmp_path, "import", "instruments", "r.csv")
    assert refused.returncode == 2  # a duplicate row: nothing written
    assert _tags(pg_server, pg_url) == ["TH-001"]
    saved = _ok(_cli(pg_url, tmp_path, "import", "instruments", "r.csv", "--exclude-line", "3-4"))
    assert "saved: 2 added" in saved
    assert _tags(pg_server, pg_url) == ["TH-001", "TH-100", "TH-102"]


def test_export_on_a_server(pg_url: str, tmp_path: Path) -> None:
    _lab(pg_url, tmp_path, "TH-001", "TH-002")
    _ok(_cli(pg_url, tmp_path, "export", "--format", "xlsx", "-o", "e.xlsx"))
    sheet = load_workbook(tmp_path / "e.xlsx").worksheets[0]
    tags = sorted(str(row[0]) for row in sheet.iter_rows(min_row=2, values_only=True))
    assert tags == ["TH-001", "TH-002"]


def test_backup_logs_in_as_the_url_or_service_says_without_a_password_on_argv(
    pg_server: PgServer, tmp_path: Path
) -> None:
    """A password-only login: pg_dump gets the URL's password through its environment,
    and with a service name reads the service file and ~/.pgpass as CalTrack does."""
    role, password = f"backup_{os.getpid()}", "pw-for-backup"
    pg_server.require_password(role, password)
    database = f"backup_pw_{os.getpid()}"
    pg_server.psql(f'ALTER ROLE "{role}" CREATEROLE')  # init makes the groups (README)
    pg_server.psql(f'CREATE DATABASE "{database}" OWNER "{role}"')
    with_password = (
        f"postgresql+psycopg://{role}:{password}@/{database}?host={pg_server.socket_dir}"
    )
    _lab(with_password, tmp_path, "TH-001")
    out = _ok(_cli(with_password, tmp_path, "db", "backup", "--to", str(tmp_path / "a")))
    assert password not in out
    [dump] = list((tmp_path / "a").iterdir())
    assert dump.stat().st_size > 0

    (tmp_path / "pg_service.conf").write_text(
        f"[lab]\nhost={pg_server.socket_dir}\ndbname={database}\nuser={role}\n"
    )
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"*:*:*:{role}:{password}\n")
    pgpass.chmod(0o600)
    env = {"PGSERVICEFILE": str(tmp_path / "pg_service.conf"), "PGPASSFILE": str(pgpass)}
    out = _ok(_cli("service=lab", tmp_path, "db", "backup", "--to", str(tmp_path / "b"), env=env))
    [dump] = list((tmp_path / "b").iterdir())
    assert dump.name.startswith("lab_") and "backup written to" in out


def test_a_backup_by_a_technician_is_refused_saying_who_makes_it(
    pg_url: str, tmp_path: Path
) -> None:
    """The groups may not read signing password hashes (0007): pg_dump as a technician
    would fail half-way in its own words; CalTrack says who makes backups instead."""
    _lab(pg_url, tmp_path, "TH-001")
    _ok(_cli(pg_url, tmp_path, "users", "set", "bob", "--role", "technician"))
    as_bob = pg_url.replace("caltrack@", "bob@", 1)
    line = assert_one_error_line(
        _cli(as_bob, tmp_path, "db", "backup", "--to", str(tmp_path / "b")), 8
    )
    assert "made by its owner (caltrack)" in line and "connected as bob" in line, line
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_a_save_after_the_safety_backup_stops_the_restore(
    pg_server: PgServer, pg_url: str, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    """The restore's transaction checks, under the chain lock every save takes, that the
    chain still ends where the backup of what it replaces ends; else nothing changes."""
    _lab(pg_url, tmp_path, "TH-001")
    backup_folder = tmp_path / "b"
    _ok(_cli(pg_url, tmp_path, "db", "backup", "--to", str(backup_folder)))
    [backup] = list(backup_folder.iterdir())
    _ok(_cli(pg_url, tmp_path, "instruments", "add", "--asset-tag", "TH-002", "--description", "x"))
    with open_caltrack(pg_url, identity=alice, clock=clock, state_dir=tmp_path / "s") as app:
        stale = _sql(pg_server, pg_url, "SELECT hash FROM audit_event WHERE id = 1")
        with pytest.raises(DatabaseBusyError, match="someone saved"):
            pg_tools.restore(
                app.database.engine, backup, chain_lock=CHAIN_LOCK_KEY, expect_head=stale
            )
    assert _tags(pg_server, pg_url) == ["TH-001", "TH-002"]
