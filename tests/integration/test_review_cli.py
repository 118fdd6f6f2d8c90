"""The QA review flag from the command line: separate processes, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.identity import Identity
from app.services.dto import InstrumentInput
from tests.integration.helpers import assert_one_error_line, fingerprint, open_lab, run_cli

REGISTER = (
    "Asset tag,Description,Last calibration,Next due\n"
    "OK-1,Thermometer,2024-01-10,2025-01-10\n"
    "BACK-2,Balance,2021-05-04,2019-03-01\n"
    "EPOCH-3,Pipette,1970-01-01,\n"
    "FUT-4,Gauge,2099-01-01,\n"
)
BACK = "next due 2019-03-01 is before the last calibration 2021-05-04"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result.stdout


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True):
        pass  # created by this OS user: its admin
    (tmp_path / "register.csv").write_text(REGISTER, encoding="utf-8")
    return db


def test_import_flags_by_default_and_lists_shows_and_clears(lab: Path) -> None:
    before = fingerprint(lab)
    dry = ok(run_cli(lab, "import", "instruments", "register.csv", "--dry-run"))
    assert fingerprint(lab) == before
    assert "rows: 4 (4 add, 0 update, 0 unchanged, 0 error, 0 excluded, 3 of them flagged" in dry
    assert f"note: line 3 (BACK-2): flagged for QA review: {BACK}" in dry
    report = json.loads(ok(run_cli(lab, "import", "instruments", "register.csv", "--json")))
    assert report["committed"] and report["counts"]["flagged"] == 3
    assert report["inconsistent"] == "flag"
    assert [r["review"] for r in report["rows"]][:2] == ["", BACK]

    listed = ok(run_cli(lab, "instruments", "list", "--status", "to-review"))
    assert "3 of 3 shown" in listed and "OK-1" not in listed
    shown = ok(run_cli(lab, "instruments", "show", "BACK-2"))
    assert f"Data to review: {BACK}" in shown
    assert "2019-03-01" in shown and "2021-05-04" in shown

    # A reason is required: argparse says so (exit 2), and blank is refused too.
    assert run_cli(lab, "instruments", "clear-review", "BACK-2").returncode == 2
    before = fingerprint(lab)
    line = assert_one_error_line(
        run_cli(lab, "instruments", "clear-review", "BACK-2", "--reason", "  "), 2
    )
    assert "required" in line
    assert fingerprint(lab) == before
    out = ok(
        run_cli(lab, "instruments", "clear-review", "BACK-2", "--reason", "certificate checked")
    )
    assert out.startswith("cleared the review flag of BACK-2")
    shown = ok(run_cli(lab, "instruments", "show", "BACK-2"))
    assert "Data to review" not in shown
    assert "clear review" in shown and "certificate checked" in shown
    line = assert_one_error_line(
        run_cli(lab, "instruments", "clear-review", "BACK-2", "--reason", "again"), 2
    )
    assert "no data flagged for review" in line
    assert assert_one_error_line(
        run_cli(lab, "instruments", "clear-review", "NOPE", "--reason", "x"), 2
    ).startswith("caltrack: ")
    stale = run_cli(
        lab, "instruments", "clear-review", "EPOCH-3", "--reason", "x", "--expect-version", "9"
    )
    assert_one_error_line(stale, 3)


def test_leave_out_and_a_bad_choice(lab: Path) -> None:
    bad = run_cli(lab, "import", "instruments", "register.csv", "--inconsistent", "maybe")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    out = ok(run_cli(lab, "import", "instruments", "register.csv", "--inconsistent", "leave-out"))
    assert "rows: 4 (1 add, 0 update, 0 unchanged, 0 error, 3 excluded)" in out
    assert f"note: line 3 (BACK-2): left out (its dates contradict each other): {BACK}" in out
    counts = json.loads(ok(run_cli(lab, "instruments", "counts", "--json")))
    assert (counts["all"], counts["to-review"]) == (1, 0)


def test_only_qa_clears_a_technician_may_flag(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    # Created by someone else: this OS user has no account, so it is a technician.
    with open_lab(db, create=True, identity=Identity(user="alice", machine="PC-1")) as app:
        app.instruments.add(InstrumentInput(asset_tag="TH-1", description="Thermometer"))
    flagged = ok(run_cli(db, "instruments", "flag-review", "TH-1", "--reason", "seal broken"))
    assert flagged == "flagged TH-1 for QA review: seal broken\n"
    before = fingerprint(db)
    line = assert_one_error_line(
        run_cli(db, "instruments", "clear-review", "TH-1", "--reason", "fine"), 8
    )
    assert "only QA reviewers may clear" in line
    assert fingerprint(db) == before
