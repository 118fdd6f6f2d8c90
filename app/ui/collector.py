"""Python's cyclic garbage collector runs on the GUI thread only.

Left to itself, CPython collects reference cycles in whichever thread happens to
allocate when a threshold is crossed: with database work on worker threads, that is
often a worker. A cycle that holds the last reference to a Qt widget (a dialog whose
slots are its own bound methods, a closure over a window) then deletes that widget on
the worker thread, and Qt crashes ("Garbage-collecting" in the worker's stack, a
segfault at 0). Anki met the same and keeps the collector on the main thread; so do
we: automatic collection is switched off, and a timer in the GUI thread collects the
young generations often and everything now and then.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

YOUNG_MS = 1000
FULL_EVERY = 60  # young collections between two full ones


class GuiThreadCollector(QObject):
    """Collects cycles from the GUI thread's event loop; the automatic collector is off."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.setInterval(YOUNG_MS)
        self._timer.timeout.connect(self.collect)
        gc.disable()
        self._timer.start()

    def collect(self) -> None:
        self._ticks += 1
        if self._ticks % FULL_EVERY == 0:
            gc.collect()
        else:
            gc.collect(1)

    def stop(self) -> None:
        """Collects once more and gives collection back to Python (tests, shutdown)."""
        self._timer.stop()
        gc.collect()
        gc.enable()
