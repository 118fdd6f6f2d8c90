"""Journey: two people, one database — request edit, hand over, notify me.

Alice edits in one window; Bob opens the same database file in a second CalTrack (its
own session, lock and window) and finds it read-only. He asks to edit, she hands over by
clicking in her window, and his window tells him the database is his. In the second
journey the editor is a real second process that quits while Bob waits to be notified.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.locking.requests import request_files
from app.settings.user_settings import UserSettings
from app.ui.app import Launcher
from app.ui.dialogs.lock_dialog import LockInUseDialog
from app.ui.main_window import MainWindow
from tests.integration.process_helpers import holding_child
from tests.journeys.conftest import open_window
from tests.journeys.person import Person

BOB = Identity("bob", "LAB-PC-7")
WAIT_MS = 20_000

pytestmark = pytest.mark.sqlite_only(
    "the editor lock of a database file, asked for and handed over through request files "
    "beside it; on a server everyone edits"
)


@contextmanager
def second_window(
    qtbot: QtBot, db: Path, who: Identity, clock: FixedClock, state: Path
) -> Iterator[MainWindow]:
    """Another person's CalTrack on the same database file, with its own window."""
    with open_caltrack(str(db), identity=who, clock=clock, state_dir=state) as other:
        windows = open_window(qtbot, other, UserSettings(reminders=False))
        win = next(windows)
        try:
            yield win
        finally:
            next(windows, None)


def leftovers(db: Path) -> list[str]:
    return sorted(p.name for p in db.parent.glob(f"{db.name}.lock.*.*.json"))


def test_request_edit_and_hand_over_between_two_sessions(
    qtbot: QtBot,
    person: Person,
    demo_window: MainWindow,
    demo_app: CalTrack,
    demo_db: str,
    clock: FixedClock,
    tmp_path: Path,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    alice, app, db_path = demo_window, demo_app, Path(demo_db)
    with second_window(qtbot, db_path, BOB, clock, tmp_path / "bob") as bob:
        # Bob finds the database in use: who edits, and the ways forward.
        qtbot.waitUntil(bob.banner.isVisible, timeout=WAIT_MS)
        qtbot.waitUntil(
            lambda: "alice on LAB-PC-3 edits since" in bob.banner_text.text(), timeout=WAIT_MS
        )
        assert bob.status.lock_state.text().startswith("Read-only — alice on LAB-PC-3")
        assert "read-only:" not in bob.banner_text.text()
        assert person.button("Notify me", within=bob).isVisible()
        assert not bob.act_new.isEnabled()
        qtbot.waitUntil(lambda: bob.model.rowCount() > 0, timeout=WAIT_MS)
        # The first row is selected on opening: its details show once they are read.
        qtbot.waitUntil(lambda: bob.history is not None, timeout=WAIT_MS)
        screenshot(bob, "lock-in-use")

        person.click_button("Request edit", within=bob)
        qtbot.waitUntil(
            lambda: "waiting for alice to answer" in bob.banner_text.text(), timeout=WAIT_MS
        )
        assert person.button("Withdraw request", within=bob).isEnabled()
        assert len(request_files(db_path)) == 1

        # Alice's window shows the request; she hands over.
        request_box = person.wait_for_box("bob on LAB-PC-7 asks to edit")
        seen_by_bob: list[str] = []

        def read_the_notice(notice: QMessageBox) -> None:
            seen_by_bob.append(notice.text())
            # The window behind the notice already shows what it says.
            assert not bob.banner.isVisible()
            assert bob.act_new.isEnabled()
            person.click_button("OK", within=notice)

        with person.answers(
            QMessageBox,
            read_the_notice,
            where=lambda box: "handed the database over to you" in box.text(),
        ):
            person.click_button("Hand over to bob", within=request_box)

        assert seen_by_bob == [
            "alice on LAB-PC-3 handed the database over to you. You are the editor now."
        ]
        assert bob.status.lock_state.text() == "Editing"
        assert bob.act_new.isEnabled()
        assert bob.app.session.editing
        assert leftovers(db_path) == []

        # Alice now reads; her window names the new editor, never "read-only: ...".
        qtbot.waitUntil(
            lambda: "bob on LAB-PC-7 edits since" in alice.banner_text.text(), timeout=WAIT_MS
        )
        assert alice.banner.isVisible() and not alice.act_new.isEnabled()
        assert alice.status.lock_state.text().startswith("Read-only — bob on LAB-PC-7")
        assert "read-only:" not in alice.status.lock_state.text()
        assert person.button("Request edit", within=alice).isVisible()
        assert not app.session.editing


def test_notify_me_when_the_editor_quits(
    qtbot: QtBot,
    person: Person,
    db_path: Path,
    clock: FixedClock,
    alice: Identity,
    tmp_path: Path,
) -> None:
    with open_caltrack(
        str(db_path), create=True, identity=alice, clock=clock, state_dir=tmp_path / "alice"
    ):
        pass
    with (
        holding_child(db_path, tmp_path / "holder", user="hanna", machine="LAB-PC-5") as holder,
        second_window(qtbot, db_path, BOB, clock, tmp_path / "bob") as bob,
    ):
        qtbot.waitUntil(
            lambda: "hanna on LAB-PC-5 edits since" in bob.banner_text.text(), timeout=WAIT_MS
        )
        person.click_button("Notify me", within=bob)
        assert bob.notify_button.isChecked()

        def start_editing(box: QMessageBox) -> None:
            person.click_button("Yes", within=box)

        with person.answers(
            QMessageBox, start_editing, where=lambda box: "free for editing now" in box.text()
        ):
            holder.order("close")  # Hanna quits CalTrack
        code, _out, err = holder.finish()
        assert code == 0, err
        qtbot.waitUntil(lambda: bob.status.lock_state.text() == "Editing", timeout=WAIT_MS)
        assert not bob.banner.isVisible()
        assert bob.act_new.isEnabled()
        assert not bob.notify_button.isChecked()


def test_withdrawn_request_leaves_the_editor_and_a_declined_one_is_told(
    qtbot: QtBot,
    person: Person,
    window: MainWindow,
    app: CalTrack,
    db_path: Path,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    alice = window
    with second_window(qtbot, db_path, BOB, clock, tmp_path / "bob") as bob:
        qtbot.waitUntil(lambda: bob.request_button.isVisible(), timeout=WAIT_MS)
        person.click_button("Request edit", within=bob)
        person.wait_for_box("bob on LAB-PC-7 asks to edit")

        # Bob changes his mind: the request disappears from Alice's screen and the share.
        person.click_button("Withdraw request", within=bob)
        qtbot.waitUntil(
            lambda: "no longer asks to edit" in alice.status.currentMessage(), timeout=WAIT_MS
        )
        assert not [box for box in alice.findChildren(QMessageBox) if box.isVisible()], (
            "the withdrawn request is still on Alice's screen"
        )
        assert leftovers(db_path) == []
        assert "waiting for" not in bob.banner_text.text()

        # He asks again; this time Alice keeps editing, and Bob is told.
        person.click_button("Request edit", within=bob)
        request_box = person.wait_for_box("bob on LAB-PC-7 asks to edit")
        told: list[str] = []

        def read(notice: QMessageBox) -> None:
            told.append(f"{notice.text()} {notice.informativeText()}")
            person.click_button("OK", within=notice)

        with person.answers(QMessageBox, read, where=lambda box: "keeps editing" in box.text()):
            person.click_button("Keep editing", within=request_box)
        assert told and told[0].startswith("alice on LAB-PC-3 keeps editing for now.")
        assert app.session.editing and alice.act_new.isEnabled()
        qtbot.waitUntil(lambda: person.button("Request edit", within=bob).isVisible())
        assert leftovers(db_path) == []


def test_request_edit_straight_from_the_database_in_use_dialog(
    qtbot: QtBot,
    person: Person,
    qapp: QApplication,
    db_path: Path,
    clock: FixedClock,
    alice: Identity,
    tmp_path: Path,
) -> None:
    with open_caltrack(
        str(db_path), create=True, identity=alice, clock=clock, state_dir=tmp_path / "alice"
    ):
        pass
    with holding_child(db_path, tmp_path / "holder", user="hanna", machine="LAB-PC-5") as holder:
        launcher = Launcher(
            qapp,
            settings=UserSettings(reminders=False),
            settings_path=tmp_path / "settings.json",
            state_dir=tmp_path / "me",
        )
        try:
            with person.answers(
                LockInUseDialog, lambda dialog: person.click_button("Request edit", within=dialog)
            ):
                launcher.open(str(db_path))
            qtbot.waitUntil(lambda: launcher.window is not None, timeout=WAIT_MS)
            win = launcher.window
            assert win is not None
            qtbot.addWidget(win)
            qtbot.waitUntil(
                lambda: "waiting for hanna to answer" in win.banner_text.text(), timeout=WAIT_MS
            )
            state = holder.wait_state(lambda s: bool(s["requests"]), "hanna to see the request")
            assert len(state["requests"]) == 1
            assert len(request_files(db_path)) == 1
            win.close()
        finally:
            launcher.shutdown()
        # Quitting ends the session, and its request with it.
        assert leftovers(db_path) == []


def test_stop_editing_then_start_again_from_the_banner(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack
) -> None:
    person.menu(window, "Database", "Stop editing")
    qtbot.waitUntil(window.banner.isVisible, timeout=WAIT_MS)
    assert window.banner_text.text() == "Read-only — you stopped editing"
    assert window.status.lock_state.text() == "Read-only — you stopped editing"
    assert not window.act_new.isEnabled()
    person.click_button("Start editing", within=window)
    qtbot.waitUntil(lambda: window.status.lock_state.text() == "Editing", timeout=WAIT_MS)
    assert not window.banner.isVisible() and window.act_new.isEnabled()
    assert app.session.editing
