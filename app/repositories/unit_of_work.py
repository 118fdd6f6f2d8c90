"""The unit of work: one session and the repositories that share it.

Services never see a session. They ask for ``uow.write(fn)`` or ``uow.read(fn)``;
``fn`` receives a ``UnitOfWork`` and runs inside one transaction, committed when it
returns and rolled back when it raises.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app.db.notify import encode_notice, send_notice
from app.db.transactions import Database
from app.repositories.accounts import AccountRepository
from app.repositories.attachment_content import AttachmentContentRepository
from app.repositories.attachments import AttachmentRepository
from app.repositories.audit import AuditRepository
from app.repositories.calibrations import CalibrationRepository
from app.repositories.checks import CheckRepository
from app.repositories.custody import CustodyRepository
from app.repositories.instruments import InstrumentRepository
from app.repositories.maintenance_events import MaintenanceEventRepository
from app.repositories.meta import MetaRepository
from app.repositories.oot_cases import OotCaseRepository
from app.repositories.providers import ProviderRepository, SendoutRepository
from app.repositories.schedules import ScheduleRepository
from app.repositories.signatures import SignatureRepository
from app.repositories.types import TypeRepository

T = TypeVar("T")


class UnitOfWork:
    """Repositories bound to one transaction."""

    def __init__(self, session: Session, own_heads: dict[str, str] | None = None) -> None:
        # Audit chain head before → after each write of this process (see ChangeWatcher).
        self.own_heads: dict[str, str] = own_heads if own_heads is not None else {}
        self.instruments = InstrumentRepository(session)
        self.calibrations = CalibrationRepository(session)
        self.attachments = AttachmentRepository(session)
        self.attachment_content = AttachmentContentRepository(session)
        self.audit = AuditRepository(session)
        self.meta = MetaRepository(session)
        self.accounts = AccountRepository(session)
        self.signatures = SignatureRepository(session)
        self.oot_cases = OotCaseRepository(session)
        self.types = TypeRepository(session)
        self.providers = ProviderRepository(session)
        self.sendouts = SendoutRepository(session)
        self.custody = CustodyRepository(session)
        self.maintenance_events = MaintenanceEventRepository(session)
        self.schedules = ScheduleRepository(session)
        self.checks = CheckRepository(session)
        self._session = session
        # What this transaction wrote to the audit trail, for the change notice.
        self.changed: dict[str, set[int]] = {}
        self.head: str | None = None

    def note_audited(self, events: Iterable[Mapping[str, Any]], head: str) -> None:
        """The audit writer appended ``events`` and moved the chain head to ``head``."""
        for event in events:
            self.changed.setdefault(str(event["entity_type"]), set()).add(int(event["entity_id"]))
        self.head = head

    def flush(self) -> None:
        self._session.flush()


class UnitOfWorkFactory:
    """Runs service functions in read or write transactions of one database."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.own_heads: dict[str, str] = {}
        # The file's name is recorded in the first write of the session (known_paths).
        self._path_recorded = database.path is None

    def write(
        self, fn: Callable[[UnitOfWork], T], *, label: str = "write", admin_override: bool = False
    ) -> T:
        """Run ``fn`` in a write transaction, repeated whole if the database is busy."""

        def run(session: Session) -> T:
            uow = UnitOfWork(session, self.own_heads)
            if not self._path_recorded and self.database.path is not None:
                # Never raw: realpath is the name SQLite puts its journal and WAL beside.
                uow.meta.remember_path(os.path.realpath(self.database.path))
            result = fn(uow)
            if uow.head is not None and not self.database.is_sqlite:
                # In the same transaction: the server delivers it only on commit, one
                # notice per committed write (others' windows update from it).
                send_notice(session, encode_notice(uow.head, uow.changed))
            return result

        result = self.database.run_write(run, label=label, admin_override=admin_override)
        self._path_recorded = True  # committed (the check before COMMIT passed)
        return result

    def read(self, fn: Callable[[UnitOfWork], T]) -> T:
        return self.database.run_read(lambda session: fn(UnitOfWork(session)))
