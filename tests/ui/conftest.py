"""UI tests: a real Qt event loop offscreen, real databases, answers to message boxes."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.ui import messages
from app.ui.collector import GuiThreadCollector

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


class Shown:
    """Message boxes the code under test showed (instead of blocking on them)."""

    def __init__(self) -> None:
        self.boxes: list[tuple[str, str, str]] = []

    def __call__(
        self, parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str, detail: str
    ) -> None:
        self.boxes.append((title, text, detail))

    def titles(self) -> list[str]:
        return [t for t, _x, _d in self.boxes]


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> Shown:
    recorder = Shown()
    monkeypatch.setattr(messages, "presenter", recorder)
    return recorder


@pytest.fixture
def demo_db(tmp_path: Path, clock: FixedClock, alice: Identity) -> Path:
    db = tmp_path / "lab.db"
    with open_caltrack(
        str(db), create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ) as app:
        app.demo.generate(60, seed=5)
    return db


@pytest.fixture
def demo_app(
    demo_db: Path, clock: FixedClock, alice: Identity, tmp_path: Path
) -> Iterator[CalTrack]:
    with open_caltrack(
        str(demo_db), identity=alice, clock=clock, state_dir=tmp_path / "state"
    ) as app:
        yield app


@pytest.fixture(autouse=True)
def _collect_on_gui_thread(qapp: QApplication) -> Iterator[None]:
    """As in the application: cycles are collected on the GUI thread only."""
    collector = GuiThreadCollector(qapp)
    yield
    collector.stop()
    collector.deleteLater()
    # What outlived the test's full collection stays for the run (the modules, pytest's
    # reports): frozen, the next tests' collections no longer walk it, which otherwise
    # grows to half a second a test late in the run.
    gc.freeze()
