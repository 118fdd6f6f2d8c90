# Shared set-up for ./caltrack and ./run-tests (sourced, not run).
# Creates .venv on first use and reinstalls when pyproject.toml changes; installs the
# few Debian packages Qt and the tests need when they are missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CALTRACK_VENV:-$ROOT/.venv}"
# Compiled modules are cached in __pycache__ (ignored by git), so each process the app or
# the tests start (a CLI run, a second user) does not compile CalTrack again. Some images
# switch that off machine-wide.
unset PYTHONDONTWRITEBYTECODE

find_python() {
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "CalTrack needs Python 3.11 or newer; install it (apt-get install python3) and retry" >&2
  return 1
}

# Debian packages: Qt's runtime libraries (offscreen and X11), Xvfb for screenshots,
# the sqlite3 CLI the tests use to tamper with a database like an outsider would.
ensure_system_packages() {
  local missing=()
  local -a wanted=("$@")
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: cannot install ${missing[*]} (no apt-get); install them by hand if Qt fails to start" >&2
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "note: run as root or install: ${missing[*]}" >&2
      return 0
    fi
  fi
  echo "installing system packages: ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
  local extras="$1"
  local stamp="$VENV/.caltrack-installed"
  local want
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$extras"
  if [ ! -x "$VENV/bin/python" ]; then
    local python
    python="$(find_python)"
    echo "creating the Python environment in $VENV (first run only)" >&2
    "$python" -m venv "$VENV"
  fi
  local have=""
  [ -f "$stamp" ] && have="$(cat "$stamp")"
  # An environment with the test tools also runs the app: no reinstall to go back and forth.
  if [ "$have" != "$want" ] && ! { [ -z "$extras" ] && [ "${have%-*}-" = "$want" ]; }; then
    echo "installing CalTrack and its dependencies" >&2
    local target="$ROOT"
    [ -n "$extras" ] && target="$ROOT[$extras]"
    # pip and the build backend are chatty even with -q: their output goes to a log,
    # shown only when the install fails.
    local log="$VENV/install.log"
    if ! {
      "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip &&
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$target"
    } >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      echo "installing CalTrack failed (whole log: $log); check the network or the package index and retry" >&2
      return 1
    fi
    echo "$want" >"$stamp"
  fi
}

QT_RUNTIME_PACKAGES=(libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0)
# What Qt's xcb platform plugin loads on X11 (Qt's "Qt for X11 Requirements"): without
# libxcb-cursor0 and friends Qt 6.5+ aborts before any window. Kept in step with
# app/ui/platform_check.py, which names the missing ones when they cannot be installed.
QT_XCB_PACKAGES=(libx11-6 libx11-xcb1 libxext6 libxfixes3 libxi6 libxrender1 libfreetype6
  libxcb1 libxcb-cursor0 libxcb-glx0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1
  libxcb-xfixes0 libxcb-xinerama0 libxcb-xkb1 libxkbcommon-x11-0)
