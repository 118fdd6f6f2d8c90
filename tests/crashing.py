"""A CalTrack process that dies the way a crash kills it: SIGKILL, nothing closed.

It leaves what a real crash leaves (its run marker, the editor lock's holder record
not marked released), so the next start's crash check is tested against the real thing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def killed_while_open(db: Path, state_dir: Path, *, create: bool = False) -> int:
    """Start a process that opens ``db`` as its editor, kill -9 it; its pid."""
    code = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from app.bootstrap import open_caltrack
        app = open_caltrack({str(db)!r}, create={create!r}, state_dir=Path({str(state_dir)!r}))
        print("editing" if app.session.editing else "read-only", flush=True)
        sys.stdin.readline()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    with child:  # closes its pipes, whatever happens
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "editing"
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
    return child.pid
