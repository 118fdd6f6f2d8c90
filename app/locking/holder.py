"""The holder file beside the lock: who edits, since when, and a heartbeat counter.

It is separate from the locked file (which is never written, deleted or renamed) and is
replaced atomically, so a reader sees a whole record or the previous one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from app.storage.atomic import atomic_write_text

DEFAULT_HEARTBEAT_S = 30.0


@dataclass(frozen=True)
class HolderInfo:
    """One editing session as recorded in ``<db>.lock.json``."""

    user: str
    machine: str
    pid: int
    session_id: str
    app_version: str
    since: str  # UTC, ISO 8601
    heartbeat: int = 0
    released: bool = False
    epoch: int = 0
    # How often this session beats: an observer judges "no beat" against it. Holder
    # files written before this field existed beat at the default.
    heartbeat_s: float = DEFAULT_HEARTBEAT_S

    def since_local(self) -> str:
        """``since`` in the viewer's local time, as HH:MM (or date and time if not today)."""
        try:
            moment = datetime.fromisoformat(self.since).astimezone()
        except ValueError:
            return self.since
        now = datetime.now().astimezone()
        return moment.strftime("%H:%M" if moment.date() == now.date() else "%Y-%m-%d %H:%M")

    def describe(self) -> str:
        return f"{self.user} on {self.machine} since {self.since_local()}"

    def beat(self) -> HolderInfo:
        return replace(self, heartbeat=self.heartbeat + 1)


def holder_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock.json")


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


def read_holder(path: Path) -> HolderInfo | None:
    """The recorded holder, or None when there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return HolderInfo(
            user=str(data["user"]),
            machine=str(data["machine"]),
            pid=int(data["pid"]),
            session_id=str(data["session_id"]),
            app_version=str(data.get("app_version", "")),
            since=str(data["since"]),
            heartbeat=int(data.get("heartbeat", 0)),
            released=bool(data.get("released", False)),
            epoch=int(data.get("epoch", 0)),
            heartbeat_s=_beat_interval(data.get("heartbeat_s")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _beat_interval(value: object) -> float:
    """The recorded heartbeat interval, or the default when missing or absurd."""
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_HEARTBEAT_S
    return seconds if 0.0 < seconds <= 3600.0 else DEFAULT_HEARTBEAT_S


def write_holder(path: Path, info: HolderInfo) -> None:
    atomic_write_text(path, json.dumps(asdict(info), indent=1))
