"""Calibration records with their measurement points and standards used."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from app.db.models import (
    CalibrationRecord,
    CalibrationStandard,
    MeasurementPoint,
    sync_id_sequence,
    table_of,
)
from app.errors import EntryKeyTakenError
from app.repositories.instruments import insert_many

ENTRY_KEY_INDEX = "ix_calibration_record_entry_key"


def _constraint_of(exc: IntegrityError) -> str:
    """Which constraint a unique violation names: the server says it (psycopg's
    diagnostics), SQLite names the column (``calibration_record.entry_key``)."""
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if isinstance(name, str) and name:
        return name
    text = str(exc.orig)
    return ENTRY_KEY_INDEX if "calibration_record.entry_key" in text else text


class CalibrationRepository:
    """Calibration records: load, add, history and reverse traceability."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, record_id: int) -> CalibrationRecord | None:
        return self._session.get(CalibrationRecord, record_id)

    def add(self, record: CalibrationRecord) -> CalibrationRecord:
        """Insert ``record``; EntryKeyTakenError when another save holds its entry key.

        The service looks the key up first; this catches the race it cannot see, two
        saves of one entry at once (on a server the second waits on the unique index
        until the first commits). The transaction is then spoilt: the caller starts again.
        """
        self._session.add(record)
        try:
            self._session.flush()
        except IntegrityError as exc:
            if record.entry_key is not None and ENTRY_KEY_INDEX in _constraint_of(exc):
                raise EntryKeyTakenError(record.entry_key) from exc
            raise
        return record

    def by_entry_key(self, entry_key: str) -> CalibrationRecord | None:
        """The record an earlier save of the same entry made, if any."""
        stmt = (
            select(CalibrationRecord)
            .where(CalibrationRecord.entry_key == entry_key)
            .options(selectinload(CalibrationRecord.points))
            .options(selectinload(CalibrationRecord.standards))
        )
        return self._session.execute(stmt).scalar_one_or_none()

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

    def latest_valid_on_or_before(self, instrument_id: int, day: date) -> CalibrationRecord | None:
        """The newest calibration of an instrument done on or before ``day``, voided ones
        skipped: the one that vouched for it on that day."""
        stmt = (
            select(CalibrationRecord)
            .where(
                CalibrationRecord.instrument_id == instrument_id,
                CalibrationRecord.performed_on <= day,
                CalibrationRecord.voided_at.is_(None),
            )
            .order_by(CalibrationRecord.performed_on.desc(), CalibrationRecord.id.desc())
            .limit(1)
        )
        return self._session.execute(stmt).scalar_one_or_none()

    def by_ids(self, record_ids: Sequence[int]) -> dict[int, CalibrationRecord]:
        found: dict[int, CalibrationRecord] = {}
        ids = list(record_ids)
        for start in range(0, len(ids), 500):
            stmt = (
                select(CalibrationRecord)
                .where(CalibrationRecord.id.in_(ids[start : start + 500]))
                .options(selectinload(CalibrationRecord.points))
                .options(selectinload(CalibrationRecord.standards))
            )
            found.update({r.id: r for r in self._session.execute(stmt).scalars()})
        return found

    def dangling_supersedes(self) -> list[tuple[int, int]]:
        """(record id, missing id) for records that supersede a record that is not there."""
        older = aliased(CalibrationRecord)
        stmt = (
            select(CalibrationRecord.id, CalibrationRecord.supersedes_id)
            .outerjoin(older, older.id == CalibrationRecord.supersedes_id)
            .where(CalibrationRecord.supersedes_id.is_not(None), older.id.is_(None))
        )
        return [(a, b) for a, b in self._session.execute(stmt) if b is not None]

    def superseded_by(self, record_ids: Sequence[int]) -> dict[int, int]:
        """old record id → the id of the record that supersedes it."""
        found: dict[int, int] = {}
        ids = list(record_ids)
        for start in range(0, len(ids), 500):
            stmt = select(CalibrationRecord.supersedes_id, CalibrationRecord.id).where(
                CalibrationRecord.supersedes_id.in_(ids[start : start + 500])
            )
            found.update({old: new for old, new in self._session.execute(stmt) if old is not None})
        return found

    def standards_of(self, instrument_id: int) -> list[tuple[CalibrationRecord, int]]:
        """(record, standard id) for every calibration of this instrument that used one."""
        stmt = (
            select(CalibrationRecord, CalibrationStandard.standard_id)
            .join(CalibrationStandard, CalibrationStandard.record_id == CalibrationRecord.id)
            .where(CalibrationRecord.instrument_id == instrument_id)
            .order_by(CalibrationRecord.performed_on.desc(), CalibrationRecord.id.desc())
        )
        return [(r, int(s)) for r, s in self._session.execute(stmt).all()]

    def used_as_standard(self, standard_id: int) -> list[CalibrationRecord]:
        """Every calibration (voided included) in which this instrument was a standard."""
        stmt = (
            select(CalibrationRecord)
            .join(CalibrationStandard, CalibrationStandard.record_id == CalibrationRecord.id)
            .where(CalibrationStandard.standard_id == standard_id)
            .order_by(CalibrationRecord.performed_on.desc(), CalibrationRecord.id.desc())
        )
        return list(self._session.execute(stmt).scalars())

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
            insert_many(self._session, table_of(CalibrationRecord), records)
            sync_id_sequence(self._session, CalibrationRecord)
        if points:
            insert_many(self._session, table_of(MeasurementPoint), points)
            sync_id_sequence(self._session, MeasurementPoint)
        if standards:
            insert_many(self._session, table_of(CalibrationStandard), standards)
