"""Running a modal dialog, and disposing of it safely afterwards.

PySide6 hands a dialog to Python once its ``exec()`` returns (``shiboken6.ownedByPython``
turns true), even when it has a parent. A dialog whose Python side sits in a reference
cycle (its slots are bound methods, its callbacks close over it) is then deleted by
Python's cyclic garbage collector: at whatever moment a collection happens to run, and in
whatever thread allocated at that moment, a worker thread included. Deleting a widget
that way crashed the window (a segfault "at 0", intermittently: right after setting a
signing password, or in the users dialog while a worker ran). So every modal dialog
runs through :func:`run_modal`, which hands it back to Qt to delete in the GUI thread
as soon as the caller has read its answer: the collector never has a widget to free.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog


def run_modal(dialog: QDialog) -> int:
    """``dialog.exec()``; the dialog stays readable until control returns to the event
    loop, then Qt deletes it (never the garbage collector)."""
    try:
        return dialog.exec()
    finally:
        dialog.deleteLater()
