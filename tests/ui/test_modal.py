"""Modal dialogs are deleted by Qt in the GUI thread, never by the garbage collector.

PySide6 gives a dialog to Python when its ``exec()`` returns; one in a reference cycle
was then freed by the cyclic collector at a random moment and thread, which crashed the
window. Every modal dialog runs through ``run_modal``, which hands it back to Qt.
"""

from __future__ import annotations

import gc
import re
from pathlib import Path

import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer
from PySide6.QtWidgets import QDialog, QLineEdit, QMainWindow, QVBoxLayout
from pytestqt.qtbot import QtBot

from app.ui.modal import open_modal, run_modal

UI = Path(__file__).resolve().parents[2] / "app" / "ui"


class CyclicDialog(QDialog):
    """A dialog whose Python side is in a reference cycle, like most of ours."""

    def __init__(self, parent: QMainWindow) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.textChanged.connect(self._changed)
        QVBoxLayout(self).addWidget(self.edit)
        self.me = self  # the cycle
        self.seen = ""

    def _changed(self, text: str) -> None:
        self.seen = text


def test_run_modal_leaves_the_dialog_to_qt(qtbot: QtBot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    dialog = CyclicDialog(window)
    QTimer.singleShot(0, dialog.accept)
    assert run_modal(dialog) == QDialog.DialogCode.Accepted
    assert shiboken6.isValid(dialog), "still readable right after"
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(dialog), "deleted by Qt, in this thread"
    del dialog
    gc.collect()  # nothing left for the collector to delete
    assert window.findChildren(CyclicDialog) == []


def test_open_modal_returns_at_once_and_leaves_the_dialog_to_qt(qtbot: QtBot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    dialog = CyclicDialog(window)
    done: list[tuple[int, str]] = []

    def on_done(result: int) -> None:
        found = window.findChild(CyclicDialog)
        assert found is not None
        done.append((result, found.seen))

    open_modal(dialog, on_done)
    assert dialog.isVisible() and dialog.windowModality() == Qt.WindowModality.WindowModal
    assert done == [], "the caller goes on before the answer"
    assert not shiboken6.ownedByPython(dialog), "its parent owns it"
    dialog.edit.setText("typed")
    dialog.accept()
    assert done == [(QDialog.DialogCode.Accepted, "typed")], "read in on_done"
    assert shiboken6.isValid(dialog)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(dialog), "deleted by Qt, in this thread"
    del dialog
    gc.collect()
    assert window.findChildren(CyclicDialog) == []


def test_every_modal_dialog_runs_through_run_modal() -> None:
    offenders = []
    for path in sorted(UI.rglob("*.py")):
        if path.name == "modal.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\.exec\(\)", line) and "qapp.exec()" not in line:
                offenders.append(f"{path.relative_to(UI)}:{n}: {line.strip()}")
    assert offenders == [], "use run_modal(dialog) instead of dialog.exec()"


# Where a dialog may still block in exec(): the caller needs the answer before it can go on
# (the list, with why, is in app/ui/modal.py's docstring). Every other dialog opens with
# open_modal.
BLOCKING = {"messages.py", "files.py", "app.py"}


def test_only_the_listed_callers_block_on_a_dialog() -> None:
    users = {
        str(path.relative_to(UI))
        for path in UI.rglob("*.py")
        if path.name != "modal.py" and "run_modal(" in path.read_text(encoding="utf-8")
    }
    assert users == BLOCKING, "open the dialog with open_modal(dialog, on_done) instead"
