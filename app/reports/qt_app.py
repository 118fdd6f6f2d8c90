"""The one QGuiApplication that printing needs, made offscreen when there is none.

QTextDocument, QPdfWriter and font metrics need a QGuiApplication. The GUI already has
its QApplication (a QGuiApplication too) and that one is used; the CLI has no display,
so it gets an offscreen one. Never a QApplication: no widgets outside ``app/ui``.
"""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QGuiApplication

# Qt allows one application object per process and deletes it with its Python owner:
# this keeps the one made here alive for the rest of the process.
_made: list[QGuiApplication] = []


def ensure_gui_app() -> QCoreApplication:
    """The running application, or a new offscreen QGuiApplication."""
    existing = QCoreApplication.instance()
    if existing is not None:
        if not isinstance(existing, QGuiApplication):
            raise RuntimeError("printing needs a QGuiApplication, not a bare QCoreApplication")
        return existing
    made = QGuiApplication(["caltrack", "-platform", "offscreen"])
    _made.append(made)
    return made
