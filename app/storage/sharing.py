"""Renames and deletes that wait out a Windows sharing violation.

On Windows a file another process has open (a colleague's CalTrack reading the lock file
on the share, a virus scanner looking at a file just written, Explorer making a preview)
cannot be replaced, renamed or deleted for that moment: the call fails with
``PermissionError`` and ``winerror`` 32 (sharing violation), 33 (lock violation) or 5
(access denied, what ``MoveFileEx`` gives when the target is open). Such holds last
milliseconds, so these helpers try again a few times, about 1.5 s in all, and then raise
the last error unchanged for the caller to report as before. On Linux and macOS an
``OSError`` has no ``winerror``: every error is raised at once, exactly as before.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

ERROR_ACCESS_DENIED = 5
ERROR_SHARING_VIOLATION = 32
ERROR_LOCK_VIOLATION = 33
# Windows error codes that mean "someone has the file open right now", not "never".
TRANSIENT_WINERRORS = frozenset(
    {ERROR_ACCESS_DENIED, ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION}
)

# Pauses between attempts: 1.55 s in all, bounded so a file held open for good (a
# report open in a PDF viewer) gives its error soon instead of freezing the caller.
RETRY_DELAYS: tuple[float, ...] = (0.05, 0.1, 0.2, 0.4, 0.8)

# How the pauses are taken (tests replace this to record them instead of sleeping).
pause: Callable[[float], None] = time.sleep


def is_sharing_violation(exc: BaseException) -> bool:
    """True for a Windows error that another process's open handle causes."""
    return isinstance(exc, OSError) and getattr(exc, "winerror", None) in TRANSIENT_WINERRORS


def retry_sharing(
    action: Callable[[], T],
    *,
    delays: tuple[float, ...] = RETRY_DELAYS,
    sleep: Callable[[float], None] | None = None,
) -> T:
    """Run ``action``; on a sharing violation wait and run it again, ``len(delays)`` times."""
    for delay in delays:
        try:
            return action()
        except OSError as exc:
            if not is_sharing_violation(exc):
                raise
        (sleep or pause)(delay)
    return action()


def replace_file(source: Path | str, target: Path | str) -> None:
    """``os.replace``, waiting out a sharing violation on either file."""
    retry_sharing(lambda: os.replace(source, target))


def rename_file(source: Path | str, target: Path | str) -> None:
    """``os.rename``, waiting out a sharing violation on either file."""
    retry_sharing(lambda: os.rename(source, target))


def unlink_file(path: Path | str) -> None:
    """``os.unlink``, waiting out a sharing violation."""
    retry_sharing(lambda: os.unlink(path))
