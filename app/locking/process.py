"""Processes of this machine: still running, stopped, and what files they hold open."""

from __future__ import annotations

import os
from pathlib import Path

# /proc/PID/stat states, as a sentence reads them.
_STATES = {
    "R": "running",
    "S": "running",  # sleeping: waiting for something, alive
    "D": "running",  # in an uninterruptible wait (often I/O): alive
    "I": "running",
    "T": "stopped",  # SIGSTOP, Ctrl+Z
    "t": "stopped",  # stopped by a debugger
    "Z": "gone",  # a zombie: it has ended (and let go of its files and locks)
    "X": "gone",
}


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


def process_state(pid: int) -> str | None:
    """``running``, ``stopped`` or ``gone`` for a process of this machine; None if unknown.

    Read from /proc (Linux): a stopped process is direct proof that a session is frozen,
    with no heartbeat to wait for. Elsewhere there is no /proc and the answer is None.
    """
    if pid <= 0:
        return None
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    try:
        stat = (proc / str(pid) / "stat").read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return "gone"
    except OSError:
        return None
    # The command name in parentheses may hold spaces or ")"; the state follows the last ")".
    closing = stat.rfind(")")
    if closing < 0 or closing + 2 >= len(stat):
        return None
    return _STATES.get(stat[closing + 2], "running")


def process_has_open(pid: int, path: Path) -> bool:
    """True when process ``pid`` of this machine has ``path`` open (Linux /proc).

    Proof that a pid still belongs to the session that opened ``path``, not to an
    unrelated process that reused the number. PermissionError when the process is another
    user's and this user may not look (then it may not be ended from here either).
    """
    wanted = os.path.realpath(path)
    fds = Path("/proc") / str(pid) / "fd"
    try:
        entries = list(fds.iterdir())
    except FileNotFoundError:
        return False
    for entry in entries:
        try:
            target = os.readlink(entry)
        except FileNotFoundError:
            continue  # closed meanwhile
        if target == wanted:
            return True
    return False
