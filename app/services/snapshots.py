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
    Custody,
    Instrument,
    InstrumentSchedule,
    InstrumentType,
    IntermediateCheck,
    MaintenanceEvent,
    MeasurementPoint,
    OotCase,
    Provider,
    SendoutBatch,
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
    "decision_rule",
    "tur_justification",
    "voided_at",
    "voided_by",
    "void_reason",
)

# The code of simple acceptance (app.services.decision_rules): what a record without a
# stored rule (NULL, before revision 0010) was judged by, and how its snapshot says so.
SIMPLE_RULE = "simple"

# A type's default check and maintenance schedules (revision 0020), as stored and audited.
TYPE_SCHEDULE_DEFAULTS: dict[str, Any] = {
    f"{kind}_{name}": value
    for kind in ("check", "maintenance")
    for name, value in (
        ("every", ""),
        ("soon_days", None),
        ("grace_days", 0),
        ("before_use", False),
    )
}
TYPE_SCHEDULE_FIELDS = tuple(TYPE_SCHEDULE_DEFAULTS)

# Fields added to an entity after its first release: events written before them do not
# name them, and replaying such a trail must take the column's default, not "changed".
ADDED_LATER: dict[str, dict[str, Any]] = {
    "calibration": {
        "standards_justification": "",
        "supersedes_id": None,
        # Revision 0010: records before it were judged by simple acceptance.
        "decision_rule": SIMPLE_RULE,
        "tur_justification": "",
    },
    "instrument": {
        "calibration_requirement": "periodic",
        "requirement_reason": "",
        "review_reason": "",
        # Instrument types (revision 0011): named in an event only once set (see
        # instrument_snapshot), so an untyped instrument's events stay as they were.
        "type_id": None,
        "custom_fields": None,
        # An uncertainty stated on a standard (revision 0013): [U, k, unit] once set.
        "stated_uncertainty": None,
    },
    # The OOT impact (revision 0012): named in an event only once set (case_snapshot).
    # A case a failing check opened (revision 0019): named only when set (case_snapshot).
    "oot_case": {"impact_snapshot": "", "origin_case_id": None, "check_id": None},
    # Default schedules (revision 0020): none on a type created before them.
    "instrument_type": TYPE_SCHEDULE_DEFAULTS,
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
    # Default schedules (revision 0020): app.services.schedules gives them to instruments.
    *TYPE_SCHEDULE_FIELDS,
)

# What a signature on a calibration record covers, fixed for good: a later CalTrack
# auditing more fields must still be able to check old signatures. Issue 14's fields are
# covered by an extra "metrology" entry, present only on a record that has something
# these fields cannot say (see signed_record_content).
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

# A check-out (issue 15); open_instrument_id is derived from these (verify checks it).
CUSTODY_AUDITED = (
    "instrument_id",
    "holder",
    "place",
    "due_back",
    "override_reason",
    "out_at",
    "out_by",
    "in_at",
    "in_by",
    "voided_at",
    "voided_by",
    "void_reason",
)

# Every column of a maintenance event but its id and stamps (issue 15).
MAINTENANCE_AUDITED = (
    "instrument_id",
    "kind",
    "performed_on",
    "performed_by",
    "what_done",
    "cost",
    "currency",
    "downtime_hours",
    "notes",
    "calibrate_before_use",
    "due_before",
    "took_out_of_service",
    "released_by_record_id",
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
    """The audited fields; the type, custom values and stated uncertainty only once set.

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
    stated = (obj.stated_uncertainty, obj.stated_coverage_factor, obj.stated_uncertainty_unit)
    if any(v not in (None, "") for v in stated):
        snap["stated_uncertainty"] = [
            obj.stated_uncertainty,
            obj.stated_coverage_factor,
            obj.stated_uncertainty_unit,
        ]
    return snap


def instrument_full_snapshot(obj: Instrument) -> Snapshot:
    """``instrument_snapshot`` with the type, custom values and stated uncertainty always
    named (None: unset)."""
    snap = instrument_snapshot(obj)
    snap.setdefault("type_id", None)
    snap.setdefault("custom_fields", None)
    snap.setdefault("stated_uncertainty", None)
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


PROVIDER_AUDITED = (
    "name",
    "contact",
    "accreditation_body",
    "accreditation_number",
    "scope",
    "approval",
    "review_date",
    "retired_at",
    "retired_by",
    "retire_reason",
)

BATCH_AUDITED = (
    "provider_id",
    "sent_on",
    "po_number",
    "expected_return",
    "cost",
    "approval_reason",
    "notes",
)


def provider_snapshot(obj: Provider) -> Snapshot:
    """A provider as audited."""
    return {name: to_jsonable(getattr(obj, name)) for name in PROVIDER_AUDITED}


def batch_snapshot(obj: SendoutBatch) -> Snapshot:
    """A send-out batch as audited, its instruments as rows [seq, instrument id,
    received on, calibration id, provider's result, lab's result]."""
    snap = {name: to_jsonable(getattr(obj, name)) for name in BATCH_AUDITED}
    snap["items"] = [
        [
            i.seq,
            i.instrument_id,
            to_jsonable(i.received_on),
            i.record_id,
            i.provider_result,
            i.lab_result,
        ]
        for i in sorted(obj.items, key=lambda i: i.seq)
    ]
    return snap


def point_row(p: MeasurementPoint) -> list[Any]:
    """A reading as the audit trail lists it: [seq, nominal, found, left, tol, unit], and
    [U, k, tolerance as written, lower, upper, TUR] after them only when the point has
    any of those (revision 0010): an older point's row stays as its events wrote it."""
    row: list[Any] = [p.seq, p.nominal, p.as_found, p.as_left, p.tolerance, p.unit]
    extra = [
        p.uncertainty,
        p.coverage_factor,
        p.tolerance_text,
        p.tolerance_lower,
        p.tolerance_upper,
        p.tur,
    ]
    if any(v is not None for v in extra):
        row.extend(extra)
    return row


def record_snapshot(obj: CalibrationRecord) -> Snapshot:
    snap = {name: to_jsonable(getattr(obj, name)) for name in RECORD_AUDITED}
    # NULL (before revision 0010) and "simple" say the same: simple acceptance.
    snap["decision_rule"] = obj.decision_rule or SIMPLE_RULE
    snap["points"] = [point_row(p) for p in sorted(obj.points, key=lambda p: p.seq)]
    snap["standards"] = sorted(s.standard_id for s in obj.standards)
    return snap


def signed_record_content(obj: CalibrationRecord) -> Snapshot:
    """The part of a record a signature covers (everything but the void stamp).

    The frozen fields and 6-value readings, as every signature before issue 14 hashed
    them; plus a "metrology" entry (the rule, the TUR justification and each point's
    full row) only when the record has a rule other than simple acceptance, a TUR
    justification, or a point with U or a written tolerance. A record without any of
    those hashes as it always did, so old signatures stay checkable; one with them has
    them covered, and clearing them outside CalTrack changes its hash.
    """
    points = sorted(obj.points, key=lambda p: p.seq)
    snap = {name: to_jsonable(getattr(obj, name)) for name in SIGNED_RECORD_FIELDS}
    snap["points"] = [
        [p.seq, p.nominal, p.as_found, p.as_left, p.tolerance, p.unit] for p in points
    ]
    snap["standards"] = sorted(s.standard_id for s in obj.standards)
    rows = [point_row(p) for p in points]
    rule = obj.decision_rule or SIMPLE_RULE
    if rule != SIMPLE_RULE or obj.tur_justification or any(len(r) > 6 for r in rows):
        snap["metrology"] = {
            "decision_rule": rule,
            "tur_justification": obj.tur_justification,
            "points": rows,
        }
    return snap


def account_snapshot(obj: UserAccount) -> Snapshot:
    snap = {name: to_jsonable(getattr(obj, name)) for name in ACCOUNT_AUDITED}
    snap["signing_password"] = fingerprint(obj.signing_hash)
    return snap


def signature_snapshot(obj: Signature) -> Snapshot:
    return {name: to_jsonable(getattr(obj, name)) for name in SIGNATURE_AUDITED}


def case_snapshot(obj: OotCase) -> Snapshot:
    """The audited fields; the impact list and the origin case only once set.

    Sparse on purpose (revision 0012), as ``instrument_snapshot``: a case without them
    writes the events, and hashes for its closing signature, exactly as before.
    """
    snap = {name: to_jsonable(getattr(obj, name)) for name in CASE_AUDITED}
    if obj.impact_snapshot:
        snap["impact_snapshot"] = obj.impact_snapshot
    if obj.origin_case_id is not None:
        snap["origin_case_id"] = obj.origin_case_id
    if obj.check_id is not None:  # revision 0019: calibration cases hash as before
        snap["check_id"] = obj.check_id
    return snap


def case_full_snapshot(obj: OotCase) -> Snapshot:
    """``case_snapshot`` with the impact list and origin always named, for verify."""
    snap = case_snapshot(obj)
    snap.setdefault("impact_snapshot", "")
    snap.setdefault("origin_case_id", None)
    snap.setdefault("check_id", None)
    return snap


def custody_snapshot(obj: Custody) -> Snapshot:
    return {name: to_jsonable(getattr(obj, name)) for name in CUSTODY_AUDITED}


def maintenance_snapshot(obj: MaintenanceEvent) -> Snapshot:
    return {name: to_jsonable(getattr(obj, name)) for name in MAINTENANCE_AUDITED}


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


SCHEDULE_AUDITED = (
    "instrument_id",
    "kind",
    "interval_count",
    "interval_unit",
    "soon_days",
    "grace_days",
    "before_use",
    "due_before_use",
    "last_done",
    "next_due",
    "active",
)

CHECK_AUDITED = (
    "instrument_id",
    "performed_on",
    "performed_by",
    "standard_id",
    "standard_text",
    "readings",
    "result",
    "notes",
    "voided_at",
    "voided_by",
    "void_reason",
)


def schedule_snapshot(obj: InstrumentSchedule) -> Snapshot:
    """A check or maintenance schedule as audited."""
    return {name: to_jsonable(getattr(obj, name)) for name in SCHEDULE_AUDITED}


def check_snapshot(obj: IntermediateCheck) -> Snapshot:
    """An intermediate check as audited (its readings as their stored JSON text)."""
    return {name: to_jsonable(getattr(obj, name)) for name in CHECK_AUDITED}
