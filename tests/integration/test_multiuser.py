"""Proof of the multi-user design on one PC: real processes, real locks, real SIGKILL.

- Many editors on overlapping instruments lose no update (the audit trail, replayed,
  equals the tables; every acknowledged save is in the data, in order).
- Processes racing for the editor lock are never two holders at once, and the fencing
  epochs move strictly forward with every write carrying the current one.
- A frozen editor fenced off by an admin cannot write when it wakes up.
- kill -9 of the editor mid-write, again and again: the file stays sound, the next
  session takes over and says the previous one ended without closing, and no attachment
  row is left without its file.
- The sqlite3 shell holding ``BEGIN EXCLUSIVE``: CalTrack retries, then says "busy"
  plainly, and nothing is lost.

Sizes: the reduced forms run by default; ``CALTRACK_FULL_PROOF=1`` adds the full ones
(8 × 200 edits, 8 racers × 50 rounds, 50 kills).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.db.engine import JournalChoice
from app.errors import DatabaseBusyError
from app.identity import Identity
from app.locking.holder import holder_path, read_holder
from app.services.dto import InstrumentChanges
from tests.integration.helpers import assert_one_error_line, fingerprint, run_cli, wait_for_file
from tests.integration.proof import (
    check_edit_run,
    check_kill_run,
    finish,
    kill_all,
    meta_epoch,
    new_lab,
    open_db,
    report,
    rows,
    run_edit_workers,
    run_kill_loop,
    sizes,
    sqlite_checks,
    start_workload,
)
from tests.integration.workload import MACHINE, read_json_lines

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGKILL/SIGSTOP and flock are POSIX"
)

TAGS = ["TH-001", "TH-002", "PG-010", "DMM-7"]


# -- many editors ------------------------------------------------------------------


@sizes((4, 25), (8, 200))
def test_many_editors_lose_no_update(size: tuple[int, int], tmp_path: Path) -> None:
    workers, edits = size
    db, state = tmp_path / "lab.db", tmp_path / "state"
    new_lab(db, state, TAGS)

    run = run_edit_workers(db, tmp_path, workers=workers, edits=edits, tags=TAGS, seed=11)

    check_edit_run(db, run, state, workers=workers, edits=edits, tags=TAGS)
    # No two workers ever saved under the same editor epoch (never two editors at once),
    # and every acquisition moved the epoch on.
    holders = {(r["worker"], r["epoch"]) for r in run.saved}
    assert len({epoch for _, epoch in holders}) == len(holders)
    assert meta_epoch(db) >= 1 + len(holders)
    report(
        "edits",
        workers=workers,
        edits_each=edits,
        saved=len(run.saved),
        conflicts_refused=len(run.conflicts),
        lock_epochs=meta_epoch(db),
        seconds=round(run.seconds, 1),
    )


# -- lock race ---------------------------------------------------------------------


@sizes((4, 12), (8, 50))
def test_lock_race_never_two_holders(size: tuple[int, int], tmp_path: Path) -> None:
    racers, rounds = size
    tag = TAGS[0]
    db, state = tmp_path / "lab.db", tmp_path / "state"
    new_lab(db, state, [tag])
    first_epoch = meta_epoch(db)
    arena = tmp_path / "arena"
    arena.mkdir()
    (arena / "counter").write_text("0", encoding="utf-8")
    logs = [tmp_path / f"race-{w}.jsonl" for w in range(racers)]
    started = time.monotonic()
    procs = [
        start_workload(
            tmp_path,
            "race",
            *("--db", str(db), "--state", str(state), "--log", str(logs[w])),
            *("--arena", str(arena), "--worker", str(w), "--rounds", str(rounds)),
            *("--tag", tag, "--seed", str(w)),
        )
        for w in range(racers)
    ]
    try:
        for w, proc in enumerate(procs):
            wait_for_file(arena / f"ready-{w}", proc)
        (arena / "go").touch()  # all at once
        outputs = [finish(p, timeout=600) for p in procs]
    finally:
        kill_all(procs)
    seconds = time.monotonic() - started
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, (out, err)
    tries = sum(json.loads(out.strip().splitlines()[-1])["tries"] for out, _ in outputs)

    total = racers * rounds
    held = sorted((r for log in logs for r in read_json_lines(log)), key=lambda r: r["seq"])
    assert len(held) == total
    # Nobody found another holder inside, and the holder file named the one inside.
    assert all(r["alone"] for r in held), [r for r in held if not r["alone"]]
    assert all(r["holder_says_me"] for r in held), [r for r in held if not r["holder_says_me"]]
    # The unprotected counter lost no bump: the critical sections never overlapped.
    assert [r["seq"] for r in held] == list(range(total))
    # One new epoch per acquisition, strictly increasing in the order of the holders.
    expected_epochs = list(range(first_epoch + 1, first_epoch + total + 1))
    assert [r["epoch"] for r in held] == expected_epochs
    assert meta_epoch(db) == first_epoch + total

    # The writes, in commit order, carry the epochs in the same order: none an old one.
    trail = [
        re.fullmatch(r"epoch=(\d+) worker=(\d+) seq=(\d+)", str(reason))
        for (reason,) in rows(
            db, "SELECT reason FROM audit_event WHERE action = 'update' ORDER BY id"
        )
    ]
    assert all(trail), trail
    assert [(int(m[1]), int(m[2]), int(m[3])) for m in trail if m] == [
        (r["epoch"], r["worker"], r["seq"]) for r in held
    ]
    assert sqlite_checks(db) == (["ok"], [])
    with open_db(db, state, edit=False) as app:
        assert app.maintenance.verify().problems == []
    holder = read_holder(holder_path(db))
    assert holder is not None and holder.released and holder.epoch == first_epoch + total
    report(
        "lock race",
        racers=racers,
        rounds_each=rounds,
        acquisitions=total,
        attempts=tries,
        final_epoch=meta_epoch(db),
        seconds=round(seconds, 1),
    )


def test_a_frozen_editor_fenced_off_cannot_write(tmp_path: Path) -> None:
    """SIGSTOP the editor, an admin fences it off; on SIGCONT its save is refused."""
    tag = TAGS[0]
    db, state = tmp_path / "lab.db", tmp_path / "state"
    new_lab(db, state, [tag])
    folder = tmp_path / "frozen"
    folder.mkdir()
    proc = start_workload(
        tmp_path,
        "frozen-editor",
        *("--db", str(db), "--state", str(state), "--folder", str(folder)),
        *("--user", "bob", "--tag", tag),
    )
    try:
        wait_for_file(folder / "ready.json", proc)
        bob_epoch = json.loads((folder / "ready.json").read_text())["epoch"]
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            # alice created the database, so she is its admin; she watches bob's
            # heartbeat stand still for a second and fences him off.
            with open_db(db, state, edit=False, stale_after_s=1.0) as admin:
                assert not admin.session.editing
                released = admin.locks.release(force=True)
            assert released.fenced_epoch == bob_epoch + 1
            (folder / "go").touch()
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        out, err = finish(proc)
    finally:
        kill_all([proc])
    assert proc.returncode == 0, (out, err)
    outcome = json.loads((folder / "outcome.json").read_text())
    assert outcome["outcome"] == "LeaseLostError", outcome

    assert rows(db, "SELECT description FROM instrument") == [(f"Instrument {tag}",)]
    assert rows(db, "SELECT user FROM audit_event WHERE action = 'update'") == []
    assert rows(db, "SELECT action FROM audit_event WHERE entity_type = 'lock'") == [
        ("force-release",)
    ]
    assert meta_epoch(db) == bob_epoch + 1
    # Once bob's process is gone, the next editor starts a newer epoch still.
    with open_db(db, state) as app:
        assert app.session.editing
        assert app.session.epoch == bob_epoch + 2
        app.instruments.edit(tag, InstrumentChanges(description="after the fence"))
        assert app.maintenance.verify().problems == []


# -- kill -9 -----------------------------------------------------------------------


@sizes(12, 50)
def test_kill9_of_the_editor_mid_write(size: int, tmp_path: Path) -> None:
    kills = size
    db, state = tmp_path / "lab.db", tmp_path / "state"
    new_lab(db, state, TAGS[:2])

    run = run_kill_loop(db, tmp_path, kills=kills, tags=TAGS[:2], seed=7)

    assert run.journal_modes == {"wal"}
    assert len(run.epochs) == kills + 1
    check_kill_run(db, run, state)
    ops = {op: sum(1 for c in run.committed if c["op"] == op) for op in ("edit", "calibration")}
    report(
        "kill -9",
        kills=kills,
        committed_edits=ops["edit"],
        committed_calibrations=ops["calibration"],
        committed_attachments=len(run.committed) - sum(ops.values()),
        orphan_files=len(run.orphans),
        seconds=round(run.seconds, 1),
    )


# -- the sqlite3 shell holds the database ------------------------------------------

HOLD_S = 10.0


@contextmanager
def sqlite3_shell_exclusive(db: Path) -> Iterator[Callable[[], None]]:
    """The sqlite3 CLI in ``BEGIN EXCLUSIVE``; yields a function that commits (once)."""
    shell = subprocess.Popen(
        ["sqlite3", "-bail", str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert shell.stdin is not None and shell.stdout is not None
    stdin, stdout = shell.stdin, shell.stdout
    done = False

    def commit() -> None:
        nonlocal done
        if done:
            return
        done = True
        stdin.write("COMMIT;\nSELECT 'released';\n")
        stdin.flush()
        assert stdout.readline() == "released\n"

    try:
        # -bail: if BEGIN EXCLUSIVE failed, the shell exits before saying "held".
        stdin.write("BEGIN EXCLUSIVE;\nSELECT 'held';\n")
        stdin.flush()
        assert stdout.readline() == "held\n", shell.stderr.read() if shell.stderr else ""
        yield commit
        commit()
        stdin.write(".quit\n")
        stdin.flush()
        out, err = shell.communicate(timeout=30)
        assert shell.returncode == 0, (out, err)
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.communicate()


def _holder_released(db: Path) -> bool:
    holder = read_holder(holder_path(db))
    return holder is not None and holder.released


@pytest.mark.parametrize("journal", ["wal", "truncate", "delete"])
def test_sqlite3_shell_holding_exclusive_cli_says_busy(
    journal: JournalChoice, tmp_path: Path
) -> None:
    """CLI edit while the shell holds the file for 10 s: exit 4, one line, nothing lost."""
    tag = TAGS[0]
    db, state = tmp_path / "lab.db", tmp_path / "state"
    new_lab(db, state, [tag], journal=journal)
    with open_db(db, state, edit=False, journal=journal) as app:
        assert app.database.journal_mode() == journal
    before, epoch = fingerprint(db), meta_epoch(db)
    edit = (
        *("--journal", journal, "--busy-timeout", "1"),
        *("instruments", "edit", tag, "--description", "changed after the lock"),
    )

    with sqlite3_shell_exclusive(db):
        held_since = time.monotonic()
        # Retries with a 1 s busy timeout take about 4.5 s: well inside the hold.
        result = run_cli(db, *edit)
        # Keep the file locked for the full 10 s (and at least until the CLI ended).
        time.sleep(max(0.0, HOLD_S - (time.monotonic() - held_since)))

    line = assert_one_error_line(result, 4)
    assert "busy" in line
    # Nothing changed, the epoch increment of the failed start rolled back, and the
    # editor lock was given back.
    assert sqlite_checks(db) == (["ok"], [])
    assert fingerprint(db) == before
    assert meta_epoch(db) == epoch
    assert _holder_released(db)
    assert rows(db, "SELECT description FROM instrument") == [(f"Instrument {tag}",)]

    # Afterwards the same command simply works, once.
    again = run_cli(db, *edit)
    assert again.returncode == 0, again.stderr
    assert rows(db, "SELECT description, version FROM instrument") == [
        ("changed after the lock", 2)
    ]
    after = fingerprint(db)
    assert after[:3] == before[:3] and after[3] == before[3] + 1
    with open_db(db, state, edit=False) as app:
        assert app.maintenance.verify().problems == []


@pytest.mark.parametrize("journal", ["wal", "truncate", "delete"])
def test_busy_write_is_retried_then_refused_then_retried_into_success(
    journal: JournalChoice, tmp_path: Path
) -> None:
    """In a running session: 3 attempts then DatabaseBusyError; a lock freed between
    attempts lets the retry commit the change exactly once."""
    tag = TAGS[0]
    db, state = tmp_path / "lab.db", tmp_path / "state"
    new_lab(db, state, [tag], journal=journal)
    bob = Identity(user="bob", machine=MACHINE)
    with open_db(db, state, identity=bob, journal=journal, busy_timeout_s=0.3) as app:
        assert app.session.editing
        assert app.database.journal_mode() == journal
        waits: list[float] = []
        real_sleep = app.database.sleep
        on_wait: list[Callable[[], None]] = []

        def backoff(seconds: float) -> None:
            # The real back-off, observed (and used to free the lock mid-retry).
            waits.append(seconds)
            for action in on_wait:
                action()
            real_sleep(seconds)

        app.database.sleep = backoff
        before = fingerprint(db)
        with sqlite3_shell_exclusive(db):
            with pytest.raises(DatabaseBusyError) as refused:
                app.instruments.edit(tag, InstrumentChanges(description="first try"))
            assert len(waits) == app.database.retry.attempts - 1 == 2
            assert "busy" in str(refused.value)
        assert app.session.editing  # busy is not a lost lock
        assert fingerprint(db) == before

        waits.clear()
        with sqlite3_shell_exclusive(db) as commit:
            on_wait.append(commit)  # the other program finishes during our back-off
            saved = app.instruments.edit(tag, InstrumentChanges(description="second try"))
        assert len(waits) == 1
        assert saved.version == 2
    assert rows(db, "SELECT description, version FROM instrument") == [("second try", 2)]
    updates = rows(db, "SELECT user, changes FROM audit_event WHERE action = 'update'")
    assert [(user, json.loads(changes)) for user, changes in updates] == [
        ("bob", {"description": [f"Instrument {tag}", "second try"]})
    ]
    assert sqlite_checks(db) == (["ok"], [])
