"""Files the user names: where to propose them, how to show their path, and the seams
tests replace (the Save and Print dialogs, "replace the file?", opening a file).

Shared by every dialog that writes a file (reports, labels, the export); the seams are
module attributes so a test replaces each in one place.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QFileDialog, QLineEdit, QWidget

from app.ui import messages
from app.ui.modal import run_modal

# -- the seams tests replace ---------------------------------------------------------


def _ask_save_path(parent: QWidget, title: str, proposed: str, filters: str) -> str:
    path, _filter = QFileDialog.getSaveFileName(parent, title, proposed, filters)
    return path


def _ask_printer(parent: QWidget, printer: QPrinter) -> bool:
    dialog = QPrintDialog(printer, parent)
    return run_modal(dialog) == QDialog.DialogCode.Accepted


def _confirm_replace(parent: QWidget, path: Path) -> bool:
    answer = messages.ask(
        parent,
        "Replace the file?",
        f"{path.name} already exists in {path.parent}. Replace it?",
        messages.Button.Yes | messages.Button.No,
        messages.Button.No,
    )
    return answer == messages.Button.Yes


def _open_file(path: Path) -> None:
    QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))


ask_save_path: Callable[[QWidget, str, str, str], str] = _ask_save_path
ask_printer: Callable[[QWidget, QPrinter], bool] = _ask_printer
confirm_replace: Callable[[QWidget, Path], bool] = _confirm_replace
open_file: Callable[[Path], None] = _open_file


def make_printer() -> QPrinter:
    """A printer at print resolution (what the Print dialog then configures)."""
    return QPrinter(QPrinter.PrinterMode.HighResolution)


# -- where files go ------------------------------------------------------------------


def documents_folder() -> Path:
    """Where files are proposed the first time: the user's Documents folder.

    A fresh account often has none yet (Qt names it all the same), and a folder that
    does not exist is refused at Save: it is created here, and when it cannot be, the
    home folder is proposed instead.
    """
    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    if found:
        folder = Path(found)
        with contextlib.suppress(OSError):  # then the home folder
            folder.mkdir(exist_ok=True)  # inside an existing home only: no parents
        if folder.is_dir():
            return folder
    return Path.home()


def proposed_folder(remembered: str) -> Path:
    """The folder last saved to while it still exists, else ``documents_folder()``."""
    if remembered and Path(remembered).is_dir():
        return Path(remembered)
    return documents_folder()


# The File field shows a whole path up to this wide (a 1280-pixel screen keeps room).
MAX_PATH_FIELD_PX = 820


def show_whole_path(field: QLineEdit) -> None:
    """Widen ``field`` to show its whole text (up to MAX_PATH_FIELD_PX), from the start.

    A path field shows its end by default: the folder, what people check, was cut off.
    """
    text = field.text()
    wanted = field.fontMetrics().horizontalAdvance(text) + 24
    field.setMinimumWidth(min(max(wanted, 320), MAX_PATH_FIELD_PX))
    field.setToolTip(text)
    field.setCursorPosition(0)


def safe_file_part(text: str) -> str:
    """``text`` usable in a file name on every system (asset tags may hold / or :)."""
    return re.sub(r"[^\w.-]+", "_", text.strip()).strip("._") or "report"
