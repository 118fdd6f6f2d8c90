"""Importing issue 15's schedules, intermediate checks, maintenance events, providers and
check-outs: one row through the services (send-out batches: ``transfer_sendouts``).

``TransferService`` reads, maps and converts the file as for any kind and calls these
inside its one write transaction; each row goes through the same in-transaction
functions a typed entry does (``schedules.schedule_fields`` / ``set_in`` / ``clear_in``,
``checks.check_fields`` / ``add_in`` / ``void_in``, ``upkeep.event_fields`` /
``add_in``), so every field rule has one home
and every write is audited with the file's line as its reason.

What is already there is not added twice: a schedule is keyed by its instrument and
kind (the same settings: unchanged; other settings: updated as ``schedules set`` would),
a check by its instrument, day, standard and readings (``transfer_rows.check_key``),
an event by its instrument, day, kind and what was done (``maintenance_key``), a
check-out by its instrument and the second it went out (``custody_key``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from app.db.models import Instrument
from app.errors import ValidationError
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork
from app.services.audit import AuditChainWriter
from app.services.checks import add_in, check_fields, check_views, void_in, void_reason
from app.services.custody import custody_key
from app.services.custody import import_in as check_out_in
from app.services.providers import add_in as register_in
from app.services.providers import checked_provider, edit_in, retire_in
from app.services.schedules import (
    clear_in,
    row_view,
    same_settings,
    schedule_fields,
    set_in,
)
from app.services.settings import due_soon_days
from app.services.snapshots import diff, schedule_snapshot
from app.services.transfer_model import PreviewRow
from app.services.transfer_rows import PlannedRow, check_key, maintenance_key
from app.services.upkeep import add_in as log_in
from app.services.upkeep import event_fields, void_imported_in
from app.services.upkeep import void_reason as event_void_reason

T = TypeVar("T")
# The kinds this module applies (TransferService applies the others itself).
UPKEEP_KINDS = ("schedules", "checks", "maintenance", "providers", "custody", "sendouts")

# The services name some fields as their forms do; the import names them by its columns.
_FIELD_OF = {"date": "performed_on", "value": "readings", "reason": "void_reason"}


def _as_columns(call: Callable[[], T], renamed: Mapping[str, str] = _FIELD_OF) -> T:
    """``call()``, its ValidationError's fields renamed to the import's column fields."""
    try:
        return call()
    except ValidationError as exc:
        fields = {renamed.get(name, name): message for name, message in exc.fields.items()}
        raise ValidationError(fields, str(exc)) from exc


def recorded_events(
    uow: UnitOfWork, instruments: Mapping[str, Instrument]
) -> dict[tuple[Any, ...], str]:
    """The keys (``maintenance_key``) of the events already logged for these
    instruments → their name ("M-3")."""
    found: dict[tuple[Any, ...], str] = {}
    for instrument in instruments.values():
        for event in uow.maintenance_events.history(instrument.id):
            key = maintenance_key(
                instrument.asset_tag, event.performed_on, event.kind, event.what_done
            )
            found[key] = f"M-{event.id}"
    return found


def recorded_checks(
    uow: UnitOfWork, instruments: Mapping[str, Instrument]
) -> dict[tuple[Any, ...], str]:
    """The keys (``check_key``) of the checks already stored for these instruments →
    their name ("check #3")."""
    found: dict[tuple[Any, ...], str] = {}
    for instrument in instruments.values():
        for view in check_views(uow, uow.checks.history(instrument.id)):
            key = check_key(
                instrument.asset_tag, view.performed_on, view.standard, view.readings, view.result
            )
            found[key] = f"check #{view.id}"
    return found


def recorded_custody(
    uow: UnitOfWork, instruments: Mapping[str, Instrument]
) -> dict[tuple[Any, ...], str]:
    """The keys (``custody_key``) of the check-outs already here → their name."""
    found: dict[tuple[Any, ...], str] = {}
    for instrument in instruments.values():
        for entry in uow.custody.history(instrument.id):
            key = custody_key(instrument.asset_tag, entry.out_at)
            found[key] = f"custody #{entry.id}"
    return found


@dataclass
class UpkeepRows:
    """Applies schedule, check, maintenance and provider rows in one import's transaction."""

    uow: UnitOfWork
    audit: AuditChainWriter
    identity: Identity
    today: date
    keep_status: bool

    def schedule(self, row: PlannedRow, instrument: Instrument, reason: str) -> PreviewRow:
        """Add the row's schedule, or bring the stored one to its settings."""
        data = row.schedule
        if data is None:  # never: a row without issues has its settings
            raise ValidationError({"kind": "required: which schedule (check or maintenance)"})
        interval = _as_columns(lambda: schedule_fields(data))
        tag = instrument.asset_tag
        current = self.uow.schedules.get(instrument.id, data.kind)
        if current is None:
            set_in(
                self.uow, self.audit, self.identity, self.today, instrument, data, interval,
                reason, row.schedule_state,
            )  # fmt: skip
            return PreviewRow(row.line, "add", tag, row.summary)
        notes: list[str] = []
        before = schedule_snapshot(current)
        if row.active and not (current.active and same_settings(current, data, interval)):
            set_in(
                self.uow, self.audit, self.identity, self.today, instrument, data, interval,
                reason,
            )  # fmt: skip
        elif not row.active and current.active:
            clear_in(self.uow, self.audit, self.identity, instrument, current, reason)
        state = row.schedule_state
        if state is not None and row.active and state.next_due != current.next_due:
            notes.append(
                f"next due {state.next_due or 'none'} in the file differs from the stored "
                f"{current.next_due or 'none'}; the stored one was kept (it follows what was "
                "done here)"
            )
        changed = diff(before, schedule_snapshot(current))
        if not changed:
            return PreviewRow(row.line, "unchanged", tag, "no change", notes=tuple(notes))
        view = row_view(current, self.today, due_soon_days(self.uow))
        what = "stopped" if not current.active else f"now every {view.interval or 'use'}"
        return PreviewRow(
            row.line, "update", tag, f"{data.kind} schedule {what}", notes=tuple(notes)
        )

    def check(self, row: PlannedRow, instrument: Instrument, reason: str) -> PreviewRow:
        """Record the row's check (and void it when it arrives voided)."""
        data = row.check
        if data is None:  # never: a row without issues has its day
            raise ValidationError({"performed_on": "required: the date of the check"})
        checked = _as_columns(lambda: check_fields(data, self.today))
        why = _as_columns(lambda: void_reason(row.void_reason)) if row.void_reason else ""
        before = instrument.status
        check = _as_columns(
            lambda: add_in(
                self.uow,
                self.audit,
                self.identity,
                instrument,
                checked,
                reason=reason,
                keep_status=self.keep_status or bool(why),
                moves_schedule=not why,
            ),
            {**_FIELD_OF, "standard": "standard"},
        )
        notes: list[str] = []
        if why:
            void_in(self.uow, self.audit, self.identity, check, why, (row.voided_at, row.voided_by))
        elif instrument.status != before:
            notes.append(f"takes {instrument.asset_tag} {instrument.status.replace('_', ' ')}")
        return PreviewRow(row.line, "add", instrument.asset_tag, row.summary, notes=tuple(notes))

    def event(self, row: PlannedRow, instrument: Instrument, reason: str) -> PreviewRow:
        """Log the row's maintenance event (and void it when it arrives voided)."""
        data = row.event
        if data is None:  # never: a row without issues has its day
            raise ValidationError({"performed_on": "required: the date of the event"})
        by = row.performed_by or self.identity.user
        fields = _as_columns(lambda: event_fields(data, by, self.today))
        why = _as_columns(lambda: event_void_reason(row.void_reason)) if row.void_reason else ""
        before = instrument.status, instrument.next_due
        event = log_in(
            self.uow,
            self.audit,
            self.identity,
            instrument,
            fields,
            reason=reason,
            keep_status=self.keep_status,
            effects=not why,
        )
        notes: list[str] = []
        if why:
            void_imported_in(
                self.uow,
                self.audit,
                self.identity,
                instrument,
                event,
                why,
                (row.voided_at, row.voided_by),
            )
        else:
            if instrument.status != before[0]:
                notes.append(f"takes {instrument.asset_tag} {instrument.status.replace('_', ' ')}")
            if instrument.next_due != before[1]:
                notes.append(f"{instrument.asset_tag} is due on {instrument.next_due}")
        return PreviewRow(row.line, "add", instrument.asset_tag, row.summary, notes=tuple(notes))

    def custody(self, row: PlannedRow, instrument: Instrument, reason: str) -> PreviewRow:
        """Record the row's check-out as history (``custody.import_in``)."""
        data = row.custody
        if data is None:  # never: a row without issues has its time out
            raise ValidationError({"out_at": "required: when it was checked out"})
        check_out_in(self.uow, self.audit, self.identity, instrument, data, reason)
        return PreviewRow(row.line, "add", instrument.asset_tag, row.summary)

    def provider(self, row: PlannedRow, reason: str) -> PreviewRow:
        """Register the row's provider, or bring the one of its name to the row."""
        data = row.provider
        if data is None:  # never: every provider row has its input
            raise ValidationError({"name": "required: give the provider's name"})
        clean = checked_provider(data)
        current = self.uow.providers.get_by_name(clean["name"])
        retired = (row.voided_at, "") if row.void_reason else None
        if current is None:
            provider = register_in(self.uow, self.audit, self.identity, clean, reason)
            if retired is not None:
                retire_in(self.uow, self.audit, self.identity, provider, row.void_reason, retired)
            return PreviewRow(row.line, "add", provider.name, row.summary)
        # The name is the key: an import never renames (not even its case).
        clean = {**clean, "name": current.name}
        changed = list(edit_in(self.uow, self.audit, self.identity, current, clean, reason))
        notes: tuple[str, ...] = ()
        if retired is not None and current.retired_at is None:
            retire_in(self.uow, self.audit, self.identity, current, row.void_reason, retired)
            changed.append("retired")
        elif retired is None and current.retired_at is not None:
            notes = (f"{current.name} is retired here; it stays retired",)
        if not changed:
            return PreviewRow(row.line, "unchanged", current.name, "no change", notes=notes)
        what = ", ".join(c.replace("_", " ") for c in changed)
        return PreviewRow(row.line, "update", current.name, f"changes {what}", notes=notes)
