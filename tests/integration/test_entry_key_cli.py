"""``calibrations add`` with an entry key: a script's retry records the calibration once;
``db copy`` carries the keys, so a retry against the moved lab is still recognised."""

from __future__ import annotations

import subprocess
from pathlib import Path

from app.clock import FixedClock
from app.identity import Identity
from app.services.dto import CalibrationInput, PointInput
from tests.conftest import add_thermometer
from tests.integration.helpers import assert_one_error_line, count, open_lab, query, run_cli

KEY = "0d9c3a4e-2b1f-4e8a-9c7d-5a6b7c8d9e0f"
ADD = (
    "calibrations",
    "add",
    "TH-001",
    "--performed-on",
    "2026-03-01",
    "--result",
    "pass",
    "--certificate",
    "C-77",
    "--point",
    "20:20.1:20.1:0.5:°C",
)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def lab(db_url: str, clock: FixedClock, alice: Identity) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app)


def test_a_retried_add_with_its_entry_key_records_the_calibration_once(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    lab(db_url, clock, alice)
    first = ok(run_cli(db_url, *ADD, "--entry-key", KEY))
    assert first.startswith("recorded calibration #")
    events = count(db_url, "audit_event")
    again = ok(run_cli(db_url, *ADD, "--entry-key", KEY))
    assert again.startswith("already recorded: calibration #") and "nothing was written" in again
    assert count(db_url, "calibration_record") == 1
    assert count(db_url, "audit_event") == events
    assert query(db_url, "SELECT entry_key FROM calibration_record") == [(KEY,)]

    other = run_cli(db_url, *ADD[:-4], "--certificate", "C-78", "--entry-key", KEY)
    line = assert_one_error_line(other, 2)
    assert "other content" in line
    assert count(db_url, "calibration_record") == 1


def test_each_add_without_a_key_is_its_own_entry(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    lab(db_url, clock, alice)
    ok(run_cli(db_url, *ADD))
    ok(run_cli(db_url, *ADD))
    keys = [k for (k,) in query(db_url, "SELECT entry_key FROM calibration_record")]
    assert len(keys) == 2 and len(set(keys)) == 2 and all(isinstance(k, str) for k in keys)


def test_db_copy_carries_the_entry_keys(
    tmp_path: Path, pg_url: str, clock: FixedClock, alice: Identity
) -> None:
    source = tmp_path / "lab.db"
    with open_lab(source, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app)
        data = CalibrationInput(
            performed_on="2026-03-01",
            result="pass",
            points=(PointInput(20.0, 20.1, 20.1, 0.5),),
            entry_key=KEY,
        )
        recorded = app.calibrations.add("TH-001", data)
        app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-02-01", result="pass"))
    ok(run_cli(source, "db", "copy", "--to", pg_url))
    assert sorted(query(pg_url, "SELECT id, entry_key FROM calibration_record"), key=str) == [
        (recorded.id, KEY),
        (recorded.id + 1, None),
    ]
    ok(run_cli(pg_url, "db", "verify", "--deep", cwd=tmp_path))
    with open_lab(pg_url, identity=alice, clock=clock) as app:
        again = app.calibrations.add("TH-001", data)
        assert (again.id, again.already_saved) == (recorded.id, True)
    assert count(pg_url, "calibration_record") == 2
