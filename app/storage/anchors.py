"""Audit chain anchors: what this PC last saw of each database's audit trail.

Kept outside the database, in the user's state folder, one small JSON file per
``database_id``: the number of audit events and the hash of the newest one. Whoever
rewrites the database file cannot rewrite what every PC that opened it remembers, so a
trail cut back or rewritten behind CalTrack's back no longer extends an anchor.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from app.storage.atomic import atomic_write_text

GENESIS_EVENTS = 0


@dataclass(frozen=True)
class SeenRestore:
    """An audited restore inside the chain this PC saw: the restore event's own hash, and
    the head of the trail it replaced (as the event recorded it)."""

    hash: str
    replaced_head: str | None


@dataclass(frozen=True)
class Anchor:
    """The newest point of one database's audit chain that this PC saw."""

    database_id: str
    events: int
    head: str
    seen_at: str  # ISO UTC
    path: str  # where the database was when it was seen (for the message only)
    # The restores within those events; None in an anchor written before CalTrack kept
    # them (it is completed the next time the chain is read).
    restores: tuple[SeenRestore, ...] | None = None


class AnchorUnreadableError(Exception):
    """The anchor file exists but does not hold an anchor."""


class AnchorStore:
    """Anchors in ``<state>/anchors/<key>.json``, written atomically."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / "anchors"

    def file_for(self, database_id: str) -> Path:
        # database_id is a uuid written by CalTrack, but it is read from a file anyone can
        # edit: never use it as a file name as it is.
        key = hashlib.sha256(database_id.encode("utf-8")).hexdigest()[:32]
        return self.folder / f"{key}.json"

    def load(self, database_id: str) -> Anchor | None:
        """The anchor kept for this database, or None when this PC never saw it.

        Raises ``AnchorUnreadableError`` when the file is there but damaged.
        """
        target = self.file_for(database_id)
        try:
            raw = target.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AnchorUnreadableError(f"{target}: {exc}") from None
        try:
            data = json.loads(raw)
            anchor = Anchor(
                database_id=str(data["database_id"]),
                events=int(data["events"]),
                head=str(data["head"]),
                seen_at=str(data["seen_at"]),
                path=str(data.get("path", "")),
                restores=_restores(data.get("restores")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AnchorUnreadableError(f"{target}: not an anchor ({exc})") from None
        if anchor.database_id != database_id or anchor.events < GENESIS_EVENTS:
            raise AnchorUnreadableError(f"{target}: it names another database")
        return anchor

    def save(self, anchor: Anchor) -> None:
        """Replace the anchor (temp file, fsync, rename: never half written)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.file_for(anchor.database_id), json.dumps(asdict(anchor)) + "\n")


def _restores(raw: object) -> tuple[SeenRestore, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise TypeError("restores is not a list")
    return tuple(
        SeenRestore(
            hash=str(item["hash"]),
            replaced_head=None if item["replaced_head"] is None else str(item["replaced_head"]),
        )
        for item in raw
    )
