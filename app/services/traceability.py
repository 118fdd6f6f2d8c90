"""Traceability: which standards vouched for a calibration, and what a standard calibrated.

A standard may vouch for a calibration only if, on that day, it was in service and its
latest calibration was in date (next due plus grace not passed) and left it within
tolerance. Otherwise the calibration needs a recorded justification (ISO/IEC 17025 6.4,
6.5 metrological traceability). An out-of-tolerance case concerns the results *before*
the failure was found; once a calibration left the standard good again, it may serve.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from app.db.models import Instrument
from app.repositories.unit_of_work import UnitOfWork
from app.services.dto import Traceability, TraceLink


def status_since(uow: UnitOfWork, instrument: Instrument) -> date | None:
    """The day the instrument's current status began, from its audit trail."""
    for event in reversed(uow.audit.for_entity("instrument", instrument.id)):
        if '"status"' in event.changes and "status" in json.loads(event.changes):
            return event.occurred_at.date()
    return None


def standard_problems_in(uow: UnitOfWork, standards: list[Instrument], day: date) -> dict[str, str]:
    """Asset tag → why that standard could not vouch for a calibration on ``day``."""
    from app.services.oot import left_good  # one rule for "left within tolerance"

    problems: dict[str, str] = {}
    for std in standards:
        tag = std.asset_tag
        if std.status != "in_service":
            since = status_since(uow, std)
            if since is None or since <= day:
                when = f" since {since}" if since else ""
                problems[tag] = f"{tag} is {std.status.replace('_', ' ')}{when}"
                continue
        cover = uow.calibrations.latest_valid_on_or_before(std.id, day)
        if cover is not None:
            due = cover.next_due
        elif std.last_calibrated is not None and std.last_calibrated <= day:
            due = std.next_due  # a register imported without its calibration history
        else:
            problems[tag] = f"{tag} had no calibration on or before {day}"
            continue
        if due is not None and due + timedelta(days=std.grace_days) < day:
            problems[tag] = f"{tag} was overdue on {day} (due {due})"
        elif cover is not None and not left_good(cover):
            problems[tag] = (
                f"{tag} was left out of tolerance by its calibration of {cover.performed_on} "
                f"(#{cover.id})"
            )
    return problems


def traceability_of(uow: UnitOfWork, instrument: Instrument) -> Traceability:
    """Both directions for one instrument."""
    used = uow.calibrations.standards_of(instrument.id)
    served = uow.calibrations.used_as_standard(instrument.id)
    ids = {s for _, s in used} | {r.instrument_id for r in served} | {instrument.id}
    tags = uow.instruments.tags_by_id(sorted(ids))
    return Traceability(
        asset_tag=instrument.asset_tag,
        standards_used=[
            TraceLink(
                record_id=r.id,
                performed_on=r.performed_on,
                instrument_tag=instrument.asset_tag,
                standard_tag=tags.get(s, str(s)),
                result=r.result,
                voided=r.voided_at is not None,
            )
            for r, s in used
        ],
        used_as_standard=[
            TraceLink(
                record_id=r.id,
                performed_on=r.performed_on,
                instrument_tag=tags.get(r.instrument_id, str(r.instrument_id)),
                standard_tag=instrument.asset_tag,
                result=r.result,
                voided=r.voided_at is not None,
            )
            for r in served
        ],
    )
