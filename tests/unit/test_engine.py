"""Engine set-up: URL handling, journal policy by filesystem, pragmas, busy retry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.engine import (
    EngineOptions,
    choose_journal,
    database_url,
    is_url,
    safe_url,
    sqlite_path,
)
from app.db.filesystem import Location, detect_location
from app.db.transactions import RetryPolicy
from app.errors import DatabaseBusyError
from app.identity import Identity
from tests.conftest import add_thermometer

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
//nas/lab /mnt/lab cifs rw,vers=3.0 0 0
smbnetfs /mnt/smb fuse.smbnetfs rw 0 0
nas:/export /mnt/nfs nfs4 rw 0 0
/dev/vdb /mnt/with\\040space ext4 rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "network", "fs"),
    [
        ("/home/alice/lab.db", False, "ext4"),
        ("/mnt/lab/qa/lab.db", True, "cifs"),
        ("/mnt/smb/127.0.0.1/lab/lab.db", True, "fuse.smbnetfs"),
        ("/mnt/nfs/lab.db", True, "nfs4"),
        ("/mnt/with space/lab.db", False, "ext4"),
        ("/mnt/labx/lab.db", False, "ext4"),
    ],
)
def test_detect_location_from_mounts(tmp_path: Path, path: str, network: bool, fs: str) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    location = detect_location(Path(path), mounts_file=mounts)
    assert (location.is_network, location.fs_type) == (network, fs)


def test_journal_policy() -> None:
    local = Location(False, "ext4", "/")
    share = Location(True, "cifs", "/mnt/lab")
    assert choose_journal(local, "auto").mode == "wal"
    # A rollback journal that is truncated, not deleted: deleting fails on SMB shares.
    assert choose_journal(share, "auto").mode == "truncate"
    assert choose_journal(share, "auto").synchronous == "FULL"
    assert "network share" in choose_journal(share, "auto").reason
    assert choose_journal(share, "wal").mode == "wal"
    assert choose_journal(local, "delete").mode == "delete"
    assert choose_journal(local, "auto", shared=True).mode == "truncate"


def test_urls_and_paths() -> None:
    assert is_url("postgresql://u:p@host/db")
    assert not is_url("C:\\lab\\lab.db")
    assert not is_url("/tmp/lab.db")
    assert database_url("/tmp/lab.db") == "sqlite:////tmp/lab.db"
    assert sqlite_path("sqlite:////tmp/lab.db") == Path("/tmp/lab.db")
    assert sqlite_path("postgresql://u@h/db") is None


def test_a_printed_url_hides_the_password_and_keeps_the_query_readable() -> None:
    shown = safe_url("postgresql+psycopg://lab:s3cret@/caltrack?host=/var/run/postgresql")
    assert shown == "postgresql+psycopg://lab:***@/caltrack?host=/var/run/postgresql"


@pytest.mark.sqlite_only("PRAGMAs are SQLite's connection settings")
def test_pragmas_on_every_connection(app: CalTrack) -> None:
    with app.database.engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 5000


def test_connections_return_to_the_pool(app: CalTrack) -> None:
    add_thermometer(app)
    app.instruments.list()
    assert app.database.checked_out_connections() == 0


def test_busy_database_is_retried_then_reported(
    db_path: Path, alice: Identity, clock: FixedClock
) -> None:
    with open_caltrack(str(db_path), create=True, identity=alice, clock=clock):
        pass
    options = EngineOptions(busy_timeout_s=0.05)
    with open_caltrack(str(db_path), options=options, identity=alice, clock=clock) as app:
        delays: list[float] = []
        app.database.sleep = delays.append
        # Another program (plain sqlite3, as an outsider) holds the write lock.
        outsider = sqlite3.connect(db_path, isolation_level=None)
        outsider.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(DatabaseBusyError, match="busy"):
                add_thermometer(app)
        finally:
            outsider.execute("ROLLBACK")
            outsider.close()
        assert delays == [0.5, 1.0]
        add_thermometer(app)  # free again: the write goes through
        assert app.instruments.list().total == 1


def test_retry_policy_delays_are_capped() -> None:
    assert list(RetryPolicy(attempts=5, initial_delay_s=1, factor=4, max_delay_s=5).delays()) == [
        1,
        4,
        5,
        5,
    ]
