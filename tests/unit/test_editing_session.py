"""The editing session: read-only when another edits, fencing, idle release, requests."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.fencing import LOCK_EPOCH_KEY
from app.errors import LeaseLostError, ReadOnlyError, SchemaTooNewError
from app.identity import Identity
from app.services.dto import InstrumentChanges
from app.services.editing import EditingOptions
from tests.conftest import add_thermometer
from tests.integration.helpers import tamper
from tests.integration.process_helpers import NOBODY, other_user, shared_folder

BOB = Identity("bob", "LAB-PC-7")


def open_as(
    path: Path | str, who: Identity, clock: FixedClock, state: Path, **options: object
) -> CalTrack:
    return open_caltrack(
        str(path),
        identity=who,
        clock=clock,
        state_dir=state,
        editing=EditingOptions(heartbeat_s=60, **options),  # type: ignore[arg-type]
    )


@pytest.mark.sqlite_only(
    "the editor lock lives in the database file's folder; on a server everyone edits (issue 13)"
)
def test_second_session_is_read_only_and_names_the_editor(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    assert app.session.editing and app.session.describe() == "Editing"
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        assert not bob.session.editing
        assert bob.session.describe().startswith("Read-only — alice on LAB-PC-3 edits since ")
        with pytest.raises(ReadOnlyError, match="alice on LAB-PC-3"):
            add_thermometer(bob)
        # Reading still works.
        add_thermometer(app)
        assert bob.instruments.list().total == 1


@pytest.mark.sqlite_only(
    "the editor lock lives in the database file's folder; on a server everyone edits (issue 13)"
)
def test_reader_stops_naming_an_editor_who_left(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        assert "alice on LAB-PC-3 edits since" in bob.session.describe()
        app.close()
        assert bob.session.describe() == "Read-only — nobody is editing now"
        assert bob.session.may_edit_again
        bob.session.become_editor()
        assert bob.session.describe() == "Editing"


@pytest.mark.sqlite_only(
    "the editor lock lives in the database file's folder; on a server everyone edits (issue 13)"
)
def test_epochs_increase_with_each_editor(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    first = app.session.epoch
    assert first is not None
    app.session.release()
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        assert bob.session.editing
        assert bob.session.epoch == first + 1


@pytest.mark.sqlite_only(
    "the editor lock lives in the database file's folder; on a server everyone edits (issue 13)"
)
def test_fenced_session_cannot_write_and_turns_read_only(app: CalTrack, db_path: Path) -> None:
    add_thermometer(app, "TH-001")
    # Someone else took over while this session was frozen: the epoch moved on.
    outsider = sqlite3.connect(db_path)
    with outsider:
        outsider.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?", (LOCK_EPOCH_KEY,)
        )
    outsider.close()
    with pytest.raises(LeaseLostError, match="took over"):
        add_thermometer(app, "TH-002")
    assert not app.session.editing
    with pytest.raises(LeaseLostError):
        app.instruments.edit("TH-001", InstrumentChanges(location="Lab 9"))
    assert [r.asset_tag for r in app.instruments.list().rows] == ["TH-001"]


def test_idle_editor_releases_and_activity_takes_it_back(
    db_path: Path, clock: FixedClock, tmp_path: Path, alice: Identity
) -> None:
    with open_caltrack(str(db_path), create=True, identity=alice, clock=clock, state_dir=tmp_path):
        pass
    now = [0.0]
    with open_as(db_path, alice, clock, tmp_path, idle_release_s=900) as app:
        app.session._monotonic = lambda: now[0]  # the session's own clock, for the test
        app.session.touch()
        now[0] = 899
        assert app.session.check_idle() is False
        now[0] = 901
        assert app.session.check_idle() is True
        assert not app.session.editing
        assert "without activity" in (app.session.read_only_reason or "")
        assert app.session.lock_free()
        assert app.session.touch() is True
        add_thermometer(app)  # editing again: the write goes through
        assert app.instruments.list().total == 1


def test_idle_release_time_is_a_database_setting(app: CalTrack) -> None:
    assert app.session.idle_release_s() == 15 * 60


@pytest.mark.sqlite_only("edit requests go to the editor lock's holder; on a server everyone edits")
def test_edit_request_reaches_the_editor_once(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
        sent = bob.session.request_edit("need to record a calibration")
        seen = app.session.pending_request()
        assert seen == sent and seen.user == "bob"
        assert app.session.pending_request() is None


# Opens the database as bob and tries to add an instrument: prints what was listed and
# the refusal (run as another OS user when the tests run as root).
READ_ONLY_CHECK = r"""
import json, sys
from pathlib import Path
from app.bootstrap import open_caltrack
from app.errors import ReadOnlyError
from app.identity import Identity
from app.services.dto import InstrumentInput
from app.services.editing import EditingOptions
db, state = sys.argv[1:3]
with open_caltrack(
    db, identity=Identity("bob", "LAB-PC-7"), state_dir=Path(state),
    editing=EditingOptions(heartbeat_s=60),
) as bob:
    listed = bob.instruments.list().total
    try:
        bob.instruments.add(InstrumentInput(
            asset_tag="TH-002", description="Digital thermometer", manufacturer="Fluke",
            model="1524", serial_number="SN123", calibration_interval_days=365,
        ))
    except ReadOnlyError as exc:
        refused = str(exc)
    else:
        refused = None
print(json.dumps({"listed": listed, "refused": refused}))
"""


@pytest.mark.sqlite_only("about a database file in a folder the user cannot write")
def test_read_only_folder_opens_read_only(
    app: CalTrack, db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    add_thermometer(app)
    app.close()
    if os.geteuid() != 0:
        db_path.parent.chmod(0o555)
        try:
            with open_as(db_path, BOB, clock, tmp_path / "bob") as bob:
                assert bob.instruments.list().total == 1
                with pytest.raises(ReadOnlyError, match="read-only for you"):
                    add_thermometer(bob, "TH-002")
        finally:
            db_path.parent.chmod(0o755)
        return
    # Root writes everywhere: the check runs as nobody, on a database made in a folder
    # nobody may read but not write, the file itself writable (only the folder stops it).
    # (Made there, not copied: a database remembers where it was, and nobody may not look
    # into this test's private tmp_path.)
    with shared_folder(0o755) as folder, other_user() as nobody:
        shared = folder / db_path.name
        with open_caltrack(
            str(shared), create=True, identity=app.identity, clock=clock, state_dir=tmp_path / "s"
        ) as alice:
            add_thermometer(alice)
        for file in folder.iterdir():
            os.chown(file, NOBODY, NOBODY)
        result = nobody.python(READ_ONLY_CHECK, str(shared), str(nobody.home / "state"))
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["listed"] == 1
    assert seen["refused"] is not None and "read-only for you" in seen["refused"]


def test_newer_schema_opens_read_only(
    app: CalTrack, db_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    add_thermometer(app)
    app.close()
    tamper(db_url, "UPDATE alembic_version SET version_num = 'ffff9999'")
    with open_as(db_url, BOB, clock, tmp_path / "bob") as bob:
        assert bob.instruments.list().total == 1
        with pytest.raises(SchemaTooNewError, match="newer CalTrack"):
            add_thermometer(bob, "TH-002")


def test_crash_of_previous_run_is_checked_and_reported(
    db_path: Path, clock: FixedClock, tmp_path: Path, alice: Identity
) -> None:
    state = tmp_path / "state"
    with open_caltrack(str(db_path), create=True, identity=alice, clock=clock, state_dir=state):
        pass
    # A run marker whose process is gone is what a crash leaves behind.
    crashed = open_as(db_path, alice, clock, state)
    assert crashed.run_marker is not None
    marker = crashed.run_marker.path
    crashed.session.close()
    crashed.database.dispose()
    dead_pid = 2**22 + 4321
    data = json.loads(marker.read_text())
    data["pid"] = dead_pid
    marker.with_name(marker.name.rsplit("-", 1)[0] + f"-{dead_pid}.json").write_text(
        json.dumps(data)
    )
    marker.unlink()
    with open_as(db_path, alice, clock, state) as again:
        assert any("did not close properly" in n for n in again.notices)
        assert again.problems == []
    with open_as(db_path, alice, clock, state) as third:
        assert not any("did not close properly" in n for n in third.notices)
