"""Attachment files in the folder beside the database.

Files are streamed in (constant memory for any size), hashed on the way, written to a
temp file in the same folder, fsynced and renamed into place before their row is
committed, so a crash can leave an orphan file but never a row without its file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from app.errors import StorageError, UsageError
from app.storage.atomic import atomic_writer, fsync_directory
from app.storage.filekind import kind_of
from app.storage.filenames import stored_name
from app.storage.sharing import replace_file, unlink_file

CHUNK = 1024 * 1024
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class StoredFile:
    """A file now in the store."""

    stored_name: str
    size_bytes: int
    sha256: str


def attachments_folder_for(db_path: Path) -> Path:
    """``lab.db`` keeps its files in ``lab.db-attachments`` beside it."""
    return db_path.with_name(f"{db_path.name}-attachments")


def _open_source(source: Path) -> tuple[int, int]:
    """Open a file the user named; clear messages for every way that can fail."""
    try:
        info = source.stat()
    except FileNotFoundError:
        raise UsageError(f"no file at {source}; check the path") from None
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(
            f"{source} is {kind_of(info.st_mode)}, not a regular file; attach a saved file"
        )
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except PermissionError:
        raise UsageError(f"cannot read {source}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    return fd, info.st_size


@contextlib.contextmanager
def reading(source: Path) -> Iterator[tuple[BinaryIO, int]]:
    """The user's file opened for reading, with its size; clear messages on failure."""
    fd, total = _open_source(source)
    with os.fdopen(fd, "rb") as handle:
        yield handle, total


def check_destination(destination: Path) -> None:
    """A copy goes to a new file in an existing folder: never overwrite silently."""
    if destination.exists():
        raise UsageError(f"{destination} already exists; choose another name")
    if not destination.parent.is_dir():
        raise UsageError(f"folder {destination.parent} does not exist")


def write_verified(
    chunks: Iterable[bytes], destination: Path, *, expected_sha256: str, name: str
) -> Path:
    """Write ``chunks`` to ``destination`` whole or not at all, checking their sha256.

    The content is hashed on its way out: a damaged copy is never left behind under the
    name the user chose.
    """
    digest = hashlib.sha256()
    try:
        with atomic_writer(destination) as dst:
            for chunk in chunks:
                dst.write(chunk)
                digest.update(chunk)
            if digest.hexdigest() != expected_sha256:
                raise UsageError(
                    f"attachment file {name} does not match its recorded hash "
                    "(damaged or changed outside CalTrack); run `db verify --deep`"
                )
    except OSError as exc:
        raise UsageError(f"could not write {destination}: {exc.strerror or exc}") from None
    return destination


class AttachmentStore:
    """The folder of attachment files for one database."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_of(self, name: str) -> Path:
        path = self.folder / name
        # Stored names come from the database, which anyone can edit: stay inside.
        if path.resolve().parent != self.folder.resolve():
            raise UsageError(f"refusing attachment name outside the store: {name!r}")
        return path

    def ingest(self, source: Path, *, progress: Progress | None = None) -> StoredFile:
        """Copy ``source`` in under a fresh stored name; the file is durable on return."""
        fd, total = _open_source(source)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            os.close(fd)
            raise UsageError(
                f"cannot create the attachments folder {self.folder}: {exc.strerror or exc}"
            ) from None
        name = stored_name(source.name)
        digest = hashlib.sha256()
        size = 0
        try:
            with (
                os.fdopen(fd, "rb") as src,
                atomic_writer(self.folder / name, prefix=".incoming-") as dst,
            ):
                while chunk := src.read(CHUNK):
                    dst.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    if progress:
                        progress(size, total)
        except OSError as exc:
            # Reading the user's file was checked above: this is the store's disk or share.
            raise StorageError(
                f"could not store {source.name} in {self.folder}: {exc.strerror or exc}; "
                "nothing was attached — free space or check the share and try again"
            ) from None
        return StoredFile(stored_name=name, size_bytes=size, sha256=digest.hexdigest())

    def discard(self, name: str) -> None:
        """Remove a file whose row never committed."""
        with contextlib.suppress(FileNotFoundError):
            self.path_of(name).unlink()
        fsync_directory(self.folder)

    def exists(self, name: str) -> bool:
        return self.path_of(name).is_file()

    def hash_file(self, name: str) -> tuple[int, str]:
        digest = hashlib.sha256()
        size = 0
        with self.path_of(name).open("rb") as handle:
            while chunk := handle.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return size, digest.hexdigest()

    def export(self, name: str, destination: Path, *, expected_sha256: str) -> Path:
        """Copy a stored file out, verifying its hash; never overwrite silently."""
        source = self.path_of(name)
        if not source.is_file():
            raise UsageError(f"the attachment file {name} is missing from {self.folder}")
        check_destination(destination)
        with source.open("rb") as src:
            return write_verified(
                iter(lambda: src.read(CHUNK), b""),
                destination,
                expected_sha256=expected_sha256,
                name=name,
            )

    def iter_names(self) -> Iterator[str]:
        """Every file in the store, temp files included (for orphan checks)."""
        if not self.folder.is_dir():
            return
        for entry in sorted(os.scandir(self.folder), key=lambda e: e.name):
            if entry.is_file():
                yield entry.name

    # -- quarantine: files a cleanup took out of the store, never deleted ------------

    @property
    def quarantine_folder(self) -> Path:
        """``lab.db-attachments-quarantine`` beside the store."""
        return self.folder.with_name(f"{self.folder.name}{QUARANTINE_SUFFIX}")

    def quarantine(self, name: str) -> Path:
        """Move a file out of the store into the quarantine folder (kept, restorable).

        An orphan may be the file of a row that a restore took away and a later restore
        brings back: a cleanup must never be what loses it.
        """
        source = self.path_of(name)
        folder = self.quarantine_folder
        try:
            folder.mkdir(exist_ok=True)
            target = _free_name(folder, name)
            _move(source, target)
        except OSError as exc:
            raise StorageError(
                f"could not move {name} into {folder}: {exc.strerror or exc}; it stays in "
                f"{self.folder}"
            ) from None
        fsync_directory(self.folder)
        fsync_directory(folder)
        return target

    def quarantined(self) -> list[tuple[str, int, float]]:
        """Files in quarantine: (name, size in bytes, last modified as a POSIX time)."""
        folder = self.quarantine_folder
        if not folder.is_dir():
            return []
        return [
            (entry.name, entry.stat().st_size, entry.stat().st_mtime)
            for entry in sorted(os.scandir(folder), key=lambda e: e.name)
            if entry.is_file()
        ]

    def release(self, name: str) -> Path:
        """Move a quarantined file back into the store under its own name."""
        folder = self.quarantine_folder
        source = folder / name
        if source.resolve().parent != folder.resolve() or not source.is_file():
            raise UsageError(f"no file {name!r} in {folder}; `db quarantine` lists the files there")
        target = self.path_of(name)
        if target.exists():
            raise UsageError(f"{target} already exists; nothing was moved")
        try:
            _move(source, target)
        except OSError as exc:
            raise StorageError(f"could not move {name} back: {exc.strerror or exc}") from None
        fsync_directory(folder)
        fsync_directory(self.folder)
        return target


QUARANTINE_SUFFIX = "-quarantine"


def _free_name(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or ``name.1``, ``name.2``... when taken (never overwrite)."""
    target = folder / name
    number = 0
    while target.exists():
        number += 1
        target = folder / f"{name}.{number}"
    return target


def _move(source: Path, target: Path) -> None:
    """Rename without replacing: link then unlink, or a checked rename without links."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        if target.exists():
            raise FileExistsError(target) from None
        replace_file(source, target)
        return
    # On Windows a reader's open handle blocks the delete for a moment: wait it out.
    unlink_file(source)
