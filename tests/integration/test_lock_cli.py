"""The editor lock across real processes: status, release, fencing, crashes, hand-over.

A child process (``holding_child``) opens the database as its editor with a fast
heartbeat; ``caltrack`` commands run as separate processes against the same file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.bootstrap import open_caltrack
from app.clock import FixedClock, SystemClock
from app.errors import ReadOnlyError
from app.identity import Identity, get_current_user_id
from app.locking.editor_lock import os_lock_free
from app.locking.holder import HolderInfo, holder_path, read_holder, write_holder
from app.services.editing import EditingOptions
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
    run_cli,
    run_cli_many,
    scalar,
    side_by_side,
    wait_for_file,
)
from tests.integration.process_helpers import (
    holding_child,
    other_user,
    shared_folder,
    stderr_lines,
    wait_until,
)

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="uses POSIX signals (SIGKILL, SIGSTOP, SIGTERM)"
)

TAG = "TH-001"
ME = get_current_user_id()  # who the `caltrack` children are: the database's admin
HANNA = "hanna"  # the editor in the holder child, on this machine


def make_db(db: Path) -> Path:
    """A database created (so administered) by the user the CLI children run as."""
    with open_lab(db, create=True, identity=ME, clock=SystemClock()) as app:
        add_thermometer(app, TAG)
    return db


def lock_events(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db,
        "SELECT user, machine, entity_label, action, changes, reason FROM audit_event "
        "WHERE entity_type = 'lock' ORDER BY id",
    )


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    return json.loads(result.stdout)


# -- 5. lock status and release ----------------------------------------------------------


def test_status_names_a_live_holder_and_release_leaves_it_alone(tmp_path: Path) -> None:
    db = make_db(tmp_path / "lab.db")
    with holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder:
        on_file = read_holder(holder_path(db))
        assert on_file is not None
        status, watched, release, force = run_cli_many(
            db,
            [
                ("lock", "status", "--json"),
                ("--stale-after", "2", "lock", "status", "--json", "--watch", "2"),
                ("lock", "release"),
                ("--stale-after", "2", "lock", "release", "--force"),
            ],
        )

        data = ok_json(status)
        assert data["held"] is True
        assert (data["user"], data["machine"], data["pid"]) == (HANNA, ME.machine, holder.pid)
        assert data["since"] == on_file.since
        assert datetime.fromisoformat(data["since"]).tzinfo is not None
        assert data["epoch"] == holder.ready["epoch"] == epoch(db)
        assert data["heartbeat_age_s"] is None  # not watched: no age to tell
        assert data["stale"] is False

        data = ok_json(watched)
        assert (data["held"], data["user"], data["pid"]) == (True, HANNA, holder.pid)
        assert isinstance(data["heartbeat_age_s"], float) and data["heartbeat_age_s"] >= 0
        assert data["watched_s"] == 2.0
        assert data["stale"] is False  # its heartbeat moved while we watched

        line = assert_one_error_line(release, 4)
        assert f"held by {HANNA} on {ME.machine}" in line and "--force" in line

        # --force watches the heartbeat first, sees it move and refuses.
        assert force.returncode == 4, force.stderr
        watching, refused = stderr_lines(force)
        assert "watching the heartbeat for 2 s" in watching
        assert "alive" in refused and "not released" in refused and HANNA in refused

        # Nothing was fenced or recorded; the holder still edits.
        assert epoch(db) == holder.ready["epoch"]
        assert lock_events(db) == []
        after = read_holder(holder_path(db))
        assert after is not None and after.session_id == on_file.session_id
        holder.order("write", "TH-100")
        wait_until(lambda: (holder.control / "result.json").exists(), "the holder's save")
        assert holder.result() == {"saved": "TH-100"}
    assert count(db, "instrument") == 2


def test_force_release_fences_a_frozen_holder(tmp_path: Path) -> None:
    db = make_db(tmp_path / "lab.db")
    with holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder:
        before = epoch(db)
        assert holder.ready["epoch"] == before
        os.kill(holder.pid, signal.SIGSTOP)  # the editor's PC hangs
        try:
            # The same watch that found the live holder fresh finds this one stale.
            status = ok_json(
                run_cli(db, "--stale-after", "2", "lock", "status", "--json", "--watch", "2")
            )
            assert (status["held"], status["user"], status["stale"]) == (True, HANNA, True)
            assert status["heartbeat_age_s"] >= 2
            released = run_cli(db, "--stale-after", "1", "lock", "release", "--force")
            assert released.returncode == 0, released.stderr
            assert f"fenced off the frozen session of {HANNA} on {ME.machine}" in released.stdout
            assert f"lock epoch now {before + 1}" in released.stdout
            assert epoch(db) == before + 1
            events = lock_events(db)
            assert [(e[0], e[1], e[2], e[3]) for e in events] == [
                (ME.user, ME.machine, "lab.db", "force-release")
            ]
            assert json.loads(str(events[0][4]))["holder"][0].startswith(f"{HANNA} on")
            marked = read_holder(holder_path(db))
            assert marked is not None and marked.released
            assert marked.session_id.startswith("admin-release-")
            # The frozen process still has its OS lock until it dies or wakes.
            assert not os_lock_free(db)
        finally:
            os.kill(holder.pid, signal.SIGCONT)
        holder.order("write", "TH-200")
        code, _, err = holder.finish()
        assert code == 5, err
        assert holder.result()["error"] == "LeaseLostError"
    assert query(db, "SELECT asset_tag FROM instrument WHERE asset_tag = 'TH-200'") == []
    assert os_lock_free(db)
    # A new editor can start; no false "ended without closing", the epoch moves on.
    added = run_cli(db, "instruments", "add", "--asset-tag", "TH-201", "--description", "x")
    assert added.returncode == 0 and added.stderr == "", added.stderr
    assert epoch(db) == before + 2


def test_release_of_a_killed_holders_lock_works_and_is_audited(tmp_path: Path) -> None:
    db = make_db(tmp_path / "lab.db")
    with holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder:
        before = epoch(db)
        holder.kill(signal.SIGKILL)
    left = read_holder(holder_path(db))
    assert left is not None and not left.released and left.user == HANNA

    released = run_cli(db, "lock", "release")
    assert released.returncode == 0, released.stderr
    assert f"released the lock left by {HANNA} on {ME.machine}" in released.stdout
    assert "ended without closing" in released.stdout
    events = lock_events(db)
    assert [(e[0], e[1], e[2], e[3]) for e in events] == [
        (ME.user, ME.machine, "lab.db", "release")
    ]
    assert json.loads(str(events[0][4]))["holder"][0].startswith(f"{HANNA} on {ME.machine}")
    assert f"released by admin {ME.user}" in str(events[0][5])
    assert epoch(db) == before  # nothing to fence: the holder is dead
    marked = read_holder(holder_path(db))
    assert marked is not None and marked.released
    with open_lab(db, edit=False, identity=ME, clock=SystemClock()) as app:
        assert app.maintenance.verify().problems == []  # the audit chain takes the event
    added = run_cli(db, "instruments", "add", "--asset-tag", "TH-300", "--description", "x")
    assert added.returncode == 0, added.stderr
    assert "ended without closing" not in added.stderr


def _left_behind(db: Path) -> bytes:
    """The holder file a killed editor leaves: not released, its process gone."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    write_holder(
        holder_path(db),
        HolderInfo(
            user=HANNA,
            machine=ME.machine,
            pid=gone.pid,
            session_id=uuid.uuid4().hex,
            app_version="0.1.0",
            since=datetime.now(UTC).isoformat(timespec="seconds"),
            heartbeat=12,
            epoch=epoch(db),
        ),
    )
    return holder_path(db).read_bytes()


def test_lock_release_by_a_non_admin_is_refused(tmp_path: Path) -> None:
    with shared_folder(0o777) as folder, other_user() as nobody:
        db = make_db(folder / "lab.db")
        before, left = epoch(db), _left_behind(db)
        results = side_by_side(
            lambda args: nobody.cli(db, *args),
            [("lock", "release"), ("lock", "release", "--force"), ("admins", "add", "nobody")],
        )
        for result, what in zip(results, ["release", "release", "change"], strict=True):
            line = assert_one_error_line(result, 8)
            assert f"only CalTrack admins may {what}" in line
            assert f"admins of this database: {ME.user}" in line
        assert holder_path(db).read_bytes() == left
        assert epoch(db) == before
        assert lock_events(db) == []
        assert scalar(db, "SELECT group_concat(login) FROM user_account WHERE role = 'admin'") == (
            ME.user
        )


def test_lock_status_as_another_user_names_the_holder(tmp_path: Path) -> None:
    with shared_folder(0o777) as folder, other_user() as nobody:
        db = make_db(folder / "lab.db")
        with holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder:
            data = ok_json(nobody.cli(db, "lock", "status", "--json"))
            assert (data["held"], data["user"], data["pid"]) == (True, HANNA, holder.pid)


def test_another_user_with_write_access_can_edit(tmp_path: Path) -> None:
    with shared_folder(0o777) as folder, other_user() as nobody:
        db = make_db(folder / "lab.db")
        db.chmod(0o666)  # the database itself is writable by everyone
        added = nobody.cli(db, "instruments", "add", "--asset-tag", "TH-400", "--description", "x")
        assert added.returncode == 0, added.stderr
        assert count(db, "instrument") == 2


# -- 6. crashes and signals --------------------------------------------------------------


def test_killed_holder_frees_the_lock_at_once(tmp_path: Path) -> None:
    db = make_db(tmp_path / "lab.db")
    with holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder:
        holder.kill(signal.SIGKILL)
    assert os_lock_free(db)  # the OS let go of it with the process
    added = run_cli(db, "instruments", "add", "--asset-tag", "TH-500", "--description", "x")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added TH-500 (version 1)"
    notes = [line for line in stderr_lines(added) if "editing session" in line]
    assert len(notes) == 1, added.stderr
    assert re.fullmatch(
        rf"caltrack: note: The previous editing session of {HANNA} on {re.escape(ME.machine)} "
        r"\(since [0-9: -]+\) ended without closing\.",
        notes[0],
    ), notes[0]
    assert count(db, "instrument") == 2


def test_sigterm_to_an_editing_command_releases_the_lock(tmp_path: Path) -> None:
    db = make_db(tmp_path / "lab.db")
    before = count(db, "instrument")
    proc = subprocess.Popen(
        cli_command(db, "demo", "--instruments", "500000"),
        cwd=db.parent,
        env=child_env(db.parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def editing() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"demo ended early: {proc.communicate()}")
            info = read_holder(holder_path(db))
            # Its epoch is recorded once it is the editor (not in the middle of taking
            # the lock: see the report on EditorLock.try_acquire).
            return info is not None and info.pid == proc.pid and info.epoch > 0

        wait_until(editing, "the demo command to become the editor")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + signal.SIGTERM, err
    released = read_holder(holder_path(db))
    assert released is not None and released.pid == proc.pid and released.released
    assert os_lock_free(db)
    assert count(db, "instrument") == before  # the demo transaction was rolled back
    added = run_cli(db, "instruments", "add", "--asset-tag", "TH-600", "--description", "x")
    assert added.returncode == 0
    assert added.stderr == ""  # no "ended without closing", no crash check


# -- 7. notify and hand-over ---------------------------------------------------------


def test_read_only_session_learns_when_the_editor_closes(tmp_path: Path, clock: FixedClock) -> None:
    db = make_db(tmp_path / "lab.db")
    bob = Identity("bob", "LAB-PC-7")
    with (
        holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder,
        open_lab(db, edit=False, identity=bob, clock=clock) as reader,
    ):
        assert not reader.session.editing
        assert not reader.session.lock_free()
        assert reader.session.wait_until_free(0.3, poll_s=0.05) is False
        holder.order("close")
        assert reader.session.wait_until_free(CHILD_TIMEOUT_S, poll_s=0.05) is True
        code, _, err = holder.finish()
        assert code == 0, err
        report = reader.session.become_editor()
        assert reader.session.describe() == "Editing"
        assert report.previous_unclean is None  # hanna closed properly
        add_thermometer(reader, "TH-700")
    assert query(db, "SELECT updated_by FROM instrument WHERE asset_tag = 'TH-700'") == [("bob",)]


def saw_request(request_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda state: any(r["request_id"] == request_id for r in state["requests"])


def polled(times: int) -> Callable[[dict[str, Any]], bool]:
    return lambda state: bool(state["polls"] >= times)


def test_edit_request_is_seen_once_by_the_editor_process(tmp_path: Path, clock: FixedClock) -> None:
    db = make_db(tmp_path / "lab.db")
    bob = Identity("bob", "LAB-PC-7")
    with (
        holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder,
        open_lab(db, edit=False, identity=bob, clock=clock) as reader,
    ):
        asked = []
        for message in ("need to record a calibration", "  and a second one  "):
            request = reader.session.request_edit(message)
            asked.append(request)
            seen = holder.wait_state(
                saw_request(request.request_id), f"the editor to see {request.request_id}"
            )
            # Many more polls later, it was still shown only once.
            holder.wait_state(polled(seen["polls"] + 25), "more polls of the editor")
        requests = holder.state()["requests"]
        assert requests == [
            {"request_id": r.request_id, "user": "bob", "machine": "LAB-PC-7", "message": m}
            for r, m in zip(
                asked, ["need to record a calibration", "and a second one"], strict=True
            )
        ]
        assert reader.session.pending_request() is None  # a reader is never asked


# -- 8. a share that does not lock -----------------------------------------------------

# Pretends to be an editor on another PC whose lock this share does not enforce: keeps
# advancing the heartbeat in <db>.lock.json without holding the OS lock.
NO_LOCK_HOLDER = r"""
import os, sys, time, uuid
from datetime import UTC, datetime
from pathlib import Path
from app.locking.holder import HolderInfo, holder_path, write_holder

db, ready, stop = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
info = HolderInfo(user="greta", machine="LAB-PC-9", pid=os.getpid(),
                  session_id=uuid.uuid4().hex, app_version="0.1.0",
                  since=datetime.now(UTC).isoformat(timespec="seconds"))
while not stop.exists():
    info = info.beat()
    write_holder(holder_path(db), info)
    ready.touch()
    time.sleep(0.05)
"""


@pytest.fixture(scope="module")
def no_lock_share(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A database whose holder file a live "editor" keeps beating without the OS lock."""
    folder = tmp_path_factory.mktemp("no-lock-share")
    db = make_db(folder / "lab.db")
    ready, stop = folder / "ready", folder / "stop"
    proc = popen_python(NO_LOCK_HOLDER, str(db), str(ready), str(stop), cwd=folder)
    try:
        wait_for_file(ready, proc)
        yield db
    finally:
        stop.touch()
        proc.communicate(timeout=CHILD_TIMEOUT_S)


@pytest.fixture(scope="module")
def no_lock_cli_write(no_lock_share: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(
        no_lock_share,
        *("--heartbeat", "1", "instruments", "add"),
        *("--asset-tag", "TH-801", "--description", "x"),
    )


def test_share_that_does_not_lock_is_refused_for_editing(
    no_lock_share: Path, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    db = no_lock_share
    assert os_lock_free(db)  # the OS lock is free, as on a share mounted with nobrl
    with open_caltrack(
        str(db),
        identity=alice,
        clock=clock,
        editing=EditingOptions(takeover_check_s=1.0),
        state_dir=tmp_path / "state",
    ) as app:
        assert not app.session.editing
        reason = app.session.read_only_reason or ""
        assert "does not lock files reliably" in reason and "greta on LAB-PC-9" in reason
        assert reason not in app.notices, "said once, as the read-only reason"
        with pytest.raises(ReadOnlyError) as refused:
            add_thermometer(app, "TH-800")
        assert refused.value.exit_code == 5
        assert os_lock_free(db), "the session kept an OS lock it must not use"
    holder = read_holder(holder_path(db))
    assert holder is not None and holder.user == "greta"  # never overwritten
    assert query(db, "SELECT asset_tag FROM instrument") == [(TAG,)]


def test_cli_write_on_a_share_that_does_not_lock_exits_5(
    no_lock_share: Path, no_lock_cli_write: subprocess.CompletedProcess[str]
) -> None:
    cli = no_lock_cli_write
    assert cli.returncode == 5, cli.stderr
    assert "Traceback" not in cli.stderr
    last = stderr_lines(cli)[-1]
    assert last.startswith("caltrack: this folder does not lock files reliably")
    assert "greta on LAB-PC-9" in last and "ask IT to enable locking" in last
    assert query(no_lock_share, "SELECT asset_tag FROM instrument") == [(TAG,)]


def test_cli_write_on_a_share_that_does_not_lock_says_it_once(
    no_lock_cli_write: subprocess.CompletedProcess[str],
) -> None:
    assert_one_error_line(no_lock_cli_write, 5)


@pytest.mark.parametrize("damage", ["missing", "damaged"])
def test_lock_status_with_the_holder_file_gone_says_so_not_none(
    tmp_path: Path, damage: str
) -> None:
    db = make_db(tmp_path / "lab.db")
    with holding_child(db, tmp_path / "holder", user=HANNA, machine=ME.machine) as holder:
        # Frozen, so its heartbeat does not write the holder file back.
        os.kill(holder.pid, signal.SIGSTOP)
        try:
            if damage == "missing":
                holder_path(db).unlink()
            else:
                holder_path(db).write_text('{"user": ', encoding="utf-8")
            result = run_cli(db, "lock", "status")
        finally:
            os.kill(holder.pid, signal.SIGCONT)
    assert result.returncode == 0, result.stderr
    assert "None" not in result.stdout, result.stdout
    assert "cannot be named" in result.stdout and ".lock.json" in result.stdout
