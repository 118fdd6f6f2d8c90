"""Record calibration while the database server crashes: the dialog keeps what was typed
and says truly what became of it.

A crash before anything was sent is "nothing was saved"; a crash in the middle of the
save leaves only the server knowing whether it committed, so the dialog must not claim
"Not saved" then (saving a calibration again would record it twice if it had).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.identity import Identity
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.main_window import MainWindow
from tests.pg_server import PgServer
from tests.ui.conftest import Shown
from tests.ui.opened import opened
from tests.ui.server_window import TAG, WAIT_MS, lab_window_on


@pytest.fixture
def lab_window(
    qtbot: QtBot, pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> Iterator[MainWindow]:
    yield from lab_window_on(qtbot, pg_url, clock, alice, tmp_path / "state")


def typed_calibration(qtbot: QtBot, window: MainWindow) -> CalibrationDialog:
    window.new_calibration()
    dialog = opened(qtbot, CalibrationDialog)
    dialog.certificate.setText("C-RESTART-1")
    for col, text in enumerate(("100", "100.2", "", "0.5", "bar")):
        item = dialog.points.item(0, col)
        assert item is not None
        item.setText(text)
    return dialog


def save(dialog: CalibrationDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()


def records(app: CalTrack) -> int:
    return len(app.calibrations.history(TAG))


def test_a_calibration_saved_while_the_server_is_down_is_kept_and_saved_after(
    qtbot: QtBot, pg_server: PgServer, lab_window: MainWindow, shown: Shown
) -> None:
    app = lab_window.app
    dialog = typed_calibration(qtbot, lab_window)
    with pg_server.down():
        save(dialog)
        qtbot.waitUntil(lambda: dialog.banner.isVisible(), timeout=WAIT_MS)
        assert shown.titles() == ["Database server unreachable"]
        assert "nothing was saved" in dialog.banner.text()
        assert dialog.isVisible() and dialog.certificate.text() == "C-RESTART-1"
    assert records(app) == 0
    save(dialog)
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=WAIT_MS)
    assert [r.certificate_number for r in app.calibrations.history(TAG)] == ["C-RESTART-1"]
    assert shown.titles() == ["Database server unreachable"]


def test_a_crash_in_the_middle_of_saving_a_calibration_says_to_look_before_saving_again(
    qtbot: QtBot, pg_server: PgServer, lab_window: MainWindow, shown: Shown
) -> None:
    app = lab_window.app
    dialog = typed_calibration(qtbot, lab_window)
    crashed: list[bool] = []

    def crash_inside_the_save(_session: Session, _context: Any) -> None:
        if not crashed:
            crashed.append(True)
            pg_server.psql("CHECKPOINT")
            pg_server.halt()

    event.listen(Session, "after_flush", crash_inside_the_save)
    try:
        save(dialog)
        qtbot.waitUntil(lambda: dialog.banner.isVisible(), timeout=WAIT_MS)
    finally:
        event.remove(Session, "after_flush", crash_inside_the_save)
        if crashed:
            pg_server.start()
    assert crashed == [True]
    banner = dialog.banner.text()
    # Not "Not saved": whether the server committed is not known here.
    assert "Not saved" not in banner
    assert "refresh to see whether the change is there" in banner
    assert dialog.isVisible() and dialog.certificate.text() == "C-RESTART-1"
    assert shown.titles() == ["Database server unreachable"]
    assert records(app) == 0  # it had not committed: looking first shows it is not there
