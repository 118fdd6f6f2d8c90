"""Edit requests: a read-only user asks the editor to hand over the lock."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from app.storage.atomic import atomic_write_text


@dataclass(frozen=True)
class EditRequest:
    """Who asks for the editor lock, when (UTC) and why."""

    user: str
    machine: str
    at: str
    message: str
    request_id: str


def request_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock.request.json")


def write_request(db_path: Path, request: EditRequest) -> None:
    atomic_write_text(request_path(db_path), json.dumps(asdict(request), indent=1))


def read_request(db_path: Path) -> EditRequest | None:
    try:
        data = json.loads(request_path(db_path).read_text(encoding="utf-8"))
        return EditRequest(
            user=str(data["user"]),
            machine=str(data["machine"]),
            at=str(data["at"]),
            message=str(data.get("message", "")),
            request_id=str(data["request_id"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
