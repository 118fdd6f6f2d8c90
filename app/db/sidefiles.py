"""Journals and WALs left under a name the database had before (a rename during a save).

SQLite keeps a save's rollback journal (``NAME-journal``) or its write-ahead log
(``NAME-wal``) beside the *name* it opened. When the file is renamed while a save runs
and the writer dies, that side file stays under the old name, where SQLite never looks
again: the renamed file is then half-written ("malformed", rollback mode) or lacks the
last committed changes (WAL mode). This module finds such files before SQLite touches
the database, and moves one to the current name on request so SQLite recovers it.

Nothing here opens the database for writing; the one read (the ``known_paths`` meta
key) uses SQLite's ``immutable`` mode, which takes no lock and creates no file.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.storage.sharing import rename_file, unlink_file

SideKind = Literal["journal", "wal"]

JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")
WAL_MAGICS = (0x377F0682, 0x377F0683)
WAL_HEADER = 32
WAL_FRAME_HEADER = 24
SQLITE_MAGIC = b"SQLite format 3\x00"

# The meta key listing the absolute paths the database was written under (oldest first).
KNOWN_PATHS_KEY = "known_paths"
# How many earlier names are remembered: enough for any real history of renames.
KNOWN_PATHS_KEEP = 10


def parse_known_paths(raw: str | None) -> list[str]:
    """The ``known_paths`` value as a list; anything unreadable counts as none."""
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


@dataclass(frozen=True)
class LeftSave:
    """A journal or WAL of this database lying under an earlier name."""

    side: Path  # the file as it lies, e.g. /dir/lab.db-journal
    kind: SideKind
    old_name: Path  # the name it belongs to, /dir/lab.db
    database: Path  # the database as opened now, /dir/moved.db

    @property
    def target(self) -> Path:
        """Where SQLite looks for it: beside the current name."""
        return Path(f"{self.database}-{self.kind}")

    def message(self) -> str:
        """What is missing, where it is, and the exact way to bring it back."""
        fix = (
            f"close CalTrack everywhere, then run `caltrack --db {self.database} db "
            f"recover-journal` (or by hand: rename {self.side} to {self.target}"
        )
        if self.kind == "journal":
            return (
                f"the unfinished save of this database is in {self.side} (left when the file "
                f"was renamed from {self.old_name} during a save); until it is rolled back "
                f"the file may be half-written, so CalTrack writes nothing to it — {fix} and "
                "open it again so SQLite rolls the unfinished save back). If that file never "
                "belonged to this database, move it out of the folder"
            )
        return (
            f"changes saved to this database are in {self.side} (its write-ahead log, left "
            f"under the earlier name {self.old_name}) and are missing from this file; "
            f"CalTrack writes nothing to it until they are back — {fix}, delete "
            f"{self.old_name}-shm, and open it again so the saved rows come back). If that "
            "file never belonged to this database, move it out of the folder"
        )


def _page_size(raw: int) -> int:
    return 65536 if raw == 1 else raw


def database_page_size(path: Path) -> int | None:
    """The page size in the database header, or None if the header is not SQLite's."""
    try:
        with path.open("rb") as handle:
            head = handle.read(18)
    except OSError:
        return None
    if len(head) < 18 or head[:16] != SQLITE_MAGIC:
        return None
    return _page_size(struct.unpack(">H", head[16:18])[0])


def holds_save(side: Path, kind: SideKind, page_size: int | None) -> bool:
    """True when ``side`` still carries a save (a hot journal, a WAL with frames).

    An emptied WAL, a truncated or zeroed journal (what a clean commit leaves in
    ``truncate``/``persist`` mode) holds nothing. A page size other than the
    database's means it belongs to another database.
    """
    try:
        with side.open("rb") as handle:
            head = handle.read(WAL_HEADER + WAL_FRAME_HEADER)
        size = side.stat().st_size
    except OSError:
        return False
    if kind == "journal":
        if len(head) < 28 or head[:8] != JOURNAL_MAGIC:
            return False
        journal_page = struct.unpack(">I", head[24:28])[0]
        return page_size is None or journal_page == page_size
    if len(head) < WAL_HEADER + WAL_FRAME_HEADER:
        return False
    magic, _version, wal_page = struct.unpack(">III", head[:12])
    if magic not in WAL_MAGICS or size < WAL_HEADER + WAL_FRAME_HEADER + wal_page:
        return False
    salts = head[16:24]
    first_frame_salts = head[WAL_HEADER + 8 : WAL_HEADER + 16]
    if salts != first_frame_salts:
        return False  # the frames are of an earlier generation: already checkpointed
    return page_size is None or wal_page == page_size


def known_paths(path: Path) -> list[str]:
    """The names recorded in the database (``known_paths``), or none if unreadable.

    ``immutable=1``: no lock, no journal or WAL is read or created, nothing written —
    the file may be half-written, and its own hot journal must be left to SQLite.
    """
    uri = f"file:{path.as_posix()}?immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error:
        return []
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (KNOWN_PATHS_KEY,)).fetchone()
    except sqlite3.Error:
        return []
    finally:
        conn.close()
    return parse_known_paths(str(row[0])) if row and row[0] is not None else []


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def find_left_saves(path: Path) -> list[LeftSave]:
    """Journals and WALs under earlier names of the database at ``path``.

    Earlier names come from ``known_paths`` and, since a damaged file may not be
    readable, from the folder itself: any ``X-journal`` or ``X-wal`` whose ``X`` is gone.
    A side file whose ``X`` exists as another file belongs to that file and is left alone.
    """
    if not path.is_file():
        return []
    current = Path(os.path.realpath(path))
    page_size = database_page_size(path)
    names: list[Path] = [Path(p) for p in known_paths(path)]
    with contextlib.suppress(OSError):
        for entry in sorted(os.scandir(current.parent), key=lambda e: e.name):
            for suffix in ("-journal", "-wal"):
                if entry.name.endswith(suffix) and len(entry.name) > len(suffix):
                    names.append(current.parent / entry.name[: -len(suffix)])
    found: list[LeftSave] = []
    seen: set[Path] = set()
    for old in names:
        if old in seen or old in (current, path):
            continue
        seen.add(old)
        try:
            if old.exists() and not _same_file(old, path):
                continue  # its side files are its own
        except OSError:
            # An earlier name in a folder this user may not enter (the file was copied
            # out of another user's folder): nothing there this user could recover.
            continue
        for kind in ("journal", "wal"):
            side = Path(f"{old}-{kind}")
            if holds_save(side, kind, page_size):
                found.append(LeftSave(side=side, kind=kind, old_name=old, database=path))
    return found


class RecoverError(Exception):
    """A left save cannot be moved into place safely; the message says why."""


def move_into_place(left: LeftSave) -> Path:
    """Rename the side file to the current name (where SQLite will recover it).

    Refused when the current name already has a side file that holds a save: which
    of the two comes first cannot be decided here.
    """
    target = left.target
    if target.exists():
        if holds_save(target, left.kind, database_page_size(left.database)):
            raise RecoverError(
                f"{target} exists too and holds a save of its own; nothing was moved — keep "
                f"both files and ask your admin (restore a backup if in doubt)"
            )
        unlink_file(target)  # an empty leftover of a clean close or a read
    # Waits out another PC's open handle on Windows (a sharing violation).
    rename_file(left.side, target)
    if left.kind == "wal":
        # The old name's shared-memory index describes the WAL under the old name only.
        with contextlib.suppress(OSError):
            Path(f"{left.old_name}-shm").unlink()
        # So may ours, if a reader opened the current name since: SQLite rebuilds it.
        with contextlib.suppress(OSError):
            Path(f"{left.database}-shm").unlink()
    return target
