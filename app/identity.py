"""Who is at the keyboard: the OS login and the machine name."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """The user and machine every audit line and lock file names."""

    user: str
    machine: str

    def __str__(self) -> str:
        return f"{self.user} on {self.machine}"


def get_current_user_id() -> Identity:
    """The OS login and machine name of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        # A container or service account without a passwd entry still needs a name.
        user = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    machine = socket.gethostname() or os.environ.get("COMPUTERNAME", "unknown")
    return Identity(user=user, machine=machine)
