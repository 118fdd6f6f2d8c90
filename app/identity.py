"""Who is at the keyboard: the OS login and the machine name.

The login comes from the operating system, never from the environment: ``LOGNAME``,
``USER`` and ``USERNAME`` are set by whoever starts the process (``LOGNAME=root
caltrack ...`` once made anyone an admin and wrote "root" into the audit trail). On
POSIX it is the passwd name of the process's real user id; on Windows, the account the
process runs as, asked of the system. A login or machine name with a control character
is refused: it would split the audit trail's lines.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass

from app.errors import CalTrackError
from app.plain_text import control_problem


class IdentityError(CalTrackError):
    """The OS gives a login or machine name CalTrack cannot record faithfully."""

    exit_code = 2


@dataclass(frozen=True)
class Identity:
    """The user and machine every audit line and lock file names."""

    user: str
    machine: str

    def __post_init__(self) -> None:
        for what, value in (("login", self.user), ("machine name", self.machine)):
            if not value.strip():
                raise IdentityError(f"the {what} is empty; CalTrack cannot record who acts")
            problem = control_problem(value)
            if problem:
                raise IdentityError(
                    f"the {what} {value!r} {problem}; CalTrack cannot record it in the "
                    "audit trail — ask the administrator of this PC to rename it"
                )
            if value != value.strip():
                raise IdentityError(
                    f"the {what} {value!r} begins or ends with spaces; CalTrack cannot "
                    "record it faithfully — ask the administrator of this PC to rename it"
                )

    def __str__(self) -> str:
        return f"{self.user} on {self.machine}"


def os_login() -> str:
    """The login of this process's user, as the operating system knows it."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        return _windows_login()
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        # A container user without a passwd entry: its number, in a form no real login
        # can take (':' separates passwd fields), so nobody can pose as it by name.
        return f"uid:{uid}"


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only

    def _windows_login() -> str:
        """``DOMAIN\\user`` is not wanted here: the plain account name, from the system."""
        import ctypes
        from ctypes import wintypes

        size = wintypes.DWORD(257)
        buffer = ctypes.create_unicode_buffer(size.value)
        if not ctypes.windll.advapi32.GetUserNameW(buffer, ctypes.byref(size)):
            raise IdentityError(
                f"Windows did not say who is logged on (error {ctypes.GetLastError()})"
            )
        return buffer.value


def machine_name() -> str:
    """This computer's name (the host name; not taken from the environment either)."""
    return socket.gethostname() or "unknown"


def get_current_user_id() -> Identity:
    """The OS login and machine name of this process."""
    return Identity(user=os_login(), machine=machine_name())
