"""What a path that is not a regular file is, in words a user knows."""

from __future__ import annotations

import stat


def kind_of(mode: int) -> str:
    """ "a folder", "a named pipe (FIFO)", "a device"... for a ``st_mode`` not a file."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"
