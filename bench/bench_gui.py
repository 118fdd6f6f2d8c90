"""GUI responsiveness on a large register, beside plain sqlite3 in the same run.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_gui.py [--instruments 100000]
        [--db PATH]   # reuse a database made earlier (e.g. by bench_foundation.py)

Measures, with the real main window and a real event loop:
- time from opening the window until the first rows are painted,
- filter keystroke to repaint (the search box; includes its 250 ms debounce),
- the longest event-loop stall while the list loads, filters and refreshes
  (a 5 ms timer notes every gap between its ticks).
The baseline runs the same queries with the sqlite3 module on the same file.
Targets (issue 5): no stall over 100 ms.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.bootstrap import open_caltrack
from app.services.editing import EditingOptions
from app.settings.user_settings import UserSettings
from app.ui.main_window import MainWindow
from app.ui.models.instrument_table import COL_TAG, LOADING
from app.ui.tasks import TaskRunner

STALL_TARGET_MS = 100.0


class StallMeter(QObject):
    """Records the longest gap between ticks of a fast timer: how long the loop froze."""

    def __init__(self) -> None:
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.longest = 0.0

    def start(self) -> None:
        self.last = time.perf_counter()
        self.longest = 0.0
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now

    def stop(self) -> float:
        self.timer.stop()
        return self.longest * 1000


class PaintWatch(QObject):
    """Notes the time of the first paint of the table after rows are loaded."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window = window
        self.painted_at: float | None = None
        window.table.viewport().installEventFilter(self)

    def reset(self) -> None:
        self.painted_at = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self.painted_at is None:
            model = self.window.model
            if model.rowCount() and model.data(model.index(0, COL_TAG)) != LOADING:
                self.painted_at = time.perf_counter()
        return False


def wait_until(qapp: QApplication, done: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.perf_counter() + timeout_s
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not get there in time")
        qapp.processEvents()
        time.sleep(0.001)


def baseline(db: Path) -> dict[str, float]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:

        def timed(sql: str, args: tuple[object, ...] = ()) -> float:
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                conn.execute(sql, args).fetchall()
                runs.append(time.perf_counter() - t0)
            return statistics.median(runs) * 1000

        return {
            "first page": timed(
                "SELECT id, asset_tag, description, manufacturer, model, serial_number, location,"
                " status, calibration_interval_days, last_calibrated, next_due, version"
                " FROM instrument ORDER BY next_due, id LIMIT 200"
            ),
            "filter": timed(
                "SELECT id FROM instrument WHERE search_text LIKE ? ESCAPE '\\'"
                " ORDER BY next_due, id",
                ("%fluke%",),
            ),
            "all ids": timed("SELECT id FROM instrument ORDER BY next_due, id"),
        }
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instruments", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="reuse this database")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="caltrack-bench-gui-"))
    db = args.db or work / "bench.db"
    if args.db is None:
        print(f"generating {args.instruments:,} instruments…", file=sys.stderr)
        with open_caltrack(str(db), create=True, state_dir=work / "state") as app:
            app.demo.generate(args.instruments, seed=3)
    base = baseline(db)

    qapp = QApplication(sys.argv[:1])
    meter = StallMeter()
    app = open_caltrack(str(db), editing=EditingOptions(edit=False), state_dir=work / "state-gui")
    runner = TaskRunner()
    t0 = time.perf_counter()
    window = MainWindow(app=app, runner=runner, settings=UserSettings(reminders=False))
    watch = PaintWatch(window)
    window.resize(1400, 820)
    window.show()
    # Stalls count from here: building the widgets is start-up, not loading.
    meter.start()
    wait_until(qapp, lambda: watch.painted_at is not None)
    first_paint = (watch.painted_at or t0) - t0
    stall_open = meter.stop()
    print(f"stall while loading: {stall_open:.1f} ms", file=sys.stderr)
    total = window.model.rowCount()

    # Filter keystroke -> repaint, a few times.
    keystrokes: list[float] = []
    stalls: list[float] = [stall_open]
    for word in ("f", "l", "u", "k", "e"):
        watch.reset()
        meter.start()
        before = window.model.rowCount()
        t1 = time.perf_counter()
        QTest.keyClicks(window.search, word)

        def repainted(b: int = before, start: float = t1) -> bool:
            if watch.painted_at is None:
                return False
            return window.model.rowCount() != b or time.perf_counter() - start > 1.0

        wait_until(qapp, repainted)
        keystrokes.append(((watch.painted_at or t1) - t1) * 1000)
        stalls.append(meter.stop())
        print(f"stall while filtering: {stalls[-1]:.1f} ms", file=sys.stderr)
    filtered = window.model.rowCount()

    # Refresh of the whole list (clear the search first).
    window.search.clear()
    wait_until(qapp, lambda: window.model.rowCount() == total)
    meter.start()
    watch.reset()
    t2 = time.perf_counter()
    window.refresh()
    wait_until(qapp, lambda: watch.painted_at is not None and time.perf_counter() - t2 > 0.3)
    refresh_ms = ((watch.painted_at or t2) - t2) * 1000
    stalls.append(meter.stop())
    window.close()
    runner.wait()
    app.close()

    longest = max(stalls)
    rows = [
        ("first rows painted (window open)", first_paint * 1000, base["first page"], ""),
        (
            "filter keystroke → repaint (median)",
            statistics.median(keystrokes),
            base["filter"],
            "incl. 250 ms debounce",
        ),
        ("refresh → repaint", refresh_ms, base["all ids"], ""),
        ("longest event-loop stall", longest, 0.0, f"target ≤ {STALL_TARGET_MS:.0f} ms"),
    ]
    print(f"\nCalTrack GUI on {total:,} instruments ({filtered:,} match 'fluke')\n")
    print(f"{'measure':40} {'CalTrack ms':>12} {'sqlite3 ms':>11}  note")
    for name, ours, theirs, note in rows:
        print(f"{name:40} {ours:12.1f} {theirs:11.1f}  {note}")
    met = longest <= STALL_TARGET_MS
    print(f"\nstall target {'met' if met else 'MISSED'}: longest stall {longest:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
