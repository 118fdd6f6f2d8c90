"""The rotating log file in the user's log folder (problems are also shown, never only logged)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from app.settings.paths import user_log_dir

LOG_NAME = "caltrack.log"


def setup_logging(folder: Path | None = None, *, level: int = logging.INFO) -> Path | None:
    """Log to ``caltrack.log`` (1 MiB × 5 files); None when the folder cannot be written."""
    folder = folder or user_log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            folder / LOG_NAME, maxBytes=1024 * 1024, backupCount=5, encoding="utf-8"
        )
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
    return folder / LOG_NAME
