"""The one rule for "calibrate before use" after maintenance, damage or a repair (issue 15).

A maintenance event that asks for a calibration before the instrument is used again
(``calibrate_before_use``) is *awaiting* until a calibration satisfies it: a valid
calibration that left the instrument in tolerance, performed after the event's day, or
on that day and recorded after the event was logged (a calibration of the same day
entered earlier may have been the one that found the damage). While any event awaits:

- a periodically calibrated instrument is due on the earliest awaiting event's day at
  the latest (its stored next due never stays later than that);
- the instrument is out of service: logging the event takes it out, and so does
  voiding the calibration that had satisfied it.

When a calibration satisfies the last awaiting event and one of the events it
satisfied had taken the instrument out of service, the instrument is back in service,
unless an out-of-tolerance case of it is open (then QA returns it when closing the
case, as for any failed calibration). The calibration's own next due replaces the
forced one (``CalibrationService.add_in`` sets it). A calibration that fails keeps the
event awaiting and opens its case as usual.

Voiding an event (``undo_in``) undoes what it forced only while nothing since depends
on it: once a calibration has satisfied it, that calibration set the dates and the
status, and voiding the event changes nothing on the instrument. While it is still
awaiting, the instrument's next due goes back to what it was before the event (if
it is still the event's day) and the instrument back in service (if the event took it
out, it is still out, and neither another awaiting event nor an open case holds it).

Callers snapshot the instrument before and audit its change after
(``app.services.voiding.touch_instrument``); the events' own changes are audited here.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.db.models import CalibrationRecord, Instrument, MaintenanceEvent
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork
from app.services.audit import AuditChainWriter
from app.services.snapshots import diff, maintenance_snapshot
from app.services.tolerance import left_good


def satisfies(record: CalibrationRecord, event: MaintenanceEvent) -> bool:
    """Whether ``record`` is a calibration after ``event`` that lets the instrument be used."""
    if record.voided_at is not None or not left_good(record):
        return False
    if record.performed_on != event.performed_on:
        return record.performed_on > event.performed_on
    return record.created_at >= event.created_at


def _releasing(records: Sequence[CalibrationRecord], event: MaintenanceEvent) -> int | None:
    """The id of the first calibration that satisfies ``event`` (by date, then entry)."""
    found = [r for r in records if satisfies(r, event)]
    if not found:
        return None
    return min(found, key=lambda r: (r.performed_on, r.id)).id


def _stamp(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    event: MaintenanceEvent,
    before: dict[str, object],
    asset_tag: str,
    reason: str,
) -> None:
    changed = diff(before, maintenance_snapshot(event))
    if not changed:
        return
    event.updated_at = audit.now
    event.updated_by = identity.user
    uow.maintenance_events.flush()
    audit.record("maintenance_event", event.id, label(asset_tag, event), "update", changed, reason)


def label(asset_tag: str, event: MaintenanceEvent) -> str:
    """How the audit trail names an event: "TH-1 M-3"."""
    return f"{asset_tag} M-{event.id}"


def _held_by_case(uow: UnitOfWork, instrument: Instrument) -> bool:
    return bool(uow.oot_cases.find(status="open", instrument_id=instrument.id))


def due_at_latest(instrument: Instrument, awaiting: Sequence[MaintenanceEvent]) -> None:
    """A periodic instrument is due on the earliest awaiting event's day at the latest."""
    if not awaiting or instrument.calibration_requirement != "periodic":
        return
    earliest = min(e.performed_on for e in awaiting)
    if instrument.next_due is None or instrument.next_due > earliest:
        instrument.next_due = earliest


def settle_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    reason: str,
    *,
    keep_status: bool = False,
) -> None:
    """Bring ``instrument`` and its events in line with the rule after any change to
    its calibrations or events. ``keep_status``: an import whose register says what the
    status is now (the dates still follow the rule)."""
    events = uow.maintenance_events.needing_calibration(instrument.id)
    if not events:
        return
    records = [r for r in uow.calibrations.history(instrument.id) if r.voided_at is None]
    released_one_that_took = False
    for event in events:
        releasing = _releasing(records, event)
        if releasing == event.released_by_record_id:
            continue
        before = maintenance_snapshot(event)
        if releasing is not None:
            if event.released_by_record_id is None:  # not when one record replaces another
                released_one_that_took = released_one_that_took or event.took_out_of_service
        elif not keep_status and instrument.status == "in_service":
            # The calibration that satisfied it no longer counts: out of use again.
            instrument.status = "out_of_service"
            event.took_out_of_service = True
        event.released_by_record_id = releasing
        _stamp(uow, audit, identity, event, before, instrument.asset_tag, reason)
    awaiting = [e for e in events if e.released_by_record_id is None]
    due_at_latest(instrument, awaiting)
    if (
        not awaiting
        and released_one_that_took
        and not keep_status
        and instrument.status == "out_of_service"
        and not _held_by_case(uow, instrument)
    ):
        instrument.status = "in_service"


def force_in(instrument: Instrument, event: MaintenanceEvent, *, keep_status: bool = False) -> None:
    """What logging an event that asks for a calibration before use does at once:
    remember the instrument's state, and take it out of service (not with
    ``keep_status``: an import whose register says the status). ``settle_in`` then
    makes it due (or finds a calibration after it already recorded)."""
    event.due_before = instrument.next_due
    event.took_out_of_service = instrument.status == "in_service" and not keep_status
    if event.took_out_of_service:
        instrument.status = "out_of_service"


def undo_in(uow: UnitOfWork, instrument: Instrument, event: MaintenanceEvent) -> None:
    """Undo what a just-voided event forced, where nothing since depends on it."""
    if not event.calibrate_before_use or event.released_by_record_id is not None:
        return
    awaiting = [
        e
        for e in uow.maintenance_events.needing_calibration(instrument.id)
        if e.id != event.id and e.released_by_record_id is None
    ]
    if instrument.next_due == event.performed_on:
        instrument.next_due = event.due_before
    due_at_latest(instrument, awaiting)
    if (
        event.took_out_of_service
        and instrument.status == "out_of_service"
        and not awaiting
        and not _held_by_case(uow, instrument)
    ):
        instrument.status = "in_service"


def awaiting_before_use(uow: UnitOfWork, instrument: Instrument) -> list[MaintenanceEvent]:
    """The events that still wait for a calibration before the instrument may be used."""
    return [
        e
        for e in uow.maintenance_events.needing_calibration(instrument.id)
        if e.released_by_record_id is None
    ]
