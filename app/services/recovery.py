"""Bring back a save left under an earlier name of the database (``db recover-journal``).

When the database file was renamed during a save and the writer died, the save's
rollback journal or write-ahead log stays beside the old name (see app/db/sidefiles.py).
Recovering it means moving that file beside the current name, with nobody else using
either name, and letting SQLite do what it does with it on the next open: roll the
unfinished save back (journal) or replay the committed changes (WAL).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from app.db.sidefiles import LeftSave, RecoverError, find_left_saves, move_into_place
from app.errors import LockHeldError, StorageError
from app.identity import Identity
from app.locking.editor_lock import EditorLock, held_message, os_lock_free
from app.locking.holder import holder_path, read_holder


@dataclass(frozen=True)
class Recovery:
    """What ``recover_left_saves`` did: the files moved and what the check found."""

    moved: list[tuple[Path, Path]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # integrity_check, empty when ok


def _check(path: Path) -> list[str]:
    """Open the file as SQLite would, which recovers the side file; then check it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        if mode == "wal":
            # Into the file itself: the recovered changes no longer depend on a side file.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows


def recover_left_saves(path: Path, identity: Identity) -> Recovery:
    """Move every save left under an earlier name beside ``path`` and let SQLite recover it.

    Refused (nothing moved) while any CalTrack holds the database under its current or
    its old name: a session still running under the old name may be mid-save.
    """
    left = find_left_saves(path)
    if not left:
        return Recovery()
    for old in sorted({item.old_name for item in left}):
        if not os_lock_free(old):
            holder = read_holder(holder_path(old))
            raise LockHeldError(
                f"{held_message(holder)} under the old name {old}; nothing was moved — close "
                "CalTrack there first"
            )
    lock = EditorLock(path, identity)
    if lock.try_acquire() is None:
        raise LockHeldError(
            f"{held_message(lock.current_holder())}; nothing was moved — close CalTrack "
            "everywhere first"
        )
    try:
        moved: list[tuple[Path, Path]] = []
        for item in left:
            moved.append((item.side, _move(item)))
        try:
            findings = _check(path)
        except sqlite3.Error as exc:
            findings = [f"SQLite: {exc}"]
    finally:
        lock.release()
    return Recovery(moved=moved, findings=findings)


def _move(item: LeftSave) -> Path:
    try:
        return move_into_place(item)
    except RecoverError as exc:
        raise StorageError(str(exc)) from None
    except OSError as exc:
        raise StorageError(
            f"cannot move {item.side} to {item.target}: {exc.strerror or exc}; nothing else "
            "was changed"
        ) from None
