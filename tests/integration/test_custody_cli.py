"""`caltrack checkout / checkin / custody ... / report custody` as a real process, both backends.

One child process runs the whole sequence through ``app.cli.main.main`` (cheaper than a
process per step) and reports each step's exit code and output; one more real process
checks that a refusal is a single line on a real command line. The rules themselves are
tested in tests/unit/test_custody.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from app.bootstrap import CalTrack
from app.identity import get_current_user_id
from tests.conftest import add_thermometer, is_server
from tests.integration.helpers import assert_one_error_line, home_for, run_cli, run_python
from tests.unit.qa_helpers import calibrate

# Runs each argv (a JSON list in argv[2]) through main() and prints what each did.
STEPS = """
import json, os, sys, tempfile
from app.cli.main import main
done = []
for words in json.loads(sys.argv[2]):
    # Each step's output, caught at the file descriptors (print_json holds sys.stdout).
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        saved = os.dup(1), os.dup(2)
        sys.stdout.flush(), sys.stderr.flush()
        os.dup2(out.fileno(), 1), os.dup2(err.fileno(), 2)
        try:
            code = main(["--db", sys.argv[1], *words])
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
        out.seek(0), err.seek(0)
        done.append({"code": code, "out": out.read(), "err": err.read()})
print(json.dumps(done))
"""


def _steps(db: str, *steps: list[str]) -> list[dict[str, object]]:
    result = run_python(STEPS, db, json.dumps(list(steps)), cwd=home_for(db))
    assert result.returncode == 0, result.stderr
    done: list[dict[str, object]] = json.loads(result.stdout)
    return done


def test_checkout_checkin_list_void_and_report(app: CalTrack, db_url: str, tmp_path: Path) -> None:
    add_thermometer(app)
    add_thermometer(app, "PG-002")
    calibrate(app, "PG-002", "2025-01-02")  # overdue since 2026-01-02
    # The child acts as QA: as its OS login on a file, as the URL's login on a server.
    login = make_url(db_url).username if is_server(db_url) else get_current_user_id().user
    app.accounts.set_role(str(login), "qa")
    app.close()
    report = tmp_path / "custody.csv"
    (
        out,
        twice,
        overdue,
        override,
        bad_day,
        lookalike,
        listed,
        back,
        not_out,
        history,
        void,
        reported,
        verify,
    ) = _steps(
        db_url,
        ["checkout", "th-001", "--to", "Dana", "--place", "Line 2", "--until", "2099-01-31"],
        ["checkout", "TH-001", "--to", "Eve"],
        ["checkout", "PG-002", "--to", "Eve"],
        ["checkout", "PG-002", "--to", "Eve", "--reason", "one reading, then to the lab"],
        ["checkout", "TH-001", "--to", "Eve", "--until", "31/01/2099"],
        ["checkout", "TH\u200b-001", "--to", "Eve"],
        ["custody", "list", "--json"],
        ["checkin", "TH-001"],
        ["checkin", "TH-001"],
        ["custody", "history", "TH-001", "--json"],
        ["custody", "void", "1", "--reason", "scanned the wrong one"],
        ["report", "custody", "-o", str(report)],
        ["db", "verify"],
    )
    assert (
        out["code"] == 0 and out["out"] == "TH-001 checked out to Dana at Line 2 until 2099-01-31\n"
    )
    assert twice["code"] == 2
    assert "check-out refused: TH-001 is already checked out to Dana" in str(twice["err"])
    assert overdue["code"] == 2
    assert "PG-002 is overdue for calibration (due 2026-01-02)" in str(overdue["err"])
    assert override["code"] == 0 and "QA override" in str(override["out"])
    assert bad_day["code"] == 2 and "--until: must be a date as YYYY-MM-DD" in str(bad_day["err"])
    assert lookalike["code"] == 2 and "invisible character U+200B" in str(lookalike["err"])
    out_now = json.loads(str(listed["out"]))
    assert [(v["asset_tag"], v["holder"]) for v in out_now] == [
        ("PG-002", "Eve"),
        ("TH-001", "Dana"),
    ]
    assert back["code"] == 0 and back["out"] == "TH-001 checked in from Dana\n"
    assert not_out["code"] == 2 and "TH-001 is not checked out" in str(not_out["err"])
    assert [v["state"] for v in json.loads(str(history["out"]))] == ["returned"]
    assert void["code"] == 0
    assert reported["code"] == 0
    text = report.read_text(encoding="utf-8")
    assert "PG-002" in text and "Eve" in text and "TH-001" not in text
    assert verify["code"] == 0, verify

    # A real command line: the refusal is one line, exit 2, no traceback.
    refused: subprocess.CompletedProcess[str] = run_cli(db_url, "checkout", "PG-002", "--to", "X")
    line = assert_one_error_line(refused, 2)
    assert "already checked out to Eve" in line
