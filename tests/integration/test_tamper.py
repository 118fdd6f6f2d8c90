"""`db verify` catches changes made behind CalTrack's back with the real tools: the sqlite3
program on a shared file, psql (as the server's superuser) on a server database."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.clock import FixedClock
from app.errors import NotFoundError
from app.identity import Identity
from app.services.dto import CalibrationInput, InstrumentChanges, PointInput
from tests.conftest import add_thermometer, is_server
from tests.integration.helpers import open_lab, run_cli, scalar
from tests.pg_server import PgServer

SQLITE3 = shutil.which("sqlite3")
ATTACHMENT_FILES = (
    "the attachments folder beside the database file; on a server the content is chunks in "
    "the database (test_server_attachments changes one)"
)

CERT = b"%PDF-1.7 calibration certificate " + bytes(range(256)) * 40


@dataclass(frozen=True)
class Lab:
    db: str
    probe_id: int
    cert_stored_name: str
    outside: Callable[[str], None]  # runs SQL with the real tool, past CalTrack


@pytest.fixture
def lab(
    db_url: str,
    clock: FixedClock,
    alice: Identity,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Lab:
    """Two instruments, a calibration with readings, an attached certificate."""
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app, "TH-001")
        add_thermometer(app, "PR-002", description="Reference probe")
        app.calibrations.add("PR-002", CalibrationInput(performed_on="2026-06-01", result="pass"))
        app.calibrations.add(
            "TH-001",
            CalibrationInput(
                performed_on="2026-11-20",
                result="pass",
                points=(PointInput(20.0, 20.01, 20.01, 0.05, "°C"),),
                standards=("PR-002",),
            ),
        )
        app.instruments.edit("PR-002", InstrumentChanges(location="Metrology room"))
        source = tmp_path / "cert.pdf"
        source.write_bytes(CERT)
        stored = app.attachments.add("TH-001", source).stored_name
        probe_id = app.instruments.get("PR-002").id
    return Lab(db_url, probe_id, stored, outside_caltrack(db_url, request))


def outside_caltrack(db: str, request: pytest.FixtureRequest) -> Callable[[str], None]:
    """What runs SQL on ``db`` with the real tool: sqlite3 on a file, psql on a server."""
    if not is_server(db):
        if SQLITE3 is None:
            pytest.skip("the sqlite3 command-line tool is not installed (apt install sqlite3)")
        return lambda sql: sqlite3_cli(Path(db), sql)
    server: PgServer = request.getfixturevalue("pg_server")
    database = server.database_name(db)

    def psql(sql: str) -> None:
        server.psql(sql, database)

    return psql


def sqlite3_cli(db: Path, sql: str) -> None:
    """Change the file with the real sqlite3 program, as someone outside CalTrack would."""
    assert SQLITE3 is not None
    done = subprocess.run(
        [SQLITE3, "-bail", str(db), sql], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr


def problems_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("PROBLEM: ")]


def test_clean_database_verifies(lab: Lab) -> None:
    result = run_cli(lab.db, "db", "verify", "--deep")
    assert result.returncode == 0, result.stdout + result.stderr
    assert problems_of(result) == []
    last = result.stdout.splitlines()[-1]
    assert last.startswith("clean: ") and "1 attachments with hashes" in last


def test_row_changed_outside_caltrack(lab: Lab) -> None:
    lab.outside("UPDATE instrument SET description='x' WHERE asset_tag='PR-002'")
    result = run_cli(lab.db, "db", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    found = problems_of(result)
    assert len(found) == 1, found
    assert f"(#{lab.probe_id})" in found[0]
    assert "description" in found[0] and "outside CalTrack" in found[0]


def test_audit_event_changes_edited(lab: Lab) -> None:
    first = scalar(lab.db, "SELECT MIN(id) FROM audit_event WHERE entity_type = 'instrument'")
    lab.outside(
        "UPDATE audit_event SET changes = replace(changes, 'Digital thermometer', "
        f"'Analog thermometer') WHERE id = {first}",
    )
    result = run_cli(lab.db, "db", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    found = problems_of(result)
    assert any(f"audit event #{first} " in p and "hash does not match" in p for p in found), found


def test_last_audit_event_deleted(lab: Lab) -> None:
    lab.outside("DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)")
    result = run_cli(lab.db, "db", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert any("newest audit events are missing" in p for p in problems_of(result))


def test_middle_audit_event_deleted(lab: Lab) -> None:
    lab.outside("DELETE FROM audit_event WHERE id = 2")
    result = run_cli(lab.db, "db", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    assert any("audit event #3 does not follow" in p for p in problems_of(result))


@pytest.mark.sqlite_only(ATTACHMENT_FILES)
def test_attachment_file_deleted(lab: Lab) -> None:
    (Path(lab.db).parent / "lab.db-attachments" / lab.cert_stored_name).unlink()
    result = run_cli(lab.db, "db", "verify")
    assert result.returncode == 1, result.stdout + result.stderr
    found = problems_of(result)
    assert len(found) == 1, found
    assert lab.cert_stored_name in found[0] and "cert.pdf" in found[0] and "missing" in found[0]


@pytest.mark.sqlite_only(ATTACHMENT_FILES)
def test_attachment_content_changed_same_size(lab: Lab) -> None:
    stored = Path(lab.db).parent / "lab.db-attachments" / lab.cert_stored_name
    forged = CERT.replace(b"calibration", b"CALIBRATION")
    assert len(forged) == len(CERT) and forged != CERT
    stored.write_bytes(forged)

    deep = run_cli(lab.db, "db", "verify", "--deep")
    assert deep.returncode == 1, deep.stdout + deep.stderr
    found = problems_of(deep)
    assert len(found) == 1, found
    assert lab.cert_stored_name in found[0] and "sha256" in found[0]


def test_lookup_key_changed_outside_caltrack(lab: Lab, clock: FixedClock, alice: Identity) -> None:
    lab.outside("UPDATE instrument SET asset_tag_key='HIDDEN' WHERE asset_tag='PR-002'")
    with open_lab(lab.db, edit=False, identity=alice, clock=clock) as app:
        # The damage is real: the instrument can no longer be found by its tag...
        with pytest.raises(NotFoundError):
            app.instruments.get("PR-002")
        # ...so verify must report it.
        problems = app.maintenance.verify().problems
    assert any(f"(#{lab.probe_id})" in p for p in problems), problems
