"""Audit events: append to the chain, read it back in order."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from app.db.models import AuditEvent, table_of
from app.repositories.instruments import insert_many

# The key of the transaction-scoped advisory lock that serialises appends to the chain
# on PostgreSQL (any constant unique to CalTrack: "CalT" "rack" as two ASCII words).
CHAIN_LOCK_KEY = 0x43616C54_7261636B


class AuditRepository:
    """The audit_event table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def lock_chain(self) -> None:
        """Own the chain head until this transaction ends; call before reading the head.

        SQLite needs nothing: ``BEGIN IMMEDIATE`` already made this the only writer. On
        PostgreSQL two transactions could otherwise read the same head and both append
        event N+1 after it. The advisory lock also covers what a row lock cannot: the
        head row missing (a new database, or one deleted behind CalTrack's back). Read
        committed: every statement after the lock sees what the previous holder committed.
        """
        if self._session.get_bind().dialect.name == "postgresql":
            self._session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY}
            )

    def last(self) -> tuple[int, str] | None:
        """(id, hash) of the newest event."""
        row = self._session.execute(
            select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
        ).first()
        return (int(row[0]), str(row[1])) if row else None

    def hash_at(self, position: int) -> str | None:
        """The hash of the ``position``-th event (1-based, in chain order), or None."""
        if position < 1:
            return None
        row = self._session.execute(
            select(AuditEvent.hash).order_by(AuditEvent.id).offset(position - 1).limit(1)
        ).first()
        return str(row[0]) if row else None

    def position_of(self, event_id: int) -> int:
        """How many events come up to and including ``event_id`` (its place in the chain)."""
        return int(
            self._session.execute(
                select(func.count(AuditEvent.id)).where(AuditEvent.id <= event_id)
            ).scalar_one()
        )

    def get(self, event_id: int) -> AuditEvent | None:
        return self._session.get(AuditEvent, event_id)

    def add(self, event: AuditEvent) -> None:
        self._session.add(event)

    def bulk_insert(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            insert_many(self._session, table_of(AuditEvent), rows)

    def iter_all(self, batch: int = 5000) -> Iterator[AuditEvent]:
        stmt = select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch)
        yield from self._session.execute(stmt).scalars()

    def iter_entity_events(self, entity_type: str, batch: int = 5000) -> Iterator[AuditEvent]:
        """Every event of one entity type, by entity id then event id (for replay)."""
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type)
            .order_by(AuditEvent.entity_id, AuditEvent.id)
            .execution_options(yield_per=batch)
        )
        yield from self._session.execute(stmt).scalars()

    def for_entity(self, entity_type: str, entity_id: int) -> list[AuditEvent]:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.id)
        )
        return list(self._session.execute(stmt).scalars())

    def for_entities(self, ids_by_type: Mapping[str, Sequence[int]]) -> list[AuditEvent]:
        """The events of several entities (type → ids), oldest first."""
        return self.query(entities=ids_by_type, limit=None, oldest_first=True)

    def query(
        self,
        *,
        entity_type: str | None = None,
        user: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = 500,
        entity_label: str | None = None,
        entities: Mapping[str, Sequence[int]] | None = None,
        oldest_first: bool = False,
    ) -> list[AuditEvent]:
        """Events matching every filter given; ``entity_label`` matches a label exactly or
        as its first word, ignoring case ("TH-001" finds "TH-001" and "TH-001 #12");
        ``entities`` keeps the events of these entities (type → ids) only."""
        stmt = select(AuditEvent)
        if entities is not None:
            wanted = [
                and_(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_(list(ids)))
                for kind, ids in entities.items()
                if ids
            ]
            if not wanted:
                return []
            stmt = stmt.where(or_(*wanted))
        if entity_type:
            stmt = stmt.where(AuditEvent.entity_type == entity_type)
        if user:
            stmt = stmt.where(AuditEvent.user == user)
        if since:
            stmt = stmt.where(AuditEvent.occurred_at >= since)
        if until:
            stmt = stmt.where(AuditEvent.occurred_at < until)
        if entity_label:
            key = entity_label.strip().lower()
            escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            label = func.lower(AuditEvent.entity_label)
            stmt = stmt.where(or_(label == key, label.like(escaped + " %", escape="\\")))
        stmt = stmt.order_by(AuditEvent.id.asc() if oldest_first else AuditEvent.id.desc())
        if limit:
            stmt = stmt.limit(limit)
        return list(self._session.execute(stmt).scalars())

    def total(self) -> int:
        return int(self._session.execute(select(func.count(AuditEvent.id))).scalar_one())
