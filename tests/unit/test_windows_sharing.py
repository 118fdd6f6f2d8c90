"""Windows sharing violations: every rename or delete of user data waits them out.

On Windows a file another process holds open cannot be replaced, renamed or deleted for
that moment (``PermissionError``, ``winerror`` 32). Here the operating system's call is
replaced by one that raises exactly that error the first times for the file in question,
then does the real thing: each place that renames user data, settings or backups must
come through, and a hold that does not end must give the error, not hide it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.db import maintenance, sidefiles
from app.storage import sharing
from app.storage.atomic import atomic_write_text
from app.storage.attachments import AttachmentStore


def sharing_violation(path: object) -> PermissionError:
    """The error Windows gives for a file another process has open."""
    exc = PermissionError(13, "The process cannot access the file", str(path))
    # Only Windows builds of Python set winerror; set it as Windows would.
    setattr(exc, "winerror", sharing.ERROR_SHARING_VIOLATION)  # noqa: B010
    return exc


class Held:
    """``os.NAME`` failing with a sharing violation ``times`` times for paths ending ``suffix``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str, suffix: str, times: int) -> None:
        self.real: Callable[..., None] = getattr(os, name)
        self.suffix = suffix
        self.left = times
        self.refused = 0
        monkeypatch.setattr(os, name, self)

    def __call__(self, path: object, *rest: object) -> None:
        # The held file may be either side of a rename (a replaced target is held too).
        held = any(str(name).endswith(self.suffix) for name in (path, *rest))
        if held and self.left > 0:
            self.left -= 1
            self.refused += 1
            raise sharing_violation(path)
        self.real(path, *rest)


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the pauses instead of sleeping through them."""
    slept: list[float] = []
    monkeypatch.setattr(sharing, "pause", slept.append)
    return slept


# -- the rule ---------------------------------------------------------------------


def test_a_sharing_violation_is_tried_again_until_the_file_is_free(
    no_waiting: list[float],
) -> None:
    calls: list[int] = []

    def replace() -> str:
        calls.append(1)
        if len(calls) <= 2:
            raise sharing_violation("lab.db.lock.json")
        return "done"

    assert sharing.retry_sharing(replace) == "done"
    assert len(calls) == 3
    assert no_waiting == list(sharing.RETRY_DELAYS[:2])


def test_a_hold_that_does_not_end_gives_its_error_after_a_bounded_wait(
    no_waiting: list[float],
) -> None:
    calls: list[int] = []

    def replace() -> None:
        calls.append(1)
        raise sharing_violation("report.pdf")

    with pytest.raises(PermissionError) as raised:
        sharing.retry_sharing(replace)
    assert getattr(raised.value, "winerror", None) == 32
    assert len(calls) == len(sharing.RETRY_DELAYS) + 1
    assert sum(no_waiting) < 2.0


@pytest.mark.parametrize(
    "error",
    [
        PermissionError(13, "Permission denied"),  # POSIX: no winerror, a real refusal
        FileNotFoundError(2, "No such file"),
        OSError(28, "No space left on device"),
    ],
)
def test_other_errors_are_raised_at_once(error: OSError, no_waiting: list[float]) -> None:
    calls: list[int] = []

    def replace() -> None:
        calls.append(1)
        raise error

    with pytest.raises(type(error)):
        sharing.retry_sharing(replace)
    assert calls == [1]
    assert no_waiting == []


# -- each place that renames or deletes user data ------------------------------------


def test_settings_and_lock_files_are_replaced_once_the_reader_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old")
    held = Held(monkeypatch, "replace", "settings.json", times=2)
    atomic_write_text(target, "new")
    assert held.refused == 2
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_a_file_held_open_for_good_keeps_its_old_content_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "settings.json"
    target.write_text("old")
    Held(monkeypatch, "replace", "settings.json", times=100)
    with pytest.raises(PermissionError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.json"]


def test_quarantine_deletes_the_old_name_once_a_reader_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AttachmentStore(tmp_path / "lab.db-attachments")
    store.folder.mkdir()
    (store.folder / "cert_1234abcd.pdf").write_bytes(b"%PDF")
    held = Held(monkeypatch, "unlink", "cert_1234abcd.pdf", times=2)
    moved = store.quarantine("cert_1234abcd.pdf")
    assert held.refused == 2
    assert moved.read_bytes() == b"%PDF"
    assert not (store.folder / "cert_1234abcd.pdf").exists()


def test_quarantine_without_hard_links_renames_once_a_reader_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = AttachmentStore(tmp_path / "lab.db-attachments")
    store.folder.mkdir()
    (store.folder / "cert_1234abcd.pdf").write_bytes(b"%PDF")

    def no_links(_source: object, _target: object) -> None:
        raise OSError(1, "Operation not permitted")  # a share without hard links

    monkeypatch.setattr(os, "link", no_links)
    held = Held(monkeypatch, "replace", "cert_1234abcd.pdf", times=2)
    moved = store.quarantine("cert_1234abcd.pdf")
    assert held.refused == 2
    assert moved.read_bytes() == b"%PDF"
    assert not (store.folder / "cert_1234abcd.pdf").exists()
    assert store.release("cert_1234abcd.pdf").read_bytes() == b"%PDF"


@pytest.mark.sqlite_only("about the backup file in the folder beside the database file")
def test_a_backup_gets_its_name_while_a_scanner_holds_the_copy(
    app: CalTrack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = tmp_path / "backup.db"
    held = Held(monkeypatch, "unlink", maintenance.COPY_TMP_SUFFIX, times=2)
    maintenance.sqlite_backup(app.database.engine, destination)
    assert held.refused == 2
    assert maintenance.check_backup_file(destination, quick=True) == []
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(maintenance.COPY_TMP_SUFFIX)]


def test_a_left_save_is_moved_into_place_once_another_pc_lets_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "moved.db"
    sqlite3.connect(database).close()
    side = tmp_path / "lab.db-journal"
    side.write_bytes(b"journal")
    left = sidefiles.LeftSave(
        side=side, kind="journal", old_name=tmp_path / "lab.db", database=database
    )
    held = Held(monkeypatch, "rename", "lab.db-journal", times=2)
    assert sidefiles.move_into_place(left) == tmp_path / "moved.db-journal"
    assert held.refused == 2
    assert (tmp_path / "moved.db-journal").read_bytes() == b"journal"
    assert not side.exists()
