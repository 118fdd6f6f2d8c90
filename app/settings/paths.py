"""Where CalTrack keeps per-user files, following each OS's conventions."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "CalTrack"


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_database_path() -> Path:
    """The database a one-person lab gets without choosing one."""
    return user_data_dir() / "caltrack.db"


def user_state_dir() -> Path:
    """Run markers and other per-user state that is not a setting."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
