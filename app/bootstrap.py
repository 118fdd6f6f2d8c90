"""The composition root: opens a database and wires every service to it.

The GUI and the CLI both start here; nothing else builds engines, locks or services.
Opening does, in order: file checks, the network/WAL guard, the schema check, a
migration under the editor lock if needed, becoming the editor (or read-only), and the
crash check of the previous run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.exc import DatabaseError as SADatabaseError

from app import __version__
from app.clock import Clock, SystemClock
from app.db import maintenance as db_maintenance
from app.db.engine import (
    EngineOptions,
    build_engine,
    database_url,
    needs_snapshot,
    safe_url,
    sqlite_header_mode,
    sqlite_path,
)
from app.db.migrate import SchemaState, SchemaStatus, schema_state, upgrade
from app.db.sidefiles import LeftSave, find_left_saves
from app.db.transactions import Database, with_busy_retry
from app.errors import (
    CalTrackError,
    DatabaseDamagedError,
    DatabaseOpenError,
    LockHeldError,
    ReadOnlyError,
    SchemaTooNewError,
    UnfinishedSaveError,
)
from app.identity import Identity, get_current_user_id
from app.locking.editor_lock import EditorLock, held_message, os_lock_free, to_lock_holder
from app.locking.holder import HolderInfo, holder_path, read_holder, write_holder
from app.locking.running import RunMarker
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import (
    AccountService,
    accounts_missing_problem,
    seed_accounts,
    user_view,
)
from app.services.anchors import ChainAnchorService
from app.services.attachments import AttachmentService
from app.services.audit import AuditService
from app.services.calibrations import CalibrationService
from app.services.changes import ChangeWatcher
from app.services.demo import DemoService
from app.services.editing import EditingOptions, EditingSession, StartReport, db_identity
from app.services.instruments import InstrumentService
from app.services.lock_admin import LockAdminService
from app.services.maintenance import MaintenanceService, backup_database
from app.services.oot import OotService
from app.services.reports import ReportService
from app.services.settings import SharedSettingsService
from app.services.signatures import SignatureService
from app.services.transfer import TransferService
from app.settings.paths import user_state_dir
from app.storage.anchors import AnchorStore
from app.storage.attachments import AttachmentStore, attachments_folder_for

log = logging.getLogger(__name__)

MIGRATION_WAIT_S = 6.0


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
    reports: ReportService
    transfer: TransferService
    uow: UnitOfWorkFactory
    notices: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    run_marker: RunMarker | None = None
    crash: CrashReport | None = None  # the last run here ended without closing
    anchors: ChainAnchorService | None = None  # what this PC saw of the audit chain

    def change_watcher(self) -> ChangeWatcher:
        """A fresh watcher for "did anyone change the data?" (reads the database)."""
        return ChangeWatcher(self.uow)

    def close(self) -> None:
        """Give the lock back, forget the run marker, close connections."""
        # Connections first: a rolled-back journal may still fill a full disk, and the
        # holder record must then still be writable to say the session ended cleanly.
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


@dataclass(frozen=True)
class CrashReport:
    """The last run on this database ended without closing: what to tell the person once.

    The command line prints every notice and problem; the window shows ``text`` and
    ``damage`` in one dialog instead of the notices and problems in ``covers``.
    """

    started: str  # "yesterday at 14:04", in the viewer's local time
    text: str
    damage: tuple[str, ...]
    covers: tuple[str, ...]


def migrating_marker(path: Path) -> Path:
    return path.with_name(path.name + ".migrating")


def _check_file(path: Path, create: bool) -> None:
    if path.is_dir():
        raise DatabaseOpenError(f"{path} is a folder; give the path of a database file")
    if not path.exists():
        if not create:
            raise DatabaseOpenError(
                f"no CalTrack database at {path}; create one with: caltrack --db {path} init"
            )
        if not path.parent.is_dir():
            raise DatabaseOpenError(f"folder {path.parent} does not exist; create it first")
        return
    if path.stat().st_size and not db_maintenance.is_sqlite_file(path):
        raise DatabaseOpenError(
            f"{path} is not a SQLite database (wrong file, or damaged); "
            "give the path of a CalTrack database"
        )


def _create_empty(path: Path) -> bool:
    """Create a new database as an empty file (an empty file is an empty SQLite database)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    except OSError as exc:
        raise DatabaseOpenError(f"cannot create {path}: {exc.strerror or exc}") from None
    os.close(fd)
    return True


def _read_only_reason(path: Path) -> str | None:
    if path.exists() and not os.access(path, os.W_OK):
        return f"the database file {path} is read-only for you; ask an admin for write access"
    if not os.access(path.parent, os.W_OK):
        return (
            f"the folder {path.parent} is read-only for you (SQLite needs to write its journal "
            "there); ask an admin for write access"
        )
    return None


def _init_meta(uow: UnitOfWork, identity: Identity, clock: Clock) -> None:
    if uow.meta.get("database_id") is None:
        uow.meta.set("database_id", str(uuid.uuid4()))
        uow.meta.set("created_at", clock.now_utc().isoformat())
        uow.meta.set("created_by_version", __version__)
    # Whoever creates the database administers it until they name others; an older
    # database's admin list becomes admin accounts.
    seed_accounts(uow, identity, clock)


def left_saves_message(left: list[LeftSave]) -> str:
    """One message for the saves left under earlier names (normally just one)."""
    return " ALSO: ".join(item.message() for item in left)


def _guard_network_wal(database: Database) -> None:
    """A WAL database on a share cannot be read safely while someone else has it open."""
    path, location = database.path, database.location
    if path is None or location is None or not location.is_network or not path.exists():
        return
    if sqlite_header_mode(path) != "wal" or os_lock_free(path):
        return
    holder = read_holder(holder_path(path))
    raise LockHeldError(
        f"{held_message(holder)}, in WAL mode from a local disk; WAL cannot be read safely "
        "over a network share, so nothing was opened — it can be opened once they close it",
        to_lock_holder(holder) if holder else None,
    )


def _read_schema_state(database: Database) -> SchemaState:
    """The schema state, read like any other read: retried while the file is busy."""

    @with_busy_retry(database.retry, database.sleep)
    def read() -> SchemaState:
        with database.engine.connect() as conn:
            return schema_state(conn)

    return read()


def _wait_for_migration(path: Path) -> HolderInfo | None:
    """If another session is upgrading the schema, wait a little; its marker if still there."""
    marker = migrating_marker(path)
    deadline = time.monotonic() + MIGRATION_WAIT_S
    while marker.exists():
        if os_lock_free(path):
            return None  # a migration that crashed: whoever takes the lock redoes it
        migrator, editor = read_holder(marker), read_holder(holder_path(path))
        if migrator is not None and editor is not None and migrator.session_id != editor.session_id:
            return None  # a stale marker beside someone's ordinary editing session
        if time.monotonic() >= deadline:
            return migrator
        time.sleep(0.2)
    return None


def _migrate(
    database: Database,
    lock: EditorLock | None,
    state: SchemaState,
    clock: Clock,
    identity: Identity,
) -> list[str]:
    """Upgrade under the editor lock and a ``.migrating`` marker, after a backup."""
    notices: list[str] = []
    path = database.path
    marker = migrating_marker(path) if path else None
    if lock is not None and marker is not None:
        lock.acquire(MIGRATION_WAIT_S)  # LockHeldError names the holder
        assert lock.info is not None
        write_holder(marker, lock.info)
    try:
        if state.status is SchemaStatus.BEHIND and path is not None:
            backup = backup_database(database, clock, f"before-upgrade-{state.current}")
            notices.append(f"upgraded the schema from {state.current}; backup at {backup}")
        upgrade(database.engine, database.url)
        UnitOfWorkFactory(database).write(
            lambda u: _init_meta(u, identity, clock), label="initialise"
        )
    finally:
        if marker is not None:
            with contextlib.suppress(OSError):
                marker.unlink()
    return notices


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
    options = options or EngineOptions()
    editing = editing or EditingOptions()
    identity = identity or get_current_user_id()
    clock = clock or SystemClock()
    url = database_url(path_or_url)
    path = sqlite_path(url)
    fs_read_only: str | None = None
    created = False
    left: list[LeftSave] = []
    if path is not None:
        _check_file(path, create)
        fs_read_only = _read_only_reason(path)
        if fs_read_only and not path.exists():
            raise DatabaseOpenError(f"cannot create {path}: {fs_read_only}")
        created = _create_empty(path) if create else False
        # Before SQLite touches the file: a save left under an earlier name (see sidefiles).
        left = find_left_saves(path)
    snapshot = path is not None and needs_snapshot(path, os.access(path.parent, os.W_OK))
    engine, location = build_engine(url, options, snapshot=snapshot)
    if snapshot:
        fs_read_only = (
            f"{fs_read_only}; showing the database as it was when last closed (changes "
            "others make appear when you open it again)"
        )
    database = Database(
        engine, url=url, path=path, location=location, journal_choice=options.journal
    )
    uow = UnitOfWorkFactory(database)
    session = EditingSession(
        database=database, uow=uow, identity=identity, clock=clock, options=editing
    )
    try:
        app = _open(database, uow, session, create, fs_read_only, identity, clock, state_dir, left)
    except BaseException as exc:
        session.close()
        database.dispose()
        if created and path is not None and path.exists() and path.stat().st_size == 0:
            path.unlink(missing_ok=True)  # leave no empty file behind a failed init
        if left and isinstance(exc, (CalTrackError, SADatabaseError)):
            # A half-written file fails to open as damaged or "not a database": the
            # way out is bringing the left save back, not salvage.
            raise UnfinishedSaveError(left_saves_message(left)) from exc
        raise
    return app


def _open(
    database: Database,
    uow: UnitOfWorkFactory,
    session: EditingSession,
    create: bool,
    fs_read_only: str | None,
    identity: Identity,
    clock: Clock,
    state_dir: Path | None,
    left: list[LeftSave],
) -> CalTrack:
    path = database.path
    where = str(path) if path else safe_url(database.url)
    notices: list[str] = []
    problems: list[str] = []
    _guard_network_wal(database)
    migrating = _wait_for_migration(path) if path else None
    try:
        state = _read_schema_state(database)
    except SADatabaseError as exc:
        if fs_read_only and path is not None and sqlite_header_mode(path) == "wal":
            raise DatabaseOpenError(
                f"{where} is in WAL mode and {fs_read_only}: SQLite must create "
                f"{path.name}-shm beside it even to read. Open it once with write access "
                "(on a share it then stays in rollback mode) or ask an admin"
            ) from None
        raise DatabaseOpenError(f"{where} cannot be opened as a database: {exc.orig}") from None
    if migrating is not None and state.status is SchemaStatus.EMPTY:
        raise LockHeldError(
            f"the database is being upgraded by {migrating.describe()}; open it again in a minute",
            to_lock_holder(migrating),
        )
    if state.status is SchemaStatus.FOREIGN:
        raise DatabaseOpenError(
            f"{where} is a database but not a CalTrack one; "
            "open a CalTrack database or create a new one with init"
        )
    if state.status is SchemaStatus.AMBIGUOUS:
        raise DatabaseOpenError(
            f"{where} records several schema revisions at once ({state.current}) in its "
            f"alembic_version table, where CalTrack writes exactly one (this CalTrack's is "
            f"{state.head}); the file was changed outside CalTrack. Nothing was changed: "
            "restore a backup, or have an admin delete the wrong row with the sqlite3 tool "
            "and run `db verify`"
        )
    if state.status is SchemaStatus.EMPTY and not create:
        raise DatabaseOpenError(
            f"{where} holds no CalTrack data yet; create it with: caltrack --db {where} init"
        )
    read_only: str | None = fs_read_only
    read_only_error: type[ReadOnlyError] = ReadOnlyError
    if left:
        # Writing before the left save is back could lose it (WAL) or build on a
        # half-written file (journal): nothing is written, not even an upgrade.
        read_only = left_saves_message(left)
        read_only_error = UnfinishedSaveError
        problems.append(read_only)
    elif state.status is SchemaStatus.NEWER:
        read_only = (
            f"this database was written by a newer CalTrack (schema {state.current}); "
            f"CalTrack {__version__} opens it read-only — install the newer version to edit"
        )
        read_only_error = SchemaTooNewError
    elif migrating is not None:
        # Another session is still upgrading: show what there is, write nothing.
        read_only = (
            f"the database is being upgraded by {migrating.describe()}; "
            "reopen it in a minute to edit"
        )
    elif state.status in (SchemaStatus.EMPTY, SchemaStatus.BEHIND):
        if fs_read_only:
            raise DatabaseOpenError(f"the database needs an upgrade but {fs_read_only}")
        try:
            notices += _migrate(database, session.lock, state, clock, identity)
        except LockHeldError as exc:
            if state.status is SchemaStatus.EMPTY:
                raise
            read_only = f"the database needs an upgrade, but {exc}; it is upgraded when they close"
        else:
            state = _read_schema_state(database)
    database.remember_file()
    if not read_only and state.status is SchemaStatus.CURRENT:
        me = uow.read(lambda u: user_view(u.accounts.get(identity.user), identity.user))
        if not me.active:
            read_only = (
                f"your CalTrack account ({identity.user}) is deactivated; you can look but "
                "not change anything — ask an admin"
            )
    unclean: StartReport | None = None
    damaged = bool(not read_only and session.wants_edit and database.check_sound())
    if damaged:
        # Nothing may be written into it, not even the lock epoch (the damage keeps the
        # session read-only); the findings are shown, and the lock is held so that a
        # restore can replace the file with nobody else writing.
        problems.extend((database.damage or [])[:10])
        session.hold_without_writing()
    elif read_only:
        database.set_read_only(read_only, read_only_error)
        if session.lock is not None:
            session.lock.release()
    else:
        report = session.start()
        notices += report.notices
        unclean = report
        if path is not None and session.editing:
            # We hold the lock, so no upgrade is running: a marker left by a crash goes.
            with contextlib.suppress(OSError):
                migrating_marker(path).unlink(missing_ok=True)
        if session.editing and not uow.read(lambda u: bool(u.accounts.all())):
            # Upgraded by hand (alembic) rather than by CalTrack: nobody would administer it.
            uow.write(lambda u: seed_accounts(u, identity, clock), label="initialise")
    if not damaged and state.status is SchemaStatus.CURRENT:
        missing = uow.read(accounts_missing_problem)
        if missing:
            problems.append(missing)
    marker, crash = _crash_check(database, state_dir, clock, notices, problems)
    # From here the run is marked as started: a signal or error before the CalTrack is
    # handed over must not leave the marker, or the next start reports a crash.
    try:
        anchors = ChainAnchorService(uow, AnchorStore(state_dir or user_state_dir()), clock)
        if not damaged:
            try:
                found = anchors.check()
            except DatabaseDamagedError:
                pass  # the damage is said by whatever reads it (and `db verify` lists it)
            else:
                problems.extend(found.problems)
                notices.extend(found.notices)
        said = unclean.unclean_notice if unclean is not None else None
        if crash is not None and unclean is not None and said is not None:
            previous = unclean.previous_unclean
            if previous is not None and previous.machine == identity.machine:
                # The lock's "ended without closing" is the same crash: the window says it once.
                crash = replace(crash, covers=(*crash.covers, said))
        for line in problems:
            log.warning("startup problem on %s: %s", where, line)
        store = AttachmentStore(attachments_folder_for(path)) if path else None
        audit = AuditService(uow)
        instruments = InstrumentService(uow=uow, identity=identity, clock=clock)
        calibrations = CalibrationService(uow=uow, identity=identity, clock=clock)
        signatures = SignatureService(uow=uow, identity=identity, clock=clock)
        return CalTrack(
            database=database,
            identity=identity,
            clock=clock,
            schema=state,
            session=session,
            instruments=instruments,
            calibrations=calibrations,
            attachments=AttachmentService(
                uow=uow,
                store=store,
                identity=identity,
                clock=clock,
            ),
            audit=audit,
            maintenance=MaintenanceService(
                uow=uow,
                store=store,
                audit=audit,
                clock=clock,
                identity=identity,
                on_epoch=session.adopt_epoch,
                holds_lock=session.holds_lock,
                seen_epoch=lambda: session.seen_epoch,
                anchors=anchors,
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
            uow=uow,
            notices=notices,
            problems=problems,
            run_marker=marker,
            crash=crash,
            anchors=anchors,
        )

    except BaseException:
        if marker is not None:
            with contextlib.suppress(OSError):
                marker.clear()
        raise


def _crash_check(
    database: Database,
    state_dir: Path | None,
    clock: Clock,
    notices: list[str],
    problems: list[str],
) -> tuple[RunMarker | None, CrashReport | None]:
    """After a run that ended without closing: quick_check, and say what was found."""
    try:
        marker = RunMarker(state_dir or user_state_dir(), db_identity(database.path, database.url))
        crashed = marker.crashed_runs()
        marker.mark(clock.now_utc().isoformat(timespec="seconds"))
    except OSError as exc:
        problems.append(f"cannot keep the run marker in the user state folder: {exc}")
        return None, None
    if not crashed:
        return marker, None
    found = db_maintenance.integrity_problems(database.engine, quick=True)
    # The latest of them is the one a person remembers.
    last = max(crashed, key=lambda c: c.started)
    started = last.started_local()
    earlier = len(crashed) - 1
    more = f" (and {earlier} earlier run{'s' if earlier > 1 else ''})" if earlier else ""
    if found:
        lines = [
            f"CalTrack did not close properly last time (started {started}){more}, and the "
            f"database check found damage: {found[0]}. Restore the latest backup "
            "(db restore) or ask your admin.",
            *found[1:10],
        ]
        problems.extend(lines)
    else:
        lines = [
            f"CalTrack did not close properly last time (started {started}){more}; "
            "the database was checked and is fine."
        ]
        notices.extend(lines)
    return marker, CrashReport(
        started=started, text=lines[0], damage=tuple(lines[1:]), covers=tuple(lines)
    )
