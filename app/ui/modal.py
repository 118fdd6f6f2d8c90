"""Running a modal dialog, and disposing of it safely afterwards.

PySide6 hands a dialog to Python once its ``exec()`` returns (``shiboken6.ownedByPython``
turns true), even when it has a parent. A dialog whose Python side sits in a reference
cycle (its slots are bound methods, its callbacks close over it) is then deleted by
Python's cyclic garbage collector: at whatever moment a collection happens to run, and in
whatever thread allocated at that moment, a worker thread included. Deleting a widget
that way crashed the window (a segfault "at 0", intermittently: right after setting a
signing password, or in the users dialog while a worker ran). So every modal dialog
runs through :func:`run_modal` or :func:`open_modal`, which hand it back to Qt to
delete in the GUI thread as soon as the caller has read its answer: the collector never
has a widget to free.

:func:`open_modal` is the usual way: the dialog opens window-modal (``open()``), the call
returns at once and the caller goes on in ``on_done`` when the dialog has ``finished``. No
nested event loop, so a test (or a journey) simply finds the dialog once it is shown and
answers it. The dialog stays owned by its parent (``open()`` does not hand it to Python)
and is deleted by Qt right after ``on_done`` has read it.

:func:`run_modal` (``exec()``) is kept only where the caller needs the answer before it
can go on (``tests/ui/test_modal.py`` holds this list):

- ``app.ui.messages``: message boxes (``info``/``warn``/``error`` and the start-up
  question ``choose_now``): their callers read the answer, or rely on the person having
  read the message, on the next line;
- ``app.ui.files``: the print dialog (``ask_printer`` returns whether to print, and the
  printer it set up is used right after);
- ``app.ui.app``: the "database in use" choice at start-up, asked before the main
  window exists (the start-up sequence waits for it; there is no window to be modal to).

File pickers use ``QFileDialog``'s static functions, which block the same way, for the
same reason: the path is needed on the next line.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog


def run_modal(dialog: QDialog) -> int:
    """``dialog.exec()``; the dialog stays readable until control returns to the event
    loop, then Qt deletes it (never the garbage collector)."""
    try:
        return dialog.exec()
    finally:
        dialog.deleteLater()


def open_modal(dialog: QDialog, on_done: Callable[[int], None]) -> None:
    """Open ``dialog`` window-modal and return at once; ``on_done(result)`` runs when it
    has finished (accepted or rejected), the dialog still readable; then Qt deletes it.

    The dialog must have a parent: that is the window it blocks, and its owner until Qt
    deletes it (never the garbage collector).
    """
    if dialog.parent() is None:
        raise RuntimeError("open_modal needs a dialog with a parent")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)

    def finished(result: int) -> None:
        try:
            on_done(result)
        finally:
            dialog.deleteLater()

    dialog.finished.connect(finished)
    dialog.open()
