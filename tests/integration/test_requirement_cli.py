"""The calibration requirement from the CLI: separate processes on a real file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import add_thermometer
from tests.integration.helpers import assert_one_error_line, fingerprint, open_lab, query, run_cli


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True) as app:
        add_thermometer(app, "TH-001")
    return db


def test_add_not_required_without_reason_is_refused(lab: Path) -> None:
    before = fingerprint(lab)
    result = run_cli(
        lab, "instruments", "add", "--asset-tag", "REF-1", "--description", "Gauge block",
        "--requirement", "not-required",
    )  # fmt: skip
    line = assert_one_error_line(result, 2)
    assert line.startswith("caltrack: --requirement-reason: give the reason calibration is not")
    assert fingerprint(lab) == before


def test_add_edit_list_and_show(lab: Path) -> None:
    ok(
        run_cli(
            lab, "instruments", "add", "--asset-tag", "REF-1", "--description", "Gauge block",
            "--requirement", "not_required", "--requirement-reason", "reference only",
        )
    )  # fmt: skip
    # A switch without a reason: refused, nothing written.
    before = fingerprint(lab)
    result = run_cli(lab, "instruments", "edit", "TH-001", "--requirement", "verify-before-use")
    line = assert_one_error_line(result, 2)
    assert "needs a reason" in line
    assert fingerprint(lab) == before
    ok(
        run_cli(
            lab, "instruments", "edit", "TH-001", "--requirement", "verify-before-use",
            "--reason", "checked against the reference before each use",
        )
    )  # fmt: skip
    listed = json.loads(
        ok(run_cli(lab, "instruments", "list", "--status", "not-required", "--json")).stdout
    )
    assert [r["asset_tag"] for r in listed["instruments"]] == ["REF-1"]
    vbu = ok(run_cli(lab, "instruments", "list", "--status", "verify-before-use")).stdout
    assert "TH-001" in vbu and "REF-1" not in vbu
    shown = ok(run_cli(lab, "instruments", "show", "REF-1")).stdout
    assert "calibration not required (reference only)" in shown
    stored = query(
        lab,
        "SELECT asset_tag, calibration_requirement, requirement_reason, next_due "
        "FROM instrument ORDER BY asset_tag",
    )
    assert stored == [
        ("REF-1", "not_required", "reference only", None),
        ("TH-001", "verify_before_use", "", None),
    ]
    [(reason,)] = query(
        lab,
        "SELECT reason FROM audit_event WHERE entity_type = 'instrument' "
        "AND action = 'update' ORDER BY id DESC LIMIT 1",
    )
    assert reason == "checked against the reference before each use"
    counts = json.loads(ok(run_cli(lab, "instruments", "counts", "--json")).stdout)
    assert counts["not-required"] == 1 and counts["verify-before-use"] == 1
    ok(run_cli(lab, "db", "verify"))


def test_a_bad_requirement_is_a_usage_error(lab: Path) -> None:
    result = run_cli(lab, "instruments", "edit", "TH-001", "--requirement", "sometimes")
    line = assert_one_error_line(result, 2)
    assert "periodic, verify_before_use, not_required" in line


def test_import_maps_zero_intervals_from_the_command_line(lab: Path, tmp_path: Path) -> None:
    path = tmp_path / "reg.csv"
    path.write_text(
        "Asset tag,Description,Frequency\nG-1,Caliper,365\nG-2,Scope probe,0\nG-3,Spare,0\n",
        encoding="utf-8",
    )
    before = fingerprint(lab)
    refused = run_cli(
        lab, "import", "instruments", "reg.csv", "--map", "Frequency=calibration_interval_days"
    )
    line = assert_one_error_line(refused, 2)
    assert "column 'Frequency': '0' (2 rows)" in line
    assert fingerprint(lab) == before
    ok(
        run_cli(
            lab, "import", "instruments", "reg.csv", "--map",
            "Frequency=calibration_interval_days", "--value", "Frequency:0=not_required",
        )
    )  # fmt: skip
    assert query(
        lab,
        "SELECT asset_tag, calibration_requirement, requirement_reason FROM instrument "
        "WHERE asset_tag LIKE 'G-%' ORDER BY asset_tag",
    ) == [
        ("G-1", "periodic", ""),
        ("G-2", "not_required", "interval 0 in the imported register"),
        ("G-3", "not_required", "interval 0 in the imported register"),
    ]
