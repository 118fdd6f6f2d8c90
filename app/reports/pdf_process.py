"""PDF rendering in a child process, for reports big enough to freeze a window.

Qt lays out a QTextDocument while holding Python's lock, so a long report rendered in a
worker thread still stalls the window's event loop for seconds. A child process has a
lock of its own: the window stays responsive, and Cancel can stop the work for real.
The report goes to the child as a pickle on stdin (it is plain frozen dataclasses; the
child is this same program, so nothing untrusted is unpickled); the PDF comes back on
stdout.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from app.errors import StorageError
from app.services.report_model import Report

POLL_S = 0.1
TIMEOUT_S = 30 * 60.0


def render_pdf_isolated(
    report: Report,
    *,
    cancelled: Callable[[], bool] | None = None,
    timeout_s: float = TIMEOUT_S,
) -> bytes | None:
    """The report as PDF bytes, rendered by a child process; None when cancelled."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Output through temporary files, not pipes: a big PDF would fill a pipe while we
    # are only polling for the child's end.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "app.reports.pdf_process"],
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=err,
            env=env,
        )
        try:
            if child.stdin is None:  # stdin=PIPE always gives one
                raise StorageError("the PDF renderer started without a pipe to it")
            child.stdin.write(pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL))
            child.stdin.close()
            deadline = time.monotonic() + timeout_s
            while child.poll() is None:
                if cancelled is not None and cancelled():
                    return None
                if time.monotonic() > deadline:
                    raise StorageError("rendering the PDF took too long and was stopped")
                time.sleep(POLL_S)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        if child.returncode != 0:
            err.seek(0)
            lines = err.read().decode("utf-8", "replace").strip().splitlines()
            detail = lines[-1] if lines else f"exit code {child.returncode}"
            raise StorageError(f"the PDF could not be rendered: {detail}")
        out.seek(0)
        return out.read()


def main() -> int:
    """The child: a pickled Report on stdin, the PDF on stdout."""
    from app.reports.pdf import render_pdf

    report = pickle.loads(sys.stdin.buffer.read())
    if not isinstance(report, Report):
        sys.stderr.write("not a report\n")
        return 2
    sys.stdout.buffer.write(render_pdf(report))
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
