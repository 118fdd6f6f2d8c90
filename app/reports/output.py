"""Writing a report or labels to the file the user named: checked first, then atomic.

The path is checked before any work (a missing folder, a folder in place of a file, a
folder that is not writable, an unknown or mismatched extension), and the file is
written through a temp file in the same folder: a failure leaves no file behind and an
existing file untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from app.errors import StorageError, UsageError
from app.reports.csv_report import write_csv
from app.services.report_model import Report
from app.storage.atomic import atomic_writer

FORMATS = ("pdf", "csv", "xlsx")
# About 300 A4 pages and 20 s of layout: beyond, nobody reads a printout, and Qt's text
# layout needs memory in proportion (about 35 MB per thousand rows).
MAX_PDF_ROWS = 20_000
# Failures of the disk or share, not of the path the user chose.
_STORAGE_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EDQUOT}


def format_for(path: Path, fmt: str | None) -> str:
    """The output format: ``fmt`` if given (it must match the extension), else the extension."""
    ext = path.suffix.lower().lstrip(".")
    if fmt is not None:
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        if ext != fmt:
            raise UsageError(
                f"{path.name} does not end in .{fmt}; name the file {path.stem}.{fmt} "
                f"or choose --format {ext if ext in FORMATS else 'to match'}"
            )
        return fmt
    if ext not in FORMATS:
        raise UsageError(
            f"cannot tell the format of {path.name}: end the file name in "
            f"{', '.join('.' + f for f in FORMATS)} or give --format"
        )
    return ext


def check_output_path(path: Path) -> Path:
    """Refuse a path that cannot become the output file, before any work is done."""
    target = Path(os.path.abspath(path))
    if target.is_dir():
        raise UsageError(f"{path} is a folder; give the path of a file to write")
    folder = target.parent
    if not folder.exists():
        raise UsageError(f"folder {folder} does not exist; create it first or choose another")
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; choose a file inside a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write into {folder} (no permission); choose another folder")
    return target


@contextlib.contextmanager
def _translated(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as exc:
        if exc.errno in _STORAGE_ERRNOS:
            raise StorageError(
                f"could not write {path}: {exc.strerror or exc}; nothing was written "
                "(free some space or check the share) and try again"
            ) from None
        raise UsageError(
            f"cannot write {path}: {exc.strerror or exc}; choose another file or folder"
        ) from None


def write_atomically(path: Path, write: Callable[[IO[bytes]], None]) -> Path:
    """Run ``write`` on a temp file beside ``path`` and rename it into place."""
    target = check_output_path(path)
    with _translated(target), atomic_writer(target) as handle:
        write(handle)
    return target


# From this many rows a PDF is rendered in a child process when the caller has a window:
# Qt's layout holds Python's lock, and a worker thread would stall the event loop.
ISOLATE_PDF_ROWS = 2000


class RenderCancelled(Exception):
    """The caller cancelled a PDF being rendered in a child process; nothing was written."""


def write_report(
    report: Report,
    path: Path,
    fmt: str | None = None,
    *,
    responsive: bool = False,
    cancelled: Callable[[], bool] | None = None,
) -> Path:
    """Render ``report`` as ``fmt`` (or as the extension says) into ``path``.

    ``responsive``: a window is waiting; a long PDF is rendered in a child process that
    ``cancelled`` can stop (RenderCancelled, and nothing is written).
    """
    chosen = format_for(path, fmt)
    check_output_path(path)
    rows = report.row_count
    if chosen == "pdf" and rows > MAX_PDF_ROWS:
        raise UsageError(
            f"the report has {rows:,} rows, too many to print (a PDF takes at most "
            f"{MAX_PDF_ROWS:,}); narrow it (a shorter period, one user or entity) or "
            "write CSV or XLSX"
        )
    # Qt and openpyxl are imported when used: every CLI command loads this module.
    if chosen == "pdf":
        # Rendered before the file is opened: nothing half-done.
        if responsive and rows >= ISOLATE_PDF_ROWS:
            from app.reports.pdf_process import render_pdf_isolated

            isolated = render_pdf_isolated(report, cancelled=cancelled)
            if isolated is None:
                raise RenderCancelled(str(path))
            data = isolated
        else:
            from app.reports.pdf import render_pdf

            data = render_pdf(report)

        def write_pdf(handle: IO[bytes]) -> None:
            handle.write(data)

        return write_atomically(path, write_pdf)
    if chosen == "csv":
        return write_atomically(path, lambda handle: write_csv(report, handle))
    from app.reports.xlsx_report import too_many_rows, write_xlsx

    problem = too_many_rows(report)
    if problem:
        raise UsageError(f"{problem}; write CSV instead, or narrow the report")
    return write_atomically(path, lambda handle: write_xlsx(report, handle))
