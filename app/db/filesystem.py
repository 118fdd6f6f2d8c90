"""Where a database file lives: local disk or a network share.

SQLite's WAL mode needs shared memory, which network filesystems do not provide, and
its locking is weaker there; the journal policy in ``engine`` depends on this answer.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

NETWORK_FS_TYPES = frozenset(
    {
        "cifs",
        "smb",
        "smb2",
        "smb3",
        "smbfs",
        "nfs",
        "nfs4",
        "afs",
        "9p",
        "ncpfs",
        "fuse.smbnetfs",
        "fuse.sshfs",
        "fuse.rclone",
        "fuse.gvfsd-fuse",
        "davfs",
        "fuse.davfs2",
        "ceph",
        "glusterfs",
        "fuse.glusterfs",
        "lustre",
    }
)


@dataclass(frozen=True)
class Location:
    """Where a path lives and how that was decided."""

    is_network: bool
    fs_type: str
    mount_point: str

    def describe(self) -> str:
        kind = "network share" if self.is_network else "local disk"
        return f"{kind} ({self.fs_type} at {self.mount_point})"


def _unescape_mount_field(field: str) -> str:
    # /proc/mounts escapes space, tab, newline and backslash as octal.
    return (field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")).replace(
        "\\134", "\\"
    )


def _linux_location(path: Path, mounts_file: Path) -> Location:
    try:
        lines = mounts_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return Location(False, "unknown", "/")
    target = str(path)
    best = Location(False, "unknown", "/")
    best_len = -1
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = _unescape_mount_field(parts[1])
        fs_type = parts[2]
        prefix = mount_point.rstrip("/") + "/"
        if (target == mount_point or target.startswith(prefix) or mount_point == "/") and len(
            mount_point
        ) > best_len:
            best_len = len(mount_point)
            best = Location(fs_type in NETWORK_FS_TYPES, fs_type, mount_point)
    return best


def _windows_location(path: Path) -> Location:
    text = str(path)
    if text.startswith(("\\\\", "//")):
        return Location(True, "unc", text[:2])
    drive = os.path.splitdrive(text)[0]
    if drive:
        import ctypes

        drive_remote = 4  # DRIVE_REMOTE from GetDriveTypeW
        kind = ctypes.windll.kernel32.GetDriveTypeW(drive + "\\")  # type: ignore[attr-defined,unused-ignore]
        return Location(kind == drive_remote, "remote" if kind == drive_remote else "local", drive)
    return Location(False, "local", "")


def detect_location(path: Path, *, mounts_file: Path = Path("/proc/mounts")) -> Location:
    """Classify the folder holding ``path`` as local disk or network share."""
    resolved = path.resolve()
    if sys.platform == "win32":
        return _windows_location(resolved)
    return _linux_location(resolved, mounts_file)
