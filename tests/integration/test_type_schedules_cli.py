"""`caltrack types ... --check-every` and `--apply-schedules` on a real file (issue 15).

One child process runs the story through the CLI's own entry point (one interpreter
start), then one real `caltrack` process shows bad input exiting 2 with one line and
changing nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.helpers import (
    assert_one_error_line,
    fingerprint,
    home_for,
    open_lab,
    run_cli,
    run_python,
)
from tests.integration.test_schedules_cli import STEPS

STORY = [
    ["types", "add", "--name", "Balance", "--check-every", "6M", "--check-grace-days", "3",
     "--maintenance-before-use"],
    ["instruments", "add", "--asset-tag", "BAL-1", "--description", "Balance",
     "--type", "balance"],
    ["schedules", "list", "BAL-1", "--json"],
    ["instruments", "add", "--asset-tag", "BAL-2", "--description", "Balance"],
    ["schedules", "set", "BAL-2", "--kind", "check", "--every", "10d"],
    ["instruments", "edit", "BAL-2", "--type", "Balance"],
    ["schedules", "list", "BAL-2", "--json"],
    ["instruments", "add", "--asset-tag", "BAL-3", "--description", "Balance"],
    ["instruments", "edit", "BAL-3", "--type", "Balance"],
    ["schedules", "clear", "BAL-3", "--kind", "check", "--reason", "checked at calibration"],
    ["types", "edit", "Balance", "--maintenance-every", "12m"],
    ["types", "edit", "Balance", "--apply-schedules", "--reason", "yearly service", "--json"],
    ["types", "show", "Balance", "--json"],
    ["types", "show", "Balance"],
    ["db", "verify"],
    # Bad input: one line each, exit 2, nothing stored.
    ["types", "add", "--name", "X", "--check-every", "3w"],
    ["types", "add", "--name", "X", "--check-every", "99999999999999999999d"],
    ["types", "add", "--name", "X", "--check-grace-days", "5"],
    ["types", "add", "--name", "X", "--maintenance-every", "1m",
     "--maintenance-grace-days", "-1"],
    ["types", "add", "--name", "X", "--check-every", "1m", "--check-soon-days", "10**9"],
    ["types", "edit", "Nope", "--apply-schedules"],
    ["types", "edit", "Balance"],
]  # fmt: skip


def test_type_defaults_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True):
        pass
    ran = run_python(STEPS, str(db), json.dumps(STORY), cwd=home_for(db))
    assert ran.returncode == 0, ran.stderr
    results = json.loads(ran.stdout)
    good, bad = results[:15], results[15:]
    for (code, _out, err), argv in zip(good, STORY, strict=False):
        assert (code, err) == (0, ""), (argv, err)

    def kinds(step: int) -> dict[str, tuple[str, int, bool]]:
        views = json.loads(good[step][1])["schedules"]
        return {s["kind"]: (s["interval"], s["grace_days"], s["before_use"]) for s in views}

    # Created with the type: both defaults, "6M" as the schedules rule writes it.
    assert kinds(2) == {
        "calibration": ("365d", 0, False),
        "check": ("6m", 3, False),
        "maintenance": ("", 0, True),
    }
    # Given the type later: its own check kept, the maintenance from the type.
    assert kinds(6)["check"] == ("10d", 0, False)
    assert kinds(6)["maintenance"] == ("", 0, True)
    # The edit of the default changed no instrument, and said how many lack it: none
    # (each got the maintenance default when it got the type); BAL-3's cleared check
    # stays cleared even when asked.
    assert "instruments of this type have no" not in good[10][1]
    applied = json.loads(good[11][1])
    assert applied["schedules_given"] == {"check": [], "maintenance": []}
    shown = json.loads(good[12][1])
    assert shown["maintenance"] == {
        "every": "12m",
        "soon_days": None,
        "grace_days": 0,
        "before_use": False,
    }
    assert "Check schedule        every 6m, grace 3 d" in good[13][1]
    assert good[14][1].startswith("clean"), good[14]

    for code, out, err in bad:
        assert code == 2 and out == "", (code, out, err)
        assert len(err.strip().splitlines()) == 1 and err.startswith("caltrack: "), err
    messages = [err for _code, _out, err in bad]
    assert "--check-every: '3w' is not an interval" in messages[0]
    assert "--check-every: must be between 1 and 36500 days" in messages[1]
    assert "--check-every: give an interval" in messages[2]
    assert "--maintenance-grace-days: must be between 0 and 3650 days" in messages[3]
    assert "'10**9' is not a whole number" in messages[4]
    assert "no instrument type named 'Nope'" in messages[5]
    assert "nothing to change" in messages[6]

    # A real `caltrack` process: bad input exits 2 with one line and changes nothing.
    before = fingerprint(db)
    assert "--check-every" in assert_one_error_line(
        run_cli(db, "types", "edit", "Balance", "--check-every", "6 weeks"), 2
    )
    assert fingerprint(db) == before


def test_apply_schedules_gives_a_new_default_to_the_instruments_lacking_it(
    tmp_path: Path,
) -> None:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True):
        pass
    steps = [
        ["types", "add", "--name", "Balance"],
        ["instruments", "add", "--asset-tag", "BAL-1", "--description", "B", "--type", "Balance"],
        ["instruments", "add", "--asset-tag", "BAL-2", "--description", "B", "--type", "Balance"],
        ["schedules", "set", "BAL-2", "--kind", "check", "--every", "10d"],
        ["types", "edit", "Balance", "--check-every", "3m"],
        ["schedules", "list", "BAL-1", "--json"],
        ["types", "edit", "Balance", "--apply-schedules"],
        ["schedules", "list", "BAL-1", "--json"],
        ["schedules", "list", "BAL-2", "--json"],
        ["db", "verify"],
    ]
    ran = run_python(STEPS, str(db), json.dumps(steps), cwd=home_for(db))
    results = json.loads(ran.stdout)
    for (code, _out, err), argv in zip(results, steps, strict=True):
        assert (code, err) == (0, ""), (argv, err)
    assert "1 instruments of this type have no check schedule" in results[4][1]
    assert [s["kind"] for s in json.loads(results[5][1])["schedules"]] == ["calibration"]
    assert results[6][1].strip() == "gave the default check schedule to 1 instruments: BAL-1"
    check = json.loads(results[7][1])["schedules"][1]
    assert (check["kind"], check["interval"]) == ("check", "3m")
    assert json.loads(results[8][1])["schedules"][1]["interval"] == "10d"  # its own
    assert results[9][1].startswith("clean")
