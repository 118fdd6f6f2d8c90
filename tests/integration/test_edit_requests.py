"""The life of an edit request: answered, declined, withdrawn, ended with its author, expired.

Real files beside a real database; the author killed with SIGKILL is a real process.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.locking.requests import EditRequest, RequestWatch, request_files, write_request
from app.services.editing import EditingOptions, RequestOutcome
from tests.conftest import add_thermometer
from tests.integration.helpers import CHILD_TIMEOUT_S, popen_python, wait_for_file

BOB = Identity("bob", "LAB-PC-7")

pytestmark = pytest.mark.sqlite_only(
    "edit requests hand a shared file's editor lock over, through request files beside "
    "the file; on a database server everyone edits and there is nothing to request"
)


def open_as(path: Path, who: Identity, clock: FixedClock, state: Path) -> CalTrack:
    return open_caltrack(
        str(path), identity=who, clock=clock, state_dir=state, editing=EditingOptions()
    )


def leftovers(db: Path) -> list[str]:
    """Request and answer files still beside the database."""
    return sorted(p.name for p in db.parent.glob(f"{db.name}.lock.*.*.json"))


def test_hand_over_moves_the_editor_and_leaves_no_file(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        assert not bob.session.editing
        sent = bob.session.request_edit("need to record a calibration")
        assert bob.session.check_my_request() is not None
        seen = app.session.pending_request()
        assert seen == sent
        assert app.session.answer_request(seen, hand_over=True)
        assert not app.session.editing
        assert app.session.describe() == "Read-only — you handed the database over to bob"
        status = bob.session.check_my_request()
        assert status is not None and status.outcome is RequestOutcome.HANDED_OVER
        assert status.editing
        assert bob.session.describe() == "Editing"
        assert status.by == "alice on LAB-PC-3"
        assert leftovers(db_path) == []
        add_thermometer(bob, "TH-BOB")
        assert app.session.describe().startswith("Read-only — bob on LAB-PC-7 edits since ")
        # She became the editor: nothing of hers is ever asked of her.
        assert bob.session.pending_request() is None


def test_declined_request_is_told_and_removed(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        bob.session.request_edit()
        seen = app.session.pending_request()
        assert seen is not None
        assert app.session.answer_request(seen, hand_over=False)
        assert app.session.editing
        status = bob.session.check_my_request()
        assert status is not None and status.outcome is RequestOutcome.DECLINED
        assert not bob.session.editing
        assert leftovers(db_path) == []
        assert bob.session.check_my_request() is None


def test_withdrawn_request_is_gone_and_cannot_be_answered(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        sent = bob.session.request_edit()
        assert leftovers(db_path) != []
        bob.session.withdraw_request()
        assert leftovers(db_path) == []
        assert app.session.pending_request() is None
        # An editor whose dialog was still open keeps editing.
        assert not app.session.answer_request(sent, hand_over=True)
        assert app.session.editing


def test_request_ends_with_its_authors_session(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        bob.session.request_edit()
    assert leftovers(db_path) == []
    assert app.session.pending_request() is None


def test_author_takes_over_when_the_editor_leaves_and_never_sees_her_own_request(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        bob.session.request_edit()
        app.session.release("you stopped editing")
        status = bob.session.check_my_request()
        assert status is not None and status.outcome is RequestOutcome.EDITOR_LEFT
        assert bob.session.editing and status.by == "alice on LAB-PC-3"
        assert leftovers(db_path) == []
        assert bob.session.pending_request() is None


def test_own_request_file_is_never_shown_to_its_author(
    app: CalTrack, db_path: Path, clock: FixedClock
) -> None:
    # A request file naming this very session (left by a bug, or a copy): never asked.
    write_request(
        db_path,
        EditRequest(
            user="alice",
            machine="LAB-PC-3",
            at="2026-12-06T10:00:00+00:00",
            message="",
            request_id="r1",
            session_id=app.session.session_id,
            pid=os.getpid(),
        ),
    )
    assert app.session.pending_request() is None


# Opens the database read-only as bob on alice's machine, asks to edit, then sleeps
# until killed: a requester that can never clean up after itself.
REQUESTER = r"""
import sys, time
from pathlib import Path
from app.bootstrap import open_caltrack
from app.identity import Identity
from app.services.editing import EditingOptions

db, ready, machine = sys.argv[1:4]
app = open_caltrack(db, identity=Identity("bob", machine), editing=EditingOptions(edit=False))
request = app.session.request_edit("from a process about to be killed")
Path(ready).write_text(request.request_id)
while True:
    time.sleep(1)
"""


def test_request_of_a_killed_session_is_ignored_and_removed(
    app: CalTrack, db_path: Path, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    proc = popen_python(REQUESTER, str(db_path), str(ready), "LAB-PC-3", cwd=tmp_path)
    try:
        wait_for_file(ready, proc)
        assert len(request_files(db_path)) == 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=CHILD_TIMEOUT_S)
        assert app.session.pending_request() is None
        assert leftovers(db_path) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=CHILD_TIMEOUT_S)


def request_from_elsewhere(db: Path, at: str, beat: int = 0) -> EditRequest:
    request = EditRequest(
        user="carol",
        machine="LAB-PC-9",
        at=at,
        message="",
        request_id="far",
        session_id="s-far",
        pid=999_999,
        beat=beat,
    )
    write_request(db, request)
    return request


def test_request_from_another_pc_expires_when_its_heartbeat_stops(db_path: Path) -> None:
    now = [0.0]
    watch = RequestWatch(db_path, machine="LAB-PC-3", stale_after_s=90, monotonic=lambda: now[0])
    recent = "2099-01-01T00:00:00+00:00"  # its clock runs ahead: the counter decides
    request_from_elsewhere(db_path, recent)
    assert [r.request_id for r in watch.live_requests()] == ["far"]
    now[0] = 60
    request_from_elsewhere(db_path, recent, beat=1)
    assert watch.live_requests() != []
    now[0] = 149  # 89 s since the counter last moved
    assert watch.live_requests() != []
    now[0] = 151
    assert watch.live_requests() == []
    assert leftovers(db_path) == []


def test_a_new_request_of_the_same_session_starts_a_fresh_watch(db_path: Path) -> None:
    now = [0.0]
    watch = RequestWatch(db_path, machine="LAB-PC-3", stale_after_s=90, monotonic=lambda: now[0])
    request_from_elsewhere(db_path, "2099-01-01T00:00:00+00:00")
    assert watch.live_requests() != []
    now[0] = 120
    again = EditRequest("carol", "LAB-PC-9", "2099-01-01T00:02:00+00:00", "", "far-2", "s-far")
    write_request(db_path, again)
    assert [r.request_id for r in watch.live_requests()] == ["far-2"]


def test_hours_old_request_is_dead_at_first_sight(db_path: Path) -> None:
    watch = RequestWatch(db_path, machine="LAB-PC-3", stale_after_s=90)
    request_from_elsewhere(db_path, "2020-01-01T00:00:00+00:00")
    assert watch.live_requests() == []
    assert leftovers(db_path) == []


def test_request_file_holds_who_asked(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        sent = bob.session.request_edit("  calibrate TH-001  ")
        (path,) = request_files(db_path)
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["user"] == "bob" and data["message"] == "calibrate TH-001"
        assert data["session_id"] == bob.session.session_id == sent.session_id
        assert data["pid"] == os.getpid()


# Bob in another process: opens read-only, asks to edit, polls like the window does until
# the answer comes, saves an instrument if he became the editor, and closes on demand.
ASKER = r"""
import json, sys, time
from pathlib import Path
from app.bootstrap import open_caltrack
from app.identity import Identity
from app.services.dto import InstrumentInput
from app.services.editing import EditingOptions, RequestOutcome

db, control = sys.argv[1], Path(sys.argv[2])
app = open_caltrack(db, identity=Identity("bob", "LAB-PC-7"), editing=EditingOptions())
assert not app.session.editing
app.session.request_edit("calibrating TH-001 now")
(control / "asked").write_text("1")
while True:
    status = app.session.check_my_request()
    if status is not None and status.outcome is not RequestOutcome.WAITING:
        break
    time.sleep(0.05)
if app.session.editing:
    app.instruments.add(
        InstrumentInput(asset_tag="TH-BOB", description="saved after the hand-over")
    )
(control / "result.json").write_text(json.dumps(
    {"outcome": status.outcome.value, "by": status.by, "editing": app.session.editing}))
while not (control / "close").exists():
    time.sleep(0.05)
app.close()
"""


def test_hand_over_to_a_requester_in_another_process(app: CalTrack, db_path: Path) -> None:
    control = db_path.parent / "asker"
    control.mkdir()
    proc = popen_python(ASKER, str(db_path), str(control), cwd=db_path.parent)
    try:
        wait_for_file(control / "asked", proc)
        request = app.session.pending_request()
        assert request is not None and request.message == "calibrating TH-001 now"
        assert app.session.answer_request(request, hand_over=True)
        wait_for_file(control / "result.json", proc)
        result = json.loads((control / "result.json").read_text())
        assert result == {"outcome": "handed-over", "by": "alice on LAB-PC-3", "editing": True}
        assert leftovers(db_path) == []
        assert app.session.describe().startswith("Read-only — bob on LAB-PC-7 edits since ")
        assert app.instruments.get("TH-BOB").description == "saved after the hand-over"
        (control / "close").write_text("1")
        _out, err = proc.communicate(timeout=CHILD_TIMEOUT_S)
        assert proc.returncode == 0, err
        # Bob closed: the database is free again and Alice may take it back.
        app.session.become_editor()
        assert app.session.describe() == "Editing"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=CHILD_TIMEOUT_S)
