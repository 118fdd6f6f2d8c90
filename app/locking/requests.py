"""Edit requests: a read-only user asks the editor to hand over the lock.

Each asking session writes its own file beside the database,
``<db>.lock.request.<session>.json``, so two people asking at once never overwrite each
other, and only its author ever rewrites it (a heartbeat while it waits). The editor's
answer goes to a second file, ``<db>.lock.answer.<session>.json``, that only the editor
writes: the two writers never race on one file.

A request lives only as long as its author waits for it. The author removes both files
when the answer arrives, when she withdraws, when she becomes the editor by any way, and
when her session closes. A session killed outright cannot do that, so every session
sweeps requests that are dead: on the author's machine, its process is gone; elsewhere,
its heartbeat has not moved for a while on the sweeper's own clock (PC clocks disagree,
counters do not), or its last beat is hours old.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.locking.process import pid_alive
from app.storage.atomic import atomic_write_text

HANDED_OVER = "handed-over"
DECLINED = "declined"
# A request whose last beat is older than this by the reader's wall clock is dead even
# at first sight (a session killed on another PC, found by a later session). Generous,
# so that PC clocks a few minutes apart never kill a live request.
MAX_AGE = timedelta(hours=1)


@dataclass(frozen=True)
class EditRequest:
    """Who asks for the editor lock, when (UTC, refreshed by each beat) and why."""

    user: str
    machine: str
    at: str
    message: str
    request_id: str
    session_id: str = ""
    pid: int = 0
    beat: int = 0
    beat_s: float = 0.0  # how often its author promises to beat (0: the reader's default)

    def beaten(self, at: str) -> EditRequest:
        return replace(self, beat=self.beat + 1, at=at)


@dataclass(frozen=True)
class RequestAnswer:
    """The editor's answer to one request."""

    request_id: str
    answer: str  # HANDED_OVER or DECLINED
    by: str  # "alice on LAB-PC-3"
    by_user: str
    at: str


def _prefix(db_path: Path, kind: str) -> str:
    return f"{db_path.name}.lock.{kind}."


def request_path(db_path: Path, session_id: str) -> Path:
    return db_path.with_name(f"{_prefix(db_path, 'request')}{session_id}.json")


def answer_path(db_path: Path, session_id: str) -> Path:
    return db_path.with_name(f"{_prefix(db_path, 'answer')}{session_id}.json")


def _session_of(path: Path, db_path: Path, kind: str) -> str:
    return path.name[len(_prefix(db_path, kind)) : -len(".json")]


def request_files(db_path: Path) -> list[Path]:
    """Every request file beside the database (oldest name order is not meaningful)."""
    return sorted(db_path.parent.glob(f"{_prefix(db_path, 'request')}*.json"))


def answer_files(db_path: Path) -> list[Path]:
    return sorted(db_path.parent.glob(f"{_prefix(db_path, 'answer')}*.json"))


def write_request(db_path: Path, request: EditRequest) -> None:
    atomic_write_text(request_path(db_path, request.session_id), json.dumps(asdict(request)))


def _read_json(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_request_file(path: Path) -> EditRequest | None:
    data = _read_json(path)
    if data is None:
        return None
    try:
        return EditRequest(
            user=str(data["user"]),
            machine=str(data["machine"]),
            at=str(data["at"]),
            message=str(data.get("message", "")),
            request_id=str(data["request_id"]),
            session_id=str(data.get("session_id", "")),
            pid=int(str(data.get("pid", 0))),
            beat=int(str(data.get("beat", 0))),
            beat_s=float(str(data.get("beat_s", 0.0))),
        )
    except (KeyError, TypeError, ValueError):
        return None


def read_request(db_path: Path, session_id: str) -> EditRequest | None:
    return read_request_file(request_path(db_path, session_id))


def write_answer(db_path: Path, session_id: str, answer: RequestAnswer) -> None:
    atomic_write_text(answer_path(db_path, session_id), json.dumps(asdict(answer)))


def read_answer(db_path: Path, session_id: str) -> RequestAnswer | None:
    data = _read_json(answer_path(db_path, session_id))
    if data is None:
        return None
    try:
        return RequestAnswer(
            request_id=str(data["request_id"]),
            answer=str(data["answer"]),
            by=str(data["by"]),
            by_user=str(data.get("by_user", "")),
            at=str(data.get("at", "")),
        )
    except KeyError:
        return None


def remove_request(db_path: Path, session_id: str) -> None:
    """Remove a session's request and its answer (answer first: an answer never outlives
    its request unless its author died in between, and the sweep removes such strays)."""
    for path in (answer_path(db_path, session_id), request_path(db_path, session_id)):
        with contextlib.suppress(OSError):
            path.unlink()


def _age(request: EditRequest) -> timedelta | None:
    try:
        at = datetime.fromisoformat(request.at)
    except ValueError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return datetime.now(UTC) - at


class RequestWatch:
    """Reads the requests beside one database and removes dead ones.

    Liveness follows the editor lock's rule: a request's heartbeat counter is watched on
    this process's monotonic clock; one that has not moved for ``stale_after_s`` is dead.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        machine: str,
        stale_after_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db_path = db_path
        self.machine = machine
        self.stale_after_s = stale_after_s
        self._monotonic = monotonic
        # request id -> (beat, when this process first saw that beat)
        self._seen: dict[str, tuple[int, float]] = {}

    def dead(self, request: EditRequest) -> bool:
        if (
            request.machine == self.machine
            and 0 < request.pid != os.getpid()
            and not pid_alive(request.pid)
        ):
            return True  # its author's process is gone from this very machine
        age = _age(request)
        if age is not None and age > MAX_AGE:
            return True
        now = self._monotonic()
        beat, since = self._seen.get(request.request_id, (-1, now))
        if beat != request.beat:
            beat, since = request.beat, now
        self._seen[request.request_id] = (beat, since)
        # Three missed beats of the author's own rhythm (sessions may be set differently).
        limit = max(self.stale_after_s, 3 * request.beat_s)
        return now - since >= limit

    def live_requests(self, own_session: str = "") -> list[EditRequest]:
        """Other sessions' requests whose authors still wait; dead ones and stray answers
        removed. The session's own request is never returned: nobody is asked by herself."""
        live: list[EditRequest] = []
        sessions: set[str] = set()
        for path in request_files(self.db_path):
            request = read_request_file(path)
            if request is None:
                continue  # being replaced, or not ours to judge: leave it
            session = request.session_id or _session_of(path, self.db_path, "request")
            sessions.add(session)
            if session == own_session:
                continue
            if self.dead(request):
                remove_request(self.db_path, session)
                self._seen.pop(request.request_id, None)
                continue
            live.append(request)
        for path in answer_files(self.db_path):
            if _session_of(path, self.db_path, "answer") not in sessions:
                with contextlib.suppress(OSError):
                    path.unlink()  # its author died after the answer came
        return sorted(live, key=lambda r: r.at)
