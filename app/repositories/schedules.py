"""Instrument schedules besides calibration: intermediate checks and maintenance."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Instrument, InstrumentSchedule


class ScheduleRepository:
    """The instrument_schedule table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def for_instrument(self, instrument_id: int) -> list[InstrumentSchedule]:
        """Every schedule of one instrument, active or cleared, by kind."""
        stmt = (
            select(InstrumentSchedule)
            .where(InstrumentSchedule.instrument_id == instrument_id)
            .order_by(InstrumentSchedule.kind)
        )
        return list(self._session.execute(stmt).scalars())

    def get(self, instrument_id: int, kind: str) -> InstrumentSchedule | None:
        stmt = select(InstrumentSchedule).where(
            InstrumentSchedule.instrument_id == instrument_id, InstrumentSchedule.kind == kind
        )
        return self._session.execute(stmt).scalar_one_or_none()

    def add(self, schedule: InstrumentSchedule) -> InstrumentSchedule:
        self._session.add(schedule)
        self._session.flush()
        return schedule

    def flush(self) -> None:
        self._session.flush()

    def active_in_service(self) -> list[tuple[InstrumentSchedule, str]]:
        """Active schedules of instruments in service, with their asset tags."""
        stmt = (
            select(InstrumentSchedule, Instrument.asset_tag)
            .join(Instrument, Instrument.id == InstrumentSchedule.instrument_id)
            .where(InstrumentSchedule.active.is_(True), Instrument.status == "in_service")
            .order_by(InstrumentSchedule.next_due, Instrument.asset_tag)
        )
        return [(s, str(tag)) for s, tag in self._session.execute(stmt).all()]

    def lacking(self, type_id: int, kind: str, statuses: tuple[str, ...]) -> list[Instrument]:
        """Instruments of a type, in one of ``statuses``, with no ``kind`` schedule at all
        (not even a cleared one), by asset tag."""
        has_one = select(InstrumentSchedule.id).where(
            InstrumentSchedule.instrument_id == Instrument.id, InstrumentSchedule.kind == kind
        )
        stmt = (
            select(Instrument)
            .where(
                Instrument.type_id == type_id,
                Instrument.status.in_(statuses),
                ~has_one.exists(),
            )
            .order_by(Instrument.asset_tag_key)
        )
        return list(self._session.execute(stmt).scalars())

    def iter_all(self) -> Iterator[InstrumentSchedule]:
        stmt = select(InstrumentSchedule).order_by(InstrumentSchedule.id)
        yield from self._session.execute(stmt.execution_options(yield_per=2000)).scalars()
