"""The composition root: opens a database and wires every service to it.

The GUI and the CLI both start here; nothing else builds engines, locks or services.
Opening the database (file checks, the network/WAL guard, the schema check and upgrade,
the editor role, the crash check) is a use case of its own, ``app.services.opening``;
this module only constructs the services on what it opened and connects them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.clock import Clock, SystemClock
from app.db.engine import EngineOptions, server_login
from app.db.migrate import SchemaState
from app.db.notify import ChangeNotice
from app.db.transactions import Database
from app.identity import Identity, get_current_user_id, machine_name
from app.locking.running import RunMarker
from app.repositories.unit_of_work import UnitOfWorkFactory
from app.services.accounts import AccountService
from app.services.anchors import ChainAnchorService
from app.services.attachment_content import AttachmentContent, DatabaseContent, FolderContent
from app.services.attachments import AttachmentService
from app.services.audit import AuditService
from app.services.calibrations import CalibrationService
from app.services.changes import ChangeWatcher, LiveChanges
from app.services.checks import CheckService
from app.services.custody import CustodyService
from app.services.demo import DemoService
from app.services.editing import EditingOptions, EditingSession
from app.services.instruments import InstrumentService
from app.services.lock_admin import LockAdminService
from app.services.maintenance import MaintenanceService
from app.services.oot import OotService
from app.services.opening import (
    MIGRATION_WAIT_S,
    CrashReport,
    OpenedDatabase,
    migrating_marker,
    open_database,
)
from app.services.providers import ProviderService
from app.services.reports import ReportService
from app.services.schedules import ScheduleService
from app.services.sendouts import SendoutService
from app.services.settings import SharedSettingsService
from app.services.signatures import SignatureService
from app.services.transfer import TransferService
from app.services.types import TypeService
from app.services.upkeep import UpkeepService
from app.storage.attachments import AttachmentStore, attachments_folder_for

# Callers and tests know these names from here; they live with the opening use case.
__all__ = [
    "MIGRATION_WAIT_S",
    "CalTrack",
    "CrashReport",
    "migrating_marker",
    "open_caltrack",
]


@dataclass
class CalTrack:
    """An open database with its services: what a window or a command works with."""

    database: Database
    identity: Identity
    clock: Clock
    schema: SchemaState
    session: EditingSession
    instruments: InstrumentService
    calibrations: CalibrationService
    attachments: AttachmentService
    audit: AuditService
    maintenance: MaintenanceService
    demo: DemoService
    locks: LockAdminService
    accounts: AccountService
    signatures: SignatureService
    oot: OotService
    settings: SharedSettingsService
    schedules: ScheduleService
    checks: CheckService
    reports: ReportService
    transfer: TransferService
    types: TypeService
    providers: ProviderService
    sendouts: SendoutService
    custody: CustodyService
    # The maintenance, damage and repair log of instruments (``maintenance`` above is
    # the database's own upkeep: verify, backup, restore).
    upkeep: UpkeepService
    uow: UnitOfWorkFactory
    notices: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    run_marker: RunMarker | None = None
    crash: CrashReport | None = None  # the last run here ended without closing
    anchors: ChainAnchorService | None = None  # what this PC saw of the audit chain
    _live: list[LiveChanges] = field(default_factory=list)

    def change_watcher(self) -> ChangeWatcher:
        """A fresh watcher for "did anyone change the data?" (reads the database)."""
        return ChangeWatcher(self.uow)

    def live_changes(
        self,
        on_change: Callable[[ChangeNotice], None],
        on_state: Callable[[bool], None] = lambda _listening: None,
    ) -> LiveChanges | None:
        """Others' changes as they are committed (started; a server only, else None).

        Stopped by ``close`` at the latest.
        """
        if self.database.is_sqlite:
            return None
        live = LiveChanges(self.uow, on_change, on_state)
        self._live.append(live)
        live.start()
        return live

    def close(self) -> None:
        """Give the lock back, forget the run marker, close connections."""
        # Connections first: a rolled-back journal may still fill a full disk, and the
        # holder record must then still be writable to say the session ended cleanly.
        for live in self._live:
            live.stop()
        self._live.clear()
        if self.anchors is not None:
            # This session's own events extend the chain: the next open expects them.
            self.anchors.remember()
        try:
            self.database.dispose()
        finally:
            try:
                self.session.close()
            finally:
                if self.run_marker is not None:
                    self.run_marker.clear()

    def __enter__(self) -> CalTrack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_caltrack(
    path_or_url: str,
    *,
    create: bool = False,
    options: EngineOptions | None = None,
    editing: EditingOptions | None = None,
    identity: Identity | None = None,
    clock: Clock | None = None,
    state_dir: Path | None = None,
) -> CalTrack:
    """Open (or with ``create`` make) a database, upgrade it, and take the editor role."""
    identity = identity or server_identity(path_or_url) or get_current_user_id()
    clock = clock or SystemClock()
    opened = open_database(
        path_or_url,
        create=create,
        options=options or EngineOptions(),
        editing=editing or EditingOptions(),
        identity=identity,
        clock=clock,
        state_dir=state_dir,
    )
    try:
        return _wire(opened, identity, clock)
    except BaseException:
        opened.abandon()
        raise


def server_identity(path_or_url: str) -> Identity | None:
    """On a database server, who acts is the server login, not the OS login.

    The server's roles and guard triggers know only the login one connects as (an audit
    line or a signature naming anyone else is refused), so CalTrack records that name.
    None for a file, or when the server cannot be asked: opening then says why.
    """
    login = server_login(path_or_url)
    return Identity(user=login, machine=machine_name()) if login else None


def _wire(opened: OpenedDatabase, identity: Identity, clock: Clock) -> CalTrack:
    """Construct every service on the opened database and connect them to each other."""
    database, uow, session = opened.database, opened.uow, opened.session
    path = database.path
    # A database file keeps attachment files in a folder beside it; a server keeps them
    # in its own tables. The services see only ``AttachmentContent``.
    store = AttachmentStore(attachments_folder_for(path)) if path else None
    content: AttachmentContent = FolderContent(store) if store else DatabaseContent(uow)
    audit = AuditService(uow)
    instruments = InstrumentService(uow=uow, identity=identity, clock=clock)
    calibrations = CalibrationService(uow=uow, identity=identity, clock=clock)
    signatures = SignatureService(uow=uow, identity=identity, clock=clock)
    return CalTrack(
        database=database,
        identity=identity,
        clock=clock,
        schema=opened.schema,
        session=session,
        instruments=instruments,
        calibrations=calibrations,
        attachments=AttachmentService(
            uow=uow,
            content=content,
            identity=identity,
            clock=clock,
        ),
        audit=audit,
        maintenance=MaintenanceService(
            uow=uow,
            store=store,
            content=content,
            audit=audit,
            clock=clock,
            identity=identity,
            on_epoch=session.adopt_epoch,
            holds_lock=session.holds_lock,
            seen_epoch=lambda: session.seen_epoch,
            anchors=opened.anchors,
        ),
        demo=DemoService(uow=uow, identity=identity, clock=clock),
        locks=LockAdminService(
            uow=uow, identity=identity, clock=clock, stale_after_s=session.stale_after_s
        ),
        accounts=AccountService(uow=uow, identity=identity, clock=clock),
        signatures=signatures,
        oot=OotService(uow=uow, identity=identity, clock=clock, check=signatures.check),
        settings=SharedSettingsService(uow=uow, identity=identity, clock=clock),
        reports=ReportService(
            uow=uow, identity=identity, clock=clock, instruments=instruments, audit=audit
        ),
        transfer=TransferService(
            uow=uow,
            identity=identity,
            clock=clock,
            instruments=instruments,
            calibrations=calibrations,
        ),
        types=TypeService(uow=uow, identity=identity, clock=clock),
        providers=ProviderService(uow=uow, identity=identity, clock=clock),
        sendouts=SendoutService(uow=uow, identity=identity, clock=clock, calibrations=calibrations),
        custody=CustodyService(uow=uow, identity=identity, clock=clock),
        upkeep=UpkeepService(uow=uow, identity=identity, clock=clock),
        schedules=ScheduleService(uow=uow, identity=identity, clock=clock),
        checks=CheckService(uow=uow, identity=identity, clock=clock),
        uow=uow,
        notices=opened.notices,
        problems=opened.problems,
        run_marker=opened.run_marker,
        crash=opened.crash,
        anchors=opened.anchors,
    )
