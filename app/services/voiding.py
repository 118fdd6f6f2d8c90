"""Voiding a calibration record: one rule for the window, the CLI and an import.

A record is never deleted: it is marked void (when, by whom, why) and the void is
audited; the instrument's open out-of-tolerance cases are refreshed and its dates
follow the records still valid. A record that was already void in an imported file
keeps who voided it and when, and never counted: its case is cancelled and the
instrument goes back to how it was before the record came in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.db.models import CalibrationRecord, Instrument
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork
from app.services.audit import AuditChainWriter
from app.services.oot import cancel_case_in, refresh_open_cases_in
from app.services.snapshots import diff, instrument_snapshot, record_snapshot
from app.services.upkeep_rules import settle_in


@dataclass(frozen=True)
class ImportedVoid:
    """A void carried over from an imported file."""

    voided_at: datetime | None  # None: unknown, the import's own time
    voided_by: str  # "": unknown, the importing user
    import_reason: str  # why the record came in; the audit gives it for the void
    # last_calibrated, next_due and status of the instrument before the record came in
    instrument_before: tuple[date | None, date | None, str]


def void_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    record: CalibrationRecord,
    instrument: Instrument,
    reason: str,
    *,
    imported: ImportedVoid | None = None,
) -> None:
    """Void ``record`` (of ``instrument``) for ``reason`` inside the caller's transaction."""
    before = record_snapshot(record)
    record.voided_at = (imported.voided_at if imported else None) or audit.now
    record.voided_by = (imported.voided_by if imported else "") or identity.user
    record.void_reason = reason
    record.updated_at = audit.now
    record.updated_by = identity.user
    uow.calibrations.flush()
    audit.record(
        "calibration",
        record.id,
        f"{instrument.asset_tag} #{record.id}",
        "void",
        diff(before, record_snapshot(record)),
        imported.import_reason if imported else reason,
    )
    why = f"calibration #{record.id} voided"
    if imported:
        why = f"{why}; {imported.import_reason}"
        cancel_case_in(uow, audit, identity, record, why)
    # An open case stays open otherwise: QA closes it (voiding is no assessment of impact).
    refresh_open_cases_in(uow, audit, identity, instrument, why)
    inst_before = instrument_snapshot(instrument)
    if imported:
        instrument.last_calibrated, instrument.next_due, instrument.status = (
            imported.instrument_before
        )
    else:
        latest = next(
            (r for r in uow.calibrations.history(instrument.id) if r.voided_at is None), None
        )
        instrument.last_calibrated = latest.performed_on if latest else None
        periodic = instrument.calibration_requirement == "periodic"
        instrument.next_due = latest.next_due if latest and periodic else None
    # A repair this record had satisfied waits for a calibration again (upkeep_rules).
    settle_in(uow, audit, identity, instrument, why, keep_status=imported is not None)
    touch_instrument(uow, audit, identity, instrument, inst_before, why)


def touch_instrument(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    before: dict[str, object],
    reason: str,
) -> None:
    """Stamp and audit what a calibration change did to its instrument, if anything."""
    changed = diff(before, instrument_snapshot(instrument))
    if not changed:
        return
    instrument.updated_at = audit.now
    instrument.updated_by = identity.user
    uow.instruments.flush()
    audit.record("instrument", instrument.id, instrument.asset_tag, "update", changed, reason)
