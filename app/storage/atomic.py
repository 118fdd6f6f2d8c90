"""Crash-safe file writes: temp file in the same folder, fsync, ``os.replace``.

A reader sees either the old file or the new one, never half of it, and a crash
leaves at most a ``.tmp`` file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from app.storage.sharing import replace_file

TMP_SUFFIX = ".tmp"


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# Read once at import, before any thread starts (os.umask sets as it reads).
_UMASK = _read_umask()


def shared_mode(target: Path) -> int:
    """The mode a replacement should get: the old file's, or what open() would give.

    mkstemp makes 0600 files; beside a shared database that would hide the lock holder,
    edit requests and attachments from colleagues with access to the folder.
    """
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_UMASK


def fsync_directory(folder: Path) -> None:
    """Make a rename durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        # Some network filesystems refuse fsync on a directory; the rename still happened.
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(target: Path, *, prefix: str | None = None) -> Iterator[IO[bytes]]:
    """Yield a binary file; on clean exit it replaces ``target`` atomically."""
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(
        prefix=prefix or f".{target.name}.", suffix=TMP_SUFFIX, dir=folder
    )
    tmp = Path(tmp_name)
    try:
        with contextlib.suppress(OSError):  # not every share keeps modes
            os.fchmod(fd, shared_mode(target))
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        replace_file(tmp, target)  # waits out a reader's open handle on Windows
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_directory(folder)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_writer(target) as handle:
        handle.write(data)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))
