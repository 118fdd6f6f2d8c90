"""The CLI end to end: every command is a separate ``python -m app`` process.

The demo database the module shares is made by the CLI on each backend (``backend`` is
module-scoped here): a real file, and a database on this run's PostgreSQL server.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.db.migrate import head_revision
from app.services.dto import InstrumentInput
from tests.conftest import BACKENDS, ServerUrl
from tests.integration.helpers import (
    assert_one_error_line,
    count,
    fingerprint,
    open_lab,
    query,
    run_cli,
    run_cli_many,
    side_by_side,
)
from tests.pg_server import PgServer

DEMO_SIZE = 30
STATUSES = ("ok", "due-soon", "overdue", "out-of-service", "retired", "lost")


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result).stdout)


def copy_db(source: Path, target: Path) -> Path:
    """A consistent copy through the backup API (never a file copy of a WAL database)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


# -- a demo database made by the CLI, shared read-only by this module -----------------


@dataclass(frozen=True)
class Demo:
    db: Path | str
    init: subprocess.CompletedProcess[str]
    demo: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """This module's backend: the shared demo database is made once on each."""
    return str(request.param)


def _copy(demo: Demo, folder: Path, request: pytest.FixtureRequest) -> Path | str:
    """A copy of the demo database of one's own in ``folder``: a file, or a server copy."""
    if isinstance(demo.db, Path):
        return copy_db(demo.db, folder / "lab.db")
    server: PgServer = request.getfixturevalue("pg_server")
    copied = server.new_database(template=server.database_name(demo.db))
    request.addfinalizer(lambda: server.drop_database(copied))
    return ServerUrl(copied, folder / "state")


@pytest.fixture(scope="module")
def demo(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    db: Path | str = folder / "lab.db"
    if backend == "postgresql":
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.new_database()
        request.addfinalizer(lambda: server.drop_database(url))
        db = ServerUrl(url, folder / "state")
    init = run_cli(db, "init")
    made = run_cli(db, "demo", "--instruments", str(DEMO_SIZE), "--seed", "3")
    return Demo(db, init, made)


@pytest.fixture
def lab(demo: Demo, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """This test's own copy of the demo database, to change at will."""
    ok(demo.init)
    ok(demo.demo)
    return _copy(demo, tmp_path, request)


def test_init_and_demo(demo: Demo) -> None:
    ok(demo.init)
    assert f"ready at {demo.db}" in demo.init.stdout
    if isinstance(demo.db, Path):
        assert "journal wal" in demo.init.stdout
    ok(demo.demo)
    assert demo.demo.stdout.startswith(f"added {DEMO_SIZE} instruments")
    assert count(demo.db, "instrument") == DEMO_SIZE
    # Demo data is audited like any other change.
    assert count(demo.db, "audit_event") >= DEMO_SIZE


# -- reads: run side by side once, checked one concern per test ---------------------


@dataclass(frozen=True)
class Reads:
    search_term: str
    expected_tag: str
    listed: Any
    counts: Any
    overdue: Any
    searched: Any
    stats: Any


@pytest.fixture(scope="module")
def reads(demo: Demo) -> Reads:
    ok(demo.demo)
    tag, serial = query(demo.db, "SELECT asset_tag, serial_number FROM instrument WHERE id = 7")[0]
    term = str(serial)[1:-1].lower()  # part of a serial number, in the wrong case
    results = run_cli_many(
        demo.db,
        [
            ("instruments", "list", "--json", "--limit", "0"),
            ("instruments", "counts", "--json"),
            ("instruments", "list", "--status", "overdue", "--json", "--limit", "0"),
            ("instruments", "list", "--search", term, "--json", "--limit", "0"),
            ("db", "stats", "--json"),
        ],
    )
    listed, counts, overdue, searched, stats = (ok_json(r) for r in results)
    return Reads(term, str(tag), listed, counts, overdue, searched, stats)


def test_list_json(reads: Reads) -> None:
    assert reads.listed["total"] == DEMO_SIZE
    rows = reads.listed["instruments"]
    assert len(rows) == DEMO_SIZE
    assert len({r["asset_tag"] for r in rows}) == DEMO_SIZE
    assert {r["due_status"] for r in rows} <= set(STATUSES)


def test_status_filter_agrees_with_counts(reads: Reads) -> None:
    counts = reads.counts
    assert counts["all"] == DEMO_SIZE
    assert sum(counts[s] for s in STATUSES) == DEMO_SIZE
    overdue = reads.overdue["instruments"]
    assert reads.overdue["total"] == counts["overdue"] == len(overdue)
    assert all(r["due_status"] == "overdue" for r in overdue)
    by_status = [
        r["asset_tag"] for r in reads.listed["instruments"] if r["due_status"] == "overdue"
    ]
    assert sorted(by_status) == sorted(r["asset_tag"] for r in overdue)


def test_search(reads: Reads) -> None:
    found = reads.searched["instruments"]
    assert reads.expected_tag in {r["asset_tag"] for r in found}
    assert reads.searched["total"] == len(found) < DEMO_SIZE
    fields = ("asset_tag", "description", "serial_number", "manufacturer", "model")
    for row in found:
        assert any(reads.search_term in str(row[f]).casefold() for f in fields), row


@pytest.mark.sqlite_only("a file's stats (journal, file size); a server's: test_server_commands.py")
def test_db_stats_json(reads: Reads, demo: Demo) -> None:
    stats = reads.stats
    assert stats["schema_revision"] == stats["schema_head"] == head_revision()
    assert stats["journal_mode"] == "wal"  # tmp_path is on local disk
    assert stats["path"] == str(demo.db)
    tables = {t["name"]: t["rows"] for t in stats["tables"]}
    assert tables["instrument"] == DEMO_SIZE
    assert tables["alembic_version"] == 1
    for name in ("calibration_record", "measurement_point", "audit_event", "meta", "attachment"):
        assert tables[name] == count(demo.db, name)
    indexes = {t["name"]: t["indexes"] for t in stats["tables"]}
    assert "ix_instrument_next_due" in indexes["instrument"]


# -- writes ------------------------------------------------------------------------


def test_add_show_edit(lab: Path | str) -> None:
    events = count(lab, "audit_event")
    added = ok_json(
        run_cli(
            lab,
            "instruments",
            "add",
            "--asset-tag",
            "CLI-001",
            "--description",
            "Pressure gauge",
            "--manufacturer",
            "WIKA",
            "--interval-days",
            "180",
            "--json",
        )
    )
    assert (added["asset_tag"], added["description"], added["version"]) == (
        "CLI-001",
        "Pressure gauge",
        1,
    )
    assert added["calibration_interval_days"] == 180

    edited = ok_json(
        run_cli(
            lab,
            "instruments",
            "edit",
            "cli-001",  # tags are found ignoring case
            "--location",
            "Lab 4",
            "--expect-version",
            "1",
            "--reason",
            "moved",
            "--json",
        )
    )
    assert edited["location"] == "Lab 4" and edited["version"] > 1

    shown = ok_json(run_cli(lab, "instruments", "show", "CLI-001", "--json"))
    assert shown["instrument"]["location"] == "Lab 4"
    assert shown["instrument"]["manufacturer"] == "WIKA"
    assert [(e["action"], e["reason"]) for e in shown["audit"]] == [
        ("create", ""),
        ("update", "moved"),
    ]
    assert shown["audit"][1]["changes"] == {"location": ["", "Lab 4"]}
    assert count(lab, "audit_event") == events + 2


def test_calibration_with_points_and_standards(lab: Path | str) -> None:
    rows = query(lab, "SELECT asset_tag FROM instrument WHERE status = 'in_service' ORDER BY id")
    tag, standard = str(rows[0][0]), str(rows[1][0])
    recorded = ok_json(
        run_cli(
            lab,
            "calibrations",
            "add",
            tag,
            "--performed-on",
            "2026-11-20",
            "--result",
            "adjusted",
            "--point",
            "20:20.3:20.01:0.05:°C",
            "--point",
            "50:50.02:50.01:0.05:°C",
            "--standard",
            standard.lower(),
            "--certificate",
            "C-2026-77",
            "--json",
        )
    )
    assert recorded["asset_tag"] == tag and recorded["result"] == "adjusted"
    assert recorded["standards"] == [standard]
    assert recorded["certificate_number"] == "C-2026-77"
    points = [(p["nominal"], p["as_found_pass"], p["as_left_pass"]) for p in recorded["points"]]
    assert points == [(20.0, False, True), (50.0, True, True)]
    assert [p["unit"] for p in recorded["points"]] == ["°C", "°C"]

    assert query(lab, "SELECT COUNT(*) FROM measurement_point WHERE record_id=?", [recorded["id"]])[
        0
    ] == (2,)
    # A server hands back dates, SQLite the ISO text it stores: the same day either way.
    dates = query(lab, "SELECT last_calibrated, next_due FROM instrument WHERE asset_tag=?", [tag])
    assert tuple(str(d) for d in dates[0]) == ("2026-11-20", recorded["next_due"])


def test_attachments_add_list_export(lab: Path, tmp_path: Path) -> None:
    tag = str(query(lab, "SELECT asset_tag FROM instrument ORDER BY id LIMIT 1")[0][0])
    source = tmp_path / "Calibration certificate.pdf"
    content = b"%PDF-1.7 " + bytes(range(256)) * 100
    source.write_bytes(content)

    view = ok_json(run_cli(lab, "attachments", "add", tag, str(source), "--json"))
    assert view["original_name"] == source.name
    assert view["size_bytes"] == len(content)
    assert view["sha256"] == hashlib.sha256(content).hexdigest()
    if isinstance(lab, Path):  # a server keeps the content in the database
        stored = lab.parent / "lab.db-attachments" / view["stored_name"]
        assert stored.read_bytes() == content

    folder = tmp_path / "out"
    folder.mkdir()
    named = tmp_path / "copy.pdf"
    precious = tmp_path / "precious.pdf"
    precious.write_bytes(b"do not overwrite")
    before = fingerprint(lab)
    listed, into_folder, to_file, refused = run_cli_many(
        lab,
        [
            ("attachments", "list", tag, "--json"),
            ("attachments", "export", str(view["id"]), str(folder)),
            ("attachments", "export", str(view["id"]), str(named)),
            ("attachments", "export", str(view["id"]), str(precious)),
        ],
    )
    assert [a["id"] for a in ok_json(listed)] == [view["id"]]
    assert str(folder / source.name) in ok(into_folder).stdout
    assert str(named) in ok(to_file).stdout
    assert (folder / source.name).read_bytes() == content
    assert named.read_bytes() == content

    # Exporting onto an existing file refuses and leaves the file alone.
    line = assert_one_error_line(refused, 2)
    assert "already exists" in line and str(precious) in line
    assert precious.read_bytes() == b"do not overwrite"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pdf") == [
        "Calibration certificate.pdf",
        "copy.pdf",
        "precious.pdf",
    ]
    assert fingerprint(lab) == before


@pytest.mark.sqlite_only(
    "a backup is a copy of the file; a server's pg_dump backup: test_server_commands.py"
)
def test_backup_restore_checkpoint(lab: Path) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    made = ok(run_cli(lab, "db", "backup", "nightly"))
    finished = datetime.now(UTC)
    backups = sorted((lab.parent / "backups").iterdir())
    assert len(backups) == 1
    backup = backups[0]
    assert str(backup) in made.stdout
    match = re.fullmatch(r"lab_(\d{8}T\d{6}Z)_nightly\.db", backup.name)
    assert match, backup.name
    stamp = datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert started <= stamp <= finished  # named by the UTC time it was taken
    conn = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM instrument").fetchone() == (DEMO_SIZE,)
        newest = conn.execute("SELECT id, hash FROM audit_event ORDER BY id DESC").fetchone()
    finally:
        conn.close()
    # The audit head the backup holds is printed: a later check can compare the chains.
    assert f"(audit head #{newest[0]} {newest[1][:12]}…)" in made.stdout
    assert not backup.with_name(backup.name + "-wal").exists()
    backed_up = fingerprint(lab)

    # Change the data after the backup, then go back to it.
    with open_lab(lab) as app:
        app.instruments.add(
            InstrumentInput(asset_tag="AFTER-1", description="added after the backup")
        )
    assert count(lab, "instrument") == DEMO_SIZE + 1

    restored = ok(run_cli(lab, "db", "restore", str(backup)))
    assert count(lab, "instrument") == DEMO_SIZE
    # The backed-up data is back, with one audit event more that records the restore,
    # chained onto the backup's trail.
    restored_print = fingerprint(lab)
    assert restored_print[:3] == backed_up[:3]
    assert restored_print[3] == backed_up[3] + 1
    last = query(
        lab, "SELECT entity_type, action, prev_hash FROM audit_event ORDER BY id DESC LIMIT 1"
    )
    assert last == [("database", "restore", backed_up[4])]
    safety = [p for p in (lab.parent / "backups").iterdir() if p != backup]
    assert len(safety) == 1 and re.fullmatch(r"lab_\d{8}T\d{6}Z_before-restore\.db", safety[0].name)
    assert str(safety[0]) in restored.stdout
    assert count(safety[0], "instrument") == DEMO_SIZE + 1  # what was replaced is kept
    with open_lab(lab, edit=False) as app:
        assert app.maintenance.verify().problems == []
        assert app.database.journal_mode() == "wal"

    checkpointed = ok(run_cli(lab, "db", "checkpoint"))
    assert checkpointed.stdout.startswith("checkpoint done")


# -- bad input: exit 2, one line, nothing changed ----------------------------------

ERROR_CASES: dict[str, tuple[tuple[str, ...], str]] = {
    "malformed date": (
        ("calibrations", "add", "{tag}", "--performed-on", "2026-02-30", "--result", "pass"),
        "--performed-on",
    ),
    "300-character tag": (
        ("instruments", "add", "--asset-tag", "T" * 300, "--description", "too long"),
        "--asset-tag",
    ),
    "duplicate tag ignoring case": (
        ("instruments", "add", "--asset-tag", "{tag_lower}", "--description", "twin"),
        "already used",
    ),
    "attach a missing file": (
        ("attachments", "add", "{tag}", "{missing_file}"),
        "no file at",
    ),
    "non-numeric point": (
        (
            "calibrations",
            "add",
            "{tag}",
            "--performed-on",
            "2026-11-20",
            "--result",
            "pass",
            "--point",
            "20:twenty:20:0.1",
        ),
        "--point",
    ),
    "unknown status filter": (
        ("instruments", "list", "--status", "broken"),
        "--status",
    ),
}


@dataclass(frozen=True)
class ErrorRun:
    db: Path | str
    before: tuple[int, int, int, int, str | None]
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def error_runs(
    demo: Demo, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, ErrorRun]:
    """Every bad command on its own copy of the demo database, side by side."""
    ok(demo.demo)
    tag = str(query(demo.db, "SELECT asset_tag FROM instrument ORDER BY id LIMIT 1")[0][0])
    root = tmp_path_factory.mktemp("errors")
    values = {"tag": tag, "tag_lower": tag.lower(), "missing_file": str(root / "nope.pdf")}
    dbs: dict[str, Path | str] = {}
    for number, name in enumerate(ERROR_CASES):
        folder = root / f"case{number}"
        folder.mkdir()
        dbs[name] = _copy(demo, folder, request)
    before = {name: fingerprint(db) for name, db in dbs.items()}
    with_values = {
        name: tuple(a.format(**values) for a in args) for name, (args, _) in ERROR_CASES.items()
    }

    names = list(ERROR_CASES)
    outcomes = side_by_side(lambda name: run_cli(dbs[name], *with_values[name]), names)
    results = dict(zip(names, outcomes, strict=True))
    return {name: ErrorRun(dbs[name], before[name], results[name]) for name in ERROR_CASES}


@pytest.mark.parametrize(
    "case",
    list(ERROR_CASES),
)
def test_bad_input_exits_2_with_one_line(case: str, error_runs: dict[str, ErrorRun]) -> None:
    run = error_runs[case]
    line = assert_one_error_line(run.result, 2)
    assert ERROR_CASES[case][1] in line, line
    assert run.result.stdout == ""
    assert fingerprint(run.db) == run.before
    if isinstance(run.db, Path):
        attachments = run.db.with_name("lab.db-attachments")
        assert not attachments.exists() or list(attachments.iterdir()) == []


def _epoch(db: Path) -> int:
    return int(str(query(db, "SELECT value FROM meta WHERE key = 'lock_epoch'")[0][0]))


def test_restore_keeps_the_fencing_epoch_moving_forward(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True) as app:
        app.instruments.add(InstrumentInput(asset_tag="E-1", description="before the backup"))
        backup = app.maintenance.backup("epoch")
    with open_lab(db) as app:  # a later editing session: a newer epoch
        epoch_before = _epoch(db)
        assert app.session.epoch == epoch_before
        app.maintenance.restore(backup)
        assert _epoch(db) >= epoch_before, "the lock epoch went backwards"
        # The admin who restored keeps editing the restored data.
        app.instruments.add(InstrumentInput(asset_tag="E-2", description="after the restore"))
    assert count(db, "instrument") == 2
