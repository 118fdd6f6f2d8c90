"""Numbers and dates at the edge: every one is refused with exit 2 and one line, never 70.

Each bad command runs as its own ``python -m app`` process on its own copy of a small
database (a file, or a database on this run's server), and must leave it as it was.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, ServerUrl
from tests.integration.helpers import assert_one_error_line, fingerprint, run_cli, side_by_side
from tests.pg_server import PgServer

HUGE = str(2**63)  # one above SQLite's largest integer
FAR = "9999-12-31"

BAD_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "void a huge id": (("calibrations", "void", HUGE, "--reason", "x"), "calibration id"),
    "sign a huge id": (
        ("calibrations", "sign", HUGE, "--meaning", "reviewed", "--password-stdin"),
        "calibration id",
    ),
    "signatures of a huge id": (("calibrations", "signatures", HUGE), "calibration id"),
    "edit a huge id": (("calibrations", "edit", HUGE, "--notes", "n", "--reason", "r"), "id"),
    "supersede a huge id": (
        (
            "calibrations",
            "supersede",
            HUGE,
            "--reason",
            "r",
            "--performed-on",
            "2026-11-01",
            "--result",
            "pass",
        ),
        "id",
    ),
    "export a huge attachment": (("attachments", "export", HUGE, "out.bin"), "attachment id"),
    "void a huge attachment": (("attachments", "void", HUGE, "--reason", "x"), "attachment id"),
    "attach to a huge record": (
        ("attachments", "add", "DUT-1", "f.txt", "--record", HUGE),
        "--record",
    ),
    "show a huge case": (("oot", "show", HUGE), "case"),
    "huge expected version": (
        ("instruments", "edit", "DUT-1", "--notes", "x", "--expect-version", HUGE),
        "--expect-version",
    ),
    "audit list huge limit": (("audit", "list", "--limit", HUGE), "--limit"),
    "instruments list huge limit": (("instruments", "list", "--limit", HUGE), "--limit"),
    "instruments list huge offset": (("instruments", "list", "--offset", HUGE), "--offset"),
    "report audit to the year 9999": (("report", "audit", "--to", FAR, "-o", "a.csv"), "--to"),
    "report oot from the year 1": (
        ("report", "oot", "--from", "0001-01-01", "-o", "o.csv"),
        "--from",
    ),
    "calibrated in the year 1": (
        ("calibrations", "add", "DUT-1", "--performed-on", "0001-01-01", "--result", "pass"),
        "--performed-on",
    ),
    "due in the year 9999": (
        (
            "calibrations",
            "add",
            "DUT-1",
            "--performed-on",
            "2026-11-01",
            "--result",
            "pass",
            "--next-due",
            FAR,
            "--next-due-reason",
            "far",
        ),
        "--next-due",
    ),
    "an endless busy timeout": (("--busy-timeout", "inf", "instruments", "list"), "--busy-timeout"),
    "a busy timeout that is not a number": (
        ("--busy-timeout", "nan", "instruments", "list"),
        "--busy-timeout",
    ),
    "an endless wait": (("--wait", "inf", "instruments", "list"), "--wait"),
    "an endless watch": (("lock", "status", "--watch", "inf"), "--watch"),
    "an enormous range of lines to leave out": (
        ("import", "instruments", "i.csv", "--dry-run", "--exclude-line", "1-99999999999999999"),
        "--exclude-line",
    ),
    "a huge header line": (
        ("import", "instruments", "i.csv", "--dry-run", "--header-line", HUGE),
        "--header-line",
    ),
}


@dataclass(frozen=True)
class Run:
    db: Path | str
    before: tuple[int, int, int, int, str | None]
    result: subprocess.CompletedProcess[str]


def _files(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "i.csv").write_text(
        "Asset tag,Description,Interval days,Grace days,Last calibrated\n"
        "STD-1,Reference,365,10,2026-01-01\nDUT-1,Device,365,0,2026-01-01\n",
        encoding="utf-8",
    )
    (folder / "f.txt").write_text("certificate\n", encoding="utf-8")


def _make_lab(folder: Path) -> Path:
    _files(folder)
    db = folder / "lab.db"
    assert run_cli(db, "init").returncode == 0
    made = run_cli(db, "import", "instruments", "i.csv")
    assert made.returncode == 0, made.stderr
    return db


def _copy(source: Path, target: Path) -> Path:
    """A consistent copy through the backup API (never a file copy of a WAL database)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend of this half of the module (its databases are made once a half)."""
    return str(request.param)


@pytest.fixture(scope="module")
def runs(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[dict[str, Run]]:
    root = tmp_path_factory.mktemp("bounds")
    names = list(BAD_COMMANDS)
    dbs: list[Path | str] = []
    server: PgServer | None = None
    if backend == "sqlite":
        first = _make_lab(root / "source")
        for number in range(len(names)):
            _files(root / f"case{number}")
            dbs.append(_copy(first, root / f"case{number}" / "lab.db"))
    else:
        server = request.getfixturevalue("pg_server")
        source = _make_server_lab(server, root / "source")
        for number in range(len(names)):
            _files(root / f"case{number}")
            copy = server.new_database("bounds", template=server.database_name(source))
            dbs.append(ServerUrl(copy, root / f"case{number}" / "state"))
    before = [fingerprint(db) for db in dbs]
    results = side_by_side(
        lambda i: run_cli(dbs[i], *BAD_COMMANDS[names[i]][0]), list(range(len(names)))
    )
    yield {name: Run(dbs[i], before[i], results[i]) for i, name in enumerate(names)}
    if server is not None:
        for db in [source, *dbs]:
            server.drop_database(str(db))


def _make_server_lab(server: PgServer, folder: Path) -> ServerUrl:
    """The small lab on a server database, made through the CLI as on a file."""
    _files(folder)
    db = ServerUrl(server.new_database("bounds"), folder / "state")
    assert run_cli(db, "init").returncode == 0
    made = run_cli(db, "import", "instruments", "i.csv")
    assert made.returncode == 0, made.stderr
    return db


@pytest.mark.parametrize("case", list(BAD_COMMANDS))
def test_out_of_range_input_exits_2_with_one_line(case: str, runs: dict[str, Run]) -> None:
    run = runs[case]
    line = assert_one_error_line(run.result, 2)
    assert BAD_COMMANDS[case][1] in line, line
    assert "internal error" not in line
    assert fingerprint(run.db) == run.before


def test_a_standard_stored_as_due_in_9999_does_not_crash_calibrations(tmp_path: Path) -> None:
    """A database written before the bounds (or by hand) may hold 9999-12-31 already."""
    db = _make_lab(tmp_path)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE instrument SET next_due = ? WHERE asset_tag = 'STD-1'", (FAR,))
    conn.close()
    added = run_cli(
        db,
        "calibrations",
        "add",
        "DUT-1",
        "--performed-on",
        "2026-11-01",
        "--result",
        "pass",
        "--standard",
        "STD-1",
    )
    assert added.returncode == 0, added.stderr
    assert "Traceback" not in added.stderr
