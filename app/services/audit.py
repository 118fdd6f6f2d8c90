"""The audit trail: hash-chained events written with the change they record.

Each event's hash is sha256 over the previous event's hash and a canonical JSON of
the event. Editing, removing or reordering events breaks the chain; editing a table
behind CalTrack's back leaves the table disagreeing with the replayed trail. Both
are found by ``verify``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.clock import Clock
from app.db.models import (
    Attachment,
    AuditEvent,
    CalibrationRecord,
    Custody,
    Instrument,
    InstrumentSchedule,
    InstrumentType,
    IntermediateCheck,
    MaintenanceEvent,
    OotCase,
    Provider,
    SendoutBatch,
    Signature,
    UserAccount,
)
from app.errors import ValidationError
from app.identity import Identity
from app.plain_text import control_problem, tag_key
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit_payload_fast import fast_payload, fast_payload_agrees
from app.services.dto import AuditView, StatedUncertainty
from app.services.snapshots import (
    ADDED_LATER,
    Snapshot,
    account_snapshot,
    attachment_snapshot,
    batch_snapshot,
    case_full_snapshot,
    check_snapshot,
    custody_snapshot,
    instrument_full_snapshot,
    maintenance_snapshot,
    provider_snapshot,
    record_snapshot,
    schedule_snapshot,
    search_text_of,
    signature_snapshot,
    signed_record_content,
    type_snapshot,
)
from app.services.tur import format_tur

GENESIS_HASH = "0" * 64
HEAD_KEY = "audit_head"
# The event a writer records when it finds the head row gone although events exist.
HEAD_MISSING_ACTION = "head_missing"


def head_text(last: tuple[int, str] | None) -> str:
    """The chain's newest event as printed on reports, backups and labels ("#N 1a2b…"):
    a later check can find it in the trail and see that nothing before it changed."""
    return f"#{last[0]} {last[1][:12]}…" if last else "none (no events yet)"


def utc_naive(moment: datetime) -> datetime:
    """Stored datetimes are naive UTC: every backend keeps them the same way."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def format_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# One encoder for every call: json.dumps with these options builds a new one each time,
# which costs more than encoding a typical event.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``."""
    return _CANONICAL.encode(value)


def content_hash(content: Snapshot) -> str:
    """sha256 of the canonical JSON of what a signature covers."""
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


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
    return _payload(
        event_id,
        format_time(occurred_at),
        user,
        machine,
        entity_type,
        entity_id,
        entity_label,
        action,
        changes,
        reason,
    )


def _payload(
    event_id: int,
    at: str,
    user: str,
    machine: str,
    entity_type: str,
    entity_id: int,
    entity_label: str,
    action: str,
    changes: str,
    reason: str,
) -> bytes:
    """``event_payload`` with the time already formatted (a writer formats it once).

    Written by hand (``fast_payload``) while that agrees with the general way.
    """
    if _FAST_PAYLOAD:
        fast = fast_payload(
            event_id,
            at,
            user,
            machine,
            entity_type,
            entity_id,
            entity_label,
            action,
            changes,
            reason,
        )
        if fast is not None:
            return fast
    return _general_payload(
        event_id, at, user, machine, entity_type, entity_id, entity_label, action, changes, reason
    )


def _general_payload(
    event_id: int,
    at: str,
    user: str,
    machine: str,
    entity_type: str,
    entity_id: int,
    entity_label: str,
    action: str,
    changes: str,
    reason: str,
) -> bytes:
    """The payload as ``canonical_json`` of its dict: the rule the hash covers."""
    return canonical_json(
        {
            "id": event_id,
            "at": at,
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


# Checked once at import: events are written by hand only while that agrees.
_FAST_PAYLOAD = fast_payload_agrees(_general_payload)


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
        self._at = format_time(self._now)
        # Before the head is read: concurrent writers on a server append one at a time.
        uow.audit.lock_chain()
        head = uow.meta.get_for_update(HEAD_KEY)
        last = uow.audit.last()
        self._last_id = last[0] if last else 0
        self._last_hash = last[1] if last else GENESIS_HASH
        self._start = head if head is not None else self._last_hash
        self._pending: list[dict[str, Any]] = []
        if head is None and last is None:
            uow.meta.set(HEAD_KEY, self._last_hash)
        elif head is None:
            # The head row was deleted while events exist: the newest events may have gone
            # with it. Writing a new head would erase the evidence, so the trail records it
            # (``verify`` keeps reporting this event).
            self.record(
                "database",
                0,
                "audit trail",
                HEAD_MISSING_ACTION,
                {"events": [None, self._last_id], "last_hash": [None, self._last_hash]},
                "the recorded audit chain head was missing: events may have been removed",
            )
            self.flush()  # recorded even if this transaction writes nothing else

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
        self.record_json(entity_type, entity_id, label, action, canonical_json(changes), reason)

    def record_json(
        self,
        entity_type: str,
        entity_id: int,
        label: str,
        action: str,
        changes_json: str,
        reason: str = "",
    ) -> None:
        """``record`` with the changes already written as ``canonical_json`` text (bulk
        writers that can produce those bytes faster than the json module)."""
        # Every reason reaches the trail here: one place refuses what would split a line.
        for name, text in (("reason", reason), ("label", label)):
            problem = control_problem(text)
            if problem:
                raise ValidationError({name: problem})
        event_id = self._last_id + 1
        user, machine = self._identity.user, self._identity.machine
        payload = _payload(
            event_id,
            self._at,
            user,
            machine,
            entity_type,
            entity_id,
            label,
            action,
            changes_json,
            reason,
        )
        digest = chain_hash(self._last_hash, payload)
        self._pending.append(
            {
                "id": event_id,
                "occurred_at": self._now,
                "user": user,
                "machine": machine,
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
        self._uow.note_audited(self._pending, self._last_hash)
        self._pending = []
        self._uow.meta.set(HEAD_KEY, self._last_hash)
        # A transaction that rolls back leaves a move that never becomes the head: harmless.
        self._uow.own_heads[self._start] = self._last_hash


def _changes_of(event: AuditEvent) -> dict[str, list[Any]]:
    """The recorded changes; an event damaged outside CalTrack still shows what it holds."""
    try:
        changes = json.loads(event.changes)
    except ValueError:
        return {"(unreadable changes)": [None, event.changes]}
    return changes if isinstance(changes, dict) else {"(unreadable changes)": [None, changes]}


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
        changes=_changes_of(event),
        reason=event.reason,
        hash=event.hash,
    )


# -- reading events as a person does --------------------------------------------------

# Entity types as the trail stores them → what a person calls them.
ENTITY_NAMES: dict[str, str] = {
    "instrument": "Instrument",
    "instrument_type": "Instrument type",
    "calibration": "Calibration",
    "attachment": "Attachment",
    "oot_case": "Out-of-tolerance case",
    "provider": "Provider",
    "sendout_batch": "Send-out batch",
    "custody": "Custody",
    "maintenance_event": "Maintenance event",
    "signature": "Signature",
    "signing": "Signing attempt",
    "user_account": "User account",
    "settings": "Shared settings",
    "database": "Database",
    "lock": "Editor lock",
    "schedule": "Schedule",
    "check": "Intermediate check",
}
CREATING_ACTIONS = frozenset({"create", "attach", "sign", "open", "check_out"})
# Fields holding a code ("in_service", "no_impact"): read with spaces for underscores.
CODE_FIELDS = frozenset(
    {
        "status",
        "calibration_requirement",
        "disposition",
        "provider_kind",
        "role",
        "result",
        "meaning",
        "approval",
    }
)
# A calibration's readings: [[seq, nominal, found, left, tol, unit]], and since issue 14
# a point with U or a written tolerance has 6 more: [..., U, k, tolerance as written,
# lower limit, upper limit, TUR] (app.services.snapshots.point_row).
READINGS_FIELD = "points"
READING_LENGTHS = (6, 12)


def entity_name(entity_type: str) -> str:
    """``oot_case`` → "Out-of-tolerance case" (an unknown type in plain words)."""
    known = ENTITY_NAMES.get(entity_type)
    if known is not None:
        return known
    words = entity_type.replace("_", " ")
    return words[:1].upper() + words[1:]


def field_label(name: str) -> str:
    """A stored field name as a reader says it: range_text → Range."""
    words = name.removesuffix("_text").replace("_", " ")
    return words[:1].upper() + words[1:]


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return "—" if value is None or value == "" else str(value)


# An uncertainty stated on a standard: [U, k, unit] in the trail (snapshots), read as
# people write it ("0.1 °C (k = 2)").
STATED_FIELD = "stated_uncertainty"


def _stated_text(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], int | float):
        k = value[1] if isinstance(value[1], int | float) else None
        return StatedUncertainty(float(value[0]), k, str(value[2] or "")).text
    return value  # None, or something written outside CalTrack: shown as it is


def _code_text(value: Any) -> Any:
    return value.replace("_", " ") if isinstance(value, str) else value


def reading_text(point: Any) -> str:
    """One recorded reading: "nominal 100 °C, as found 100.08, as left 100.01, ± 0.05"."""
    if not isinstance(point, list) or len(point) not in READING_LENGTHS:
        return canonical_json(point)
    _seq, nominal, found, left, tolerance, unit = point[:6]
    unit = f" {unit}" if unit else ""
    text = f"nominal {_number(nominal)}{unit}, as found {_number(found)}, as left {_number(left)}, "
    if len(point) == 6:
        return text + f"± {_number(tolerance)}"
    big_u, k, written, lower, upper, ratio = point[6:]
    text += written or f"± {_number(tolerance)}"
    if lower is not None or upper is not None:
        text += f" ({_number(lower)} … {_number(upper)})"
    if big_u is not None:
        text += f", U {_number(big_u)}" + (f" (k={_number(k)})" if k is not None else "")
    if isinstance(ratio, float | int):
        # Cut down as everywhere (tur.format_tur): 3.96 is never shown as 4.0:1.
        text += f", TUR {format_tur(Decimal(repr(float(ratio))))}"
    return text


def reading_changes(before: Any, after: Any) -> list[tuple[str, str | None, str | None]] | None:
    """("Reading 2", before, after) for each reading added, changed or removed; None when
    the values are not readings as CalTrack writes them."""

    def by_seq(value: Any) -> dict[Any, str] | None:
        if value is None:
            return {}
        if not isinstance(value, list) or not all(
            isinstance(p, list) and len(p) in READING_LENGTHS for p in value
        ):
            return None
        return {p[0]: reading_text(p) for p in value}

    old, new = by_seq(before), by_seq(after)
    if old is None or new is None:
        return None
    rows = []
    for seq in sorted(old.keys() | new.keys(), key=str):
        if old.get(seq) != new.get(seq):
            rows.append((f"Reading {seq}", old.get(seq), new.get(seq)))
    return rows


def readable_changes(event: AuditView) -> list[tuple[str, Any, Any]]:
    """(field, before, after) as a person reads them: fields named in words, readings one
    per line; a new thing lists only the fields it set."""
    rows: list[tuple[str, Any, Any]] = []
    for name in sorted(event.changes):
        pair = event.changes[name]
        before, after = (
            (pair[0], pair[1])
            if isinstance(pair, list) and len(pair) == 2
            else (
                None,
                pair,
            )
        )
        if before is None and after in (None, "", []) and event.action in CREATING_ACTIONS:
            continue  # an empty field of a new thing tells nothing
        readings = reading_changes(before, after) if name == READINGS_FIELD else None
        if readings is not None:
            rows.extend(readings)
        elif name in CODE_FIELDS:
            rows.append((field_label(name), _code_text(before), _code_text(after)))
        elif name == STATED_FIELD:
            rows.append((field_label(name), _stated_text(before), _stated_text(after)))
        else:
            rows.append((field_label(name), before, after))
    return rows


@dataclass(frozen=True)
class ChainReport:
    """What verifying the chain and replaying it against the tables found."""

    events: int
    problems: list[str]
    first_bad_event: int | None


@dataclass(frozen=True)
class EntityState:
    """An entity as stored now, in the terms its audit trail speaks."""

    id: int
    label: str
    snapshot: Snapshot
    stamp: tuple[str, datetime]  # who and when, to match against its audit events
    stamp_from_first: bool  # added_by/at match the first event; updated_by/at the last
    derived_problems: tuple[str, ...] = ()


def _instrument_state(o: Instrument) -> EntityState:
    snap = instrument_full_snapshot(o)
    derived = []
    if o.asset_tag_key != tag_key(o.asset_tag):
        derived.append("asset_tag_key")
    if o.search_text != search_text_of(snap):
        derived.append("search_text")
    return EntityState(o.id, o.asset_tag, snap, (o.updated_by, o.updated_at), False, tuple(derived))


def _type_state(o: InstrumentType) -> EntityState:
    derived = ("name_key",) if o.name_key != tag_key(o.name) else ()
    return EntityState(o.id, o.name, type_snapshot(o), (o.updated_by, o.updated_at), False, derived)


def _record_state(o: CalibrationRecord) -> EntityState:
    return EntityState(o.id, f"#{o.id}", record_snapshot(o), (o.updated_by, o.updated_at), False)


def _attachment_state(o: Attachment) -> EntityState:
    return EntityState(
        o.id, o.original_name, attachment_snapshot(o), (o.added_by, o.added_at), True
    )


def _account_state(o: UserAccount) -> EntityState:
    derived = ("login_key",) if o.login_key != o.login.casefold() else ()
    return EntityState(
        o.id, o.login, account_snapshot(o), (o.updated_by, o.updated_at), False, derived
    )


def _signature_state(o: Signature) -> EntityState:
    return EntityState(o.id, f"#{o.id}", signature_snapshot(o), (o.signer, o.signed_at), True)


def _named(entity_type: str, state: EntityState) -> str:
    """ "instrument TH-1 (#3)", but "signature #3" where the label is only the id."""
    if state.label == f"#{state.id}":
        return f"{entity_type} {state.label}"
    return f"{entity_type} {state.label} (#{state.id})"


def _provider_state(o: Provider) -> EntityState:
    derived = ("name_key",) if o.name_key != tag_key(o.name) else ()
    return EntityState(
        o.id, o.name, provider_snapshot(o), (o.updated_by, o.updated_at), False, derived
    )


def _batch_state(o: SendoutBatch) -> EntityState:
    return EntityState(o.id, f"SO-{o.id}", batch_snapshot(o), (o.updated_by, o.updated_at), False)


def _maintenance_state(o: MaintenanceEvent) -> EntityState:
    snap = maintenance_snapshot(o)
    return EntityState(o.id, f"M-{o.id}", snap, (o.updated_by, o.updated_at), False)


def _case_state(o: OotCase) -> EntityState:
    snap = case_full_snapshot(o)
    return EntityState(o.id, f"OOT-{o.id}", snap, (o.updated_by, o.updated_at), False)


def _custody_state(o: Custody) -> EntityState:
    # Who has the instrument follows from the audited fields: open while neither
    # checked in nor void (an edit of the column alone would move a holder unseen).
    still_out = o.in_at is None and o.voided_at is None
    derived = (
        ()
        if o.open_instrument_id == (o.instrument_id if still_out else None)
        else ("open_instrument_id",)
    )
    return EntityState(
        o.id, f"#{o.id}", custody_snapshot(o), (o.updated_by, o.updated_at), False, derived
    )


def _schedule_state(o: InstrumentSchedule) -> EntityState:
    snap = schedule_snapshot(o)
    return EntityState(o.id, f"#{o.id}", snap, (o.updated_by, o.updated_at), False)


def _check_state(o: IntermediateCheck) -> EntityState:
    return EntityState(o.id, f"#{o.id}", check_snapshot(o), (o.updated_by, o.updated_at), False)


ENTITY_STATES: dict[str, Callable[[UnitOfWork], Iterator[EntityState]]] = {
    "instrument": lambda uow: (_instrument_state(o) for o in uow.instruments.iter_all()),
    "calibration": lambda uow: (_record_state(o) for o in uow.calibrations.iter_all()),
    "attachment": lambda uow: (_attachment_state(o) for o in uow.attachments.iter_all()),
    "user_account": lambda uow: (_account_state(o) for o in uow.accounts.iter_all()),
    "signature": lambda uow: (_signature_state(o) for o in uow.signatures.iter_all()),
    "oot_case": lambda uow: (_case_state(o) for o in uow.oot_cases.iter_all()),
    "instrument_type": lambda uow: (_type_state(o) for o in uow.types.iter_all()),
    "provider": lambda uow: (_provider_state(o) for o in uow.providers.iter_all()),
    "sendout_batch": lambda uow: (_batch_state(o) for o in uow.sendouts.iter_all()),
    "custody": lambda uow: (_custody_state(o) for o in uow.custody.iter_all()),
    "maintenance_event": lambda uow: (
        _maintenance_state(o) for o in uow.maintenance_events.iter_all()
    ),
    "schedule": lambda uow: (_schedule_state(o) for o in uow.schedules.iter_all()),
    "check": lambda uow: (_check_state(o) for o in uow.checks.iter_all()),
}


@dataclass
class _Replayed:
    """An entity's state rebuilt from its audit events."""

    state: Snapshot
    first: tuple[str, datetime]
    last: tuple[str, datetime]


def _replay(events: Iterable[AuditEvent]) -> Iterator[tuple[int, _Replayed]]:
    """Fold events (ordered by entity id, then id) into one state per entity."""
    current: tuple[int, _Replayed] | None = None
    for event in events:
        try:
            changes = json.loads(event.changes)
        except ValueError:
            changes = {}
        stamp = (event.user, event.occurred_at)
        if current is None or current[0] != event.entity_id:
            if current is not None:
                yield current
            current = (event.entity_id, _Replayed({}, stamp, stamp))
        replayed = current[1]
        replayed.last = stamp
        for name, pair in changes.items():
            replayed.state[name] = pair[1]
    if current is not None:
        yield current


def instrument_trail(
    uow: UnitOfWork, instrument_id: int, *, record_ids: Sequence[int] | None = None
) -> dict[str, list[int]]:
    """The entities whose events are "about" one instrument, by entity type.

    The one rule for an instrument's audit trail, used by its audit tab, its printed
    history and the audit window filtered by its tag: the instrument itself, its
    calibrations and their signatures, its attachments (its own and its records'), its
    out-of-tolerance cases with the signatures that closed them, the send-out batches it
    went out in (a batch's events are about each of its instruments), and its check-outs.
    ``record_ids`` saves reading the calibrations again when the caller has them.
    """
    if record_ids is None:
        record_ids = [r.id for r in uow.calibrations.history(instrument_id)]
    case_ids = [c.id for c in uow.oot_cases.find(instrument_id=instrument_id)]
    signatures = [s.id for sigs in uow.signatures.for_records(record_ids).values() for s in sigs]
    signatures += [s.id for sigs in uow.signatures.for_cases(case_ids).values() for s in sigs]
    return {
        "instrument": [instrument_id],
        "calibration": list(record_ids),
        "signature": sorted(set(signatures)),
        "attachment": [a.id for a in uow.attachments.for_instrument(instrument_id)],
        "oot_case": case_ids,
        # The send-out batches it went out in (issue 15): sent, received, its certificate.
        "sendout_batch": uow.sendouts.batch_ids_of(instrument_id),
        "custody": [c.id for c in uow.custody.history(instrument_id)],
        "maintenance_event": [e.id for e in uow.maintenance_events.history(instrument_id)],
        "schedule": [s.id for s in uow.schedules.for_instrument(instrument_id)],
        "check": [c.id for c in uow.checks.history(instrument_id)],
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
        first_bad, count = self._verify_chain(uow, problems, max_problems)
        for entity_type, states in ENTITY_STATES.items():
            if len(problems) >= max_problems:
                break
            self._verify_entities(
                entity_type,
                states(uow),
                _replay(uow.audit.iter_entity_events(entity_type)),
                problems,
                max_problems,
            )
        if len(problems) < max_problems:
            self._verify_signatures(uow, problems)
        return ChainReport(
            events=count, problems=problems[:max_problems], first_bad_event=first_bad
        )

    @staticmethod
    def _verify_signatures(uow: UnitOfWork, problems: list[str]) -> None:
        """Every signature still covers exactly what was signed; successors exist."""
        batch: list[Signature] = []

        def check(sigs: list[Signature]) -> None:
            ids = sorted({s.record_id for s in sigs if s.record_id is not None})
            records = uow.calibrations.by_ids(ids)
            for sig in sigs:
                if sig.record_id is None:
                    continue
                record = records.get(sig.record_id)
                if record is None:
                    problems.append(
                        f"signature #{sig.id} signs calibration #{sig.record_id}, which is missing"
                    )
                elif content_hash(signed_record_content(record)) != sig.content_hash:
                    problems.append(
                        f"calibration #{record.id} no longer matches what {sig.printed_name} "
                        f"signed as {sig.meaning} on {sig.signed_at:%Y-%m-%d}: the signed "
                        "content was changed outside CalTrack"
                    )

        for sig in uow.signatures.iter_all():
            batch.append(sig)
            if len(batch) >= 500:
                check(batch)
                batch = []
        check(batch)
        for record_id, missing in uow.calibrations.dangling_supersedes():
            problems.append(f"calibration #{record_id} supersedes #{missing}, which does not exist")

    @staticmethod
    def _verify_chain(
        uow: UnitOfWork, problems: list[str], max_problems: int
    ) -> tuple[int | None, int]:
        """Recompute every hash in order; (first bad event id, events read)."""
        first_bad: int | None = None
        expected_prev = GENESIS_HASH
        count = 0
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
            if event.entity_type == "database" and event.action == HEAD_MISSING_ACTION:
                problems.append(
                    f"audit event #{event.id}: the recorded audit chain head was missing when "
                    f"{event.user} wrote on {event.occurred_at:%Y-%m-%d %H:%M} UTC, so the "
                    "newest events before then may have been deleted outside CalTrack"
                )
            if len(problems) >= max_problems:
                return first_bad, count
        head = uow.meta.get(HEAD_KEY)
        if head is None and count:
            problems.append(
                f"the recorded audit chain head is missing although {count:,} audit events "
                "exist: it was deleted outside CalTrack, and the newest events may have gone "
                "with it"
            )
        if head is not None and head != expected_prev:
            problems.append(
                "the newest audit events are missing: the trail ends before the recorded "
                "chain head (events were deleted outside CalTrack)"
            )
        return first_bad, count

    @staticmethod
    def _verify_entities(
        entity_type: str,
        states: Iterator[EntityState],
        replayed: Iterator[tuple[int, _Replayed]],
        problems: list[str],
        max_problems: int,
    ) -> None:
        """Merge-join the stored entities with their replayed trails (both by id)."""
        state = next(states, None)
        trail = next(replayed, None)
        while (state is not None or trail is not None) and len(problems) < max_problems:
            if trail is None or (state is not None and state.id < trail[0]):
                if state is not None:  # always: the loop runs while either is left
                    problems.append(
                        f"{_named(entity_type, state)} has no audit trail: it was "
                        "added outside CalTrack, or its audit events were deleted"
                    )
                state = next(states, None)
                continue
            if state is None or trail[0] < state.id:
                problems.append(
                    f"{entity_type} #{trail[0]} is in the audit trail but not in the "
                    "database: deleted outside CalTrack"
                )
                trail = next(replayed, None)
                continue
            audit = trail[1]
            later = ADDED_LATER.get(entity_type, {})
            differing = sorted(
                k for k, v in state.snapshot.items() if audit.state.get(k, later.get(k)) != v
            )
            differing += state.derived_problems
            expected_stamp = audit.first if state.stamp_from_first else audit.last
            if state.stamp != expected_stamp:
                differing.append(
                    "added_by/added_at" if state.stamp_from_first else "updated_by/updated_at"
                )
            if differing:
                problems.append(
                    f"{_named(entity_type, state)} differs from its audit trail "
                    f"in {', '.join(differing)}: changed outside CalTrack"
                )
            state = next(states, None)
            trail = next(replayed, None)

    def search(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        user: str | None = None,
        entity_type: str | None = None,
        entity: str | None = None,
        limit: int | None = 1000,
        newest_first: bool = False,
    ) -> list[AuditView]:
        """Events in ``[since, until)`` (UTC), oldest first, matching every filter given.

        ``newest_first``: the newest come first, so that a ``limit`` keeps the latest.

        ``entity`` is an asset tag or an entity label. An asset tag of a registered
        instrument finds what its audit tab shows (``instrument_trail``): the instrument,
        its calibrations, their signatures, its attachments and its out-of-tolerance
        cases. Anything else matches labels: exactly, or as their first word ("OOT-3",
        "alice", a tag no longer registered finds "TH-001" and "TH-001 #12").
        """
        start = utc_naive(since) if since else None
        end = utc_naive(until) if until else None
        wanted = (entity or "").strip()

        def read(uow: UnitOfWork) -> list[AuditView]:
            instrument = uow.instruments.get_by_tag(wanted) if wanted else None
            events = uow.audit.query(
                entity_type=entity_type or None,
                user=user or None,
                since=start,
                until=end,
                limit=limit,
                entity_label=wanted if wanted and instrument is None else None,
                entities=instrument_trail(uow, instrument.id) if instrument else None,
                oldest_first=not newest_first,
            )
            return [decode_event(e) for e in events]

        return self._uow.read(read)

    def event(self, event_id: int) -> AuditView | None:
        """One event by its number, or None."""

        def read(uow: UnitOfWork) -> AuditView | None:
            event = uow.audit.get(event_id)
            return decode_event(event) if event is not None else None

        return self._uow.read(read)
