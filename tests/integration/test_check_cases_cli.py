"""A failing intermediate check opens an out-of-tolerance case, through the CLI on a real
file (issue 15): one child process runs the story through the CLI's own entry point."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import add_thermometer
from tests.integration.helpers import home_for, open_lab, run_python
from tests.integration.test_schedules_cli import STEPS
from tests.unit.qa_helpers import calibrate, reading

STORY = [
    ["checks", "add", "REF-1", "--date", "2026-04-01", "--value", "0:0.05:0.2",
     "--standard", "Ice point cell"],
    ["checks", "add", "REF-1", "--date", "2026-06-01", "--value", "0:0.6:0.2",
     "--standard", "Ice point cell"],
    ["oot", "list", "--json"],
    ["oot", "show", "OOT-1"],
    ["oot", "impact", "1"],
    ["checks", "list", "REF-1"],
    ["checks", "void", "2", "--reason", "entered for the wrong instrument"],
    ["oot", "show", "1", "--json"],
    ["instruments", "show", "REF-1", "--json"],
    ["db", "verify"],
    # Bad input: one line, exit 2.
    ["oot", "show", "OOT-x"],
    ["checks", "void", "2", "--reason", "again"],
]  # fmt: skip


def test_a_failing_check_opens_a_case_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True) as app:
        add_thermometer(app, "REF-1")
        add_thermometer(app, "TH-001")
        calibrate(app, "REF-1", "2026-01-10", points=(reading(0, 0.1),))
        calibrate(app, "TH-001", "2026-05-01", points=(reading(0, 0.1),), standards=("REF-1",))
    ran = run_python(STEPS, str(db), json.dumps(STORY), cwd=home_for(db))
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout)
    good, bad = results[:10], results[10:]
    for (code, _out, err), argv in zip(good, STORY, strict=False):
        assert (code, err) == (0, ""), argv
    out = [o for _code, o, _err in good]

    assert "OOT" not in out[0]  # a passing check opens nothing
    assert "opened out-of-tolerance case OOT-1" in out[1]
    assert "REF-1 is now out of service" in out[1]
    (case,) = json.loads(out[2])
    assert (case["check_id"], case["record_id"], case["status"]) == (2, None, "open")
    assert (case["found_on"], case["last_good_on"]) == ("2026-06-01", "2026-04-01")
    assert case["found_by"] == "intermediate check #2 on 2026-06-01"
    assert "Found on     intermediate check #2 on 2026-06-01" in out[3]
    assert "TH-001" in out[3]  # calibrated with REF-1 since the passing check
    assert "(intermediate check #2)" in out[4] and "TH-001" in out[4]
    assert "OOT-1" in out[5]
    assert "stays open for QA" in out[6]
    shown = json.loads(out[7])
    assert shown["status"] == "open" and shown["found_by"].endswith("(voided since)")
    assert json.loads(out[8])["instrument"]["lifecycle"] == "out_of_service"
    assert out[9].startswith("clean")

    for code, o, err in bad:
        assert code == 2 and o == "", (code, o, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("caltrack: "), err
    assert "is not a case number" in bad[0][2]
    assert "already voided" in bad[1][2]
