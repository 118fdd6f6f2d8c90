"""Attachment content kept in the database (server databases): blobs and their chunks.

Rows are written and read with Core statements, never as ORM objects: a chunk is about
1 MiB, and the session's identity map would otherwise hold every chunk of a large file
until the transaction ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Insert, func, insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from app.db.models import AttachmentBlob, AttachmentChunk


@dataclass(frozen=True)
class ChunkSummary:
    """What a blob's chunks add up to, without reading them."""

    count: int
    last_seq: int | None
    total_bytes: int


class AttachmentContentRepository:
    """Blobs (one per sha256) and their ordered chunks."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def claim_blob(self, sha256: str, size_bytes: int) -> bool:
        """Record a blob; False when it is already there (its chunks need no writing).

        ``ON CONFLICT DO NOTHING``: a concurrent attach of the same content waits for the
        other transaction and then finds the blob, instead of failing on the key.
        """
        key = ["sha256"]
        if self._session.get_bind().dialect.name == "postgresql":
            # Loaded here: the server's dialect is a tenth of a command's start-up, and
            # only a server stores attachments in the database.
            from sqlalchemy.dialects import postgresql

            on_server = postgresql.insert(AttachmentBlob).on_conflict_do_nothing(index_elements=key)
            stmt: Insert = on_server.values(sha256=sha256, size_bytes=size_bytes)
        else:
            in_file = sqlite.insert(AttachmentBlob).on_conflict_do_nothing(index_elements=key)
            stmt = in_file.values(sha256=sha256, size_bytes=size_bytes)
        return self._session.execute(stmt.returning(AttachmentBlob.sha256)).first() is not None

    def blob_size(self, sha256: str) -> int | None:
        stmt = select(AttachmentBlob.size_bytes).where(AttachmentBlob.sha256 == sha256)
        size = self._session.execute(stmt).scalar_one_or_none()
        return None if size is None else int(size)

    def add_chunk(self, sha256: str, seq: int, data: bytes) -> None:
        self._session.execute(insert(AttachmentChunk).values(sha256=sha256, seq=seq, data=data))

    def chunk(self, sha256: str, seq: int) -> bytes | None:
        """One chunk, or None past the last (or where one is missing)."""
        stmt = select(AttachmentChunk.data).where(
            AttachmentChunk.sha256 == sha256, AttachmentChunk.seq == seq
        )
        data = self._session.execute(stmt).scalar_one_or_none()
        return None if data is None else bytes(data)

    def summary(self, sha256: str) -> ChunkSummary:
        stmt = select(
            func.count(AttachmentChunk.seq),
            func.max(AttachmentChunk.seq),
            func.coalesce(func.sum(func.length(AttachmentChunk.data)), 0),
        ).where(AttachmentChunk.sha256 == sha256)
        count, last, total = self._session.execute(stmt).one()
        return ChunkSummary(int(count), None if last is None else int(last), int(total))
