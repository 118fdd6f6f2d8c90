"""Provider register and send-out batch persistence (issue 15, ISO/IEC 17025 6.6)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified

from app.db.models import Provider, SendoutBatch, SendoutItem
from app.plain_text import tag_key


class ProviderRepository:
    """Reads and writes ``provider`` rows."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, provider_id: int) -> Provider | None:
        return self._session.get(Provider, provider_id)

    def get_by_name(self, name: str) -> Provider | None:
        """The provider whose name folds to the same key (case, look-alike characters)."""
        stmt = select(Provider).where(Provider.name_key == tag_key(name))
        return self._session.execute(stmt).scalar_one_or_none()

    def by_ids(self, ids: Sequence[int]) -> dict[int, Provider]:
        if not ids:
            return {}
        stmt = select(Provider).where(Provider.id.in_(sorted(set(ids))))
        return {p.id: p for p in self._session.execute(stmt).scalars()}

    def list_all(self) -> list[Provider]:
        """Every provider by name (a lab has tens)."""
        stmt = select(Provider).order_by(Provider.name_key)
        return list(self._session.execute(stmt).scalars())

    def add(self, obj: Provider) -> Provider:
        self._session.add(obj)
        self._session.flush()
        return obj

    def flush(self) -> None:
        self._session.flush()

    def iter_all(self) -> Iterator[Provider]:
        """Every provider by id (for verify's replay)."""
        stmt = select(Provider).order_by(Provider.id)
        yield from self._session.execute(stmt).scalars()


class SendoutRepository:
    """Reads and writes ``sendout_batch`` rows with their items."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, batch_id: int) -> SendoutBatch | None:
        return self._session.get(SendoutBatch, batch_id)

    def find(
        self, *, provider_id: int | None = None, since: date | None = None
    ) -> list[SendoutBatch]:
        """Batches, newest first, with their items loaded."""
        stmt = select(SendoutBatch).options(selectinload(SendoutBatch.items))
        if provider_id is not None:
            stmt = stmt.where(SendoutBatch.provider_id == provider_id)
        if since is not None:
            stmt = stmt.where(SendoutBatch.sent_on >= since)
        stmt = stmt.order_by(SendoutBatch.sent_on.desc(), SendoutBatch.id.desc())
        return list(self._session.execute(stmt).scalars())

    def batch_ids_of(self, instrument_id: int) -> list[int]:
        """The batches an instrument was sent out in, oldest first."""
        stmt = (
            select(SendoutItem.batch_id)
            .where(SendoutItem.instrument_id == instrument_id)
            .order_by(SendoutItem.batch_id)
        )
        return [int(b) for b in self._session.execute(stmt).scalars()]

    def open_items_of(self, instrument_ids: Sequence[int]) -> dict[int, int]:
        """instrument id → the batch it is out with (not yet received)."""
        if not instrument_ids:
            return {}
        stmt = select(SendoutItem.instrument_id, SendoutItem.batch_id).where(
            SendoutItem.instrument_id.in_(sorted(set(instrument_ids))),
            SendoutItem.received_on.is_(None),
        )
        return {int(i): int(b) for i, b in self._session.execute(stmt)}

    def add(self, obj: SendoutBatch) -> SendoutBatch:
        self._session.add(obj)
        self._session.flush()
        return obj

    def flush(self) -> None:
        self._session.flush()

    def touch(self, obj: SendoutBatch) -> None:
        """Update the batch's own row (and so its version) when only an item changed."""
        flag_modified(obj, "updated_at")

    def iter_all(self) -> Iterator[SendoutBatch]:
        """Every batch by id (for verify's replay)."""
        stmt = (
            select(SendoutBatch).options(selectinload(SendoutBatch.items)).order_by(SendoutBatch.id)
        )
        yield from self._session.execute(stmt).scalars()
