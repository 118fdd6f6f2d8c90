"""A damaged database file: nothing is written into it, the damage is shown, and what
can be read is salvaged into a new file (the damaged one is never touched).

Real files: a demo database with bytes overwritten in the middle, the CLI as processes.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import (
    assert_one_error_line,
    child_env,
    cli_command,
    count,
    query,
    run_cli,
)
from tests.integration.process_helpers import small_tmpfs


def _damaged_lab(folder: Path) -> Path:
    db = folder / "lab.db"
    for args in (("init",), ("demo", "--instruments", "120", "--seed", "4"), ("db", "checkpoint")):
        done = run_cli(db, *args)
        assert done.returncode == 0, done.stderr
    size = db.stat().st_size
    with db.open("r+b") as handle:  # a damaged sector in the middle of the file
        handle.seek(size // 2)
        handle.write(os.urandom(3000))
    return db


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    return _damaged_lab(tmp_path)


def test_a_write_into_a_damaged_file_is_refused_and_writes_nothing(damaged: Path) -> None:
    before = _digest(damaged)
    added = run_cli(damaged, "instruments", "add", "--asset-tag", "X-1", "--description", "x")
    line = assert_one_error_line(added, 6)
    assert "damaged" in line and "quick_check" in line and "db salvage" in line, line
    assert _digest(damaged) == before


def test_verify_lists_the_findings_of_the_check(damaged: Path) -> None:
    verified = run_cli(damaged, "db", "verify")
    assert verified.returncode == 1, (verified.stdout, verified.stderr)
    problems = [ln for ln in verified.stdout.splitlines() if ln.startswith("PROBLEM: ")]
    assert any(p.startswith("PROBLEM: integrity_check: ") for p in problems), problems
    assert "run `db verify`" not in verified.stdout + verified.stderr


def test_backup_refuses_a_damaged_file_and_leaves_no_file(damaged: Path) -> None:
    result = run_cli(damaged, "db", "backup", "nightly")
    line = assert_one_error_line(result, 6)
    assert "damaged" in line and "none was made" in line, line
    backups = damaged.parent / "backups"
    assert not backups.exists() or list(backups.iterdir()) == []


def test_salvage_copies_what_can_be_read_into_a_new_file(damaged: Path) -> None:
    before = _digest(damaged)
    new = damaged.parent / "salvaged.db"
    result = run_cli(damaged, "db", "salvage", "-o", str(new))
    assert result.returncode == 0, result.stderr
    assert f"salvaged into {new}" in result.stdout
    assert "left as it is" in result.stdout
    assert _digest(damaged) == before  # the damaged file is only read
    assert not damaged.with_name("lab.db-journal").exists()
    assert count(new, "instrument") > 0
    listed = run_cli(new, "instruments", "counts")
    assert listed.returncode == 0, listed.stderr
    # Refused: an existing output file is never overwritten.
    again = run_cli(damaged, "db", "salvage", "-o", str(new))
    assert "already exists" in assert_one_error_line(again, 2)


def test_salvage_says_so_when_the_sqlite3_program_is_missing(damaged: Path, tmp_path: Path) -> None:
    # A PATH with python but no sqlite3 program on it.
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    env_path = str(bare)
    new = damaged.parent / "salvaged.db"
    env = child_env(damaged.parent) | {"PATH": env_path}
    result = subprocess.run(
        cli_command(damaged, "db", "salvage", "-o", str(new)),
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=damaged.parent,
    )
    if shutil.which("sqlite3", path=env_path):  # pragma: no cover - defensive
        pytest.skip("sqlite3 is on the bare PATH")
    line = assert_one_error_line(result, 2)
    assert "sqlite3 program" in line and "not installed" in line, line
    assert not new.exists()


def test_a_damaged_file_can_be_restored_from_a_backup(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    for args in (("init",), ("demo", "--instruments", "120", "--seed", "4"), ("db", "checkpoint")):
        done = run_cli(db, *args)
        assert done.returncode == 0, done.stderr
    made = run_cli(db, "db", "backup", "good")
    assert made.returncode == 0, made.stderr
    backup = next((tmp_path / "backups").iterdir())
    epoch = int(str(query(db, "SELECT value FROM meta WHERE key = 'lock_epoch'")[0][0]))
    size = db.stat().st_size
    with db.open("r+b") as handle:
        handle.seek(size // 2)
        handle.write(os.urandom(3000))
    damaged_digest = _digest(db)

    restored = run_cli(db, "db", "restore", str(backup))
    assert restored.returncode == 0, (restored.stdout, restored.stderr)
    kept = [p for p in (tmp_path / "backups").iterdir() if "damaged" in p.name]
    assert len(kept) == 1 and _digest(kept[0]) == damaged_digest  # kept for salvage
    verified = run_cli(db, "db", "verify")
    assert verified.returncode == 0, (verified.stdout, verified.stderr)
    assert int(str(query(db, "SELECT value FROM meta WHERE key = 'lock_epoch'")[0][0])) > epoch
    added = run_cli(db, "instruments", "add", "--asset-tag", "X-1", "--description", "x")
    assert added.returncode == 0, added.stderr


def test_salvage_onto_a_full_disk_is_exit_6_and_leaves_nothing(
    damaged: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "small"
    disk.mkdir()
    before = _digest(damaged)
    with small_tmpfs(disk, "256k"):
        result = run_cli(damaged, "db", "salvage", "-o", str(disk / "salvaged.db"))
        left = sorted(p.name for p in disk.iterdir())
    line = assert_one_error_line(result, 6)
    assert "room" in line and "nothing was written" in line, line
    assert left == []
    assert _digest(damaged) == before
