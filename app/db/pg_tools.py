"""Backups of a server database through PostgreSQL's own tools, and its statistics.

``pg_dump --format=custom`` writes the backup and ``pg_restore`` reads it back. Both run
as child processes with the connection of the open database: host, port, user and
database in a libpq connection string on their command line, a service name in
``PGSERVICE``, and a password — only if the URL carries one — in ``PGPASSWORD`` of the
child's environment, never on a command line (process lists show those to every user).
Otherwise libpq reads ``~/.pgpass`` or the service file as for CalTrack itself.

The dump runs in a snapshot exported by a transaction of ours, so the audit head we read
in that transaction is exactly the one the backup holds, whatever others save meanwhile.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, make_url, text

from app.db.maintenance import discard_copy, temp_copy_path
from app.db.migrate import schema_owner
from app.db.server import CONNECT_TIMEOUT_S
from app.errors import DatabaseBusyError, NotAllowedError, StorageError, UsageError
from app.storage.atomic import fsync_directory

# Where PostgreSQL installs its programs besides PATH (Debian/Ubuntu, RHEL, Windows).
TOOL_GLOBS = (
    "/usr/lib/postgresql/*/bin",
    "/usr/pgsql-*/bin",
    "C:/Program Files/PostgreSQL/*/bin",
)
# The folder of pg_dump and pg_restore, when they are installed somewhere else.
TOOL_DIR_ENV = "CALTRACK_PG_BIN"
DUMP_SUFFIX = ".dump"
# pg_dump's custom format starts so.
DUMP_MAGIC = b"PGDMP"
# Tables a CalTrack backup holds at least.
REQUIRED_TABLES = ("meta", "instrument", "alembic_version")
_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)")


def install_advice(tool: str, major: int | None) -> str:
    at_least = f" (PostgreSQL {major} or newer)" if major else ""
    return (
        f"{tool}{at_least} is not installed here: install the PostgreSQL client programs "
        "(Debian/Ubuntu: apt-get install postgresql-client; Windows and macOS: the "
        f"PostgreSQL installer), or set {TOOL_DIR_ENV} to the folder holding {tool}"
    )


def _exe(name: str) -> str:
    return f"{name}.exe" if sys.platform == "win32" else name


def _candidates(tool: str) -> list[Path]:
    chosen = os.environ.get(TOOL_DIR_ENV)
    if chosen:
        # Named on purpose: only there, so the one a lab chose is the one used.
        return [Path(chosen) / _exe(tool)]
    found: list[Path] = []
    on_path = shutil.which(tool)
    if on_path:
        found.append(Path(on_path))
    for pattern in TOOL_GLOBS:
        root = Path(pattern.split("*")[0]).parent
        if root.is_dir():
            found += sorted(root.glob(f"{Path(pattern).relative_to(root)}/{_exe(tool)}"))
    return found


def tool_major(program: Path) -> int | None:
    """The PostgreSQL major version of a client program (None if it does not run)."""
    try:
        done = subprocess.run(
            [str(program), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    match = _VERSION.search(done.stdout)
    return int(match.group(1)) if done.returncode == 0 and match else None


def find_tool(tool: str, server_major: int) -> Path:
    """The newest ``pg_dump``/``pg_restore`` found; refused if older than the server.

    An older pg_dump refuses to dump a newer server; a newer one reads every older server.
    """
    best: tuple[int, Path] | None = None
    for program in _candidates(tool):
        if not program.is_file():
            continue
        major = tool_major(program)
        if major is not None and (best is None or major > best[0]):
            best = (major, program)
    if best is None:
        raise UsageError(f"{install_advice(tool, server_major)}; nothing was changed")
    if best[0] < server_major:
        raise UsageError(
            f"the {tool} found here ({best[1]}) is PostgreSQL {best[0]}, older than the "
            f"server (PostgreSQL {server_major}): {install_advice(tool, server_major)}; "
            "nothing was changed"
        )
    return best[1]


@dataclass(frozen=True)
class ChildConnection:
    """How a child program reaches the database: a connection string and environment."""

    conninfo: str
    env: dict[str, str]


def child_connection(engine: Engine) -> ChildConnection:
    """The open database's connection for pg_dump/pg_restore, its password kept off argv."""
    # Loaded here: only a server's backup needs it, and every command imports this module.
    from psycopg.conninfo import make_conninfo

    _args, kwargs = engine.dialect.create_connect_args(make_url(engine.url))
    # libpq's own keywords only (the dialect adds psycopg objects such as ``context``).
    params = {k: v for k, v in kwargs.items() if isinstance(v, str | int)}
    # A server that never answers must not hang the backup (as for CalTrack's own).
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    env = dict(os.environ)
    password = params.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    service = params.pop("service", None)
    if service is not None:
        env["PGSERVICE"] = str(service)
    return ChildConnection(conninfo=make_conninfo("", **params), env=env)


def server_major(conn: Connection) -> int:
    return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def _failure(tool: str, done: subprocess.CompletedProcess[bytes]) -> str:
    lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return f"{tool} failed (exit {done.returncode})" + (f": {lines[-1]}" if lines else "")


def _audit_head(conn: Connection) -> tuple[int, str] | None:
    row = conn.execute(
        text("SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")
    ).one_or_none()
    return (int(row[0]), str(row[1])) if row else None


def dump(engine: Engine, destination: Path) -> tuple[int, str] | None:
    """``pg_dump --format=custom`` of the database into ``destination``; the audit head
    (id, hash) the backup holds.

    Written under a hidden temporary name, read back with ``pg_restore --list``, flushed
    and only then given its name: no file under a backup's name that is not whole.
    """
    if destination.exists():
        raise UsageError(f"{destination} already exists; choose another label")
    child = child_connection(engine)
    tmp = temp_copy_path(destination)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            owner = schema_owner(conn)
            if owner is not None and not owner.is_owner:
                # The groups may not read everything (signing password hashes): a dump by
                # anyone but the owner would fail half-way with pg_dump's own words.
                raise NotAllowedError(
                    f"a backup of a server database is made by its owner ({owner.owner}); you "
                    f"are connected as {owner.login} — ask whoever looks after the server, or "
                    "run db backup as the owner; nothing was written"
                )
            major = server_major(conn)
            pg_dump = find_tool("pg_dump", major)
            pg_restore = find_tool("pg_restore", major)
            # pg_dump reads in this snapshot: the head read here is the one it dumps.
            snapshot = str(conn.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            head = _audit_head(conn)
            done = subprocess.run(
                [
                    str(pg_dump),
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot}",
                    f"--file={tmp}",
                    f"--dbname={child.conninfo}",
                ],
                env=child.env,
                capture_output=True,
                check=False,
            )
            conn.rollback()
        if done.returncode != 0:
            raise StorageError(f"{_failure('pg_dump', done)}; nothing was written")
        problems = check_dump(tmp, pg_restore)
        if problems:
            raise StorageError(f"the backup failed its check ({problems[0]}); nothing was written")
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if destination.exists():
            raise UsageError(f"{destination} already exists; choose another label")
        os.replace(tmp, destination)
        fsync_directory(destination.parent)
    except OSError as exc:
        discard_copy(tmp)
        raise StorageError(
            f"backup failed: {exc.strerror or exc}; nothing was written to {destination.parent}"
        ) from None
    except BaseException:
        discard_copy(tmp)
        raise
    return head


def is_dump_file(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(DUMP_MAGIC)) == DUMP_MAGIC
    except OSError:
        return False


def check_dump(path: Path, pg_restore: Path) -> list[str]:
    """Problems that make ``path`` unfit to restore from (empty when fit)."""
    if not path.is_file():
        return [f"no backup file at {path}"]
    if not is_dump_file(path):
        return [f"{path} is not a pg_dump backup (custom format)"]
    done = subprocess.run([str(pg_restore), "--list", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        return [f"{path} cannot be read: {_failure('pg_restore', done)}"]
    listing = done.stdout.decode("utf-8", "replace")
    tables = set(re.findall(r"TABLE DATA \S+ (\S+) ", listing))
    if not set(REQUIRED_TABLES) <= tables:
        return [f"{path} is a pg_dump backup but not of a CalTrack database"]
    return []


def _copy_field(value: str) -> str | None:
    """One field of COPY's text format."""
    if value == r"\N":
        return None
    escapes = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", "b": "\b", "f": "\f", "v": "\v"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(1)), value)


Rows = list[list[str | None]]


def dump_rows(path: Path, pg_restore: Path, tables: Iterable[str]) -> dict[str, Rows]:
    """The rows of small tables in a backup, read with ``pg_restore`` (nothing restored)."""
    wanted = list(tables)
    argv = [str(pg_restore), "--data-only", "--file=-"]
    argv += [f"--table={name}" for name in wanted]
    done = subprocess.run([*argv, str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"cannot read {path}: {_failure('pg_restore', done)}")
    rows: dict[str, Rows] = {name: [] for name in wanted}
    current: Rows | None = None
    for line in done.stdout.decode("utf-8").splitlines():
        if current is None:
            match = re.match(r"COPY (?:\S+\.)?(\S+) \(", line)
            if match and match.group(1) in rows:
                current = rows[match.group(1)]
        elif line == "\\.":
            current = None
        else:
            current.append([_copy_field(v) for v in line.split("\t")])
    return rows


@dataclass(frozen=True)
class DumpFacts:
    """What a server backup says about itself: schema revision and ``meta`` values."""

    revision: str | None
    meta: Mapping[str, str | None]


def current_database(engine: Engine) -> str:
    """The name of the server database ``engine`` connects to."""
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_database()")).scalar_one())


def dump_database(path: Path, pg_restore: Path) -> str | None:
    """The name of the database a backup was made from (its archive header)."""
    done = subprocess.run([str(pg_restore), "--list", str(path)], capture_output=True, check=False)
    found = re.search(r"^;\s+dbname: (.+)$", done.stdout.decode("utf-8", "replace"), re.M)
    return found.group(1).strip() if found else None


def dump_facts(path: Path, pg_restore: Path) -> DumpFacts:
    rows = dump_rows(path, pg_restore, ("meta", "alembic_version"))
    meta = {str(r[0]): r[1] for r in rows["meta"] if r}
    versions = rows["alembic_version"]
    return DumpFacts(revision=versions[0][0] if versions else None, meta=meta)


# Raised inside the restore's transaction when the chain moved since the safety backup.
MOVED_MARK = "caltrack-chain-moved-since-backup"


def restore(engine: Engine, backup: Path, *, chain_lock: int, expect_head: str | None) -> None:
    """Replace every table of the database with the backup's, in one transaction.

    ``pg_restore`` turns the backup into SQL, which ``psql --single-transaction`` runs
    after a ``DROP TABLE`` of the tables there now: a failure anywhere (a lost connection,
    a full disk on the server, a statement the server refuses) rolls everything back and
    the database stays as it was.

    The transaction first takes the chain lock every save takes (``chain_lock``) and
    checks that the newest audit event is still ``expect_head``, the one the backup of
    what is replaced holds: a save committed after that backup would be lost with the
    tables, so the restore is refused instead (``DatabaseBusyError``).
    """
    child = child_connection(engine)
    with engine.connect() as conn:
        major = server_major(conn)
        tables = [
            str(n)
            for n in conn.execute(
                text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
            ).scalars()
        ]
        schema = str(conn.execute(text("SELECT current_schema()")).scalar_one())
        # The guard functions of the server's roles (revision 0006) come back from the
        # backup with its tables and triggers: the ones here go first.
        functions = [
            str(f)
            for f in conn.execute(
                text(
                    "SELECT p.oid::regprocedure::text FROM pg_proc p "
                    "JOIN pg_namespace n ON n.oid = p.pronamespace "
                    "WHERE n.nspname = current_schema() AND p.proname LIKE 'caltrack\\_%'"
                )
            ).scalars()
        ]
    pg_restore = find_tool("pg_restore", major)
    psql = find_tool("psql", major)
    quoted = ", ".join(f'"{schema}"."{t}"' for t in tables)
    drop = f"DROP TABLE IF EXISTS {quoted} CASCADE" if tables else "SELECT 1"
    drop_functions = (
        "DROP FUNCTION IF EXISTS " + ", ".join(functions) + " CASCADE" if functions else "SELECT 1"
    )
    expected = "NULL" if expect_head is None else "'" + expect_head.replace("'", "''") + "'"
    unchanged = (
        "DO $$ BEGIN IF (SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1) "
        f"IS DISTINCT FROM {expected} THEN RAISE EXCEPTION '{MOVED_MARK}'; END IF; END $$"
    )
    # The script is written whole before psql sees any of it: psql would COMMIT what it
    # had read if pg_restore stopped half-way through a damaged backup.
    with tempfile.TemporaryDirectory(prefix="caltrack-restore-") as work:
        script = Path(work) / "restore.sql"
        made = subprocess.run(
            [
                str(pg_restore),
                "--no-owner",
                "--no-comments",
                f"--file={script}",
                str(backup),
            ],
            capture_output=True,
            check=False,
        )
        if made.returncode != 0:
            raise StorageError(
                f"the backup cannot be read ({_failure('pg_restore', made)}); nothing was changed"
            )
        done = subprocess.run(
            [
                str(psql),
                "-X",
                "-q",
                "--single-transaction",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f"SELECT pg_advisory_xact_lock({int(chain_lock)})",
                "-c",
                unchanged,
                "-c",
                drop,
                "-c",
                drop_functions,
                "-f",
                str(script),
                f"--dbname={child.conninfo}",
            ],
            stdin=subprocess.DEVNULL,
            env=child.env,
            capture_output=True,
            check=False,
        )
    if done.returncode != 0 and MOVED_MARK.encode() in done.stderr:
        raise DatabaseBusyError(
            "someone saved while the restore was starting (after the backup of what it "
            "replaces was made); nothing was changed — restore again when nobody is saving"
        )
    if done.returncode != 0:
        raise StorageError(
            "the restore failed and was rolled back, the database is as it was "
            f"({_failure('psql', done)})"
        )


@dataclass(frozen=True)
class ServerStats:
    """What ``db stats`` adds on a server."""

    server_version: str
    database_size_bytes: int
    connections: int
    attachments_bytes: int
    table_sizes: dict[str, int]


def server_stats(engine: Engine) -> ServerStats:
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar_one())
        size = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
        connections = int(
            conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            ).scalar_one()
        )
        blobs = "SELECT coalesce(sum(size_bytes), 0) FROM attachment_blob"
        attachments = int(conn.execute(text(blobs)).scalar_one())
        sizes = {
            str(name): int(total)
            for name, total in conn.execute(
                text(
                    "SELECT tablename, pg_total_relation_size(format('%I.%I', schemaname, "
                    "tablename)) FROM pg_tables WHERE schemaname = current_schema()"
                )
            )
        }
    return ServerStats(version, size, connections, attachments, sizes)
