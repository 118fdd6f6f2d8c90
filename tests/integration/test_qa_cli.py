"""The QA commands end to end, as separate processes on a real file.

The roles belong to real OS accounts (made with ``useradd`` for the test): CalTrack
takes the login from the operating system, so a test cannot play quinn by setting
``LOGNAME``.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.helpers import assert_one_error_line, child_env, cli_command, run_cli
from tests.integration.process_helpers import new_os_login, shared_folder

PASSWORD = "correct horse battery"


def run_as(db: Path, user: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The CLI as the OS user ``user`` (``setpriv``; this process's own user runs it
    directly). Files are made writable by everyone, as in a shared folder."""
    me = pwd.getpwuid(os.getuid()).pw_name
    prefix = (
        [] if user == me else ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"]
    )
    return subprocess.run(
        [*prefix, *cli_command(db, *args)],
        input=stdin,
        capture_output=True,
        text=True,
        env=child_env(db.parent),
        cwd=db.parent,
        timeout=120,
        check=False,
        umask=0,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def shared_db() -> Iterator[Path]:
    with shared_folder(0o777) as folder:
        yield folder / "lab.db"


@pytest.fixture
def quinn() -> Iterator[str]:
    with new_os_login("quinn") as (_, login):
        yield login


@pytest.fixture
def bob() -> Iterator[str]:
    with new_os_login("bob") as (_, login):
        yield login


def test_roles_signatures_and_an_oot_case_from_the_command_line(
    shared_db: Path, quinn: str, bob: str
) -> None:
    db = shared_db
    me = pwd.getpwuid(os.getuid()).pw_name
    ok(run_as(db, me, "init"))
    ok(run_as(db, me, "instruments", "add", "--asset-tag", "REF-1", "--description", "Ref"))
    ok(run_as(db, me, "instruments", "add", "--asset-tag", "TH-1", "--description", "Thermo"))
    ok(
        run_as(
            db,
            me,
            "calibrations",
            "add",
            "REF-1",
            "--performed-on",
            "2026-01-10",
            "--result",
            "pass",
            "--point",
            "0:0.1:0.1:0.5:°C",
        )
    )
    ok(
        run_as(
            db,
            me,
            "calibrations",
            "add",
            "TH-1",
            "--performed-on",
            "2026-03-01",
            "--result",
            "pass",
            "--standard",
            "REF-1",
        )
    )

    # A technician may not hand out roles: exit 8 (not 5, read-only) naming who may.
    refused = run_as(db, bob, "users", "set", bob, "--role", "admin")
    line = assert_one_error_line(refused, 8)
    assert "only Admins may change roles" in line and me in line

    ok(run_as(db, me, "users", "set", quinn, "--role", "qa", "--name", "Quinn Reviewer"))
    users = json.loads(ok(run_as(db, me, "users", "list", "--json")))
    assert {(u["login"], u["role"]) for u in users} == {(me, "admin"), (quinn, "qa")}

    # No terminal and no --password-stdin: refused without waiting for input.
    no_tty = run_as(db, quinn, "users", "set-password")
    assert "--password-stdin" in assert_one_error_line(no_tty, 2)
    ok(run_as(db, quinn, "users", "set-password", "--password-stdin", stdin=PASSWORD + "\n"))

    # A failing as-found reading opens a case and takes REF-1 out of service.
    added = ok(
        run_as(
            db,
            me,
            "calibrations",
            "add",
            "REF-1",
            "--performed-on",
            "2026-11-20",
            "--result",
            "adjusted",
            "--point",
            "0:0.9:0.1:0.5:°C",
        )
    )
    assert "OOT-1 opened" in added
    cases = json.loads(ok(run_as(db, me, "oot", "list", "--status", "open", "--json")))
    assert [(c["asset_tag"], [a["asset_tag"] for a in c["affected"]]) for c in cases] == [
        ("REF-1", ["TH-1"])
    ]
    shown = json.loads(ok(run_as(db, me, "instruments", "show", "REF-1", "--json")))
    assert shown["instrument"]["lifecycle"] == "out_of_service"

    # Signing: wrong password is exit 2 and recorded; the right one signs.
    record_id = str(shown["calibrations"][0]["id"])
    wrong = run_as(
        db,
        quinn,
        "calibrations",
        "sign",
        record_id,
        "--meaning",
        "reviewed",
        "--password-stdin",
        stdin="guess\n",
    )
    assert "wrong signing password" in assert_one_error_line(wrong, 2)
    signed = ok(
        run_as(
            db,
            quinn,
            "calibrations",
            "sign",
            record_id,
            "--meaning",
            "reviewed",
            "--comment",
            "ok",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    )
    assert f"Reviewed by Quinn Reviewer ({quinn}) on" in signed
    # The signed record is locked against edits.
    locked = run_as(db, me, "calibrations", "edit", record_id, "--notes", "x", "--reason", "y")
    assert "signed and can no longer be edited" in assert_one_error_line(locked, 2)

    ok(
        run_as(
            db,
            quinn,
            "oot",
            "assess",
            "OOT-1",
            "--assessment",
            "Offset within TH-1 needs",
            "--disposition",
            "no_impact",
        )
    )
    closed = ok(
        run_as(
            db,
            quinn,
            "oot",
            "close",
            "1",
            "--return-to-service",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    )
    assert "OOT-1 closed: Closed by Quinn Reviewer" in closed and "back in service" in closed

    trace = json.loads(ok(run_as(db, me, "instruments", "trace", "REF-1", "--json")))
    assert [t["instrument_tag"] for t in trace["used_as_standard"]] == ["TH-1"]
    verify = run_cli(db, "db", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_an_overdue_standard_needs_a_justification(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    ok(run_cli(db, "init"))
    ok(run_cli(db, "instruments", "add", "--asset-tag", "REF-9", "--description", "Old ref"))
    ok(run_cli(db, "instruments", "add", "--asset-tag", "PG-1", "--description", "Gauge"))
    ok(
        run_cli(
            db, "calibrations", "add", "REF-9", "--performed-on", "2024-01-10", "--result", "pass"
        )
    )
    args = (
        "calibrations",
        "add",
        "PG-1",
        "--performed-on",
        "2026-11-20",
        "--result",
        "pass",
        "--standard",
        "REF-9",
    )
    line = assert_one_error_line(run_cli(db, *args), 2)
    assert "REF-9 was overdue on 2026-11-20" in line and "justification" in line
    done = json.loads(
        ok(run_cli(db, *args, "--standard-justification", "checked vs REF-1", "--json"))
    )
    assert done["standards_justification"] == "checked vs REF-1"
