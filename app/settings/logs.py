"""The rotating log file in the user's log folder (problems are also shown, never only logged).

The window also writes native crashes there (``faulthandler``): a segmentation fault in
Qt kills the process before Python can log anything, and without the stack the next
start can only say that it crashed, not where.
"""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
from pathlib import Path

from app.settings.paths import user_log_dir

LOG_NAME = "caltrack.log"


class _LogFile(logging.handlers.RotatingFileHandler):
    """The rotating log that, when asked, also receives the stack of a native crash."""

    faults = False

    def enable_faults(self) -> None:
        self.faults = True
        self._point_faulthandler()

    def _point_faulthandler(self) -> None:
        # faulthandler writes to a file descriptor, not to the logging machinery: after
        # each rotation it is pointed at the new file, so the stack lands in caltrack.log.
        if self.faults and self.stream is not None:
            faulthandler.enable(file=self.stream, all_threads=True)

    def doRollover(self) -> None:
        super().doRollover()
        self._point_faulthandler()

    def close(self) -> None:
        if self.faults:
            # Its file descriptor is about to be closed and may be reused by another
            # file (a database!): a late crash must not write into that.
            self.faults = False
            faulthandler.disable()
        super().close()


def setup_logging(
    folder: Path | None = None, *, level: int = logging.INFO, faults: bool = False
) -> Path | None:
    """Log to ``caltrack.log`` (1 MiB × 5 files); None when the folder cannot be written.

    ``faults``: also write the stack of every thread there when the process dies of a
    native crash (segmentation fault, abort) — the window turns it on.
    """
    folder = folder or user_log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = _LogFile(folder / LOG_NAME, maxBytes=1024 * 1024, backupCount=5, encoding="utf-8")
    except OSError:
        # Without a handler Python would print every record on stderr, doubling the
        # one-line errors users see.
        logging.getLogger("app").addHandler(logging.NullHandler())
        return None
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger("app")
    root.setLevel(level)
    root.addHandler(handler)
    if faults:
        handler.enable_faults()
    return folder / LOG_NAME
