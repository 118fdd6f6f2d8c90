"""Schema state and migrations through alembic, run on CalTrack's own connection."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text


class SchemaStatus(enum.Enum):
    """How a database's schema relates to this version of CalTrack."""

    EMPTY = "empty"  # no tables at all: a new database
    CURRENT = "current"
    BEHIND = "behind"  # an older CalTrack schema: upgrade it
    NEWER = "newer"  # written by a newer CalTrack: open read-only
    FOREIGN = "foreign"  # tables, but not CalTrack's
    AMBIGUOUS = "ambiguous"  # several revisions recorded at once: the version table is damaged


@dataclass(frozen=True)
class SchemaState:
    """The schema's status with the revisions behind it."""

    status: SchemaStatus
    current: str | None
    head: str


def migrations_dir() -> Path:
    return Path(str(resources.files("app.migrations")))


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser would read '%' in a URL as interpolation.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def _shipped() -> ScriptDirectory:
    """The migrations this CalTrack ships: read once a process (they cannot change under it).

    Loading them compiles every revision file; opening a database asks for the head and
    the known revisions several times.
    """
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    head = _shipped().get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise RuntimeError("no migrations found")
    return head


def known_revisions() -> set[str]:
    return {rev.revision for rev in _shipped().walk_revisions()}


def schema_state(connection: Connection) -> SchemaState:
    head = head_revision()
    tables = set(inspect(connection).get_table_names())
    if not tables:
        return SchemaState(SchemaStatus.EMPTY, None, head)
    # Heads, not "the" revision: alembic raises CommandError when the table holds
    # more than one row, and a damaged version table must be refused by name.
    heads = MigrationContext.configure(connection).get_current_heads()
    if tables == {"alembic_version"} and not heads:  # downgraded to base: as good as new
        return SchemaState(SchemaStatus.EMPTY, None, head)
    if "alembic_version" not in tables or "meta" not in tables:
        return SchemaState(SchemaStatus.FOREIGN, None, head)
    if len(heads) > 1:
        unknown = sorted(set(heads) - known_revisions())
        if unknown:
            # A newer CalTrack whose migrations branch: read-only, as any newer schema.
            return SchemaState(SchemaStatus.NEWER, ", ".join(unknown), head)
        return SchemaState(SchemaStatus.AMBIGUOUS, ", ".join(sorted(heads)), head)
    current = heads[0] if heads else None
    if current == head:
        return SchemaState(SchemaStatus.CURRENT, current, head)
    if current is None:
        return SchemaState(SchemaStatus.FOREIGN, None, head)
    if current in known_revisions():
        return SchemaState(SchemaStatus.BEHIND, current, head)
    return SchemaState(SchemaStatus.NEWER, current, head)


def upgrade(engine: Engine, url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` inside one transaction."""
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, url: str, revision: str) -> None:
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@dataclass(frozen=True)
class SchemaOwner:
    """Who owns a server database's tables, and whether the connected login acts as them."""

    owner: str
    login: str
    is_owner: bool  # the owner itself, one of its members, or a superuser


def schema_owner(connection: Connection) -> SchemaOwner | None:
    """On a server: the tables' owner and the connected login; None on SQLite or no schema."""
    if connection.dialect.name != "postgresql":
        return None
    row = connection.execute(
        text(
            "SELECT pg_has_role(current_user, c.relowner, 'MEMBER'), "
            "pg_get_userbyid(c.relowner), current_user FROM pg_class c "
            "WHERE c.oid = to_regclass('alembic_version')"
        )
    ).one_or_none()
    if row is None:
        return None
    return SchemaOwner(owner=str(row[1]), login=str(row[2]), is_owner=bool(row[0]))


def schema_owner_problem(connection: Connection) -> str | None:
    """On a server: why this login may not upgrade the schema (it is not its owner).

    The tables' owner alone may alter them (and pass the guard triggers of revision
    0006); anyone else would fail half-way into an upgrade. None on SQLite, and for the
    owner, its members and superusers.
    """
    found = schema_owner(connection)
    if found is None or found.is_owner:
        return None
    return (
        f"the database needs a schema upgrade, which only its owner ({found.owner}) may run; "
        f"you are connected as {found.login} — it opens read-only until the owner has opened "
        "it once with this CalTrack version"
    )


def upgrade_on(connection: Connection, url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` inside the caller's open transaction.

    For a copy: the schema and the rows commit together, so a copy that fails or is
    killed part-way leaves the target as empty as it found it.
    """
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
