"""The PostgreSQL backend on this run's private server: the smallest whole round trip.

The wider suite runs on both backends through the parametrised fixtures; this file
proves the private server itself works (tests/pg_server.py), so a failure there is read
as "no server", not as a hundred broken tests.
"""

from __future__ import annotations

from pathlib import Path

from app.bootstrap import open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from tests.conftest import add_thermometer
from tests.pg_server import PgServer


def test_each_test_gets_an_empty_database_of_its_own(pg_server: PgServer) -> None:
    first, second = pg_server.new_database(), pg_server.new_database()
    assert first != second
    assert first.startswith("postgresql+psycopg://")


def test_a_server_database_initialises_stores_and_verifies(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ) as app:
        add_thermometer(app)
        assert app.database.engine.dialect.name == "postgresql"
    with open_caltrack(pg_url, identity=alice, clock=clock, state_dir=tmp_path / "state") as app:
        [row] = app.instruments.list().rows
        assert row.asset_tag == "TH-001"
        report = app.maintenance.verify()
        assert report.clean, report.problems
        assert report.audit_events >= 1
