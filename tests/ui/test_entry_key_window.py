"""Record calibration when the server's answer to COMMIT is lost: Save again records it once.

Staged for real: the window talks to the server through a small relay on a unix socket
(as a network link would carry it). The relay passes the save to the server, lets the
server commit it, and then drops the connection instead of passing the server's "COMMIT"
back — the one case where the record is in the database but the window cannot know.
The dialog keeps the entry and says to refresh first; a person who clicks Save anyway
gets "already saved", and the calibration is recorded once.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.clock import FixedClock
from app.identity import Identity
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.main_window import MainWindow
from tests.pg_server import PgServer
from tests.ui.conftest import Shown
from tests.ui.opened import opened
from tests.ui.server_window import TAG, WAIT_MS, lab_window_on

# What the server sends when a COMMIT went through: CommandComplete, tag "COMMIT".
COMMITTED = b"C\x00\x00\x00\x0bCOMMIT\x00"
State = dict[str, bool]  # one connection's: inserted a record, then sent its COMMIT


class AnswerLosingRelay:
    """A unix-socket relay to the server that, once armed, loses the answer to the COMMIT
    of the next transaction that inserted a calibration record (after the server sent it:
    the record is committed)."""

    def __init__(self, server_socket: Path) -> None:
        self.server_socket = server_socket
        self.folder = Path(tempfile.mkdtemp(prefix="ctrelay"))  # short: a socket path is
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # ≤ 107 bytes
        self.listener.bind(str(self.folder / server_socket.name))
        self.listener.listen(16)
        self.armed = threading.Event()
        self.lost = threading.Event()
        self._stopped = False
        threading.Thread(target=self._accept, name="relay", daemon=True).start()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(str(self.server_socket))
            state = {"inserted": False, "committing": False}
            threading.Thread(
                target=self._to_server, args=(client, server, state), daemon=True
            ).start()
            threading.Thread(
                target=self._to_client, args=(server, client, state), daemon=True
            ).start()

    def _to_server(
        self, client: socket.socket, server: socket.socket, state: dict[str, bool]
    ) -> None:
        try:
            while data := client.recv(65536):
                if b"INSERT INTO calibration_record" in data:
                    state["inserted"] = True
                if state["inserted"] and b"COMMIT" in data and self.armed.is_set():
                    state["committing"] = True
                server.sendall(data)
        except OSError:
            pass
        finally:
            _close(server)

    def _to_client(
        self, server: socket.socket, client: socket.socket, state: dict[str, bool]
    ) -> None:
        try:
            while data := server.recv(65536):
                if state["committing"] and COMMITTED in data:
                    # Committed on the server; the link goes down before the answer arrives.
                    self.armed.clear()
                    self.lost.set()
                    break
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)
            _close(server)

    def close(self) -> None:
        self._stopped = True
        _close(self.listener)
        shutil.rmtree(self.folder, ignore_errors=True)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@pytest.fixture
def relay(pg_server: PgServer) -> Iterator[AnswerLosingRelay]:
    (server_socket,) = pg_server.socket_dir.glob(".s.PGSQL.*[0-9]")
    link = AnswerLosingRelay(server_socket)
    yield link
    link.close()


@pytest.fixture
def lab_window(
    qtbot: QtBot,
    pg_url: str,
    relay: AnswerLosingRelay,
    pg_server: PgServer,
    clock: FixedClock,
    alice: Identity,
    tmp_path: Path,
) -> Iterator[MainWindow]:
    url = pg_url.replace(f"host={pg_server.socket_dir}", f"host={relay.folder}")
    if url == pg_url:
        raise AssertionError(f"the relay is not in {pg_url}")
    yield from lab_window_on(qtbot, url, clock, alice, tmp_path / "state")


def save(dialog: CalibrationDialog) -> None:
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()


def test_save_again_after_the_answer_to_commit_was_lost_records_the_calibration_once(
    qtbot: QtBot, relay: AnswerLosingRelay, lab_window: MainWindow, shown: Shown
) -> None:
    app = lab_window.app
    lab_window.new_calibration()
    dialog = opened(qtbot, CalibrationDialog)
    dialog.certificate.setText("C-LOST-ANSWER")
    for col, text in enumerate(("100", "100.2", "", "0.5", "bar")):
        item = dialog.points.item(0, col)
        assert item is not None
        item.setText(text)

    relay.armed.set()
    save(dialog)
    qtbot.waitUntil(lambda: dialog.banner.isVisible(), timeout=WAIT_MS)
    assert relay.lost.is_set()
    assert "refresh to see whether the change is there" in dialog.banner.text()
    assert dialog.isVisible() and dialog.certificate.text() == "C-LOST-ANSWER"
    failures = shown.titles()
    assert len(failures) == 1
    # The server had committed it: the record is there although the window was not told.
    (first,) = app.calibrations.history(TAG)
    assert first.certificate_number == "C-LOST-ANSWER"

    save(dialog)  # the person does not refresh first
    qtbot.waitUntil(lambda: not shiboken6.isValid(dialog), timeout=WAIT_MS)
    assert [r.id for r in app.calibrations.history(TAG)] == [first.id]
    creates = [e for e in app.audit.for_entity("calibration", first.id) if e.action == "create"]
    assert len(creates) == 1
    message = lab_window.status.currentMessage()
    assert message.startswith("Already saved:") and f"#{first.id}" in message
    assert shown.titles() == failures  # no second message box
