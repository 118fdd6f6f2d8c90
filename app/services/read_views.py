"""Read views of calibration records and attachments, as the window and reports show them.

A leaf under the use cases: the instrument history, the calibration service and the
out-of-tolerance cases build the same views here without importing each other.
"""

from __future__ import annotations

from typing import cast

from app.db.models import Attachment, CalibrationRecord, MeasurementPoint
from app.repositories.unit_of_work import UnitOfWork
from app.services.decision_rules import DecisionRule
from app.services.dto import AttachmentView, CalibrationView, PointView, SignatureView
from app.services.signatures import record_content_hash, signature_view
from app.services.tolerance import judge_stored, record_rule
from app.services.tur import format_tur
from app.vocabulary import ProviderKind, Result


def point_view(seq: int, p: MeasurementPoint, rule: DecisionRule | None = None) -> PointView:
    """A stored point with its limits, TUR and verdicts under ``rule`` (simple if None)."""
    j = judge_stored(p, rule or DecisionRule.simple())
    return PointView(
        seq=seq,
        nominal=p.nominal,
        as_found=p.as_found,
        as_left=p.as_left,
        tolerance=p.tolerance,
        unit=p.unit,
        # Within the tolerance limits, as always (a verdict under the rule is below).
        as_found_pass=None if j.found_outside is None else not j.found_outside,
        as_left_pass=None if j.left_outside is None else not j.left_outside,
        tolerance_text=p.tolerance_text or "",
        lower_limit=float(j.tolerance.lower),
        upper_limit=float(j.tolerance.upper),
        uncertainty=p.uncertainty,
        coverage_factor=p.coverage_factor,
        acceptance_lower=float(j.acceptance.lower),
        acceptance_upper=float(j.acceptance.upper),
        guard_band=float(j.acceptance.guard_band) if j.acceptance.uncertainty_used else None,
        tur=float(j.tur) if j.tur is not None else None,
        tur_text=format_tur(j.tur),
        as_found_verdict=j.as_found,
        as_left_verdict=j.as_left,
    )


def calibration_view(
    record: CalibrationRecord,
    tags: dict[int, str],
    *,
    signatures: list[SignatureView] | None = None,
    superseded_by: int | None = None,
    oot_case_id: int | None = None,
) -> CalibrationView:
    rule = record_rule(record.decision_rule)
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
        points=[point_view(p.seq, p, rule) for p in record.points],
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
        decision_rule=rule.code,
        decision_rule_text=rule.sentence,
        tur_justification=record.tur_justification,
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
