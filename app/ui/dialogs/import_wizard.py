"""The import wizard: file → how it is read → columns → values → check → imported.

Every page shows what the newest dry run (``TransferService.preview_table``: the real
save, rolled back) said about the file, and every run goes to the worker with its
progress shown and a Stop that stops waiting (the result is then dropped; a dry run
writes nothing anyway). Import commits all rows or none, off the GUI thread too; the
mapping and the value mapping are remembered for the layout once it is saved. The
values page is shown only when the file has a column whose field takes a fixed set of
values (a status, a result, a provider kind). Errors of every kind go through
``messages.explain`` and leave the wizard open with what the user chose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.errors import ValidationError
from app.services.transfer import TransferService
from app.services.transfer_dates import ORDER_NAMES
from app.services.transfer_model import ImportPreview
from app.storage.tables import DELIMITER_NAMES
from app.ui import messages
from app.ui.dialogs.form import notice_box
from app.ui.dialogs.import_mapping_page import MappingPage, _cell_text
from app.ui.dialogs.import_preview_page import UPDATING, PreviewPage
from app.ui.dialogs.import_state import (
    KIND_NAMES,
    TABLE_SUFFIXES,
    ImportState,
    Loaded,
    ProgressRelay,
    dry_run,
)
from app.ui.dialogs.import_values_page import ValuesPage
from app.ui.jobs import BusyBar
from app.ui.tasks import Changes, TaskRunner

# key, kind, headers, mapping (header -> field, "" left out), values (header -> value ->
# canonical value)
Remember = Callable[[str, str, list[str], dict[str, str], dict[str, dict[str, str]]], None]
PAGE_FILE, PAGE_READING, PAGE_MAPPING, PAGE_VALUES, PAGE_PREVIEW, PAGE_DONE = range(6)
REREAD_MS = 350
RAW_ROWS = 12
ENCODINGS: tuple[tuple[str | None, str], ...] = (
    (None, "Detect"),
    ("utf-8", "UTF-8"),
    ("cp1252", "Windows-1252 (Excel on Windows, Western Europe)"),
    ("utf-16", "UTF-16 (Excel “Unicode text”)"),
    ("latin-1", "Latin-1 (ISO 8859-1)"),
)
DELIMITERS: tuple[tuple[str | None, str], ...] = (
    (None, "Detect"),
    (",", "Comma ( , )"),
    (";", "Semicolon ( ; )"),
    ("\t", "Tab"),
    ("|", "Pipe ( | )"),
)


def choose_file(parent: QWidget, kind: str) -> str:
    """The file dialog (tests replace this)."""
    path, _filter = QFileDialog.getOpenFileName(
        parent,
        f"Import {KIND_NAMES[kind]} from",
        "",
        "Tables (*.csv *.xlsx *.txt *.tsv);;All files (*)",
    )
    return path


def _size_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1048576:.1f} MiB"


def _dropped_table(event: QDragEnterEvent | QDropEvent) -> str | None:
    urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    path = urls[0].toLocalFile()
    return path if Path(path).suffix.lower() in TABLE_SUFFIXES else None


class FilePage(QWizardPage):
    """What to import, and from which file."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.host = wizard
        self.setTitle("File")
        self.setSubTitle(
            "Choose a CSV file (any delimiter or encoding) or an Excel workbook (.xlsx). "
            "Nothing is written until you press Import on the Check page."
        )
        self.instruments = QRadioButton("&Instruments (the register)")
        self.calibrations = QRadioButton("&Calibration history (of registered instruments)")
        # Issue 15: what an export writes besides (the Schedules and Checks sheets).
        self.schedules = QRadioButton("Check and maintenance &schedules")
        self.checks = QRadioButton("Intermediate chec&k history")
        self.maintenance = QRadioButton("Maintenance &log (maintenance, damage, repairs)")
        self.providers = QRadioButton("External calibration &providers")
        self.custody = QRadioButton("C&ustody history (check-outs)")
        self.sendouts = QRadioButton("Sen&d-outs to providers (import the providers first)")
        self.kinds = {
            "instruments": self.instruments,
            "calibrations": self.calibrations,
            "schedules": self.schedules,
            "checks": self.checks,
            "maintenance": self.maintenance,
            "providers": self.providers,
            "custody": self.custody,
            "sendouts": self.sendouts,
        }
        group = QButtonGroup(self)
        for kind, button in self.kinds.items():
            group.addButton(button)
            button.setChecked(wizard.state.kind == kind)
            button.toggled.connect(self._toggled)
        self.path = QLineEdit(wizard.state.path)
        self.path.setAccessibleName("File to import")
        self.path.setPlaceholderText("A .csv or .xlsx file")
        self.path.textChanged.connect(lambda _t: self._changed())
        self.browse = QPushButton("&Browse…")
        self.browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.path, 1)
        file_row.addWidget(self.browse)
        file_label = QLabel("&File:")
        file_label.setBuddy(self.path)
        hint = QLabel("…or drag a .csv or .xlsx file onto this window.")
        hint.setEnabled(False)
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Why the file cannot be read")
        self.error.hide()
        self.busy_bar = BusyBar(wizard.stop)
        wizard.add_busy_bar(self.busy_bar)
        what = QLabel("Import:")
        layout = QVBoxLayout(self)
        layout.addWidget(what)
        for button in self.kinds.values():
            layout.addWidget(button)
        layout.addSpacing(12)
        layout.addWidget(file_label)
        layout.addLayout(file_row)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addWidget(self.busy_bar)

    def _toggled(self, on: bool) -> None:
        if on:  # the button turned off says nothing the one turned on does not
            self._changed()

    def kind(self) -> str:
        return next(k for k, b in self.kinds.items() if b.isChecked())

    def set_path(self, path: str) -> None:
        self.path.setText(path)

    def _browse(self) -> None:
        path = choose_file(self, self.kind())
        if path:
            self.path.setText(path)

    def _changed(self) -> None:
        self.host.state.set_file(self.path.text().strip(), self.kind())
        self.host.update_title()
        self.refresh()

    def cleanupPage(self) -> None:
        """Nothing to undo: the choices stay."""

    def refresh(self) -> None:
        error = self.host.state.error if not self.host.state.read_fresh else ""
        self.error.setText(error)
        self.error.setVisible(bool(error))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return bool(self.path.text().strip()) and not self.host.busy

    def validatePage(self) -> bool:
        if self.host.state.read_fresh:
            return True
        self.host.run_check(then=self.host.next)
        return False


class ReadingPage(QWizardPage):
    """How the file was read — format, encoding, delimiter, sheet, header, dates —
    each detected and each overridable, with the first rows as read."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.host = wizard
        self._filling = False
        self.setTitle("Reading the file")
        self.setSubTitle(
            "This is how the file was read. Change a setting if the rows below look wrong; "
            "the file is read again at once."
        )
        self.format = QLabel()
        self.format.setAccessibleName("Format")
        self.encoding = self._combo("Encoding", ENCODINGS)
        self.encoding_note = QLabel()
        self.delimiter = self._combo("Delimiter", DELIMITERS)
        self.sheet = QComboBox()
        self.sheet.setAccessibleName("Sheet")
        self.sheet.currentIndexChanged.connect(lambda _i: self._changed())
        self.header_line = QSpinBox()
        self.header_line.setAccessibleName("Header line")
        self.header_line.setRange(0, 1_000_000)
        self.header_line.setSpecialValueText("Detect")
        self.header_line.valueChanged.connect(lambda _v: self._changed())
        self.header_note = QLabel()
        self.dates = self._combo(
            "Dates", (("auto", "Detect"), *((k, v.capitalize()) for k, v in ORDER_NAMES.items()))
        )
        self.dates_note = QLabel()
        self.dates_note.setWordWrap(True)
        form = QFormLayout()
        self.form = form
        self._rows: dict[str, QHBoxLayout] = {}
        form.addRow("Format:", self.format)
        for label, editor, note in (
            ("&Encoding:", self.encoding, self.encoding_note),
            ("&Delimiter:", self.delimiter, None),
            ("&Sheet:", self.sheet, None),
            ("&Header on line:", self.header_line, self.header_note),
            ("Da&tes:", self.dates, self.dates_note),
        ):
            title = QLabel(label)
            title.setBuddy(editor)
            row = QHBoxLayout()
            row.addWidget(editor)
            if note is not None:
                row.addWidget(note, 1)
            else:
                row.addStretch(1)
            form.addRow(title, row)
            self._rows[editor.accessibleName()] = row
        self.error = QLabel()
        self.error.setObjectName("fieldError")
        self.error.setWordWrap(True)
        self.error.setAccessibleName("Why the file cannot be read")
        self.error.hide()
        self.again = QPushButton("&Read again")
        self.again.clicked.connect(lambda: self.host.run_check())
        self.again.hide()
        self.warnings = notice_box()
        self.raw = QTableWidget(0, 0)
        self.raw.setAccessibleName("The first rows as read")
        self.raw.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.raw.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.raw.setWordWrap(False)
        raw_label = QLabel("The first rows as read (the header in bold):")
        raw_label.setBuddy(self.raw)
        self._reread = QTimer(self)
        self._reread.setSingleShot(True)
        self._reread.setInterval(REREAD_MS)
        self._reread.timeout.connect(lambda: self.host.run_check())
        self.busy_bar = BusyBar(wizard.stop)
        wizard.add_busy_bar(self.busy_bar)
        error_row = QHBoxLayout()
        error_row.addWidget(self.error, 1)
        error_row.addWidget(self.again)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(error_row)
        layout.addWidget(self.warnings)
        layout.addWidget(raw_label)
        layout.addWidget(self.raw, 1)
        layout.addWidget(self.busy_bar)

    def _combo(self, name: str, items: tuple[tuple[str | None, str], ...]) -> QComboBox:
        combo = QComboBox()
        combo.setAccessibleName(name)
        for value, text in items:
            combo.addItem(text, value)
        combo.currentIndexChanged.connect(lambda _i: self._changed())
        return combo

    # -- QWizardPage -----------------------------------------------------------------

    def initializePage(self) -> None:
        self.refresh()

    def cleanupPage(self) -> None:
        """Back keeps the settings."""

    def isComplete(self) -> bool:
        return self.host.state.read_fresh and not self.host.busy and not self._reread.isActive()

    # -- showing ---------------------------------------------------------------------

    def refresh(self) -> None:
        state = self.host.state
        loaded = state.loaded
        self._filling = True
        try:
            if loaded is not None:
                self._show(loaded)  # first: it sets the header line's range
            self._select(self.encoding, state.encoding)
            self._select(self.delimiter, state.delimiter)
            self._select(self.dates, state.date_order)
            self.header_line.setValue(state.header_line or 0)
        finally:
            self._filling = False
        error = state.error if not state.read_fresh else ""
        self.error.setText(error)
        self.error.setVisible(bool(error))
        self.again.setVisible(bool(error) and not self.host.busy)
        self.completeChanged.emit()

    @staticmethod
    def _select(combo: QComboBox, value: str | None) -> None:
        index = combo.findData(value)
        combo.setCurrentIndex(max(0, index))

    def _show(self, loaded: Loaded) -> None:
        table, preview = loaded.table, loaded.preview
        csv = table.format == "csv"
        self.format.setText(
            f"{'CSV' if csv else 'Excel workbook (XLSX)'}: {table.name}, "
            f"{_size_text(table.size_bytes)}, {len(table.rows):,} rows that are not blank"
        )
        self.encoding.setItemText(0, f"Detect — {table.encoding_note}" if csv else "Detect")
        self.encoding_note.setText(f"read as {table.encoding}" if csv else "")
        name = DELIMITER_NAMES.get(table.delimiter, repr(table.delimiter))
        self.delimiter.setItemText(0, f"Detect — {name}" if csv else "Detect")
        for widget in (self.encoding, self.delimiter):
            widget.setEnabled(csv)
        self.sheet.clear()
        for sheet in table.sheets:
            self.sheet.addItem(sheet, sheet)
        self._select(self.sheet, self.host.state.sheet or table.sheet)
        self.sheet.setEnabled(len(table.sheets) > 1)
        self.sheet.setToolTip(
            "The workbook has one sheet" if len(table.sheets) == 1 else "The sheet to read"
        )
        # Only what applies to this kind of file is shown.
        self.form.setRowVisible(self._rows["Encoding"], csv)
        self.form.setRowVisible(self._rows["Delimiter"], csv)
        self.form.setRowVisible(self._rows["Sheet"], not csv)
        lines = [r.line for r in table.rows]
        self.header_line.setMaximum(max(lines, default=1))
        self.header_note.setText(
            f"found on line {preview.header_line}"
            if self.host.state.header_line is None and preview.header_line
            else ""
        )
        self.dates_note.setText(preview.date_order_note)
        self.warnings.setText("\n".join(preview.warnings))
        self.warnings.setVisible(bool(preview.warnings))
        self._fill_raw(loaded)

    def _fill_raw(self, loaded: Loaded) -> None:
        rows = loaded.table.rows[:RAW_ROWS]
        header = loaded.preview.header_line
        width = max((len(r.cells) for r in rows), default=0)
        self.raw.clear()
        self.raw.setRowCount(len(rows))
        self.raw.setColumnCount(width)
        self.raw.setHorizontalHeaderLabels([str(i + 1) for i in range(width)])
        self.raw.setVerticalHeaderLabels(
            [f"{r.line} (header)" if r.line == header else str(r.line) for r in rows]
        )
        for r, row in enumerate(rows):
            for c, value in enumerate(row.cells):
                item = QTableWidgetItem(_cell_text(value))
                item.setToolTip(_cell_text(value))
                if row.line == header:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.raw.setItem(r, c, item)
        self.raw.resizeColumnsToContents()
        for c in range(width):
            self.raw.setColumnWidth(c, min(self.raw.columnWidth(c), 260))

    # -- choices ---------------------------------------------------------------------

    def _changed(self) -> None:
        if self._filling:
            return
        state = self.host.state
        sheet = self.sheet.currentData() if self.sheet.isEnabled() else state.sheet
        state.set_reading(
            encoding=self.encoding.currentData(),
            delimiter=self.delimiter.currentData(),
            sheet=sheet,
            header_line=self.header_line.value() or None,
            date_order=str(self.dates.currentData()),
        )
        self._reread.start()  # typing a header line digit by digit makes one read
        self.completeChanged.emit()


class DonePage(QWizardPage):
    """What was imported."""

    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.host = wizard
        self.setTitle("Imported")
        self.setSubTitle("Saved in one transaction: every row of the check, or none.")
        self.summary = QLabel()
        self.summary.setObjectName("detailTitle")
        self.summary.setWordWrap(True)
        self.summary.setAccessibleName("What was imported")
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setAccessibleName("Details")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.details)
        layout.addStretch(1)

    def initializePage(self) -> None:
        result = self.host.state.result
        if result is None:
            return
        self.summary.setText(summary_line(result))
        self.details.setText(detail_lines(result))


def summary_line(result: ImportPreview) -> str:
    """What was imported, as in "Imported 214 instruments from register.csv; …"."""
    counts = result.counts()
    n = counts["add"] + counts["update"]
    what = {
        "instruments": "instrument",
        "calibrations": "calibration record",
        "schedules": "schedule",
        "checks": "intermediate check",
        "maintenance": "maintenance event",
        "providers": "provider",
        "custody": "check-out",
        "sendouts": "sent instrument",
    }[result.kind] + ("s" if n != 1 else "")
    return f"Imported {n:,} {what} from {result.source}; every row is in the audit trail."


def detail_lines(result: ImportPreview) -> str:
    counts = result.counts()
    parts = [f"{counts['add']:,} added"]
    if result.kind in UPDATING:
        parts.append(f"{counts['update']:,} updated")
    if result.kind != "calibrations":
        parts.append(f"{counts['unchanged']:,} unchanged")
    lines = [", ".join(parts) + "."]
    if result.excluded_lines:
        shown = ", ".join(str(n) for n in result.excluded_lines[:20])
        more = " …" if len(result.excluded_lines) > 20 else ""
        word = "line" if len(result.excluded_lines) == 1 else "lines"
        lines.append(f"Left out: {word} {shown}{more}.")
    if flagged := counts.get("flagged", 0):
        lines.append(
            f"{flagged:,} row{'s' if flagged != 1 else ''} kept as recorded and flagged for "
            "QA review: the “Data to review” filter lists their instruments, and QA clears "
            "each flag with a reason."
        )
    lines.append(
        f"Each change is audited as “imported from {result.source} line N”. The column "
        "mapping is remembered for files with the same columns."
    )
    return "\n".join(lines)


class ImportWizard(QWizard):
    """Import instruments or calibration history from a CSV or XLSX file."""

    imported = Signal(object)  # ImportPreview of the commit (committed=True)

    def __init__(
        self,
        *,
        transfer: TransferService,
        runner: TaskRunner,
        kind: str = "instruments",
        memory: Mapping[str, Mapping[str, str]] | None = None,
        value_memory: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
        remember: Remember | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("importWizard")
        self.state = ImportState(kind=kind)
        self._transfer = transfer
        self._runner = runner
        self._memory: Mapping[str, Mapping[str, str]] = memory or {}
        self._value_memory: Mapping[str, Mapping[str, Mapping[str, str]]] = value_memory or {}
        self._remember = remember
        self._bars: list[BusyBar] = []
        self._job = 0  # the job whose result is awaited; 0: none
        self._jobs = 0
        self._committing = False
        self._relay = ProgressRelay(self._progress, self)
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "&Import")
        self.setAcceptDrops(True)
        self.file_page = FilePage(self)
        self.reading_page = ReadingPage(self)
        self.mapping_page = MappingPage(self)
        self.values_page = ValuesPage(self)
        self.preview_page = PreviewPage(self)
        self.done_page = DonePage(self)
        for page_id, page in (
            (PAGE_FILE, self.file_page),
            (PAGE_READING, self.reading_page),
            (PAGE_MAPPING, self.mapping_page),
            (PAGE_VALUES, self.values_page),
            (PAGE_PREVIEW, self.preview_page),
            (PAGE_DONE, self.done_page),
        ):
            self.setPage(page_id, page)
        self.resize(1100, 720)
        self.update_title()

    # -- what the pages ask ----------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._job != 0

    @property
    def committing(self) -> bool:
        return self._committing

    def add_busy_bar(self, bar: BusyBar) -> None:
        self._bars.append(bar)

    def update_title(self) -> None:
        self.setWindowTitle(f"Import {KIND_NAMES[self.state.kind]}")

    def _pages(self) -> tuple[FilePage, ReadingPage, MappingPage, ValuesPage, PreviewPage]:
        return (
            self.file_page,
            self.reading_page,
            self.mapping_page,
            self.values_page,
            self.preview_page,
        )

    def has_values(self) -> bool:
        """Whether the newest check found a column whose values need a meaning."""
        loaded = self.state.loaded
        return loaded is not None and bool(loaded.preview.values)

    def nextId(self) -> int:
        # The values page only for files with a fixed-set column (the mapping page
        # lets Next go only once the check of its choices is back).
        if self.currentId() == PAGE_MAPPING:
            return PAGE_VALUES if self.has_values() else PAGE_PREVIEW
        return super().nextId()

    def _refresh_pages(self) -> None:
        for page in self._pages():
            page.refresh()

    # -- running jobs ----------------------------------------------------------------

    def _start(
        self,
        text: str,
        fn: Callable[[Callable[[str, int, int], None]], Any],
        done: Callable[[Any], None],
        failed: Callable[[BaseException], None],
        *,
        stoppable: bool,
        changes: Changes | None = None,
    ) -> None:
        self._jobs += 1
        job = self._jobs
        self._job = job
        for bar in self._bars:
            bar.start(text, stoppable=stoppable)
        emit = self._relay.moved.emit

        def progress(phase: str, n: int, total: int) -> None:
            # In the worker: only emit. A wizard closed meanwhile must not stop the work
            # (a commit then still saves all rows or none, unobserved).
            with contextlib.suppress(RuntimeError):
                emit(job, phase, n, total)

        def current() -> bool:
            return shiboken6.isValid(self) and self._job == job

        def ok(result: Any) -> None:
            if current():
                self._end_job()
                done(result)

        def fail(exc: BaseException) -> None:
            if current():
                self._end_job()
                failed(exc)

        # The change is announced even when the wizard was closed meanwhile: the rows
        # are saved, and the window must show them.
        self._runner.run(lambda: fn(progress), ok, fail, changes=changes)
        self._refresh_pages()

    def _end_job(self) -> None:
        self._job = 0
        for bar in self._bars:
            bar.hide()

    def _progress(self, job: int, phase: str, n: int, total: int) -> None:
        if job != self._job:
            return
        if phase == "reading":
            text = f"Reading {self.state.file_name}: {n:,} rows"
        elif self._committing:
            text = f"Saving: {n:,} of {total:,} rows" if total else f"Saving: {n:,} rows"
        else:
            text = f"Checking: {n:,} of {total:,} rows" if total else f"Checking: {n:,} rows"
        for bar in self._bars:
            bar.advance(text, n, total)

    def stop(self) -> None:
        """Stop waiting for the check: its result is dropped when it comes."""
        if self._committing or not self.busy:
            return
        self._end_job()
        self.state.error = "Stopped before the check finished; nothing was written."
        self._refresh_pages()

    def run_check(self, then: Callable[[], None] | None = None) -> None:
        """Read the file if needed and run the dry run for the choices as they are now."""
        state = self.state
        if not state.path:
            return
        name = state.file_name
        doing = f"checking {name}" if state.read_fresh else f"reading {name}"
        # The state is read now, on the GUI thread; the worker gets its own copy.
        work = dry_run(self._transfer, state, self._memory, self._value_memory)

        def done(loaded: Loaded) -> None:
            previous = state.loaded
            state.loaded = loaded
            state.error = ""
            if previous is not None and previous.key != loaded.key:
                state.overrides = {h: f for h, f in state.overrides.items() if h in loaded.headers}
            self._refresh_pages()
            if then is not None:
                then()

        def failed(exc: BaseException) -> None:
            state.error = str(exc)
            self._refresh_pages()
            messages.explain(self, exc, doing=doing)

        self._start(f"Reading and checking {name}…", work, done, failed, stoppable=True)

    def start_commit(self) -> None:
        """Save the checked rows (all or none); the wizard moves on once they are saved."""
        state = self.state
        loaded = state.loaded
        if loaded is None or self.busy or not state.check_fresh:
            return
        preview = loaded.preview
        transfer = self._transfer

        def work(progress: Callable[[str, int, int], None]) -> ImportPreview:
            return transfer.commit(preview, progress)

        def done(result: ImportPreview) -> None:
            self._committing = False
            state.result = result
            if self._remember is not None:
                self._remember(
                    loaded.key,
                    result.kind,
                    list(loaded.headers),
                    result.mapping.as_remembered(),
                    result.remembered_values(),
                )
            self.imported.emit(result)
            self._lock_buttons(False)
            self.next()

        def failed(exc: BaseException) -> None:
            self._committing = False
            self._lock_buttons(False)
            messages.explain(self, exc, doing=f"importing {preview.source}")
            if isinstance(exc, ValidationError):
                # The database changed since the check: check again to show what now fails.
                state.check_revision += 1
                self.run_check()
            else:
                self._refresh_pages()

        self._committing = True
        self._start(
            f"Importing {preview.source}…",
            work,
            done,
            failed,
            stoppable=False,
            changes=Changes.everything(),
        )
        self._lock_buttons(True)

    def _lock_buttons(self, locked: bool) -> None:
        for which in (QWizard.WizardButton.BackButton, QWizard.WizardButton.CancelButton):
            button = self.button(which)
            if button is not None:
                button.setEnabled(not locked)

    # -- the dialog ------------------------------------------------------------------

    def reject(self) -> None:
        if self._committing:
            return  # the save runs to its end: all rows or none, never cut off
        self._job = 0  # whatever still runs, its result is dropped
        super().reject()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_table(event) and not self._committing and self.state.result is None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_table(event)
        if path is None or self._committing or self.state.result is not None:
            return
        event.acceptProposedAction()
        if self.currentId() != PAGE_FILE:
            self.restart()
        self.file_page.set_path(path)
