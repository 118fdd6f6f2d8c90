"""Intermediate checks (ISO/IEC 17025 6.4.10): a quick check of an instrument between
calibrations against a check standard or artefact.

A check records the day, who, the readings against their limits and notes; it passes
when every reading is within its limit (or as stated when no readings are given). A
failing check takes the instrument out of service and opens an out-of-tolerance case,
as a failing calibration does (``app.services.oot.open_check_case_in``). A check moves
the instrument's check schedule on (``app.services.schedules.done_in``). Checks are
never deleted: they are voided with a reason, as calibrations are: the case a voided
check opened stays open for QA (voiding is no assessment of impact), the open cases'
last good day follows the checks still valid, and the status stays as it is.
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from datetime import date, datetime

from app.clock import Clock
from app.db.models import Instrument, IntermediateCheck
from app.errors import NotFoundError, ValidationError
from app.identity import Identity
from app.limits import NOTES_LEN, SHORT_LEN
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter, canonical_json
from app.services.bounds import day_problem, id_problem
from app.services.check_readings import readings_of
from app.services.dto import CheckReading, CheckView
from app.services.lookups import require_instrument
from app.services.oot import open_check_case_in, refresh_open_cases_in
from app.services.schedules import done_in, undone_in
from app.services.snapshots import check_snapshot, created, diff, instrument_snapshot
from app.services.validation import clean_text
from app.services.voiding import touch_instrument

ENTITY = "check"
MAX_READINGS = 50
MAX_MAGNITUDE = 1e15


@dataclass(frozen=True)
class CheckInput:
    """What `checks add` and the Record check dialog give."""

    performed_on: date
    readings: tuple[CheckReading, ...] = ()
    standard: str = ""  # an asset tag of the register, or free text (an artefact)
    performed_by: str = ""  # "": the current user
    notes: str = ""
    result: str = ""  # "pass" / "fail" when no readings are given; else computed


def parse_reading(text: str) -> CheckReading:
    """ "NOMINAL:READING:LIMIT" (numbers; the limit ± around the nominal)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise ValidationError({"value": f"{text!r} is not NOMINAL:READING:LIMIT (as 20:20.3:0.5)"})
    numbers: list[float] = []
    for part in parts:
        try:
            number = float(part.strip())
        except ValueError:
            raise ValidationError(
                {"value": f"{part.strip()!r} in {text!r} is not a number"}
            ) from None
        if not math.isfinite(number) or abs(number) > MAX_MAGNITUDE:
            raise ValidationError({"value": f"{part.strip()!r} in {text!r} is out of range"})
        numbers.append(number)
    if numbers[2] < 0:
        raise ValidationError({"value": f"the limit in {text!r} must not be negative"})
    return CheckReading(*numbers)


def check_result(readings: tuple[CheckReading, ...], stated: str) -> str:
    """Pass when every reading is within its limit; as stated when there are none. A
    stated result the readings contradict is refused (one rule: the numbers decide)."""
    if not readings:
        if stated not in ("pass", "fail"):
            raise ValidationError({"result": "give readings, or the result (pass or fail)"})
        return stated
    computed = "pass" if all(r.passed for r in readings) else "fail"
    if stated and stated != computed:
        raise ValidationError({"result": f"the readings say {computed}, not {stated}"})
    return computed


def _readings_json(readings: tuple[CheckReading, ...]) -> str:
    return canonical_json([[r.nominal, r.reading, r.limit] for r in readings])


def check_views(
    uow: UnitOfWork, checks: builtins.list[IntermediateCheck]
) -> builtins.list[CheckView]:
    ids = {c.instrument_id for c in checks} | {c.standard_id for c in checks if c.standard_id}
    tags = uow.instruments.tags_by_id(sorted(ids))
    cases = uow.oot_cases.by_check_ids([c.id for c in checks if c.result == "fail"])
    return [
        CheckView(
            id=c.id,
            asset_tag=tags.get(c.instrument_id, "?"),
            performed_on=c.performed_on,
            performed_by=c.performed_by,
            standard=tags.get(c.standard_id, "?") if c.standard_id else c.standard_text,
            readings=readings_of(c.readings),
            result=c.result,
            notes=c.notes,
            voided_at=c.voided_at,
            void_reason=c.void_reason or "",
            version=c.version,
            oot_case_id=cases.get(c.id),
        )
        for c in checks
    ]


@dataclass(frozen=True)
class CheckedInput:
    """A check's fields after the rules: cleaned text and the result that stands."""

    data: CheckInput
    standard: str
    performed_by: str
    notes: str
    result: str


def check_fields(data: CheckInput, today: date) -> CheckedInput:
    """The rules of a check's fields (the form's, the CLI's and an import's), or
    ValidationError naming each field that is wrong."""
    errors: dict[str, str] = {}
    problem = day_problem(data.performed_on)
    if problem:
        errors["date"] = problem
    elif data.performed_on > today:
        errors["date"] = f"{data.performed_on} is in the future"
    if len(data.readings) > MAX_READINGS:
        errors["value"] = f"at most {MAX_READINGS} readings"
    standard = clean_text("standard", data.standard, SHORT_LEN, errors)
    by = clean_text("performed_by", data.performed_by, SHORT_LEN, errors)
    notes = clean_text("notes", data.notes, NOTES_LEN, errors, multiline=True)
    if not standard and "standard" not in errors:
        errors["standard"] = "name the check standard or artefact"
    try:
        result = check_result(data.readings, data.result)
    except ValidationError as exc:
        errors.update(exc.fields)
        result = ""
    if errors:
        raise ValidationError(errors)
    return CheckedInput(data, standard, by, notes, result)


def void_reason(reason: str) -> str:
    """The reason a check is voided, cleaned (required), or ValidationError."""
    errors: dict[str, str] = {}
    why = clean_text("reason", reason, NOTES_LEN, errors)
    if not why and "reason" not in errors:
        errors["reason"] = "a reason is required to void a check"
    if errors:
        raise ValidationError(errors)
    return why


def add_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    checked: CheckedInput,
    *,
    reason: str = "",
    keep_status: bool = False,
    moves_schedule: bool = True,
) -> IntermediateCheck:
    """Record a check in the caller's transaction (``checked`` from ``check_fields``).
    A failing one takes the instrument out of service unless ``keep_status`` (history
    for an instrument whose status is already registered); ``moves_schedule`` False:
    the check schedule stays (a check that arrives voided)."""
    reference = uow.instruments.get_by_tag(checked.standard)
    if reference is not None and reference.id == instrument.id:
        raise ValidationError({"standard": "an instrument cannot be its own check standard"})
    check = IntermediateCheck(
        instrument_id=instrument.id,
        performed_on=checked.data.performed_on,
        performed_by=checked.performed_by or identity.user,
        standard_id=reference.id if reference else None,
        standard_text="" if reference else checked.standard,
        readings=_readings_json(checked.data.readings),
        result=checked.result,
        notes=checked.notes,
        voided_at=None,
        voided_by=None,
        void_reason=None,
        created_at=audit.now,
        created_by=identity.user,
        updated_at=audit.now,
        updated_by=identity.user,
    )
    uow.checks.add(check)
    label = f"{instrument.asset_tag} check #{check.id}"
    audit.record(ENTITY, check.id, label, "create", created(check_snapshot(check)), reason)
    why = f"check #{check.id}"
    if moves_schedule:
        done_in(uow, audit, identity, instrument, "check", checked.data.performed_on, why)
    if checked.result == "fail" and instrument.status == "in_service" and not keep_status:
        # Out of use until QA has looked, as after a failing calibration.
        before = instrument_snapshot(instrument)
        instrument.status = "out_of_service"
        touch_instrument(uow, audit, identity, instrument, before, f"{why} failed")
    return check


def void_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    check: IntermediateCheck,
    why: str,
    imported: tuple[datetime | None, str] | None = None,
) -> None:
    """Void a check in the caller's transaction; the check schedule falls back to the
    latest valid check. ``imported``: (voided at, voided by) as another CalTrack
    recorded them (None parts: now, this user); the schedule is left as it is."""
    if check.voided_at is not None:
        raise ValidationError({"id": f"check #{check.id} is already voided"})
    case = uow.oot_cases.for_check(check.id)
    if case is not None and case.status == "open":
        # As for a failing calibration: an open case is QA's to settle, and a
        # technician voiding the check must not make it look settled.
        require_role(
            uow,
            identity,
            "qa",
            f"void check #{check.id} while its out-of-tolerance case OOT-{case.id} is open",
        )
    before = check_snapshot(check)
    voided_at, voided_by = imported if imported is not None else (None, "")
    check.voided_at = voided_at or audit.now
    check.voided_by = voided_by or identity.user
    check.void_reason = why
    check.updated_at = audit.now
    check.updated_by = identity.user
    uow.checks.flush()
    tags = uow.instruments.tags_by_id([check.instrument_id])
    label = f"{tags.get(check.instrument_id, '?')} check #{check.id}"
    audit.record(ENTITY, check.id, label, "void", diff(before, check_snapshot(check)), why)
    instrument = uow.instruments.get(check.instrument_id)
    if instrument is not None and imported is None:
        valid = [c for c in uow.checks.history(instrument.id) if c.voided_at is None]
        latest = valid[0].performed_on if valid else None
        moved = f"check #{check.id} voided"
        undone_in(uow, audit, identity, instrument, "check", latest, moved)
        refresh_open_cases_in(uow, audit, identity, instrument, moved)


class CheckService:
    """Record, list and void intermediate checks."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def add(self, tag: str, data: CheckInput) -> CheckView:
        """Record a check; a failing one opens an out-of-tolerance case and takes the
        instrument out of service, as a failing calibration does (an imported one, as an
        imported calibration, opens none)."""
        checked = check_fields(data, self._clock.today())

        def write(uow: UnitOfWork) -> CheckView:
            instrument = require_instrument(uow, tag)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            check = add_in(uow, audit, self._identity, instrument, checked)
            if check.result == "fail":
                open_check_case_in(uow, audit, self._identity, check, instrument)
            else:  # a passing check entered late narrows what open cases may have affected
                why = f"check #{check.id} recorded"
                refresh_open_cases_in(uow, audit, self._identity, instrument, why)
            audit.flush()
            return check_views(uow, [check])[0]

        return self._uow.write(write, label="record check")

    def list(self, tag: str) -> builtins.list[CheckView]:
        """An instrument's checks, newest first (voided ones too, marked)."""

        def read(uow: UnitOfWork) -> builtins.list[CheckView]:
            instrument = require_instrument(uow, tag)
            return check_views(uow, uow.checks.history(instrument.id))

        return self._uow.read(read)

    def void(self, check_id: int, reason: str) -> CheckView:
        """Void a check (never delete); the check schedule falls back to the latest
        valid check. As when a calibration is voided (``app.services.voiding``): the
        case a failing check opened stays open for QA to close, the open cases' last
        good day follows the checks still valid, and the instrument's status stays
        (putting it back in service is QA's, when it closes the case)."""
        errors: dict[str, str] = {}
        problem = id_problem(check_id, "check number")
        if problem:
            errors["id"] = problem
        try:
            why = void_reason(reason)
        except ValidationError as exc:
            errors.update(exc.fields)
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> CheckView:
            # The chain lock first (as custody's void): two voids of one check then
            # queue, and the second reads it as the first left it and is told it is void.
            audit = AuditChainWriter(uow, self._identity, self._clock)
            check = uow.checks.get(check_id)
            if check is None:
                raise NotFoundError(f"no check #{check_id}; `checks list TAG` shows them")
            void_in(uow, audit, self._identity, check, why)
            audit.flush()
            return check_views(uow, [check])[0]

        return self._uow.write(write, label="void check")
