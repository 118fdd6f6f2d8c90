"""Two real processes edit the same instrument from the same version: no lost update.

Since the editor lock, only one session edits at a time: both users open the database
read-only and load the instrument, then each asks to become the editor (waiting for the
other to finish) and saves with the version they loaded. The second save must be refused
as a conflict — waiting for the lock must not turn into silently overwriting. On a
database server there is no lock: both are editors at once, and the version check alone
must refuse the second save.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.clock import FixedClock, SystemClock
from app.identity import Identity
from app.services.dto import InstrumentChanges
from tests.conftest import add_thermometer
from tests.integration.helpers import (
    CHILD_TIMEOUT_S,
    assert_one_error_line,
    child_env,
    cli_command,
    open_lab,
    popen_python,
    query,
    wait_for_file,
)

TAG = "TH-001"

# Loads the instrument (read-only), says so, waits for the parent's "go", then becomes
# the editor (waiting for the other user if needed) and saves from the loaded version.
EDITOR = """
import json, sys, time
from pathlib import Path

import pytest
from app.bootstrap import open_caltrack
from app.errors import ConflictError
from app.identity import Identity
from app.services.dto import InstrumentChanges
from app.services.editing import EditingOptions

db, user, description, folder = sys.argv[1:5]
folder = Path(folder)
with open_caltrack(
    db, identity=Identity(user=user, machine="PC-" + user), editing=EditingOptions(edit=False)
) as app:
    loaded = app.instruments.get("TH-001")
    tmp = folder / (user + ".tmp")
    tmp.write_text(str(loaded.version))
    tmp.replace(folder / (user + ".loaded"))
    while not (folder / "go").exists():
        time.sleep(0.005)
    app.session.become_editor(wait_s=60)
    assert app.session.editing, app.session.read_only_reason
    try:
        saved = app.instruments.edit(
            "TH-001", InstrumentChanges(description=description), expected_version=loaded.version
        )
    except ConflictError as exc:
        print(json.dumps({"outcome": "conflict", "loaded": loaded.version,
                          "yours": exc.yours.version, "theirs": exc.theirs.version,
                          "stored": exc.theirs.values.get("description")}))
        sys.exit(3)
    print(json.dumps({"outcome": "saved", "loaded": loaded.version, "version": saved.version}))
"""


def _setup(db_url: str, clock: FixedClock, alice: Identity) -> int:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app, TAG)
        return app.instruments.get(TAG).id


def _update_events(db: str, instrument_id: int) -> list[tuple[str, dict[str, list[object]]]]:
    rows = query(
        db,
        # "user" quoted: unquoted, PostgreSQL reads the word as CURRENT_USER.
        "SELECT \"user\", changes FROM audit_event WHERE entity_type='instrument' "
        "AND entity_id=? AND action='update' ORDER BY id",
        (instrument_id,),
    )
    return [(str(user), json.loads(str(changes))) for user, changes in rows]


def test_two_processes_save_from_the_same_version(
    db_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    instrument_id = _setup(db_url, clock, alice)
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    wants = {"bob": "Thermometer (bob's words)", "carol": "Thermometer (carol's words)"}
    procs = {
        user: popen_python(EDITOR, db_url, user, text, str(barrier), cwd=tmp_path)
        for user, text in wants.items()
    }
    try:
        for user, proc in procs.items():
            wait_for_file(barrier / f"{user}.loaded", proc)
        # Both hold version 1 in hand before either saves.
        assert {(barrier / f"{u}.loaded").read_text() for u in wants} == {"1"}
        (barrier / "go").touch()
        results = {user: proc.communicate(timeout=CHILD_TIMEOUT_S) for user, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    codes = {user: proc.returncode for user, proc in procs.items()}
    assert sorted(codes.values()) == [0, 3], (codes, results)
    winner = next(u for u, c in codes.items() if c == 0)
    loser = next(u for u, c in codes.items() if c == 3)
    won = json.loads(results[winner][0])
    lost = json.loads(results[loser][0])
    stored_version = won["version"]
    assert won == {"outcome": "saved", "loaded": 1, "version": 2}
    # The loser is told both versions and what is stored now: the winner's text.
    assert lost == {
        "outcome": "conflict",
        "loaded": 1,
        "yours": 1,
        "theirs": stored_version,
        "stored": wants[winner],
    }

    assert query(db_url, "SELECT description, version, updated_by FROM instrument") == [
        (wants[winner], stored_version, winner)
    ]
    events = _update_events(db_url, instrument_id)
    assert events == [(winner, {"description": ["Digital thermometer", wants[winner]]})]

    with open_lab(db_url, edit=False, identity=alice, clock=clock) as app:
        assert app.maintenance.verify().problems == []


def test_two_cli_edits_with_expect_version(
    db_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    instrument_id = _setup(db_url, clock, alice)
    with open_lab(db_url, edit=False, identity=alice, clock=clock) as app:
        version = app.instruments.get(TAG).version  # what both users loaded
    wants = ["Thermometer A", "Thermometer B"]
    procs = [
        subprocess.Popen(
            cli_command(
                db_url,
                *("--wait", "60", "instruments", "edit", TAG),
                *("--description", text, "--expect-version", str(version)),
            ),
            cwd=tmp_path,
            env=child_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for text in wants
    ]
    outputs = [p.communicate(timeout=CHILD_TIMEOUT_S) for p in procs]
    completed = [
        subprocess.CompletedProcess(p.args, p.returncode, out, err)
        for p, (out, err) in zip(procs, outputs, strict=True)
    ]
    codes = [c.returncode for c in completed]
    assert sorted(codes) == [0, 3], completed
    winner = wants[codes.index(0)]
    line = assert_one_error_line(completed[codes.index(3)], 3)
    assert TAG in line and "version" in line

    rows = query(db_url, "SELECT description, version FROM instrument")
    assert len(rows) == 1 and rows[0][0] == winner
    assert rows[0][1] == version + 1
    events = _update_events(db_url, instrument_id)
    assert [changes for _, changes in events] == [{"description": ["Digital thermometer", winner]}]


@pytest.mark.sqlite_only("the editor lock of a database file; on a server everyone edits")
def test_a_second_cli_editor_without_wait_is_refused_read_only(
    db_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    """While someone edits, a write without --wait exits 5 and changes nothing."""
    _setup(db_url, clock, alice)
    with open_lab(db_url, identity=alice, clock=clock) as editor:
        assert editor.session.editing
        result = subprocess.run(
            cli_command(db_url, "instruments", "edit", TAG, "--description", "sneaky"),
            cwd=tmp_path,
            env=child_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
        line = assert_one_error_line(result, 5)
        assert "alice" in line
        assert editor.instruments.get(TAG).description == "Digital thermometer"


def test_one_save_moves_the_version_by_one(db_url: str, alice: Identity) -> None:
    # The real clock: updated_at differs from created_at, as on every real edit.
    with open_lab(db_url, create=True, identity=alice, clock=SystemClock()) as app:
        add_thermometer(app, TAG)
        loaded = app.instruments.get(TAG).version
        saved = app.instruments.edit(
            TAG, InstrumentChanges(description="Probe"), expected_version=loaded
        )
        assert saved.version == loaded + 1
        # The version a user sees after saving is what the next save must quote.
        app.instruments.edit(TAG, InstrumentChanges(location="Lab 2"), expected_version=loaded + 1)
