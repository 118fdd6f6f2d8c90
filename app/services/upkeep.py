"""Logging maintenance, damage and repairs of instruments (issue 15, ISO/IEC 17025 6.4.13).

Named "upkeep" in code: ``app.services.maintenance`` is the *database's* maintenance
(verify, backup, restore). People see "maintenance" everywhere.

An event is logged once and never edited or deleted: a wrong one is voided with a
reason and logged again. What "calibrate before use" does to the instrument is the rule
of ``app.services.upkeep_rules``; this module checks the input, writes the row and the
audit events in one transaction, and reads the log back as plain views.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm.exc import StaleDataError

from app.clock import Clock
from app.db.models import Instrument, MaintenanceEvent
from app.errors import ConflictError, ConflictSide, NotFoundError, ValidationError
from app.identity import Identity
from app.limits import COST_LEN, NOTES_LEN
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter
from app.services.dto import MaintenanceInput, MaintenanceView
from app.services.lookups import require_instrument
from app.services.schedules import done_in, undone_in
from app.services.snapshots import created, diff, instrument_snapshot, maintenance_snapshot
from app.services.upkeep_rules import force_in, label, settle_in, undo_in
from app.services.validation import clean_currency, clean_text, cost_problem, parse_date
from app.services.voiding import touch_instrument
from app.vocabulary import MAINTENANCE_KINDS, MaintenanceKind

# What people call each kind (the CLI also takes these words with - or _).
KIND_LABELS: dict[str, str] = {
    "maintenance": "Maintenance",
    "cleaning": "Cleaning",
    "damage_found": "Damage found",
    "malfunction": "Malfunction",
    "repair": "Repair",
    "modification": "Modification",
    "firmware_update": "Firmware update",
}
# Downtime of more than ten years is a typing slip too.
MAX_DOWNTIME_HOURS = 24 * 366 * 10
_DOWNTIME = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*(h|hours?|d|days?)?\s*$", re.IGNORECASE)


def parse_kind(text: str) -> MaintenanceKind | None:
    """A kind from its code or its words ("damage found", "damage-found")."""
    word = re.sub(r"[\s-]+", "_", text.strip().casefold())
    for kind in MAINTENANCE_KINDS:
        if word == kind:
            return kind
    return None


def parse_cost(text: str, errors: dict[str, str]) -> str:
    """Exact decimal text with two decimals ("1250.00"), or "" for no cost."""
    raw = text.strip().replace(",", ".")
    if not raw:
        return ""
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors["cost"] = f"must be an amount such as 1250.50 (got {text.strip()!r})"
        return ""
    if problem := cost_problem(value):
        errors["cost"] = f"{problem} (got {text.strip()})"
    elif value != value.quantize(Decimal("0.01")):
        errors["cost"] = "has at most 2 decimals (cents)"
    else:
        result = f"{value:.2f}"
        if len(result) <= COST_LEN:
            return result
        errors["cost"] = "is too long"
    return ""


def parse_downtime(text: str, errors: dict[str, str]) -> float | None:
    """Hours from "8", "8h" or days from "1.5d" (24 hours a day); None when empty."""
    if not text.strip():
        return None
    match = _DOWNTIME.match(text)
    if match is None:
        errors["downtime"] = f"must be hours (8 or 8h) or days (2d) (got {text.strip()!r})"
        return None
    number = float(match.group(1).replace(",", "."))
    hours = number * 24 if (match.group(2) or "h").lower().startswith("d") else number
    if not math.isfinite(hours) or hours > MAX_DOWNTIME_HOURS:
        errors["downtime"] = f"must be at most {MAX_DOWNTIME_HOURS} hours (ten years)"
        return None
    return round(hours, 2)


def calibration_text(v: MaintenanceView) -> str:
    """What an event asks of the calibration, as the window, the CLI and reports say it."""
    if v.voided_at is not None:
        return f"VOID — {v.void_reason}"
    if v.awaiting_calibration:
        return "needed before use"
    if v.calibrate_before_use:
        return f"done (#{v.released_by_record_id})"
    return "—"


def cost_text(v: MaintenanceView) -> str:
    """ "180.50 EUR", or "—" without a cost."""
    return f"{v.cost} {v.currency}".strip() or "—"


def maintenance_view(asset_tag: str, event: MaintenanceEvent) -> MaintenanceView:
    kind = parse_kind(event.kind)
    if kind is None:  # the CHECK constraint forbids it
        raise NotFoundError(f"maintenance event M-{event.id} has an unknown kind {event.kind!r}")
    return MaintenanceView(
        id=event.id,
        asset_tag=asset_tag,
        kind=kind,
        performed_on=event.performed_on,
        performed_by=event.performed_by,
        what_done=event.what_done,
        cost=event.cost,
        currency=event.currency,
        downtime_hours=event.downtime_hours,
        notes=event.notes,
        calibrate_before_use=event.calibrate_before_use,
        released_by_record_id=event.released_by_record_id,
        voided_at=event.voided_at,
        voided_by=event.voided_by,
        void_reason=event.void_reason,
        created_at=event.created_at,
        version=event.version,
    )


def event_fields(data: MaintenanceInput, user: str, today: date) -> dict[str, object]:
    """The rules of an event's fields (the form's, the CLI's and an import's): the
    columns of its row, logged by ``user``, or ValidationError naming each field."""
    errors: dict[str, str] = {}
    kind = parse_kind(data.kind)
    if kind is None:
        errors["kind"] = "must be one of: " + ", ".join(
            k.replace("_", "-") for k in MAINTENANCE_KINDS
        )
    # Field names as the command line's options (--date, --what) and the dialog's.
    day = parse_date("date", data.performed_on, errors)
    if day is None and "date" not in errors:
        errors["date"] = "the date is required (YYYY-MM-DD)"
    elif day is not None and day > today:
        errors["date"] = f"must not be in the future (today is {today})"
    what = clean_text("what", data.what_done, NOTES_LEN, errors, multiline=True)
    if not what and "what" not in errors:
        errors["what"] = "say what was done or found"
    cost = parse_cost(data.cost, errors)
    currency = clean_currency(data.currency, errors)
    if currency and not cost and "cost" not in errors and "currency" not in errors:
        errors["currency"] = "goes with a cost; give the cost too"
    downtime = parse_downtime(data.downtime, errors)
    notes = clean_text("notes", data.notes, NOTES_LEN, errors, multiline=True)
    if errors or kind is None or day is None:  # kind and day are set when no error is
        raise ValidationError(errors)
    return {
        "kind": kind,
        "performed_on": day,
        "performed_by": user,
        "what_done": what,
        "cost": cost,
        "currency": currency,
        "downtime_hours": downtime,
        "notes": notes,
        "calibrate_before_use": data.calibrate_before_use,
        "due_before": None,
        "took_out_of_service": False,
        "released_by_record_id": None,
    }


def add_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    fields: Mapping[str, object],
    *,
    reason: str = "",
    keep_status: bool = False,
    effects: bool = True,
) -> MaintenanceEvent:
    """Log an event in the caller's transaction (``fields`` from ``event_fields``).
    ``keep_status``: an import whose register already says the status (the dates still
    follow the rule); ``effects`` False: an event that arrives voided, which changes
    nothing on its instrument or schedule."""
    require_role(uow, identity, "technician", "log maintenance")
    before = instrument_snapshot(instrument)
    # Built here, not before: a busy database runs the caller's function again.
    event = MaintenanceEvent(
        instrument_id=instrument.id,
        created_at=audit.now,
        created_by=identity.user,
        updated_at=audit.now,
        updated_by=identity.user,
        **fields,
    )
    if event.calibrate_before_use and effects:
        force_in(instrument, event, keep_status=keep_status)
    uow.maintenance_events.add(event)
    audit.record(
        "maintenance_event",
        event.id,
        label(instrument.asset_tag, event),
        "create",
        created(maintenance_snapshot(event)),
        reason,
    )
    if not effects:
        return event
    why = f"{KIND_LABELS[event.kind].lower()} M-{event.id}"
    if event.calibrate_before_use:
        why += " needs a calibration before use"
    settle_in(uow, audit, identity, instrument, why, keep_status=keep_status)
    if event.kind == "maintenance":
        # Routine maintenance is what the instrument's maintenance schedule asks
        # for: it moves on from this day (cleaning, repairs and the rest do not).
        done_in(uow, audit, identity, instrument, "maintenance",
                event.performed_on, f"maintenance M-{event.id}")  # fmt: skip
    touch_instrument(uow, audit, identity, instrument, before, why)
    return event


def void_imported_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    event: MaintenanceEvent,
    why: str,
    voided: tuple[datetime | None, str],
) -> None:
    """Void an event that arrived voided (logged with ``effects`` False), with the time
    and voider another CalTrack recorded (None, "": now, this user)."""
    before = maintenance_snapshot(event)
    event.voided_at = voided[0] or audit.now
    event.voided_by = voided[1] or identity.user
    event.void_reason = why
    event.updated_at = audit.now
    event.updated_by = identity.user
    uow.maintenance_events.flush()
    audit.record(
        "maintenance_event",
        event.id,
        label(instrument.asset_tag, event),
        "void",
        diff(before, maintenance_snapshot(event)),
        why,
    )


def void_reason(reason: str) -> str:
    """The reason an event is voided, cleaned (required), or ValidationError."""
    why = reason.strip()
    errors: dict[str, str] = {}
    clean_text("reason", why, NOTES_LEN, errors, multiline=True)
    if not why and not errors:
        errors["reason"] = "a reason is required to void a maintenance event"
    if errors:
        raise ValidationError(errors)
    return why


class UpkeepService:
    """Log, list and void maintenance, damage and repair events of instruments."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def add(self, tag: str, data: MaintenanceInput) -> MaintenanceView:
        """Log an event; with "calibrate before use" the instrument is due on its day and
        out of service until a calibration after it (``app.services.upkeep_rules``)."""
        fields = event_fields(data, self._identity.user, self._clock.today())

        def write(uow: UnitOfWork) -> MaintenanceView:
            instrument = require_instrument(uow, tag)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            event = add_in(uow, audit, self._identity, instrument, fields)
            audit.flush()
            return maintenance_view(instrument.asset_tag, event)

        return self._uow.write(write, label="log maintenance")

    def history(self, tag: str) -> list[MaintenanceView]:
        """An instrument's log, newest first, voided events included."""

        def read(uow: UnitOfWork) -> list[MaintenanceView]:
            instrument = require_instrument(uow, tag)
            return [
                maintenance_view(instrument.asset_tag, e)
                for e in uow.maintenance_events.history(instrument.id)
            ]

        return self._uow.read(read)

    def void(
        self, event_id: int, reason: str, *, expected_version: int | None = None
    ) -> MaintenanceView:
        """Void an event (never delete). What it forced is undone only while no
        calibration has satisfied it (``app.services.upkeep_rules.undo_in``); a routine
        maintenance moves the maintenance schedule back to the latest valid one
        (``app.services.schedules.undone_in``)."""
        why = void_reason(reason)

        def write(uow: UnitOfWork) -> MaintenanceView:
            # The chain lock first (as custody's void): two voids of one event then
            # queue, and the second reads it as the first left it and is told it is void.
            audit = AuditChainWriter(uow, self._identity, self._clock)
            require_role(uow, self._identity, "technician", "void maintenance events")
            event = uow.maintenance_events.get(event_id)
            if event is None:
                raise NotFoundError(
                    f"no maintenance event M-{event_id}; `maintenance list TAG` shows the ids"
                )
            if event.voided_at is not None:
                raise ValidationError({"event": f"M-{event.id} is already voided"})
            if event.calibrate_before_use and event.released_by_record_id is None:
                # Voiding it would return the instrument to use uncalibrated: the same
                # step a technician may not take by editing its status.
                require_role(uow, self._identity, "qa", "void an event that awaits its calibration")
            instrument = uow.instruments.get(event.instrument_id)
            if instrument is None:  # the foreign key forbids it
                raise NotFoundError(f"M-{event.id}: its instrument no longer exists")
            if expected_version is not None and event.version != expected_version:
                raise ConflictError(
                    "maintenance event",
                    f"M-{event.id}",
                    yours=ConflictSide(expected_version, {"voided": True}),
                    theirs=ConflictSide(
                        event.version, maintenance_snapshot(event), event.updated_by
                    ),
                )
            before = maintenance_snapshot(event)
            inst_before = instrument_snapshot(instrument)
            event.voided_at = audit.now
            event.voided_by = self._identity.user
            event.void_reason = why
            event.updated_at = audit.now
            event.updated_by = self._identity.user
            uow.maintenance_events.flush()
            audit.record(
                "maintenance_event",
                event.id,
                label(instrument.asset_tag, event),
                "void",
                diff(before, maintenance_snapshot(event)),
                why,
            )
            undo_in(uow, instrument, event)
            if event.kind == "maintenance":
                # What logging it moved on falls back to the latest valid routine
                # maintenance (the same rule as a voided check).
                valid = [
                    e
                    for e in uow.maintenance_events.history(instrument.id)
                    if e.kind == "maintenance" and e.voided_at is None
                ]
                latest = valid[0].performed_on if valid else None
                undone_in(uow, audit, self._identity, instrument, "maintenance", latest,
                          f"maintenance M-{event.id} voided")  # fmt: skip
            touch_instrument(
                uow, audit, self._identity, instrument, inst_before, f"M-{event.id} voided: {why}"
            )
            audit.flush()
            return maintenance_view(instrument.asset_tag, event)

        try:
            return self._uow.write(write, label="void maintenance")
        except StaleDataError:
            raise ConflictError(
                "maintenance event",
                f"M-{event_id}",
                yours=ConflictSide(expected_version or 0, {"voided": True}),
                theirs=ConflictSide(0, {}),
            ) from None
