"""Check that the fast paths behind the benchmark numbers give exactly the slow paths' results.

    .venv/bin/python bench/check_fast_paths.py [--instruments 3000]

Run by hand after changing any of them (exit status 1 on a difference):

- ``insert_many`` (the bulk inserts on SQLite): the stored values and their SQLite
  types equal a Core ``insert()`` of the same rows, for demo rows and for awkward ones
  (None dates, ints in float columns, microseconds, left-out columns with defaults,
  non-ASCII text);
- the demo's column-wise JSON: every create event's changes equal
  ``canonical_json(created_row(...))`` (the check that normally covers the first rows of
  each chunk runs on every row), and ``db verify`` finds nothing;
- ``rows_of`` (the list's row building) equals ``row_of`` for every instrument.
"""

from __future__ import annotations

import argparse
import logging
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import app.repositories.instruments as instrument_repo
import app.services.demo_json as demo_json
from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.repositories.instruments import ListQuery
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.instruments import row_of, rows_of

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
IDENTITY = Identity(user="bench", machine="bench-host")
TABLES = ("instrument", "calibration_record", "measurement_point", "calibration_standard")


@contextmanager
def lab(folder: Path, name: str) -> Iterator[CalTrack]:
    with open_caltrack(
        str(folder / f"{name}.db"),
        create=True,
        identity=IDENTITY,
        clock=FixedClock(NOW),
        state_dir=folder / f"{name}-state",
    ) as app:
        yield app


@contextmanager
def core_inserts_only() -> Iterator[None]:
    """Every bulk insert through SQLAlchemy Core (the reference)."""
    saved = instrument_repo.BULK_MIN_ROWS
    instrument_repo.BULK_MIN_ROWS = sys.maxsize
    try:
        yield
    finally:
        instrument_repo.BULK_MIN_ROWS = saved


def stored(path: Path, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables, each value beside its SQLite storage type."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with closing(sqlite3.connect(path)) as conn:
        for table in tables:
            columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
            select = ", ".join(f'"{c}", typeof("{c}")' for c in columns)
            found[table] = conn.execute(f"SELECT {select} FROM {table} ORDER BY rowid").fetchall()
    return found


def awkward_rows(now: datetime) -> tuple[list[dict[str, Any]], ...]:
    """Rows that take every branch of the conversion: None dates, ints for floats, …"""
    instruments = [
        {
            "id": 90_000 + i,
            "asset_tag": f"ÄX-{i}",
            "asset_tag_key": f"ÄX-{i}",
            "description": "Prüfgerät ±0,5 °C" if i % 2 else "",
            "calibration_interval_days": 30 + i,
            "status": "in_service",
            "last_calibrated": None if i % 3 == 0 else date(2020 + i % 5, 1 + i % 12, 1 + i % 28),
            "next_due": None if i % 4 == 0 else date(987 + i, 6, 5),
            "search_text": f"äx-{i}",
            "created_at": now,
            "created_by": "bench",
            "updated_at": now.replace(microsecond=i),
            "updated_by": "bench",
            "version": 1,
        }
        for i in range(100)
    ]
    records = [
        {
            "id": 90_000 + i,
            "instrument_id": 90_000 + i,
            "performed_on": date(2025, 1 + i % 12, 1 + i % 28),
            "performed_by": "B. Okafor",
            "result": ("pass", "fail", "adjusted")[i % 3],
            "temperature_c": 21 if i % 2 else 20.5,  # an int in a float column
            "humidity_pct": None,
            "adjustment_made": i % 3 == 2,
            "next_due": None if i % 5 == 0 else date(2026, 1 + i % 12, 1),
            "voided_at": None if i % 2 else now.replace(microsecond=0),
            "voided_by": None if i % 2 else "bench",
            "void_reason": None if i % 2 else "entered twice",
            "created_at": now,
            "created_by": "bench",
            "updated_at": now,
            "updated_by": "bench",
            "version": 2,
        }
        for i in range(100)
    ]
    points = [
        {
            "id": 90_000 + i,
            "record_id": 90_000 + i // 3,
            "seq": i % 3 + 1,
            "nominal": i,  # ints for floats again
            "as_found": None if i % 7 == 0 else i + 0.25,
            "as_left": i + 0.125,
            "tolerance": 8,
            "unit": "µL",
        }
        for i in range(270)
    ]
    return instruments, records, points


def check_inserts(folder: Path) -> list[str]:
    problems: list[str] = []
    made: dict[str, Path] = {}
    for name, context in (("raw", None), ("core", core_inserts_only)):
        with lab(folder, f"inserts-{name}") as app:
            if context is None:
                app.demo.generate(300, seed=2)
            else:
                with context():
                    app.demo.generate(300, seed=2)
            rows = awkward_rows(NOW.replace(tzinfo=None))

            def write(uow: UnitOfWork, rows: tuple[list[dict[str, Any]], ...] = rows) -> None:
                uow.instruments.bulk_insert(rows[0])
                uow.calibrations.bulk_insert(rows[1], rows[2], [])

            if context is None:
                UnitOfWorkFactory(app.database).write(write)
            else:
                with context():
                    UnitOfWorkFactory(app.database).write(write)
            made[name] = app.database.path or Path()
    raw, core = stored(made["raw"], TABLES), stored(made["core"], TABLES)
    for table in TABLES:
        if raw[table] != core[table]:
            pairs = zip(raw[table], core[table], strict=False)
            first = next(((a, b) for a, b in pairs if a != b), (len(raw[table]), len(core[table])))
            problems.append(f"insert_many differs from Core in {table}: {first}")
    return problems


class Warnings(logging.Handler):
    """The warnings a logger gives while it is attached (a fast path that fell back)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def check_demo(folder: Path, instruments: int) -> list[str]:
    problems: list[str] = []
    saved = demo_json.JSON_CHECKS
    demo_json.JSON_CHECKS = sys.maxsize  # compare every row's JSON with canonical_json
    fell_back = Warnings()
    demo_json.log.addHandler(fell_back)
    try:
        with lab(folder, "demo") as app:
            app.demo.generate(instruments, seed=7)
            if fell_back.messages:
                return fell_back.messages
            report = app.maintenance.verify()
            problems += [f"db verify: {p}" for p in report.problems]
            problems += check_rows(app)
    finally:
        demo_json.log.removeHandler(fell_back)
        demo_json.JSON_CHECKS = saved
    return problems


def check_rows(app: CalTrack) -> list[str]:
    today = NOW.date()
    query = ListQuery(limit=None, sort="asset_tag")

    def read(uow: UnitOfWork) -> list[str]:
        rows = uow.instruments.list_rows(query, today, today)
        fast = rows_of(rows, today, 30)
        slow = [row_of(r, today, 30) for r in rows]
        return [] if fast == slow else ["rows_of differs from row_of"]

    return UnitOfWorkFactory(app.database).read(read)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--instruments", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="caltrack-check-") as tmp:
        folder = Path(tmp)
        problems = check_inserts(folder) + check_demo(folder, args.instruments)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print("fast paths agree with the slow ones" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
