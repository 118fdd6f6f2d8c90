"""Schema state and migrations through alembic, run on CalTrack's own connection.

Every command asks for the schema's state before it opens a database, and almost
always finds it current. That question is answered with plain SQL against the head
revision this CalTrack ships (``SCHEMA_HEAD``, which a test keeps equal to the
migrations' own head). alembic, its script directory and its dialect modules are
loaded only when a migration must run or a revision must be looked up: they are about
a third of a command's start-up, and the test suite starts thousands of commands.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

# The newest revision in migrations/versions; a new migration changes it (a unit test
# compares it with alembic's head, so the two cannot drift apart).
SCHEMA_HEAD = "0019"


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
    # Loaded here, not at the top: see the module's docstring.
    from alembic.config import Config

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
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def shipped_head() -> str | None:
    """The head as alembic reads it from the revision files (for the test of SCHEMA_HEAD)."""
    return _shipped().get_current_head()


def head_revision() -> str:
    return SCHEMA_HEAD


def _version_rows(connection: Connection) -> list[str]:
    """The revisions recorded in ``alembic_version`` (more than one: a damaged table)."""
    rows = connection.execute(text("SELECT version_num FROM alembic_version"))
    return [str(row[0]) for row in rows]


def known_revisions() -> set[str]:
    return {rev.revision for rev in _shipped().walk_revisions()}


def schema_state(connection: Connection) -> SchemaState:
    head = head_revision()
    tables = set(inspect(connection).get_table_names())
    if not tables:
        return SchemaState(SchemaStatus.EMPTY, None, head)
    # Heads, not "the" revision: alembic raises CommandError when the table holds
    # more than one row, and a damaged version table must be refused by name.
    heads = _version_rows(connection) if "alembic_version" in tables else []
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
    from alembic import command

    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, url: str, revision: str) -> None:
    from alembic import command

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
    from alembic import command

    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
