"""SQLite's "disk I/O error" is told as what it is where the database is (issue 10, 13).

A full local disk was reported as "check the connection to the share". The error object
is SQLite's own (raised by the sqlite3 module); the disk is a real, really full tmpfs.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.exc import OperationalError

from app.db.transactions import translate_storage_error
from tests.integration.process_helpers import small_tmpfs


def _io_error() -> OperationalError:
    return OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))


def test_an_io_error_on_a_full_local_disk_says_the_disk_is_full(tmp_path: Path) -> None:
    folder = tmp_path / "disk"
    folder.mkdir()
    with small_tmpfs(folder, "1m"):
        db = folder / "lab.db"
        sqlite3.connect(db).close()
        filler = folder / "filler"
        with filler.open("wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass  # the disk is full now
        message = str(translate_storage_error(_io_error(), db))
    assert message.startswith(f"the disk holding the database ({folder}) is full")
    assert "share" not in message


def test_an_io_error_on_a_local_disk_does_not_blame_a_share(tmp_path: Path) -> None:
    message = str(translate_storage_error(_io_error(), tmp_path / "lab.db"))
    assert "share" not in message and "nothing was saved" in message
    assert "rolled back" not in str(translate_storage_error(_io_error()))


def test_an_io_error_while_reading_says_nothing_was_changed(tmp_path: Path) -> None:
    # db verify and every other read: no "rolled back", no "nothing was saved".
    message = str(translate_storage_error(_io_error(), tmp_path / "lab.db", writing=False))
    assert "failed while reading it" in message and "nothing was changed" in message
    assert "rolled back" not in message and "saved" not in message
