"""Column mappings a user confirmed, remembered per file layout in their settings.

Kept in ``UserSettings.extra["import_mappings"]``, keyed by the kind and the normalised
header row (``transfer_mapping.layout_key``): the next file with the same columns is
offered the same mapping. Only the newest ``MAX_REMEMBERED`` layouts are kept.

With the columns, each entry keeps the value mapping of the fixed-set columns
(``"values"``: header → value as written → canonical value). Entries stored before
value mapping existed have no ``"values"`` and are read as having none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.settings.user_settings import UserSettings, load_settings, save_settings

EXTRA_KEY = "import_mappings"
MAX_REMEMBERED = 50


def _entries(extra: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    raw = extra.get(EXTRA_KEY)
    if not isinstance(raw, dict):
        return {}
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, dict)}


def remembered_in(settings: UserSettings) -> dict[str, dict[str, str]]:
    """layout key → (header → field, "" for left out) for every mapping confirmed."""
    found: dict[str, dict[str, str]] = {}
    for key, entry in _entries(settings.extra).items():
        mapping = entry.get("mapping")
        if isinstance(mapping, dict):
            found[key] = {str(h): f for h, f in mapping.items() if isinstance(f, str)}
    return found


def remembered_values_in(settings: UserSettings) -> dict[str, dict[str, dict[str, str]]]:
    """layout key → (header → (value → canonical value)); damaged parts are skipped."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for key, entry in _entries(settings.extra).items():
        values = entry.get("values")
        if not isinstance(values, dict):
            continue
        columns: dict[str, dict[str, str]] = {}
        for header, table in values.items():
            if isinstance(table, dict):
                kept = {str(v): t for v, t in table.items() if isinstance(t, str) and t}
                if kept:
                    columns[str(header)] = kept
        found[key] = columns
    return found


def with_mapping(
    settings: UserSettings,
    key: str,
    kind: str,
    headers: Sequence[str],
    mapping: Mapping[str, str],
    *,
    now: datetime | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> UserSettings:
    """The settings with this mapping remembered (the oldest layouts forgotten).

    Pure: the window keeps its settings in memory and saves them itself.
    """
    entries = _entries(settings.extra)
    if values is None:
        # A caller that knows no value mapping (the column page) keeps the one remembered.
        kept = entries.get(key, {}).get("values")
        values = kept if isinstance(kept, dict) else {}
    entries[key] = {
        "kind": kind,
        "headers": list(headers),
        "mapping": dict(mapping),
        "values": {h: dict(v) for h, v in values.items() if isinstance(v, Mapping)},
        "saved_at": (now or datetime.now(UTC)).isoformat(),
    }
    newest = sorted(entries.items(), key=lambda kv: str(kv[1].get("saved_at", "")), reverse=True)
    extra = dict(settings.extra)
    extra[EXTRA_KEY] = dict(newest[:MAX_REMEMBERED])
    return replace(settings, extra=extra)


def remembered_mapping(key: str, path: Path | None = None) -> dict[str, str] | None:
    """The mapping confirmed earlier for this layout, from the settings file, or None."""
    return remembered_in(load_settings(path)).get(key)


def remembered_values(key: str, path: Path | None = None) -> dict[str, dict[str, str]]:
    """The value mapping confirmed earlier for this layout ({} when none)."""
    return remembered_values_in(load_settings(path)).get(key, {})


def remember_mapping(
    key: str,
    kind: str,
    headers: Sequence[str],
    mapping: Mapping[str, str],
    path: Path | None = None,
    *,
    now: datetime | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """Store the mapping the user just confirmed in the settings file (the CLI's way)."""
    settings = with_mapping(
        load_settings(path), key, kind, headers, mapping, now=now, values=values
    )
    save_settings(settings, path)
