"""Helpers for the fault and lock tests: other OS users, small disks, lock-holding children.

Everything here is real: children are separate ``python`` processes, "another user" is
another uid (``setpriv``), "a full disk" is a small tmpfs. Tests that need root for that
skip with the reason when it is not available.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import (
    CHILD_TIMEOUT_S,
    child_env,
    cli_command,
    popen_python,
    wait_for_file,
)

NOBODY = 65534


# -- folders another user can reach ----------------------------------------------------


@contextlib.contextmanager
def shared_folder(mode: int = 0o755) -> Iterator[Path]:
    """A fresh folder under /tmp that other users can reach (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="caltrack-", dir="/tmp"))
    try:
        folder.chmod(mode)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- acting as another OS user ---------------------------------------------------------


def as_user_prefix(uid: int) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def user_env(home: Path, login: str | None) -> dict[str, str]:
    """The environment of a child run as another user: its own home and XDG folders."""
    env = child_env(home)
    env["HOME"] = str(home)
    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        env.pop(name, None)
    if login is not None:
        env["USER"] = env["LOGNAME"] = login
    return env


class OtherUser:
    """Runs CalTrack children as another uid, with a home folder of its own."""

    def __init__(self, uid: int, home: Path, login: str | None) -> None:
        self.uid = uid
        self.home = home
        self.login = login

    def run(
        self, argv: list[str], *, timeout: float = CHILD_TIMEOUT_S
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*as_user_prefix(self.uid), *argv],
            cwd=self.home,
            env=user_env(self.home, self.login),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cli(self, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(cli_command(db, *args))

    def python(self, code: str, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-c", code, *args])


_PROBED: dict[int, str | None] = {}


@contextlib.contextmanager
def other_user(uid: int = NOBODY, login: str | None = "nobody") -> Iterator[OtherUser]:
    """Another OS user with a home of its own, or a skip saying why there is none here."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("acting as another OS user needs root (the tests run as root in CI)")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    with shared_folder(0o755) as home:
        os.chown(home, uid, uid)
        user = OtherUser(uid, home, login)
        if uid not in _PROBED:
            probe = user.python("import app.cli.main, os; print(os.getuid())")
            ok = probe.returncode == 0 and probe.stdout.strip() == str(uid)
            _PROBED[uid] = None if ok else probe.stderr.strip()[-300:]
        reason = _PROBED[uid]
        if reason is not None:
            pytest.skip(f"uid {uid} cannot run this project's Python ({sys.executable}): {reason}")
        yield user


@contextlib.contextmanager
def new_os_login(prefix: str) -> Iterator[tuple[int, str]]:
    """A real OS account made for the test (``useradd``), removed afterwards: its uid
    and login. The name carries this process's id so parallel runs do not collide."""
    if os.name != "posix" or os.geteuid() != 0:
        pytest.skip("creating an OS user needs root (the tests run as root in CI)")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd/userdel (passwd) are not installed")
    import pwd

    login = f"{prefix}{os.getpid()}"[:31]
    made = subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", login],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"useradd {login} failed: {made.stderr.strip()}")
    try:
        yield pwd.getpwnam(login).pw_uid, login
    finally:
        subprocess.run(["userdel", login], capture_output=True, check=False)


def open_to_everyone(folder: Path) -> None:
    """Let any user write the database files in ``folder`` (as a shared folder would)."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


# -- a small disk ----------------------------------------------------------------------


@contextlib.contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` on ``folder`` (root); always unmounted afterwards."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        done = subprocess.run(["umount", str(folder)], capture_output=True, check=False)
        if done.returncode != 0:  # something still has a file open: detach it anyway
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def free_bytes(folder: Path) -> int:
    stats = os.statvfs(folder)
    return stats.f_bavail * stats.f_frsize


# -- a child process that holds the editor lock ---------------------------------------

# Opens the database as its editor (heartbeat as given) and obeys files in ``control``:
# ``write`` (an asset tag) saves an instrument, ``close`` closes. It reports each edit
# request its ``pending_request`` returns, and how often it polled, in state.json.
HOLDER = r"""
import json, os, sys, time
from pathlib import Path
from app.bootstrap import open_caltrack
from app.errors import CalTrackError
from app.identity import Identity
from app.services.dto import InstrumentInput
from app.services.editing import EditingOptions

db, control, user, machine, heartbeat = sys.argv[1:6]
control = Path(control)

def put(name, data):
    tmp = control / (name + ".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(control / name)

app = open_caltrack(
    db, identity=Identity(user, machine), editing=EditingOptions(heartbeat_s=float(heartbeat))
)
if not app.session.editing:
    sys.exit("the holder is not the editor: " + str(app.session.read_only_reason))
put("ready.json", {"pid": os.getpid(), "epoch": app.session.epoch})
seen = []
polls = 0
while True:
    request = app.session.pending_request()
    if request is not None:
        seen.append({"request_id": request.request_id, "user": request.user,
                     "machine": request.machine, "message": request.message})
    polls += 1
    put("state.json", {"polls": polls, "requests": seen})
    order = control / "write"
    if order.exists():
        tag = order.read_text()
        try:
            app.instruments.add(InstrumentInput(asset_tag=tag, description="saved by the holder"))
        except CalTrackError as exc:
            put("result.json", {"error": type(exc).__name__, "message": str(exc)})
            app.close()
            sys.exit(exc.exit_code)
        order.unlink()
        put("result.json", {"saved": tag})
    if (control / "close").exists():
        app.close()
        sys.exit(0)
    time.sleep(0.02)
"""


class Holder:
    """A running HOLDER child: the editor of ``db`` in another process."""

    def __init__(self, proc: subprocess.Popen[str], control: Path) -> None:
        self.proc = proc
        self.control = control
        self.ready: dict[str, Any] = json.loads((control / "ready.json").read_text())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.control / "state.json").read_text())
        return data

    def order(self, name: str, text: str = "") -> None:
        tmp = self.control / f"{name}.order"
        tmp.write_text(text)
        tmp.replace(self.control / name)

    def finish(self) -> tuple[int, str, str]:
        """Wait for the child to exit by itself; (returncode, stdout, stderr)."""
        out, err = self.proc.communicate(timeout=CHILD_TIMEOUT_S)
        return self.proc.returncode, out, err

    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.control / "result.json").read_text())
        return data

    def wait_state(self, done: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """Poll state.json until ``done(state)``; fail if the child dies first."""
        deadline = time.monotonic() + CHILD_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                _, err = self.proc.communicate()
                raise AssertionError(f"holder exited ({self.proc.returncode}) {what}:\n{err}")
            with contextlib.suppress(FileNotFoundError, ValueError):
                state = self.state()
                if done(state):
                    return state
            if time.monotonic() > deadline:
                raise AssertionError(f"holder never got to: {what}")
            time.sleep(0.02)

    def kill(self, signum: int = signal.SIGKILL) -> None:
        os.kill(self.proc.pid, signum)
        if signum in (signal.SIGKILL, signal.SIGTERM):
            self.proc.communicate(timeout=CHILD_TIMEOUT_S)


@contextlib.contextmanager
def holding_child(
    db: Path, control: Path, *, user: str, machine: str, heartbeat_s: float = 0.2
) -> Iterator[Holder]:
    """Start a HOLDER child and wait until it is the editor; killed at the end in any case."""
    control.mkdir(parents=True, exist_ok=True)
    proc = popen_python(
        HOLDER, str(db), str(control), user, machine, str(heartbeat_s), cwd=db.parent
    )
    try:
        wait_for_file(control / "ready.json", proc)
        wait_for_file(control / "state.json", proc)
        holder = Holder(proc, control)
        yield holder
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.communicate(timeout=CHILD_TIMEOUT_S)


def wait_until(done: Callable[[], bool], what: str, timeout: float = CHILD_TIMEOUT_S) -> None:
    """Poll ``done()`` (generous deadline: a hang fails, a slow machine does not)."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.02)


def stderr_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]
