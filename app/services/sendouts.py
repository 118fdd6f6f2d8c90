"""Sending instruments out for calibration and receiving them back (issue 15, 17025 6.6).

A send-out batch records which instruments went to which provider when, the PO number,
the expected return and the cost. Sending to a provider that is not approved needs a
reason, kept with the batch and in its audit event; a retired provider takes none.
Receiving marks instruments back (one, some or all). Then the provider's certificate is
recorded: the calibration record is prefilled from the provider (external, its name,
the certificate number) and the provider's reported result is compared with what the
lab's own tolerances and decision rule make of the certificate's readings
(``CalibrationService.lab_verdict_in``, the one home of that judgement). A "pass" the
lab's limits fail is caught there: the record is stored with the lab's result, and a
failure found as-found opens an out-of-tolerance case as any failed calibration does.

Every write is audited as entity ``sendout_batch`` (its instruments in its snapshot)
and ``db verify`` replays it. Batches are never deleted.

An imported batch (``import_batch_in``) is history: it keeps its recorded reason for a
provider not approved (one without a reason to such a provider is refused), its
instruments come back on their recorded days, and only the instruments still out are
judged as a new batch's are (``sendable_problems``: not out elsewhere, not checked out,
not retired or lost).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import cast

from sqlalchemy.orm.exc import StaleDataError

from app.clock import Clock
from app.db.models import Instrument, SendoutBatch, SendoutItem
from app.errors import ConflictError, ConflictSide, NotFoundError, ValidationError
from app.identity import Identity
from app.limits import NOTES_LEN, SHORT_LEN
from app.plain_text import tag_key
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter
from app.services.calibrations import CalibrationService
from app.services.dto import CalibrationInput
from app.services.lookups import require_instrument
from app.services.provider_views import (
    ProviderTurnaround,
    ReceiptCompare,
    SendoutItemView,
    SendoutView,
)
from app.services.providers import require_provider
from app.services.snapshots import batch_snapshot, created, diff
from app.services.validation import clean_text, cost_problem, parse_date
from app.vocabulary import RESULTS, Approval

ENTITY = "sendout_batch"
MAX_INSTRUMENTS = 500


def batch_label(batch_id: int) -> str:
    return f"SO-{batch_id}"


def parse_batch_id(text: str) -> int:
    """``SO-12``, ``so-12`` or ``12`` → 12; ValidationError otherwise."""
    raw = str(text).strip()
    digits = raw[3:] if raw[:3].upper() == "SO-" else raw
    if not digits.isascii() or not digits.isdigit() or not 0 < len(digits) <= 9:
        raise ValidationError({"batch": f"{raw!r} is not a batch number (SO-12 or 12)"})
    return int(digits)


def _cost(value: float | str | None, errors: dict[str, str]) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else value
    except ValueError:
        errors["cost"] = f"must be a number (got {value!r})"
        return None
    if isinstance(number, bool) or not math.isfinite(number):
        errors["cost"] = f"must be a number (got {value!r})"
        return None
    if problem := cost_problem(Decimal(repr(float(number)))):
        errors["cost"] = problem
        return None
    return round(float(number), 2)


def batch_views(uow: UnitOfWork, batches: Sequence[SendoutBatch]) -> list[SendoutView]:
    providers = uow.providers.by_ids([b.provider_id for b in batches])
    instrument_ids = sorted({i.instrument_id for b in batches for i in b.items})
    instruments = uow.instruments.by_ids(instrument_ids)
    views = []
    for b in batches:
        provider = providers[b.provider_id]
        views.append(
            SendoutView(
                id=b.id,
                provider=provider.name,
                provider_approval=cast(Approval, provider.approval),
                sent_on=b.sent_on,
                po_number=b.po_number,
                expected_return=b.expected_return,
                cost=b.cost,
                approval_reason=b.approval_reason,
                notes=b.notes,
                items=tuple(
                    SendoutItemView(
                        seq=i.seq,
                        asset_tag=instruments[i.instrument_id].asset_tag,
                        description=instruments[i.instrument_id].description,
                        received_on=i.received_on,
                        record_id=i.record_id,
                        provider_result=i.provider_result,
                        lab_result=i.lab_result,
                    )
                    for i in b.items
                ),
                created_by=b.created_by,
                version=b.version,
                provider_review_date=provider.review_date,
            )
        )
    return views


@dataclass(frozen=True)
class ImportedBatch:
    """A send-out batch as a file records it (an export's Send-outs sheet)."""

    provider: str
    sent_on: date
    # Its instruments and the day each came back (None: still out), in the file's order.
    items: tuple[tuple[Instrument, date | None], ...]
    po_number: str = ""
    expected_return: date | None = None
    cost: float | str | None = None
    approval_reason: str = ""


def batch_key(provider_id: int, sent_on: date, instrument_ids: Sequence[int]) -> tuple[object, ...]:
    """How an imported batch is recognised as already here: provider, day sent and
    instruments (batch numbers are each database's own)."""
    return (provider_id, sent_on, frozenset(instrument_ids))


def sendable_problems(uow: UnitOfWork, instruments: Sequence[Instrument]) -> list[str]:
    """Why these instruments may not go out now (one line each; none when they may)."""
    problems = []
    out = uow.sendouts.open_items_of([i.id for i in instruments])
    for obj in instruments:
        held = uow.custody.open_for(obj.id)
        if obj.id in out:
            problems.append(f"{obj.asset_tag} is already out in {batch_label(out[obj.id])}")
        elif held is not None:
            # Custody and send-outs are two ways out of the lab: one at a time.
            problems.append(f"{obj.asset_tag} is checked out to {held.holder}: check it in first")
        elif obj.status in ("retired", "lost"):
            problems.append(f"{obj.asset_tag} is {obj.status}")
    return problems


def import_batch_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    today: date,
    entry: ImportedBatch,
    reason: str,
) -> SendoutBatch:
    """Record an imported batch as history, in the caller's transaction."""
    require_role(uow, identity, "technician", "import send-outs")
    errors: dict[str, str] = {}
    po = clean_text("po_number", entry.po_number, SHORT_LEN, errors)
    why = clean_text("approval_reason", entry.approval_reason, NOTES_LEN, errors, multiline=True)
    amount = _cost(entry.cost, errors)
    if entry.sent_on > today:
        errors["sent_on"] = f"{entry.sent_on} is in the future; give the day they were sent"
    if entry.expected_return is not None and entry.expected_return < entry.sent_on:
        errors["expected_return"] = (
            f"{entry.expected_return} is before the day they were sent ({entry.sent_on})"
        )
    for obj, day in entry.items:
        if day is not None and day < entry.sent_on:
            errors["received_on"] = (
                f"{obj.asset_tag}: {day} is before the batch was sent ({entry.sent_on})"
            )
        elif day is not None and day > today:
            errors["received_on"] = f"{obj.asset_tag}: {day} is in the future"
    if len(entry.items) > MAX_INSTRUMENTS:
        errors["asset_tag"] = f"at most {MAX_INSTRUMENTS} instruments in one batch"
    if errors:
        raise ValidationError(errors)
    provider = uow.providers.get_by_name(entry.provider)
    if provider is None:
        raise ValidationError(
            {
                "provider_name": f"no provider named {entry.provider!r} in this database; "
                "import the providers first (`import providers`) or correct the name"
            }
        )
    if provider.approval == "not_approved" and not why:
        raise ValidationError(
            {
                "approval_reason": f"{provider.name} is not an approved provider and the batch "
                "gives no reason for sending instruments there; give the recorded reason"
            }
        )
    problems = sendable_problems(uow, [obj for obj, day in entry.items if day is None])
    if problems:
        raise ValidationError({"asset_tag": "; ".join(problems)})
    batch = SendoutBatch(
        provider_id=provider.id,
        sent_on=entry.sent_on,
        po_number=po,
        expected_return=entry.expected_return,
        cost=amount,
        approval_reason=why,
        notes="",
        created_at=audit.now,
        created_by=identity.user,
        updated_at=audit.now,
        updated_by=identity.user,
    )
    batch.items = [
        SendoutItem(seq=n, instrument_id=obj.id, received_on=day, provider_result="", lab_result="")
        for n, (obj, day) in enumerate(entry.items, start=1)
    ]
    uow.sendouts.add(batch)
    audit.record(
        ENTITY,
        batch.id,
        f"{batch_label(batch.id)} {provider.name}",
        "create",
        created(batch_snapshot(batch)),
        reason,
    )
    return batch


def recorded_batches(uow: UnitOfWork) -> dict[tuple[object, ...], str]:
    """The keys (``batch_key``) of the batches here → their name ("SO-3")."""
    return {
        batch_key(b.provider_id, b.sent_on, [i.instrument_id for i in b.items]): batch_label(b.id)
        for b in uow.sendouts.find()
    }


class SendoutService:
    """Create send-out batches, receive them, record and compare their certificates."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        identity: Identity,
        clock: Clock,
        calibrations: CalibrationService,
    ) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._calibrations = calibrations

    # -- reads ---------------------------------------------------------------------

    def list(self, *, provider: str | None = None) -> list[SendoutView]:
        """Batches, newest first (of one provider when named)."""

        def read(uow: UnitOfWork) -> list[SendoutView]:
            provider_id = require_provider(uow, provider).id if provider else None
            return batch_views(uow, uow.sendouts.find(provider_id=provider_id))

        return self._uow.read(read)

    def get(self, batch_id: int) -> SendoutView:
        return self._uow.read(lambda uow: batch_views(uow, [self._require(uow, batch_id)])[0])

    def turnaround(self, *, since: date | None = None) -> builtins.list[ProviderTurnaround]:
        """Turnaround and cost per provider, over the batches sent on or after ``since``."""

        def read(uow: UnitOfWork) -> builtins.list[ProviderTurnaround]:
            today = self._clock.today()
            by_provider: dict[int, list[SendoutBatch]] = {}
            for batch in uow.sendouts.find(since=since):
                by_provider.setdefault(batch.provider_id, []).append(batch)
            lines = []
            for provider in uow.providers.list_all():
                batches = by_provider.get(provider.id, [])
                if not batches and provider.retired_at is not None:
                    continue
                items = [(b, i) for b in batches for i in b.items]
                days = [(i.received_on - b.sent_on).days for b, i in items if i.received_on]
                late = sum(
                    1
                    for b, i in items
                    if b.expected_return is not None
                    and (i.received_on or today) > b.expected_return
                )
                lines.append(
                    ProviderTurnaround(
                        provider=provider.name,
                        approval=cast(Approval, provider.approval),
                        batches=len(batches),
                        instruments=len(items),
                        returned=len(days),
                        outstanding=len(items) - len(days),
                        mean_days=round(sum(days) / len(days), 1) if days else None,
                        longest_days=max(days) if days else None,
                        late=late,
                        total_cost=round(sum(b.cost or 0.0 for b in batches), 2),
                        disagreements=sum(
                            1
                            for _, i in items
                            if i.provider_result
                            and i.lab_result
                            and i.provider_result != i.lab_result
                        ),
                    )
                )
            return lines

        return self._uow.read(read)

    def prefill(self, batch_id: int, tag: str) -> CalibrationInput:
        """The calibration a received instrument's certificate starts from: external,
        the provider's name, performed on the day it came back (the certificate's date
        replaces it)."""

        def read(uow: UnitOfWork) -> CalibrationInput:
            batch = self._require(uow, batch_id)
            item = self._item(uow, batch, tag)
            provider = batch.provider
            return CalibrationInput(
                performed_on=item.received_on or self._clock.today(),
                result="pass",
                provider_kind="external",
                provider_name=provider.name,
                notes=f"sent out in {batch_label(batch.id)}"
                + (f", PO {batch.po_number}" if batch.po_number else ""),
            )

        return self._uow.read(read)

    # -- writes --------------------------------------------------------------------

    def create(
        self,
        provider: str,
        tags: Sequence[str],
        *,
        sent_on: date | str | None = None,
        po_number: str = "",
        expected_return: date | str | None = None,
        cost: float | str | None = None,
        reason: str = "",
        notes: str = "",
    ) -> SendoutView:
        """Send instruments out to ``provider``; a provider not approved needs ``reason``."""
        errors: dict[str, str] = {}
        day = parse_date("sent_on", sent_on, errors) or self._clock.today()
        back = parse_date("expected_return", expected_return, errors)
        po = clean_text("po_number", po_number, SHORT_LEN, errors)
        why = clean_text("reason", reason, NOTES_LEN, errors, multiline=True)
        note = clean_text("notes", notes, NOTES_LEN, errors, multiline=True)
        amount = _cost(cost, errors)
        if "sent_on" not in errors and day > self._clock.today():
            errors["sent_on"] = f"{day} is in the future; enter the day they were sent"
        if back is not None and back < day:
            errors["expected_return"] = f"{back} is before the day they were sent ({day})"
        if not tags:
            errors["instruments"] = "name at least one instrument to send"
        elif len(tags) > MAX_INSTRUMENTS:
            errors["instruments"] = f"at most {MAX_INSTRUMENTS} instruments in one batch"
        twice = sorted({t for t in tags if [tag_key(u) for u in tags].count(tag_key(t)) > 1})
        if twice:
            errors["instruments"] = f"named twice: {', '.join(twice)}"
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> SendoutView:
            require_role(uow, self._identity, "technician", "send instruments out")
            chosen = require_provider(uow, provider)
            if chosen.retired_at is not None:
                raise ValidationError(
                    {
                        "provider": f"{chosen.name} is retired ({chosen.retire_reason}); "
                        "choose a provider in use"
                    }
                )
            if chosen.approval == "not_approved" and not why:
                raise ValidationError(
                    {
                        "reason": f"{chosen.name} is not an approved provider: give a reason "
                        "for sending instruments there (kept in the audit trail)"
                    }
                )
            instruments = [require_instrument(uow, t) for t in tags]
            self._check_sendable(uow, instruments)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            batch = SendoutBatch(
                provider_id=chosen.id,
                sent_on=day,
                po_number=po,
                expected_return=back,
                cost=amount,
                approval_reason=why if chosen.approval != "approved" else "",
                notes=note,
                created_at=audit.now,
                created_by=self._identity.user,
                updated_at=audit.now,
                updated_by=self._identity.user,
            )
            batch.items = [
                SendoutItem(seq=n, instrument_id=obj.id, provider_result="", lab_result="")
                for n, obj in enumerate(instruments, start=1)
            ]
            uow.sendouts.add(batch)
            audit.record(
                ENTITY,
                batch.id,
                f"{batch_label(batch.id)} {chosen.name}",
                "create",
                created(batch_snapshot(batch)),
                why,
            )
            audit.flush()
            return batch_views(uow, [batch])[0]

        return self._uow.write(write, label="send instruments out")

    def receive(
        self,
        batch_id: int,
        tags: Sequence[str] = (),
        *,
        received_on: date | str | None = None,
        expected_version: int | None = None,
    ) -> SendoutView:
        """Mark instruments of a batch back (every one still out when ``tags`` is empty)."""
        errors: dict[str, str] = {}
        day = parse_date("received_on", received_on, errors) or self._clock.today()
        if "received_on" not in errors and day > self._clock.today():
            errors["received_on"] = f"{day} is in the future; enter the day they came back"
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> SendoutView:
            require_role(uow, self._identity, "technician", "receive instruments")
            batch = self._require(uow, batch_id)
            self._check_version(batch, expected_version)
            if day < batch.sent_on:
                raise ValidationError(
                    {"received_on": f"{day} is before the batch was sent ({batch.sent_on})"}
                )
            if tags:
                items = [self._item(uow, batch, t) for t in tags]
                back = [self._tag_of(uow, i) for i in items if i.received_on is not None]
                if back:
                    raise ValidationError({"instruments": f"already received: {', '.join(back)}"})
            else:
                items = [i for i in batch.items if i.received_on is None]
                if not items:
                    raise ValidationError(
                        {"batch": f"every instrument of {batch_label(batch.id)} is back already"}
                    )
            audit = AuditChainWriter(uow, self._identity, self._clock)
            before = batch_snapshot(batch)
            for item in items:
                item.received_on = day
            self._save(uow, audit, batch, before, "receive", "")
            return batch_views(uow, [batch])[0]

        return self._guarded(write, batch_id, expected_version, "receive instruments")

    def record_certificate(
        self, batch_id: int, tag: str, provider_result: str, data: CalibrationInput
    ) -> ReceiptCompare:
        """Record a received instrument's certificate and compare it with the lab's limits.

        ``provider_result`` is what the certificate states (pass, fail, adjusted);
        ``data`` the calibration as the certificate gives it (date, number, readings),
        made external and named after the provider here. The record is stored with the
        lab's result when the readings give one, so a provider's "pass" that fails the
        lab's limits becomes a failed calibration (and an OOT case when found failing).
        """
        said = str(provider_result).strip().lower()
        if said not in RESULTS:
            raise ValidationError(
                {"provider_result": "what the certificate says: one of " + ", ".join(RESULTS)}
            )

        def write(uow: UnitOfWork) -> ReceiptCompare:
            require_role(uow, self._identity, "technician", "record certificates")
            batch = self._require(uow, batch_id)
            item = self._item(uow, batch, tag)
            instrument = require_instrument(uow, tag)
            if item.received_on is None:
                raise ValidationError(
                    {"instrument": f"{instrument.asset_tag} is not received yet; receive it first"}
                )
            if item.record_id is not None:
                raise ValidationError(
                    {
                        "instrument": f"{instrument.asset_tag}'s certificate is already "
                        f"recorded as calibration #{item.record_id}"
                    }
                )
            dates: dict[str, str] = {}
            done = parse_date("performed_on", data.performed_on, dates)
            if done is not None and not batch.sent_on <= done <= item.received_on:
                raise ValidationError(
                    {
                        "performed_on": f"{done} is not while {instrument.asset_tag} was with "
                        f"the provider ({batch.sent_on} to {item.received_on}); give the "
                        "certificate's calibration date"
                    }
                )
            provider = batch.provider
            verdict = self._calibrations.lab_verdict_in(uow, instrument, data)
            lab = verdict.result or said
            entry = replace(
                data,
                provider_kind="external",
                provider_name=provider.name,
                result=lab,
                # The provider adjusted it, whatever the lab makes of the readings.
                adjustment_made=data.adjustment_made or "adjusted" in (lab, said),
                notes="; ".join(
                    n
                    for n in (
                        data.notes.strip(),
                        f"{batch_label(batch.id)}: the provider reported {said}",
                    )
                    if n
                ),
            )
            audit = AuditChainWriter(uow, self._identity, self._clock)
            record = self._calibrations.add_in(
                uow,
                audit,
                instrument.asset_tag,
                entry,
                reason=f"received in {batch_label(batch.id)}",
            )
            before = batch_snapshot(batch)
            item.record_id = record.id
            item.provider_result = said
            item.lab_result = verdict.result or ""
            why = (
                f"the provider reported {said}; the lab's limits say {lab}"
                if verdict.result and verdict.result != said
                else ""
            )
            self._save(uow, audit, batch, before, "certificate", why)
            case = uow.oot_cases.for_record(record.id)
            return ReceiptCompare(
                asset_tag=instrument.asset_tag,
                record_id=record.id,
                provider_result=said,
                lab_result=lab,
                rule=verdict.rule,
                problems=verdict.problems if lab != said else (),
                oot_case_id=case.id if case is not None else None,
                judged=verdict.result is not None,
            )

        return self._uow.write(write, label="record a provider's certificate")

    # -- helpers -------------------------------------------------------------------

    def _save(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        batch: SendoutBatch,
        before: dict[str, object],
        action: str,
        reason: str,
    ) -> None:
        provider = batch.provider
        batch.updated_at = audit.now
        batch.updated_by = self._identity.user
        uow.sendouts.touch(batch)
        uow.sendouts.flush()
        audit.record(
            ENTITY,
            batch.id,
            f"{batch_label(batch.id)} {provider.name}",
            action,
            diff(before, batch_snapshot(batch)),
            reason,
        )
        audit.flush()

    def _guarded(
        self,
        write: Callable[[UnitOfWork], SendoutView],
        batch_id: int,
        expected_version: int | None,
        label: str,
    ) -> SendoutView:
        try:
            return self._uow.write(write, label=label)
        except StaleDataError:
            current = self.get(batch_id)
            raise ConflictError(
                ENTITY,
                batch_label(batch_id),
                yours=ConflictSide(expected_version or 0, {}),
                theirs=ConflictSide(current.version, {}),
            ) from None

    @staticmethod
    def _check_version(batch: SendoutBatch, expected: int | None) -> None:
        if expected is not None and batch.version != expected:
            raise ConflictError(
                ENTITY,
                batch_label(batch.id),
                yours=ConflictSide(expected, {}),
                theirs=ConflictSide(batch.version, {}, batch.updated_by),
            )

    @staticmethod
    def _check_sendable(uow: UnitOfWork, instruments: builtins.list[Instrument]) -> None:
        problems = sendable_problems(uow, instruments)
        if problems:
            raise ValidationError({"instruments": "; ".join(problems)})

    @staticmethod
    def _require(uow: UnitOfWork, batch_id: int) -> SendoutBatch:
        batch = uow.sendouts.get(batch_id)
        if batch is None:
            raise NotFoundError(
                f"no send-out batch {batch_label(batch_id)}; `sendout list` shows them"
            )
        return batch

    @staticmethod
    def _item(uow: UnitOfWork, batch: SendoutBatch, tag: str) -> SendoutItem:
        instrument = require_instrument(uow, tag)
        for item in batch.items:
            if item.instrument_id == instrument.id:
                return item
        raise ValidationError(
            {"instrument": f"{instrument.asset_tag} is not in {batch_label(batch.id)}"}
        )

    @staticmethod
    def _tag_of(uow: UnitOfWork, item: SendoutItem) -> str:
        obj = uow.instruments.get(item.instrument_id)
        return obj.asset_tag if obj is not None else f"#{item.instrument_id}"
