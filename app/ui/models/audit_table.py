"""Audit events as a Qt table model, and the texts people read them by.

The audit window loads at most a few thousand events at once (the search has a limit),
so the events are held here whole and sorted in memory. ``change_summary`` is the
field-level "before → after" line; ``changes_json`` the full record of the changes.
Both cope with changes that are not what CalTrack writes (a trail edited behind its
back is exactly what QA looks at here).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt

from app.services.audit import (
    CREATING_ACTIONS,
    ENTITY_NAMES,
    READINGS_FIELD,
    entity_name,
    reading_changes,
)
from app.services.dto import AuditView
from app.ui.look import icon, status_color
from app.ui.models.list_model import SortedListModel

BROKEN_TIP = (
    "The audit chain breaks here: this event, or the one before it, was changed or "
    "removed outside CalTrack"
)
ID_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2


COLUMNS: tuple[str, ...] = (
    "Event",
    "Time (UTC)",
    "User",
    "Machine",
    "Entity",
    "Action",
    "Changes (before → after)",
    "Reason",
)
(
    COL_ID,
    COL_TIME,
    COL_USER,
    COL_MACHINE,
    COL_ENTITY,
    COL_ACTION,
    COL_CHANGES,
    COL_REASON,
) = range(len(COLUMNS))

# Entity types as the audit trail stores them → what the window calls them.
ENTITY_TYPES: tuple[tuple[str, str], ...] = tuple(ENTITY_NAMES.items())
MAX_VALUE_CHARS = 80  # one value in the summary; the detail area shows all of it


def time_text(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}"


def entity_text(event: AuditView) -> str:
    return f"{entity_name(event.entity_type)} {event.entity_label}".strip()


def value_text(value: Any) -> str:
    """One stored value as it reads in a summary: — for nothing, lists joined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value) or "—"
    if isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    else:
        text = str(value)
    text = " ".join(text.split())  # line breaks in notes would break the row
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


# What a reader looks for first in a new thing's fields (a signature's meaning above all).
LEADING_FIELDS = ("meaning", "signer", "asset_tag", "result", "status", "role")


def change_summary(event: AuditView) -> str:
    """``field: before → after; …``; for something that came into being, its values
    (the empty ones left out, the telling ones first)."""
    changes: object = event.changes
    if not isinstance(changes, dict):
        return value_text(changes)
    creating = event.action in CREATING_ACTIONS
    names = sorted(changes, key=lambda n: LEADING_FIELDS.index(n) if n in LEADING_FIELDS else 99)
    parts: list[str] = []
    for name in names if creating else list(changes):
        pair = changes[name]
        label = str(name).replace("_", " ")
        if not isinstance(pair, list) or len(pair) != 2:
            parts.append(f"{label}: {value_text(pair)}")
            continue
        before, after = pair
        readings = reading_changes(before, after) if name == READINGS_FIELD else None
        if readings is not None:
            parts.extend(
                f"{what}: {value_text(new)}"
                if old is None and creating
                else f"{what}: {value_text(old)} → {value_text(new)}"
                for what, old, new in readings
            )
            continue
        if before is None and creating:
            if after is not None and after != "":
                parts.append(f"{label}: {value_text(after)}")
        else:
            parts.append(f"{label}: {value_text(before)} → {value_text(after)}")
    return "; ".join(parts) or "—"


def changes_json(event: AuditView) -> str:
    """The changes exactly as recorded, indented for reading."""
    return json.dumps(event.changes, ensure_ascii=False, indent=2, sort_keys=True, default=str)


def _display(event: AuditView, column: int) -> str:
    if column == COL_ID:
        return f"#{event.id}"
    if column == COL_TIME:
        return time_text(event.occurred_at)
    if column == COL_USER:
        return event.user
    if column == COL_MACHINE:
        return event.machine
    if column == COL_ENTITY:
        return entity_text(event)
    if column == COL_ACTION:
        return event.action
    if column == COL_CHANGES:
        return change_summary(event)
    return event.reason


def _sort_key(event: AuditView, column: int) -> Any:
    if column == COL_ID:
        return event.id
    if column == COL_TIME:
        return event.occurred_at.isoformat()
    return _display(event, column).casefold()


class AuditTableModel(SortedListModel[AuditView]):
    """The events of one search, sortable by any column (the event number breaks ties)."""

    COLUMNS = COLUMNS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent, sort=(COL_ID, True))  # newest first, as searched
        self.broken_at: int | None = None

    # -- feeding ---------------------------------------------------------------------

    def set_events(self, events: Sequence[AuditView]) -> None:
        self.beginResetModel()
        self._rows = list(events)
        self._apply_sort()
        self.endResetModel()

    def events(self) -> list[AuditView]:
        """Every event shown, in the order shown."""
        return list(self._rows)

    def event_at(self, row: int) -> AuditView | None:
        return self.item_at(row)

    def users(self) -> set[str]:
        return {e.user for e in self._rows}

    def set_broken_at(self, event_id: int | None) -> None:
        """Mark the event where verification found the chain broken (None: intact)."""
        self.broken_at = event_id
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1)
            )

    def sort_key(self, item: AuditView, column: int) -> Any:
        return _sort_key(item, column)

    # -- Qt model --------------------------------------------------------------------

    def cell(self, event: AuditView, column: int, role: int) -> Any:
        broken = event.id == self.broken_at
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(event, column)
        if broken and column == COL_ID and role == Qt.ItemDataRole.DecorationRole:
            return icon("warning")
        if broken and role == Qt.ItemDataRole.ForegroundRole:
            return status_color("overdue")
        if role == ID_ROLE:
            return event.id
        if role == SORT_ROLE:
            return _sort_key(event, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if broken and column == COL_ID:
                return BROKEN_TIP
            if column == COL_CHANGES:
                return changes_json(event)
            return _display(event, column)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            text = f"{COLUMNS[column]}: {_display(event, column)}"
            return f"{text} (the audit chain breaks here)" if broken and column == COL_ID else text
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_ID:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
