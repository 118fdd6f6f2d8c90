"""Server benchmark: CalTrack on PostgreSQL beside plain ``psycopg`` on the same server.

Run by hand (not in CI) from the project folder; it needs PostgreSQL's server binaries
(Debian's ``postgresql`` package, which ``./run-tests`` installs)::

    .venv/bin/python bench/bench_server.py                   # 100k instruments
    .venv/bin/python bench/bench_server.py --quick           # 10k, fewer repeats and saves
    .venv/bin/python bench/bench_server.py --instruments 20000 --saves 50

It starts a private server of its own (``tests/pg_server.py``: initdb into a temporary
folder, unix socket only) with fsync and synchronous commit ON, because a commit that does
not wait for the disk measures nothing. CalTrack then runs the lines of
``bench_foundation.py`` on a ``postgresql+psycopg://`` URL, and the baseline runs the very
same baseline code and SQL (``bench_foundation``'s, through :class:`QmarkOnPsycopg`) with
psycopg directly, on the same server in the same run. Then the write throughput: 1, 4 and
16 editor processes saving at once, CalTrack beside plain UPDATE+INSERT transactions.
See ``bench/README.md`` for what each line compares and the last measured table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import sqlalchemy
from bench_foundation import (
    BENCH_NOW,
    IDENTITY,
    DemoCounts,
    PlainReads,
    Result,
    Rows,
    Target,
    baseline_generate,
    format_seconds,
    log,
    peak_rss_mb,
    plain_edit,
    read_lines,
    timed,
)

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.repositories.audit import CHAIN_LOCK_KEY
from app.services.dto import CalibrationInput, InstrumentChanges, PointInput

if TYPE_CHECKING:
    from multiprocessing.queues import Queue

    from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parent.parent
WRITERS = (1, 4, 16)


def private_server(parent: Path | None) -> PgServer:
    """A private durable server (fsync on), from the tests' own starter."""
    # tests/ is not an installed package: the project folder goes on the path for it.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.pg_server import start_server

    return start_server(durable=True, parent=parent)


def conninfo(url: str) -> str:
    """psycopg's connection string for a SQLAlchemy ``postgresql+psycopg://`` URL."""
    return sqlalchemy.make_url(url).set(drivername="postgresql").render_as_string(False)


# -- the baseline's SQL on psycopg ------------------------------------------------------

# bench_foundation's baseline speaks sqlite3: "?" marks, ":name" marks and BEGIN modes.
_NAMED = re.compile(r"(?<![:\w]):(\w+)")
# A read is one REPEATABLE READ snapshot and a write READ COMMITTED, as CalTrack's
# transactions are on PostgreSQL (app/db/transactions.py), so the isolation is like for like.
_BEGIN = {
    "BEGIN DEFERRED": "BEGIN ISOLATION LEVEL REPEATABLE READ",
    "BEGIN IMMEDIATE": "BEGIN",
}


class QmarkOnPsycopg:
    """A psycopg connection (autocommit: the baseline says BEGIN itself) that takes
    bench_foundation's sqlite3-style SQL unchanged apart from the parameter marks."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._sql: dict[str, str] = {}

    def _translate(self, sql: str) -> str:
        done = self._sql.get(sql)
        if done is None:
            done = _BEGIN.get(sql) or _NAMED.sub(r"%(\1)s", sql).replace("?", "%s")
            self._sql[sql] = done
        return done

    def execute(self, sql: str, parameters: Any = (), /) -> Rows:
        return self.conn.execute(self._translate(sql), parameters or None)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> object:
        with self.conn.cursor() as cur:
            cur.executemany(self._translate(sql), parameters)
        return None

    def close(self) -> None:
        self.conn.close()


def connect_plain(url: str) -> QmarkOnPsycopg:
    return QmarkOnPsycopg(psycopg.connect(conninfo(url), autocommit=True))


def copy_schema(server: PgServer, source: str, target: str) -> None:
    """The same tables and indexes as CalTrack's database, by ``pg_dump --schema-only``."""
    dump = subprocess.run(
        [str(server.bin / "pg_dump"), "--schema-only", "--no-owner", conninfo(source)],
        capture_output=True,
        text=True,
        check=True,
    )
    # The dump empties search_path for safety; restore it in the baseline's session.
    subprocess.run(
        [str(server.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", conninfo(target)],
        input=dump.stdout,
        capture_output=True,
        text=True,
        check=True,
    )


def set_sequences(conn: QmarkOnPsycopg) -> None:
    """After inserts with explicit ids, each serial's next value follows the highest id."""
    rows = conn.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND column_default LIKE 'nextval(%%'"
    ).fetchall()
    for table, column in rows:
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', '{column}'), "
            f'coalesce(max("{column}"), 0) + 1, false) FROM "{table}"'
        )


def sample_instruments(url: str, how_many: int) -> list[tuple[str, int]]:
    """(tag, version) of instruments spread over the whole table."""
    with psycopg.connect(conninfo(url)) as conn:
        total = conn.execute("SELECT max(id) FROM instrument").fetchone()
        step = max(1, int(total[0] if total and total[0] else 0) // (how_many + 1))
        rows = conn.execute(
            "SELECT asset_tag, version FROM instrument WHERE id %% %s = 0 ORDER BY id LIMIT %s",
            (step, how_many),
        ).fetchall()
    return [(str(t), int(v)) for t, v in rows]


COUNTED = ("instrument", "calibration_record", "measurement_point", "oot_case", "audit_event")


def same_rows(caltrack: QmarkOnPsycopg, baseline: QmarkOnPsycopg) -> str:
    """Both databases must hold as many rows per table, or the demo line compares nothing."""
    counts = []
    for table in COUNTED:
        ours = caltrack.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        theirs = baseline.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        # CalTrack's new database starts with one event of its own (the database's creation).
        if table != "audit_event" and ours != theirs:
            raise RuntimeError(f"{table}: CalTrack {ours:,} rows, baseline {theirs:,}")
        counts.append(f"{table} {ours:,}/{theirs:,}")
    return "rows " + ", ".join(counts)


def plain_verify(conn: QmarkOnPsycopg) -> int:
    """Read every table once: the server checks its own constraints on every write."""
    tables = conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    for (table,) in tables:
        conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()
    return 0


# -- concurrent editors -----------------------------------------------------------------


@dataclass(frozen=True)
class Throughput:
    """One concurrency level: every save's latency and the wall time of the whole burst."""

    writers: int
    latencies: list[float]
    wall_s: float
    # CalTrack's editors alternate: the edits' latencies, then the calibration records'.
    edits: list[float]
    records: list[float]

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.wall_s if self.wall_s > 0 else 0.0

    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    def p50(self) -> float:
        return statistics.median(self.latencies)


def caltrack_editor(
    url: str, number: int, targets: list[tuple[str, int]], barrier: Barrier, out: Queue[Any]
) -> None:
    """One editor process: saves through CalTrack, alternating an instrument edit (with
    the version it loaded) and a new calibration record, each on its own instrument."""
    identity = Identity(user=f"editor{number}", machine=f"bench-{number}")
    app = open_caltrack(url, identity=identity, clock=FixedClock(BENCH_NOW))
    today = BENCH_NOW.date()
    try:
        app.instruments.list(limit=1)  # connected and warm, as an open window is
        times: list[float] = []
        barrier.wait()
        for i, (tag, version) in enumerate(targets):
            if i % 2 == 0:
                changes = InstrumentChanges(location=f"Bench room {number}-{i}")
                save: Callable[[], object] = partial(
                    app.instruments.edit, tag, changes, expected_version=version
                )
            else:
                record = CalibrationInput(
                    performed_on=today,
                    result="pass",
                    performed_by=identity.user,
                    certificate_number=f"B-{number}-{i}",
                    points=(PointInput(10.0, 10.01, 10.01, 0.1, "V"),),
                )
                save = partial(app.calibrations.add, tag, record)
            times.append(timed(save))
        out.put((times, time.perf_counter()))
    finally:
        app.close()


def plain_editor(
    url: str,
    number: int,
    targets: list[tuple[str, int]],
    chained: bool,
    barrier: Barrier,
    out: Queue[Any],
) -> None:
    """One editor process: bench_foundation's plain UPDATE+INSERT transaction per save;
    ``chained`` adds what a hash chain needs: the advisory lock and the head's hash."""
    conn = connect_plain(url)
    try:
        times: list[float] = []
        barrier.wait()
        for i, (tag, version) in enumerate(targets):
            where = f"Bench room {number}-{i}"
            if chained:
                times.append(timed(partial(chained_edit, conn, tag, version, where)))
            else:
                times.append(timed(partial(plain_edit, conn, tag, version, where)))
        out.put((times, time.perf_counter()))
    finally:
        conn.close()


def chained_edit(conn: QmarkOnPsycopg, tag: str, version: int, location: str) -> None:
    """plain_edit with the chain's serialisation: lock, read the head, link to it."""
    now = datetime.now(UTC).replace(tzinfo=None)
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (CHAIN_LOCK_KEY,))
        head = conn.execute("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1").fetchone()
        row = conn.execute(
            "UPDATE instrument SET location = ?, version = version + 1, updated_at = ?, "
            "updated_by = ? WHERE asset_tag_key = ? AND version = ? RETURNING id",
            (location, now, IDENTITY.user, tag.upper(), version),
        ).fetchone()
        if row is None:
            raise RuntimeError(f"baseline edit of {tag} found no row at version {version}")
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
                '{"location": ["?", "' + location + '"]}',
                "",
                head[0] if head else "0" * 64,
                uuid.uuid4().hex + uuid.uuid4().hex,
            ),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def burst(kind: str, url: str, writers: int, targets: list[tuple[str, int]]) -> Throughput:
    """``writers`` processes, started and connected first, then released together."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(writers + 1)
    out: Queue[Any] = ctx.Queue()
    share = len(targets) // writers
    procs = []
    for n in range(writers):
        mine = targets[n * share : (n + 1) * share]
        if kind == "caltrack":
            proc = ctx.Process(target=caltrack_editor, args=(url, n, mine, barrier, out))
        else:
            chained = kind == "chained"
            proc = ctx.Process(target=plain_editor, args=(url, n, mine, chained, barrier, out))
        proc.start()
        procs.append(proc)
    barrier.wait(timeout=300)
    start = time.perf_counter()
    latencies: list[float] = []
    edits: list[float] = []
    records: list[float] = []
    end = start
    for _ in range(writers):
        times, finished = out.get(timeout=900)
        latencies += times
        edits += times[0::2]
        records += times[1::2]
        end = max(end, finished)
    for proc in procs:
        proc.join(timeout=60)
        if proc.exitcode != 0:
            raise RuntimeError(f"a {kind} editor process failed (exit {proc.exitcode})")
    return Throughput(writers, latencies, end - start, edits, records)


# -- the run ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    instruments: int
    repeats: int
    warmups: int
    edits: int
    saves: int
    parent: Path | None
    keep: bool


def run(settings: Settings) -> tuple[list[Result], list[tuple[Throughput, ...]]]:
    results: list[Result] = []
    clock = FixedClock(BENCH_NOW)
    today = clock.today()
    server = private_server(settings.parent)
    try:
        log(f"private server in {server.folder} (fsync on, synchronous_commit on)")
        ct_url = server.new_database("caltrack")
        base_url = server.new_database("baseline")
        app: CalTrack = open_caltrack(ct_url, create=True, identity=IDENTITY, clock=clock)
        try:
            copy_schema(server, ct_url, base_url)
            results += reads_and_edits(settings, app, ct_url, base_url, today)
        finally:
            app.close()
        bursts = write_bursts(settings, ct_url, base_url)
    finally:
        if settings.keep:
            log(f"server kept in {server.folder} (stop: pg_ctl -D {server.folder}/data stop)")
        else:
            server.stop()
    return results, bursts


def reads_and_edits(
    settings: Settings, app: CalTrack, ct_url: str, base_url: str, today: date
) -> list[Result]:
    """bench_foundation's lines: demo data, the reads, audited edits, db verify."""
    results: list[Result] = []
    n = settings.instruments
    log(f"CalTrack: generating {n:,} demo instruments …")
    t0, cpu0 = time.perf_counter(), time.process_time()
    counts = app.demo.generate(n)
    ct_gen = time.perf_counter() - t0
    ct_gen_cpu = time.process_time() - cpu0
    reads_conn = connect_plain(ct_url)
    row = reads_conn.execute("SELECT count(*) FROM calibration_standard").fetchone()
    demo = DemoCounts(
        n, counts["calibrations"], counts["points"], int(row[0]), counts.get("oot_cases", 0)
    )
    log(
        f"  {ct_gen:.1f} s (CPU in this process {ct_gen_cpu:.1f} s): {demo.calibrations:,} "
        f"calibrations, {demo.points:,} points, {demo.standards:,} standards"
    )
    plain = connect_plain(base_url)
    log("baseline: the same numbers of rows with psycopg executemany …")
    cpu0 = time.process_time()
    base_gen = timed(lambda: baseline_generate(plain, demo, today))
    log(f"  {base_gen:.1f} s (CPU {time.process_time() - cpu0:.1f} s)")
    set_sequences(plain)
    results.append(
        Result(
            f"demo data: {n:,} instruments, {demo.calibrations:,} calibrations",
            ct_gen,
            base_gen,
            # The target is the full size's; a smaller run only reports.
            Target(seconds=60.0) if n >= 100_000 else Target(),
            "one transaction, audit rows included; " + same_rows(reads_conn, plain),
        )
    )
    # Statistics for the planner on both sides, as autovacuum would gather them soon.
    reads_conn.execute("ANALYZE")
    plain.execute("ANALYZE")

    reads = PlainReads(reads_conn, today)
    log(f"reads: {settings.warmups} warm-up runs, then {settings.repeats} repeats each, medians")
    results += read_lines(app, reads, settings.repeats, settings.warmups)

    log(f"edits: {settings.edits} audited edits each, medians")
    ct_targets = sample_instruments(ct_url, settings.edits)
    base_targets = sample_instruments(base_url, settings.edits)
    ct_times: list[float] = []
    base_times: list[float] = []
    for i, ((tag, version), (btag, bversion)) in enumerate(
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

    log("verify: CalTrack db verify …")
    t0 = time.perf_counter()
    report = app.maintenance.verify()
    ct_verify = time.perf_counter() - t0
    for problem in report.problems[:5]:
        log(f"  problem: {problem}")
    base_verify = timed(lambda: plain_verify(reads_conn))
    results.append(
        Result(
            "db verify (CalTrack: + audit chain replay)",
            ct_verify,
            base_verify,
            Target(),
            f"{len(report.problems)} problems; baseline: count(*) of every table (the "
            "server checks constraints itself)",
        )
    )
    reads_conn.close()
    plain.close()
    return results


def write_bursts(settings: Settings, ct_url: str, base_url: str) -> list[tuple[Throughput, ...]]:
    """For 1, 4 and 16 writers: CalTrack, plain, plain with the chain lock."""
    rows: list[tuple[Throughput, ...]] = []
    total = max(WRITERS) * settings.saves
    # Fresh instruments for every burst: each save edits one of its own, at its version.
    ct_pool = sample_instruments(ct_url, total * len(WRITERS))
    base_pool = sample_instruments(base_url, total * len(WRITERS) * 2)
    for level, writers in enumerate(WRITERS):
        count = writers * settings.saves
        ct_targets = ct_pool[level::3][:count]
        plain_targets = base_pool[level::6][:count]
        chained_targets = base_pool[level + 3 :: 6][:count]
        log(f"writes: {writers} editor process(es) × {settings.saves} saves each …")
        ct = burst("caltrack", ct_url, writers, ct_targets)
        plain = burst("plain", base_url, writers, plain_targets)
        chained = burst("chained", base_url, writers, chained_targets)
        log(
            f"  CalTrack medians: edit {format_seconds(statistics.median(ct.edits))}, "
            f"calibration record {format_seconds(statistics.median(ct.records or ct.edits))}"
        )
        log(
            f"  CalTrack {ct.per_second:.0f}/s p95 {format_seconds(ct.p95())}; plain "
            f"{plain.per_second:.0f}/s p95 {format_seconds(plain.p95())}; with the chain "
            f"lock {chained.per_second:.0f}/s p95 {format_seconds(chained.p95())}"
        )
        rows.append((ct, plain, chained))
    return rows


def print_tables(
    results: list[Result], bursts: list[tuple[Throughput, ...]], settings: Settings
) -> None:
    headers = ("operation", "CalTrack", "psycopg", "ratio", "target", "met?")
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
    burst_headers = (
        "editors",
        "CalTrack saves/s",
        "p50 / p95",
        "plain tx/s",
        "p50 / p95",
        "+ chain lock tx/s",
        "p50 / p95",
    )
    burst_rows = [
        (
            str(ct.writers),
            f"{ct.per_second:.0f}",
            f"{format_seconds(ct.p50())} / {format_seconds(ct.p95())}",
            f"{plain.per_second:.0f}",
            f"{format_seconds(plain.p50())} / {format_seconds(plain.p95())}",
            f"{chained.per_second:.0f}",
            f"{format_seconds(chained.p50())} / {format_seconds(chained.p95())}",
        )
        for ct, plain, chained in bursts
    ]
    print()
    print(
        f"CalTrack server benchmark — {settings.instruments:,} instruments, "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )
    print(
        f"Python {platform.python_version()}, psycopg {psycopg.__version__}, libpq "
        f"{psycopg.pq.version()}, SQLAlchemy {sqlalchemy.__version__}, {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    print_markdown(headers, rows)
    notes = [f"- {r.operation}: {r.note}" for r in results if r.note]
    print()
    print("\n".join(notes))
    print()
    print(f"Concurrent editors, {settings.saves} saves each (saves per second over the burst):")
    print_markdown(burst_headers, burst_rows)


def print_markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


def parse_args(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--instruments", type=int, default=None, help="default 100000")
    parser.add_argument("--quick", action="store_true", help="10,000 instruments, fewer runs")
    parser.add_argument("--repeats", type=int, default=None, help="runs per read (median)")
    parser.add_argument("--warmups", type=int, default=None, help="unmeasured runs per read")
    parser.add_argument("--edits", type=int, default=None, help="single edits to time (median)")
    parser.add_argument("--saves", type=int, default=None, help="saves per editor process")
    parser.add_argument("--dir", type=Path, default=None, help="where the server's folder goes")
    parser.add_argument("--keep", action="store_true", help="leave the server running")
    args = parser.parse_args(argv)
    instruments = args.instruments or (10_000 if args.quick else 100_000)
    saves = args.saves or (20 if args.quick else 50)
    if instruments < 10 * max(WRITERS) * saves:
        parser.error(f"--instruments must be at least {10 * max(WRITERS) * saves} for the saves")
    return Settings(
        instruments=instruments,
        repeats=args.repeats or (5 if args.quick else 15),
        warmups=args.warmups or (3 if args.quick else 10),
        edits=args.edits or (20 if args.quick else 50),
        saves=saves,
        parent=args.dir,
        keep=args.keep,
    )


def main(argv: Sequence[str] | None = None) -> int:
    settings = parse_args(argv)
    started = time.perf_counter()
    results, bursts = run(settings)
    print_tables(results, bursts, settings)
    print()
    print(
        f"peak RSS of this process: {peak_rss_mb():.0f} MB; wall time "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0 if all(r.target.met(r.caltrack_s, r.baseline_s) != "NO" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
