"""Background jobs a dialog waits for: the one busy bar, and a job Cancel can stop.

``BusyBar`` is the one widget every dialog shows while a worker runs (reports, labels,
the import wizard, the export): what is going on, how far it got when that is known,
and a button that stops waiting. ``CancellableJob`` and ``write_cancellable`` make
Cancel safe for a file being written: it is written under a hidden partial name and
only renamed into place if the job was not cancelled by then, so a cancelled job leaves
no file behind.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.errors import CalTrackError, UsageError
from app.storage.atomic import fsync_directory
from app.storage.sharing import replace_file


class BusyBar(QWidget):
    """What is running, how far it got, and a button that stops waiting for it.

    The button's text and tip say what stopping means where the bar is shown (Cancel
    writes nothing; Stop drops a check). It emits ``stop_clicked`` and calls ``on_stop``.
    """

    stop_clicked = Signal()

    def __init__(
        self,
        on_stop: Callable[[], None] | None = None,
        *,
        button: str = "&Stop",
        tip: str = "Stop waiting for the check (a check never writes anything)",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setAccessibleName("What is being done")
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Progress bar")
        self.bar.setMaximumWidth(260)
        self.bar.setTextVisible(False)
        self.button = QPushButton(button)
        self.button.setToolTip(tip)
        self.button.clicked.connect(self.stop_clicked)
        if on_stop is not None:
            self.stop_clicked.connect(on_stop)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.button)
        self.hide()

    def start(self, text: str, *, stoppable: bool = True) -> None:
        """Show ``text`` with a busy bar (no count yet) and, when ``stoppable``, the button."""
        self.label.setText(text)
        self.bar.setRange(0, 0)  # busy until the first count arrives
        self.button.setVisible(stoppable)
        self.button.setEnabled(True)
        self.show()

    def say(self, text: str) -> None:
        """Say what is being done now."""
        self.label.setText(text)
        # Painted now: the next step may keep the event loop from painting for a while.
        self.label.repaint()

    def advance(self, text: str, done: int, total: int) -> None:
        """Say what is being done and how far it got (``total`` 0: not known)."""
        self.label.setText(text)
        if total:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        else:
            self.bar.setRange(0, 0)

    def finish(self) -> None:
        """Done (or stopped): the bar goes."""
        self.hide()


class CancellableJob:
    """One run of a report or labels; Cancel wins unless the result was committed.

    The worker calls ``commit`` for the one step that makes the result visible (the
    rename of the finished file, the start of printing); the GUI calls ``cancel``.
    Both hold the same lock, so exactly one of them wins.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._committed = False

    @property
    def cancelled(self) -> bool:
        with self._lock:
            return self._cancelled

    def cancel(self) -> bool:
        """Cancel; False when it is too late (the result was committed already)."""
        with self._lock:
            if self._committed:
                return False
            self._cancelled = True
            return True

    def commit(self, action: Callable[[], None] = lambda: None) -> bool:
        """Run ``action`` (quick) and mark the job committed, unless it was cancelled."""
        with self._lock:
            if self._cancelled:
                return False
            action()
            self._committed = True
            return True


def partial_path(target: Path) -> Path:
    """A hidden name beside ``target`` (same extension) for the file being made."""
    return target.with_name(f".{target.stem}.{uuid.uuid4().hex[:8]}.partial{target.suffix}")


def write_cancellable(
    target: Path, job: CancellableJob, write: Callable[[Path], object]
) -> Path | None:
    """In a worker: ``write`` the file under a partial name, then rename it to ``target``
    unless the job was cancelled meanwhile (then nothing is left behind: None)."""
    partial = partial_path(target)
    try:
        write(partial)
    except CalTrackError as exc:
        # The messages name the file being written: name the user's file instead.
        exc.message = exc.message.replace(str(partial), str(target))
        exc.args = (exc.message,)
        raise

    def rename() -> None:
        try:
            # A report open in a PDF viewer on Windows holds the name for a moment.
            replace_file(partial, target)
        except OSError as exc:
            raise UsageError(
                f"cannot write {target}: {exc.strerror or exc}; choose another file or folder"
            ) from None

    try:
        committed = job.commit(rename)
    finally:
        # Cancelled, or the rename failed: the partial file goes too.
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    if not committed:
        return None
    with contextlib.suppress(OSError):
        fsync_directory(target.parent)
    return target
