"""An editor frozen inside a write (issue 10, point 5), with real processes.

A child editor starts a real import and stops itself (SIGSTOP) inside the import's write
transaction, so SQLite's write lock stays held, exactly as a PC that hangs mid-save.
``lock status`` and ``lock release --force`` must say so at once — not watch the
heartbeat for the default 5 minutes and then report "busy" — and on this machine
``lock release --force --end-process`` ends the frozen process and releases the lock.
No stale period is shortened here: the default 300 s is in force.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.clock import SystemClock
from app.identity import get_current_user_id
from app.locking.editor_lock import os_lock_free
from app.locking.holder import holder_path, read_holder
from tests.conftest import add_thermometer
from tests.integration.helpers import (
    CHILD_TIMEOUT_S,
    assert_one_error_line,
    child_env,
    cli_command,
    count,
    epoch,
    open_lab,
    popen_python,
    query,
    scalar,
    wait_for_file,
)
from tests.integration.process_helpers import (
    holding_child,
    open_to_everyone,
    other_user,
    shared_folder,
    wait_until,
)

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses SIGSTOP and /proc (Linux)")

ME = get_current_user_id()  # the `caltrack` children run as this login: the admin
HANNA = "hanna"
TAG = "TH-001"
ROWS = 1200  # the child stops after 500 rows were written, inside the transaction
# Far below the default stale period (300 s): the answer must not come from watching it.
QUICK_S = 60.0

# Opens the database as its editor and imports ``csv``; when the import reports its
# first progress while saving (rows already written, transaction open) it says so in
# ``inside.json`` and stops itself. SIGTERM unwinds like the CLI's handler does.
FROZEN_IMPORTER = r"""
import json, os, signal, sys
from pathlib import Path
from app.bootstrap import open_caltrack
from app.identity import Identity
from app.services.editing import EditingOptions
from app.db.engine import EngineOptions
from app.services.transfer_model import ImportOptions

db, csv, control, user, machine, journal = sys.argv[1:7]
control = Path(control)

def terminate(signum, frame):
    raise SystemExit(128 + signum)

signal.signal(signal.SIGTERM, terminate)
app = open_caltrack(
    db,
    identity=Identity(user, machine),
    options=EngineOptions(journal=journal),
    editing=EditingOptions(heartbeat_s=0.2),
)
if not app.session.editing:
    sys.exit("not the editor: " + str(app.session.read_only_reason))

def progress(phase, done, total):
    if phase == "saving":
        (control / "inside.json").write_text(json.dumps({"pid": os.getpid(), "done": done}))
        os.kill(os.getpid(), signal.SIGSTOP)

try:
    app.transfer.import_file(Path(csv), ImportOptions(kind="instruments"), progress=progress)
    (control / "committed").write_text("yes")
finally:
    app.close()
"""


def make_db(db: Path) -> Path:
    with open_lab(db, create=True, identity=ME, clock=SystemClock()) as app:
        add_thermometer(app, TAG)
    return db


def big_csv(path: Path) -> Path:
    lines = ["Asset tag,Description"]
    lines += [f"IMP-{n:05d},Imported gauge {n}" for n in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def proc_state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return stat[stat.rindex(")") + 2]


def lock_events(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db,
        "SELECT user, machine, action, changes, reason FROM audit_event "
        "WHERE entity_type = 'lock' ORDER BY id",
    )


def quick_cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A ``caltrack`` child that must answer well within the default stale period."""
    return subprocess.run(
        cli_command(db, *args),
        cwd=db.parent,
        env=child_env(db.parent),
        capture_output=True,
        text=True,
        timeout=QUICK_S,
        check=False,
    )


@contextlib.contextmanager
def frozen_importer(
    db: Path, control: Path, machine: str, journal: str = "auto"
) -> Iterator[subprocess.Popen[str]]:
    """A child editor stopped inside its import's write transaction; killed at the end."""
    control.mkdir(parents=True, exist_ok=True)
    csv = big_csv(control / "big.csv")
    proc = popen_python(
        FROZEN_IMPORTER, str(db), str(csv), str(control), HANNA, machine, journal, cwd=db.parent
    )
    try:
        wait_for_file(control / "inside.json", proc)
        wait_until(lambda: proc_state(proc.pid) == "T", "the importer to stop itself")
        yield proc
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=CHILD_TIMEOUT_S)


def frozen_line(pid: int, machine: str) -> str:
    return f"held by {HANNA} on {machine} (pid {pid}), which is frozen (stopped) inside a write"


@pytest.mark.parametrize("journal", ["auto", "truncate"])  # WAL here; rollback as on shares
def test_a_holder_frozen_inside_a_write_is_named_at_once_and_can_be_ended(
    tmp_path: Path, journal: str
) -> None:
    db = make_db(tmp_path / "lab.db")
    with frozen_importer(db, tmp_path / "child", ME.machine, journal) as child:
        assert journal == "auto" or (db.parent / "lab.db-journal").exists()
        before = epoch(db)  # the child's own, as it became the editor
        status = quick_cli(db, "lock", "status")
        assert status.returncode == 0, status.stderr
        assert frozen_line(child.pid, ME.machine) in status.stdout, status.stdout
        assert "SQLite's write lock is held" in status.stdout
        assert "no one can save until that process ends or that PC restarts" in status.stdout
        assert "Stale          no" not in status.stdout

        data = json.loads(quick_cli(db, "lock", "status", "--json").stdout)
        assert (data["held"], data["pid"], data["machine"]) == (True, child.pid, ME.machine)
        assert data["write_lock_held"] is True
        assert data["frozen_in_write"] is True
        assert data["process_state"] == "stopped"

        # --force says the same at once (exit 4), and offers to end it here.
        refused = quick_cli(db, "lock", "release", "--force")
        line = assert_one_error_line(refused, 4)
        assert frozen_line(child.pid, ME.machine) in line
        assert "--end-process" in line
        assert epoch(db) == before and lock_events(db) == []
        assert proc_state(child.pid) == "T"  # nothing was done to it

        ended = quick_cli(db, "lock", "release", "--force", "--end-process")
        assert ended.returncode == 0, ended.stderr
        assert f"ended the frozen session of {HANNA} on {ME.machine} (pid {child.pid})" in (
            ended.stdout
        )
        child.communicate(timeout=CHILD_TIMEOUT_S)
        assert child.returncode != 0
    assert not (tmp_path / "child" / "committed").exists()
    assert os_lock_free(db)
    # The half-done import is not in the file, and the file is sound.
    assert scalar(db, "PRAGMA integrity_check") == "ok"
    assert count(db, "instrument") == 1
    assert query(db, "SELECT COUNT(*) FROM instrument WHERE asset_tag LIKE 'IMP-%'") == [(0,)]
    events = lock_events(db)
    assert [(e[0], e[1], e[2]) for e in events] == [(ME.user, ME.machine, "end-process")]
    assert f"pid {child.pid}" in str(events[0][4])
    assert epoch(db) == before + 1
    marked = read_holder(holder_path(db))
    assert marked is not None and marked.released
    # A new editor saves at once.
    added = quick_cli(db, "instruments", "add", "--asset-tag", "TH-201", "--description", "x")
    assert added.returncode == 0, added.stderr
    assert count(db, "instrument") == 2


def test_a_holder_frozen_inside_a_write_on_another_pc_is_named_and_not_ended(
    tmp_path: Path,
) -> None:
    db = make_db(tmp_path / "lab.db")
    with frozen_importer(db, tmp_path / "child", "LAB-PC-9") as child:
        before = epoch(db)
        status = quick_cli(db, "lock", "status")
        assert status.returncode == 0, status.stderr
        assert f"held by {HANNA} on LAB-PC-9 (pid {child.pid})" in status.stdout
        assert "inside a write" in status.stdout and "SQLite's write lock is held" in status.stdout

        for args in (("--force",), ("--force", "--end-process")):
            refused = quick_cli(db, "lock", "release", *args)
            assert refused.returncode == 4, refused.stderr
            assert "Traceback" not in refused.stderr
            last = refused.stderr.splitlines()[-1]
            assert f"held by {HANNA} on LAB-PC-9 (pid {child.pid})" in last
            assert "inside a write" in last and "cannot be ended from here" in last
        assert proc_state(child.pid) == "T"
        assert epoch(db) == before and lock_events(db) == []


def test_end_process_refuses_a_pid_that_is_not_this_databases_editor(tmp_path: Path) -> None:
    """A holder file naming a pid now used by an unrelated process: nothing is killed."""
    db = make_db(tmp_path / "lab.db")
    with frozen_importer(db, tmp_path / "child", ME.machine) as child:
        unrelated = subprocess.Popen(["sleep", "600"])
        try:
            os.kill(unrelated.pid, signal.SIGSTOP)
            wait_until(lambda: proc_state(unrelated.pid) == "T", "sleep to stop")
            # The holder file now names the unrelated (stopped) process.
            info = read_holder(holder_path(db))
            assert info is not None
            text = (
                holder_path(db)
                .read_text()
                .replace(f'"pid": {child.pid}', f'"pid": {unrelated.pid}')
            )
            holder_path(db).write_text(text)
            result = quick_cli(db, "lock", "release", "--force", "--end-process")
            line = assert_one_error_line(result, 4)
            assert f"pid {unrelated.pid}" in line and "not" in line
            assert proc_state(unrelated.pid) == "T"  # left alone
            assert proc_state(child.pid) == "T"
        finally:
            unrelated.kill()
            unrelated.communicate()


def test_end_process_of_another_os_users_process_is_refused_clearly(tmp_path: Path) -> None:
    """An admin logged in as another OS user may not end the holder: one clear line."""
    with shared_folder(0o777) as folder, other_user() as nobody:
        db = make_db(folder / "lab.db")
        made = quick_cli(db, "users", "set", "nobody", "--role", "admin")
        assert made.returncode == 0, made.stderr
        with frozen_importer(db, tmp_path / "child", ME.machine) as child:
            open_to_everyone(folder)  # nobody may write the file (and so probe its lock)
            before = epoch(db)
            result = nobody.cli(db, "lock", "release", "--force", "--end-process")
            line = assert_one_error_line(result, 8)
            assert f"pid {child.pid} is another OS user's process" in line
            assert "ask that user, or an administrator of this PC" in line
            assert "nothing was ended" in line
            assert proc_state(child.pid) == "T"
            assert epoch(db) == before
            assert [e[2] for e in lock_events(db)] == []


def test_a_holder_stopped_on_this_pc_outside_a_write_is_fenced_without_the_stale_wait(
    tmp_path: Path,
) -> None:
    """Stopped here is proof enough: no 5-minute watch; fenced at once, as before."""
    db = make_db(tmp_path / "lab.db")
    with holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder:
        before = epoch(db)
        os.kill(holder.pid, signal.SIGSTOP)
        try:
            wait_until(lambda: proc_state(holder.pid) == "T", "the holder to stop")
            released = quick_cli(db, "lock", "release", "--force")
            assert released.returncode == 0, released.stderr
            assert "watching the heartbeat" not in released.stderr
            assert f"fenced off the frozen session of {HANNA} on {ME.machine}" in released.stdout
            assert epoch(db) == before + 1
        finally:
            os.kill(holder.pid, signal.SIGCONT)
        holder.order("write", "TH-300")
        code, _, err = holder.finish()
        assert code == 5, err  # fenced: its save is refused
    assert query(db, "SELECT asset_tag FROM instrument WHERE asset_tag = 'TH-300'") == []
