"""GUI responsiveness on a large register, beside plain sqlite3 in the same run.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py [--instruments 100000]
        [--db PATH]        # reuse a database made earlier (e.g. bench_foundation.py --keep)
        [--refreshes 5]    # how many refreshes to time
        [--keep]           # keep the generated database (in a temp folder)

Measures, with the real main window and a real event loop:
- the time from ``show()`` until the first rows are painted (building the window is
  timed on its own line),
- filter keystroke to repaint (typing "fluke" into the search box one key at a time;
  the 250 ms debounce is part of what the user waits for, and also shown without it),
- refresh to repaint, repeated,
- the longest event-loop stall in each phase: a 5 ms timer notes every gap between its
  ticks, so a gap is time in which the window could not have reacted to anything.

The baseline does the same work with the sqlite3 module on the same file, in the same
run and with CalTrack's page cache: every matching id in display order, the filter
counts and the rows of the first page (what the window needs before it can paint the
first rows). Target (issue 5): no stall over 100 ms.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

from bench_foundation import LIST_SQL, STATUS_COUNTS_SQL, caltrack_pragmas, like_term
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.bootstrap import open_caltrack
from app.services.editing import EditingOptions
from app.settings.user_settings import UserSettings
from app.ui.main_window import SEARCH_DEBOUNCE_MS, MainWindow
from app.ui.models.instrument_table import COL_TAG, LOADING, PAGE
from app.ui.tasks import TaskRunner

STALL_TARGET_MS = 100.0
SEARCH = "fluke"


class StallMeter(QObject):
    """Records the longest gap between ticks of a fast timer: how long the loop froze.

    Also the longest garbage collection meanwhile (any thread's; it stops them all), to
    tell such a pause from the window's own work when reading the numbers.
    """

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.longest = 0.0
        self.longest_gc = 0.0
        self._gc_started = 0.0
        gc.callbacks.append(self._gc)

    def start(self) -> None:
        self.last = time.perf_counter()
        self.longest = 0.0
        self.longest_gc = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def _gc(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.longest_gc = max(self.longest_gc, time.perf_counter() - self._gc_started)

    def stop(self) -> float:
        self.timer.stop()
        return self.longest * 1000


class PaintWatch(QObject):
    """The time of the first paint of real rows after the model was last reset.

    Paints before the reset (the old rows, a hover) do not count: the user is still
    looking at the previous list then.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window = window
        self.reset_seen = False
        self.painted_at: float | None = None
        window.model.modelReset.connect(self._model_reset)
        window.table.viewport().installEventFilter(self)

    def arm(self) -> None:
        self.reset_seen = False
        self.painted_at = None

    def _model_reset(self) -> None:
        self.reset_seen = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.reset_seen and self.painted_at is None:
            model = self.window.model
            if model.rowCount() == 0 or model.data(model.index(0, COL_TAG)) != LOADING:
                self.painted_at = time.perf_counter()
        return False


def wait_until(qapp: QApplication, done: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not get there in time")
        qapp.processEvents()
        time.sleep(0.001)


def settle(qapp: QApplication, seconds: float) -> None:
    """Let the window finish what it started (detail pane, polling) before the next step."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        qapp.processEvents()
        time.sleep(0.001)


# -- the baseline ------------------------------------------------------------------------


def plain_list(conn: sqlite3.Connection, today: date, search: str) -> int:
    """What the window reads before its first paint: ids, counts, the first page."""
    terms = search.casefold().split()
    where = " AND ".join("search_text LIKE ? ESCAPE '\\'" for _ in terms)
    params = [like_term(t) for t in terms]
    until = today + timedelta(days=30)
    conn.execute("BEGIN")
    try:
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM instrument "
                + (f"WHERE {where} " if where else "")
                + "ORDER BY next_due, id",
                params,
            )
        ]
        conn.execute(
            STATUS_COUNTS_SQL, {"today": today.isoformat(), "until": until.isoformat()}
        ).fetchone()
        conn.execute("SELECT count(id) FROM instrument").fetchone()
        first = ids[:PAGE]
        marks = ",".join("?" * len(first))
        if first:
            conn.execute(
                LIST_SQL.split(" ORDER BY")[0].format(where=f"WHERE id IN ({marks})"), first
            ).fetchall()
    finally:
        conn.execute("COMMIT")
    return len(ids)


def baseline(db: Path, today: date, pragmas: dict[str, str], repeats: int = 5) -> dict[str, float]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    try:
        # CalTrack's page cache and settings, so that only the layers above differ (the
        # journal mode is the file's own and stays as it is).
        for name in ("synchronous", "foreign_keys", "cache_size"):
            conn.execute(f"PRAGMA {name}={pragmas[name]}")

        def timed(search: str) -> float:
            plain_list(conn, today, search)  # warm-up
            runs = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                plain_list(conn, today, search)
                runs.append(time.perf_counter() - t0)
            return statistics.median(runs) * 1000

        return {"all": timed(""), "search": timed(SEARCH)}
    finally:
        conn.close()


# -- the run -----------------------------------------------------------------------------


def run(db: Path, work: Path, refreshes: int) -> int:
    qapp = QApplication(sys.argv[:1])
    meter = StallMeter()
    app = open_caltrack(str(db), editing=EditingOptions(edit=False), state_dir=work / "state-gui")
    base = baseline(db, app.clock.today(), caltrack_pragmas(app))
    runner = TaskRunner()
    t0 = time.perf_counter()
    window = MainWindow(app=app, runner=runner, settings=UserSettings(reminders=False))
    watch = PaintWatch(window)
    window.resize(1400, 820)
    built = time.perf_counter()
    window.show()
    shown = time.perf_counter()
    # Stalls count from here: building the widgets is start-up, not loading.
    meter.start()
    wait_until(qapp, lambda: watch.painted_at is not None)
    first_paint = ((watch.painted_at or shown) - shown) * 1000
    stalls = {"loading": meter.stop()}
    gc_pauses = {"loading": meter.longest_gc * 1000}
    total = window.model.rowCount()
    meter.start()
    settle(qapp, 1.0)
    stalls["loading"] = max(stalls["loading"], meter.stop())
    gc_pauses["loading"] = max(gc_pauses["loading"], meter.longest_gc * 1000)

    keystrokes: list[float] = []
    meter.start()
    for key in SEARCH:
        watch.arm()
        t1 = time.perf_counter()
        QTest.keyClicks(window.search, key)
        wait_until(qapp, lambda: watch.painted_at is not None)
        keystrokes.append(((watch.painted_at or t1) - t1) * 1000)
        settle(qapp, 0.3)
    filtered = window.model.rowCount()
    stalls["filtering"] = meter.stop()
    gc_pauses["filtering"] = meter.longest_gc * 1000

    window.search.clear()
    wait_until(qapp, lambda: window.model.rowCount() == total)
    settle(qapp, 1.0)
    refresh_times: list[float] = []
    meter.start()
    for _ in range(refreshes):
        watch.arm()
        t2 = time.perf_counter()
        window.refresh()
        wait_until(qapp, lambda: watch.painted_at is not None)
        refresh_times.append(((watch.painted_at or t2) - t2) * 1000)
        settle(qapp, 0.5)
    stalls["refresh"] = meter.stop()
    gc_pauses["refresh"] = meter.longest_gc * 1000
    window.close()
    runner.wait()
    app.close()

    longest = max(stalls.values())
    key_ms = statistics.median(keystrokes)
    rows: list[tuple[str, str, str, str]] = [
        ("window built (before show)", f"{(built - t0) * 1000:.1f}", "", "start-up"),
        ("first rows painted after show", f"{first_paint:.1f}", f"{base['all']:.1f}", ""),
        (
            "filter keystroke → repaint (median)",
            f"{key_ms:.1f}",
            f"{base['search']:.1f}",
            f"incl. {SEARCH_DEBOUNCE_MS} ms debounce ({key_ms - SEARCH_DEBOUNCE_MS:.1f} without)",
        ),
        (
            f"refresh → repaint (median of {refreshes})",
            f"{statistics.median(refresh_times):.1f}",
            f"{base['all']:.1f}",
            f"slowest {max(refresh_times):.1f}",
        ),
    ]
    rows += [
        (
            f"longest stall while {phase}",
            f"{ms:.1f}",
            "–",
            f"target ≤ {STALL_TARGET_MS:.0f}; longest GC {gc_pauses[phase]:.1f}",
        )
        for phase, ms in stalls.items()
    ]
    print(
        f"\nCalTrack GUI on {total:,} instruments ({filtered:,} match {SEARCH!r}), "
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    print(f"| {'measure':40} | {'CalTrack ms':>11} | {'sqlite3 ms':>10} | note")
    print(f"|{'-' * 42}|{'-' * 13}|{'-' * 12}|------")
    for name, ours, theirs, note in rows:
        print(f"| {name:40} | {ours:>11} | {theirs:>10} | {note}")
    met = longest <= STALL_TARGET_MS
    print(f"\nstall target {'met' if met else 'MISSED'}: longest stall {longest:.1f} ms")
    return 0 if met else 1


def generate(db: Path, instruments: int, work: Path) -> None:
    with open_caltrack(str(db), create=True, state_dir=work / "state") as app:
        app.demo.generate(instruments, seed=3)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--instruments", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="reuse this database")
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="caltrack-bench-gui-"))
    try:
        db = args.db or work / "bench.db"
        if args.db is None:
            print(f"generating {args.instruments:,} instruments…", file=sys.stderr)
            # In a process of its own: the window then starts in a fresh one, as it does
            # for a user (not in one that just built and freed a million rows).
            child = multiprocessing.get_context("spawn").Process(
                target=generate, args=(db, args.instruments, work)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit(f"generating the database failed (exit {child.exitcode})")
        return run(db, work, args.refreshes)
    finally:
        if args.keep:
            print(f"kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
