"""Backups and restores on a full disk and under kill -9: a whole copy or none.

Real files and processes: a small tmpfs for the full disk (and one with no inodes left
for a disk that fills up past the space check), a child that kills itself in the middle
of a copy. A backup's name must only ever hold a whole, checked copy.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from app.errors import StorageError
from tests.integration.helpers import (
    assert_one_error_line,
    fingerprint,
    open_lab,
    run_cli,
    run_python,
)
from tests.integration.process_helpers import free_bytes, small_tmpfs

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="uses tmpfs mounts and SIGKILL")


def _lab(db: Path, instruments: int = 40) -> Path:
    made = run_cli(db, "init")
    assert made.returncode == 0, made.stderr
    demo = run_cli(db, "demo", "--instruments", str(instruments), "--seed", "5")
    assert demo.returncode == 0, demo.stderr
    return db


def _fill(disk: Path, leave: int) -> Path:
    """Another program's file that leaves ``leave`` bytes free on ``disk``."""
    filler = disk / "someone-elses-big-file.bin"
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free_bytes(disk) - leave))
    return filler


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_backup_on_a_full_disk_is_exit_6_with_the_room_needed_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with small_tmpfs(disk, "3m"):
        db = _lab(disk / "lab.db")
        (disk / "backups").mkdir()
        before = fingerprint(db)
        filler = _fill(disk, 32 * 1024)
        result = run_cli(db, "db", "backup", "nightly", cwd=tmp_path)
        backups = _names(disk / "backups")
        after = fingerprint(db)
        filler.unlink()
        # With room again, the same command works and its file is a good copy.
        again = run_cli(db, "db", "backup", "nightly", cwd=tmp_path)
        made = _names(disk / "backups")
        good = sqlite3.connect(f"file:{disk / 'backups' / made[0]}?mode=ro", uri=True)
        try:
            integrity = [r[0] for r in good.execute("PRAGMA integrity_check")]
        finally:
            good.close()
    line = assert_one_error_line(result, 6)
    assert "needs about" in line and "free" in line and "nothing was written" in line, line
    assert backups == []  # no empty file under a backup's name, no temporary copy either
    assert after == before
    assert again.returncode == 0, again.stderr
    assert len(made) == 1 and made[0].endswith("_nightly.db"), made
    assert integrity == ["ok"]


def test_restore_on_a_full_disk_is_exit_6_and_changes_nothing(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    with small_tmpfs(disk, "3m"):
        db = _lab(disk / "lab.db")
        made = run_cli(db, "db", "backup", "before", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        backup = next((disk / "backups").iterdir())
        added = run_cli(db, "instruments", "add", "--asset-tag", "NEW-1", "--description", "x")
        assert added.returncode == 0, added.stderr
        before = fingerprint(db)
        filler = _fill(disk, 32 * 1024)
        result = run_cli(db, "db", "restore", str(backup), cwd=tmp_path)
        backups = _names(disk / "backups")
        after = fingerprint(db)
        filler.unlink()
    line = assert_one_error_line(result, 6)
    assert "needs about" in line, line
    assert backups == [backup.name]  # no before-restore copy, whole or partial
    assert after == before


def test_a_disk_that_fills_up_during_the_copy_is_exit_6_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    """Space left but no inode: the space check passes and the write itself fails."""
    db = _lab(tmp_path / "lab.db")
    target = tmp_path / "no-inodes"
    target.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    with small_tmpfs(target, "4m,nr_inodes=1"):
        with open_lab(db) as app, pytest.raises(StorageError) as caught:
            app.maintenance.backup("nightly", folder=target)
        left = _names(target)
    assert caught.value.exit_code == 6
    assert "needs about" in str(caught.value)
    assert left == []


# Copies the database the way `db backup` does and dies in the middle of the copy.
DIE_DURING_BACKUP = """
import os, signal, sys
from pathlib import Path
from app.db import maintenance as infra
from tests.integration.helpers import open_lab

db, destination = sys.argv[1:3]

def die(done, total):
    os.kill(os.getpid(), signal.SIGKILL)

with open_lab(Path(db), edit=False) as app:
    infra.sqlite_backup(app.database.engine, Path(destination), progress=die)
sys.exit("still alive after SIGKILL")
"""


def test_a_backup_killed_in_the_middle_leaves_nothing_under_a_backup_name(
    tmp_path: Path,
) -> None:
    db = _lab(tmp_path / "lab.db")
    folder = tmp_path / "backups"
    folder.mkdir()
    destination = folder / "lab_20261207T000000Z_nightly.db"
    died = run_python(DIE_DURING_BACKUP, str(db), str(destination), cwd=tmp_path)
    assert died.returncode == -9, died.stderr
    # Only a hidden temporary copy may remain: no file, no journal under a valid name.
    visible = [n for n in _names(folder) if not n.startswith(".")]
    assert visible == []
    assert not destination.exists()
    # The next backup is not disturbed by the leftover and is a whole copy.
    made = run_cli(db, "db", "backup", "nightly", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    done = [n for n in _names(folder) if not n.startswith(".")]
    assert len(done) == 1 and not done[0].endswith("-journal")
