"""Restore and orphan cleanup never lose attachment files; restores are checked and audited.

Real files and CLI processes: a restore of an older backup makes newer attachment files
orphans; a cleanup moves them to quarantine, and restoring the newer state brings them
back. A backup of another database is refused unless asked for.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.conftest import add_thermometer
from tests.integration.helpers import (
    assert_one_error_line,
    fingerprint,
    open_lab,
    query,
    run_cli,
)

TAG = "TH-001"


def _lab(db: Path, tmp_path: Path) -> tuple[Path, bytes, str]:
    """A database with one attachment, backed up; then a second attachment added after."""
    first = tmp_path / "first.pdf"
    first.write_bytes(b"%PDF-1.7 first certificate")
    later = tmp_path / "later.pdf"
    later_bytes = b"%PDF-1.7 certificate added after the backup" + os.urandom(64)
    later.write_bytes(later_bytes)
    with open_lab(db, create=True) as app:
        add_thermometer(app, TAG)
        app.attachments.add(TAG, first)
        backup = app.maintenance.backup("before-later")
        stored = app.attachments.add(TAG, later).stored_name
    return backup, later_bytes, stored


def test_restore_then_clean_orphans_keeps_the_newer_files_in_quarantine(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    backup, later_bytes, stored = _lab(db, tmp_path)
    store = db.with_name("lab.db-attachments")
    restored = run_cli(db, "db", "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    safety = Path(restored.stdout.strip().rsplit(" ", 1)[-1])
    # The newer file is now an orphan; make it old enough for the cleanup.
    old = time.time() - 2 * 3600
    os.utime(store / stored, (old, old))

    cleaned = run_cli(db, "db", "verify", "--clean-orphans")
    assert cleaned.returncode == 0, (cleaned.stdout, cleaned.stderr)
    assert "quarantine" in cleaned.stdout
    quarantine = db.with_name("lab.db-attachments-quarantine")
    assert not (store / stored).exists()
    assert (quarantine / stored).read_bytes() == later_bytes  # moved aside, not deleted

    listed = run_cli(db, "db", "quarantine", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [f["name"] for f in json.loads(listed.stdout)] == [stored]

    # Going back to the state before the restore: its row wants the file again.
    back = run_cli(db, "db", "restore", str(safety))
    assert back.returncode == 0, back.stderr
    missing = run_cli(db, "db", "verify")
    assert missing.returncode == 1 and stored in missing.stdout
    put_back = run_cli(db, "db", "quarantine", "--restore", stored)
    assert put_back.returncode == 0, put_back.stderr
    assert (store / stored).read_bytes() == later_bytes
    clean = run_cli(db, "db", "verify", "--deep")
    assert clean.returncode == 0, (clean.stdout, clean.stderr)


def test_restore_refuses_a_backup_of_another_database_unless_asked(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours" / "lab.db", tmp_path / "theirs" / "lab.db"
    ours.parent.mkdir()
    theirs.parent.mkdir()
    with open_lab(ours, create=True) as app:
        add_thermometer(app, "OURS-1")
    with open_lab(theirs, create=True) as app:
        add_thermometer(app, "THEIRS-1")
        other_backup = app.maintenance.backup("theirs")
    before = fingerprint(ours)
    refused = run_cli(ours, "db", "restore", str(other_backup))
    line = assert_one_error_line(refused, 2)
    assert "another database" in line and "--other-database" in line, line
    assert fingerprint(ours) == before
    assert not (ours.parent / "backups").exists()  # not even a before-restore copy

    taken = run_cli(ours, "db", "restore", str(other_backup), "--other-database")
    assert taken.returncode == 0, taken.stderr
    assert query(ours, "SELECT asset_tag FROM instrument") == [("THEIRS-1",)]


def test_restore_is_audited_with_the_head_it_replaced(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True) as app:
        add_thermometer(app, TAG)
        backup = app.maintenance.backup("one")
        backup_head = query(backup, "SELECT value FROM meta WHERE key = 'audit_head'")[0][0]
        add_thermometer(app, "TH-002")
    head_before = query(db, "SELECT value FROM meta WHERE key = 'audit_head'")[0][0]
    epoch_before = int(str(query(db, "SELECT value FROM meta WHERE key = 'lock_epoch'")[0][0]))
    done = run_cli(db, "db", "restore", str(backup))
    assert done.returncode == 0, done.stderr
    user, action, changes = query(
        db, "SELECT user, action, changes FROM audit_event ORDER BY id DESC LIMIT 1"
    )[0]
    assert action == "restore"
    recorded = json.loads(str(changes))
    assert recorded["restored_from"] == [None, str(backup)]
    assert recorded["replaced_head"] == [head_before, backup_head]
    assert int(recorded["lock_epoch"][1]) > epoch_before
    assert user
    epoch_after = int(str(query(db, "SELECT value FROM meta WHERE key = 'lock_epoch'")[0][0]))
    assert epoch_after > epoch_before
    verified = run_cli(db, "db", "verify")
    assert verified.returncode == 0, (verified.stdout, verified.stderr)


def test_clean_orphans_says_it_kept_a_young_orphan(tmp_path: Path) -> None:
    db = tmp_path / "lab.db"
    backup, later_bytes, stored = _lab(db, tmp_path)
    restored = run_cli(db, "db", "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    cleaned = run_cli(db, "db", "verify", "--clean-orphans")
    assert cleaned.returncode == 0, (cleaned.stdout, cleaned.stderr)
    assert f"note: {stored}: orphan file (no row refers to it), kept: it is less than 60 " in (
        cleaned.stdout
    )
    assert (db.with_name("lab.db-attachments") / stored).read_bytes() == later_bytes
