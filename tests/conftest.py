"""Shared fixtures: a real CalTrack database per test, on each backend.

``app`` and ``db_url`` are parametrised by ``backend``: every test that takes them runs
twice, once on a SQLite file in a temp folder and once on a new database on this run's
private PostgreSQL server (tests/pg_server.py). A test about the file itself (its
folder, WAL, lock files, the sqlite3 module) says so with
``@pytest.mark.sqlite_only("why")``; its PostgreSQL half is skipped with that reason.
``db_path`` stays the SQLite file: a test that takes only ``db_path`` is SQLite's alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.services.validation import instrument_input
from tests.pg_server import REQUIRE_ENV, PgServer, ServerUnavailable, start_server
from tests.sharding import keep_this_shard, recorder_if_asked

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


BACKENDS = ("sqlite", "postgresql")


class ServerUrl(str):
    """A server database's URL that knows this test's per-PC state folder.

    A file's state folder is the one beside it (``state_for``); a URL has no folder, so
    the test's own is carried with it for helpers that reopen the database as someone
    else.
    """

    state: Path

    def __new__(cls, url: str, state: Path) -> ServerUrl:
        made = super().__new__(cls, url)
        made.state = state
        return made


def state_for(db: Path | str) -> Path:
    """The per-PC state folder (run markers, chain anchors) a test uses for ``db``."""
    if isinstance(db, ServerUrl):
        return db.state
    if is_server(db):
        # A plain URL has no folder of its own: "its parent" would be a path relative to
        # the working folder, i.e. inside the repository. One per URL under the temp dir.
        digest = hashlib.sha256(str(db).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / "caltrack-test-state" / digest
    return Path(db).parent / "state"


def is_server(db: Path | str) -> bool:
    """Whether ``db`` names a database on a server rather than a file."""
    return isinstance(db, str) and "://" in db


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The SQLite file of this test (tests about the file itself use it directly)."""
    return tmp_path / "lab.db"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend of this half of the test: "sqlite" or "postgresql"."""
    return str(request.param)


@pytest.fixture
def db_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Where this test's database lives: the SQLite file's path, or a server database.

    For a test that takes ``app`` (or the window tests' ``demo_db``) the database starts
    as a copy of one made once this run exactly as that fixture makes one
    (``DatabaseTemplate``): creating runs every migration, a fifth of a second on a file
    and a second on the server, and the demo lab takes seconds more, which a test of
    something else should not pay. Otherwise there is nothing there yet.
    """
    template = _template_for(request)
    if backend == "sqlite":
        path = tmp_path / "lab.db"
        if template is not None:
            shutil.copyfile(template.sqlite, path)
        yield str(path)
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = server.new_database(template=template.server_database(server) if template else None)
    yield ServerUrl(url, tmp_path / "state")
    server.drop_database(url)


TEMPLATE_USER = Identity(user="alice", machine="LAB-PC-3")

# What a database made from a template may be made by: the fixture that opens it, if
# the test takes it (a test taking ``demo_db`` gets the demo lab even when it also takes
# ``app``'s fixtures' inputs).
TEMPLATED_FIXTURES = ("demo_db", "app")


def _template_for(request: pytest.FixtureRequest) -> DatabaseTemplate | None:
    """The template this test's database starts from, if any.

    Only for a test that opens it as alice at NOW (what the templates hold).
    """
    chosen = next((name for name in TEMPLATED_FIXTURES if name in request.fixturenames), None)
    if chosen is None:
        return None
    clock: FixedClock = request.getfixturevalue("clock")
    alice: Identity = request.getfixturevalue("alice")
    if alice != TEMPLATE_USER or clock.now_utc() != NOW:
        return None
    template: DatabaseTemplate = request.getfixturevalue(f"{chosen}_template")
    return template


Make = Callable[[str, Path], None]


class DatabaseTemplate:
    """A database made once a run, per backend, when first used, that tests start from.

    ``make(where, state)`` makes it as the fixture would (``app``'s own call, the demo
    lab). A copy already holds what making writes (schema, database id, alice's admin
    account, the audit events), so nothing is written twice and the fixture's open takes
    the ordinary path of an existing database. ``state(backend)`` is the per-PC state
    folder the making left, for a fixture that wants its test to start with it too.
    """

    def __init__(self, folder: Path, make: Make) -> None:
        self._folder = folder
        self._make = make
        self._sqlite: Path | None = None
        self._server: str | None = None

    @property
    def sqlite(self) -> Path:
        if self._sqlite is None:
            path = self._folder / "lab.db"
            self._make(str(path), self.state("sqlite"))
            self._sqlite = path
        return self._sqlite

    def server_database(self, server: PgServer) -> str:
        if self._server is None:
            url = server.new_database("template")
            self._make(url, self.state("postgresql"))
            self._server = server.database_name(url)
        return self._server

    def state(self, backend: str) -> Path:
        return self._folder / f"{backend}-state"


def _create_as_app_does(where: str, state: Path) -> None:
    with open_caltrack(
        where, create=True, identity=TEMPLATE_USER, clock=FixedClock(NOW), state_dir=state
    ):
        pass


@pytest.fixture(scope="session")
def app_template(tmp_path_factory: pytest.TempPathFactory) -> DatabaseTemplate:
    """The databases ``app`` starts from (see ``DatabaseTemplate``)."""
    return DatabaseTemplate(tmp_path_factory.mktemp("app-template"), _create_as_app_does)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def alice() -> Identity:
    return Identity(user="alice", machine="LAB-PC-3")


@pytest.fixture
def app(db_url: str, clock: FixedClock, alice: Identity) -> Iterator[CalTrack]:
    """A freshly initialised database opened by alice as its editor, with a fixed clock."""
    with open_caltrack(
        db_url, create=True, identity=alice, clock=clock, state_dir=state_for(db_url)
    ) as opened:
        yield opened


PERSONAS = ("alice", "bob", "quinn", "carol", "ursula", "greta")


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
        # The people the tests play, as a DBA creates their logins (README: a server
        # login per person; `users set` then grants one of the database's groups).
        for login in PERSONAS:
            server.psql(f'CREATE ROLE "{login}" LOGIN')
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
UNIT = Path(__file__).parent / "unit"
# Which server halves of the tests that run on both backends a run includes
# (CALTRACK_SERVER_HALVES): unset or "all" — every one (what ./run-tests and CI run);
# "window" — all but those of the integration tier (mostly CLI end-to-end tests that
# start processes), for a quicker loop; "unit" — the unit tier's only. Every server-only
# test always runs.
SERVER_HALVES = os.environ.get("CALTRACK_SERVER_HALVES") or "all"
if SERVER_HALVES not in ("all", "window", "unit"):
    raise pytest.UsageError(f"CALTRACK_SERVER_HALVES={SERVER_HALVES!r}: give all, window or unit")
SERVER_HALF_LEFT_OUT = (
    "server half of a test that also runs on SQLite, left out of this run for time: "
    "CALTRACK_SERVER_HALVES=all runs it"
)


def _server_half_left_out(item: pytest.Item) -> bool:
    path = Path(str(item.path)).resolve()
    if SERVER_HALVES == "unit":
        return UNIT not in path.parents
    return SERVER_HALVES == "window" and INTEGRATION in path.parents


def _in_journeys(item: pytest.Item) -> bool:
    return JOURNEYS in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/integration is the ``integration`` tier (``-m "not
    integration"`` runs the unit and window tiers only).

    The PostgreSQL half of a ``sqlite_only`` test is skipped with the marker's reason. A
    test on both backends that also takes ``db_path`` would read or write a file the
    server half never made: a mistake in the test, reported at collection.

    A file named on the command line is collected even where ``pytest_ignore_collect``
    would leave it out, so ``./run-tests tests/unit/test_x.py`` ran it twice (offscreen
    and again beside the journeys): each process keeps only its own side.
    """
    journeys_run = os.environ.get("CALTRACK_JOURNEYS") == "1"
    other_side = [i for i in items if _in_journeys(i) != journeys_run]
    if other_side:
        config.hook.pytest_deselected(items=other_side)
        items[:] = [i for i in items if _in_journeys(i) == journeys_run]
    for item in items:
        if INTEGRATION in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("backend") != "postgresql":
            continue
        only = item.get_closest_marker("sqlite_only")
        if only is not None:
            if not only.args or not str(only.args[0]).strip():
                raise pytest.UsageError(f"{item.nodeid}: sqlite_only needs a reason")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {only.args[0]}"))
        elif "db_path" in getattr(item, "fixturenames", ()):
            # Checked before the server half is left out for time, so that every run
            # reports it, whatever CALTRACK_SERVER_HALVES says.
            raise pytest.UsageError(
                f"{item.nodeid} runs on both backends but takes db_path (a SQLite file): "
                "use db_url, or mark it sqlite_only with the reason"
            )
        elif _server_half_left_out(item):
            item.add_marker(pytest.mark.skip(reason=SERVER_HALF_LEFT_OUT))

    keep_this_shard(config, items)


RECORDER = recorder_if_asked()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Measures each test's seconds when ``CALTRACK_RECORD_DURATIONS=1`` (tests/sharding.py)."""
    if RECORDER is not None:
        RECORDER.add(report)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Saves the measured seconds for the next runs' split into shards."""
    if RECORDER is not None:
        RECORDER.save()


WINDOW_TESTS = (Path(__file__).parent / "ui", JOURNEYS)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``CALTRACK_REPEAT=N`` runs every window test N times in one process (crash hunting)."""
    repeat = int(os.environ.get("CALTRACK_REPEAT", "1"))
    path = Path(str(metafunc.definition.path)).resolve()
    if repeat > 1 and any(folder in path.parents for folder in WINDOW_TESTS):
        metafunc.fixturenames.append("_repeat")
        metafunc.parametrize("_repeat", range(1, repeat + 1), ids=lambda n: f"repeat{n}")
