"""Intermediate checks of instruments."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import IntermediateCheck


class CheckRepository:
    """The intermediate_check table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, check_id: int) -> IntermediateCheck | None:
        return self._session.get(IntermediateCheck, check_id)

    def history(self, instrument_id: int) -> list[IntermediateCheck]:
        """An instrument's checks, newest first (voided ones included)."""
        stmt = (
            select(IntermediateCheck)
            .where(IntermediateCheck.instrument_id == instrument_id)
            .order_by(IntermediateCheck.performed_on.desc(), IntermediateCheck.id.desc())
        )
        return list(self._session.execute(stmt).scalars())

    def by_ids(self, check_ids: Sequence[int]) -> dict[int, IntermediateCheck]:
        found: dict[int, IntermediateCheck] = {}
        ids = sorted(set(check_ids))
        for start in range(0, len(ids), 500):
            stmt = select(IntermediateCheck).where(
                IntermediateCheck.id.in_(ids[start : start + 500])
            )
            found.update({c.id: c for c in self._session.execute(stmt).scalars()})
        return found

    def add(self, check: IntermediateCheck) -> IntermediateCheck:
        self._session.add(check)
        self._session.flush()
        return check

    def flush(self) -> None:
        self._session.flush()

    def iter_all(self) -> Iterator[IntermediateCheck]:
        stmt = select(IntermediateCheck).order_by(IntermediateCheck.id)
        yield from self._session.execute(stmt.execution_options(yield_per=2000)).scalars()
