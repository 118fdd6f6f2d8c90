"""Providers and send-outs on the command line (issue 15), on a file and on a server.

One child process runs every step through ``app.cli.main.main`` (one interpreter start
instead of twenty), each step's exit code, output and error kept apart: the commands'
own parsing, exit codes and one-line errors are what is tested, on the real database.
Bad input exits 2 with one line and writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from app.clock import FixedClock
from app.identity import get_current_user_id
from tests.conftest import add_thermometer, is_server
from tests.integration.helpers import home_for, open_lab, run_python

STEPS_CODE = """
import contextlib, io, json, sys
from app.cli.main import main
db, steps = sys.argv[1], json.loads(sys.argv[2])
answers = []
for step in steps:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--db", db, *step])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    answers.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(answers))
"""


def run_steps(db: str, steps: list[list[str]]) -> list[tuple[int, str, str]]:
    done = run_python(STEPS_CODE, str(db), json.dumps(steps), cwd=home_for(db))
    assert done.returncode == 0, done.stderr
    return [(int(c), out, err) for c, out, err in json.loads(done.stdout.splitlines()[-1])]


def test_the_register_a_batch_sent_received_and_compared(
    db_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    creator = None if is_server(db_url) else get_current_user_id()
    with open_lab(db_url, create=True, identity=creator, clock=clock) as app:
        add_thermometer(app, "TH-001")
        add_thermometer(app, "TH-002")
    certificate = tmp_path / "C-77.pdf"
    certificate.write_bytes(b"%PDF-1.4 certificate C-77")
    point_fails = "20:20.7:20.7:0.5:°C"  # outside 19.5 … 20.5
    steps: list[list[str]] = [
        # 0-3: the register, a twin name, a bad date, an unknown approval
        ["providers", "add", "--name", "CalCo Labs", "--accreditation-body", "UKAS",
         "--accreditation-number", "0123", "--review-date", "2027-06-30"],
        ["providers", "add", "--name", "CALCO LABS"],
        ["providers", "add", "--name", "X", "--review-date", "2027-02-30"],
        ["providers", "add", "--name", "X", "--approval", "maybe"],
        # 4-6: one not approved; sending there without a reason, then with one
        ["providers", "add", "--name", "Cheap Cal", "--approval", "not-approved"],
        ["sendout", "create", "--provider", "Cheap Cal", "TH-001"],
        ["providers", "edit", "cheap cal", "--approval", "conditionally-approved",
         "--expect-version", "1", "--json"],
        # 7-10: a batch; bad cost, unknown tag, the same instrument again
        ["sendout", "create", "--provider", "calco labs", "TH-001", "th-002", "--po", "PO-77",
         "--sent-on", "2026-11-20", "--expected", "2026-12-31", "--cost", "250.00", "--json"],
        ["sendout", "create", "--provider", "CalCo Labs", "TH-001", "--cost", "9e99"],
        ["sendout", "create", "--provider", "CalCo Labs", "NOPE-1"],
        ["sendout", "create", "--provider", "CalCo Labs", "TH-001"],
        # 11-14: receive one, a certificate the lab's limits fail, receive the rest
        ["sendout", "receive", "SO-1", "TH-002"],
        ["sendout", "certificate", "SO-1", "TH-002", "--result", "pass", "--performed-on",
         "2026-11-23", "--certificate", "C-77", "--point", point_fails,
         "--attach", str(certificate)],
        ["sendout", "receive", "so-1"],
        ["sendout", "receive", "SO-1"],
        # 15-18: show, a bad batch number, the report, verify
        ["sendout", "show", "SO-1", "--json"],
        ["sendout", "show", "SO-x"],
        ["report", "providers", "-o", str(tmp_path / "providers.csv")],
        ["db", "verify"],
        # 19-23: retired is frozen until reinstated; a review date passed is pointed out
        ["providers", "retire", "Cheap Cal", "--reason", "lost its accreditation"],
        ["providers", "edit", "Cheap Cal", "--contact", "x"],
        ["providers", "reinstate", "Cheap Cal", "--reason", "accreditation restored"],
        ["providers", "edit", "Cheap Cal", "--review-date", "2026-01-31"],
        ["providers", "list"],
        # 24-27: sending to it warns; a look-alike name; reinstating twice; verify
        ["sendout", "create", "--provider", "Cheap Cal", "TH-001", "--reason", "urgent"],
        ["providers", "add", "--name", "\u0421heap Cal"],
        ["providers", "reinstate", "Cheap Cal", "--reason", "again"],
        ["db", "verify"],
    ]  # fmt: skip
    answers = run_steps(db_url, steps)
    codes = [a[0] for a in answers]
    expected = [0, 2, 2, 2, 0, 2, 0, 0, 2, 2, 2, 0, 1, 0, 2, 0, 2, 0, 0]
    expected += [0, 2, 0, 0, 0, 0, 2, 2, 0]
    assert codes == expected, answers
    for code, _, err in answers:
        if code == 2:  # one line, never a traceback
            assert err.count("\n") == 1 and err.startswith("caltrack: "), err
    assert "'CALCO LABS' is already the provider 'CalCo Labs'" in answers[1][2]
    assert "review_date" in answers[2][2] or "--review-date" in answers[2][2]
    assert "invalid choice: 'maybe'" in answers[3][2]
    assert "Cheap Cal is not an approved provider: give a reason" in answers[5][2]
    assert json.loads(answers[6][1])["approval"] == "conditionally_approved"
    batch = json.loads(answers[7][1])
    assert [i["asset_tag"] for i in batch["items"]] == ["TH-001", "TH-002"]
    assert (batch["po_number"], batch["cost"]) == ("PO-77", 250.0)
    assert "cost: must be an amount from 0 to 1,000,000,000" in answers[8][2]
    assert "no instrument with asset tag 'NOPE-1'" in answers[9][2]
    assert "TH-001 is already out in SO-1" in answers[10][2]
    assert "received TH-002 from CalCo Labs (SO-1: partly back)" in answers[11][1]
    caught = answers[12][1]
    assert "TH-002: the provider reported PASS but the lab's limits" in caught
    assert "point 1 as found 20.7 °C is fail against 19.5 … 20.5" in caught
    assert "recorded as fail; OOT-1 opened" in caught
    assert "attached C-77.pdf to calibration #" in caught
    assert "every instrument of SO-1 is back already" in answers[14][2]
    shown = json.loads(answers[15][1])
    assert [(i["asset_tag"], i["provider_result"], i["lab_result"]) for i in shown["items"]] == [
        ("TH-001", "", ""),
        ("TH-002", "pass", "fail"),
    ]
    assert "'SO-x' is not a batch number" in answers[16][2]
    report = (tmp_path / "providers.csv").read_text(encoding="utf-8-sig")
    assert "CalCo Labs,Approved,1,2,2,0," in report
    assert answers[18][1].startswith("clean:"), answers[18]
    assert "Cheap Cal is retired (lost its accreditation); reinstate it" in answers[20][2]
    assert "reinstated provider Cheap Cal" in answers[21][1]
    review = "warning: the review of Cheap Cal was due on 2026-01-31: QA should review"
    assert review in answers[23][1]
    assert review in answers[24][2] and "sent 1 instrument to Cheap Cal" in answers[24][1]
    assert "mixes Cyrillic and Latin letters (U+0421" in answers[25][2]
    assert "Cheap Cal is not retired" in answers[26][2]
    assert answers[27][1].startswith("clean:"), answers[27]
    with open_lab(db_url, edit=False) as app:
        (record,) = app.calibrations.history("TH-002")
        assert (record.result, record.provider_kind, record.provider_name) == (
            "fail",
            "external",
            "CalCo Labs",
        )
        assert record.certificate_number == "C-77"
