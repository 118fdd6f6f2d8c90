"""Foundation benchmark: CalTrack beside plain ``sqlite3`` on the same data, same run.

Run by hand (not in CI) from the project folder::

    .venv/bin/python bench/bench_foundation.py                 # 100k instruments
    .venv/bin/python bench/bench_foundation.py --quick         # 5k, fewer repeats
    .venv/bin/python bench/bench_foundation.py --instruments 20000 --keep

CalTrack is driven through its composition root (``open_caltrack``) and its services,
exactly as the GUI and the CLI use it. The baseline does the same work with the
standard library's ``sqlite3`` and hand-written SQL: same schema and indexes, same
journal mode and ``synchronous`` setting, and for the reads the very same database
file. See ``bench/README.md`` for what each line compares and the last measured table.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.services.dto import InstrumentChanges
from app.services.snapshots import RECORD_AUDITED

# A fixed "now" makes the demo data (and so every timing) the same from run to run.
BENCH_NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
IDENTITY = Identity(user="bench", machine="bench-host")
DUE_SOON_DAYS = 30  # CalTrack's default, read from meta by the app
SEARCH = "fluke 87"
PAGE = 100
CHUNK = 2000  # instruments per executemany batch in the baseline, as in the demo service


# -- measurement helpers ----------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a line must meet: a ratio to the baseline, an absolute time, or nothing."""

    ratio: float | None = None
    seconds: float | None = None

    def describe(self) -> str:
        if self.ratio is not None:
            return f"≤ {self.ratio:g}× baseline"
        if self.seconds is not None:
            return f"< {format_seconds(self.seconds)}"
        return "(report only)"

    def met(self, caltrack_s: float, baseline_s: float) -> str:
        if self.ratio is not None:
            return "yes" if caltrack_s <= self.ratio * baseline_s else "NO"
        if self.seconds is not None:
            return "yes" if caltrack_s < self.seconds else "NO"
        return "-"


@dataclass(frozen=True)
class Result:
    """One line of the table."""

    operation: str
    caltrack_s: float
    baseline_s: float
    target: Target
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.caltrack_s / self.baseline_s if self.baseline_s > 0 else float("inf")


def format_seconds(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.1f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1_000_000:.0f} µs"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@dataclass(frozen=True)
class Pair:
    """Both sides' medians, and how long each side's very first call took."""

    caltrack_s: float
    baseline_s: float
    first_caltrack_s: float
    first_baseline_s: float

    def first_note(self) -> str:
        return (
            f"first call {format_seconds(self.first_caltrack_s)} "
            f"(baseline {format_seconds(self.first_baseline_s)})"
        )


def median_pair(
    caltrack: Callable[[], object],
    baseline: Callable[[], object],
    repeats: int,
    warmups: int,
) -> Pair:
    """Medians of ``repeats`` runs each, after ``warmups`` unmeasured runs each.

    The two sides alternate so that drift (page cache, other load) hits both alike. The
    warm-up is what steady use looks like: CalTrack's pool hands out its connections in
    turn, each with its own page cache and prepared statements, and Python specialises
    code after a few runs; the very first calls are reported apart.
    """
    first_ours, first_theirs = timed(caltrack), timed(baseline)
    for _ in range(warmups - 1):
        caltrack()
        baseline()
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(repeats):
        ours.append(timed(caltrack))
        theirs.append(timed(baseline))
    return Pair(statistics.median(ours), statistics.median(theirs), first_ours, first_theirs)


def peak_rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return usage / (1024 * 1024) if sys.platform == "darwin" else usage / 1024


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the baseline: plain sqlite3 ---------------------------------------------------------


class Rows(Protocol):
    """What the baseline reads from a cursor (sqlite3's, or psycopg's in bench_server)."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class SqlConnection(Protocol):
    """The part of ``sqlite3.Connection`` the baseline uses: ``?`` marks, ``BEGIN mode``.

    ``bench_server.py`` runs the same baseline code on PostgreSQL through an adapter.
    """

    def execute(self, sql: str, parameters: Any = ..., /) -> Rows: ...

    def executemany(self, sql: str, parameters: Any, /) -> object: ...


# What a CalTrack connection runs with; the baseline connections copy it.
MIRRORED_PRAGMAS = ("journal_mode", "synchronous", "foreign_keys", "cache_size")


def caltrack_pragmas(app: CalTrack) -> dict[str, str]:
    with app.database.engine.connect() as conn:
        return {
            name: str(conn.exec_driver_sql(f"PRAGMA {name}").scalar_one())
            for name in MIRRORED_PRAGMAS
        }


def connect_plain(path: Path, pragmas: dict[str, str]) -> sqlite3.Connection:
    """A stdlib connection set up like CalTrack's: journal, durability, FKs, cache."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=5000")
    for name in MIRRORED_PRAGMAS:
        conn.execute(f"PRAGMA {name}={pragmas[name]}")
    return conn


@contextmanager
def transaction(conn: SqlConnection, mode: str = "DEFERRED") -> Iterator[None]:
    conn.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def copy_schema(source: Path, target: sqlite3.Connection) -> None:
    """The same tables and indexes as the CalTrack database (so the same index upkeep)."""
    with closing(sqlite3.connect(source)) as src:
        rows = src.execute(
            "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL "
            "AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index', rowid"
        ).fetchall()
    with transaction(target, "IMMEDIATE"):
        for _kind, sql in rows:
            target.execute(sql)


@dataclass(frozen=True)
class DemoCounts:
    instruments: int
    calibrations: int
    points: int
    standards: int
    oot_cases: int = 0


MAKERS = (
    ("TH", "Digital thermometer", "Fluke", "1524", "°C"),
    ("BAL", "Analytical balance", "Mettler Toledo", "XPR205", "g"),
    ("PIP", "Adjustable pipette", "Eppendorf", "Research plus 100", "µL"),
    ("PG", "Pressure gauge", "WIKA", "CPG1500", "bar"),
    ("MM", "Digital multimeter", "Fluke", "87V", "V"),
    ("CAL", "Digital caliper", "Mitutoyo", "500-196-30", "mm"),
    ("PH", "pH meter", "Hanna", "HI5221", "pH"),
    ("HYG", "Thermo-hygrometer", "Vaisala", "HM40", "%RH"),
    ("TW", "Torque wrench", "Norbar", "TTi 60", "N·m"),
    ("TMR", "Stopwatch", "Extech", "HW30", "s"),
)
PLACES = ("Lab 1.01", "Lab 2.03", "Metrology room", "Production line A", "QC stores")
PEOPLE = ("A. Novak", "B. Okafor", "C. Lindqvist", "Trescal", "Transcat")


class PlainAudit:
    """A hash-chained audit row writer for the baseline (what a plain app would need)."""

    def __init__(self, now: str) -> None:
        self.now = now
        self.next_id = 1
        self.prev = "0" * 64
        self.rows: list[tuple[Any, ...]] = []

    def add(self, entity: str, entity_id: int, label: str, values: dict[str, Any]) -> None:
        changes = json.dumps(
            {k: [None, v] for k, v in values.items()}, sort_keys=True, ensure_ascii=False
        )
        digest = hashlib.sha256(
            (self.prev + f"{self.next_id}|{entity}|{entity_id}|{changes}").encode()
        ).hexdigest()
        self.rows.append(
            (
                self.next_id,
                self.now,
                IDENTITY.user,
                IDENTITY.machine,
                entity,
                entity_id,
                label,
                "create",
                changes,
                "demo data",
                self.prev,
                digest,
            )
        )
        self.next_id += 1
        self.prev = digest


INSERT_INSTRUMENT = (
    "INSERT INTO instrument (id, asset_tag, asset_tag_key, description, manufacturer, model, "
    "serial_number, firmware_version, category, location, owner, status, "
    "calibration_interval_days, grace_days, range_text, resolution_text, accuracy_text, "
    "last_calibrated, next_due, notes, search_text, created_at, created_by, updated_at, "
    "updated_by, version) VALUES (" + ",".join("?" * 26) + ")"
)
# The record's audited fields (the app's own list: a field added there is filled and
# audited here too), then its stamps.
RECORD_INSERT_COLUMNS = (
    "id",
    *RECORD_AUDITED,
    "created_at",
    "created_by",
    "updated_at",
    "updated_by",
    "version",
)
INSERT_RECORD = (
    f"INSERT INTO calibration_record ({', '.join(RECORD_INSERT_COLUMNS)}) "
    f"VALUES ({','.join('?' * len(RECORD_INSERT_COLUMNS))})"
)
# The baseline writes the record fields in this order; the app must still audit these.
BASELINE_RECORD_FIELDS = (
    "instrument_id",
    "performed_on",
    "performed_by",
    "provider_kind",
    "provider_name",
    "certificate_number",
    "temperature_c",
    "humidity_pct",
    "result",
    "adjustment_made",
    "uncertainty",
    "next_due",
    "notes",
    "standards_justification",
    "supersedes_id",
    "decision_rule",
    "tur_justification",
    "voided_at",
    "voided_by",
    "void_reason",
)
assert RECORD_AUDITED == BASELINE_RECORD_FIELDS, (
    "the app audits other record fields now: update baseline_generate to fill them"
)
INSERT_POINT = (
    "INSERT INTO measurement_point (id, record_id, seq, nominal, as_found, as_left, tolerance, "
    "unit) VALUES (?,?,?,?,?,?,?,?)"
)
INSERT_STANDARD = "INSERT INTO calibration_standard (record_id, standard_id) VALUES (?,?)"
INSERT_AUDIT = (
    'INSERT INTO audit_event (id, occurred_at, "user", machine, entity_type, entity_id, '
    "entity_label, action, changes, reason, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
)


def baseline_generate(conn: SqlConnection, counts: DemoCounts, today: date) -> None:
    """Insert as many rows per table as CalTrack's demo did, in one transaction.

    Comparable content: every column filled, one audit row (JSON of the values, sha256
    chained) per instrument and per calibration record. Rows are spread evenly: instrument
    ``i`` gets the records up to ``i * R // I``, and the points are split evenly over them.
    The cycle collector is paused meanwhile, as CalTrack's demo pauses it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        _baseline_generate(conn, counts, today)
    finally:
        if was_enabled:
            gc.enable()


def _baseline_generate(conn: SqlConnection, counts: DemoCounts, today: date) -> None:
    rng = random.Random(1)
    now = BENCH_NOW.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    audit = PlainAudit(now)
    n_inst, n_rec, n_pts, n_std = (
        counts.instruments,
        counts.calibrations,
        counts.points,
        counts.standards,
    )
    rec_id = pt_id = 1
    std_left = n_std
    # Records that get an out-of-tolerance case, spread evenly (CalTrack opens one for
    # each failed latest calibration), and the case ids handed out so far.
    n_oot = counts.oot_cases
    oot_records = {1 + k * n_rec // n_oot for k in range(n_oot)} if n_oot else set()
    case_id = 0
    with transaction(conn, "IMMEDIATE"):
        for start in range(1, n_inst + 1, CHUNK):
            inst_rows: list[tuple[Any, ...]] = []
            rec_rows: list[tuple[Any, ...]] = []
            pt_rows: list[tuple[Any, ...]] = []
            std_rows: list[tuple[int, int]] = []
            rec_audit: list[tuple[int, str, dict[str, Any]]] = []
            oot_found: list[tuple[int, int, str, str]] = []
            for iid in range(start, min(start + CHUNK, n_inst + 1)):
                prefix, desc, maker, model, unit = MAKERS[rng.randrange(len(MAKERS))]
                tag = f"{prefix}-{iid:06d}"
                serial = f"{maker[:2].upper()}{rng.randint(100000, 999999)}"
                last = today - timedelta(days=rng.randint(0, 480))
                due = last + timedelta(days=365)
                values: dict[str, Any] = {
                    "asset_tag": tag,
                    "description": desc,
                    "manufacturer": maker,
                    "model": model,
                    "serial_number": serial,
                    "firmware_version": "1.2.0",
                    "category": desc,
                    "location": rng.choice(PLACES),
                    "owner": "Metrology",
                    "status": "in_service" if rng.random() < 0.95 else "out_of_service",
                    "calibration_interval_days": 365,
                    "grace_days": 0,
                    "range_text": f"0 to 100 {unit}",
                    "resolution_text": f"0.01 {unit}",
                    "accuracy_text": f"±0.1 {unit}",
                    "last_calibrated": last.isoformat(),
                    "next_due": due.isoformat(),
                    "notes": "",
                }
                search = " ".join((tag, desc, serial, maker, model)).casefold()
                columns = list(values.values())  # asset_tag … notes, in table order
                inst_rows.append(
                    (iid, tag, *columns, search, now, IDENTITY.user, now, IDENTITY.user, 1)
                )
                audit_values = values
                rec_end = (iid * n_rec) // n_inst + 1  # records of this instrument end here
                while rec_id < rec_end:
                    performed = last - timedelta(days=365 * (rec_end - 1 - rec_id))
                    result = "pass" if rng.random() < 0.9 else "adjusted"
                    audited = (  # in RECORD_AUDITED's order (checked at import)
                        iid,
                        performed.isoformat(),
                        rng.choice(PEOPLE),
                        "in_house",
                        "",
                        f"C{performed.year}-{rec_id:07d}",
                        round(rng.uniform(19.0, 23.0), 1),
                        round(rng.uniform(35.0, 55.0), 1),
                        result,
                        result == "adjusted",  # a bool: sqlite3 stores 1, as CalTrack
                        f"±0.025 {unit} (k=2)",
                        (performed + timedelta(days=365)).isoformat(),
                        "",
                        "",
                        None,
                        "simple",  # decision_rule: simple acceptance, the default
                        "",  # tur_justification
                        None,
                        None,
                        None,
                    )
                    rec = (rec_id, *audited, now, IDENTITY.user, now, IDENTITY.user, 1)
                    rec_rows.append(rec)
                    points: list[list[Any]] = []
                    pt_end = (rec_id * n_pts) // n_rec + 1
                    seq = 1
                    while pt_id < pt_end:
                        nominal = 10.0 * seq
                        found = round(nominal + rng.uniform(-0.08, 0.08), 4)
                        pt_rows.append((pt_id, rec_id, seq, nominal, found, found, 0.1, unit))
                        points.append([seq, nominal, found, found, 0.1, unit])
                        pt_id += 1
                        seq += 1
                    standards: list[int] = []
                    if std_left > 0 and (iid > 1 or rec_id > 1):
                        standard = rng.randint(1, max(1, start - 1)) if start > 1 else 1
                        std_rows.append((rec_id, standard))
                        standards.append(standard)
                        std_left -= 1
                    snap: dict[str, Any] = dict(zip(RECORD_AUDITED, audited, strict=True))
                    snap["points"] = points
                    snap["standards"] = standards
                    rec_audit.append((rec_id, f"{tag} #{rec_id}", snap))
                    if rec_id in oot_records:
                        oot_found.append((rec_id, iid, performed.isoformat(), tag))
                    rec_id += 1
                audit.add("instrument", iid, tag, audit_values)
            for rid, label, snap in rec_audit:
                audit.add("calibration", rid, label, snap)
            conn.executemany(INSERT_INSTRUMENT, inst_rows)
            conn.executemany(INSERT_RECORD, rec_rows)
            conn.executemany(INSERT_POINT, pt_rows)
            conn.executemany(INSERT_STANDARD, std_rows)
            case_id = plain_oot_cases(conn, audit, oot_found, case_id, now)
            conn.executemany(INSERT_AUDIT, audit.rows)
            audit.rows = []


INSERT_OOT = (
    "INSERT INTO oot_case (id, instrument_id, record_id, status, found_on, last_good_on, "
    "summary, impact_assessment, disposition, affected_snapshot, returned_to_service, "
    "closed_at, closed_by, created_at, created_by, updated_at, updated_by, version) "
    "VALUES (" + ",".join("?" * 18) + ")"
)


def plain_oot_cases(
    conn: SqlConnection,
    audit: PlainAudit,
    found: list[tuple[int, int, str, str]],
    case_id: int,
    now: str,
) -> int:
    """One case per chosen record, as CalTrack opens them: the instrument's history
    (records, points, standards) read back to find its last good calibration, the case
    row, its audit event. Returns the last case id."""
    rows: list[tuple[Any, ...]] = []
    for rec_id, iid, performed, tag in found:
        history = conn.execute(
            "SELECT id, performed_on, result FROM calibration_record WHERE instrument_id = ? "
            "ORDER BY performed_on DESC, id DESC",
            (iid,),
        ).fetchall()
        ids = [r[0] for r in history]
        marks = ",".join("?" * len(ids))
        conn.execute(
            f"SELECT record_id, seq, as_left, nominal, tolerance FROM measurement_point "
            f"WHERE record_id IN ({marks})",
            ids,
        ).fetchall()
        conn.execute(
            f"SELECT record_id, standard_id FROM calibration_standard WHERE record_id IN ({marks})",
            ids,
        ).fetchall()
        # str(): sqlite3 returns the ISO text, psycopg (bench_server.py) a date.
        last_good = next(
            (
                str(on)
                for rid, on, result in history
                if rid != rec_id and str(on) < performed and result != "fail"
            ),
            None,
        )
        case_id += 1
        summary = "As found out of tolerance at 3 of 3 points; result fail"
        values: dict[str, Any] = {
            "instrument_id": iid,
            "record_id": rec_id,
            "status": "open",
            "found_on": performed,
            "last_good_on": last_good,
            "summary": summary,
            "impact_assessment": "",
            "disposition": "",
            "affected_snapshot": "",
            "returned_to_service": False,
            "closed_at": None,
            "closed_by": None,
        }
        rows.append((case_id, *values.values(), now, IDENTITY.user, now, IDENTITY.user, 1))
        audit.add("oot_case", case_id, f"OOT-{case_id} {tag}", values)
    conn.executemany(INSERT_OOT, rows)
    return case_id


LIST_SQL = (
    "SELECT id, asset_tag, description, manufacturer, model, serial_number, location, status, "
    "calibration_interval_days, last_calibrated, next_due, version FROM instrument "
    "{where} ORDER BY next_due ASC, id ASC LIMIT ? OFFSET ?"
)
COUNT_SQL = "SELECT count(*) FROM instrument {where}"
OVERDUE_WHERE = "WHERE status = 'in_service' AND (next_due < ? OR next_due IS NULL)"
STATUS_COUNTS_SQL = """
SELECT
  coalesce(sum(CASE WHEN status = 'in_service' AND next_due > :until THEN 1 ELSE 0 END), 0),
  coalesce(sum(CASE WHEN status = 'in_service' AND next_due >= :today
                     AND next_due <= :until THEN 1 ELSE 0 END), 0),
  coalesce(sum(CASE WHEN status = 'in_service' AND (next_due < :today OR next_due IS NULL)
                THEN 1 ELSE 0 END), 0),
  coalesce(sum(CASE WHEN status = 'out_of_service' THEN 1 ELSE 0 END), 0),
  coalesce(sum(CASE WHEN status = 'retired' THEN 1 ELSE 0 END), 0),
  coalesce(sum(CASE WHEN status = 'lost' THEN 1 ELSE 0 END), 0)
FROM instrument
"""


def like_term(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class PlainReads:
    """The list queries of CalTrack written by hand: page plus total, in one snapshot."""

    def __init__(self, conn: SqlConnection, today: date) -> None:
        self.conn = conn
        self.day = today
        self.today = today.isoformat()
        self.until = (today + timedelta(days=DUE_SOON_DAYS)).isoformat()

    def soon_until(self) -> str:
        """The due-soon horizon from the shared setting, as CalTrack reads it each time."""
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'due_soon_days'").fetchone()
        days = int(row[0]) if row else DUE_SOON_DAYS
        return (self.day + timedelta(days=days)).isoformat()

    def page(self, where: str, params: Sequence[Any], limit: int) -> tuple[list[Any], int]:
        with transaction(self.conn):
            self.until = self.soon_until()
            rows = self.conn.execute(LIST_SQL.format(where=where), (*params, limit, 0)).fetchall()
            total = self.conn.execute(COUNT_SQL.format(where=where), params).fetchone()[0]
        return rows, int(total)

    def first_page(self) -> tuple[list[Any], int]:
        return self.page("", (), PAGE)

    def search(self, text: str) -> tuple[list[Any], int]:
        terms = text.casefold().split()
        where = "WHERE " + " AND ".join("search_text LIKE ? ESCAPE '\\'" for _ in terms)
        return self.page(where, [like_term(t) for t in terms], PAGE)

    def overdue(self) -> int:
        """The COUNT(*) alone (CalTrack's list also reads the setting and one row)."""
        row = self.conn.execute(COUNT_SQL.format(where=OVERDUE_WHERE), (self.today,)).fetchone()
        return int(row[0])

    def status_counts(self) -> tuple[tuple[int, ...], int]:
        with transaction(self.conn):
            self.until = self.soon_until()
            row = self.conn.execute(
                STATUS_COUNTS_SQL, {"today": self.today, "until": self.until}
            ).fetchone()
            total = self.conn.execute("SELECT count(id) FROM instrument").fetchone()[0]
        return tuple(row), int(total)


def plain_edit(conn: SqlConnection, tag: str, version: int, location: str) -> None:
    """UPDATE with the version check plus one audit row, in one write transaction."""
    now = datetime.now(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    with transaction(conn, "IMMEDIATE"):
        row = conn.execute(
            "UPDATE instrument SET location = ?, version = version + 1, updated_at = ?, "
            "updated_by = ? WHERE asset_tag_key = ? AND version = ? RETURNING id",
            (location, now, IDENTITY.user, tag.upper(), version),
        ).fetchone()
        if row is None:
            raise RuntimeError(f"baseline edit of {tag} found no row at version {version}")
        changes = json.dumps({"location": ["?", location]})
        conn.execute(
            'INSERT INTO audit_event (occurred_at, "user", machine, entity_type, entity_id, '
            "entity_label, action, changes, reason, prev_hash, hash) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                now,
                IDENTITY.user,
                IDENTITY.machine,
                "instrument",
                row[0],
                tag,
                "update",
                changes,
                "",
                "0" * 64,
                uuid.uuid4().hex + uuid.uuid4().hex,
            ),
        )


def plain_verify(conn: sqlite3.Connection) -> int:
    rows = conn.execute("PRAGMA integrity_check").fetchall()
    problems = 0 if [r[0] for r in rows] == ["ok"] else len(rows)
    return problems + len(conn.execute("PRAGMA foreign_key_check").fetchall())


# -- the run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    instruments: int
    repeats: int
    warmups: int
    edits: int
    folder: Path
    keep: bool


def wal_mb(db: Path) -> int:
    wal = db.with_name(db.name + "-wal")
    return wal.stat().st_size >> 20 if wal.exists() else 0


def sample_instruments(path: Path, how_many: int) -> list[tuple[str, int, str]]:
    """(tag, version, location) of instruments spread over the whole table."""
    with closing(sqlite3.connect(path)) as conn:
        total = conn.execute("SELECT max(id) FROM instrument").fetchone()[0] or 0
        step = max(1, total // (how_many + 1))
        rows = conn.execute(
            "SELECT asset_tag, version, location FROM instrument WHERE id % ? = 0 "
            "ORDER BY id LIMIT ?",
            (step, how_many),
        ).fetchall()
    return [(str(t), int(v), str(loc)) for t, v, loc in rows]


def read_lines(app: CalTrack, reads: PlainReads, repeats: int, warmups: int) -> list[Result]:
    """The read lines (first page, search, overdue, status counts), each beside the
    baseline's same query on the same data, and checked to find the same rows."""
    results: list[Result] = []
    page = median_pair(
        lambda: app.instruments.list(sort="next_due", limit=PAGE),
        lambda: reads.first_page(),
        repeats,
        warmups,
    )
    results.append(
        Result(
            "list: first page (100) by next due + total",
            page.caltrack_s,
            page.baseline_s,
            Target(ratio=3.0),
            page.first_note(),
        )
    )
    ct_page = app.instruments.list(sort="next_due", limit=PAGE)
    base_rows, base_total = reads.first_page()
    check_same(
        "first page",
        [r.asset_tag for r in ct_page.rows],
        [r[1] for r in base_rows],
        ct_page.total,
        base_total,
    )

    search = median_pair(
        lambda: app.instruments.list(search=SEARCH, limit=PAGE),
        lambda: reads.search(SEARCH),
        repeats,
        warmups,
    )
    ct_found = app.instruments.list(search=SEARCH, limit=PAGE)
    base_found, base_found_total = reads.search(SEARCH)
    check_same(
        "search",
        [r.asset_tag for r in ct_found.rows],
        [r[1] for r in base_found],
        ct_found.total,
        base_found_total,
    )
    results.append(
        Result(
            f"list: search {SEARCH!r} ({ct_found.total:,} found) + total",
            search.caltrack_s,
            search.baseline_s,
            Target(ratio=3.0),
            search.first_note(),
        )
    )

    overdue = median_pair(
        lambda: app.instruments.list(status="overdue", limit=1).total,
        lambda: reads.overdue(),
        repeats,
        warmups,
    )
    ct_overdue = app.instruments.list(status="overdue", limit=1).total
    check_same("overdue", [], [], ct_overdue, reads.overdue())
    results.append(
        Result(
            f"overdue count ({ct_overdue:,}) via list(status=overdue)",
            overdue.caltrack_s,
            overdue.baseline_s,
            Target(ratio=3.0),
            f"CalTrack also fetches 1 row; {overdue.first_note()}",
        )
    )

    by_status = median_pair(
        lambda: app.instruments.status_counts(),
        lambda: reads.status_counts(),
        repeats,
        warmups,
    )
    ct_counts = app.instruments.status_counts()
    base_counts, base_all = reads.status_counts()
    check_same(
        "status counts",
        [ct_counts[k] for k in ("ok", "due-soon", "overdue", "out-of-service")],
        list(base_counts[:4]),
        ct_counts["all"],
        base_all,
    )
    results.append(
        Result(
            "status counts (6 filters + all)",
            by_status.caltrack_s,
            by_status.baseline_s,
            Target(ratio=3.0),
            by_status.first_note(),
        )
    )
    return results


def run(settings: Settings) -> list[Result]:
    results: list[Result] = []
    clock = FixedClock(BENCH_NOW)
    today = clock.today()
    ct_path = settings.folder / "caltrack.db"
    plain_path = settings.folder / "baseline.db"
    n = settings.instruments

    app: CalTrack = open_caltrack(str(ct_path), create=True, identity=IDENTITY, clock=clock)
    try:
        pragmas = caltrack_pragmas(app)
        log(f"CalTrack database {ct_path}; both sides run with {pragmas}")

        # 1. demo generation ------------------------------------------------------------
        log(f"CalTrack: generating {n:,} demo instruments …")
        t0, cpu0 = time.perf_counter(), time.process_time()
        counts = app.demo.generate(n)
        ct_gen = time.perf_counter() - t0
        ct_gen_cpu = time.process_time() - cpu0
        with closing(sqlite3.connect(ct_path)) as probe:
            row = probe.execute("SELECT count(*) FROM calibration_standard").fetchone()
        standards = int(row[0])
        demo = DemoCounts(
            n, counts["calibrations"], counts["points"], standards, counts.get("oot_cases", 0)
        )
        log(
            f"  {ct_gen:.1f} s (CPU {ct_gen_cpu:.1f} s): {demo.instruments:,} instruments, "
            f"{demo.calibrations:,} calibrations, {demo.points:,} points, "
            f"{demo.standards:,} standards"
        )
        plain = connect_plain(plain_path, pragmas)
        copy_schema(ct_path, plain)
        log("baseline: inserting the same numbers of rows with sqlite3 executemany …")
        cpu0 = time.process_time()
        base_gen = timed(lambda: baseline_generate(plain, demo, today))
        log(f"  {base_gen:.1f} s (CPU {time.process_time() - cpu0:.1f} s)")
        results.append(
            Result(
                f"demo data: {n:,} instruments, {demo.calibrations:,} calibrations",
                ct_gen,
                base_gen,
                Target(seconds=60.0),
                "one transaction, audit rows included",
            )
        )

        # 2. reads on the same file ------------------------------------------------------
        reads_conn = connect_plain(ct_path, pragmas)
        reads = PlainReads(reads_conn, today)
        log(
            f"reads: {settings.warmups} warm-up runs, then {settings.repeats} repeats each, medians"
        )

        results += read_lines(app, reads, settings.repeats, settings.warmups)

        # 3. audited edits ---------------------------------------------------------------
        log(f"edits: {settings.edits} audited edits each, medians (WAL {wal_mb(ct_path)} MB)")
        ct_targets = sample_instruments(ct_path, settings.edits)
        base_targets = sample_instruments(plain_path, settings.edits)
        ct_times: list[float] = []
        base_times: list[float] = []
        for i, ((tag, version, _loc), (btag, bversion, _bloc)) in enumerate(
            zip(ct_targets, base_targets, strict=False)
        ):
            where = f"Bench room {i}"
            changes = InstrumentChanges(location=where)
            ct_times.append(
                timed(partial(app.instruments.edit, tag, changes, expected_version=version))
            )
            base_times.append(timed(partial(plain_edit, plain, btag, bversion, where)))
        edited = app.instruments.get(ct_targets[0][0])
        if edited.location != "Bench room 0" or edited.version != ct_targets[0][1] + 1:
            raise RuntimeError("CalTrack edit did not land")
        log(
            f"  first edit: CalTrack {format_seconds(ct_times[0])}, baseline "
            f"{format_seconds(base_times[0])}; slowest: CalTrack {format_seconds(max(ct_times))}"
            f", baseline {format_seconds(max(base_times))}; WAL now {wal_mb(ct_path)} MB"
        )
        results.append(
            Result(
                f"audited edit of one instrument (median of {len(ct_times)})",
                statistics.median(ct_times),
                statistics.median(base_times),
                Target(seconds=0.025),
                f"first edit {format_seconds(ct_times[0])} (baseline "
                f"{format_seconds(base_times[0])}), then at most "
                f"{format_seconds(max(ct_times[1:], default=0.0))}",
            )
        )

        # 4. db verify -------------------------------------------------------------------
        log("verify: CalTrack db verify …")
        t0 = time.perf_counter()
        report = app.maintenance.verify()
        ct_verify = time.perf_counter() - t0
        log(f"  {ct_verify:.1f} s, {report.audit_events:,} events, {len(report.problems)} problems")
        for problem in report.problems[:5]:
            log(f"  problem: {problem}")
        base_problems = 0
        t0 = time.perf_counter()
        base_problems = plain_verify(reads_conn)
        base_verify = time.perf_counter() - t0
        log(f"  baseline pragmas {base_verify:.1f} s, {base_problems} problems")
        results.append(
            Result(
                "db verify (CalTrack: + audit chain replay)",
                ct_verify,
                base_verify,
                Target(),
                f"{len(report.problems)} problems; baseline: integrity + FK check",
            )
        )
        reads_conn.close()
        plain.close()
    finally:
        app.close()
    return results


def check_same(what: str, ours: list[Any], theirs: list[Any], total: int, base: int) -> None:
    """The two sides must have computed the same answer, or the comparison is void."""
    if ours != theirs or total != base:
        raise RuntimeError(
            f"{what}: CalTrack and the baseline disagree ({total} vs {base}; "
            f"{ours[:3]} vs {theirs[:3]})"
        )


def print_table(results: list[Result], settings: Settings) -> None:
    headers = ("operation", "CalTrack", "baseline", "ratio", "target", "met?")
    rows = [
        (
            r.operation,
            format_seconds(r.caltrack_s),
            format_seconds(r.baseline_s),
            f"{r.ratio:.2f}×",
            r.target.describe(),
            r.target.met(r.caltrack_s, r.baseline_s),
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print()
    print(
        f"CalTrack foundation benchmark — {settings.instruments:,} instruments, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"SQLAlchemy {sqlalchemy.__version__}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end"
    )
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    notes = [f"- {r.operation}: {r.note}" for r in results if r.note]
    if notes:
        print()
        print("\n".join(notes))


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--instruments", type=int, default=None, help="default 100000")
    parser.add_argument(
        "--quick", action="store_true", help="5,000 instruments and fewer repeats (smoke run)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="runs per read (median)")
    parser.add_argument(
        "--warmups", type=int, default=None, help="unmeasured runs per read before them"
    )
    parser.add_argument("--edits", type=int, default=None, help="edits to time (median)")
    parser.add_argument(
        "--dir", type=Path, default=None, help="folder for the databases (default: a temp one)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    args = parser.parse_args(argv)
    instruments = args.instruments or (5_000 if args.quick else 100_000)
    if instruments < 10:
        parser.error("--instruments must be at least 10")
    folder = Path(tempfile.mkdtemp(prefix="caltrack-bench-", dir=args.dir))
    return Settings(
        instruments=instruments,
        repeats=args.repeats or (3 if args.quick else 15),
        warmups=args.warmups or (2 if args.quick else 10),
        edits=args.edits or (10 if args.quick else 50),
        folder=folder,
        keep=args.keep,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    started = time.perf_counter()
    try:
        results = run(settings)
    finally:
        if settings.keep:
            log(f"databases kept in {settings.folder}")
        else:
            shutil.rmtree(settings.folder, ignore_errors=True)
    print_table(results, settings)
    print()
    print(f"peak RSS: {peak_rss_mb():.0f} MB; wall time {time.perf_counter() - started:.0f} s")
    return 0 if all(r.target.met(r.caltrack_s, r.baseline_s) != "NO" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
