"""Running database work off the GUI thread.

A task is a plain function that touches no widget. It runs on a QThreadPool; its result
or its exception comes back to the GUI thread through a queued signal, where the
callbacks may update widgets. (The habit is Anki's taskman: never touch a widget inside
the operation.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives in the GUI thread; its signals carry results back to it."""

    finished = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which decides
            self._relay.failed.emit(exc)
        else:
            self._relay.finished.emit(result)


class TaskRunner(QObject):
    """Runs functions on a thread pool and calls back on the GUI thread."""

    busy_changed = Signal(bool)

    def __init__(self, *, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relays: set[_Relay] = set()
        self._generations: dict[str, int] = {}

    @property
    def running(self) -> int:
        return len(self._relays)

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], object],
        on_error: Callable[[BaseException], object],
        *,
        key: str | None = None,
    ) -> None:
        """Run ``fn`` in the pool. With ``key``, only the newest task's result is delivered."""
        generation = 0
        if key is not None:
            generation = self._generations.get(key, 0) + 1
            self._generations[key] = generation
        relay = _Relay()
        self._relays.add(relay)

        def current() -> bool:
            return key is None or self._generations.get(key) == generation

        def done(result: Any) -> None:
            self._finish(relay)
            if current():
                on_done(result)

        def failed(exc: BaseException) -> None:
            self._finish(relay)
            if current():
                on_error(exc)
            else:
                log.info("superseded task failed: %r", exc)

        relay.finished.connect(done)
        relay.failed.connect(failed)
        if len(self._relays) == 1:
            self.busy_changed.emit(True)
        self._pool.start(_Task(fn, relay))

    def _finish(self, relay: _Relay) -> None:
        self._relays.discard(relay)
        relay.deleteLater()
        if not self._relays:
            self.busy_changed.emit(False)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every task ended (shutdown and tests only)."""
        return self._pool.waitForDone(msecs)
