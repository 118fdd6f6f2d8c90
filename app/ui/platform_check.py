"""Before Qt starts: can it open a window here? One clear line instead of Qt's abort.

Qt 6.5+ aborts the whole process ("could not load the Qt platform plugin xcb …") when a
library its X11 plugin needs is missing, before any Python code could show a dialog.
So, before the QApplication exists, this module tries to load each of those libraries
itself and, when one is missing, names the Debian packages to install and exits with
``EXIT_NO_WINDOW``. Without any display at all it says so, also in one line.

Imports nothing from Qt: it must run before Qt loads its plugin.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping, Sequence

# The window cannot open (no display, or Qt's X11 libraries missing): see README.
EXIT_NO_WINDOW = 7

# Qt's "Qt for X11 Requirements": the shared library the xcb plugin loads, beside the
# Debian package that ships it. scripts/env.sh's QT_XCB_PACKAGES lists the same
# packages (a test keeps the two in step), so ./caltrack installs exactly these.
XCB_LIBRARIES: Mapping[str, str] = {
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXext.so.6": "libxext6",
    "libXfixes.so.3": "libxfixes3",
    "libXi.so.6": "libxi6",
    "libXrender.so.1": "libxrender1",
    "libfreetype.so.6": "libfreetype6",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def uses_xcb(environ: Mapping[str, str]) -> bool:
    """Will Qt pick its X11 (xcb) platform in this environment (on Linux)?"""
    platform = environ.get("QT_QPA_PLATFORM", "").strip()
    if platform:
        # Qt tries the first of a list such as "xcb;offscreen".
        return platform.split(";")[0].split(":")[0] == "xcb"
    return not environ.get("WAYLAND_DISPLAY")


def missing_packages(libraries: Mapping[str, str] = XCB_LIBRARIES) -> list[str]:
    """The packages whose library cannot be loaded here (each named once, in order)."""
    missing: list[str] = []
    for library, package in libraries.items():
        try:
            ctypes.CDLL(library)
        except OSError:
            if package not in missing:
                missing.append(package)
    return missing


def install_line(packages: Sequence[str]) -> str:
    return (
        "CalTrack cannot open its window: install these packages: "
        f"apt-get install {' '.join(packages)}"
    )


def window_problem(
    environ: Mapping[str, str] | None = None,
    *,
    platform: str | None = None,
    libraries: Mapping[str, str] = XCB_LIBRARIES,
) -> str | None:
    """One line saying why the window cannot open here, or None when it can (or may)."""
    env = os.environ if environ is None else environ
    system = platform if platform is not None else os.uname().sysname
    if system != "Linux" or not uses_xcb(env):
        return None  # Windows, macOS, Wayland, offscreen: Qt's own checks are fine
    if not env.get("DISPLAY"):
        return (
            "CalTrack cannot open its window: no display (DISPLAY is not set). Start it "
            "from a desktop session, or use the command line: caltrack --help"
        )
    missing = missing_packages(libraries)
    return install_line(missing) if missing else None
