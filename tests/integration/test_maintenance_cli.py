"""`caltrack maintenance add/list/void` in a real process, on a file and on a server.

One child process runs the whole story through ``app.cli.main.main`` (cheaper than a
process per step): a repair that needs a calibration makes the instrument due and out
of service, bad input is refused in one line with exit 2 and stores nothing, a
calibration after the repair brings the instrument back, a void keeps the event, and
`db verify` stays clean. Then one real `caltrack` process checks the list as a script
reads it.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from app.services.dto import CalibrationInput
from tests.conftest import add_thermometer
from tests.integration.helpers import home_for, open_lab, run_cli, run_python

# Runs each argv through the CLI's own entry point and prints what each one said.
STEPS = """
import io, json, sys

class Switch(io.TextIOBase):
    # The CLI's printers bind sys.stdout when imported: one stream whose target moves.
    target = io.StringIO()
    def write(self, text):
        return self.target.write(text)

out, err = Switch(), Switch()
sys.stdout, sys.stderr = out, err
from app.cli.main import main
db, steps = sys.argv[1], json.loads(sys.argv[2])
said = []
for argv in steps:
    out.target, err.target = io.StringIO(), io.StringIO()
    try:
        code = main(["--db", db, *argv])
    except SystemExit as exc:  # argparse refusing an argument
        code = exc.code
    said.append([code, out.target.getvalue(), err.target.getvalue()])
sys.__stdout__.write(json.dumps(said))
"""

# A day after today whenever the suite runs (the child reads the real clock).
LATER = (date.today() + timedelta(days=30)).isoformat()
REPAIR = [
    "maintenance", "add", "TH-001", "--kind", "repair", "--date", "2026-11-20",
    "--what", "Replaced the probe cable", "--cost", "180.50", "--currency", "EUR",
    "--downtime", "2d", "--calibrate-before-use", "--notes", "sent back by the user",
]  # fmt: skip
BAD = [
    (["maintenance", "add", "TH-001", "--kind", "polish", "--date", "2026-11-20", "--what", "x"],
     "--kind: must be one of"),
    (["maintenance", "add", "TH-001", "--kind", "repair", "--date", "20.11.2026", "--what", "x"],
     "--date: must be a date as YYYY-MM-DD"),
    (["maintenance", "add", "TH-001", "--kind", "repair", "--date", LATER, "--what", "x"],
     "--date: must not be in the future"),
    (["maintenance", "add", "TH-001", "--kind", "repair", "--date", "2026-11-20", "--what", "x",
      "--cost", "1" + "0" * 40], "--cost: must be an amount from 0 to 1,000,000,000"),
    (["maintenance", "add", "TH-001", "--kind", "repair", "--date", "2026-11-20", "--what", "x",
      "--cost", "1000000000.01"], "--cost: must be an amount from 0 to 1,000,000,000"),
    # A Cyrillic Е in EUR, and no currency at all.
    (["maintenance", "add", "TH-001", "--kind", "repair", "--date", "2026-11-20", "--what", "x",
      "--cost", "5", "--currency", "\u0415UR"], "--currency: must be a currency code such as EUR"),
    (["maintenance", "add", "TH-001", "--kind", "repair", "--date", "2026-11-20", "--what", "x",
      "--cost", "5", "--currency", "!!!"], "--currency: must be a currency code such as EUR"),
    (["maintenance", "add", "TH-001", "--kind", "repair", "--date", "2026-11-20",
      "--what", "probe\x1b[2Jcable"], "--what: contains the control character U+001B (ESCAPE)"),
    (["maintenance", "add", "TH-001", "--kind", "repair", "--date", "2026-11-20", "--what", "x",
      "--downtime", "a while"], "--downtime: must be hours"),
    (["maintenance", "add", "TH-999", "--kind", "repair", "--date", "2026-11-20", "--what", "x"],
     "no instrument with asset tag 'TH-999'"),
    (["maintenance", "add", "TH-\u200b001", "--kind", "repair", "--date", "2026-11-20",
      "--what", "x"], "TH-"),
    (["maintenance", "void", "M-99", "--reason", "x"], "no maintenance event M-99"),
    (["maintenance", "void", "9" * 30, "--reason", "x"], "is not a maintenance event id"),
    (["maintenance", "list", "TH-999"], "no instrument with asset tag 'TH-999'"),
]  # fmt: skip


def test_a_repair_story_with_bad_input_in_one_process(db_url: str) -> None:
    with open_lab(db_url, create=True) as app:
        add_thermometer(app)
        app.calibrations.add(
            "TH-001",
            CalibrationInput(performed_on="2026-06-01", result="pass"),
        )
    steps = [
        REPAIR,
        ["instruments", "list", "--json"],
        *[argv for argv, _ in BAD],
        ["maintenance", "list", "TH-001", "--json"],
        ["calibrations", "add", "TH-001", "--performed-on", "2026-11-21", "--result", "pass"],
        ["instruments", "list", "--json"],
        ["maintenance", "void", "M-1", "--reason", "logged twice"],
        ["maintenance", "void", "1", "--reason", "again"],
        ["maintenance", "void", "M-1", "--reason", " "],
        ["db", "verify"],
    ]
    ran = run_python(STEPS, str(db_url), json.dumps(steps), cwd=home_for(db_url))
    assert ran.returncode == 0, ran.stderr
    said = json.loads(ran.stdout)
    added, listed_out, *rest = said
    bad, rest = rest[: len(BAD)], rest[len(BAD) :]
    history, calibrated, listed_back, voided, again, no_reason, verified = rest

    assert added[0] == 0, added
    assert "logged M-1: repair of TH-001" in added[1]
    assert "out of service, calibration due 2026-11-20" in added[1]
    row = json.loads(listed_out[1])["instruments"][0]
    assert (row["lifecycle"], row["next_due"], row["due_status"]) == (
        "out_of_service",
        "2026-11-20",
        "out-of-service",
    )

    for (code, out, err), (argv, words) in zip(bad, BAD, strict=True):
        assert code == 2, (argv, out, err)
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("caltrack: "), (argv, err)
        assert words in lines[0], (argv, lines[0])
        assert "Traceback" not in err

    events = json.loads(history[1])
    assert [(e["kind"], e["cost"], e["currency"], e["downtime_hours"]) for e in events] == [
        ("repair", "180.50", "EUR", 48.0)
    ]  # the refused ones stored nothing
    assert events[0]["awaiting_calibration"] is True
    assert calibrated[0] == 0, calibrated
    row = json.loads(listed_back[1])["instruments"][0]
    assert (row["lifecycle"], row["next_due"]) == ("in_service", "2027-11-21")
    assert voided[:2] == [0, "voided M-1 of TH-001\n"]
    assert again[0] == 2 and "already voided" in again[2]
    assert no_reason[0] == 2 and "--reason: a reason is required" in no_reason[2]
    assert verified[0] == 0, verified

    # A script reads the log as a real `caltrack` process prints it.
    text = run_cli(db_url, "maintenance", "list", "TH-001")
    assert text.returncode == 0, text.stderr
    header, line = text.stdout.splitlines()[:2]
    assert header.split()[:4] == ["ID", "DATE", "KIND", "WHAT"]
    assert line.startswith("M-1  2026-11-20  Repair  Replaced the probe cable")
    assert "VOID — logged twice" in line
