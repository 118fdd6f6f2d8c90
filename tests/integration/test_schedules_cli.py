"""`caltrack schedules ...` and `checks ...` on a real file: one child process runs the
whole story through the CLI's own entry point (one interpreter start instead of twenty),
then one real `caltrack` process shows the exit code of bad input from the outside.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from app.clock import FixedClock
from app.identity import Identity
from app.services.checks import CheckInput
from app.services.schedules import ScheduleInput
from tests.conftest import add_thermometer
from tests.integration.helpers import (
    assert_one_error_line,
    fingerprint,
    home_for,
    open_lab,
    run_cli,
    run_python,
    tamper,
)

# Each step: the CLI's main() with stdout and stderr caught; argparse's exits count too.
STEPS = r"""
import contextlib, io, json, sys
from app.cli.main import main
db, steps = sys.argv[1], json.loads(sys.argv[2])
results = []
for argv in steps:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--db", db, *argv])
        except SystemExit as exc:
            code = int(exc.code or 0)
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""

STORY = [
    ["schedules", "set", "TH-001", "--kind", "check", "--every", "1m", "--grace", "3"],
    ["schedules", "set", "TH-001", "--kind", "maintenance", "--every", "6m", "--before-use"],
    ["schedules", "list", "TH-001", "--json"],
    ["checks", "add", "TH-001", "--date", "2026-01-31", "--value", "20:20.2:0.5",
     "--standard", "REF-1"],
    ["checks", "add", "TH-001", "--date", "2026-02-01", "--value", "20:20.1:0.5",
     "--value", "100:101:0.5", "--standard", "Gauge block GB-7", "--notes", "drifted"],
    ["checks", "list", "TH-001", "--json"],
    ["schedules", "list", "TH-001", "--json"],
    ["checks", "void", "1", "--reason", "wrong instrument"],
    ["schedules", "clear", "TH-001", "--kind", "maintenance", "--reason", "pump sold"],
    ["schedules", "set", "REF-1", "--kind", "check", "--every", "10d"],
    ["instruments", "list", "--status", "check-due", "--json"],
    ["schedules", "counts", "--json"],
    # Bad input: one line each, exit 2, nothing stored.
    ["schedules", "set", "TH-001", "--kind", "check", "--every", "3w"],
    ["schedules", "set", "TH-001", "--kind", "check", "--every", "9999999999d"],
    ["schedules", "set", "TH-001", "--kind", "check", "--every", "1m", "--grace", "10**9"],
    ["schedules", "set", "NOPE-9", "--kind", "check", "--every", "1m"],
    ["schedules", "clear", "TH-001", "--kind", "maintenance", "--reason", "again"],
    ["schedules", "clear", "TH-001", "--kind", "check", "--reason", "  "],
    ["checks", "add", "TH-001", "--date", "2026-02-30", "--result", "pass", "--standard", "x"],
    ["checks", "add", "TH-001", "--date", "2026-02-03", "--value", "1:1", "--standard", "x"],
    ["checks", "add", "TH-001", "--date", "2026-02-03", "--standard", "x"],
    ["checks", "add", "TH-001", "--date", "2026-02-03", "--value", "20:20:0.5",
     "--result", "fail", "--standard", "x"],
    ["checks", "void", "1", "--reason", "again"],
    ["checks", "void", "99999999999999999999999", "--reason", "x"],
    ["db", "verify"],
]  # fmt: skip


def test_schedules_and_checks_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True) as app:
        add_thermometer(app, "TH-001")
        add_thermometer(app, "REF-1")
    ran = run_python(STEPS, str(db), json.dumps(STORY), cwd=home_for(db))
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout)
    good, bad, verify = results[:12], results[12:-1], results[-1]
    for (code, _out, err), argv in zip(good, STORY, strict=False):
        assert (code, err) == (0, ""), argv

    first = json.loads(good[2][1])["schedules"]
    assert [(s["kind"], s["interval"], s["before_use"]) for s in first] == [
        ("calibration", "365d", False),
        ("check", "1m", False),
        ("maintenance", "6m", True),
    ]
    assert first[2]["status"] == "before-use"
    assert "TH-001 is now out of service" in good[4][1]
    checks = json.loads(good[5][1])["checks"]
    assert [(c["result"], c["standard"]) for c in checks] == [
        ("fail", "Gauge block GB-7"),
        ("pass", "REF-1"),
    ]
    after = {s["kind"]: s for s in json.loads(good[6][1])["schedules"]}
    # The checks (Jan 31, Feb 1) were done before the schedule was set (today): they
    # would make it due earlier, so they move nothing (a schedule only moves forward).
    assert (after["check"]["last_done"], after["check"]["next_due"]) == (
        None,
        first[1]["next_due"],
    )
    assert "voided: wrong instrument" in good[7][1]
    # REF-1's check is due in 10 days; TH-001 is out of service, so not in the filter.
    assert [r["asset_tag"] for r in json.loads(good[10][1])["instruments"]] == ["REF-1"]
    counts = json.loads(good[11][1])
    assert (counts["due_soon"]["check"], counts["due_soon"]["maintenance"]) == (1, 0)

    for code, out, err in bad:
        assert code == 2 and out == "", (code, out, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("caltrack: "), err
    messages = [err for _code, _out, err in bad]
    assert "not an interval" in messages[0]
    assert "between 1 and 36500 days" in messages[1]
    assert "'10**9' is not a whole number" in messages[2]
    assert "no instrument with asset tag 'NOPE-9'" in messages[3]
    assert "has no maintenance schedule" in messages[4]
    assert "a reason is required to clear a schedule" in messages[5]
    assert "is not a date" in messages[6]
    assert "NOMINAL:READING:LIMIT" in messages[7]
    assert "give readings, or the result" in messages[8]
    assert "the readings say pass, not fail" in messages[9]
    assert "already voided" in messages[10]
    assert "is not a check number" in messages[11]
    assert verify[0] == 0 and verify[1].startswith("clean"), verify

    # A real `caltrack` process: bad input exits 2 with one line and changes nothing.
    before = fingerprint(db)
    assert "not an interval" in assert_one_error_line(
        run_cli(db, "schedules", "set", "TH-001", "--kind", "check", "--every", "6 weeks"), 2
    )
    assert fingerprint(db) == before


def test_db_verify_notices_checks_and_schedules_changed_behind_caltracks_back(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app, "TH-001")
        app.schedules.set("TH-001", ScheduleInput("check", every="1m"))
        app.checks.add("TH-001", CheckInput(clock.today(), result="fail", standard="A-1"))
        earlier = clock.today() - timedelta(days=1)
        app.checks.add("TH-001", CheckInput(earlier, result="pass", standard="A-1"))
        assert app.maintenance.verify().problems == []
    tamper(
        db_url,
        "UPDATE intermediate_check SET result = 'pass' WHERE id = 1",
        "UPDATE instrument_schedule SET interval_count = 12",
        # The case the failing check opened (revision 0019), moved onto the passing one.
        "UPDATE oot_case SET check_id = 2",
    )
    with open_lab(db_url, identity=alice, clock=clock) as app:
        problems = app.maintenance.verify().problems
    assert any(p.startswith("check #1 differs from its audit trail in result") for p in problems)
    assert any("schedule #1 differs from its audit trail in interval_count" in p for p in problems)
    assert any("OOT-1 (#1) differs from its audit trail in check_id" in p for p in problems)
