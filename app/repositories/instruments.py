"""Instrument persistence and the read side of the instrument list."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from app.db.models import Instrument, sync_id_sequence, table_of


class DueFilter(enum.Enum):
    """The status filters of the instrument list."""

    OK = "ok"
    DUE_SOON = "due-soon"
    OVERDUE = "overdue"
    OUT_OF_SERVICE = "out-of-service"
    RETIRED = "retired"
    LOST = "lost"


SORT_COLUMNS: dict[str, Any] = {
    "asset_tag": Instrument.asset_tag,
    "description": Instrument.description,
    "manufacturer": Instrument.manufacturer,
    "model": Instrument.model,
    "serial_number": Instrument.serial_number,
    "location": Instrument.location,
    "status": Instrument.status,
    "last_calibrated": Instrument.last_calibrated,
    "next_due": Instrument.next_due,
}

LIST_COLUMNS = (
    Instrument.id,
    Instrument.asset_tag,
    Instrument.description,
    Instrument.manufacturer,
    Instrument.model,
    Instrument.serial_number,
    Instrument.location,
    Instrument.status,
    Instrument.calibration_interval_days,
    Instrument.last_calibrated,
    Instrument.next_due,
    Instrument.version,
)


class ListRow(NamedTuple):
    """One list row (``LIST_COLUMNS``, in order).

    A plain named tuple instead of SQLAlchemy's ``Row``: the list reads a dozen
    attributes of each of its rows, and ``Row`` attribute access is several times slower.
    """

    id: int
    asset_tag: str
    description: str
    manufacturer: str
    model: str
    serial_number: str
    location: str
    status: str
    calibration_interval_days: int
    last_calibrated: date | None
    next_due: date | None
    version: int


assert ListRow._fields == tuple(c.key for c in LIST_COLUMNS), "ListRow must match LIST_COLUMNS"


@dataclass(frozen=True)
class ListQuery:
    """What the list shows: filter, search, order and the page."""

    due: DueFilter | None = None
    search: str = ""
    sort: str = "next_due"
    descending: bool = False
    limit: int | None = 100
    offset: int = 0


def due_condition(due: DueFilter, today: date, soon_until: date) -> ColumnElement[bool]:
    in_service = Instrument.status == "in_service"
    if due is DueFilter.OK:
        return and_(in_service, Instrument.next_due > soon_until)
    if due is DueFilter.DUE_SOON:
        return and_(in_service, Instrument.next_due >= today, Instrument.next_due <= soon_until)
    if due is DueFilter.OVERDUE:
        # Never calibrated counts as overdue: it must not be used until it is.
        return and_(in_service, or_(Instrument.next_due < today, Instrument.next_due.is_(None)))
    lifecycle: ColumnElement[bool] = Instrument.status == due.value.replace("-", "_")
    return lifecycle


def search_condition(text: str) -> ColumnElement[bool] | None:
    terms = text.casefold().split()
    if not terms:
        return None
    # Escape LIKE wildcards so that "50%" means the characters, not a pattern.
    conds = [
        Instrument.search_text.like(
            "%" + t.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
            escape="\\",
        )
        for t in terms
    ]
    return and_(*conds)


class InstrumentRepository:
    """Instruments: load, add and the list queries."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _core(self, stmt: Executable) -> CursorResult[Any]:
        """Plain-row reads through the session's connection, skipping ORM loading (the
        list is read-heavy and wants plain tuples anyway)."""
        return self._session.connection().execute(stmt)

    def get(self, instrument_id: int) -> Instrument | None:
        return self._session.get(Instrument, instrument_id)

    def get_by_tag(self, asset_tag: str) -> Instrument | None:
        stmt = select(Instrument).where(Instrument.asset_tag_key == asset_tag.strip().upper())
        return self._session.execute(stmt).scalar_one_or_none()

    def get_many_by_tags(self, tags: Sequence[str]) -> dict[str, Instrument]:
        keys = [t.strip().upper() for t in tags]
        stmt = select(Instrument).where(Instrument.asset_tag_key.in_(keys))
        return {i.asset_tag_key: i for i in self._session.execute(stmt).scalars()}

    def tags_by_id(self, ids: Sequence[int]) -> dict[int, str]:
        if not ids:
            return {}
        stmt = select(Instrument.id, Instrument.asset_tag).where(Instrument.id.in_(ids))
        return {i: t for i, t in self._session.execute(stmt)}

    def add(self, instrument: Instrument) -> Instrument:
        self._session.add(instrument)
        self._session.flush()
        return instrument

    def flush(self) -> None:
        self._session.flush()

    def _filtered(self, query: ListQuery, today: date, soon_until: date) -> list[Any]:
        conds: list[ColumnElement[bool]] = []
        if query.due is not None:
            conds.append(due_condition(query.due, today, soon_until))
        found = search_condition(query.search)
        if found is not None:
            conds.append(found)
        return conds

    def list_rows(self, query: ListQuery, today: date, soon_until: date) -> list[ListRow]:
        column = SORT_COLUMNS.get(query.sort, Instrument.next_due)
        order = column.desc() if query.descending else column.asc()
        stmt = (
            select(*LIST_COLUMNS)
            .where(*self._filtered(query, today, soon_until))
            .order_by(order, Instrument.id)
            .offset(query.offset)
        )
        if query.limit is not None:
            stmt = stmt.limit(query.limit)
        return [ListRow._make(r) for r in self._core(stmt)]

    def list_ids(self, query: ListQuery, today: date, soon_until: date) -> list[int]:
        """Every matching id in display order: cheap even for 100k rows (Anki's way)."""
        column = SORT_COLUMNS.get(query.sort, Instrument.next_due)
        order = column.desc() if query.descending else column.asc()
        stmt = (
            select(Instrument.id)
            .where(*self._filtered(query, today, soon_until))
            .order_by(order, Instrument.id)
        )
        return list(self._core(stmt).scalars())

    def rows_by_ids(self, ids: Sequence[int]) -> list[ListRow]:
        """List rows for the given ids (in no particular order)."""
        if not ids:
            return []
        stmt = select(*LIST_COLUMNS).where(Instrument.id.in_(list(ids)))
        return [ListRow._make(r) for r in self._core(stmt)]

    def count(self, query: ListQuery, today: date, soon_until: date) -> int:
        stmt = select(func.count()).select_from(Instrument)
        stmt = stmt.where(*self._filtered(query, today, soon_until))
        return int(self._core(stmt).scalar_one())

    def status_counts(self, today: date, soon_until: date) -> dict[DueFilter, int]:
        """Every filter's count in one pass over the table."""
        columns = [
            func.coalesce(func.sum(case((due_condition(d, today, soon_until), 1), else_=0)), 0)
            for d in DueFilter
        ]
        row = self._session.execute(select(*columns).select_from(Instrument)).one()
        return {d: int(n) for d, n in zip(DueFilter, row, strict=True)}

    def total(self) -> int:
        return int(self._session.execute(select(func.count(Instrument.id))).scalar_one())

    def max_id(self) -> int:
        return int(self._session.execute(select(func.max(Instrument.id))).scalar_one() or 0)

    def iter_all(self, batch: int = 2000) -> Iterator[Instrument]:
        stmt = select(Instrument).order_by(Instrument.id).execution_options(yield_per=batch)
        yield from self._session.execute(stmt).scalars()

    def bulk_insert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert many instruments at once (demo data, imports); ids are given."""
        if rows:
            self._session.execute(table_of(Instrument).insert(), list(rows))
            sync_id_sequence(self._session, Instrument)
