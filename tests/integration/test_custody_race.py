"""Two check-outs of one instrument at the same moment, from two real processes.

Both children import the CLI, say they are ready and wait on a pipe; the test lets them
go together. Exactly one takes the instrument; the other is told who has it (exit 2,
one line), never a database error from the unique index on the open check-out.

On the server the race is made certain rather than likely: the test holds the audit
chain lock while the two start, waits until the server shows both waiting for it, then
lets go. Were the service to read "who has it" before taking that lock, both would read
"nobody" and the second would meet the unique index. On a file the editor lock (waited
for) and ``BEGIN IMMEDIATE`` already queue the writers; the barrier still starts them
together.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from app.bootstrap import CalTrack
from app.identity import get_current_user_id
from app.repositories.audit import CHAIN_LOCK_KEY
from app.services.checks import CheckInput
from app.services.dto import MaintenanceInput
from tests.conftest import NOW, add_thermometer, is_server
from tests.integration.helpers import (
    CHILD_TIMEOUT_S,
    assert_one_error_line,
    child_env,
    home_for,
    query,
    run_cli,
)
from tests.integration.process_helpers import wait_until

# Imports the CLI first (the slow part), says so, then waits for the word to go. On a
# file a writing command takes the editor lock: ``--wait`` queues the second behind the
# first (as two people at two PCs would) instead of refusing it as read-only.
CHILD = """
import sys
from app.cli.main import main
print("ready", flush=True)
sys.stdin.readline()
raise SystemExit(main(["--db", sys.argv[1], "--wait", "120", *sys.argv[2:]]))
"""

HOLDERS = ("Dana", "Eve")


def _start(db: str, *command: str) -> subprocess.Popen[str]:
    work = home_for(db)
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, db, *command],
        cwd=work,
        env=child_env(work),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(child: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    out, err = child.communicate(timeout=CHILD_TIMEOUT_S)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


@contextmanager
def _chain_lock_held(url: str) -> Iterator[None]:
    """The audit chain lock, held by this test until the block ends (server only)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn, conn.begin():
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
            yield
    finally:
        engine.dispose()


def _waiting_for_the_chain(url: str) -> int:
    """How many sessions wait for an advisory lock in this database right now."""
    found = query(
        url,
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()",
    )
    return int(str(found[0][0]))


def _together(
    db_url: str, children: list[subprocess.Popen[str]]
) -> list[subprocess.CompletedProcess[str]]:
    """Let ``children`` go at once (on a server: all queued on the chain lock first)."""
    try:
        for child in children:  # the barrier: both have the CLI loaded and wait
            assert child.stdout is not None and child.stdin is not None
            assert child.stdout.readline() == "ready\n", child.stderr
        if is_server(db_url):
            with _chain_lock_held(db_url):
                for child in children:
                    assert child.stdin is not None
                    child.stdin.write("go\n")
                    child.stdin.flush()
                wait_until(
                    lambda: _waiting_for_the_chain(db_url) == len(children),
                    "both commands waiting for the chain lock",
                )
        else:
            for child in children:
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
        done = [_finish(child) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return done


def test_two_checkouts_at_once_one_wins_the_other_is_told(app: CalTrack, db_url: str) -> None:
    add_thermometer(app)
    login = make_url(db_url).username if is_server(db_url) else get_current_user_id().user
    app.accounts.set_role(str(login), "technician")
    app.close()

    children = [_start(db_url, "checkout", "TH-001", "--to", holder) for holder in HOLDERS]
    done = _together(db_url, children)
    codes = sorted(result.returncode for result in done)
    assert codes == [0, 2], [(r.returncode, r.stdout, r.stderr) for r in done]
    won = next(i for i, result in enumerate(done) if result.returncode == 0)
    lost = done[1 - won]
    assert f"TH-001 checked out to {HOLDERS[won]}" in done[won].stdout
    line = assert_one_error_line(lost, 2)
    assert f"TH-001 is already checked out to {HOLDERS[won]}" in line

    assert query(db_url, "SELECT holder FROM custody WHERE open_instrument_id IS NOT NULL") == [
        (HOLDERS[won],)
    ]
    verify = run_cli(db_url, "db", "verify")
    assert verify.returncode == 0, (verify.stdout, verify.stderr)


def _voidable(app: CalTrack, kind: str) -> tuple[list[str], str]:
    """A record of ``kind`` on TH-001: (the void command without its reason, what the
    second void is told)."""
    if kind == "custody":
        entry = app.custody.check_out("TH-001", holder="Dana").id
        return ["custody", "void", str(entry)], f"custody entry #{entry} is void already"
    if kind == "check":
        check = app.checks.add("TH-001", CheckInput(NOW.date(), result="pass", standard="A"))
        return ["checks", "void", str(check.id)], f"check #{check.id} is already voided"
    event = app.upkeep.add("TH-001", MaintenanceInput("cleaning", NOW.date(), "probe"))
    return ["maintenance", "void", str(event.id)], f"M-{event.id} is already voided"


@pytest.mark.parametrize("kind", ["custody", "check", "maintenance"])
def test_two_voids_of_one_record_at_once_the_second_is_told(
    app: CalTrack, db_url: str, kind: str
) -> None:
    """A void reads its record inside its write, after the chain lock: the second of two
    voids at once is told it is void already (one line, exit 2). Read before the lock,
    both would read it valid and the second would fail on the version column (exit 70
    on a server)."""
    add_thermometer(app)
    login = make_url(db_url).username if is_server(db_url) else get_current_user_id().user
    app.accounts.set_role(str(login), "technician")
    command, told = _voidable(app, kind)
    app.close()

    children = [_start(db_url, *command, "--reason", why) for why in ("typo", "wrong tag")]
    done = _together(db_url, children)
    codes = sorted(result.returncode for result in done)
    assert codes == [0, 2], [(r.returncode, r.stdout, r.stderr) for r in done]
    lost = next(result for result in done if result.returncode == 2)
    line = assert_one_error_line(lost, 2)
    assert told in line
    verify = run_cli(db_url, "db", "verify")
    assert verify.returncode == 0, (verify.stdout, verify.stderr)
