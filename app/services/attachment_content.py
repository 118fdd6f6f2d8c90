"""Where attachment content lives: a folder beside a database file, or the server database.

The attachment service and ``db verify`` talk to one small interface,
``AttachmentContent``; the composition (``app.bootstrap``) picks the kind by backend:

- ``FolderContent``: a database file keeps its files in ``lab.db-attachments`` beside it
  (``app.storage.attachments``), copied in and made durable before the row commits.
- ``DatabaseContent``: a server database has no such folder. The bytes go into
  ``attachment_chunk`` in slices of ``CHUNK`` bytes, once per distinct sha256
  (``attachment_blob``), in the same transaction as the attachment row: a client killed
  mid-upload leaves nothing, neither a row nor half a file.

Both stream: no file is ever held whole in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import BinaryIO, Protocol

from app.errors import UsageError
from app.repositories.attachment_content import AttachmentContentRepository
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.storage.attachments import (
    CHUNK,
    AttachmentStore,
    Progress,
    StoredFile,
    check_destination,
    reading,
    write_verified,
)
from app.storage.filenames import stored_name


@dataclass(frozen=True)
class ContentRef:
    """The recorded facts of one attachment that its content is checked against."""

    attachment_id: int
    original_name: str
    stored_name: str
    size_bytes: int
    sha256: str


class AttachmentContent(Protocol):
    """What the services need from wherever attachment bytes are kept."""

    @property
    def where(self) -> str:
        """Where the content is, for messages ("the folder …", "the database")."""
        ...

    def stage(self, source: Path, *, progress: Progress | None = None) -> StoredFile:
        """First step of an attach, before the write transaction: name, size and hash."""
        ...

    def put(
        self,
        uow: UnitOfWork,
        staged: StoredFile,
        source: Path,
        *,
        progress: Progress | None = None,
    ) -> None:
        """Inside the transaction that adds the row: make the content part of it."""
        ...

    def discard(self, staged: StoredFile) -> None:
        """The row never committed: take back what ``stage`` left outside the database."""
        ...

    def export(self, ref: ContentRef, destination: Path) -> Path:
        """Write a verified copy to a new file ``destination``."""
        ...

    def problem(self, ref: ContentRef, *, deep: bool) -> str | None:
        """What is wrong with one attachment's content (None: nothing); ``deep`` hashes."""
        ...

    def orphans(self, known: set[str]) -> list[str]:
        """Stored content no attachment row refers to (``known``: the rows' stored names)."""
        ...


class FolderContent:
    """Files in the folder beside a database file (``AttachmentStore``)."""

    def __init__(self, store: AttachmentStore) -> None:
        self.store = store

    @property
    def where(self) -> str:
        return str(self.store.folder)

    def stage(self, source: Path, *, progress: Progress | None = None) -> StoredFile:
        # Copied and durable before the row commits: a crash leaves an orphan, never a
        # row without its file.
        return self.store.ingest(source, progress=progress)

    def put(
        self,
        uow: UnitOfWork,
        staged: StoredFile,
        source: Path,
        *,
        progress: Progress | None = None,
    ) -> None:
        return None  # the file is already in place

    def discard(self, staged: StoredFile) -> None:
        self.store.discard(staged.stored_name)

    def export(self, ref: ContentRef, destination: Path) -> Path:
        return self.store.export(ref.stored_name, destination, expected_sha256=ref.sha256)

    def problem(self, ref: ContentRef, *, deep: bool) -> str | None:
        stored = ref.stored_name
        try:
            exists = self.store.exists(stored)
        except UsageError as exc:
            return str(exc)
        if not exists:
            return f"file {stored} is missing from {self.store.folder}; restore it from a backup"
        if deep and self.store.hash_file(stored) != (ref.size_bytes, ref.sha256):
            return (
                f"file {stored} does not match its recorded size and sha256 "
                "(damaged or replaced outside CalTrack)"
            )
        return None

    def orphans(self, known: set[str]) -> list[str]:
        return [name for name in self.store.iter_names() if name not in known]


class DatabaseContent:
    """Content in the server database: ``attachment_blob`` and its ``attachment_chunk`` rows."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    @property
    def where(self) -> str:
        return "the database"

    def stage(self, source: Path, *, progress: Progress | None = None) -> StoredFile:
        """Hash the file (first of two passes) so that content already stored is not
        written again; nothing touches the database yet."""
        digest = hashlib.sha256()
        size = 0
        with reading(source) as (handle, total):
            while chunk := _read(handle, source):
                digest.update(chunk)
                size += len(chunk)
                if progress:
                    # Two passes (hash, then write): each is half of the bar.
                    progress(size, 2 * total)
        return StoredFile(
            stored_name=stored_name(source.name), size_bytes=size, sha256=digest.hexdigest()
        )

    def put(
        self,
        uow: UnitOfWork,
        staged: StoredFile,
        source: Path,
        *,
        progress: Progress | None = None,
    ) -> None:
        """Write the chunks in the caller's transaction (none when the content is there).

        The file is read again and hashed on the way: had it changed since ``stage``, the
        chunks would not match their key, so the attach fails and the rollback takes them.
        """
        content = uow.attachment_content
        if not content.claim_blob(staged.sha256, staged.size_bytes):
            if progress:
                progress(staged.size_bytes, staged.size_bytes)
            return
        digest = hashlib.sha256()
        size = 0
        with reading(source) as (handle, _total):
            for seq in count():
                chunk = _read(handle, source)
                if not chunk:
                    break
                content.add_chunk(staged.sha256, seq, chunk)
                digest.update(chunk)
                size += len(chunk)
                if progress:
                    progress(staged.size_bytes + size, 2 * staged.size_bytes)
        if (size, digest.hexdigest()) != (staged.size_bytes, staged.sha256):
            raise UsageError(
                f"{source.name} changed while it was being attached; nothing was attached — "
                "attach it again once it is saved"
            )

    def discard(self, staged: StoredFile) -> None:
        return None  # the chunks were part of the rolled-back transaction

    def export(self, ref: ContentRef, destination: Path) -> Path:
        check_destination(destination)

        def copy(uow: UnitOfWork) -> Path:
            # One read transaction: the chunks come from one consistent snapshot.
            content = uow.attachment_content
            if content.blob_size(ref.sha256) is None:
                raise UsageError(
                    f"the content of attachment {ref.stored_name} is missing from the database; "
                    "run `db verify`"
                )
            return write_verified(
                _chunks(content, ref.sha256),
                destination,
                expected_sha256=ref.sha256,
                name=ref.stored_name,
            )

        return self._uow.read(copy)

    def problem(self, ref: ContentRef, *, deep: bool) -> str | None:
        def check(uow: UnitOfWork) -> str | None:
            content = uow.attachment_content
            sha = ref.sha256
            if content.blob_size(sha) is None:
                return f"its content (sha256 {sha[:12]}…) is missing from the database"
            summary = content.summary(sha)
            last = -1 if summary.last_seq is None else summary.last_seq
            if summary.count != last + 1:
                return (
                    f"its content (sha256 {sha[:12]}…) is missing "
                    f"{last + 1 - summary.count} of its {last + 1} chunks"
                )
            if summary.total_bytes != ref.size_bytes:
                return (
                    f"its content (sha256 {sha[:12]}…) holds {summary.total_bytes} bytes, "
                    f"not the recorded {ref.size_bytes} (chunks missing or changed)"
                )
            if deep:
                digest = hashlib.sha256()
                for chunk in _chunks(content, sha):
                    digest.update(chunk)
                if digest.hexdigest() != sha:
                    return (
                        f"its content does not match its recorded sha256 {sha[:12]}… "
                        "(changed in the database outside CalTrack)"
                    )
            return None

        return self._uow.read(check)

    def orphans(self, known: set[str]) -> list[str]:
        # A blob is written only with its row, in one transaction, and rows are voided,
        # never deleted: there is nothing to clean up.
        return []


def _read(handle: BinaryIO, source: Path) -> bytes:
    """The next slice of the user's file; a read error says which file."""
    try:
        return handle.read(CHUNK)
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None


def _chunks(content: AttachmentContentRepository, sha256: str) -> Iterator[bytes]:
    """A blob's chunks in order, one query each (one chunk in memory at a time).

    Stops at the first missing one: the hash check after it reports the damage.
    """
    for seq in count():
        data = content.chunk(sha256, seq)
        if data is None:
            return
        yield data
