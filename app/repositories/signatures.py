"""Electronic signatures on calibration records and out-of-tolerance cases."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Signature


class SignatureRepository:
    """The signature table: append and read, never change."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, signature: Signature) -> Signature:
        self._session.add(signature)
        self._session.flush()
        return signature

    def for_records(self, record_ids: Sequence[int]) -> dict[int, list[Signature]]:
        """Signatures of these records, oldest first, by record id."""
        found: dict[int, list[Signature]] = {}
        ids = list(record_ids)
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            stmt = (
                select(Signature)
                .where(Signature.record_id.in_(ids[start : start + 500]))
                .order_by(Signature.id)
            )
            for sig in self._session.execute(stmt).scalars():
                if sig.record_id is not None:  # always, by the where clause
                    found.setdefault(sig.record_id, []).append(sig)
        return found

    def for_cases(self, case_ids: Sequence[int]) -> dict[int, list[Signature]]:
        found: dict[int, list[Signature]] = {}
        ids = list(case_ids)
        for start in range(0, len(ids), 500):
            stmt = (
                select(Signature)
                .where(Signature.case_id.in_(ids[start : start + 500]))
                .order_by(Signature.id)
            )
            for sig in self._session.execute(stmt).scalars():
                if sig.case_id is not None:  # always, by the where clause
                    found.setdefault(sig.case_id, []).append(sig)
        return found

    def for_case(self, case_id: int) -> list[Signature]:
        stmt = select(Signature).where(Signature.case_id == case_id).order_by(Signature.id)
        return list(self._session.execute(stmt).scalars())

    def iter_all(self) -> Iterator[Signature]:
        stmt = select(Signature).order_by(Signature.id).execution_options(yield_per=2000)
        yield from self._session.execute(stmt).scalars()
