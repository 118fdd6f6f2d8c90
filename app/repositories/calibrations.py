"""Calibration records with their measurement points and standards used."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.db.models import (
    CalibrationRecord,
    CalibrationStandard,
    MeasurementPoint,
    sync_id_sequence,
    table_of,
)


class CalibrationRepository:
    """Calibration records: load, add, history and reverse traceability."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, record_id: int) -> CalibrationRecord | None:
        return self._session.get(CalibrationRecord, record_id)

    def add(self, record: CalibrationRecord) -> CalibrationRecord:
        self._session.add(record)
        self._session.flush()
        return record

    def flush(self) -> None:
        self._session.flush()

    def history(self, instrument_id: int) -> list[CalibrationRecord]:
        """All records of an instrument, newest first, voided ones included."""
        stmt = (
            select(CalibrationRecord)
            .where(CalibrationRecord.instrument_id == instrument_id)
            .options(selectinload(CalibrationRecord.points))
            .options(selectinload(CalibrationRecord.standards))
            .order_by(CalibrationRecord.performed_on.desc(), CalibrationRecord.id.desc())
        )
        return list(self._session.execute(stmt).scalars())

    def calibrated_with(self, standard_id: int) -> list[tuple[int, int]]:
        """(record id, instrument id) of every calibration that used this standard."""
        stmt = (
            select(CalibrationRecord.id, CalibrationRecord.instrument_id)
            .join(CalibrationStandard, CalibrationStandard.record_id == CalibrationRecord.id)
            .where(CalibrationStandard.standard_id == standard_id)
            .order_by(CalibrationRecord.performed_on)
        )
        return [(r, i) for r, i in self._session.execute(stmt)]

    def total(self) -> int:
        return int(self._session.execute(select(func.count(CalibrationRecord.id))).scalar_one())

    def max_ids(self) -> tuple[int, int]:
        rec = self._session.execute(select(func.max(CalibrationRecord.id))).scalar_one()
        pts = self._session.execute(select(func.max(MeasurementPoint.id))).scalar_one()
        return int(rec or 0), int(pts or 0)

    def iter_all(self, batch: int = 2000) -> Iterator[CalibrationRecord]:
        stmt = (
            select(CalibrationRecord)
            .options(selectinload(CalibrationRecord.points))
            .options(selectinload(CalibrationRecord.standards))
            .order_by(CalibrationRecord.id)
            .execution_options(yield_per=batch)
        )
        yield from self._session.execute(stmt).scalars()

    def bulk_insert(
        self,
        records: Sequence[dict[str, Any]],
        points: Sequence[dict[str, Any]],
        standards: Sequence[dict[str, Any]],
    ) -> None:
        """Insert many records with their points and standards (ids are given)."""
        if records:
            self._session.execute(table_of(CalibrationRecord).insert(), list(records))
            sync_id_sequence(self._session, CalibrationRecord)
        if points:
            self._session.execute(table_of(MeasurementPoint).insert(), list(points))
            sync_id_sequence(self._session, MeasurementPoint)
        if standards:
            self._session.execute(table_of(CalibrationStandard).insert(), list(standards))
