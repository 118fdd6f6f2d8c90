"""Attachment rows (the files themselves live in ``app.storage``)."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db.models import Attachment, CalibrationRecord


class AttachmentRepository:
    """Attachment rows: add, load, list by owner."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, attachment_id: int) -> Attachment | None:
        return self._session.get(Attachment, attachment_id)

    def add(self, attachment: Attachment) -> Attachment:
        self._session.add(attachment)
        self._session.flush()
        return attachment

    def flush(self) -> None:
        self._session.flush()

    def for_instrument(self, instrument_id: int, *, with_records: bool = True) -> list[Attachment]:
        """The instrument's own files and, optionally, those of its calibrations."""
        own = Attachment.instrument_id == instrument_id
        cond = own
        if with_records:
            record_ids = select(CalibrationRecord.id).where(
                CalibrationRecord.instrument_id == instrument_id
            )
            cond = or_(own, Attachment.record_id.in_(record_ids))
        stmt = select(Attachment).where(cond).order_by(Attachment.id)
        return list(self._session.execute(stmt).scalars())

    def for_record(self, record_id: int) -> list[Attachment]:
        stmt = select(Attachment).where(Attachment.record_id == record_id).order_by(Attachment.id)
        return list(self._session.execute(stmt).scalars())

    def iter_all(self) -> Iterator[Attachment]:
        stmt = select(Attachment).order_by(Attachment.id).execution_options(yield_per=1000)
        yield from self._session.execute(stmt).scalars()

    def stored_names(self) -> set[str]:
        return set(self._session.execute(select(Attachment.stored_name)).scalars())

    def total(self) -> int:
        return int(self._session.execute(select(func.count(Attachment.id))).scalar_one())
