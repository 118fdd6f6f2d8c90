"""Journey tests: a person's workflows driven only by clicks and keys, on real xcb.

Every test here runs on the xcb platform against a private Xvfb that this conftest
starts before Qt is loaded (``./run-tests`` runs this folder in a pytest process of its
own, because a process has one Qt platform). A journey may only press keys into the
focused widget and click visible widgets (``tests/journeys/person.py``), then assert what
the person sees and what is stored.
"""

from __future__ import annotations

import os

from PySide6.QtWidgets import QApplication

from tests.journeys.xserver import start_xvfb

_SERVER = start_xvfb()
os.environ["DISPLAY"] = _SERVER.display
os.environ["QT_QPA_PLATFORM"] = "xcb"
# No desktop session: keep Qt from looking for a portal or an accessibility bus.
os.environ.pop("WAYLAND_DISPLAY", None)
os.environ["QT_ACCESSIBILITY"] = "0"
os.environ["NO_AT_BRIDGE"] = "1"


def pytest_unconfigure() -> None:
    # Qt keeps its connection until the process ends, and Xvfb (-terminate) ends with it;
    # a run that never started Qt stops the server here.
    if QApplication.instance() is None:
        _SERVER.stop()


def pytest_report_header() -> str:
    return f"journeys: xcb platform on Xvfb {_SERVER.display}"
