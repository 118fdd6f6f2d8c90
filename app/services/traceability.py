"""Traceability: which standards vouched for a calibration, and what a standard calibrated.

A standard may vouch for a calibration only if, on that day, it was in service and its
latest calibration was in date (next due plus grace not passed) and left it within
tolerance. Otherwise the calibration needs a recorded justification (ISO/IEC 17025 6.4,
6.5 metrological traceability). An instrument whose type names required standard
categories needs, among its calibration's standards, one of each category
(:func:`missing_categories`); one missing is treated the same way, refused without a
justification, because it is the same kind of fact: the standards at hand could not
vouch for the measurement as the method requires, and an auditor asks why.

An out-of-tolerance case concerns the results *before* the failure was found; once a
calibration left the standard good again, it may serve.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from app.clock import Clock
from app.db.models import Instrument
from app.repositories.unit_of_work import UnitOfWork
from app.services.bounds import add_days
from app.services.dto import Traceability, TraceLink
from app.services.snapshots import stored_list
from app.services.tolerance import left_good


@dataclass(frozen=True)
class StatusPeriod:
    """A status and the local day it began (None: not known, older than the trail)."""

    began: date | None
    status: str


def status_periods(uow: UnitOfWork, instrument: Instrument, clock: Clock) -> list[StatusPeriod]:
    """Each status the instrument had, oldest first, from its audit trail; the current
    status alone when the trail names none."""
    periods: list[StatusPeriod] = []
    for event in uow.audit.for_entity("instrument", instrument.id):
        if '"status"' not in event.changes:
            continue
        change = json.loads(event.changes).get("status")
        if change:
            periods.append(StatusPeriod(clock.local_date(event.occurred_at), str(change[1])))
    return periods or [StatusPeriod(None, instrument.status)]


def out_of_use_on(periods: list[StatusPeriod], day: date) -> StatusPeriod | None:
    """The period of a status other than in service that covered ``day``; None when the
    instrument was in service all day, or not yet registered.

    A status set during the day counts for that whole day unless it is "in service"
    (a calibration carries a date, not a time: a standard taken out of use that day may
    already have been out of use). Days before the instrument was registered say
    nothing against it: an imported register's history predates its trail.
    """
    for period in periods:
        if period.began == day and period.status != "in_service":
            return period
    in_force = next((p for p in reversed(periods) if p.began is None or p.began <= day), None)
    if in_force is None or in_force.status == "in_service":
        return None
    return in_force


def standard_problems_in(
    uow: UnitOfWork, standards: list[Instrument], day: date, clock: Clock
) -> dict[str, str]:
    """Asset tag → why that standard could not vouch for a calibration on ``day``."""
    problems: dict[str, str] = {}
    for std in standards:
        tag = std.asset_tag
        periods = status_periods(uow, std, clock)
        off = out_of_use_on(periods, day)
        if off is not None:
            words = off.status.replace("_", " ")
            if off is periods[-1]:
                problems[tag] = f"{tag} is {words}" + (f" since {off.began}" if off.began else "")
            else:
                problems[tag] = f"{tag} was {words} on {day} (from {off.began})"
            continue
        if std.calibration_requirement == "not_required":
            # No calibration stands behind it, so it has no due date to be overdue by.
            why = f" ({std.requirement_reason})" if std.requirement_reason else ""
            problems[tag] = (
                f"{tag} is marked calibration not required{why}: it gives no traceability"
            )
            continue
        cover = uow.calibrations.latest_valid_on_or_before(std.id, day)
        if cover is not None:
            due = cover.next_due
        elif std.last_calibrated is not None and std.last_calibrated <= day:
            due = std.next_due  # a register imported without its calibration history
        else:
            problems[tag] = f"{tag} had no calibration on or before {day}"
            continue
        if due is not None and add_days(due, std.grace_days) < day:
            problems[tag] = f"{tag} was overdue on {day} (due {due})"
        elif cover is not None and not left_good(cover):
            problems[tag] = (
                f"{tag} was left out of tolerance by its calibration of {cover.performed_on} "
                f"(#{cover.id})"
            )
    return problems


def category_key(category: str) -> str:
    """A category as compared: case and spacing aside ("PRT  reference" is "prt reference")."""
    return " ".join(category.split()).casefold()


def missing_categories(
    uow: UnitOfWork, instrument: Instrument, standards: list[Instrument]
) -> list[str]:
    """The categories the instrument's type requires that none of ``standards`` has
    (as the type writes them, in its order); empty for an untyped instrument."""
    if instrument.type_id is None:
        return []
    kind = uow.types.get(instrument.type_id)
    if kind is None:
        return []  # a dangling type: verify's replay reports it
    have = {category_key(s.category) for s in standards}
    return [
        str(c) for c in stored_list(kind.standard_categories) if category_key(str(c)) not in have
    ]


def category_problem(uow: UnitOfWork, instrument: Instrument, standards: list[Instrument]) -> str:
    """Why these standards do not cover the instrument's type ("" when they do)."""
    missing = missing_categories(uow, instrument, standards)
    if not missing:
        return ""
    kind = uow.types.get(instrument.type_id) if instrument.type_id is not None else None
    name = kind.name if kind is not None else "its type"
    plural = "ies" if len(missing) > 1 else "y"
    return (
        f"{instrument.asset_tag}'s type {name} needs a standard of the categor{plural} "
        f"{', '.join(missing)}; none of the standards used is one"
    )


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
