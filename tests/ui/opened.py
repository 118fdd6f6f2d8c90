"""Finding a dialog the code under test opened with ``open_modal`` (no nested loop to
answer it from: the test finds it on screen, then fills it in like a person)."""

from __future__ import annotations

from typing import TypeVar

import shiboken6
from PySide6.QtWidgets import QApplication, QDialog
from pytestqt.qtbot import QtBot

D = TypeVar("D", bound=QDialog)


def opened(qtbot: QtBot, kind: type[D], timeout: int = 10_000) -> D:
    """The visible dialog of ``kind``, once it has been shown (an action that loads data
    first opens it a moment later)."""
    found: list[D] = []

    def shown() -> bool:
        found[:] = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()
        ]
        return len(found) == 1

    qtbot.waitUntil(shown, timeout=timeout)
    return found[0]


def closed(qtbot: QtBot, dialog: QDialog, timeout: int = 10_000) -> None:
    """Waits until ``dialog`` has finished (Qt deletes it right after)."""
    qtbot.waitUntil(
        lambda: not shiboken6.isValid(dialog) or not dialog.isVisible(), timeout=timeout
    )
