"""The composition root: opens a database and wires every service to it.

The GUI and the CLI both start here; nothing else builds engines or services.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import DatabaseError as SADatabaseError

from app import __version__
from app.clock import Clock, SystemClock
from app.db import maintenance as db_maintenance
from app.db.engine import EngineOptions, build_engine, database_url, sqlite_path
from app.db.migrate import SchemaState, SchemaStatus, schema_state, upgrade
from app.db.transactions import Database
from app.errors import DatabaseOpenError, ReadOnlyError, SchemaTooNewError
from app.identity import Identity, get_current_user_id
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.attachments import AttachmentService
from app.services.audit import AuditService
from app.services.calibrations import CalibrationService
from app.services.demo import DemoService
from app.services.instruments import InstrumentService
from app.services.maintenance import MaintenanceService, backup_database
from app.storage.attachments import AttachmentStore, attachments_folder_for


@dataclass
class CalTrack:
    """An open database with its services: what a window or a command works with."""

    database: Database
    identity: Identity
    clock: Clock
    schema: SchemaState
    instruments: InstrumentService
    calibrations: CalibrationService
    attachments: AttachmentService
    audit: AuditService
    maintenance: MaintenanceService
    demo: DemoService
    notices: list[str]

    def close(self) -> None:
        self.database.dispose()

    def __enter__(self) -> CalTrack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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


def _init_meta(uow: UnitOfWork, now: str) -> None:
    if uow.meta.get("database_id") is None:
        uow.meta.set("database_id", str(uuid.uuid4()))
        uow.meta.set("created_at", now)
        uow.meta.set("created_by_version", __version__)


def open_caltrack(
    path_or_url: str,
    *,
    create: bool = False,
    options: EngineOptions | None = None,
    identity: Identity | None = None,
    clock: Clock | None = None,
) -> CalTrack:
    """Open (or with ``create`` make) a database, upgrade its schema, wire services."""
    options = options or EngineOptions()
    identity = identity or get_current_user_id()
    clock = clock or SystemClock()
    url = database_url(path_or_url)
    path = sqlite_path(url)
    notices: list[str] = []
    read_only: str | None = None
    read_only_error: type[ReadOnlyError] = ReadOnlyError
    if path is not None:
        _check_file(path, create)
        read_only = _read_only_reason(path)
        if read_only and not path.exists():
            raise DatabaseOpenError(f"cannot create {path}: {read_only}")
    engine, journal = build_engine(url, options)
    database = Database(engine, url=url, path=path, journal=journal)
    try:
        with engine.connect() as conn:
            state = schema_state(conn)
    except SADatabaseError as exc:
        engine.dispose()
        raise DatabaseOpenError(
            f"{path or url} cannot be opened as a database: {exc.orig}"
        ) from None
    where = path or make_safe(url)
    if state.status is SchemaStatus.FOREIGN:
        engine.dispose()
        raise DatabaseOpenError(
            f"{where} is a database but not a CalTrack one; "
            "open a CalTrack database or create a new one with init"
        )
    if state.status is SchemaStatus.EMPTY and not create:
        engine.dispose()
        raise DatabaseOpenError(
            f"{where} holds no CalTrack data yet; create it with: caltrack --db {where} init"
        )
    if state.status is SchemaStatus.NEWER:
        read_only = (
            f"this database was written by a newer CalTrack (schema {state.current}); "
            f"CalTrack {__version__} opens it read-only — install the newer version to edit"
        )
        read_only_error = SchemaTooNewError
    elif state.status in (SchemaStatus.EMPTY, SchemaStatus.BEHIND):
        if read_only:
            engine.dispose()
            raise DatabaseOpenError(f"the database needs an upgrade but {read_only}")
        if state.status is SchemaStatus.BEHIND and path is not None:
            backup = backup_database(database, clock, f"before-upgrade-{state.current}")
            notices.append(f"upgraded the schema from {state.current}; backup at {backup}")
        upgrade(engine, url)
        UnitOfWorkFactory(database).write(
            lambda u: _init_meta(u, clock.now_utc().isoformat()), label="initialise"
        )
        with engine.connect() as conn:
            state = schema_state(conn)
    database.set_read_only(read_only, read_only_error)
    store = AttachmentStore(attachments_folder_for(path)) if path else None
    return _services(database, identity, clock, store, state, notices)


def make_safe(url: str) -> str:
    """A URL fit to print: the password hidden."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _services(
    database: Database,
    identity: Identity,
    clock: Clock,
    store: AttachmentStore | None,
    schema: SchemaState,
    notices: list[str],
) -> CalTrack:
    uow = UnitOfWorkFactory(database)
    audit = AuditService(uow)
    store_or_default = store or AttachmentStore(Path.cwd() / "caltrack-attachments")
    return CalTrack(
        database=database,
        identity=identity,
        clock=clock,
        schema=schema,
        instruments=InstrumentService(uow=uow, identity=identity, clock=clock),
        calibrations=CalibrationService(uow=uow, identity=identity, clock=clock),
        attachments=AttachmentService(
            uow=uow, store=store_or_default, identity=identity, clock=clock
        ),
        audit=audit,
        maintenance=MaintenanceService(uow=uow, store=store, audit=audit, clock=clock),
        demo=DemoService(uow=uow, identity=identity, clock=clock),
        notices=notices,
    )
