"""Several schedules per instrument (issue 15): calibration, intermediate check and
maintenance, each with its own interval, due date, due-soon window, grace and "before
next use" mode.

The calibration schedule is the instrument's own (its interval, grace and next due, kept
by the calibration services as before) and is listed first; the check and maintenance
schedules live in ``instrument_schedule``. The arithmetic is ``app.services.due``'s.

Other features meet the schedules through three calls: ``done_in`` (a check was
recorded, a maintenance event logged: the schedule moves on), ``used_in`` (the
instrument was checked out: its before-use schedules become due) and
``due_before_use`` (what must be done before it may be checked out).
An instrument type may give default check and maintenance schedules
(``type_default``): an instrument that gets the type (created with it, edited or
imported into it) gets each default of a kind it has no schedule of
(``give_type_defaults_in``), and ``TypeService.apply_defaults`` gives them to the
instruments of a type that lack them, on request. An instrument's own schedule, even a
cleared one (someone stopped it, with a reason), is never overwritten by a type.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.clock import Clock
from app.db.models import Instrument, InstrumentSchedule, InstrumentType
from app.errors import NotFoundError, ValidationError
from app.identity import Identity
from app.repositories.instruments import DueFilter
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit import AuditChainWriter
from app.services.bounds import add_days, day_problem
from app.services.dto import ScheduleDefault, ScheduleView
from app.services.due import (
    Interval,
    IntervalUnit,
    ScheduleKind,
    ScheduleStatus,
    advance,
    due_status,
    schedule_status,
)
from app.services.lookups import require_instrument
from app.services.settings import due_soon_days
from app.services.snapshots import created, diff, schedule_snapshot
from app.vocabulary import SCHEDULE_ROW_KINDS, ScheduleRowKind
from app.words import count

ENTITY = "schedule"
# The kinds a schedule row may have; calibration's schedule is the instrument's own.
ROW_KINDS: tuple[ScheduleRowKind, ...] = SCHEDULE_ROW_KINDS
KIND_PLURALS = {"calibration": "calibrations", "check": "checks", "maintenance": "maintenance"}
MAX_INTERVAL_DAYS = 36500
MAX_INTERVAL_MONTHS = 1200
MAX_WINDOW_DAYS = 3650
_INTERVAL = re.compile(r"^\s*(\d+)\s*([dm])\s*$", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class ScheduleInput:
    """What `schedules set` and the schedule dialog give for a check or maintenance."""

    kind: str
    every: str = ""  # "30d", "6m"; "" with before_use only
    grace_days: int = 0
    soon_days: int | None = None  # None: the lab's due-soon window
    before_use: bool = False


def parse_interval(text: str) -> Interval:
    """ "30d" / "6m" (days or calendar months), or ValidationError naming the field."""
    match = _INTERVAL.match(text)
    if match is None:
        raise ValidationError(
            {"every": f"{text!r} is not an interval: a whole number and d or m, as 30d or 6m"}
        )
    digits, unit_text = match.group(1), match.group(2).lower()
    # Any run of digits is a number too big to be an interval past nine: no int() of it.
    count = int(digits) if len(digits) <= 9 else MAX_INTERVAL_DAYS * 10
    unit: IntervalUnit = "m" if unit_text == "m" else "d"
    limit = MAX_INTERVAL_MONTHS if unit == "m" else MAX_INTERVAL_DAYS
    if not 1 <= count <= limit:
        what = "months" if unit == "m" else "days"
        raise ValidationError({"every": f"must be between 1 and {limit} {what}"})
    return Interval(count, unit)


def checked_values(
    every: str, grace_days: int, soon_days: int | None, before_use: bool
) -> Interval | None:
    """The one check of a schedule's values (an instrument's or a type's default): its
    interval, or None for before use only; ValidationError names each field wrong."""
    errors: dict[str, str] = {}
    interval: Interval | None = None
    if every.strip():
        try:
            interval = parse_interval(every)
        except ValidationError as exc:
            errors.update(exc.fields)
    elif not before_use:
        errors["every"] = "give an interval (as 30d or 6m), or before use, or both"
    _window("grace_days", grace_days, errors)
    _window("soon_days", soon_days, errors)
    if errors:
        raise ValidationError(errors)
    return interval


def _kind(text: str) -> ScheduleKind:
    for kind in ROW_KINDS:
        if text == kind:
            return kind
    raise ValidationError({"kind": f"{text!r} is not a schedule kind: check or maintenance"})


def _window(name: str, value: int | None, errors: dict[str, str]) -> None:
    if value is not None and not 0 <= value <= MAX_WINDOW_DAYS:
        errors[name] = f"must be between 0 and {MAX_WINDOW_DAYS} days"


def _interval_of(row: InstrumentSchedule) -> Interval | None:
    if row.interval_count is None or row.interval_unit not in ("d", "m"):
        return None
    return Interval(row.interval_count, "m" if row.interval_unit == "m" else "d")


def row_status(row: InstrumentSchedule, today: date, lab_soon: int) -> ScheduleStatus:
    """The state of a check or maintenance schedule today."""
    return schedule_status(
        next_due=row.next_due,
        today=today,
        soon_days=lab_soon if row.soon_days is None else row.soon_days,
        grace_days=row.grace_days,
        due_before_use=row.due_before_use,
    )


def calibration_view(instrument: Instrument, today: date, lab_soon: int) -> ScheduleView:
    """The instrument's calibration as its first schedule (its own columns, unchanged)."""
    periodic = instrument.calibration_requirement == "periodic"
    return ScheduleView(
        kind="calibration",
        interval=f"{instrument.calibration_interval_days}d" if periodic else "",
        soon_days=lab_soon,
        grace_days=instrument.grace_days,
        before_use=instrument.calibration_requirement == "verify_before_use",
        last_done=instrument.last_calibrated,
        next_due=instrument.next_due,
        status=due_status(
            instrument.status,
            instrument.next_due,
            today,
            lab_soon,
            instrument.calibration_requirement,
        ),
        version=0,
    )


def row_view(row: InstrumentSchedule, today: date, lab_soon: int) -> ScheduleView:
    interval = _interval_of(row)
    return ScheduleView(
        kind=_kind(row.kind),
        interval=interval.text() if interval else "",
        soon_days=lab_soon if row.soon_days is None else row.soon_days,
        grace_days=row.grace_days,
        before_use=row.before_use,
        last_done=row.last_done,
        next_due=row.next_due,
        status=row_status(row, today, lab_soon),
        version=row.version,
    )


def schedule_views(uow: UnitOfWork, instrument: Instrument, today: date) -> list[ScheduleView]:
    """Calibration first, then the instrument's active check and maintenance schedules."""
    lab_soon = due_soon_days(uow)
    views = [calibration_view(instrument, today, lab_soon)]
    views += [
        row_view(r, today, lab_soon)
        for r in uow.schedules.for_instrument(instrument.id)
        if r.active
    ]
    return views


def _audit(
    audit: AuditChainWriter,
    row: InstrumentSchedule,
    tag: str,
    action: str,
    changes: dict[str, list[object]],
    reason: str,
) -> None:
    audit.record(ENTITY, row.id, f"{tag} {row.kind}", action, changes, reason)


@dataclass(frozen=True)
class RecordedState:
    """A schedule's state as another CalTrack recorded it (an import of its export):
    kept as recorded on a new schedule, as history keeps its own due dates."""

    last_done: date | None
    next_due: date | None
    due_before_use: bool
    active: bool


def schedule_fields(data: ScheduleInput) -> Interval | None:
    """The rules of a schedule's settings: its interval (None: before use only), or
    ValidationError naming each field that is wrong."""
    errors: dict[str, str] = {}
    try:
        _kind(data.kind)
    except ValidationError as exc:
        errors.update(exc.fields)
    interval: Interval | None = None
    try:
        interval = checked_values(data.every, data.grace_days, data.soon_days, data.before_use)
    except ValidationError as exc:
        errors.update(exc.fields)
    if errors:
        raise ValidationError(errors)
    return interval


def set_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    today: date,
    instrument: Instrument,
    data: ScheduleInput,
    interval: Interval | None,
    reason: str,
    recorded: RecordedState | None = None,
) -> InstrumentSchedule:
    """Add or change a schedule in the caller's transaction (``interval`` from
    ``schedule_fields(data)``). ``recorded``: a new schedule takes that state as it is
    (an existing one keeps its own: it follows what was done here)."""
    kind = _kind(data.kind)
    row = uow.schedules.get(instrument.id, kind)
    if row is None:
        values_set = ScheduleDefault(data.every, data.soon_days, data.grace_days, data.before_use)
        return new_schedule_in(
            uow, audit, identity, instrument, kind, values_set, today, reason, recorded
        )
    start = row.last_done or today
    values: dict[str, object] = {
        "interval_count": interval.count if interval else None,
        "interval_unit": interval.unit if interval else None,
        "soon_days": data.soon_days,
        "grace_days": data.grace_days,
        "before_use": data.before_use,
        "next_due": advance(start, interval) if interval else None,
        "active": True,
    }
    before = schedule_snapshot(row)
    for name, value in values.items():
        setattr(row, name, value)
    if not data.before_use:
        row.due_before_use = False
    elif not before["before_use"] or not before["active"]:
        row.due_before_use = True  # newly before use: due before the next use
    changed = diff(before, schedule_snapshot(row))
    if changed:
        row.updated_at = audit.now
        row.updated_by = identity.user
        uow.schedules.flush()
        _audit(audit, row, instrument.asset_tag, "update", changed, reason)
    return row


def clear_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    row: InstrumentSchedule,
    reason: str,
) -> None:
    """Stop an active schedule in the caller's transaction (kept, inactive; audited)."""
    before = schedule_snapshot(row)
    row.active = False
    row.due_before_use = False
    row.updated_at = audit.now
    row.updated_by = identity.user
    uow.schedules.flush()
    changed = diff(before, schedule_snapshot(row))
    _audit(audit, row, instrument.asset_tag, "clear", changed, reason)


def same_settings(row: InstrumentSchedule, data: ScheduleInput, interval: Interval | None) -> bool:
    """Whether ``data`` (checked: ``interval`` from ``schedule_fields``) is what ``row``
    already says: setting it again would change nothing but its dates."""
    return (
        _interval_of(row) == interval
        and row.grace_days == data.grace_days
        and row.soon_days == data.soon_days
        and row.before_use == data.before_use
    )


def recorded_problems(recorded: RecordedState, today: date) -> dict[str, str]:
    """What is wrong with a recorded state's days (the field they came from → why)."""
    errors: dict[str, str] = {}
    for name, day in (("last_done", recorded.last_done), ("next_due", recorded.next_due)):
        problem = day_problem(day) if day is not None else ""
        if problem:
            errors[name] = problem
    if recorded.last_done is not None and "last_done" not in errors and recorded.last_done > today:
        errors["last_done"] = f"{recorded.last_done} is in the future"
    return errors


def new_schedule_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    kind: ScheduleKind,
    values: ScheduleDefault,
    today: date,
    reason: str,
    recorded: RecordedState | None = None,
) -> InstrumentSchedule:
    """A first schedule of ``kind`` (checked values): due one interval from ``today``
    (so it is not overdue the day it is set) and, when before use, due before the next
    use. ``recorded``: the state as another CalTrack recorded it (an import), kept as it
    is. Audited as created."""
    interval = parse_interval(values.every) if values.every else None
    next_due = advance(today, interval) if interval else None
    last_done: date | None = None
    due_before_use, active = values.before_use, True
    if recorded is not None:
        errors = recorded_problems(recorded, today)
        if errors:
            raise ValidationError(errors)
        if recorded.next_due is not None or interval is None:
            next_due = recorded.next_due
        else:  # no next due given: one interval after it was last done
            next_due = advance(recorded.last_done or today, interval)
        last_done, due_before_use = recorded.last_done, recorded.due_before_use
        active = recorded.active
    row = InstrumentSchedule(
        instrument_id=instrument.id,
        kind=kind,
        interval_count=interval.count if interval else None,
        interval_unit=interval.unit if interval else None,
        soon_days=values.soon_days,
        grace_days=values.grace_days,
        before_use=values.before_use,
        due_before_use=due_before_use,
        last_done=last_done,
        next_due=next_due,
        active=active,
        created_at=audit.now,
        created_by=identity.user,
        updated_at=audit.now,
        updated_by=identity.user,
    )
    uow.schedules.add(row)
    _audit(audit, row, instrument.asset_tag, "create", created(schedule_snapshot(row)), reason)
    return row


# -- a type's default schedules ----------------------------------------------------------


def type_default(kind_obj: InstrumentType, kind: str) -> ScheduleDefault | None:
    """The type's default ``kind`` schedule as stored, or None when it gives none."""
    value = ScheduleDefault(
        every=str(getattr(kind_obj, f"{kind}_every") or ""),
        soon_days=getattr(kind_obj, f"{kind}_soon_days"),
        grace_days=int(getattr(kind_obj, f"{kind}_grace_days") or 0),
        before_use=bool(getattr(kind_obj, f"{kind}_before_use")),
    )
    return value if value.is_set() else None


def checked_default(kind: str, value: ScheduleDefault | None) -> ScheduleDefault | None:
    """A type's default ``kind`` schedule checked by the rule of every schedule and made
    canonical ("6M " → "6m"); None when it is none. ValidationError names the fields as
    ``check_every``, ``maintenance_grace_days`` ..."""
    if value is None or not value.is_set():
        return None
    errors: dict[str, str] = {}
    interval: Interval | None = None
    for name in ("grace_days", "soon_days"):
        number = getattr(value, name)
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            errors[f"{kind}_{name}"] = f"a whole number of days (got {number!r})"
    if not errors:
        try:
            interval = checked_values(
                value.every, value.grace_days, value.soon_days, value.before_use
            )
        except ValidationError as exc:
            errors = {f"{kind}_{name}": message for name, message in exc.fields.items()}
    if errors:
        raise ValidationError(errors)
    return ScheduleDefault(
        every=interval.text() if interval else "",
        soon_days=value.soon_days,
        grace_days=value.grace_days,
        before_use=bool(value.before_use),
    )


def set_type_default(kind_obj: InstrumentType, kind: str, value: ScheduleDefault | None) -> None:
    """Store a checked default ``kind`` schedule on the type (None: none)."""
    value = value or ScheduleDefault()
    setattr(kind_obj, f"{kind}_every", value.every)
    setattr(kind_obj, f"{kind}_soon_days", value.soon_days)
    setattr(kind_obj, f"{kind}_grace_days", value.grace_days)
    setattr(kind_obj, f"{kind}_before_use", value.before_use)


def give_type_defaults_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    kind_obj: InstrumentType,
    today: date,
    reason: str = "",
    kinds: Sequence[str] = ROW_KINDS,
) -> list[str]:
    """Give ``instrument`` each default schedule of its type ``kind_obj`` of a kind it
    has no schedule of (none at all: a cleared one is the instrument's own choice and
    stays cleared), in the caller's transaction, each audited. The kinds given."""
    why = "; ".join(r for r in (f"default schedule of type {kind_obj.name}", reason) if r)
    given: list[str] = []
    for kind in kinds:
        checked = _kind(kind)
        default = type_default(kind_obj, checked)
        if default is None or uow.schedules.get(instrument.id, checked) is not None:
            continue
        new_schedule_in(uow, audit, identity, instrument, checked, default, today, why)
        given.append(checked)
    return given


def done_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    kind: str,
    on: date,
    why: str,
) -> bool:
    """A check or maintenance of ``kind`` was done on ``on``: its schedule (if active)
    moves its next due on from that day and is no longer due before use. True when it
    moved.

    A schedule only moves forward. A record entered late moves nothing when it is dated
    before the schedule's last done, or when its next due would come before the one in
    force: it was done before the schedule was set (or last set), which started the
    schedule from that day, so it cannot make the schedule due earlier nor count as
    the work done before the next use.
    """
    row = uow.schedules.get(instrument.id, _kind(kind))
    if row is None or not row.active:
        return False
    interval = _interval_of(row)
    next_due = advance(on, interval) if interval else None
    if row.last_done is not None and on < row.last_done:
        return False
    if next_due is not None and row.next_due is not None and next_due < row.next_due:
        return False
    before = schedule_snapshot(row)
    row.last_done = on
    row.next_due = next_due
    row.due_before_use = False
    changed = diff(before, schedule_snapshot(row))
    if not changed:
        return False
    row.updated_at = audit.now
    row.updated_by = identity.user
    uow.schedules.flush()
    _audit(audit, row, instrument.asset_tag, "update", changed, why)
    return True


def undone_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    kind: str,
    latest: date | None,
    why: str,
) -> bool:
    """What moved the ``kind`` schedule was voided: it falls back to ``latest``, the
    latest valid one still on record (none: its next due stays, its last done goes).
    True when it changed."""
    row = uow.schedules.get(instrument.id, _kind(kind))
    if row is None or not row.active or row.last_done == latest:
        return False
    before = schedule_snapshot(row)
    interval = _interval_of(row)
    row.last_done = latest
    if latest is not None and interval is not None:
        row.next_due = advance(latest, interval)
    row.updated_at = audit.now
    row.updated_by = identity.user
    uow.schedules.flush()
    _audit(audit, row, instrument.asset_tag, "update", diff(before, schedule_snapshot(row)), why)
    return True


def used_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    why: str,
) -> list[str]:
    """The instrument was checked out (issue 15's custody): its active before-use
    schedules are due again before its next use. The kinds that became due."""
    armed: list[str] = []
    for row in uow.schedules.for_instrument(instrument.id):
        if not (row.active and row.before_use) or row.due_before_use:
            continue
        before = schedule_snapshot(row)
        row.due_before_use = True
        row.updated_at = audit.now
        row.updated_by = identity.user
        uow.schedules.flush()
        _audit(
            audit, row, instrument.asset_tag, "update", diff(before, schedule_snapshot(row)), why
        )
        armed.append(row.kind)
    return armed


def due_before_use_in(uow: UnitOfWork, instrument: Instrument, today: date) -> list[str]:
    """The schedules that must be done before the instrument is used (checked out):
    an armed before-use schedule, or one overdue past its grace."""
    lab_soon = due_soon_days(uow)
    return [
        row.kind
        for row in uow.schedules.for_instrument(instrument.id)
        if row.active and row_status(row, today, lab_soon) in ("before-use", "overdue")
    ]


def due_rows_in(
    uow: UnitOfWork, today: date, soon_days: int, statuses: Sequence[str]
) -> list[tuple[str, ScheduleView]]:
    """(tag, schedule) of the active check and maintenance schedules of instruments in
    service whose status today (with ``soon_days`` as the window) is one of ``statuses``:
    what the due and overdue reports list beside the calibrations."""
    found: list[tuple[str, ScheduleView]] = []
    for row, tag in uow.schedules.active_in_service():
        view = row_view(row, today, soon_days)
        if view.status in statuses:
            found.append((tag, view))
    return found


@dataclass(frozen=True)
class DueCounts:
    """How many schedules of each kind are due soon and overdue (instruments in service).

    For checks and maintenance "overdue" counts every schedule that must be done before
    the instrument is used: past its date (in grace or beyond) or due before use."""

    due_soon: dict[str, int]
    overdue: dict[str, int]

    def sentence(self, which: str = "due_soon") -> str:
        """ "Due soon: 175 calibrations, 12 checks, 3 maintenance"."""
        counts = self.due_soon if which == "due_soon" else self.overdue
        title = "Due soon" if which == "due_soon" else "Overdue"
        parts = [count(counts.get(k, 0), k, KIND_PLURALS[k]) for k in KIND_PLURALS]
        return f"{title}: {', '.join(parts)}"


class ScheduleService:
    """An instrument's schedules: list, set, clear, and the calls other features make."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def list(self, tag: str) -> builtins.list[ScheduleView]:
        """Calibration first, then the active check and maintenance schedules."""

        def read(uow: UnitOfWork) -> builtins.list[ScheduleView]:
            instrument = require_instrument(uow, tag)
            return self._views(uow, instrument)

        return self._uow.read(read)

    def _views(self, uow: UnitOfWork, instrument: Instrument) -> builtins.list[ScheduleView]:
        return schedule_views(uow, instrument, self._clock.today())

    def set(self, tag: str, data: ScheduleInput, *, reason: str = "") -> ScheduleView:
        """Add or change the ``data.kind`` schedule of ``tag``. A changed interval moves
        the next due from the last time it was done (none yet: due in one interval
        from today, so a new schedule is not overdue the day it is set)."""
        interval = schedule_fields(data)

        def write(uow: UnitOfWork) -> ScheduleView:
            instrument = require_instrument(uow, tag)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            today = self._clock.today()
            row = set_in(uow, audit, self._identity, today, instrument, data, interval, reason)
            audit.flush()
            return row_view(row, today, due_soon_days(uow))

        return self._uow.write(write, label=f"set {_kind(data.kind)} schedule")

    def clear(self, tag: str, kind: str, *, reason: str) -> None:
        """Stop the ``kind`` schedule of ``tag`` (kept, inactive; audited).

        A reason is required, as for every removal from what QA relies on (voiding a
        record, a check or an attachment, retiring a provider): a stopped check or
        maintenance schedule is a change to how the instrument is kept fit for use.
        """
        checked = _kind(kind)
        why = reason.strip()
        if not why:
            raise ValidationError(
                {"reason": "a reason is required to clear a schedule (kept in the audit trail)"}
            )

        def write(uow: UnitOfWork) -> None:
            instrument = require_instrument(uow, tag)
            row = uow.schedules.get(instrument.id, checked)
            if row is None or not row.active:
                raise NotFoundError(f"{instrument.asset_tag} has no {checked} schedule")
            audit = AuditChainWriter(uow, self._identity, self._clock)
            clear_in(uow, audit, self._identity, instrument, row, why)
            audit.flush()

        self._uow.write(write, label=f"clear {checked} schedule")

    def done(self, tag: str, kind: str, on: date, *, why: str = "") -> bool:
        """A check or maintenance of ``kind`` was done on ``on`` (for the maintenance
        log at merge: "a maintenance event of kind maintenance was logged")."""
        problem = day_problem(on)
        if problem:
            raise ValidationError({"date": problem})

        def write(uow: UnitOfWork) -> bool:
            instrument = require_instrument(uow, tag)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            moved = done_in(uow, audit, self._identity, instrument, kind, on, why or f"{kind} done")
            audit.flush()
            return moved

        return self._uow.write(write, label=f"{kind} done")

    def used(self, tag: str, *, why: str = "checked out") -> builtins.list[str]:
        """The instrument was checked out: its before-use schedules are due again."""

        def write(uow: UnitOfWork) -> builtins.list[str]:
            instrument = require_instrument(uow, tag)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            armed = used_in(uow, audit, self._identity, instrument, why)
            audit.flush()
            return armed

        return self._uow.write(write, label="instrument used")

    def due_before_use(self, tag: str) -> builtins.list[str]:
        """What must be done before ``tag`` is checked out (for the custody check-out)."""
        return self._uow.read(
            lambda uow: due_before_use_in(uow, require_instrument(uow, tag), self._clock.today())
        )

    def counts(self) -> DueCounts:
        """Due soon and overdue per kind, over instruments in service."""

        def read(uow: UnitOfWork) -> DueCounts:
            today, lab_soon = self._clock.today(), due_soon_days(uow)
            soon: dict[str, int] = {k: 0 for k in KIND_PLURALS}
            late: dict[str, int] = {k: 0 for k in KIND_PLURALS}
            cal = uow.instruments.status_counts(today, add_days(today, lab_soon))
            soon["calibration"] = cal[DueFilter.DUE_SOON]
            late["calibration"] = cal[DueFilter.OVERDUE]
            for row, _tag in uow.schedules.active_in_service():
                status = row_status(row, today, lab_soon)
                if status == "due-soon":
                    soon[row.kind] += 1
                elif status in ("overdue", "in-grace", "before-use"):
                    late[row.kind] += 1
            return DueCounts(soon, late)

        return self._uow.read(read)

    def due(self, kinds: Sequence[str] = ROW_KINDS) -> builtins.list[tuple[str, ScheduleView]]:
        """(tag, schedule) of the check and maintenance schedules due soon or late."""
        wanted = {_kind(k) for k in kinds}

        def read(uow: UnitOfWork) -> builtins.list[tuple[str, ScheduleView]]:
            today, lab_soon = self._clock.today(), due_soon_days(uow)
            found: builtins.list[tuple[str, ScheduleView]] = []
            for row, tag in uow.schedules.active_in_service():
                if row.kind not in wanted:
                    continue
                view = row_view(row, today, lab_soon)
                if view.status not in ("ok", "not-done"):
                    found.append((tag, view))
            return found

        return self._uow.read(read)
