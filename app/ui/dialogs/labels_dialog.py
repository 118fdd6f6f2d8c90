"""The labels dialog: which instruments, which label stock, a live preview, then Save
PDF… or Print….

The instruments are the selected one, the rows of the register as filtered and searched
now (the list holds ids; their tags are read in the worker), or asset tags typed in.
The preview paints the first label on one QImage at the label's proportions, the way
``app.reports.labels`` paints it on paper. Reading the label data, rendering the PDF
and printing run off the GUI thread, with Cancel (``app.ui.jobs.CancellableJob``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.errors import NotFoundError, UsageError
from app.reports.labels import LABEL_SIZES, LabelSize, labels_pdf, page_layout, paint_label
from app.reports.output import check_output_path, write_atomically
from app.services.report_model import LabelData
from app.services.reports import MAX_LABELS
from app.ui import files, messages
from app.ui.dialogs.form import dialog_layout, enter_presses
from app.ui.files import proposed_folder
from app.ui.jobs import BusyBar, CancellableJob, write_cancellable
from app.ui.tasks import TaskRunner, run_for

Ok = Callable[[Any], None]
Fail = Callable[[BaseException], None]
DEFAULT_SIZE = "dymo-99012"
PREVIEW_WIDTH = 380  # logical pixels for the label's width
PREVIEW_MAX_HEIGHT = 220
PREVIEW_DEBOUNCE_MS = 300
IDS_PER_READ = 5000  # the list's ids are turned into tags this many at a time
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class LabelPrefs:
    """What the dialog remembers per user: the label size, the folder, "open when done"."""

    size: str = DEFAULT_SIZE
    folder: str = ""
    open_when_done: bool = True

    @staticmethod
    def from_extra(value: object) -> LabelPrefs:
        """From ``UserSettings.extra["labels"]``; anything damaged falls back to defaults."""
        if not isinstance(value, Mapping):
            return LabelPrefs()
        size = value.get("size")
        folder = value.get("folder")
        opened = value.get("open_when_done")
        return LabelPrefs(
            size=size if isinstance(size, str) and size in LABEL_SIZES else DEFAULT_SIZE,
            folder=folder if isinstance(folder, str) else "",
            open_when_done=opened if isinstance(opened, bool) else True,
        )

    def to_extra(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "folder": self.folder,
            "open_when_done": self.open_when_done,
        }


def parse_tags(text: str) -> list[str]:
    """Asset tags typed in, separated by spaces, commas, semicolons or lines; each once."""
    seen: dict[str, None] = {}
    for tag in _SEPARATORS.split(text):
        if tag:
            seen.setdefault(tag, None)
    return list(seen)


@dataclass(frozen=True)
class LabelChoice:
    """Which instruments get labels: tags (in print order) or the list's ids."""

    tags: tuple[str, ...] = ()
    ids: tuple[int, ...] = ()

    @property
    def count(self) -> int:
        return len(self.tags) or len(self.ids)


def collect_labels(app: CalTrack, choice: LabelChoice) -> list[LabelData]:
    """The label data, in the order chosen (call it in a worker)."""
    if choice.tags:
        return app.reports.labels(tags=choice.tags)
    if len(choice.ids) > MAX_LABELS:
        raise UsageError(
            f"the list has {len(choice.ids):,} instruments, more than the {MAX_LABELS:,} "
            "labels made at once; filter or search the list to fewer"
        )
    tag_of: dict[int, str] = {}
    ids = list(choice.ids)
    for start in range(0, len(ids), IDS_PER_READ):
        rows = app.instruments.rows(ids[start : start + IDS_PER_READ])
        tag_of.update({i: r.asset_tag for i, r in rows.items()})
    tags = [tag_of[i] for i in ids if i in tag_of]  # an id gone meanwhile was deleted
    if not tags:
        raise UsageError("the instruments of the list no longer exist; refresh the list")
    return app.reports.labels(tags=tags)


def label_preview(label: LabelData, size: LabelSize, *, ratio: float = 1.0) -> QPixmap:
    """The label painted at its proportions, ``PREVIEW_WIDTH`` logical pixels wide."""
    width = float(PREVIEW_WIDTH)
    height = width * size.height_mm / size.width_mm
    if height > PREVIEW_MAX_HEIGHT:
        width, height = width * PREVIEW_MAX_HEIGHT / height, PREVIEW_MAX_HEIGHT
    w_px, h_px = max(1, round(width * ratio)), max(1, round(height * ratio))
    dpi = w_px * 25.4 / size.width_mm
    image = QImage(w_px, h_px, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    # Fonts are measured on the image: give it the resolution the label is painted at.
    image.setDotsPerMeterX(round(dpi / 0.0254))
    image.setDotsPerMeterY(round(dpi / 0.0254))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        paint_label(painter, label, QRectF(0, 0, w_px, h_px), dpi)
    finally:
        painter.end()
    pixmap = QPixmap.fromImage(image)
    pixmap.setDevicePixelRatio(ratio)
    return pixmap


def size_text(size: LabelSize) -> str:
    where = f", {size.per_page} per A4 sheet" if size.sheet is not None else ""
    return f"{size.name} — {size.width_mm:g} × {size.height_mm:g} mm{where}"


class LabelsDialog(QDialog):
    """Print instrument labels: which ones, the label stock, a preview, Save or Print."""

    written = Signal(str)  # what was done, for the status bar
    prefs_changed = Signal(object)  # LabelPrefs after a successful save or print

    def __init__(
        self,
        *,
        app: CalTrack,
        runner: TaskRunner,
        prefs: LabelPrefs,
        selected_tag: str | None = None,
        list_ids: Sequence[int] = (),
        list_name: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._app = app
        self._runner = runner
        self.prefs = prefs
        self.today = app.clock.today()
        self.selected_tag = selected_tag
        self.list_ids = tuple(list_ids)
        self.job: CancellableJob | None = None
        self.preview_data: LabelData | None = None
        self.pages_written = 0
        self._folder = proposed_folder(prefs.folder)
        self.setWindowTitle("Labels — CalTrack")
        self.setObjectName("labelsDialog")
        self.setMinimumWidth(640)

        which = QGroupBox("Which instruments")
        which_layout = QVBoxLayout(which)
        self.choice_group = QButtonGroup(self)
        self.use_selected = QRadioButton(
            f"The &selected instrument: {selected_tag}"
            if selected_tag
            else "The &selected instrument (none is selected)"
        )
        self.use_selected.setEnabled(bool(selected_tag))
        n = len(self.list_ids)
        where = f" ({list_name})" if list_name else ""
        self.use_list = QRadioButton(
            f"The {n:,} instrument{'' if n == 1 else 's'} in the &list{where}"
        )
        self.use_list.setEnabled(n > 0)
        self.use_tags = QRadioButton("These asset &tags:")
        self.tags = QLineEdit()
        self.tags.setAccessibleName("Asset tags for labels")
        self.tags.setPlaceholderText("TH-001, TH-002 … (spaces, commas or semicolons between)")
        tags_row = QHBoxLayout()
        tags_row.addWidget(self.use_tags)
        tags_row.addWidget(self.tags, 1)
        for button in (self.use_selected, self.use_list, self.use_tags):
            self.choice_group.addButton(button)
        which_layout.addWidget(self.use_selected)
        which_layout.addWidget(self.use_list)
        which_layout.addLayout(tags_row)
        (self.use_selected if selected_tag else self.use_list if n else self.use_tags).setChecked(
            True
        )

        stock = QGroupBox("Label")
        stock_form = QFormLayout(stock)
        self.size_combo = QComboBox()
        self.size_combo.setAccessibleName("Label size")
        for key, label_size in LABEL_SIZES.items():
            self.size_combo.addItem(size_text(label_size), key)
        self.size_combo.setCurrentIndex(max(0, self.size_combo.findData(prefs.size)))
        size_label = QLabel("Si&ze:")
        size_label.setBuddy(self.size_combo)
        stock_form.addRow(size_label, self.size_combo)
        self.skip = QSpinBox()
        self.skip.setAccessibleName("Positions to leave empty on the first sheet")
        self.skip.setSuffix(" used already")
        self.skip.setMaximumWidth(180)
        skip_label = QLabel("S&kip on the first sheet:")
        skip_label.setBuddy(self.skip)
        stock_form.addRow(skip_label, self.skip)
        self.summary = QLabel()
        self.summary.setAccessibleName("How many labels and pages")
        stock_form.addRow("", self.summary)

        preview_box = QGroupBox("Preview of the first label")
        preview_layout = QVBoxLayout(preview_box)
        self.preview = QLabel()
        self.preview.setAccessibleName("Label preview")
        self.preview.setFrameShape(QFrame.Shape.Box)
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumHeight(80)
        self.preview_note = QLabel()
        self.preview_note.setWordWrap(True)
        self.preview_note.setAccessibleName("About the preview")
        preview_layout.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        preview_layout.addWidget(self.preview_note)

        self.open_when_done = QCheckBox("&Open the PDF when it is written")
        self.open_when_done.setChecked(prefs.open_when_done)
        self.busy = BusyBar(self.cancel, button="&Cancel", tip="Stop: nothing is written")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Note")
        self.note.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.print_button = self.buttons.addButton(
            "&Print…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.print_button.setToolTip("Print on a label printer or on sheets (page = label size)")
        self.save_button = self.buttons.addButton(
            "Save P&DF…", QDialogButtonBox.ButtonRole.AcceptRole
        )
        enter_presses(self, self.save_button)
        self.buttons.accepted.connect(self.save_pdf)
        self.buttons.rejected.connect(self.reject)
        self.print_button.clicked.connect(self.print_labels)

        layout = dialog_layout(self)
        layout.addWidget(which)
        layout.addWidget(stock)
        layout.addWidget(preview_box)
        layout.addWidget(self.open_when_done)
        layout.addWidget(self.busy)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DEBOUNCE_MS)
        self._preview_timer.timeout.connect(self.load_preview)
        self.choice_group.buttonToggled.connect(self._choice_toggled)
        self.tags.textEdited.connect(self._tags_edited)
        self.size_combo.currentIndexChanged.connect(lambda _i: self._size_changed())
        self.skip.valueChanged.connect(lambda _v: self._update_summary())
        self._size_changed()
        self._choice_toggled()

    # -- what is chosen --------------------------------------------------------------

    @property
    def label_size(self) -> LabelSize:
        return LABEL_SIZES[str(self.size_combo.currentData())]

    def choice(self) -> LabelChoice:
        if self.use_selected.isChecked() and self.selected_tag:
            return LabelChoice(tags=(self.selected_tag,))
        if self.use_list.isChecked():
            return LabelChoice(ids=self.list_ids)
        return LabelChoice(tags=tuple(parse_tags(self.tags.text())))

    def _choice_toggled(self, *_args: object) -> None:
        self.note.hide()
        self._update_summary()
        self._preview_timer.stop()
        self.load_preview()

    def _tags_edited(self, _text: str) -> None:
        if not self.use_tags.isChecked():
            self.use_tags.setChecked(True)
        self._update_summary()
        self._preview_timer.start()

    def _size_changed(self) -> None:
        size = self.label_size
        sheet = size.sheet is not None
        self.skip.setEnabled(sheet)
        self.skip.setMaximum(size.per_page - 1 if sheet else 0)
        self.skip.setToolTip(
            "Labels already peeled off the first sheet: printing starts after them"
            if sheet
            else "Only for sheets of labels: a label printer starts on a fresh label"
        )
        self._update_summary()
        self._paint_preview()

    def _update_summary(self) -> None:
        count = self.choice().count
        size = self.label_size
        skip = self.skip.value() if size.sheet is not None else 0
        if not count:
            self.summary.setText("No instrument chosen yet.")
        else:
            pages = size.pages_for(count, skip)
            unit = "sheet" if size.sheet is not None else "label page"
            self.summary.setText(
                f"{count:,} label{'' if count == 1 else 's'} on {pages:,} "
                f"{unit}{'' if pages == 1 else 's'}"
                + (f", starting at position {skip + 1}" if skip else "")
                + "."
            )
        self.save_button.setEnabled(bool(count) and self.job is None)
        self.print_button.setEnabled(bool(count) and self.job is None)

    # -- the preview -----------------------------------------------------------------

    def load_preview(self) -> None:
        """Read the first chosen instrument's label data (off the GUI thread)."""
        choice = self.choice()
        app = self._app
        if not choice.count:
            self._show_preview(None, "Choose the instruments to see their first label.")
            return

        def read() -> LabelData:
            tag = choice.tags[0] if choice.tags else app.instruments.tag_of(choice.ids[0])
            return app.reports.labels(tags=[tag])[0]

        def failed(exc: BaseException) -> None:
            if isinstance(exc, NotFoundError):
                # "no instrument with asset tag 'X'" without the CLI's hint after the ";".
                why = str(exc).split(";")[0]
                self._show_preview(None, f"No preview: {why}.")
            else:
                self._show_preview(None, "No preview: the instrument could not be read.")

        self._run(read, lambda data: self._show_preview(data, ""), failed, key="label-preview")

    def _show_preview(self, data: LabelData | None, why: str) -> None:
        self.preview_data = data
        if data is None:
            self.preview.clear()
            self.preview.setText("—")
            self.preview.setFixedSize(PREVIEW_WIDTH, 80)
            self.preview_note.setText(why)
            return
        self._paint_preview()

    def _paint_preview(self) -> None:
        data = self.preview_data
        if data is None:
            return
        size = self.label_size
        pixmap = label_preview(data, size, ratio=self.devicePixelRatioF())
        self.preview.setPixmap(pixmap)
        logical = pixmap.deviceIndependentSize()
        frame = 2 * self.preview.frameWidth()
        self.preview.setFixedSize(round(logical.width()) + frame, round(logical.height()) + frame)
        self.preview_note.setText(
            f"{data.asset_tag}, as printed on {size.width_mm:g} × {size.height_mm:g} mm "
            "(the QR code holds the asset tag)."
        )

    # -- running ---------------------------------------------------------------------

    def _run(self, fn: Callable[[], Any], done: Ok, fail: Fail, *, key: str | None = None) -> None:
        run_for(self, self._runner, fn, done, fail, key=key)

    def _set_busy(self, text: str | None) -> None:
        busy = text is not None
        for widget in (
            self.use_selected,
            self.use_list,
            self.use_tags,
            self.tags,
            self.size_combo,
            self.skip,
            self.open_when_done,
        ):
            widget.setEnabled(not busy)
        if text is None:
            self.job = None
            self.busy.finish()
            self.use_selected.setEnabled(bool(self.selected_tag))
            self.use_list.setEnabled(bool(self.list_ids))
            self.skip.setEnabled(self.label_size.sheet is not None)
        else:
            self.note.hide()
            self.busy.start(text)
        self._update_summary()

    def _failed(self, job: CancellableJob, exc: BaseException) -> None:
        if job is not self.job:
            return
        self._set_busy(None)
        messages.explain(self, exc, doing="making the labels")

    def _skip(self) -> int:
        return self.skip.value() if self.label_size.sheet is not None else 0

    def save_pdf(self) -> None:
        """Ask where, then read, render and write the labels off the GUI thread."""
        choice = self.choice()
        if self.job is not None or not choice.count:
            return
        size, skip = self.label_size, self._skip()
        proposed = self._folder / f"labels-{size.key}-{self.today:%Y-%m-%d}.pdf"
        chosen = files.ask_save_path(self, "Save the labels as", str(proposed), "PDF (*.pdf)")
        if not chosen:
            return
        target = Path(chosen)
        confirmed = target.suffix.lower() == ".pdf"  # the Save dialog asked about this name
        if not confirmed:
            target = target.with_name(f"{target.name}.pdf")
        app = self._app
        job = CancellableJob()
        self.job = job
        self._set_busy(f"Reading {choice.count:,} instrument{'' if choice.count == 1 else 's'}…")

        def read() -> tuple[Path, bool, list[LabelData] | None, str]:
            checked = check_output_path(target)
            exists = checked.exists()
            head = app.reports.stamp().audit_head  # first: the labels show what it covers
            return checked, exists, None if job.cancelled else collect_labels(app, choice), head

        def got(result: tuple[Path, bool, list[LabelData] | None, str]) -> None:
            checked, exists, labels, head = result
            if job is not self.job or labels is None:
                return
            if exists and not confirmed and not files.confirm_replace(self, checked):
                self._set_busy(None)
                return
            self.busy.say(f"Writing {len(labels):,} labels to {checked.name}…")

            def write() -> Path | None:
                data = labels_pdf(labels, size, skip=skip, audit_head=head)

                def write_data(handle: IO[bytes]) -> None:
                    handle.write(data)

                return write_cancellable(
                    checked, job, lambda partial: write_atomically(partial, write_data)
                )

            self._run(
                write,
                lambda path: self._written(job, path, len(labels), head),
                lambda exc: self._failed(job, exc),
            )

        self._run(read, got, lambda exc: self._failed(job, exc))

    def _written(self, job: CancellableJob, path: Path | None, count: int, head: str) -> None:
        if job is not self.job or path is None:
            return
        size = self.label_size
        self.pages_written = size.pages_for(count, self._skip())
        self._set_busy(None)
        self.prefs = LabelPrefs(
            size=size.key, folder=str(path.parent), open_when_done=self.open_when_done.isChecked()
        )
        self.prefs_changed.emit(self.prefs)
        self.written.emit(
            f"Wrote {count:,} label{'' if count == 1 else 's'} ({size.key}) on "
            f"{self.pages_written:,} page{'' if self.pages_written == 1 else 's'} to {path} "
            f"(audit head {head})."
        )
        if self.open_when_done.isChecked():
            files.open_file(path)
        self.accept()

    def print_labels(self) -> None:
        """Ask for the printer (its page set to the label), then print off the GUI thread."""
        choice = self.choice()
        if self.job is not None or not choice.count:
            return
        size, skip = self.label_size, self._skip()
        printer = files.make_printer()
        printer.setDocName(f"CalTrack labels ({size.key})")
        printer.setPageLayout(page_layout(size))
        if not files.ask_printer(self, printer):
            return
        app = self._app
        job = CancellableJob()
        self.job = job
        self._set_busy(f"Reading {choice.count:,} instrument{'' if choice.count == 1 else 's'}…")

        def read() -> list[LabelData] | None:
            return None if job.cancelled else collect_labels(app, choice)

        def got(labels: list[LabelData] | None) -> None:
            if job is not self.job or labels is None:
                return
            self.busy.say(f"Printing {len(labels):,} labels…")
            self._run(
                lambda: self._paint(job, printer, labels, size, skip),
                lambda pages: self._printed(job, pages, len(labels)),
                lambda exc: self._failed(job, exc),
            )

        self._run(read, got, lambda exc: self._failed(job, exc))

    @staticmethod
    def _paint(
        job: CancellableJob, printer: QPrinter, labels: list[LabelData], size: LabelSize, skip: int
    ) -> int | None:
        from app.reports.labels import paint_labels

        if not job.commit():
            return None
        return paint_labels(printer, labels, size, skip=skip)

    def _printed(self, job: CancellableJob, pages: int | None, count: int) -> None:
        if job is not self.job or pages is None:
            return
        self.pages_written = pages
        self._set_busy(None)
        self.prefs = LabelPrefs(
            size=self.label_size.key,
            folder=self.prefs.folder,
            open_when_done=self.open_when_done.isChecked(),
        )
        self.prefs_changed.emit(self.prefs)
        self.written.emit(
            f"Printed {count:,} label{'' if count == 1 else 's'} ({self.label_size.key}) on "
            f"{pages:,} page{'' if pages == 1 else 's'}."
        )
        self.accept()

    def cancel(self) -> None:
        """Stop waiting: a result that arrives later is dropped and nothing is written."""
        job = self.job
        if job is None:
            return
        if not job.cancel():
            self.busy.say("Too late to cancel: it is being finished; this takes a moment.")
            self.busy.button.setEnabled(False)
            return
        self._set_busy(None)
        self.note.setText("Cancelled: nothing was written.")
        self.note.show()

    def reject(self) -> None:
        if self.job is not None:
            self.cancel()  # Esc or Close while working stops the work; the dialog stays
            return
        super().reject()
