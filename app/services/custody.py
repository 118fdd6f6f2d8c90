"""Custody: who has an instrument. Check-out to a person and a place, and check-in.

The one home of the custody rules, for the window, the command line and an import:

- an instrument that is out of service, retired, lost, or overdue for calibration (its
  next due plus its grace days passed, as standards are judged in
  ``app.services.traceability``) is refused at check-out, and the refusal says why;
- QA may let it out anyway with a reason, which the check-out keeps and the audit
  trail records;
- an instrument has one holder at a time: checking out one that is out, or checking
  in one that is not, is an error that says who has it or that nobody does;
- a wrong entry is voided with a reason, never deleted (voiding an open check-out
  leaves the instrument with nobody);
- an imported check-out (``import_in``) is history, as an imported calibration is: a
  returned or voided one is kept as it was (the check-out rules judged it then), and
  an open one is refused only for what is true now: someone has the instrument here,
  it is at a provider, or it is retired or lost (``gone_refusal``).

Every change is audited in its own transaction (entity ``custody``), and ``db verify``
replays the trail against the table.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import date, datetime

from app.clock import Clock
from app.db.models import Custody, Instrument
from app.errors import ConflictError, ConflictSide, NotFoundError, ValidationError
from app.identity import Identity
from app.limits import NOTES_LEN, SHORT_LEN, USER_LEN
from app.plain_text import tag_key, tag_problem
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import ROLE_RANK, require_role, user_view
from app.services.audit import AuditChainWriter
from app.services.bounds import add_days
from app.services.dto import CustodyCheck, CustodyView, to_jsonable
from app.services.due import due_status
from app.services.lookups import require_instrument
from app.services.schedules import due_before_use_in, used_in
from app.services.sendouts import batch_label
from app.services.settings import due_soon_days
from app.services.snapshots import created, custody_snapshot, diff
from app.services.validation import clean_text, parse_date
from app.vocabulary import CustodyState

ENTITY = "custody"


def scanned_tag(text: str) -> str:
    """The asset tag in what a scanner typed or a CalTrack label's QR code holds.

    A label's QR code holds the asset tag itself; a scanner types it and ends with
    Enter (or Tab, or CR LF), which is not part of the tag.
    """
    return text.strip(" \t\r\n")


# What a schedule due before use asks for, in the words of a refusal.
BEFORE_USE_WORDS = {"check": "intermediate check", "maintenance": "maintenance"}


def checkout_refusal(uow: UnitOfWork, instrument: Instrument, today: date) -> str:
    """Why the check-out rules refuse ``instrument`` today ("" when they do not): not in
    service, overdue for calibration, or a check or maintenance due before use (an armed
    before-use schedule, or one overdue past its grace)."""
    tag = instrument.asset_tag
    at_provider = uow.sendouts.open_items_of([instrument.id])
    if at_provider:
        return at_provider_text(tag, at_provider[instrument.id])
    if instrument.status != "in_service":
        return status_refusal(instrument)
    due = instrument.next_due
    periodic = instrument.calibration_requirement == "periodic"
    if periodic and due is not None and add_days(due, instrument.grace_days) < today:
        grace = f" and {instrument.grace_days} days' grace" if instrument.grace_days else ""
        return f"{tag} is overdue for calibration (due {due}{grace}): calibrate it first"
    pending = [
        BEFORE_USE_WORDS.get(kind, kind) for kind in due_before_use_in(uow, instrument, today)
    ]
    if pending:
        return f"{tag} needs its {' and '.join(pending)} before use: record it first"
    return ""


# The states no check-out may start from, whenever it was made (what an imported open
# check-out is judged by: the others are about the day it went out).
GONE = ("retired", "lost")


def status_refusal(instrument: Instrument) -> str:
    return f"{instrument.asset_tag} is {instrument.status.replace('_', ' ')}: it may not be used"


def gone_refusal(instrument: Instrument) -> str:
    """Why an instrument may not be out at all now ("" when it may): retired or lost."""
    return status_refusal(instrument) if instrument.status in GONE else ""


def at_provider_text(tag: str, batch_id: int) -> str:
    return f"{tag} is at a provider ({batch_label(batch_id)}): receive it first"


def custody_state(obj: Custody) -> CustodyState:
    if obj.voided_at is not None:
        return "void"
    return "out" if obj.in_at is None else "returned"


def custody_view(obj: Custody, instrument: Instrument, today: date) -> CustodyView:
    state = custody_state(obj)
    return CustodyView(
        id=obj.id,
        instrument_id=obj.instrument_id,
        asset_tag=instrument.asset_tag,
        description=instrument.description,
        holder=obj.holder,
        place=obj.place,
        due_back=obj.due_back,
        override_reason=obj.override_reason,
        out_at=obj.out_at,
        out_by=obj.out_by,
        in_at=obj.in_at,
        in_by=obj.in_by,
        voided_at=obj.voided_at,
        voided_by=obj.voided_by,
        void_reason=obj.void_reason,
        version=obj.version,
        state=state,
        late=state == "out" and obj.due_back is not None and obj.due_back < today,
    )


def custody_label(instrument: Instrument, custody_id: int) -> str:
    """How the audit trail names a check-out: "TH-001 custody #3"."""
    return f"{instrument.asset_tag} custody #{custody_id}"


def _require_tag(uow: UnitOfWork, tag: str) -> Instrument:
    """The instrument of a typed or scanned tag; a look-alike character is refused."""
    text = scanned_tag(tag)
    problem = tag_problem(text)
    if problem:
        raise ValidationError({"scanned_tag": problem})
    if not text:
        raise ValidationError({"scanned_tag": "give an asset tag"})
    return require_instrument(uow, text)


@dataclass(frozen=True)
class ImportedCheckout:
    """A check-out as a file records it (an export's Custody sheet): see ``import_in``."""

    holder: str
    out_at: datetime
    place: str = ""
    out_by: str = ""  # "": the importing user
    due_back: date | None = None
    in_at: datetime | None = None  # None: still out (unless voided)
    in_by: str = ""
    override_reason: str = ""
    voided_at: datetime | None = None
    voided_by: str = ""
    void_reason: str = ""


def custody_key(tag: str, out_at: datetime | None) -> tuple[object, ...]:
    """How an imported check-out is recognised as already here: its instrument and the
    second it went out (a spreadsheet keeps no microseconds)."""
    return (tag_key(tag), out_at.replace(microsecond=0) if out_at else None)


def import_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    entry: ImportedCheckout,
    reason: str,
) -> Custody:
    """Record an imported check-out as history, in the caller's transaction.

    A returned or voided one is kept as it was: the check-out rules judged it on the
    day it went out, and it arms no before-use schedule. An open one is refused when
    someone has the instrument here, when it is at a provider, or when it is retired or
    lost (``gone_refusal``); its recorded QA override reason is kept.
    """
    require_role(uow, identity, "technician", "import check-outs")
    errors: dict[str, str] = {}
    who = clean_text("holder", entry.holder, SHORT_LEN, errors)
    if not who and "holder" not in errors:
        errors["holder"] = "say who had the instrument"
    where = clean_text("place", entry.place, SHORT_LEN, errors)
    why = clean_text("override_reason", entry.override_reason, NOTES_LEN, errors)
    out_by = clean_text("out_by", entry.out_by, USER_LEN, errors) or identity.user
    in_by = clean_text("in_by", entry.in_by, USER_LEN, errors) or identity.user
    voided_by = clean_text("voided_by", entry.voided_by, USER_LEN, errors) or identity.user
    void_reason = clean_text("void_reason", entry.void_reason, NOTES_LEN, errors, multiline=True)
    now = audit.now
    if entry.out_at > now:
        errors["out_at"] = f"{entry.out_at} is in the future; give when it went out"
    for name, moment in (("in_at", entry.in_at), ("voided_at", entry.voided_at)):
        if moment is not None and moment < entry.out_at:
            errors[name] = f"{moment} is before it was checked out ({entry.out_at})"
        elif moment is not None and moment > now:
            errors[name] = f"{moment} is in the future"
    if entry.due_back is not None and entry.due_back < entry.out_at.date():
        errors["due_back"] = f"{entry.due_back} is before it was checked out ({entry.out_at})"
    voided = bool(void_reason) or entry.voided_at is not None
    if voided and not void_reason and "void_reason" not in errors:
        errors["void_reason"] = "the check-out is marked voided but has no void reason"
    if errors:
        raise ValidationError(errors)
    still_out = entry.in_at is None and not voided
    tag = instrument.asset_tag
    if still_out:
        current = uow.custody.open_for(instrument.id)
        if current is not None:
            raise ValidationError(
                {
                    "in_at": f"{tag} is checked out here already (to {current.holder}); an "
                    "open check-out is imported only for an instrument nobody has"
                }
            )
        at_provider = uow.sendouts.open_items_of([instrument.id])
        if at_provider:
            raise ValidationError({"in_at": at_provider_text(tag, at_provider[instrument.id])})
        if refusal := gone_refusal(instrument):
            raise ValidationError({"asset_tag": refusal})
    obj = Custody(
        instrument_id=instrument.id,
        holder=who,
        place=where,
        due_back=entry.due_back,
        override_reason=why,
        out_at=entry.out_at,
        out_by=out_by,
        in_at=entry.in_at,
        in_by=in_by if entry.in_at is not None else None,
        open_instrument_id=instrument.id if still_out else None,
        voided_at=(entry.voided_at or now) if voided else None,
        voided_by=voided_by if voided else None,
        void_reason=void_reason if voided else None,
        updated_at=now,
        updated_by=identity.user,
    )
    uow.custody.add(obj)
    audit.record(
        ENTITY,
        obj.id,
        custody_label(instrument, obj.id),
        "check_out",
        created(custody_snapshot(obj)),
        reason,
    )
    return obj


class CustodyService:
    """Check instruments out and in, list who has what, void a wrong entry."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    # -- reads -----------------------------------------------------------------------

    def check(self, tag: str) -> CustodyCheck:
        """What a scanned or typed tag offers: who has it now and whether it may go out."""

        def read(uow: UnitOfWork) -> CustodyCheck:
            today = self._clock.today()
            instrument = _require_tag(uow, tag)
            current = uow.custody.open_for(instrument.id)
            me = user_view(uow.accounts.get(self._identity.user), self._identity.user)
            return CustodyCheck(
                instrument_id=instrument.id,
                asset_tag=instrument.asset_tag,
                description=instrument.description,
                due_status=due_status(
                    instrument.status,
                    instrument.next_due,
                    today,
                    due_soon_days(uow),
                    instrument.calibration_requirement,
                ),
                current=custody_view(current, instrument, today) if current else None,
                refusal=checkout_refusal(uow, instrument, today),
                may_override=me.active and ROLE_RANK[me.role] >= ROLE_RANK["qa"],
            )

        return self._uow.read(read)

    def history(self, tag: str) -> builtins.list[CustodyView]:
        """Every check-out of the instrument, void ones too, newest first."""

        def read(uow: UnitOfWork) -> list[CustodyView]:
            instrument = _require_tag(uow, tag)
            today = self._clock.today()
            return [custody_view(c, instrument, today) for c in uow.custody.history(instrument.id)]

        return self._uow.read(read)

    def history_of(self, instrument_id: int) -> builtins.list[CustodyView]:
        """``history`` by the instrument's id (the window's detail pane)."""

        def read(uow: UnitOfWork) -> list[CustodyView]:
            instrument = uow.instruments.get(instrument_id)
            if instrument is None:
                return []
            today = self._clock.today()
            return [custody_view(c, instrument, today) for c in uow.custody.history(instrument.id)]

        return self._uow.read(read)

    def out_now(self) -> builtins.list[CustodyView]:
        """What is out now, with whom and since when, by asset tag."""

        def read(uow: UnitOfWork) -> list[CustodyView]:
            today = self._clock.today()
            return [custody_view(c, i, today) for c, i in uow.custody.open_all()]

        return self._uow.read(read)

    # -- writes ----------------------------------------------------------------------

    def check_out(
        self,
        tag: str,
        *,
        holder: str,
        place: str = "",
        due_back: date | str | None = None,
        override_reason: str = "",
    ) -> CustodyView:
        """Check the instrument out to ``holder`` (at ``place``, until ``due_back``).

        Refused when the rules refuse the instrument (see ``checkout_refusal``) unless
        QA gives ``override_reason``; refused when someone has it already.
        """
        errors: dict[str, str] = {}
        who = clean_text("holder", holder, SHORT_LEN, errors)
        if not who and "holder" not in errors:
            errors["holder"] = "say who takes the instrument"
        where = clean_text("place", place, SHORT_LEN, errors)
        until = parse_date("due_back", due_back, errors)
        why = clean_text("override_reason", override_reason, NOTES_LEN, errors)
        today = self._clock.today()
        if until is not None and until < today:
            errors["due_back"] = f"the day it is due back ({until}) is before today ({today})"
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> CustodyView:
            # The chain lock first: on a server, two check-outs of one instrument then
            # queue, and the second sees the first (read committed) and is told who
            # has it, instead of meeting the unique index as a database error.
            audit = AuditChainWriter(uow, self._identity, self._clock)
            require_role(uow, self._identity, "technician", "check instruments out")
            instrument = _require_tag(uow, tag)
            current = uow.custody.open_for(instrument.id)
            if current is not None:
                raise ValidationError(
                    {
                        "check_out": f"{instrument.asset_tag} is already checked out to "
                        f"{current.holder} (since {self._local(current.out_at)}); "
                        "check it in first"
                    }
                )
            at_provider = uow.sendouts.open_items_of([instrument.id])
            if at_provider:
                # Not a rule QA may override: the instrument is not in the lab.
                text = at_provider_text(instrument.asset_tag, at_provider[instrument.id])
                raise ValidationError({"check_out": text})
            refusal = checkout_refusal(uow, instrument, today)
            if refusal and not why:
                raise ValidationError({"check_out": refusal})
            if why and not refusal:
                raise ValidationError(
                    {
                        "override_reason": f"{instrument.asset_tag} may be checked out without "
                        "an override; leave the reason out"
                    }
                )
            if refusal:
                require_role(uow, self._identity, "qa", "override a refused check-out")
            obj = Custody(
                instrument_id=instrument.id,
                holder=who,
                place=where,
                due_back=until,
                override_reason=why,
                out_at=audit.now,
                out_by=self._identity.user,
                in_at=None,
                in_by=None,
                open_instrument_id=instrument.id,
                voided_at=None,
                voided_by=None,
                void_reason=None,
                updated_at=audit.now,
                updated_by=self._identity.user,
            )
            uow.custody.add(obj)
            audit.record(
                ENTITY,
                obj.id,
                custody_label(instrument, obj.id),
                "check_out",
                created(custody_snapshot(obj)),
                f"override: {refusal}; {why}" if refusal else "",
            )
            # Its before-use schedules are due again before the next check-out.
            used_in(uow, audit, self._identity, instrument, f"checked out to {who}")
            audit.flush()
            return custody_view(obj, instrument, today)

        return self._uow.write(write, label="check out")

    def check_in(self, tag: str) -> CustodyView:
        """Check the instrument back in: it is out, and nobody has it afterwards."""

        def write(uow: UnitOfWork) -> CustodyView:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            require_role(uow, self._identity, "technician", "check instruments in")
            instrument = _require_tag(uow, tag)
            current = uow.custody.open_for(instrument.id)
            if current is None:
                raise ValidationError(
                    {"check_in": f"{instrument.asset_tag} is not checked out; nothing to check in"}
                )
            before = custody_snapshot(current)
            current.in_at = audit.now
            current.in_by = self._identity.user
            current.open_instrument_id = None
            self._stamp(uow, current, audit)
            audit.record(
                ENTITY,
                current.id,
                custody_label(instrument, current.id),
                "check_in",
                diff(before, custody_snapshot(current)),
            )
            audit.flush()
            return custody_view(current, instrument, self._clock.today())

        return self._uow.write(write, label="check in")

    def void(
        self, custody_id: int, *, reason: str, expected_version: int | None = None
    ) -> CustodyView:
        """Void a check-out entered by mistake; an open one leaves the instrument free."""
        errors: dict[str, str] = {}
        why = clean_text("reason", reason, NOTES_LEN, errors)
        if not why and "reason" not in errors:
            errors["reason"] = "say why the entry is voided"
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> CustodyView:
            # The chain lock first (as check-out): two voids of one entry then queue, and
            # the second reads the entry as the first left it and is told it is void.
            audit = AuditChainWriter(uow, self._identity, self._clock)
            require_role(uow, self._identity, "technician", "void custody entries")
            obj = uow.custody.get(custody_id)
            if obj is None:
                raise NotFoundError(
                    f"no custody entry #{custody_id}; `custody history TAG` lists them"
                )
            instrument = uow.instruments.get(obj.instrument_id)
            if instrument is None:  # the foreign key forbids it
                raise NotFoundError(f"custody entry #{custody_id}: its instrument is missing")
            if obj.voided_at is not None:
                raise ValidationError({"void": f"custody entry #{custody_id} is void already"})
            if expected_version is not None and obj.version != expected_version:
                raise ConflictError(
                    "custody entry",
                    f"#{custody_id}",
                    yours=ConflictSide(expected_version, {"void_reason": why}),
                    theirs=ConflictSide(
                        obj.version,
                        {"state": custody_state(obj)},
                        obj.updated_by,
                        to_jsonable(obj.updated_at),
                    ),
                )
            before = custody_snapshot(obj)
            obj.voided_at = audit.now
            obj.voided_by = self._identity.user
            obj.void_reason = why
            obj.open_instrument_id = None
            self._stamp(uow, obj, audit)
            audit.record(
                ENTITY,
                obj.id,
                custody_label(instrument, obj.id),
                "void",
                diff(before, custody_snapshot(obj)),
                why,
            )
            audit.flush()
            return custody_view(obj, instrument, self._clock.today())

        return self._uow.write(write, label="void custody entry")

    # -- helpers ---------------------------------------------------------------------

    def _stamp(self, uow: UnitOfWork, obj: Custody, audit: AuditChainWriter) -> None:
        obj.updated_at = audit.now
        obj.updated_by = self._identity.user
        # Flushed here: the version column moves and the unique holder index is checked.
        uow.custody.flush()

    def _local(self, moment: datetime) -> str:
        return self._clock.local_date(moment).isoformat()
