"""Custody records: who has an instrument (check-outs and check-ins)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Custody, Instrument


class CustodyRepository:
    """The custody table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, custody_id: int) -> Custody | None:
        return self._session.get(Custody, custody_id)

    def open_for(self, instrument_id: int) -> Custody | None:
        """The instrument's open check-out (unique by ``open_instrument_id``), or None."""
        stmt = select(Custody).where(Custody.open_instrument_id == instrument_id)
        return self._session.execute(stmt).scalar_one_or_none()

    def history(self, instrument_id: int) -> list[Custody]:
        """Every check-out of the instrument, void ones too, newest first."""
        stmt = (
            select(Custody)
            .where(Custody.instrument_id == instrument_id)
            .order_by(Custody.out_at.desc(), Custody.id.desc())
        )
        return list(self._session.execute(stmt).scalars())

    def open_all(self) -> list[tuple[Custody, Instrument]]:
        """Every open check-out with its instrument, by asset tag."""
        stmt = (
            select(Custody, Instrument)
            .join(Instrument, Instrument.id == Custody.open_instrument_id)
            .order_by(Instrument.asset_tag_key)
        )
        return [(c, i) for c, i in self._session.execute(stmt).all()]

    def holders(self, instrument_ids: Sequence[int]) -> dict[int, str]:
        """instrument id → who has it now, for the instruments that are out."""
        found: dict[int, str] = {}
        ids = list(instrument_ids)
        for start in range(0, len(ids), 500):
            stmt = select(Custody.open_instrument_id, Custody.holder).where(
                Custody.open_instrument_id.in_(ids[start : start + 500])
            )
            found.update({int(i or 0): str(h) for i, h in self._session.execute(stmt)})
        return found

    def add(self, custody: Custody) -> Custody:
        self._session.add(custody)
        self._session.flush()
        return custody

    def flush(self) -> None:
        self._session.flush()

    def iter_all(self) -> Iterator[Custody]:
        stmt = select(Custody).order_by(Custody.id).execution_options(yield_per=2000)
        yield from self._session.execute(stmt).scalars()
