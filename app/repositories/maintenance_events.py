"""The maintenance, damage and repair log of the instruments (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import MaintenanceEvent


class MaintenanceEventRepository:
    """The maintenance_event table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, event_id: int) -> MaintenanceEvent | None:
        return self._session.get(MaintenanceEvent, event_id)

    def add(self, event: MaintenanceEvent) -> MaintenanceEvent:
        self._session.add(event)
        self._session.flush()
        return event

    def flush(self) -> None:
        self._session.flush()

    def history(self, instrument_id: int) -> list[MaintenanceEvent]:
        """All events of an instrument, newest first, voided ones included."""
        stmt = (
            select(MaintenanceEvent)
            .where(MaintenanceEvent.instrument_id == instrument_id)
            .order_by(MaintenanceEvent.performed_on.desc(), MaintenanceEvent.id.desc())
        )
        return list(self._session.execute(stmt).scalars())

    def needing_calibration(self, instrument_id: int) -> list[MaintenanceEvent]:
        """The valid events of an instrument that asked for a calibration before use,
        oldest first (whether or not one has been recorded since)."""
        stmt = (
            select(MaintenanceEvent)
            .where(
                MaintenanceEvent.instrument_id == instrument_id,
                MaintenanceEvent.calibrate_before_use.is_(True),
                MaintenanceEvent.voided_at.is_(None),
            )
            .order_by(MaintenanceEvent.performed_on, MaintenanceEvent.id)
        )
        return list(self._session.execute(stmt).scalars())

    def iter_all(self) -> Iterator[MaintenanceEvent]:
        stmt = (
            select(MaintenanceEvent).order_by(MaintenanceEvent.id).execution_options(yield_per=2000)
        )
        yield from self._session.execute(stmt).scalars()
