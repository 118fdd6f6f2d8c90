"""A command's start-up: the schema head it knows, and what it does not load.

Every command asks whether the database's schema is current before it opens it. The
answer comes from ``SCHEMA_HEAD`` and plain SQL, so that alembic (and the server's
driver and dialect) load only when a migration runs or a server is opened: together
they were about a third of a command's start-up, paid by every command and by each of
the thousands of commands the test suite starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.db.migrate import SCHEMA_HEAD, shipped_head

# Modules a command on a current SQLite database must not import.
HEAVY = ("alembic", "mako", "psycopg", "psycopg_binary", "sqlalchemy.dialects.postgresql")

PROBE = """
import json, sys
from app.cli.main import main
code = main(["--db", sys.argv[1], "instruments", "list", "--json"])
heavy = sorted(m for m in sys.modules if m.startswith(tuple(sys.argv[2:])))
print(json.dumps({"code": code, "heavy": heavy}))
"""


def test_the_schema_head_is_the_migrations_head() -> None:
    """A new migration must move SCHEMA_HEAD with it (app/db/migrate.py)."""
    assert shipped_head() == SCHEMA_HEAD


def test_a_command_on_a_current_database_loads_no_migration_or_server_code(
    tmp_path: Path,
) -> None:
    db = tmp_path / "lab.db"
    made = subprocess.run(
        [sys.executable, "-m", "app", "--db", str(db), "init"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(db), *HEAVY],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found == {"code": 0, "heavy": []}
