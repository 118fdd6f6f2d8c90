"""The audited picture of each entity: the fields an audit event records.

Services diff two snapshots to write an event; ``db verify`` replays the events and
compares the result with a fresh snapshot, which exposes rows changed behind
CalTrack's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.db.models import Attachment, CalibrationRecord, Instrument
from app.services.dto import to_jsonable

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
    "voided_at",
    "voided_by",
    "void_reason",
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


def instrument_snapshot(obj: Instrument) -> Snapshot:
    return {name: to_jsonable(getattr(obj, name)) for name in INSTRUMENT_AUDITED}


def record_snapshot(obj: CalibrationRecord) -> Snapshot:
    snap = {name: to_jsonable(getattr(obj, name)) for name in RECORD_AUDITED}
    snap["points"] = [
        [p.seq, p.nominal, p.as_found, p.as_left, p.tolerance, p.unit]
        for p in sorted(obj.points, key=lambda p: p.seq)
    ]
    snap["standards"] = sorted(s.standard_id for s in obj.standards)
    return snap


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
