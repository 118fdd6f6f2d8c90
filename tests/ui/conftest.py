"""UI tests: a real Qt event loop offscreen, real databases, answers to message boxes."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.ui import messages
from app.ui.collector import GuiThreadCollector
from tests.conftest import NOW, TEMPLATE_USER, DatabaseTemplate, state_for

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


DEMO_INSTRUMENTS = 60


def _make_demo(where: str, state: Path) -> None:
    """The demo lab the window tests open: 60 instruments with their history, as alice."""
    with open_caltrack(
        where, create=True, identity=TEMPLATE_USER, clock=FixedClock(NOW), state_dir=state
    ) as app:
        app.demo.generate(DEMO_INSTRUMENTS, seed=5)


@pytest.fixture(scope="session")
def demo_db_template(tmp_path_factory: pytest.TempPathFactory) -> DatabaseTemplate:
    """The demo lab made once a run per backend (seconds on the server), copied per test."""
    return DatabaseTemplate(tmp_path_factory.mktemp("demo-template"), _make_demo)


@pytest.fixture
def demo_db(
    db_url: str, backend: str, clock: FixedClock, alice: Identity, request: pytest.FixtureRequest
) -> str:
    """The demo lab of this test on its backend: a SQLite file's path or a server URL.

    ``db_url`` starts it as a copy of the run's demo template; the per-PC state the
    making left (the chain anchor) is copied too, so the test opens it as the PC that
    made it. With another clock or person than the template's it is made here.
    """
    state = state_for(db_url)
    if clock.now_utc() == NOW and alice == TEMPLATE_USER:
        template: DatabaseTemplate = request.getfixturevalue("demo_db_template")
        shutil.copytree(template.state(backend), state, dirs_exist_ok=True)
    else:
        with open_caltrack(
            db_url, create=True, identity=alice, clock=clock, state_dir=state
        ) as app:
            app.demo.generate(DEMO_INSTRUMENTS, seed=5)
    return db_url


@pytest.fixture
def demo_app(demo_db: str, clock: FixedClock, alice: Identity) -> Iterator[CalTrack]:
    with open_caltrack(demo_db, identity=alice, clock=clock, state_dir=state_for(demo_db)) as app:
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
