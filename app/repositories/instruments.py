"""Instrument persistence and the read side of the instrument list."""

from __future__ import annotations

import enum
import functools
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Select,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from app.db.models import Custody, Instrument, InstrumentSchedule, sync_id_sequence, table_of
from app.plain_text import tag_key


class DueFilter(enum.Enum):
    """The status filters of the instrument list."""

    OK = "ok"
    DUE_SOON = "due-soon"
    OVERDUE = "overdue"
    NOT_CALIBRATED = "not-calibrated"
    VERIFY_BEFORE_USE = "verify-before-use"
    NOT_REQUIRED = "not-required"
    OUT_OF_SERVICE = "out-of-service"
    RETIRED = "retired"
    LOST = "lost"
    # Not a due status: instruments whose data QA is to review, whatever their status.
    TO_REVIEW = "to-review"
    # In service with a check or maintenance schedule due soon, late or before use.
    CHECK_DUE = "check-due"
    MAINTENANCE_DUE = "maintenance-due"


# The list reads are built from the Core table, not the mapped class: an ORM-enabled
# select pays for the ORM's compile step on every call even when it returns plain rows.
INSTRUMENTS = table_of(Instrument)
_C = INSTRUMENTS.c
# Who has an instrument: its open check-out, found by the unique open_instrument_id
# (one indexed probe per row, and never more than one match).
CUSTODY = table_of(Custody)
HOLDER = CUSTODY.c.holder
# When its next intermediate check is due: its active check schedule, one at most (the
# schedule table is unique by instrument and kind), read with the holder.
CHECK_SCHEDULE = table_of(InstrumentSchedule).alias("check_schedule")
NEXT_CHECK = CHECK_SCHEDULE.c.next_due
WITH_HOLDER = INSTRUMENTS.outerjoin(CUSTODY, CUSTODY.c.open_instrument_id == _C.id).outerjoin(
    CHECK_SCHEDULE,
    and_(
        CHECK_SCHEDULE.c.instrument_id == _C.id,
        CHECK_SCHEDULE.c.kind == "check",
        CHECK_SCHEDULE.c.active.is_(True),
    ),
)

SORT_COLUMNS: dict[str, Any] = {
    name: _C[name]
    for name in (
        "asset_tag",
        "description",
        "manufacturer",
        "model",
        "serial_number",
        "location",
        "status",
        "last_calibrated",
        "next_due",
    )
} | {"holder": HOLDER, "next_check": NEXT_CHECK}

LIST_COLUMNS = (
    *(
        _C[name]
        for name in (
            "id",
            "asset_tag",
            "description",
            "manufacturer",
            "model",
            "serial_number",
            "location",
            "status",
            "calibration_interval_days",
            "last_calibrated",
            "next_due",
            "version",
            "calibration_requirement",
            "review_reason",
        )
    ),
    HOLDER,
    NEXT_CHECK.label("next_check"),
    CHECK_SCHEDULE.c.due_before_use.label("check_before_use"),
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
    calibration_requirement: str
    review_reason: str
    holder: str | None  # who has it now (issue 15); None: nobody
    next_check: date | None  # its active check schedule's next due (issue 15)
    check_before_use: bool | None  # that schedule is due before the next use; None: none


def _row_by_name(row: Any) -> ListRow:
    """A list row built field by field from the result row's column names."""
    return ListRow(**row._mapping)


# ListRow._make without its Python-level wrapper, while the select's columns are exactly
# ListRow's fields in order; else each row is built by its column names.
_list_row: Callable[[Any], ListRow] = (
    functools.partial(tuple.__new__, ListRow)
    if ListRow._fields == tuple(c.key for c in LIST_COLUMNS)
    else _row_by_name
)


@dataclass(frozen=True)
class ListQuery:
    """What the list shows: filter, search, order and the page."""

    due: DueFilter | None = None
    search: str = ""
    sort: str = "next_due"
    descending: bool = False
    limit: int | None = 100
    offset: int = 0


def due_condition(due: DueFilter, today: Any, soon_until: Any) -> ColumnElement[bool]:
    """The filter's condition; ``today`` and ``soon_until`` are dates or bind parameters."""
    in_service = _C.status == "in_service"
    periodic = _C.calibration_requirement == "periodic"
    if due is DueFilter.OK:
        return and_(in_service, periodic, _C.next_due > soon_until)
    if due is DueFilter.DUE_SOON:
        return and_(in_service, periodic, _C.next_due >= today, _C.next_due <= soon_until)
    if due is DueFilter.OVERDUE:
        return and_(in_service, periodic, _C.next_due < today)
    if due is DueFilter.NOT_CALIBRATED:
        # In service and never calibrated: not late, but not to be used until it is.
        return and_(in_service, periodic, _C.next_due.is_(None))
    if due in (DueFilter.VERIFY_BEFORE_USE, DueFilter.NOT_REQUIRED):
        return and_(in_service, _C.calibration_requirement == due.value.replace("-", "_"))
    if due is DueFilter.TO_REVIEW:
        return _C.review_reason != ""
    if due in (DueFilter.CHECK_DUE, DueFilter.MAINTENANCE_DUE):
        return and_(in_service, _schedule_due(due.value.removesuffix("-due"), soon_until))
    lifecycle: ColumnElement[bool] = _C.status == due.value.replace("-", "_")
    return lifecycle


_S = table_of(InstrumentSchedule).c


def _schedule_due(kind: str, soon_until: Any) -> ColumnElement[bool]:
    """The instrument has an active ``kind`` schedule due by ``soon_until`` (due soon,
    in its grace or late: app.services.due.schedule_status) or due before its next use."""
    return (
        select(_S.id)
        .where(
            _S.instrument_id == _C.id,
            _S.kind == kind,
            _S.active.is_(True),
            (_S.due_before_use.is_(True)) | (_S.next_due <= soon_until),
        )
        .exists()
    )


def like_pattern(term: str) -> str:
    """``%term%``, its LIKE wildcards escaped: "50%" means the characters, not a pattern."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_terms(text: str) -> list[str]:
    return text.casefold().split()


@functools.lru_cache(maxsize=256)
def list_statement(
    what: str, due: DueFilter | None, terms: int, sort: str, descending: bool, page: str
) -> Select[Any]:
    """The statement of a list read, built once per shape with bind parameters.

    ``what`` is "rows", "ids" or "count"; ``page`` is "", "limit" or "offset". The
    parameters are ``today`` and ``until`` (with a filter), ``term0``… (one per search
    term), ``limit`` and ``offset``. Building a select costs more than running it on a
    page of the index, and the list runs the same few shapes over and over.
    """
    conds: list[ColumnElement[bool]] = []
    if due is not None:
        conds.append(due_condition(due, bindparam("today"), bindparam("until")))
    # A search term also finds who has the instrument ("dana" lists what Dana has).
    conds += [
        or_(
            _C.search_text.like(bindparam(f"term{i}"), escape="\\"),
            func.lower(HOLDER).like(bindparam(f"term{i}"), escape="\\"),
        )
        for i in range(terms)
    ]
    # The holder's (and next check's) join only where they are read, searched or sorted by.
    joined = what == "rows" or terms or sort in ("holder", "next_check")
    source = WITH_HOLDER if joined else INSTRUMENTS
    if what == "count":
        return select(func.count()).select_from(source).where(*conds)
    column = SORT_COLUMNS.get(sort, _C.next_due)
    columns = LIST_COLUMNS if what == "rows" else (_C.id,)
    stmt = (
        select(*columns)
        .select_from(source)
        .where(*conds)
        .order_by(column.desc() if descending else column.asc(), _C.id)
    )
    if page == "limit":
        stmt = stmt.limit(bindparam("limit"))
    if page:
        stmt = stmt.offset(bindparam("offset"))
    return stmt


def list_page(what: str, query: ListQuery) -> str:
    if what == "count":
        return ""
    if query.limit is not None:
        return "limit"
    return "offset" if query.offset else ""


def list_parameters(query: ListQuery, today: date, soon_until: date, page: str) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if query.due is not None:
        params.update(today=today, until=soon_until)
    for i, term in enumerate(search_terms(query.search)):
        params[f"term{i}"] = like_pattern(term)
    if page == "limit":
        params["limit"] = query.limit
    if page:
        params["offset"] = query.offset
    return params


# Ids read from the cursor per call in list_ids. Few enough that their row tuples never
# add up to a garbage collection (700 live allocations start one, and 100k tuples held
# at once set off a full collection: a pause of 60 ms for every thread, the GUI's too).
ID_BATCH = 500

_ROWS_BY_IDS = (
    select(*LIST_COLUMNS)
    .select_from(WITH_HOLDER)
    .where(_C.id.in_(bindparam("ids", expanding=True)))
)


class InstrumentRepository:
    """Instruments: load, add and the list queries."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def _core(self, stmt: Executable, params: dict[str, Any] | None = None) -> CursorResult[Any]:
        """Plain-row reads through the session's connection, skipping ORM loading (the
        list is read-heavy and wants plain tuples anyway)."""
        return self._session.connection().execute(stmt, params)

    def get(self, instrument_id: int) -> Instrument | None:
        return self._session.get(Instrument, instrument_id)

    def by_ids(self, ids: Sequence[int]) -> dict[int, Instrument]:
        """id → instrument, for the ids that exist (in slices the server takes)."""
        found: dict[int, Instrument] = {}
        wanted = sorted(set(ids))
        for start in range(0, len(wanted), 500):
            stmt = select(Instrument).where(Instrument.id.in_(wanted[start : start + 500]))
            found.update({i.id: i for i in self._session.execute(stmt).scalars()})
        return found

    def get_by_tag(self, asset_tag: str) -> Instrument | None:
        stmt = select(Instrument).where(Instrument.asset_tag_key == tag_key(asset_tag))
        return self._session.execute(stmt).scalar_one_or_none()

    def get_many_by_tags(self, tags: Sequence[str]) -> dict[str, Instrument]:
        keys = [tag_key(t) for t in tags]
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

    def _list(
        self, what: str, query: ListQuery, today: date, soon_until: date
    ) -> CursorResult[Any]:
        page = list_page(what, query)
        terms = len(search_terms(query.search))
        stmt = list_statement(what, query.due, terms, query.sort, query.descending, page)
        return self._core(stmt, list_parameters(query, today, soon_until, page))

    def list_rows(self, query: ListQuery, today: date, soon_until: date) -> list[ListRow]:
        # all() fetches in one DBAPI call; iterating the result fetches row by row.
        return list(map(_list_row, self._list("rows", query, today, soon_until).all()))

    def list_ids(self, query: ListQuery, today: date, soon_until: date) -> list[int]:
        """Every matching id in display order: cheap even for 100k rows (Anki's way).

        The ids are read from the DBAPI cursor a few hundred at a time. They need no
        conversion, and SQLAlchemy's row handling of 100k rows is one long C loop that
        keeps the GIL, and with it the GUI thread, waiting for a tenth of a second.
        """
        unpaged = ListQuery(query.due, query.search, query.sort, query.descending, None, 0)
        result = self._list("ids", unpaged, today, soon_until)
        ids: list[int] = []
        try:
            while batch := result.cursor.fetchmany(ID_BATCH):
                ids.extend([row[0] for row in batch])
        finally:
            result.close()
        return ids

    def rows_by_ids(self, ids: Sequence[int]) -> list[ListRow]:
        """List rows for the given ids (in no particular order)."""
        if not ids:
            return []
        result = self._core(_ROWS_BY_IDS, {"ids": list(ids)})
        return list(map(_list_row, result.all()))

    def count(self, query: ListQuery, today: date, soon_until: date) -> int:
        return int(self._list("count", query, today, soon_until).scalar_one())

    def status_counts(self, today: date, soon_until: date) -> dict[DueFilter, int]:
        """Every filter's count in one pass over the table."""
        columns = [
            func.coalesce(func.sum(case((due_condition(d, today, soon_until), 1), else_=0)), 0)
            for d in DueFilter
        ]
        row = self._core(select(*columns).select_from(INSTRUMENTS)).one()
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
            insert_many(self._session, table_of(Instrument), rows)
            sync_id_sequence(self._session, Instrument)


# -- bulk inserts (shared by every repository's bulk_insert) ------------------------------

# Below this many rows the Core insert is used: its compiled statement is cached, and a
# one-row audit flush must not pay for compiling a statement of its own.
BULK_MIN_ROWS = 64
# Types whose values repeat across a bulk insert (the same few dates, one timestamp per
# transaction, flags): each distinct value goes through the bind processor once.
REPEATING_TYPES = (Date, DateTime, Boolean)


class _Memo(dict[Any, Any]):
    """Bind values computed once per distinct value (``__missing__`` does the work)."""

    def __init__(self, convert: Callable[[Any], Any]) -> None:
        super().__init__()
        self._convert = convert

    def __missing__(self, value: Any) -> Any:
        bound = self._convert(value)
        self[value] = bound
        return bound


def insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``INSERT`` many rows, each with the same keys, in the session's transaction.

    On SQLite the rows reach the DBAPI cursor (still through the connection, so in the
    same transaction and with SQLAlchemy's error handling) as tuples already converted
    by each column's own bind processor: the same stored values as a Core insert,
    without its per-row parameter handling (a third of the time of a demo run). Other
    backends, small batches and anything unusual (a key that is not a column, a callable
    default, a value of an unexpected type) take the Core path, which also reports such
    problems the usual way.
    """
    if not rows:
        return
    connection = session.connection()
    prepared = None
    if connection.dialect.name == "sqlite" and len(rows) >= BULK_MIN_ROWS:
        prepared = _as_tuples(connection.dialect, table, rows)
    if prepared is None:
        connection.execute(table.insert(), list(rows))
    else:
        connection.exec_driver_sql(*prepared)


def _as_tuples(
    dialect: Dialect, table: Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[str, list[tuple[Any, ...]]] | None:
    """The INSERT and its parameter tuples, or None for the Core path.

    Columns whose values need no bind processing (most text and integers) are taken
    from each row in one C-level ``itemgetter`` call; the others are converted column by
    column and appended, so the statement names its columns in that order.
    """
    given = set(rows[0])
    if not given <= set(table.c.keys()):
        return None
    plain: list[str] = []
    # (column, bind processor or None, default for a left-out column, ISO dates?)
    converted: list[tuple[str, Callable[[Any], Any] | None, Any, bool]] = []
    for column in table.columns:
        if column.key not in given:
            # Core fills in a left-out column's scalar Python default; a server default
            # or NULL needs nothing from us.
            if column.default is None:
                continue
            if not getattr(column.default, "is_scalar", False):
                return None
        process: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).bind_processor(
            dialect
        )
        if column.key in given and process is None:
            plain.append(column.key)
            continue
        iso = _stores_iso_dates(column, process)
        if process is not None and not iso and isinstance(column.type, REPEATING_TYPES):
            process = _Memo(process).__getitem__
        default = None if column.key in given else getattr(column.default, "arg", None)
        converted.append((column.key, process, default, iso))
    if not plain or not dialect.positional or dialect.paramstyle != "qmark":
        return None
    count = len(rows)
    try:
        params: list[tuple[Any, ...]] = list(map(_getter(plain), rows))
        if converted:
            # Read the converted columns in one pass over the rows too (one key of each
            # row dict per column would miss the CPU cache far more), then transpose.
            read = [name for name, _p, _d, _i in converted if name in given]
            found = iter(zip(*map(_getter(read), rows), strict=True) if read else ())
            columns: list[list[Any]] = []
            for name, process, default, iso in converted:
                values = list(next(found)) if name in given else [default] * count
                if iso:
                    columns.append(_iso_dates(values))
                else:
                    columns.append(values if process is None else list(map(process, values)))
            params = list(map(operator.add, params, zip(*columns, strict=True)))
    except (KeyError, TypeError, ValueError):
        return None  # a row without a key, an unhashable or wrongly typed value
    quote = dialect.identifier_preparer
    names = plain + [name for name, _p, _d, _i in converted]
    sql = (
        f"INSERT INTO {quote.format_table(table)} "
        f"({', '.join(quote.format_column(table.c[n]) for n in names)}) "
        f"VALUES ({', '.join('?' * len(names))})"
    )
    return sql, params


def _stores_iso_dates(column: Any, process: Callable[[Any], Any] | None) -> bool:
    """True for a date column whose bind processor writes ``date.isoformat()``.

    Dates are the one kind of value with thousands of distinct values per batch (the
    memo would miss), and ``date.isoformat`` converts them in C. The probes pin the
    format down: four-digit zero-padded year, then month and day.
    """
    if process is None or not isinstance(column.type, Date) or isinstance(column.type, DateTime):
        return False
    try:
        probes = (process(date(2001, 2, 3)), process(date(987, 6, 5)))
    except (TypeError, ValueError):
        return False
    return probes == ("2001-02-03", "0987-06-05")


def _iso_dates(values: list[Any]) -> list[Any]:
    """Bound values of a date column (``date.isoformat``; raises TypeError on non-dates)."""
    try:
        return list(map(date.isoformat, values))
    except TypeError:  # a None among them (anything else that is no date raises again)
        return [None if v is None else date.isoformat(v) for v in values]


def _getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``itemgetter`` that always returns a tuple (it returns the bare value for one name)."""
    if len(names) == 1:
        name = names[0]
        return lambda row: (row[name],)
    return itemgetter(*names)
