"""The audit trail: hash-chained events written with the change they record.

Each event's hash is sha256 over the previous event's hash and a canonical JSON of
the event. Editing, removing or reordering events breaks the chain; editing a table
behind CalTrack's back leaves the table disagreeing with the replayed trail. Both
are found by ``verify``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.clock import Clock
from app.db.models import AuditEvent
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.dto import AuditView
from app.services.snapshots import (
    Snapshot,
    attachment_snapshot,
    instrument_snapshot,
    record_snapshot,
)

GENESIS_HASH = "0" * 64
HEAD_KEY = "audit_head"


def utc_naive(moment: datetime) -> datetime:
    """Stored datetimes are naive UTC: every backend keeps them the same way."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_payload(
    *,
    event_id: int,
    occurred_at: datetime,
    user: str,
    machine: str,
    entity_type: str,
    entity_id: int,
    entity_label: str,
    action: str,
    changes: str,
    reason: str,
) -> bytes:
    return canonical_json(
        {
            "id": event_id,
            "at": format_time(occurred_at),
            "user": user,
            "machine": machine,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "label": entity_label,
            "action": action,
            "changes": changes,
            "reason": reason,
        }
    ).encode("utf-8")


def chain_hash(prev_hash: str, payload: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + payload).hexdigest()


def event_hash(event: AuditEvent) -> str:
    payload = event_payload(
        event_id=event.id,
        occurred_at=event.occurred_at,
        user=event.user,
        machine=event.machine,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        entity_label=event.entity_label,
        action=event.action,
        changes=event.changes,
        reason=event.reason,
    )
    return chain_hash(event.prev_hash, payload)


class AuditChainWriter:
    """Appends events to the chain; build one per write transaction."""

    def __init__(self, uow: UnitOfWork, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._now = utc_naive(clock.now_utc())
        head = uow.meta.get_for_update(HEAD_KEY)
        last = uow.audit.last()
        self._last_id = last[0] if last else 0
        self._last_hash = last[1] if last else GENESIS_HASH
        if head is None:
            uow.meta.set(HEAD_KEY, self._last_hash)
        self._pending: list[dict[str, Any]] = []

    @property
    def now(self) -> datetime:
        """The transaction's single timestamp (naive UTC)."""
        return self._now

    def record(
        self,
        entity_type: str,
        entity_id: int,
        label: str,
        action: str,
        changes: dict[str, list[Any]],
        reason: str = "",
    ) -> None:
        changes_json = canonical_json(changes)
        event_id = self._last_id + 1
        payload = event_payload(
            event_id=event_id,
            occurred_at=self._now,
            user=self._identity.user,
            machine=self._identity.machine,
            entity_type=entity_type,
            entity_id=entity_id,
            entity_label=label,
            action=action,
            changes=changes_json,
            reason=reason,
        )
        digest = chain_hash(self._last_hash, payload)
        self._pending.append(
            {
                "id": event_id,
                "occurred_at": self._now,
                "user": self._identity.user,
                "machine": self._identity.machine,
                "entity_type": entity_type,
                "entity_id": entity_id,
                "entity_label": label,
                "action": action,
                "changes": changes_json,
                "reason": reason,
                "prev_hash": self._last_hash,
                "hash": digest,
            }
        )
        self._last_id, self._last_hash = event_id, digest
        if len(self._pending) >= 5000:
            self.flush()

    def flush(self) -> None:
        """Write what was recorded; the head moves in the same transaction."""
        if not self._pending:
            return
        self._uow.audit.bulk_insert(self._pending)
        self._pending = []
        self._uow.meta.set(HEAD_KEY, self._last_hash)


def decode_event(event: AuditEvent) -> AuditView:
    return AuditView(
        id=event.id,
        occurred_at=event.occurred_at,
        user=event.user,
        machine=event.machine,
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        entity_label=event.entity_label,
        action=event.action,
        changes=json.loads(event.changes),
        reason=event.reason,
        hash=event.hash,
    )


@dataclass(frozen=True)
class ChainReport:
    """What verifying the chain and replaying it against the tables found."""

    events: int
    problems: list[str]
    first_bad_event: int | None


SNAPSHOTTERS: dict[str, Callable[[UnitOfWork], Iterable[tuple[int, Snapshot]]]] = {
    "instrument": lambda uow: ((o.id, instrument_snapshot(o)) for o in uow.instruments.iter_all()),
    "calibration": lambda uow: ((o.id, record_snapshot(o)) for o in uow.calibrations.iter_all()),
    "attachment": lambda uow: ((o.id, attachment_snapshot(o)) for o in uow.attachments.iter_all()),
}


class AuditService:
    """Reads the audit trail and verifies it."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    def for_entity(self, entity_type: str, entity_id: int) -> list[AuditView]:
        return self._uow.read(
            lambda uow: [decode_event(e) for e in uow.audit.for_entity(entity_type, entity_id)]
        )

    def recent(
        self, *, entity_type: str | None = None, user: str | None = None, limit: int = 500
    ) -> list[AuditView]:
        return self._uow.read(
            lambda uow: [
                decode_event(e)
                for e in uow.audit.query(entity_type=entity_type, user=user, limit=limit)
            ]
        )

    def verify(self, *, max_problems: int = 50) -> ChainReport:
        return self._uow.read(lambda uow: self._verify(uow, max_problems))

    def _verify(self, uow: UnitOfWork, max_problems: int) -> ChainReport:
        problems: list[str] = []
        first_bad: int | None = None
        expected_prev = GENESIS_HASH
        count = 0
        replay: dict[str, dict[int, Snapshot]] = {k: {} for k in SNAPSHOTTERS}
        for event in uow.audit.iter_all():
            count += 1
            if event.prev_hash != expected_prev:
                first_bad = first_bad or event.id
                problems.append(
                    f"audit event #{event.id} does not follow the event before it: "
                    "events were removed, inserted or reordered outside CalTrack"
                )
            elif event_hash(event) != event.hash:
                first_bad = first_bad or event.id
                problems.append(
                    f"audit event #{event.id} ({event.action} {event.entity_type} "
                    f"{event.entity_label}) was changed outside CalTrack: its hash does not match"
                )
            expected_prev = event.hash
            state = replay.setdefault(event.entity_type, {}).setdefault(event.entity_id, {})
            try:
                changes = json.loads(event.changes)
            except ValueError:
                problems.append(f"audit event #{event.id} has unreadable changes")
                continue
            for name, pair in changes.items():
                state[name] = pair[1]
            if len(problems) >= max_problems:
                break
        head = uow.meta.get(HEAD_KEY)
        if head is not None and head != expected_prev and len(problems) < max_problems:
            problems.append(
                "the newest audit events are missing: the trail ends before the recorded "
                "chain head (events were deleted outside CalTrack)"
            )
        for entity_type, snapshots in SNAPSHOTTERS.items():
            expected = replay.get(entity_type, {})
            seen: set[int] = set()
            for entity_id, snap in snapshots(uow):
                if len(problems) >= max_problems:
                    break
                seen.add(entity_id)
                audited = expected.get(entity_id)
                if audited is None:
                    problems.append(
                        f"{entity_type} #{entity_id} has no audit trail: "
                        "it was added outside CalTrack"
                    )
                    continue
                differing = sorted(k for k, v in snap.items() if audited.get(k) != v)
                if differing:
                    problems.append(
                        f"{entity_type} #{entity_id} differs from its audit trail in "
                        f"{', '.join(differing)}: changed outside CalTrack"
                    )
            missing = sorted(set(expected) - seen)
            for entity_id in missing[: max(0, max_problems - len(problems))]:
                problems.append(
                    f"{entity_type} #{entity_id} is in the audit trail but not in the "
                    "database: deleted outside CalTrack"
                )
        return ChainReport(
            events=count, problems=problems[:max_problems], first_bad_event=first_bad
        )
