"""Instrument type persistence: the type register with its test points and custom fields."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified

from app.db.models import Instrument, InstrumentType
from app.plain_text import tag_key


class TypeRepository:
    """Reads and writes ``instrument_type`` rows (their points and fields with them)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, type_id: int) -> InstrumentType | None:
        return self._session.get(InstrumentType, type_id)

    def get_by_name(self, name: str) -> InstrumentType | None:
        """The type whose name folds to the same key (case, look-alike characters)."""
        stmt = select(InstrumentType).where(InstrumentType.name_key == tag_key(name))
        return self._session.execute(stmt).scalar_one_or_none()

    def names_by_id(self, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        stmt = select(InstrumentType.id, InstrumentType.name).where(InstrumentType.id.in_(ids))
        return {row.id: row.name for row in self._session.execute(stmt)}

    def list_all(self) -> list[InstrumentType]:
        """Every type by name, with its points and fields loaded in two more queries."""
        stmt = (
            select(InstrumentType)
            .options(selectinload(InstrumentType.points), selectinload(InstrumentType.fields))
            .order_by(InstrumentType.name_key)
        )
        return list(self._session.execute(stmt).scalars())

    def instrument_counts(self) -> dict[int, int]:
        """How many instruments have each type (types no instrument has are left out)."""
        stmt = (
            select(Instrument.type_id, func.count())
            .where(Instrument.type_id.is_not(None))
            .group_by(Instrument.type_id)
        )
        return {row[0]: row[1] for row in self._session.execute(stmt) if row[0] is not None}

    def add(self, obj: InstrumentType) -> InstrumentType:
        self._session.add(obj)
        self._session.flush()
        return obj

    def flush(self) -> None:
        self._session.flush()

    def touch(self, obj: InstrumentType) -> None:
        """Update the type's own row (and so its version) at the next flush.

        Its test points and custom fields are rows of their own: an edit of only them
        would otherwise leave the version where it was when the clock gives the same
        time, and a stale editor's save would then pass the version check.
        """
        flag_modified(obj, "updated_at")

    def iter_all(self) -> Iterator[InstrumentType]:
        """Every type by id (for verify's replay); a lab has tens, not thousands."""
        stmt = (
            select(InstrumentType)
            .options(selectinload(InstrumentType.points), selectinload(InstrumentType.fields))
            .order_by(InstrumentType.id)
        )
        yield from self._session.execute(stmt).scalars()
