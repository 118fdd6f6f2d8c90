"""Drivers and checkers for the multi-user proof tests (test_multiuser, test_smb,
test_server_multiuser).

The drivers start the child programs of ``tests.integration.workload`` as separate
processes; the checkers read the database directly (a file with the sqlite3 module, a
server URL through its own connection) and rebuild what the tables must hold from the
audit trail. ``db`` is a file path or a server URL (a ``str``) throughout.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from app.bootstrap import CalTrack, open_caltrack
from app.db.engine import EngineOptions, JournalChoice
from app.identity import Identity
from app.limits import NOTES_LEN
from app.services.dto import InstrumentInput, to_jsonable
from app.services.editing import EditingOptions
from app.services.snapshots import INSTRUMENT_AUDITED
from tests.integration.helpers import CHILD_TIMEOUT_S, child_env, wait_for_file
from tests.integration.workload import MACHINE, patiently, read_json_lines

ROOT = Path(__file__).resolve().parents[2]

# Full sizes only on request (they take minutes); CI runs the reduced ones.
FULL_PROOF = os.environ.get("CALTRACK_FULL_PROOF") == "1"
FULL_PROOF_REASON = "full-size proof run: set CALTRACK_FULL_PROOF=1"

ADMIN = Identity(user="alice", machine=MACHINE)
PREVIOUS_UNCLEAN = "ended without closing"
CRASH_NOTICE = "did not close properly last time"


def sizes(reduced: object, full: object) -> pytest.MarkDecorator:
    """Parametrize over the reduced size (always) and the full one (on request, slow)."""
    return pytest.mark.parametrize(
        "size",
        [
            pytest.param(reduced, id="reduced"),
            pytest.param(
                full,
                id="full",
                marks=[
                    pytest.mark.slow,
                    pytest.mark.timeout(3600),
                    pytest.mark.skipif(not FULL_PROOF, reason=FULL_PROOF_REASON),
                ],
            ),
        ],
    )


def report(name: str, **numbers: object) -> None:
    """Numbers of a proof run, shown with ``pytest -s`` (and kept in the log of -rA)."""
    print(f"\n[proof] {name}: " + ", ".join(f"{k}={v}" for k, v in numbers.items()))


# -- opening and plain checks ------------------------------------------------------


# A database file, or a server URL.
Db = Path | str


def open_db(
    db: Db,
    state: Path,
    *,
    create: bool = False,
    edit: bool = True,
    identity: Identity = ADMIN,
    journal: JournalChoice = "auto",
    busy_timeout_s: float = 5.0,
    stale_after_s: float = 300.0,
) -> CalTrack:
    """Open in this process with run markers in ``state`` (never the user's home)."""
    return open_caltrack(
        str(db),
        create=create,
        options=EngineOptions(busy_timeout_s=busy_timeout_s, journal=journal),
        editing=EditingOptions(edit=edit, stale_after_s=stale_after_s),
        identity=identity,
        state_dir=state,
    )


def rows(db: Db, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read with plain sqlite3 (a read-write open: after a kill, recovery may be needed),
    or on a server through a connection of its own; values as the trail writes them.

    A "disk I/O error" is tried again a few times: on smbnetfs, deleting a hot journal
    after rolling it back fails now and then (see test_smb); locally it never happens.
    """
    if isinstance(db, str):
        return server_rows(db, sql, params)
    for attempt in range(1, 6):
        conn = sqlite3.connect(db, timeout=30)
        try:
            return [tuple(r) for r in conn.execute(sql, params)]
        except sqlite3.OperationalError as exc:
            if "disk I/O error" not in str(exc) or attempt == 5:
                raise
        finally:
            conn.close()
        time.sleep(0.05)
    raise AssertionError("unreachable")


def server_rows(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """``rows`` on a server: ``?`` placeholders, dates and numbers as JSON has them."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.exec_driver_sql(sql.replace("%", "%%").replace("?", "%s"), params)
            return [tuple(to_jsonable(v) for v in r) for r in found]
    finally:
        engine.dispose()


def sqlite_checks(db: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check`` with plain sqlite3."""
    integrity = [str(r[0]) for r in rows(db, "PRAGMA integrity_check")]
    return integrity, rows(db, "PRAGMA foreign_key_check")


def meta_epoch(db: Path) -> int:
    found = rows(db, "SELECT value FROM meta WHERE key = 'lock_epoch'")
    return int(found[0][0]) if found else 0


# -- child processes ---------------------------------------------------------------


def workload_env(home: Path) -> dict[str, str]:
    env = child_env(home)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])]
    )
    return env


def start_workload(home: Path, *args: str) -> subprocess.Popen[str]:
    """``python -m tests.integration.workload ARGS...`` running in ``home``."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.workload", *args],
        cwd=home,
        env=workload_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = CHILD_TIMEOUT_S) -> tuple[str, str]:
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def kill_all(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# -- the audit trail as the truth --------------------------------------------------


@dataclass
class Rebuilt:
    """Instruments as their audit trail says they must be."""

    states: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[int, str] = field(default_factory=dict)
    updates: dict[int, int] = field(default_factory=dict)
    # Events whose "before" value is not what the trail had built so far: a change
    # made from stale data (a lost update) or a gap in the trail.
    breaks: list[str] = field(default_factory=list)


def rebuild_instruments(db: Db) -> Rebuilt:
    """Fold every instrument event, in order, into the state it leaves behind."""
    rebuilt = Rebuilt()
    events = rows(
        db,
        "SELECT id, entity_id, entity_label, action, changes FROM audit_event "
        "WHERE entity_type = 'instrument' ORDER BY id",
    )
    for event_id, entity_id, label, action, changes_json in events:
        changes: dict[str, list[Any]] = json.loads(changes_json)
        state = rebuilt.states.setdefault(entity_id, {})
        if action == "create":
            if state:
                rebuilt.breaks.append(f"event #{event_id}: instrument #{entity_id} created twice")
        elif action == "update":
            rebuilt.updates[entity_id] = rebuilt.updates.get(entity_id, 0) + 1
        for name, (before, after) in changes.items():
            if action != "create" and state.get(name) != before:
                rebuilt.breaks.append(
                    f"event #{event_id} on {label}: {name} was {state.get(name)!r} "
                    f"but the change starts from {before!r}"
                )
            state[name] = after
        rebuilt.labels[entity_id] = label
    return rebuilt


def instrument_table(db: Db) -> dict[int, dict[str, Any]]:
    """The instrument rows: audited columns plus the version."""
    columns = ", ".join(INSTRUMENT_AUDITED)
    found = rows(db, f"SELECT id, version, {columns} FROM instrument ORDER BY id")
    return {
        r[0]: {"version": r[1], **dict(zip(INSTRUMENT_AUDITED, r[2:], strict=True))} for r in found
    }


def compare_with_trail(db: Db) -> tuple[Rebuilt, list[str]]:
    """Differences between the instrument table and its rebuilt trail (none expected)."""
    rebuilt = rebuild_instruments(db)
    table = instrument_table(db)
    problems = list(rebuilt.breaks)
    if set(table) != set(rebuilt.states):
        problems.append(f"ids in table {sorted(table)} != ids in trail {sorted(rebuilt.states)}")
    for entity_id, state in rebuilt.states.items():
        stored = table.get(entity_id)
        if stored is None:
            continue
        for name in INSTRUMENT_AUDITED:
            if stored[name] != state.get(name):
                problems.append(
                    f"instrument #{entity_id} {name}: table {stored[name]!r}, "
                    f"trail {state.get(name)!r}"
                )
    return rebuilt, problems


# -- setup -------------------------------------------------------------------------


def new_lab(
    db: Db,
    state: Path,
    tags: list[str],
    *,
    journal: JournalChoice = "auto",
    retry_storage_errors: bool = False,
) -> None:
    """A database with one instrument per tag, closed cleanly.

    ``retry_storage_errors``: on the SMB share a commit fails now and then (see
    test_smb); the setup then does what the message says and tries again.
    """
    retry = retry_storage_errors
    with patiently(
        lambda: open_db(db, state, create=True, journal=journal), None, "create", retry=retry
    ) as app:
        for tag in tags:
            values = InstrumentInput(
                asset_tag=tag,
                description=f"Instrument {tag}",
                manufacturer="Fluke",
                calibration_interval_days=365,
            )
            patiently(partial(app.instruments.add, values), None, "add", retry=retry)


# -- many editors ------------------------------------------------------------------


@dataclass
class EditRun:
    saved: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    storage_errors: list[dict[str, Any]]
    summaries: list[dict[str, Any]]
    seconds: float


def require_notes_fit(*, workers: int, edits: int, tags: list[str]) -> None:
    """Refuse a size whose tokens cannot all fit in an instrument's notes.

    Each save appends ``"{worker}.{edit};"`` to the notes of a random tag; past NOTES_LEN
    the save is refused as invalid and the worker stops half-way, minutes into the run.
    A third more than the mean allows for the random choice of tags.
    """
    token = len(f"{workers - 1}.{edits - 1};")
    expected = workers * edits / len(tags) * token * 4 / 3
    if expected > NOTES_LEN:
        raise ValueError(
            f"{workers} workers × {edits} edits on {len(tags)} instruments need notes of "
            f"about {expected:.0f} characters, over {NOTES_LEN}: use more instruments"
        )


def run_edit_workers(
    db: Db,
    work: Path,
    *,
    workers: int,
    edits: int,
    tags: list[str],
    seed: int,
    retry_storage_errors: bool = False,
) -> EditRun:
    """``workers`` processes × ``edits`` saves each on the shared instruments."""
    require_notes_fit(workers=workers, edits=edits, tags=tags)
    logs = [work / f"edit-{w}.jsonl" for w in range(workers)]
    started = time.monotonic()
    procs = [
        start_workload(
            work,
            "edit-loop",
            *("--db", str(db), "--state", str(work / "state"), "--log", str(logs[w])),
            *("--worker", str(w), "--edits", str(edits), "--tags", ",".join(tags)),
            *("--seed", str(seed * 1000 + w)),
            *(["--retry-storage-errors"] if retry_storage_errors else []),
        )
        for w in range(workers)
    ]
    try:
        outputs = [finish(p, timeout=max(CHILD_TIMEOUT_S, edits * workers * 1.5)) for p in procs]
    finally:
        kill_all(procs)
    seconds = time.monotonic() - started
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, (proc.returncode, out, err)
    records = [r for log in logs for r in read_json_lines(log)]
    return EditRun(
        saved=[r for r in records if r["kind"] == "saved"],
        conflicts=[r for r in records if r["kind"] == "conflict"],
        storage_errors=[r for r in records if r["kind"] == "storage_error"],
        summaries=[json.loads(out.strip().splitlines()[-1]) for out, _ in outputs],
        seconds=seconds,
    )


def check_edit_run(
    db: Db,
    run: EditRun,
    state: Path,
    *,
    workers: int,
    edits: int,
    tags: list[str],
    retry_storage_errors: bool = False,
) -> None:
    """No lost update, a consistent file, and the tables equal their rebuilt trail."""
    assert [s["saved"] for s in run.summaries] == [edits] * workers, run.summaries
    assert len(run.saved) == workers * edits
    assert sum(s["conflicts"] for s in run.summaries) == len(run.conflicts)
    # A conflict is only ever raised against a newer stored version.
    assert all(c["stored"] > c["loaded"] for c in run.conflicts), run.conflicts

    if isinstance(db, Path):  # a server keeps its own pages and foreign keys
        integrity, foreign = sqlite_checks(db)
        assert integrity == ["ok"]
        assert foreign == []

    rebuilt, problems = compare_with_trail(db)
    assert problems == []
    table = instrument_table(db)
    by_tag = {state["asset_tag"]: (entity_id, state) for entity_id, state in table.items()}
    assert sorted(by_tag) == sorted(tags)
    for tag in tags:
        entity_id, stored = by_tag[tag]
        acked = sorted((r for r in run.saved if r["tag"] == tag), key=lambda r: r["version"])
        # Every acknowledged save got its own version, one after the other...
        assert [r["version"] for r in acked] == list(range(2, len(acked) + 2)), tag
        assert stored["version"] == len(acked) + 1
        assert rebuilt.updates.get(entity_id, 0) == len(acked)
        # ...and its token is in the notes, in the order of the saves: nothing dropped,
        # nothing twice (a save reported as failed and rolled back, then repeated, would
        # show twice had it committed after all).
        assert stored["notes"] == "".join(r["token"] for r in acked), tag

    retry = retry_storage_errors
    with patiently(lambda: open_db(db, state, edit=False), None, "open", retry=retry) as app:
        report = patiently(lambda: app.maintenance.verify(deep=True), None, "verify", retry=retry)
        assert report.problems == []
        # One event per instrument and per saved edit, and the creator's admin account.
        assert report.audit_events == len(tags) + workers * edits + 1


# -- kill -9 of the editor ---------------------------------------------------------


@dataclass
class KillRun:
    kills: int
    committed: list[dict[str, Any]]
    epochs: list[int]
    orphans: list[str]
    hot_journals: int  # kills that left a rollback journal behind: caught mid-transaction
    journal_modes: set[str]
    storage_errors: int
    seconds: float


def attachment_sources(folder: Path, seed: int) -> Path:
    """Files to attach: small ones and one over the copy chunk size (1 MiB)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for name, size in (("a.txt", 700), ("b.pdf", 9_000), ("c.pdf", 60_000), ("d.tif", 1_100_000)):
        (folder / name).write_bytes(rng.randbytes(size))
    return folder


def _wait_for_first_commit(log: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while not read_json_lines(log):
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"writer exited with {proc.returncode}:\n{out}\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError("the writer never committed")
        time.sleep(0.005)


def _check_takeover(
    report: dict[str, Any], k: int, previous_user: str | None, last_epoch: int
) -> None:
    assert report["editing"] is True, report
    assert report["integrity"] == ["ok"], report
    assert report["foreign_keys"] == [], report
    assert report["verify_problems"] == [], report
    assert report["problems"] == [], report
    assert report["epoch"] > last_epoch, (report["epoch"], last_epoch)
    notices: list[str] = report["notices"]
    if previous_user is None:
        # Created and closed cleanly: nothing to report.
        assert not [n for n in notices if PREVIOUS_UNCLEAN in n or CRASH_NOTICE in n], notices
    else:
        assert [n for n in notices if CRASH_NOTICE in n and "is fine" in n], (k, notices)
        unclean = [n for n in notices if PREVIOUS_UNCLEAN in n]
        if report["open_attempts"] > 1:
            # A takeover that failed after taking the lock (a storage error on the
            # share, retried) marked the lock released: the retry cannot know any more.
            return
        assert len(unclean) == 1, (k, notices)
        assert f"session of {previous_user} on {MACHINE}" in unclean[0], unclean


def run_kill_loop(
    db: Path,
    work: Path,
    *,
    kills: int,
    tags: list[str],
    seed: int,
    retry_storage_errors: bool = False,
) -> KillRun:
    """Start a writer, SIGKILL it mid-write; ``kills`` times; then a clean last session."""
    rng = random.Random(seed)
    sources = attachment_sources(work / "sources", seed)
    state = work / "state"
    stop = work / "stop"
    journal = db.with_name(db.name + "-journal")
    committed: list[dict[str, Any]] = []
    epochs: list[int] = []
    orphans: set[str] = set()
    modes: set[str] = set()
    hot = 0
    previous: str | None = None
    started = time.monotonic()
    for k in range(kills + 1):
        user = f"s{k:03d}"
        report_file, log = work / f"report-{k}.json", work / f"writes-{k}.jsonl"
        proc = start_workload(
            work,
            "kill-writer",
            *("--db", str(db), "--state", str(state), "--log", str(log)),
            *("--report", str(report_file), "--stop", str(stop), "--sources", str(sources)),
            *("--user", user, "--tags", ",".join(tags), "--seed", str(seed * 1000 + k)),
            *(["--retry-storage-errors"] if retry_storage_errors else []),
        )
        try:
            wait_for_file(report_file, proc)
            report = json.loads(report_file.read_text(encoding="utf-8"))
            _check_takeover(report, k, previous, epochs[-1] if epochs else 0)
            epochs.append(report["epoch"])
            modes.add(report["journal_mode"])
            new = set(report["orphans"]) - orphans
            # Only the one attach in flight at the kill can leave a file without a row.
            assert len(new) <= (0 if k == 0 else 1), (k, sorted(new))
            orphans |= new
            _wait_for_first_commit(log, proc)
            if k < kills:
                time.sleep(rng.uniform(0.0, 0.25))
                assert proc.poll() is None, proc.communicate()
                os.kill(proc.pid, signal.SIGKILL)
                finish(proc)
                assert proc.returncode == -signal.SIGKILL
                hot += journal.exists()
            else:
                stop.touch()
                out, err = finish(proc)
                assert proc.returncode == 0, (out, err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        committed += read_json_lines(log)
        previous = user
    storage_errors = sum(1 for c in committed if c["op"] == "storage_error")
    return KillRun(
        kills=kills,
        committed=[c for c in committed if c["op"] != "storage_error"],
        epochs=epochs,
        orphans=sorted(orphans),
        hot_journals=hot,
        journal_modes=modes,
        storage_errors=storage_errors,
        seconds=time.monotonic() - started,
    )


def assert_committed_present(db: Db, committed: list[dict[str, Any]]) -> dict[int, Any]:
    """Every change a killed writer logged as committed is in the database; the
    attachment rows (id → (stored name, sha256))."""
    notes_written = {
        json.loads(c)["notes"][1]
        for (c,) in rows(
            db,
            "SELECT changes FROM audit_event WHERE entity_type = 'instrument' "
            "AND action = 'update' AND changes LIKE '%\"notes\"%'",
        )
    }
    certificates = dict(rows(db, "SELECT id, certificate_number FROM calibration_record"))
    attachments = {
        r[0]: (r[1], r[2]) for r in rows(db, "SELECT id, stored_name, sha256 FROM attachment")
    }
    for change in committed:
        if change["op"] == "edit":
            assert change["token"] in notes_written, change
        elif change["op"] == "calibration":
            assert certificates.get(change["id"]) == change["certificate"], change
        else:
            assert attachments.get(change["id"]) == (change["stored"], change["sha256"]), change

    return attachments


def check_kill_run(
    db: Path, run: KillRun, state: Path, *, retry_storage_errors: bool = False
) -> None:
    """After the loop: a sound file, and every change a writer saw committed is there."""
    integrity, foreign = sqlite_checks(db)
    assert integrity == ["ok"]
    assert foreign == []
    _, problems = compare_with_trail(db)
    assert problems == []

    attachments = assert_committed_present(db, run.committed)

    folder = db.with_name(db.name + "-attachments")
    stored = set(os.listdir(folder)) if folder.is_dir() else set()
    # No attachment row without its file; at most one orphan file per kill.
    assert {name for name, _ in attachments.values()} <= stored
    assert len(stored) - len(attachments) == len(run.orphans) <= run.kills

    # The last session closed cleanly: the next one reports nothing unusual.
    retry = retry_storage_errors
    with patiently(lambda: open_db(db, state), None, "open", retry=retry) as app:
        assert app.session.editing
        assert not [n for n in app.notices if PREVIOUS_UNCLEAN in n or CRASH_NOTICE in n]
        report = patiently(lambda: app.maintenance.verify(deep=True), None, "verify", retry=retry)
        assert report.problems == []
        assert report.attachments_checked == len(attachments)
        assert sorted(report.orphan_files) == run.orphans
        assert app.session.epoch == run.epochs[-1] + 1


# -- kill -9 of a client of a server -----------------------------------------------


def run_server_kill_loop(
    url: str, work: Path, *, kills: int, tags: list[str], seed: int
) -> KillRun:
    """Writers on a server, each SIGKILLed mid-write; ``kills`` times, then a clean one.

    No editor lock to take over and no file to check: each next writer checks (``db
    verify``: chain, replay against the tables) what the killed one left behind.
    """
    rng = random.Random(seed)
    sources = attachment_sources(work / "sources", seed)  # (attachments: not on a server yet)
    state, stop = work / "state", work / "stop"
    committed: list[dict[str, Any]] = []
    started = time.monotonic()
    for k in range(kills + 1):
        report_file, log = work / f"report-{k}.json", work / f"writes-{k}.jsonl"
        proc = start_workload(
            work,
            "kill-writer",
            *("--db", url, "--state", str(state), "--log", str(log)),
            *("--report", str(report_file), "--stop", str(stop), "--sources", str(sources)),
            *("--user", f"s{k:03d}", "--tags", ",".join(tags), "--seed", str(seed * 1000 + k)),
            *("--ops", "edit,edit,calibration"),
        )
        try:
            wait_for_file(report_file, proc)
            found = json.loads(report_file.read_text(encoding="utf-8"))
            assert found["editing"] is True, found
            assert found["verify_problems"] == [] and found["problems"] == [], (k, found)
            _wait_for_first_commit(log, proc)
            if k < kills:
                time.sleep(rng.uniform(0.0, 0.25))
                assert proc.poll() is None, proc.communicate()
                os.kill(proc.pid, signal.SIGKILL)
                finish(proc)
                assert proc.returncode == -signal.SIGKILL
            else:
                stop.touch()
                out, err = finish(proc)
                assert proc.returncode == 0, (out, err)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        committed += read_json_lines(log)
    return KillRun(
        kills=kills,
        committed=committed,
        epochs=[],
        orphans=[],
        hot_journals=0,
        journal_modes={"postgresql"},
        storage_errors=0,
        seconds=time.monotonic() - started,
    )


def check_server_kill_run(url: str, run: KillRun, state: Path) -> None:
    """Nothing half-written: tables equal their trail, every logged commit is there."""
    _, problems = compare_with_trail(url)
    assert problems == []
    assert_committed_present(url, run.committed)
    with open_db(url, state, edit=False) as app:
        report = app.maintenance.verify(deep=True)
        assert report.problems == []
