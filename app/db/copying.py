"""Copying a CalTrack database's rows, table by table, from one backend to another.

Core only (no ORM): rows go across as they are stored, explicit ids and all, in batches
of ``BATCH`` rows, tables in foreign-key order. Nothing is recomputed on the way: the
audit events keep their hashes and the signatures their content hashes, so the chain
and the signatures verify on the target as they did on the source.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Integer, Select, Table, delete, func, select, text

from app.db.fencing import LOCK_EPOCH_KEY
from app.db.models import Base
from app.db.sidefiles import KNOWN_PATHS_KEY

BATCH = 2000
DATABASE_ID_KEY = "database_id"
# The database id of the source a copy was made from (the copy has its own id).
COPIED_FROM_KEY = "copied_from"
# Facts about the *file* a database lives in, not about its data: a copy is another
# file (or a server) and starts without them. The names the source file had would even
# make the copy look for the source's journal as a save left under an earlier name.
SHARED_KEY = "shared_since"  # app.services.editing.SHARED_KEY (services sit above here)
FILE_FACTS = frozenset({LOCK_EPOCH_KEY, SHARED_KEY, KNOWN_PATHS_KEY})
# Alembic's own table is written by the migrations that create the target's schema.
NOT_COPIED = frozenset({"alembic_version"})
# Attachment content kept in the database (a server's store). Copied as rows only from
# a server to a server; to or from a file it goes through the content stores instead.
CONTENT_TABLES = frozenset({"attachment_blob", "attachment_chunk"})
# Rows of about 1 MiB each: a few at a time, never 2,000 (2 GB) in memory.
CHUNK_ROWS_BATCH = 4

Progress = Callable[[str, int, int], None]  # (table, rows done, rows in the table)


@dataclass(frozen=True)
class TableCopy:
    """Rows copied into one table."""

    name: str
    rows: int


def copied_tables(*, with_content: bool = True) -> list[Table]:
    """Every CalTrack table, parents before children (the content tables optional)."""
    left_out = NOT_COPIED if with_content else NOT_COPIED | CONTENT_TABLES
    return [t for t in Base.metadata.sorted_tables if t.name not in left_out]


def row_counts(connection: Connection, tables: Sequence[Table] | None = None) -> dict[str, int]:
    """Rows per CalTrack table."""
    return {
        t.name: int(connection.execute(select(func.count()).select_from(t)).scalar_one())
        for t in tables or copied_tables()
    }


def _copied_rows(table: Table) -> Select[Any]:
    """The rows of ``table`` a copy takes along, in primary-key order."""
    query = select(table).order_by(*table.primary_key.columns)
    if table.name == "meta":
        # Where the source came from is not where the copy comes from (give_own_identity).
        query = query.where(table.c.key.not_in(sorted(FILE_FACTS | {COPIED_FROM_KEY})))
    return query


def _source_rows(connection: Connection, table: Table) -> Iterator[Sequence[dict[str, Any]]]:
    """The table's rows in primary-key order, a batch at a time (never all in memory)."""
    query = _copied_rows(table)
    size = CHUNK_ROWS_BATCH if table.name == "attachment_chunk" else BATCH
    result = connection.execution_options(stream_results=True, yield_per=size).execute(query)
    for batch in result.mappings().partitions(size):
        yield [dict(row) for row in batch]


def copy_table(
    source: Connection, target: Connection, table: Table, progress: Progress | None = None
) -> TableCopy:
    """Copy every row of ``table`` (its ids kept) inside the target's open transaction."""
    counted = select(func.count()).select_from(_copied_rows(table).order_by(None).subquery())
    total = int(source.execute(counted).scalar_one())
    done = 0
    if progress:
        progress(table.name, done, total)
    for batch in _source_rows(source, table):
        target.execute(table.insert(), list(batch))
        done += len(batch)
        if progress:
            progress(table.name, done, total)
    return TableCopy(table.name, done)


def reset_sequences(connection: Connection, tables: Sequence[Table] | None = None) -> None:
    """PostgreSQL: move each serial ``id`` sequence past the ids given by the copy.

    SQLite picks max(id)+1 by itself; a PostgreSQL sequence does not see explicit ids
    and would hand out the copied ones again (the first new row would fail as a
    duplicate).
    """
    if connection.dialect.name != "postgresql":
        return
    for table in tables or copied_tables():
        column = table.c.get("id")
        if column is None or not column.primary_key or not isinstance(column.type, Integer):
            continue
        # setval(seq, max, true): the next id is max + 1; an empty table starts at 1.
        connection.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                f'COALESCE((SELECT MAX(id) FROM "{table.name}"), 1), '
                f'(SELECT COUNT(*) > 0 FROM "{table.name}"))'
            ),
            {"table": table.name},
        )


def give_own_identity(connection: Connection) -> int:
    """Give the copy in ``connection`` a database id of its own; the meta rows it added.

    A copy is another database from the moment it is made: both go on being written,
    so their audit trails part. Under the source's id every PC would hold one anchor
    for two trails and call the other one cut or rewritten; ``copied_from`` keeps the
    source's id for whoever asks where the copy came from.
    """
    meta = Base.metadata.tables["meta"]
    source_id = connection.execute(
        select(meta.c.value).where(meta.c.key == DATABASE_ID_KEY)
    ).scalar_one_or_none()
    own = str(uuid.uuid4())
    connection.execute(delete(meta).where(meta.c.key == DATABASE_ID_KEY))
    rows = [{"key": DATABASE_ID_KEY, "value": own}]
    if source_id is not None:
        rows.append({"key": COPIED_FROM_KEY, "value": source_id})
    connection.execute(meta.insert(), rows)
    return len(rows) - (source_id is not None)
