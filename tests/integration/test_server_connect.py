"""Connecting to a database server: service names, passwords, and one clear message each.

A server of this module's own (tests/pg_server.py), so that it can require a password
and be halted mid-session without touching the run's shared one. Every CLI case runs
``python -m app`` in a real process: one plain sentence, libpq's text on a second line,
the documented exit code, never a traceback and never 70 (internal error).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.bootstrap import open_caltrack
from app.clock import FixedClock
from app.db.server import CONNECT_TIMEOUT_S, connect_args
from app.errors import ServerLostError, ValidationError
from app.identity import Identity
from app.services.connecting import ServerChoice, display_name, is_server, server_target
from tests.conftest import add_thermometer
from tests.integration.helpers import CHILD_TIMEOUT_S, child_env
from tests.pg_server import PgServer, start_server

ROLE, PASSWORD, DB = "labuser", "s3cret-pw", "labdb"


@pytest.fixture(scope="module")
def server() -> Iterator[PgServer]:
    """A server of this module's own: ``labuser`` must give a password to reach ``labdb``."""
    pg = start_server()
    try:
        pg.require_password(ROLE, PASSWORD)
        # The owner who runs `init` creates the database's CalTrack groups (README).
        pg.psql(f"ALTER ROLE {ROLE} CREATEROLE")
        pg.psql(f"CREATE DATABASE {DB} OWNER {ROLE}")
        yield pg
    finally:
        pg.stop()


def _files(tmp: Path, server: PgServer, password: str | None, *, dbname: str = DB) -> Path:
    """A pg_service.conf naming service ``lab``, and a ~/.pgpass; the folder holding them."""
    (tmp / "pg_service.conf").write_text(
        f"[lab]\nhost={server.socket_dir}\ndbname={dbname}\nuser={ROLE}\n"
    )
    pgpass = tmp / "pgpass"
    pgpass.write_text(f"*:*:*:{ROLE}:{password}\n" if password else "")
    pgpass.chmod(0o600)
    return tmp


def _cli(tmp: Path, db: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = child_env(tmp)
    env["PGSERVICEFILE"] = str(tmp / "pg_service.conf")
    env["PGPASSFILE"] = str(tmp / "pgpass")
    return subprocess.run(
        [sys.executable, "-m", "app", "--db", db, *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )


def _refused(done: subprocess.CompletedProcess[str], code: int, sentence: str) -> list[str]:
    """Exit ``code``, ``sentence`` on the first line, libpq's text on the second only."""
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[0].startswith("caltrack: ") and sentence in lines[0], done.stderr
    assert lines[1].startswith("  server said: "), done.stderr
    return lines


def test_a_service_name_opens_with_the_password_from_pgpass(
    server: PgServer, tmp_path: Path
) -> None:
    _files(tmp_path, server, PASSWORD)
    created = _cli(tmp_path, "service=lab", "init")
    assert created.returncode == 0, created.stderr
    listed = _cli(tmp_path, "service=lab", "instruments", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"total": 0, "instruments": []}
    assert PASSWORD not in created.stderr + listed.stderr + listed.stdout


def test_a_wrong_password_is_said_plainly(server: PgServer, tmp_path: Path) -> None:
    _files(tmp_path, server, "not-the-password")
    lines = _refused(
        _cli(tmp_path, "service=lab", "instruments", "list"), 8, "refused the password"
    )
    assert "~/.pgpass" in lines[0]
    assert "password authentication failed" in lines[1]


def test_no_password_anywhere_says_where_to_put_it(server: PgServer, tmp_path: Path) -> None:
    _files(tmp_path, server, None)
    lines = _refused(_cli(tmp_path, "service=lab", "instruments", "list"), 8, "none was found")
    assert "~/.pgpass" in lines[0]


def test_a_missing_database_says_who_creates_it(server: PgServer, tmp_path: Path) -> None:
    _files(tmp_path, server, PASSWORD, dbname="nosuchdb")
    lines = _refused(_cli(tmp_path, "service=lab", "instruments", "list"), 2, "no such database")
    assert "ask the administrator to create it" in lines[0]
    assert "init" in lines[0]


def test_an_unknown_user_is_said_plainly(server: PgServer, tmp_path: Path) -> None:
    _files(tmp_path, server, PASSWORD)
    url = f"postgresql+psycopg://ghost@/{DB}?host={server.socket_dir}"
    _refused(_cli(tmp_path, url, "instruments", "list"), 2, "no user by that name")


def test_an_unknown_service_name_is_said_plainly(server: PgServer, tmp_path: Path) -> None:
    _files(tmp_path, server, PASSWORD)
    lines = _refused(
        _cli(tmp_path, "service=nosuch", "instruments", "list"), 2, "no database service"
    )
    assert "pg_service.conf" in lines[0]


def test_no_free_connection_is_busy(server: PgServer, tmp_path: Path) -> None:
    _files(tmp_path, server, PASSWORD)
    server.psql(f"ALTER ROLE {ROLE} CONNECTION LIMIT 0")
    try:
        done = _cli(tmp_path, "service=lab", "instruments", "list")
    finally:
        server.psql(f"ALTER ROLE {ROLE} CONNECTION LIMIT -1")
    _refused(done, 4, "no free connections")


def test_an_unknown_host_name_is_said_plainly(tmp_path: Path) -> None:
    url = "postgresql+psycopg://u@no-such-host.invalid/lab"
    _refused(_cli(tmp_path, url, "instruments", "list"), 2, "name cannot be found")


def test_an_unreachable_server_is_said_plainly(tmp_path: Path) -> None:
    _files(tmp_path, PgServer(folder=tmp_path / "nowhere", bin=tmp_path), PASSWORD)
    lines = _refused(_cli(tmp_path, "service=lab", "instruments", "list"), 6, "cannot be reached")
    assert "No such file or directory" in lines[1]


def test_a_password_in_the_url_is_warned_about_and_never_printed(
    server: PgServer, tmp_path: Path
) -> None:
    _files(tmp_path, server, None)
    url = f"postgresql+psycopg://{ROLE}:{PASSWORD}@/{DB}?host={server.socket_dir}"
    done = _cli(tmp_path, url, "init")
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if "contains a password" in line]
    assert len(notes) == 1 and "~/.pgpass" in notes[0]
    logs = "".join(p.read_text() for p in (tmp_path / "xdg-state").rglob("*.log*"))
    assert f"{ROLE}:***@/{DB}" in logs  # the command was logged, masked
    assert PASSWORD not in done.stdout + done.stderr + logs


def test_a_server_gone_mid_session_keeps_the_entry_and_reconnects_after(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    pg = start_server()  # its own: halting it must not touch any other test's server
    try:
        url = pg.new_database()
        with open_caltrack(
            url, create=True, identity=alice, clock=clock, state_dir=tmp_path
        ) as app:
            add_thermometer(app, "TH-001")
            # Test servers run with synchronous_commit=off: flush before the "crash" so
            # that what is lost is only what a real server would lose (nothing committed).
            pg.psql("CHECKPOINT")
            pg.halt()
            with pytest.raises(ServerLostError) as refused:
                add_thermometer(app, "TH-002")
            assert (
                "the database server cannot be reached — nothing was saved; your entry is kept"
                in str(refused.value)
            )
            with pytest.raises(ServerLostError, match="nothing was changed"):
                app.instruments.list()
            pg.start()
            add_thermometer(app, "TH-002")  # the same session: the pool reconnects
            assert [r.asset_tag for r in app.instruments.list().rows] == ["TH-001", "TH-002"]
    finally:
        pg.stop()


def test_the_open_server_dialogs_choice_becomes_a_db_target() -> None:
    assert server_target(ServerChoice(service="lab")) == "service=lab"
    target = server_target(ServerChoice(host="db.lab", port="5433", database="cal", user="quinn"))
    assert target == "postgresql+psycopg://quinn@db.lab:5433/cal"
    socket = server_target(ServerChoice(host="/run/postgresql", database="cal"))
    assert socket == "postgresql+psycopg:///cal?host=%2Frun%2Fpostgresql"
    assert is_server(target) and is_server("service=lab")
    assert not is_server("lab.db") and not is_server("./service=lab")
    assert display_name("postgresql+psycopg://u:pw@h/d") == "postgresql+psycopg://u:***@h/d"
    with pytest.raises(ValidationError) as bad:
        server_target(ServerChoice(host="h", port="99999"))
    assert set(bad.value.fields) == {"database", "port"}
    with pytest.raises(ValidationError):
        server_target(ServerChoice(service="../x.db"))


def test_a_server_connection_gives_up_after_a_timeout() -> None:
    assert connect_args("postgresql+psycopg://u@h/d") == {"connect_timeout": CONNECT_TIMEOUT_S}
    assert connect_args("postgresql+psycopg://u@h/d?connect_timeout=3") == {}
