"""Read views of calibration records and attachments, as the window and reports show them.

A leaf under the use cases: the instrument history, the calibration service and the
out-of-tolerance cases build the same views here without importing each other.
"""

from __future__ import annotations

from typing import cast

from app.db.models import Attachment, CalibrationRecord, MeasurementPoint
from app.repositories.unit_of_work import UnitOfWork
from app.services.dto import AttachmentView, CalibrationView, PointInput, PointView, SignatureView
from app.services.signatures import record_content_hash, signature_view
from app.services.tolerance import within
from app.vocabulary import ProviderKind, Result


def point_view(seq: int, p: PointInput | MeasurementPoint) -> PointView:
    return PointView(
        seq=seq,
        nominal=p.nominal,
        as_found=p.as_found,
        as_left=p.as_left,
        tolerance=p.tolerance,
        unit=p.unit,
        as_found_pass=within(p.as_found, p.nominal, p.tolerance),
        as_left_pass=within(p.as_left, p.nominal, p.tolerance),
    )


def calibration_view(
    record: CalibrationRecord,
    tags: dict[int, str],
    *,
    signatures: list[SignatureView] | None = None,
    superseded_by: int | None = None,
    oot_case_id: int | None = None,
) -> CalibrationView:
    return CalibrationView(
        id=record.id,
        instrument_id=record.instrument_id,
        asset_tag=tags.get(record.instrument_id, str(record.instrument_id)),
        performed_on=record.performed_on,
        performed_by=record.performed_by,
        # The schema's CHECK constraints allow only the vocabulary's values.
        provider_kind=cast(ProviderKind, record.provider_kind),
        provider_name=record.provider_name,
        certificate_number=record.certificate_number,
        temperature_c=record.temperature_c,
        humidity_pct=record.humidity_pct,
        result=cast(Result, record.result),
        adjustment_made=record.adjustment_made,
        uncertainty=record.uncertainty,
        next_due=record.next_due,
        notes=record.notes,
        points=[point_view(p.seq, p) for p in record.points],
        standards=sorted(tags.get(s.standard_id, str(s.standard_id)) for s in record.standards),
        voided=record.voided_at is not None,
        void_reason=record.void_reason,
        created_at=record.created_at,
        created_by=record.created_by,
        version=record.version,
        signatures=signatures or [],
        standards_justification=record.standards_justification,
        supersedes_id=record.supersedes_id,
        superseded_by_id=superseded_by,
        oot_case_id=oot_case_id,
    )


def calibration_views(
    uow: UnitOfWork, records: list[CalibrationRecord], tags: dict[int, str] | None = None
) -> list[CalibrationView]:
    """Views of many records with their signatures, cases and successors (a few queries)."""
    ids = [r.id for r in records]
    if tags is None:
        wanted = {r.instrument_id for r in records} | {
            s.standard_id for r in records for s in r.standards
        }
        tags = uow.instruments.tags_by_id(sorted(wanted))
    sigs = uow.signatures.for_records(ids)
    cases = uow.oot_cases.by_record_ids(ids)
    successors = uow.calibrations.superseded_by(ids)
    views = []
    for r in records:
        signed = sigs.get(r.id, [])
        digest = record_content_hash(r) if signed else ""
        views.append(
            calibration_view(
                r,
                tags,
                signatures=[signature_view(x, intact=x.content_hash == digest) for x in signed],
                superseded_by=successors.get(r.id),
                oot_case_id=cases.get(r.id),
            )
        )
    return views


def attachment_view(att: Attachment, tags: dict[int, str]) -> AttachmentView:
    if att.instrument_id is not None:
        owner = f"instrument {tags.get(att.instrument_id, att.instrument_id)}"
    else:
        owner = f"calibration #{att.record_id}"
    return AttachmentView(
        id=att.id,
        owner=owner,
        original_name=att.original_name,
        stored_name=att.stored_name,
        size_bytes=att.size_bytes,
        sha256=att.sha256,
        added_at=att.added_at,
        added_by=att.added_by,
        voided=att.voided_at is not None,
        void_reason=att.void_reason,
    )
