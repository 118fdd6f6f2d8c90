"""Running database work off the GUI thread: the window's one operation helper.

An operation is a plain function that touches no widget. It runs on a plain Python
thread of a small pool; its outcome comes back to the GUI thread through a queued
signal of a ``QObject`` that lives there, and only then are the callbacks called, where
they may update widgets. (The habit is Anki's taskman: never touch a widget inside the
operation.)

Why plain threads: a Python subclass of ``QRunnable`` handed to ``QThreadPool`` is a
Python object whose C++ half Qt deletes when the run ends (auto-delete), while Python
may still hold or collect its wrapper. That race crashed the process now and then
(segfaults in ``QThreadPool.start``). Here Qt never owns anything Python made: the
worker threads, the queue and the jobs are Python's, and the only Qt object involved is
the mailbox, kept alive by every job that may still post to it.

Results are typed: ``run(fn, on_done, on_error)`` checks that ``on_done`` takes what
``fn`` returns. With ``owner`` (by default the object whose method ``on_done`` is) the
outcome is dropped once that widget is gone; with
``key`` only the newest operation of that key is delivered. A write names what it
changed (``changes=``) and, once it succeeded, the runner announces it through its one
``changed`` signal, which the views listen to.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QEventLoop, QObject, Signal, Slot

log = logging.getLogger(__name__)

T = TypeVar("T")

Job = Callable[[], None]


@dataclass(frozen=True)
class Changes:
    """What a write changed, so each view decides whether it must reload.

    ``instrument_ids`` names the instruments touched (empty when unknown or many);
    the flags say which kinds of data moved.
    """

    instruments: bool = False
    calibrations: bool = False
    attachments: bool = False
    cases: bool = False
    accounts: bool = False
    settings: bool = False
    types: bool = False  # the register of instrument types (their plans, their names)
    providers: bool = False  # the provider register and the send-out batches
    instrument_ids: frozenset[int] = frozenset()

    @staticmethod
    def everything() -> Changes:
        """After an import, a restore or another user's change: reload it all."""
        return Changes(True, True, True, True, True, True, True, True)

    def touches(self, instrument_id: int | None) -> bool:
        """True when this change may concern the given instrument."""
        if not (self.instruments or self.calibrations or self.attachments or self.cases):
            return False
        return not self.instrument_ids or instrument_id in self.instrument_ids


class _Mailbox(QObject):
    """Lives in the GUI thread; a job's outcome is posted here and run there."""

    posted = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        # The receiver is this object, which lives in the GUI thread: a post from a
        # worker thread is queued and run by the GUI thread's event loop.
        self.posted.connect(self.deliver)

    @Slot(object)
    def deliver(self, outcome: Job) -> None:
        outcome()


class _Pool:
    """A few daemon threads taking jobs from a queue (daemon: a hung wait never blocks exit)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._threads = 0
        self._idle = 0
        self._pending = 0

    def submit(self, job: Job) -> None:
        with self._lock:
            self._pending += 1
            start = self._idle == 0 and self._threads < self._size
            if start:
                self._threads += 1
        self._jobs.put(job)
        if start:
            threading.Thread(target=self._work, name="caltrack-task", daemon=True).start()

    def _work(self) -> None:
        # Qt gives a thread it did not start no event dispatcher, and some QtGui work
        # done here (a QTextDocument laying out a PDF report) starts timers: an event
        # loop object makes Qt create the dispatcher. It lives as long as the thread.
        dispatcher_keeper = QEventLoop()
        while True:
            with self._lock:
                self._idle += 1
            job = self._jobs.get()
            with self._lock:
                self._idle -= 1
            try:
                job()
                dispatcher_keeper.processEvents()
            finally:
                with self._lock:
                    self._pending -= 1
                    self._lock.notify_all()

    def wait(self, timeout_s: float) -> bool:
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout=timeout_s)


class TaskRunner(QObject):
    """Runs functions off the GUI thread and calls back on it; announces every write."""

    busy_changed = Signal(bool)
    changed = Signal(object)  # Changes, after a write succeeded

    def __init__(self, *, max_threads: int = 4, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = _Pool(max_threads)
        # No parent: the mailbox is kept alive by the jobs that may post to it, so a
        # worker never posts to a deleted object.
        self._mailbox = _Mailbox()
        self._running = 0
        self._generations: dict[str, int] = {}

    @property
    def running(self) -> int:
        """Operations started whose outcome has not been delivered yet."""
        return self._running

    def run(
        self,
        fn: Callable[[], T],
        on_done: Callable[[T], object],
        on_error: Callable[[BaseException], object],
        *,
        key: str | None = None,
        owner: QObject | None = None,
        changes: Changes | None = None,
    ) -> None:
        """Run ``fn`` off the GUI thread, then ``on_done(result)`` or ``on_error(exc)`` on it.

        With ``key``, only the newest operation of that key is delivered. With ``owner``,
        nothing is delivered once that object is deleted. With ``changes``, a success is
        announced through ``changed`` after ``on_done``.
        """
        if owner is None:
            # A bound method of a widget makes the widget the owner: its outcome must not
            # reach a deleted dialog.
            bound = getattr(on_done, "__self__", None)
            owner = bound if isinstance(bound, QObject) else None
        generation = 0
        if key is not None:
            generation = self._generations.get(key, 0) + 1
            self._generations[key] = generation
        self._running += 1
        if self._running == 1:
            self.busy_changed.emit(True)

        def wanted() -> bool:
            if key is not None and self._generations.get(key) != generation:
                return False
            return owner is None or shiboken6.isValid(owner)

        def finish() -> bool:
            # The runner itself may be gone (its window closed): then nothing is wanted.
            if not shiboken6.isValid(self):
                return False
            self._running -= 1
            if self._running == 0:
                self.busy_changed.emit(False)
            return wanted()

        def succeeded(result: T) -> None:
            if finish():
                on_done(result)
                if changes is not None and shiboken6.isValid(self):
                    self.changed.emit(changes)

        def failed(exc: BaseException) -> None:
            if finish():
                on_error(exc)
            else:
                log.info("a dropped operation failed: %r", exc)

        mailbox = self._mailbox

        def job() -> None:
            outcome: Job
            try:
                result = fn()
            except Exception as exc:  # noqa: BLE001 - handed to the GUI thread, which decides
                error = exc
                outcome = lambda: failed(error)  # noqa: E731
            else:
                outcome = lambda: succeeded(result)  # noqa: E731
            if shiboken6.isValid(mailbox):
                mailbox.posted.emit(outcome)

        self._pool.submit(job)

    def announce(self, changes: Changes) -> None:
        """Tells the views about a change that did not come through ``run``."""
        self.changed.emit(changes)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until every running function returned (shutdown and tests only)."""
        return self._pool.wait(msecs / 1000)


def run_for(
    owner: QObject,
    runner: TaskRunner,
    fn: Callable[[], T],
    on_done: Callable[[T], object],
    on_error: Callable[[BaseException], object],
    *,
    key: str | None = None,
    changes: Changes | None = None,
    alive: Callable[[], bool] | None = None,
) -> None:
    """``runner.run`` for one window or dialog, the way each of them runs its work.

    The callbacks are closures (they close over the widget but are not its methods), so
    the owner is named: nothing is delivered once ``owner`` is deleted, nor while
    ``alive()``, when given, is false (e.g. the window is closing).
    """

    def wanted() -> bool:
        return alive is None or alive()

    def done(result: T) -> None:
        if wanted():
            on_done(result)

    def failed(exc: BaseException) -> None:
        if wanted():
            on_error(exc)

    runner.run(fn, done, failed, key=key, owner=owner, changes=changes)
