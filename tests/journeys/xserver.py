"""A private X server (Xvfb) for the journey tests: one per test run, on a free display.

The journeys click and type on the real xcb platform, as a person's desktop would run
CalTrack; the display number is picked by Xvfb itself (``-displayfd``), so two runs on
one machine never share a screen.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

SCREEN = "1600x1000x24"


class XServerMissing(RuntimeError):
    """Xvfb is not installed (./run-tests installs it)."""


@dataclass
class XServer:
    """A running Xvfb and the DISPLAY name that reaches it."""

    process: subprocess.Popen[bytes]
    display: str

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_xvfb(screen: str = SCREEN) -> XServer:
    """Starts Xvfb on a display it chooses and waits until it accepts clients."""
    binary = shutil.which("Xvfb")
    if binary is None:
        raise XServerMissing("Xvfb is not installed: apt-get install xvfb (./run-tests does it)")
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen(
        # -terminate: the server ends with its last client, so it never outlives the run.
        [
            binary,
            "-displayfd",
            str(write_fd),
            "-screen",
            "0",
            screen,
            "-nolisten",
            "tcp",
            "-terminate",
        ],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    # Xvfb writes the display number once it is ready for clients (and closes on exit).
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().strip()
    if not number:
        process.wait(timeout=10)
        raise XServerMissing(f"Xvfb did not start (exit code {process.returncode})")
    return XServer(process=process, display=f":{number.decode()}")
