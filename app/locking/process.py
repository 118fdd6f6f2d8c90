"""Whether a process of this machine is still running."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True when ``pid`` runs here, or when that cannot be known (not POSIX)."""
    if os.name != "posix":
        return True  # unknown: callers fall back to watching the heartbeat
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
