"""Per-user settings (theme, recent databases, quiet hours, window state), one JSON file.

Kept in the user config folder and written atomically, so a crash mid-save leaves the
previous settings, never half a file. Unknown or damaged values fall back to defaults.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from app.settings.paths import APP_NAME
from app.storage.atomic import atomic_write_text

MAX_RECENT = 8
THEMES = ("system", "light", "dark")


def settings_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "settings.json"


@dataclass(frozen=True)
class UserSettings:
    """What one user chose, on this PC."""

    theme: str = "system"
    last_database: str = ""
    recent_databases: tuple[str, ...] = ()
    quiet_start: str = ""  # "HH:MM"; empty: no quiet hours
    quiet_end: str = ""
    reminders: bool = True
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""
    splitter_state: str = ""
    table_header_state: str = ""  # widths, order, hidden columns, sort indicator
    extra: dict[str, Any] = field(default_factory=dict)

    def with_database(self, path: str) -> UserSettings:
        """Remember ``path`` as the last and most recent database."""
        recent = (path, *(p for p in self.recent_databases if p != path))[:MAX_RECENT]
        return replace(self, last_database=path, recent_databases=recent)


def _coerce(data: dict[str, Any]) -> UserSettings:
    defaults = UserSettings()
    values: dict[str, Any] = {}
    for f in fields(UserSettings):
        raw = data.get(f.name, getattr(defaults, f.name))
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            values[f.name] = tuple(str(x) for x in raw) if isinstance(raw, list | tuple) else ()
        elif isinstance(default, bool):
            values[f.name] = raw if isinstance(raw, bool) else default
        elif isinstance(default, dict):
            values[f.name] = raw if isinstance(raw, dict) else {}
        else:
            values[f.name] = raw if isinstance(raw, str) else default
    if values["theme"] not in THEMES:
        values["theme"] = "system"
    return UserSettings(**values)


def load_settings(path: Path | None = None) -> UserSettings:
    path = path or settings_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return UserSettings()
    return _coerce(data) if isinstance(data, dict) else UserSettings()


def save_settings(settings: UserSettings, path: Path | None = None) -> None:
    path = path or settings_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(settings)
    data["recent_databases"] = list(settings.recent_databases)
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False))
