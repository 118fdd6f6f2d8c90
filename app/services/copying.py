"""``db copy``: move a lab's database to another backend (a file to a server and back).

The copy is one transaction on the target: the schema (created by the migrations, at
the head this CalTrack knows), every row with its id, the audit trail and the
signatures verbatim. A copy that fails or is killed part-way leaves the target as empty
as it found it, so running the same command again is the way to resume. The source is
only read, inside one read transaction (a consistent snapshot; no editor lock needed).

Attachment content goes through two small interfaces, ``ContentSource`` and
``ContentTarget``, streamed one attachment at a time: the folder beside a database file,
or a server's blob and chunk tables (written in the target's one transaction, so a
killed copy leaves no content behind either). Between two servers the content tables
simply go across as rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from app.db import copying as infra
from app.db.engine import EngineOptions, build_engine, database_url, safe_url, sqlite_path
from app.db.maintenance import is_sqlite_file
from app.db.migrate import SchemaStatus, schema_state, upgrade_on
from app.db.models import Attachment, Meta, table_of
from app.db.transactions import Database
from app.errors import StorageError, UsageError
from app.repositories.attachment_content import AttachmentContentRepository
from app.services.audit import HEAD_KEY
from app.storage.atomic import atomic_writer
from app.storage.attachments import CHUNK, AttachmentStore, attachments_folder_for

Progress = Callable[[str, int, int], None]  # (what, done, total)

NOT_EMPTY = "not empty: copy into a new, empty database"


@dataclass(frozen=True)
class AttachmentRef:
    """What an attachment's content is checked against while it is copied."""

    attachment_id: int
    original_name: str
    stored_name: str
    size_bytes: int
    sha256: str


class ContentSource(Protocol):
    """Where the source database keeps its attachment content."""

    @property
    def where(self) -> str: ...

    def open_content(self, ref: AttachmentRef) -> BinaryIO:
        """A stream of one attachment's bytes (read in chunks by the caller)."""
        ...


class ContentTarget(Protocol):
    """Where the target database keeps its attachment content."""

    @property
    def where(self) -> str: ...

    def receive(self, target: Connection, ref: AttachmentRef, stream: BinaryIO) -> None:
        """Store one attachment's bytes; durable, or part of ``target``'s transaction,
        before that commits. Raises if the bytes do not match ``ref``."""
        ...

    def abandon(self) -> None:
        """The copy failed: take back what was stored outside the target's transaction."""
        ...


class FolderSource:
    """Attachment files in the folder beside a source database file."""

    def __init__(self, store: AttachmentStore) -> None:
        self.store = store

    @property
    def where(self) -> str:
        return str(self.store.folder)

    def open_content(self, ref: AttachmentRef) -> BinaryIO:
        try:
            return self.store.path_of(ref.stored_name).open("rb")
        except FileNotFoundError:
            raise UsageError(
                f"attachment #{ref.attachment_id} ({ref.original_name}): its file "
                f"{ref.stored_name} is missing from {self.where}; restore it from a backup "
                "(`db verify` lists what is missing) and copy again — nothing was copied"
            ) from None


class FolderTarget:
    """Attachment files in the folder beside a target database file.

    Each file is written under its stored name through a temporary file, hashed on the
    way and made durable before the rows commit: a copy killed part-way leaves files no
    row refers to, which the next run finds identical and keeps.
    """

    def __init__(self, store: AttachmentStore) -> None:
        self.store = store
        self._written: list[str] = []

    @property
    def where(self) -> str:
        return str(self.store.folder)

    def receive(self, target: Connection, ref: AttachmentRef, stream: BinaryIO) -> None:
        path = self.store.path_of(ref.stored_name)
        if path.exists():
            # Left by an earlier, interrupted copy (stored names are unique): the same
            # bytes are kept, other bytes are never overwritten.
            if self.store.hash_file(ref.stored_name) == (ref.size_bytes, ref.sha256):
                return
            raise UsageError(
                f"{path} already exists with other content; move it away and copy again "
                "— nothing was copied"
            )
        self.store.folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        try:
            with atomic_writer(path, prefix=".incoming-") as out:
                while chunk := stream.read(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                if (size, digest.hexdigest()) != (ref.size_bytes, ref.sha256):
                    raise UsageError(_mismatch(ref))
        except OSError as exc:
            raise StorageError(
                f"could not write {path}: {exc.strerror or exc}; nothing was copied"
            ) from None
        self._written.append(ref.stored_name)

    def abandon(self) -> None:
        for name in self._written:
            self.store.discard(name)
        self._written.clear()


class _ChunkReader(io.RawIOBase):
    """One blob's chunks, read one at a time through the source's snapshot."""

    def __init__(self, content: AttachmentContentRepository, sha256: str) -> None:
        self._content = content
        self._sha256 = sha256
        self._seq = 0
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._left:
            data = self._content.chunk(self._sha256, self._seq)
            if data is None:
                return 0  # past the last chunk (a missing one shows as a hash mismatch)
            self._seq += 1
            self._left = data
        view = memoryview(buffer).cast("B")
        n = min(len(view), len(self._left))
        view[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


class ServerSource:
    """Attachment content in a source server's blob and chunk tables."""

    def __init__(self, source: Connection, where: str) -> None:
        self._content = AttachmentContentRepository(Session(bind=source))
        self._where = where

    @property
    def where(self) -> str:
        return self._where

    def open_content(self, ref: AttachmentRef) -> BinaryIO:
        if self._content.blob_size(ref.sha256) is None:
            raise UsageError(
                f"attachment #{ref.attachment_id} ({ref.original_name}): its content is "
                f"missing from {self.where}; run `db verify` there — nothing was copied"
            )
        return io.BufferedReader(_ChunkReader(self._content, ref.sha256), CHUNK)


class ServerTarget:
    """Attachment content into a target server's blob and chunk tables, inside the
    copy's own transaction: nothing to take back when it fails."""

    def __init__(self, where: str) -> None:
        self._where = where

    @property
    def where(self) -> str:
        return self._where

    def receive(self, target: Connection, ref: AttachmentRef, stream: BinaryIO) -> None:
        content = AttachmentContentRepository(Session(bind=target))
        if not content.claim_blob(ref.sha256, ref.size_bytes):
            return  # the same content, already copied for another attachment
        digest = hashlib.sha256()
        size = 0
        seq = 0
        while chunk := _full_chunk(stream):
            content.add_chunk(ref.sha256, seq, chunk)
            digest.update(chunk)
            size += len(chunk)
            seq += 1
        if (size, digest.hexdigest()) != (ref.size_bytes, ref.sha256):
            raise UsageError(_mismatch(ref))

    def abandon(self) -> None:
        """Everything was written in the target's transaction, which is rolled back."""


def _full_chunk(stream: BinaryIO) -> bytes:
    """Up to ``CHUNK`` bytes (a short read only at the end): chunks as an attach makes."""
    parts: list[bytes] = []
    wanted = CHUNK
    while wanted:
        part = stream.read(wanted)
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


def _mismatch(ref: AttachmentRef) -> str:
    return (
        f"attachment #{ref.attachment_id} ({ref.original_name}): the source's file "
        f"{ref.stored_name} does not match its recorded size and sha256 (damaged or "
        "replaced outside CalTrack); run `db verify --deep` on the source — nothing was copied"
    )


class MaybeCommittedError(StorageError):
    """The answer to the copy's commit was lost: the copy may or may not be there."""


@dataclass(frozen=True)
class CopyResult:
    """What ``db copy`` copied."""

    target: str
    tables: list[infra.TableCopy]
    attachment_files: int
    audit_head: str | None

    def rows(self, table: str) -> int:
        return next((t.rows for t in self.tables if t.name == table), 0)


@dataclass(frozen=True)
class Target:
    """Where a copy goes: a URL, and for a database file its path."""

    url: str
    path: Path | None

    @property
    def shown(self) -> str:
        return str(self.path) if self.path else safe_url(self.url)


def target_of(path_or_url: str) -> Target:
    url = database_url(path_or_url)
    return Target(url, sqlite_path(url))


def check_source(path_or_url: str) -> None:
    """Refuse a source whose schema is not this CalTrack's head, before it is opened.

    (Opening would upgrade an older schema in place; a copy must not change its source.)
    """
    source = target_of(path_or_url)
    if source.path is not None and not source.path.is_file():
        raise UsageError(f"no database file at {source.path}")
    engine = _engine(source)
    try:
        with engine.connect() as conn:
            state = schema_state(conn)
    finally:
        engine.dispose()
    if state.status is SchemaStatus.CURRENT:
        return
    if state.status is SchemaStatus.BEHIND:
        raise UsageError(
            f"{source.shown} has an older schema ({state.current}, this CalTrack: {state.head}); "
            f"upgrade it first with `caltrack --db {source.shown} init`, then copy"
        )
    if state.status is SchemaStatus.NEWER:
        raise UsageError(
            f"{source.shown} was written by a newer CalTrack (schema {state.current}); "
            "copy it with that version"
        )
    raise UsageError(f"{source.shown} is not a CalTrack database ({state.status.value})")


def _engine(target: Target) -> Engine:
    engine, _location = build_engine(target.url, EngineOptions())
    return engine


def _connect(engine: Engine, target: Target) -> Connection:
    try:
        return engine.connect()
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise UsageError(
            f"cannot connect to {target.shown}: {reason}; check the address, that the server "
            "runs and that the database exists (create it empty first) — nothing was copied"
        ) from None


def _prepare_file(target: Target, source: Database) -> bool:
    """A target file: refuse the source itself and other files; True when made here."""
    path = target.path
    if path is None:
        raise RuntimeError("a server target has no file to prepare")
    if source.path is not None and path.resolve() == source.path.resolve():
        raise UsageError("that is the database itself; name a new file or a server URL")
    if path.exists():
        if path.stat().st_size and not is_sqlite_file(path):
            raise UsageError(f"{path} is not a database file; name a new file")
        return False
    if not path.parent.is_dir():
        raise UsageError(f"folder {path.parent} does not exist; create it first")
    try:
        path.touch(exist_ok=False)
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror or exc}") from None
    return True


def _prepare_schema(conn: Connection, target: Target) -> None:
    """Create the schema at head on an empty target; refuse anything with rows in it."""
    state = schema_state(conn)
    if state.status is SchemaStatus.EMPTY:
        upgrade_on(conn, target.url)
        return
    if state.status is SchemaStatus.CURRENT:
        if any(infra.row_counts(conn).values()):
            raise UsageError(f"{target.shown} is {NOT_EMPTY}")
        return
    if state.status is SchemaStatus.FOREIGN:
        raise UsageError(f"{target.shown} is {NOT_EMPTY} (it holds tables that are not CalTrack's)")
    raise UsageError(f"{target.shown} is {NOT_EMPTY} (it holds a CalTrack schema {state.current})")


def _attachment_refs(source: Connection) -> list[AttachmentRef]:
    table = table_of(Attachment)
    query = select(
        table.c.id, table.c.original_name, table.c.stored_name, table.c.size_bytes, table.c.sha256
    ).order_by(table.c.id)
    return [AttachmentRef(*row) for row in source.execute(query)]


def _content_source(db: Database, snapshot: Connection) -> ContentSource:
    if db.path is None:
        return ServerSource(snapshot, safe_url(db.url))
    return FolderSource(AttachmentStore(attachments_folder_for(db.path)))


def _content_target(target: Target) -> ContentTarget:
    if target.path is None:
        return ServerTarget(target.shown)
    return FolderTarget(AttachmentStore(attachments_folder_for(target.path)))


def _begin_snapshot(db: Database) -> Connection:
    """One read transaction on the source: every table read from the same moment."""
    conn = db.engine.connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        conn.exec_driver_sql("SET TRANSACTION READ ONLY")
    else:
        conn.begin()  # BEGIN DEFERRED: the snapshot starts at the first read
    return conn


def copy_database(source: Database, to: str, *, progress: Progress | None = None) -> CopyResult:
    """Copy the open ``source`` into the new, empty database ``to`` (a path or a URL)."""
    target = target_of(to)
    if target.path is None and safe_url(target.url) == safe_url(source.url):
        raise UsageError("that is the database itself; name a new file or a server URL")
    created = _prepare_file(target, source) if target.path is not None else False
    engine = _engine(target)
    content_target = _content_target(target)
    try:
        with _begin_snapshot(source) as src:
            if schema_state(src).status is not SchemaStatus.CURRENT:
                raise UsageError("the source's schema changed while copying; try again")
            refs = _attachment_refs(src)
            # Server to server: the content tables go across as rows, like the others.
            content_source = (
                None
                if source.path is None and target.path is None
                else (_content_source(source, src))
            )
            meta = table_of(Meta)
            head = src.execute(
                select(meta.c.value).where(meta.c.key == HEAD_KEY)
            ).scalar_one_or_none()
            with _connect(engine, target) as tgt:
                copied = _copy_rows(
                    src, tgt, target, refs, content_source, content_target, progress
                )
    except BaseException as exc:
        if isinstance(exc, MaybeCommittedError):
            # The rows may be there: their attachment files must stay with them.
            engine.dispose()
            raise
        with contextlib.suppress(OSError, UsageError):
            content_target.abandon()
        engine.dispose()
        if created and target.path is not None:
            with contextlib.suppress(OSError):
                if target.path.stat().st_size == 0:
                    target.path.unlink()
        raise
    try:
        _check_counts(engine, target, copied)
    finally:
        engine.dispose()
    return CopyResult(
        target=target.shown, tables=copied, attachment_files=len(refs), audit_head=head
    )


def _copy_rows(
    src: Connection,
    tgt: Connection,
    target: Target,
    refs: list[AttachmentRef],
    content_source: ContentSource | None,
    content_target: ContentTarget,
    progress: Progress | None,
) -> list[infra.TableCopy]:
    """Schema and rows in one transaction of the target, committed at the end."""
    step = "creating the schema"
    try:
        with tgt.begin():
            _prepare_schema(tgt, target)
            copied: list[infra.TableCopy] = []
            for table in infra.copied_tables(with_content=content_source is None):
                step = f"copying {table.name}"
                copied.append(infra.copy_table(src, tgt, table, progress))
                if table.name == Attachment.__tablename__ and content_source is not None:
                    step = "copying attachment files"
                    _copy_contents(refs, content_source, content_target, tgt, progress)
            step = "finishing"
            added = infra.give_own_identity(tgt)
            copied = [
                infra.TableCopy(c.name, c.rows + added) if c.name == "meta" else c for c in copied
            ]
            infra.reset_sequences(tgt)
            step = "committing"
    except DBAPIError as exc:
        # The server went away, a value the target refuses, a disk that failed: the
        # target's transaction is rolled back, so the target is as empty as before.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if step == "committing":
            # The commit may have reached the server before the answer was lost.
            raise MaybeCommittedError(
                f"the copy into {target.shown} lost its connection while committing "
                f"({reason}): it may or may not be there — run the same command again (it "
                "is refused as not empty if the copy is there; then check it with `db verify`)"
            ) from None
        raise StorageError(
            f"the copy into {target.shown} failed while {step}: {reason}; nothing was "
            "kept there — fix the cause and run the same command again"
        ) from None
    return copied


def _copy_contents(
    refs: list[AttachmentRef],
    source: ContentSource | None,
    target: ContentTarget,
    connection: Connection,
    progress: Progress | None,
) -> None:
    if source is None:
        return
    for done, ref in enumerate(refs, start=1):
        with source.open_content(ref) as stream:
            target.receive(connection, ref, stream)
        if progress:
            progress("attachment files", done, len(refs))


def _check_counts(engine: Engine, target: Target, copied: list[infra.TableCopy]) -> None:
    """Read back what was committed: every table holds the rows the copy wrote."""
    try:
        with engine.connect() as conn:
            found = infra.row_counts(conn)
    except DBAPIError as exc:
        raise StorageError(f"cannot read back {target.shown}: {exc.orig}") from None
    wrong = [
        f"{c.name} {found.get(c.name)} of {c.rows}" for c in copied if found.get(c.name) != c.rows
    ]
    if wrong:
        raise StorageError(f"the copy in {target.shown} is incomplete: {', '.join(wrong)}")
