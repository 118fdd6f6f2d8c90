"""Attachment use cases: attach a file, list, export a copy, void."""

from __future__ import annotations

from pathlib import Path

from app.clock import Clock
from app.db.models import Attachment
from app.errors import NotFoundError, UsageError, ValidationError
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.attachment_content import AttachmentContent, ContentRef, FolderContent
from app.services.audit import AuditChainWriter
from app.services.dto import AttachmentView
from app.services.lookups import require_instrument
from app.services.read_views import attachment_view
from app.services.snapshots import attachment_snapshot, created, diff
from app.storage.attachments import AttachmentStore, Progress
from app.storage.filenames import display_name


class AttachmentService:
    """Files attached to instruments or calibration records."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        content: AttachmentContent,
        identity: Identity,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self.content = content
        self._identity = identity
        self._clock = clock

    @property
    def store(self) -> AttachmentStore:
        """The folder of files beside a database file (tests and the folder's own tools)."""
        if not isinstance(self.content, FolderContent):
            raise UsageError(
                f"this database keeps its attachments in {self.content.where}, not in a folder"
            )
        return self.content.store

    def add(
        self,
        tag: str,
        source: Path,
        *,
        record_id: int | None = None,
        progress: Progress | None = None,
    ) -> AttachmentView:
        """Stage the content, then commit its row (with the content, where it lives in the
        database); undo what was staged outside the database on failure."""
        self._uow.database.check_writable()
        # Fail on a wrong tag or record before copying a possibly huge file.
        self._uow.read(lambda uow: self._owner(uow, tag, record_id))
        stored = self.content.stage(source, progress=progress)
        original = display_name(source.name)

        def write(uow: UnitOfWork) -> AttachmentView:
            instrument_id, owner_record = self._owner(uow, tag, record_id)
            # Content first: the audit chain is written last, so a long upload does not
            # keep the chain's head from other writers for longer than it must.
            self.content.put(uow, stored, source, progress=progress)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            att = Attachment(
                instrument_id=None if owner_record else instrument_id,
                record_id=owner_record,
                original_name=original,
                stored_name=stored.stored_name,
                size_bytes=stored.size_bytes,
                sha256=stored.sha256,
                added_at=audit.now,
                added_by=self._identity.user,
            )
            uow.attachments.add(att)
            audit.record(
                "attachment",
                att.id,
                f"{tag} {original}",
                "attach",
                created(attachment_snapshot(att)),
            )
            audit.flush()
            return attachment_view(att, {instrument_id: tag})

        try:
            return self._uow.write(write, label="attach file")
        except BaseException:
            self.content.discard(stored)
            raise

    def list(self, tag: str, *, include_voided: bool = True) -> list[AttachmentView]:
        def read(uow: UnitOfWork) -> list[AttachmentView]:
            instrument = require_instrument(uow, tag)
            rows = uow.attachments.for_instrument(instrument.id)
            return [
                attachment_view(a, {instrument.id: instrument.asset_tag})
                for a in rows
                if include_voided or a.voided_at is None
            ]

        return self._uow.read(read)

    def get(self, attachment_id: int) -> AttachmentView:
        def read(uow: UnitOfWork) -> AttachmentView:
            att = uow.attachments.get(attachment_id)
            if att is None:
                raise NotFoundError(f"no attachment #{attachment_id}")
            tags = uow.instruments.tags_by_id([att.instrument_id] if att.instrument_id else [])
            return attachment_view(att, tags)

        return self._uow.read(read)

    def export(self, attachment_id: int, destination: Path) -> Path:
        """Save a copy; a folder as destination gets the original file name."""
        view = self.get(attachment_id)
        target = destination / view.original_name if destination.is_dir() else destination
        ref = ContentRef(
            view.id, view.original_name, view.stored_name, view.size_bytes, view.sha256
        )
        return self.content.export(ref, target)

    def void(self, attachment_id: int, reason: str) -> AttachmentView:
        if not reason.strip():
            raise ValidationError({"reason": "a reason is required to void an attachment"})

        def write(uow: UnitOfWork) -> AttachmentView:
            att = uow.attachments.get(attachment_id)
            if att is None:
                raise NotFoundError(f"no attachment #{attachment_id}")
            if att.voided_at is not None:
                raise ValidationError({"attachment": f"#{attachment_id} is already voided"})
            audit = AuditChainWriter(uow, self._identity, self._clock)
            before = attachment_snapshot(att)
            att.voided_at = audit.now
            att.voided_by = self._identity.user
            att.void_reason = reason.strip()
            uow.attachments.flush()
            audit.record(
                "attachment",
                att.id,
                att.original_name,
                "void",
                diff(before, attachment_snapshot(att)),
                reason.strip(),
            )
            audit.flush()
            return attachment_view(att, {})

        return self._uow.write(write, label="void attachment")

    @staticmethod
    def _owner(uow: UnitOfWork, tag: str, record_id: int | None) -> tuple[int, int | None]:
        instrument = require_instrument(uow, tag)
        if record_id is None:
            return instrument.id, None
        record = uow.calibrations.get(record_id)
        if record is None or record.instrument_id != instrument.id:
            raise NotFoundError(f"instrument {tag} has no calibration record #{record_id}")
        return instrument.id, record.id
