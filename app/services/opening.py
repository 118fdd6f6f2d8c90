"""Opening a database: the use case behind every window and every command.

``open_database`` reads top to bottom, one function per step:

1. check the file (or make an empty one for ``init``) and look for a save left under an
   earlier name;
2. connect (a snapshot for a cleanly closed WAL file in a folder the user cannot write);
3. refuse a WAL database someone edits from a local disk while we are on a share;
4. wait a little for another session's schema upgrade;
5. read the schema state and refuse what is not a CalTrack database (yet);
6. decide whether this session may write: a left save, a newer schema, an upgrade
   under way, or an upgrade we run ourselves under the editor lock after a backup;
7. a deactivated account only looks;
8. take the role: damaged (hold the lock, write nothing), read-only, or editor;
9. say what is missing (no admin account), check the previous run ended cleanly, and
   compare the audit chain with what this PC saw of it.

What it hands back (``OpenedDatabase``) is the database with its session and what to tell
the person; wiring the services onto it is the composition root's job (``app.bootstrap``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy.exc import DatabaseError as SADatabaseError

from app import __version__
from app.clock import Clock
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
from app.db.migrate import (
    SchemaState,
    SchemaStatus,
    schema_owner_problem,
    schema_state,
    upgrade,
)
from app.db.server import open_failure
from app.db.sidefiles import LeftSave, find_left_saves
from app.db.transactions import Database, with_busy_retry
from app.errors import (
    CalTrackError,
    DatabaseDamagedError,
    DatabaseOpenError,
    LockHeldError,
    NotAllowedError,
    ReadOnlyError,
    SchemaTooNewError,
    StorageError,
    UnfinishedSaveError,
)
from app.identity import Identity
from app.locking.editor_lock import EditorLock, held_message, os_lock_free, to_lock_holder
from app.locking.holder import HolderInfo, holder_path, read_holder, write_holder
from app.locking.running import RunMarker
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import accounts_missing_problem, seed_accounts, user_view
from app.services.anchors import ChainAnchorService
from app.services.editing import EditingOptions, EditingSession, StartReport, db_identity
from app.services.maintenance import backup_database
from app.settings.paths import user_state_dir
from app.storage.anchors import AnchorStore

log = logging.getLogger(__name__)

MIGRATION_WAIT_S = 6.0


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


@dataclass
class OpenedDatabase:
    """A database opened for this session: its role, its schema and what to tell the person."""

    database: Database
    uow: UnitOfWorkFactory
    session: EditingSession
    schema: SchemaState
    anchors: ChainAnchorService
    notices: list[str]
    problems: list[str]
    run_marker: RunMarker | None
    crash: CrashReport | None

    def abandon(self) -> None:
        """Undo the opening when what was built on it failed: marker, lock, connections."""
        try:
            if self.run_marker is not None:
                with contextlib.suppress(OSError):
                    self.run_marker.clear()
        finally:
            try:
                self.session.close()
            finally:
                self.database.dispose()


@dataclass(frozen=True)
class _FileCheck:
    """What the file checks found before SQLite touches the file."""

    read_only: str | None = None  # why this user cannot write the file or its folder
    created: bool = False  # an empty file was made for ``init``
    left: tuple[LeftSave, ...] = ()  # saves left under an earlier name


def migrating_marker(path: Path) -> Path:
    """The file that says a session is upgrading the schema of ``path``."""
    return path.with_name(path.name + ".migrating")


def left_saves_message(left: list[LeftSave] | tuple[LeftSave, ...]) -> str:
    """One message for the saves left under earlier names (normally just one)."""
    return " ALSO: ".join(item.message() for item in left)


def open_database(
    path_or_url: str,
    *,
    create: bool,
    options: EngineOptions,
    editing: EditingOptions,
    identity: Identity,
    clock: Clock,
    state_dir: Path | None,
) -> OpenedDatabase:
    """Open (or with ``create`` make) a database, upgrade it, and take the editor role."""
    url = database_url(path_or_url)
    path = sqlite_path(url)
    files = _check_files(path, create) if path is not None else _FileCheck()
    snapshot = path is not None and needs_snapshot(path, os.access(path.parent, os.W_OK))
    database = _connect(url, path, options, snapshot)
    read_only = _snapshot_reason(files.read_only) if snapshot else files.read_only
    uow = UnitOfWorkFactory(database)
    session = EditingSession(
        database=database, uow=uow, identity=identity, clock=clock, options=editing
    )
    try:
        return _open(
            database, uow, session, create, read_only, identity, clock, state_dir, files.left
        )
    except BaseException as exc:
        session.close()
        database.dispose()
        if files.created and path is not None and path.exists() and path.stat().st_size == 0:
            path.unlink(missing_ok=True)  # leave no empty file behind a failed init
        if files.left and isinstance(exc, (CalTrackError, SADatabaseError)):
            # A half-written file fails to open as damaged or "not a database": the
            # way out is bringing the left save back, not salvage.
            raise UnfinishedSaveError(left_saves_message(files.left)) from exc
        raise


def _open(
    database: Database,
    uow: UnitOfWorkFactory,
    session: EditingSession,
    create: bool,
    fs_read_only: str | None,
    identity: Identity,
    clock: Clock,
    state_dir: Path | None,
    left: tuple[LeftSave, ...],
) -> OpenedDatabase:
    """The steps after connecting, in order; what they found goes to notices and problems."""
    path = database.path
    where = str(path) if path else safe_url(database.url)
    notices: list[str] = []
    problems: list[str] = []
    _guard_network_wal(database)
    migrating = _wait_for_migration(path) if path else None
    state = _read_schema(database, where, fs_read_only)
    _refuse_unopenable(state, migrating, create, where)
    state, read_only, read_only_error = _decide_writing(
        database, session, state, migrating, fs_read_only, left, identity, clock, notices, problems
    )
    database.remember_file()
    if not read_only and state.status is SchemaStatus.CURRENT:
        read_only = _deactivated_reason(uow, identity)
    damaged, unclean = _take_role(
        database, uow, session, read_only, read_only_error, identity, clock, notices, problems
    )
    if not damaged and state.status is SchemaStatus.CURRENT:
        missing = uow.read(accounts_missing_problem)
        if missing:
            problems.append(missing)
    marker, crash = _crash_check(database, state_dir, clock, notices, problems)
    # From here the run is marked as started: a signal or error before the database is
    # handed over must not leave the marker, or the next start reports a crash.
    try:
        anchors = ChainAnchorService(uow, AnchorStore(state_dir or user_state_dir()), clock)
        if not damaged:
            _check_anchors(anchors, notices, problems)
        crash = _said_once(crash, unclean, identity)
        for line in problems:
            log.warning("startup problem on %s: %s", where, line)
        return OpenedDatabase(
            database=database,
            uow=uow,
            session=session,
            schema=state,
            anchors=anchors,
            notices=notices,
            problems=problems,
            run_marker=marker,
            crash=crash,
        )
    except BaseException:
        if marker is not None:
            with contextlib.suppress(OSError):
                marker.clear()
        raise


# -- 1. the file ---------------------------------------------------------------------


def _check_files(path: Path, create: bool) -> _FileCheck:
    """Refuse what is not a database file; make an empty one for ``init``."""
    _check_file(path, create)
    read_only = _read_only_reason(path)
    if read_only and not path.exists():
        raise DatabaseOpenError(f"cannot create {path}: {read_only}")
    created = _create_empty(path) if create else False
    # Before SQLite touches the file: a save left under an earlier name (see sidefiles).
    return _FileCheck(read_only=read_only, created=created, left=tuple(find_left_saves(path)))


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


def _read_only_reason(path: Path) -> str | None:
    if path.exists() and not os.access(path, os.W_OK):
        return f"the database file {path} is read-only for you; ask an admin for write access"
    if not os.access(path.parent, os.W_OK):
        return (
            f"the folder {path.parent} is read-only for you (SQLite needs to write its journal "
            "there); ask an admin for write access"
        )
    return None


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


# -- 2. connecting -------------------------------------------------------------------


def _connect(url: str, path: Path | None, options: EngineOptions, snapshot: bool) -> Database:
    engine, location = build_engine(url, options, snapshot=snapshot)
    return Database(engine, url=url, path=path, location=location, journal_choice=options.journal)


def _snapshot_reason(read_only: str | None) -> str:
    return (
        f"{read_only}; showing the database as it was when last closed (changes "
        "others make appear when you open it again)"
    )


# -- 3. to 5. may it be opened at all ------------------------------------------------


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


def _read_schema(database: Database, where: str, fs_read_only: str | None) -> SchemaState:
    """The schema state; a file SQLite cannot read is said in the person's words."""
    try:
        return _read_schema_state(database)
    except NotAllowedError as exc:
        # A server login the database's groups do not include (yet): say so, not "refused".
        raise NotAllowedError(
            f"your server login may not read {where}: it is not a member of this "
            "database's CalTrack groups; an admin runs `caltrack --db URL users set "
            f"LOGIN --role technician` (or qa, admin) for it — the server said: {exc}"
        ) from exc
    except (SADatabaseError, StorageError) as exc:
        cause = exc if isinstance(exc, SADatabaseError) else exc.__cause__
        if database.path is None and isinstance(cause, SADatabaseError):
            # The first connection to a server: refused or unreachable, said plainly.
            raise open_failure(cause, where) from None
        if not isinstance(exc, SADatabaseError):
            raise
        path = database.path
        if fs_read_only and path is not None and sqlite_header_mode(path) == "wal":
            raise DatabaseOpenError(
                f"{where} is in WAL mode and {fs_read_only}: SQLite must create "
                f"{path.name}-shm beside it even to read. Open it once with write access "
                "(on a share it then stays in rollback mode) or ask an admin"
            ) from None
        raise DatabaseOpenError(f"{where} cannot be opened as a database: {exc.orig}") from None


def _read_schema_state(database: Database) -> SchemaState:
    """The schema state, read like any other read: retried while the file is busy."""

    @with_busy_retry(database.retry, database.sleep)
    def read() -> SchemaState:
        with database.engine.connect() as conn:
            return schema_state(conn)

    return read()


def _refuse_unopenable(
    state: SchemaState, migrating: HolderInfo | None, create: bool, where: str
) -> None:
    """Raise for a database being created by someone else, a foreign or an empty one."""
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


# -- 6. may this session write; the upgrade ------------------------------------------


def _decide_writing(
    database: Database,
    session: EditingSession,
    state: SchemaState,
    migrating: HolderInfo | None,
    fs_read_only: str | None,
    left: tuple[LeftSave, ...],
    identity: Identity,
    clock: Clock,
    notices: list[str],
    problems: list[str],
) -> tuple[SchemaState, str | None, type[ReadOnlyError]]:
    """(schema state after any upgrade, why read-only or None, the error writes raise)."""
    if left:
        # Writing before the left save is back could lose it (WAL) or build on a
        # half-written file (journal): nothing is written, not even an upgrade.
        message = left_saves_message(left)
        problems.append(message)
        return state, message, UnfinishedSaveError
    if state.status is SchemaStatus.NEWER:
        return (
            state,
            f"this database was written by a newer CalTrack (schema {state.current}); "
            f"CalTrack {__version__} opens it read-only — install the newer version to edit",
            SchemaTooNewError,
        )
    if migrating is not None:
        # Another session is still upgrading: show what there is, write nothing.
        return (
            state,
            f"the database is being upgraded by {migrating.describe()}; "
            "reopen it in a minute to edit",
            ReadOnlyError,
        )
    if state.status is SchemaStatus.BEHIND and database.path is None:
        with database.engine.connect() as conn:
            not_owner = schema_owner_problem(conn)
        if not_owner:
            # On a server only the tables' owner may alter them: read what there is.
            return state, not_owner, ReadOnlyError
    if state.status in (SchemaStatus.EMPTY, SchemaStatus.BEHIND):
        if fs_read_only:
            raise DatabaseOpenError(f"the database needs an upgrade but {fs_read_only}")
        try:
            notices += _migrate(database, session.lock, state, clock, identity)
        except LockHeldError as exc:
            if state.status is SchemaStatus.EMPTY:
                raise
            return (
                state,
                f"the database needs an upgrade, but {exc}; it is upgraded when they close",
                ReadOnlyError,
            )
        return _read_schema_state(database), fs_read_only, ReadOnlyError
    return state, fs_read_only, ReadOnlyError


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
        if lock.info is None:
            raise RuntimeError("the editor lock was taken but holds no holder record")
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


def _init_meta(uow: UnitOfWork, identity: Identity, clock: Clock) -> None:
    if uow.meta.get("database_id") is None:
        uow.meta.set("database_id", str(uuid.uuid4()))
        uow.meta.set("created_at", clock.now_utc().isoformat())
        uow.meta.set("created_by_version", __version__)
    # Whoever creates the database administers it until they name others; an older
    # database's admin list becomes admin accounts.
    seed_accounts(uow, identity, clock)


# -- 7. and 8. the account and the role ----------------------------------------------


def _deactivated_reason(uow: UnitOfWorkFactory, identity: Identity) -> str | None:
    """Why a deactivated account only looks; None for an active one."""
    me = uow.read(lambda u: user_view(u.accounts.get(identity.user), identity.user))
    if me.active:
        return None
    return (
        f"your CalTrack account ({identity.user}) is deactivated; you can look but "
        "not change anything — ask an admin"
    )


def _take_role(
    database: Database,
    uow: UnitOfWorkFactory,
    session: EditingSession,
    read_only: str | None,
    read_only_error: type[ReadOnlyError],
    identity: Identity,
    clock: Clock,
    notices: list[str],
    problems: list[str],
) -> tuple[bool, StartReport | None]:
    """Become damaged-but-holding, read-only or the editor: (damaged, the editor's start)."""
    if not read_only and session.wants_edit and database.check_sound():
        # Nothing may be written into it, not even the lock epoch (the damage keeps the
        # session read-only); the findings are shown, and the lock is held so that a
        # restore can replace the file with nobody else writing.
        problems.extend((database.damage or [])[:10])
        session.hold_without_writing()
        return True, None
    if read_only:
        database.set_read_only(read_only, read_only_error)
        if session.lock is not None:
            session.lock.release()
        return False, None
    report = session.start()
    notices += report.notices
    path = database.path
    if path is not None and session.editing:
        # We hold the lock, so no upgrade is running: a marker left by a crash goes.
        with contextlib.suppress(OSError):
            migrating_marker(path).unlink(missing_ok=True)
    if session.editing and not uow.read(lambda u: bool(u.accounts.all())):
        # Upgraded by hand (alembic) rather than by CalTrack: nobody would administer it.
        uow.write(lambda u: seed_accounts(u, identity, clock), label="initialise")
    return False, report


# -- 9. the previous run and the audit chain -----------------------------------------


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


def _check_anchors(anchors: ChainAnchorService, notices: list[str], problems: list[str]) -> None:
    """Compare the audit chain with what this PC saw of it last time."""
    try:
        found = anchors.check()
    except DatabaseDamagedError:
        pass  # the damage is said by whatever reads it (and `db verify` lists it)
    else:
        problems.extend(found.problems)
        notices.extend(found.notices)


def _said_once(
    crash: CrashReport | None, unclean: StartReport | None, identity: Identity
) -> CrashReport | None:
    """The lock's "ended without closing" on this PC is the same crash: the window says it once."""
    said = unclean.unclean_notice if unclean is not None else None
    if crash is None or unclean is None or said is None:
        return crash
    previous = unclean.previous_unclean
    if previous is not None and previous.machine == identity.machine:
        return replace(crash, covers=(*crash.covers, said))
    return crash
