"""Cycles are collected on the GUI thread only, never on a worker that allocates.

A worker thread that allocated when a collection was due used to free a dialog held in
a reference cycle, and Qt crashed deleting a widget off its thread.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from app.ui.tasks import TaskRunner


def test_a_busy_worker_never_runs_the_collector(qtbot: QtBot) -> None:
    collections: list[int] = []

    def note(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            collections.append(threading.get_ident())

    dialog = QDialog()
    dialog.me = dialog  # type: ignore[attr-defined]  # a cycle holding a widget
    del dialog
    gc.callbacks.append(note)
    try:

        def allocate() -> int:
            junk = []
            for n in range(200_000):
                pair: list[Any] = [n]
                pair.append(pair)  # cycles: enough to cross every threshold
                junk.append(pair)
            return len(junk)

        runner = TaskRunner()
        done: list[int] = []
        runner.run(allocate, done.append, lambda exc: None)
        qtbot.waitUntil(lambda: bool(done), timeout=60_000)
        gui = threading.get_ident()
        assert all(thread == gui for thread in collections), "collected on a worker"
        qtbot.waitUntil(lambda: gui in collections, timeout=10_000)
    finally:
        gc.callbacks.remove(note)
