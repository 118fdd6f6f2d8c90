"""Out-of-tolerance cases and the reverse-traceability query behind them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import CalibrationRecord, CalibrationStandard, Instrument, OotCase


class OotCaseRepository:
    """The oot_case table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, case_id: int) -> OotCase | None:
        return self._session.get(OotCase, case_id)

    def for_record(self, record_id: int) -> OotCase | None:
        stmt = select(OotCase).where(OotCase.record_id == record_id)
        return self._session.execute(stmt).scalar_one_or_none()

    def for_check(self, check_id: int) -> OotCase | None:
        stmt = select(OotCase).where(OotCase.check_id == check_id)
        return self._session.execute(stmt).scalar_one_or_none()

    def by_check_ids(self, check_ids: Sequence[int]) -> dict[int, int]:
        """check id → case id, for the intermediate checks that opened a case."""
        found: dict[int, int] = {}
        ids = list(check_ids)
        for start in range(0, len(ids), 500):
            stmt = select(OotCase.check_id, OotCase.id).where(
                OotCase.check_id.in_(ids[start : start + 500])
            )
            found.update({int(k): c for k, c in self._session.execute(stmt) if k is not None})
        return found

    def by_record_ids(self, record_ids: Sequence[int]) -> dict[int, int]:
        """record id → case id, for the records that opened a case."""
        found: dict[int, int] = {}
        ids = list(record_ids)
        for start in range(0, len(ids), 500):
            stmt = select(OotCase.record_id, OotCase.id).where(
                OotCase.record_id.in_(ids[start : start + 500])
            )
            found.update({int(r): c for r, c in self._session.execute(stmt) if r is not None})
        return found

    def add(self, case: OotCase) -> OotCase:
        self._session.add(case)
        self._session.flush()
        return case

    def flush(self) -> None:
        self._session.flush()

    def find(self, *, status: str | None = None, instrument_id: int | None = None) -> list[OotCase]:
        stmt = select(OotCase)
        if status:
            stmt = stmt.where(OotCase.status == status)
        if instrument_id is not None:
            stmt = stmt.where(OotCase.instrument_id == instrument_id)
        stmt = stmt.order_by(OotCase.found_on.desc(), OotCase.id.desc())
        return list(self._session.execute(stmt).scalars())

    def counts(self) -> dict[str, int]:
        stmt = select(OotCase.status, func.count(OotCase.id)).group_by(OotCase.status)
        return {str(status): int(n) for status, n in self._session.execute(stmt).all()}

    def used_by_standards(
        self, standard_ids: Sequence[int]
    ) -> dict[int, list[tuple[CalibrationRecord, Instrument]]]:
        """standard id → the valid calibrations it served in, oldest first."""
        found: dict[int, list[tuple[CalibrationRecord, Instrument]]] = {}
        ids = sorted(set(standard_ids))
        for start in range(0, len(ids), 500):
            stmt = (
                select(CalibrationStandard.standard_id, CalibrationRecord, Instrument)
                .join(CalibrationRecord, CalibrationStandard.record_id == CalibrationRecord.id)
                .join(Instrument, Instrument.id == CalibrationRecord.instrument_id)
                .where(
                    CalibrationStandard.standard_id.in_(ids[start : start + 500]),
                    CalibrationRecord.voided_at.is_(None),
                )
                .order_by(CalibrationRecord.performed_on, CalibrationRecord.id)
            )
            for std, record, instrument in self._session.execute(stmt).all():
                found.setdefault(int(std), []).append((record, instrument))
        return found

    def iter_all(self) -> Iterator[OotCase]:
        stmt = select(OotCase).order_by(OotCase.id).execution_options(yield_per=2000)
        yield from self._session.execute(stmt).scalars()
