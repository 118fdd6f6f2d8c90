"""Run markers: one small file per running session, to notice a crash next time.

Each process writes ``<state>/running/<db-key>-<pid>.json`` when it opens a database and
removes it when it closes. A marker whose process is gone means that session crashed
(or was killed), and the next start checks the database before trusting it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from app.locking.process import pid_alive
from app.storage.atomic import atomic_write_text


@dataclass(frozen=True)
class CrashedRun:
    """A run that ended without closing."""

    pid: int
    started: str
    database: str

    def started_local(self, now: datetime | None = None) -> str:
        """When it started, as a person reads it: "today at 14:04", "on 2 Dec 2026 at 15:04"."""
        return spoken_moment(self.started, now)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def spoken_moment(iso: str, now: datetime | None = None) -> str:
    """A stored ISO moment in the viewer's local time, the way a person says it."""
    try:
        moment = datetime.fromisoformat(iso).astimezone()
    except ValueError:
        return "at an unknown time"
    today = (now or datetime.now().astimezone()).astimezone(moment.tzinfo).date()
    clock = moment.strftime("%H:%M")
    if moment.date() == today:
        return f"today at {clock}"
    if moment.date() == today - timedelta(days=1):
        return f"yesterday at {clock}"
    # Not strftime's %b: Qt sets the C locale from the environment, and the sentence
    # around it is English.
    return f"on {moment.day} {_MONTHS[moment.month - 1]} {moment.year} at {clock}"


def _key(db_identity: str) -> str:
    return hashlib.sha256(db_identity.encode("utf-8")).hexdigest()[:16]


class RunMarker:
    """This process's marker for one database."""

    def __init__(self, state_dir: Path, db_identity: str) -> None:
        self.folder = state_dir / "running"
        self.db_identity = db_identity
        self.path = self.folder / f"{_key(db_identity)}-{os.getpid()}.json"

    def crashed_runs(self) -> list[CrashedRun]:
        """Markers of earlier runs on this database whose process is gone (then removed)."""
        found: list[CrashedRun] = []
        if not self.folder.is_dir():
            return found
        for marker in self.folder.glob(f"{_key(self.db_identity)}-*.json"):
            if marker == self.path:
                continue
            try:
                data = json.loads(marker.read_text(encoding="utf-8"))
                pid = int(data["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                pid, data = -1, {}
            if pid > 0 and pid_alive(pid):
                continue
            found.append(CrashedRun(pid, str(data.get("started", "?")), self.db_identity))
            with contextlib.suppress(OSError):
                marker.unlink()
        return found

    def mark(self, started: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            self.path,
            json.dumps({"pid": os.getpid(), "started": started, "database": self.db_identity}),
        )

    def clear(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
