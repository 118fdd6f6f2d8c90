"""The database file renamed in the middle of a write transaction (issue 10, point 1).

A rename between BEGIN and COMMIT used to let the commit go ahead: into the moved file
in rollback-journal mode (with its journal left under the old name) and into the old
name's ``-wal`` in WAL mode, where nobody opening the new name looks. The save must be
refused before COMMIT and rolled back, and the session must write no more.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import event

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.engine import EngineOptions, JournalChoice
from app.errors import MovedError, StorageError
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork
from tests.conftest import add_thermometer


def _meta(db: Path, key: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.execute("SELECT value FROM meta WHERE key = ?", (key,)))
    finally:
        conn.close()


def _new_lab(db: Path, journal: JournalChoice, clock: FixedClock, alice: Identity) -> CalTrack:
    return open_caltrack(
        str(db),
        create=True,
        options=EngineOptions(journal=journal),
        identity=alice,
        clock=clock,
        state_dir=db.parent / "state",
    )


@pytest.mark.parametrize("journal", ["delete", "truncate", "wal"])
def test_rename_between_begin_and_commit_refuses_the_save(
    journal: JournalChoice, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    db = tmp_path / "lab.db"
    moved = tmp_path / "moved.db"
    app = _new_lab(db, journal, clock, alice)
    try:
        add_thermometer(app, "TH-001")

        def write_then_rename(uow: UnitOfWork) -> None:
            uow.meta.set("probe", "written while the file was renamed")
            os.rename(db, moved)  # someone renames it in the file manager mid-save

        with pytest.raises(StorageError) as refused:
            app.uow.write(write_then_rename)
        message = str(refused.value)
        assert refused.value.exit_code == 6
        assert "nothing was saved" in message and str(moved) in message, message
        # The session writes no more, saying why (exit 6, not "read-only for you").
        with pytest.raises(MovedError) as again:
            add_thermometer(app, "TH-002")
        assert again.value.exit_code == 6
        assert str(moved) in str(again.value)
    finally:
        app.close()
    assert not db.exists()
    conn = sqlite3.connect(moved)
    try:
        assert list(conn.execute("PRAGMA integrity_check")) == [("ok",)]
        tags = [row[0] for row in conn.execute("SELECT asset_tag FROM instrument")]
    finally:
        conn.close()
    assert tags == ["TH-001"]  # committed before the rename: kept
    assert _meta(moved, "probe") == []  # refused: not committed into the moved file
    # Nothing of it was left under the old name either (an emptied WAL or truncated
    # journal may stay: it holds nothing).
    left = [p.name for p in tmp_path.glob("lab.db-*") if p.suffix != ".db-shm"]
    assert not [name for name in left if (tmp_path / name).stat().st_size], left


def test_first_write_records_the_names_the_database_had(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    db = tmp_path / "lab.db"
    moved = tmp_path / "moved.db"
    state = tmp_path / "state"
    with open_caltrack(str(db), create=True, identity=alice, clock=clock, state_dir=state) as app:
        add_thermometer(app, "TH-001")
    os.rename(db, moved)
    with open_caltrack(str(moved), identity=alice, clock=clock, state_dir=state) as app:
        add_thermometer(app, "TH-002")
        add_thermometer(app, "TH-003")
    (raw,) = _meta(moved, "known_paths")
    assert json.loads(str(raw[0])) == [str(db.resolve()), str(moved.resolve())]


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_rename_during_commit_is_said_and_never_reported_saved(
    journal: JournalChoice, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    """Renamed after the check before COMMIT, as SQLite commits: the save may have gone
    through, so it is not refused as "nothing was saved" — but never reported saved."""
    db = tmp_path / "lab.db"
    moved = tmp_path / "moved.db"
    app = _new_lab(db, journal, clock, alice)
    try:
        add_thermometer(app, "TH-001")

        def write_renamed_at_commit(uow: UnitOfWork) -> None:
            uow.meta.set("probe", "committed while the file was renamed")
            # SQLAlchemy's own hook, run inside commit() after CalTrack's last check.
            event.listen(uow._session, "before_commit", lambda _s: os.rename(db, moved))

        with pytest.raises(StorageError) as refused:
            app.uow.write(write_renamed_at_commit)
        message = str(refused.value)
        assert "WHILE this change was being saved" in message, message
        assert "nothing was saved" not in message and str(moved) in message, message
        with pytest.raises(MovedError):
            add_thermometer(app, "TH-002")
    finally:
        app.close()
    # It did commit, and (WAL: checkpointed on the way out) it is in the moved file.
    assert _meta(moved, "probe") == [("committed while the file was renamed",)]
