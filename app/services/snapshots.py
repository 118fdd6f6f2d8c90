"""The audited picture of each entity: the fields an audit event records.

Services diff two snapshots to write an event; ``db verify`` replays the events and
compares the result with a fresh snapshot, which exposes rows changed behind
CalTrack's back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.db.models import (
    Attachment,
    CalibrationRecord,
    Instrument,
    InstrumentType,
    OotCase,
    Signature,
    UserAccount,
)
from app.services.dto import to_jsonable
from app.services.passwords import fingerprint

INSTRUMENT_AUDITED = (
    "asset_tag",
    "description",
    "manufacturer",
    "model",
    "serial_number",
    "firmware_version",
    "category",
    "location",
    "owner",
    "status",
    "calibration_interval_days",
    "grace_days",
    "range_text",
    "resolution_text",
    "accuracy_text",
    "last_calibrated",
    "next_due",
    "notes",
    "calibration_requirement",
    "requirement_reason",
    "review_reason",
)

RECORD_AUDITED = (
    "instrument_id",
    "performed_on",
    "performed_by",
    "provider_kind",
    "provider_name",
    "certificate_number",
    "temperature_c",
    "humidity_pct",
    "result",
    "adjustment_made",
    "uncertainty",
    "next_due",
    "notes",
    "standards_justification",
    "supersedes_id",
    "voided_at",
    "voided_by",
    "void_reason",
)

# Fields added to an entity after its first release: events written before them do not
# name them, and replaying such a trail must take the column's default, not "changed".
ADDED_LATER: dict[str, dict[str, Any]] = {
    "calibration": {"standards_justification": "", "supersedes_id": None},
    "instrument": {
        "calibration_requirement": "periodic",
        "requirement_reason": "",
        "review_reason": "",
        # Instrument types (revision 0011): named in an event only once set (see
        # instrument_snapshot), so an untyped instrument's events stay as they were.
        "type_id": None,
        "custom_fields": None,
    },
}

# An instrument type's scalar fields; its points and fields join them in type_snapshot.
TYPE_AUDITED = (
    "name",
    "description",
    "default_interval_days",
    "decision_rule",
    "procedure_id",
    "procedure_revision",
    "range_low",
    "range_high",
    "resolution",
)

# What a signature on a calibration record covers, fixed for good: a later CalTrack
# auditing more fields must still be able to check old signatures.
SIGNED_RECORD_FIELDS = (
    "instrument_id",
    "performed_on",
    "performed_by",
    "provider_kind",
    "provider_name",
    "certificate_number",
    "temperature_c",
    "humidity_pct",
    "result",
    "adjustment_made",
    "uncertainty",
    "next_due",
    "notes",
    "standards_justification",
    "supersedes_id",
)

ACCOUNT_AUDITED = ("login", "display_name", "role", "active", "password_set_at")

SIGNATURE_AUDITED = (
    "record_id",
    "case_id",
    "meaning",
    "signer",
    "printed_name",
    "signed_at",
    "comment",
    "content_hash",
)

CASE_AUDITED = (
    "instrument_id",
    "record_id",
    "status",
    "found_on",
    "last_good_on",
    "summary",
    "impact_assessment",
    "disposition",
    "affected_snapshot",
    "returned_to_service",
    "closed_at",
    "closed_by",
)

ATTACHMENT_AUDITED = (
    "instrument_id",
    "record_id",
    "original_name",
    "stored_name",
    "size_bytes",
    "sha256",
    "voided_at",
    "voided_by",
    "void_reason",
)

Snapshot = dict[str, Any]

SEARCHED_FIELDS = ("asset_tag", "description", "serial_number", "manufacturer", "model")


def search_text_of(values: Mapping[str, Any]) -> str:
    """The lower-cased haystack the instrument list searches in."""
    return " ".join(str(values.get(f) or "") for f in SEARCHED_FIELDS).casefold()


def custom_values(stored: str | None) -> dict[str, str]:
    """An instrument's custom field values from their stored JSON ({} when none)."""
    try:
        values = json.loads(stored or "{}")
    except ValueError:
        return {"(unreadable)": str(stored)}  # shown, and verify's replay disagrees
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


def stored_list(stored: str | None) -> list[Any]:
    """A list kept as JSON text (a type's categories, a field's choices).

    Text that is not a JSON list (changed outside CalTrack) comes back as one marked
    item: shown as it is, and verify's replay then disagrees, instead of a traceback.
    """
    try:
        value = json.loads(stored or "[]")
    except ValueError:
        value = None
    return value if isinstance(value, list) else [f"(unreadable: {stored})"]


def instrument_snapshot(obj: Instrument) -> Snapshot:
    """The audited fields; the type and custom values only once set.

    Sparse on purpose: the create events of untyped instruments (nearly all of a
    register, and every demo instrument) stay byte for byte what they were, and a
    change of the type writes ``type_id: [None, 3]``. Verify compares the full form
    (``instrument_full_snapshot``), so clearing one behind CalTrack's back is found.
    """
    snap = {name: to_jsonable(getattr(obj, name)) for name in INSTRUMENT_AUDITED}
    if obj.type_id is not None:
        snap["type_id"] = obj.type_id
    if custom := custom_values(obj.custom_fields):
        snap["custom_fields"] = custom
    return snap


def instrument_full_snapshot(obj: Instrument) -> Snapshot:
    """``instrument_snapshot`` with the type and custom values always named (None: unset)."""
    snap = instrument_snapshot(obj)
    snap.setdefault("type_id", None)
    snap.setdefault("custom_fields", None)
    return snap


def type_snapshot(obj: InstrumentType) -> Snapshot:
    """An instrument type as audited: its fields, test points and custom fields."""
    snap = {name: to_jsonable(getattr(obj, name)) for name in TYPE_AUDITED}
    snap["standard_categories"] = stored_list(obj.standard_categories)
    snap["points"] = [
        [p.seq, p.nominal, p.tolerance, p.unit] for p in sorted(obj.points, key=lambda p: p.seq)
    ]
    snap["fields"] = [
        [f.seq, f.name, f.kind, bool(f.required), stored_list(f.choices)]
        for f in sorted(obj.fields, key=lambda f: f.seq)
    ]
    return snap


def record_snapshot(obj: CalibrationRecord) -> Snapshot:
    snap = {name: to_jsonable(getattr(obj, name)) for name in RECORD_AUDITED}
    snap["points"] = [
        [p.seq, p.nominal, p.as_found, p.as_left, p.tolerance, p.unit]
        for p in sorted(obj.points, key=lambda p: p.seq)
    ]
    snap["standards"] = sorted(s.standard_id for s in obj.standards)
    return snap


def signed_record_content(obj: CalibrationRecord) -> Snapshot:
    """The part of a record a signature covers (everything but the void stamp)."""
    snap = {name: to_jsonable(getattr(obj, name)) for name in SIGNED_RECORD_FIELDS}
    snap["points"] = [
        [p.seq, p.nominal, p.as_found, p.as_left, p.tolerance, p.unit]
        for p in sorted(obj.points, key=lambda p: p.seq)
    ]
    snap["standards"] = sorted(s.standard_id for s in obj.standards)
    return snap


def account_snapshot(obj: UserAccount) -> Snapshot:
    snap = {name: to_jsonable(getattr(obj, name)) for name in ACCOUNT_AUDITED}
    snap["signing_password"] = fingerprint(obj.signing_hash)
    return snap


def signature_snapshot(obj: Signature) -> Snapshot:
    return {name: to_jsonable(getattr(obj, name)) for name in SIGNATURE_AUDITED}


def case_snapshot(obj: OotCase) -> Snapshot:
    return {name: to_jsonable(getattr(obj, name)) for name in CASE_AUDITED}


def attachment_snapshot(obj: Attachment) -> Snapshot:
    return {name: to_jsonable(getattr(obj, name)) for name in ATTACHMENT_AUDITED}


def created(snapshot: Snapshot) -> dict[str, list[Any]]:
    """The changes of a create event: every field from nothing to its value."""
    return {k: [None, v] for k, v in snapshot.items()}


def diff(before: Snapshot, after: Snapshot) -> dict[str, list[Any]]:
    """Field-level before/after of what changed."""
    return {
        k: [before.get(k), after.get(k)]
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }
