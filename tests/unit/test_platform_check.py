"""Before Qt starts: one line naming the packages to install, instead of Qt's abort."""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.ui.platform_check import (
    EXIT_NO_WINDOW,
    XCB_LIBRARIES,
    missing_packages,
    uses_xcb,
    window_problem,
)

ROOT = Path(__file__).resolve().parents[2]
X11 = {"DISPLAY": ":0"}


def test_the_library_table_names_the_packages_env_sh_installs() -> None:
    listed = subprocess.run(
        ["bash", "-c", 'source scripts/env.sh && printf "%s\\n" "${QT_XCB_PACKAGES[@]}"'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(listed) == sorted(set(XCB_LIBRARIES.values()))
    assert "libxcb-cursor0" in listed  # the one Qt 6.5+ aborts without


def test_a_library_that_cannot_be_loaded_is_named_by_its_package() -> None:
    table = {"libc.so.6": "libc6", "libcaltrack-nowhere.so.9": "caltrack-nowhere9"}
    assert missing_packages(table) == ["caltrack-nowhere9"]
    line = window_problem(X11, platform="Linux", libraries=table)
    assert line == (
        "CalTrack cannot open its window: install these packages: apt-get install caltrack-nowhere9"
    )


def test_nothing_is_said_when_every_library_loads() -> None:
    assert window_problem(X11, platform="Linux", libraries={"libc.so.6": "libc6"}) is None


def test_this_machine_has_what_qt_needs_on_x11() -> None:
    # ./run-tests installs QT_XCB_PACKAGES for the journeys: the real table loads here.
    assert missing_packages() == []


def test_only_the_x11_platform_is_checked() -> None:
    assert uses_xcb({"DISPLAY": ":0"})
    assert uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"})
    assert not uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"})
    assert not uses_xcb({"WAYLAND_DISPLAY": "wayland-0"})
    gone = {"libcaltrack-nowhere.so.9": "caltrack-nowhere9"}
    assert (
        window_problem({"QT_QPA_PLATFORM": "offscreen"}, platform="Linux", libraries=gone) is None
    )
    assert window_problem(X11, platform="Darwin", libraries=gone) is None


@pytest.mark.slow  # starts the application in a child process
def test_the_window_without_a_display_says_so_in_one_line(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "CALTRACK_DB")
    }
    # Nothing of the user's is touched: the check comes before any file is opened.
    env |= {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    run = subprocess.run(
        [sys.executable, "-m", "app"], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == EXIT_NO_WINDOW
    assert run.stdout == ""
    assert run.stderr.splitlines() == [
        "CalTrack cannot open its window: no display (DISPLAY is not set). Start it from a "
        "desktop session, or use the command line: caltrack --help"
    ]
    assert not (tmp_path / "data").exists()


def _loaded_from(library: str) -> Path:
    """The file this process loads for ``library`` (as the dynamic linker finds it)."""
    ctypes.CDLL(library)
    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split()[-1]
        if Path(path).name.startswith(library.split(".so")[0] + ".so"):
            return Path(path)
    raise AssertionError(f"{library} is not mapped")


def _can_hide_files() -> bool:
    if not shutil.which("unshare") or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    return probe.returncode == 0


@pytest.mark.slow  # starts the application in a child process
@pytest.mark.skipif(not _can_hide_files(), reason="needs root to hide a library in a namespace")
def test_the_real_window_on_a_machine_without_xcb_cursor_names_what_to_install(
    tmp_path: Path,
) -> None:
    # A private mount namespace where libxcb-cursor and libxcb-icccm cannot be loaded
    # (an empty file over each, seen only by this child): the machine of finding 1.
    hidden = [_loaded_from("libxcb-cursor.so.0"), _loaded_from("libxcb-icccm.so.4")]
    hide = " && ".join(f"mount --bind /dev/null {shlex.quote(str(p))}" for p in hidden)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "CALTRACK_DB")}
    env |= {"DISPLAY": ":0", "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    env.pop("WAYLAND_DISPLAY", None)
    run = subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"{hide} && exec {shlex.quote(sys.executable)} -m app",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == EXIT_NO_WINDOW, run.stderr
    assert run.stderr.splitlines() == [
        "CalTrack cannot open its window: install these packages: "
        "apt-get install libxcb-cursor0 libxcb-icccm4"
    ]
    assert "Qt platform plugin" not in run.stderr
    assert not (tmp_path / "data").exists()
