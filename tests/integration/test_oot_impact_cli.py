"""The OOT impact on the command line, as real processes: `oot show` and `oot impact`
list the verdicts a failed standard's error changes, `oot follow-up` opens cases from
the list; bad input exits 2 with one line and opens nothing. The lab and its numbers:
tests/unit/impact_helpers.py."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.clock import FixedClock
from app.identity import get_current_user_id
from tests.conftest import is_server
from tests.integration.helpers import assert_one_error_line, count, open_lab, run_cli
from tests.unit.impact_helpers import FLIPS, FailedStandard, build_failed_standard


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


@pytest.fixture
def lab(db_url: str, clock: FixedClock) -> tuple[str, FailedStandard, int]:
    """The failed standard's lab, made by whoever runs the CLI (an admin), and its case."""
    creator = None if is_server(db_url) else get_current_user_id()
    with open_lab(db_url, create=True, identity=creator, clock=clock) as app:
        built = build_failed_standard(app)
        case_id = app.oot.list(status="open")[0].id
    return db_url, built, case_id


def test_show_and_impact_list_the_verdicts_that_would_change(
    lab: tuple[str, FailedStandard, int],
) -> None:
    db, built, case_id = lab
    shown = ok(run_cli(db, "oot", "show", f"OOT-{case_id}"))
    assert "Impact of STD-1's as-found error (computed now)" in shown
    assert "Errors   0 °C: +0.1; 100 °C: +0.3 (calibration #" in shown
    assert "Verdicts that would change (4)" in shown
    assert (
        f"  TH-A #{built.records['TH-A']} point 1 as found: pass → fail "
        "(100.1 → 100.4 °C, error +0.3)"
    ) in shown.splitlines()
    assert "not comparable: the standard's failing calibration has no as-found" in shown

    listed = json.loads(ok(run_cli(db, "oot", "impact", str(case_id), "--json")))
    flipped = {(r["asset_tag"], r["seq"], r["reading"]) for r in listed["rows"] if r["flips"]}
    assert flipped == FLIPS
    assert listed["frozen"] is False and listed["standard_tag"] == "STD-1"


def test_follow_up_opens_a_case_per_flipped_instrument_once(
    lab: tuple[str, FailedStandard, int],
) -> None:
    db, built, case_id = lab
    before = count(db, "oot_case")
    for bad in (
        ("oot", "follow-up", str(case_id)),  # neither --tag nor --all-flipped
        ("oot", "follow-up", str(case_id), "--tag", "TH-A", "--all-flipped"),
        ("oot", "follow-up", str(case_id), "--tag", "TH-D"),  # not on the list
        ("oot", "follow-up", "OOT-x", "--all-flipped"),
        ("oot", "impact", "twelve"),
    ):
        assert_one_error_line(run_cli(db, *bad), 2)
    assert count(db, "oot_case") == before

    opened = ok(run_cli(db, "oot", "follow-up", f"OOT-{case_id}", "--all-flipped"))
    lines = opened.splitlines()
    assert len(lines) == 2 and all(f"following OOT-{case_id}" in line for line in lines)
    assert f"for TH-A (calibration #{built.records['TH-A']})" in lines[0] + lines[1]
    assert count(db, "oot_case") == before + 2
    again = ok(run_cli(db, "oot", "follow-up", str(case_id), "--all-flipped"))
    assert [line.split(":")[0] for line in again.splitlines()] == ["skipped TH-A", "skipped TH-B"]
    assert count(db, "oot_case") == before + 2
    new_id = int(lines[0].split()[0].removeprefix("OOT-"))
    follow = ok(run_cli(db, "oot", "show", str(new_id)))
    assert [line.split() for line in follow.splitlines() if line.startswith("Follows")] == [
        ["Follows", f"OOT-{case_id}"]
    ]
    ok(run_cli(db, "db", "verify"))  # the new cases replay from the audit trail


def test_the_oot_log_carries_the_impact_when_asked(
    lab: tuple[str, FailedStandard, int], tmp_path: Path
) -> None:
    db, _, case_id = lab
    out = tmp_path / "oot.xlsx"
    ok(run_cli(db, "report", "oot", "--impact", "-o", str(out)))
    sheet = load_workbook(out)["OOT impact"]
    table = [[c.value for c in row] for row in sheet.iter_rows()]
    header, rows = table[0], table[1 : table.index([None] * len(table[0]))]
    assert header[:6] == ["Case", "Standard", "Record", "Instrument", "Performed on", "Point"]
    assert {(r[3], r[5], r[8], r[12], r[13]) for r in rows} == {
        (tag, seq, kind.replace("_", " "), "pass", "fail") for tag, seq, kind in FLIPS
    }
    assert {r[0] for r in rows} == {case_id}
    ok(run_cli(db, "report", "oot", "-o", str(tmp_path / "plain.xlsx")))
    assert "OOT impact" not in load_workbook(tmp_path / "plain.xlsx").sheetnames
