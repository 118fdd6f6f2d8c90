"""Shared fixtures: a real CalTrack database file in a temp folder per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.services.validation import instrument_input
from tests.pg_server import REQUIRE_ENV, PgServer, ServerUnavailable, start_server

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "lab.db"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def alice() -> Identity:
    return Identity(user="alice", machine="LAB-PC-3")


@pytest.fixture
def app(db_path: Path, clock: FixedClock, alice: Identity, tmp_path: Path) -> Iterator[CalTrack]:
    """A freshly initialised database opened by alice as its editor, with a fixed clock."""
    with open_caltrack(
        str(db_path), create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ) as opened:
        yield opened


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """This run's private PostgreSQL server, started on first use (tests/pg_server.py)."""
    try:
        server = start_server()
    except ServerUnavailable as exc:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"PostgreSQL tests required but the server is unavailable: {exc}")
        pytest.skip(f"no PostgreSQL server for the server-backend tests: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The URL of a new empty database on this run's PostgreSQL server."""
    return pg_server.new_database()


def add_thermometer(app: CalTrack, tag: str = "TH-001", **extra: object) -> None:
    values: dict[str, object] = {
        "asset_tag": tag,
        "description": "Digital thermometer",
        "manufacturer": "Fluke",
        "model": "1524",
        "serial_number": "SN123",
        "calibration_interval_days": 365,
    }
    values.update(extra)
    app.instruments.add(instrument_input(values))


JOURNEYS = Path(__file__).parent / "journeys"


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """The journeys run in a pytest process of their own (xcb), the rest offscreen.

    ``CALTRACK_JOURNEYS=1`` selects the journeys; without it they are left out.
    """
    path = collection_path.resolve()
    in_journeys = path == JOURNEYS or JOURNEYS in path.parents
    if os.environ.get("CALTRACK_JOURNEYS") == "1":
        return None if in_journeys or path in JOURNEYS.parents else True
    return True if in_journeys else None


INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration is the ``integration`` tier (``-m "not
    integration"`` runs the unit and window tiers only)."""
    for item in items:
        if INTEGRATION in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


WINDOW_TESTS = (Path(__file__).parent / "ui", JOURNEYS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``CALTRACK_REPEAT=N`` runs every window test N times in one process (crash hunting)."""
    repeat = int(os.environ.get("CALTRACK_REPEAT", "1"))
    path = Path(str(metafunc.definition.path)).resolve()
    if repeat > 1 and any(folder in path.parents for folder in WINDOW_TESTS):
        metafunc.fixturenames.append("_repeat")
        metafunc.parametrize("_repeat", range(1, repeat + 1), ids=lambda n: f"repeat{n}")
