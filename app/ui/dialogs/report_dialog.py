"""The report dialog: one kind's parameters, the format and file, then Save or Print.

Every kind (due, overdue, history, OOT log, custody, audit trail) opens this dialog with its own
parameters. The report is built from the database in a worker (stage 1), then rendered
and written, or printed, in a second worker (stage 2); a busy bar with Cancel shows
meanwhile. Cancel drops whatever arrives afterwards: the file is rendered under a
hidden partial name and only renamed into place if the job was not cancelled by then
(``CancellableJob``), so a cancelled report leaves no file behind.

The job and the busy bar live in ``app.ui.jobs``; the seams tests replace (the Save
and Print dialogs, "replace the file?", opening the file) in ``app.ui.files``.

One limit the worker cannot hide: PySide6 holds Python's lock (the GIL) while Qt lays
out a QTextDocument, so for a PDF of thousands of rows the window still pauses while
the layout runs even though it runs in a worker. The dialog says so before it starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.bootstrap import CalTrack
from app.errors import NotFoundError, UsageError, ValidationError
from app.reports.output import (
    FORMATS,
    ISOLATE_PDF_ROWS,
    MAX_PDF_ROWS,
    RenderCancelled,
    check_output_path,
    format_for,
    write_report,
)
from app.services.report_model import Report
from app.services.reports import MAX_DUE_DAYS
from app.ui import files, messages
from app.ui.dialogs.form import ValidatingForm, dialog_layout, enter_presses
from app.ui.files import proposed_folder, safe_file_part, show_whole_path
from app.ui.jobs import BusyBar, CancellableJob, write_cancellable
from app.ui.tasks import TaskRunner, run_for
from app.words import CASE_STATE_LABELS

Ok = Callable[[Any], None]
Fail = Callable[[BaseException], None]


@dataclass(frozen=True)
class ReportKind:
    """What the dialog calls a kind, the stem of its file name, and what it holds."""

    key: str
    title: str
    stem: str
    about: str


KINDS: dict[str, ReportKind] = {
    k.key: k
    for k in (
        ReportKind(
            "due",
            "Due list",
            "due-list",
            "The instruments in service that fall due in the next days, soonest first, "
            "with the days left.",
        ),
        ReportKind(
            "overdue",
            "Overdue list",
            "overdue-list",
            "The instruments in service that are past due today or were never calibrated.",
        ),
        ReportKind(
            "history",
            "Instrument history",
            "history",
            "One instrument's record, certificate-like: every field, each calibration with "
            "its readings, standards and signatures, the attachments and the audit trail.",
        ),
        ReportKind(
            "oot",
            "Out-of-tolerance log",
            "oot-log",
            "The out-of-tolerance cases: what was found, what it may have affected, the "
            "assessment, the disposition and who closed the case.",
        ),
        ReportKind(
            "custody",
            "Custody",
            "custody",
            "What is checked out now: with whom, where, since when, the day it is due "
            "back, and what is late back.",
        ),
        ReportKind(
            "audit",
            "Audit trail report",
            "audit-trail",
            "The audit trail of a period (UTC days, both included), one row per changed "
            "field, before → after.",
        ),
    )
}
FORMAT_LABELS = {
    "pdf": "PDF — print layout",
    "csv": "CSV — text for any spreadsheet",
    "xlsx": "XLSX — Excel workbook",
}
FORMAT_FILTERS = {"pdf": "PDF (*.pdf)", "csv": "CSV (*.csv)", "xlsx": "Excel workbook (*.xlsx)"}
OOT_STATUSES: tuple[tuple[str, str], ...] = (("", "All cases"), *CASE_STATE_LABELS.items())
# The entity types the audit trail stores (what users filter by).
ENTITY_TYPES: tuple[tuple[str, str], ...] = (
    ("", "Any"),
    ("instrument", "Instrument"),
    ("calibration", "Calibration"),
    ("attachment", "Attachment"),
    ("oot_case", "OOT case"),
    ("custody", "Custody"),
    ("signature", "Signature"),
    ("signing", "Signing attempt"),
    ("user_account", "User account"),
    ("settings", "Shared settings"),
    ("database", "Database"),
    ("lock", "Editor lock"),
)
AUDIT_DEFAULT_DAYS = 30
# From about this many rows a PDF's layout pauses the window noticeably: say so first.
COMPLETE_DEBOUNCE_MS = 200
COMPLETE_LIMIT = 30


# -- what the user asked for ---------------------------------------------------------


@dataclass(frozen=True)
class ReportRequest:
    """A report's parameters as plain values (built in a worker by ``build_report``)."""

    kind: str
    days: int = 30
    tag: str = ""
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    user: str | None = None
    entity_type: str | None = None
    entity: str | None = None


def build_report(app: CalTrack, request: ReportRequest) -> Report:
    """Read what the report shows (call it in a worker)."""
    reports = app.reports
    if request.kind == "due":
        return reports.due(request.days)
    if request.kind == "overdue":
        return reports.overdue()
    if request.kind == "history":
        return reports.history(request.tag)
    if request.kind == "oot":
        cases = app.oot.list(status=request.status)
        return reports.oot_log(
            cases, status=request.status, found_from=request.date_from, found_to=request.date_to
        )
    if request.kind == "custody":
        return reports.custody()
    if request.kind == "audit":
        return reports.audit_trail(
            since=request.date_from,
            until=request.date_to,
            user=request.user,
            entity_type=request.entity_type,
            entity=request.entity,
        )
    raise UsageError(f"unknown report kind {request.kind!r}")


@dataclass(frozen=True)
class ReportPrefs:
    """What the dialog remembers per user: the last format, folder and "open when done"."""

    format: str = "pdf"
    folder: str = ""
    open_when_done: bool = True

    @staticmethod
    def from_extra(value: object) -> ReportPrefs:
        """From ``UserSettings.extra["reports"]``; anything damaged falls back to defaults."""
        if not isinstance(value, Mapping):
            return ReportPrefs()
        fmt = value.get("format")
        folder = value.get("folder")
        opened = value.get("open_when_done")
        return ReportPrefs(
            format=fmt if fmt in FORMATS else "pdf",
            folder=folder if isinstance(folder, str) else "",
            open_when_done=opened if isinstance(opened, bool) else True,
        )

    def to_extra(self) -> dict[str, Any]:
        return {"format": self.format, "folder": self.folder, "open_when_done": self.open_when_done}


# -- small widgets -------------------------------------------------------------------


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _pydate(day: QDate) -> date:
    return date(day.year(), day.month(), day.day())


class DateChoice(QWidget):
    """An optional date: a check box that switches a date field on."""

    changed = Signal()

    def __init__(self, label: str, day: date, *, on: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check = QCheckBox(label)
        self.check.setChecked(on)
        self.edit = QDateEdit(_qdate(day))
        self.edit.setCalendarPopup(True)
        self.edit.setDisplayFormat("yyyy-MM-dd")
        self.edit.setEnabled(on)
        self.edit.setAccessibleName(label.rstrip(":"))
        self.check.toggled.connect(self.edit.setEnabled)
        self.check.toggled.connect(lambda _on: self.changed.emit())
        self.edit.dateChanged.connect(lambda _d: self.changed.emit())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.check)
        layout.addWidget(self.edit)

    def value(self) -> date | None:
        return _pydate(self.edit.date()) if self.check.isChecked() else None

    def set_value(self, day: date | None) -> None:
        self.check.setChecked(day is not None)
        if day is not None:
            self.edit.setDate(_qdate(day))


# -- the dialog ----------------------------------------------------------------------


class ReportDialog(QDialog):
    """Make one report: parameters, format and file, then Save or Print."""

    written = Signal(str)  # what was done, for the status bar
    prefs_changed = Signal(object)  # ReportPrefs after a successful save or print

    def __init__(
        self,
        *,
        app: CalTrack,
        runner: TaskRunner,
        kind: str,
        prefs: ReportPrefs,
        tag: str = "",
        print_first: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.kind = KINDS[kind]
        self._app = app
        self._runner = runner
        self.prefs = prefs
        self.today = app.clock.today()
        self.job: CancellableJob | None = None
        self.report: Report | None = None  # the last one built (tests look at it)
        self._auto_name = True
        self._confirmed: Path | None = None  # a path the Save dialog already confirmed
        self._folder = proposed_folder(prefs.folder)
        self.setWindowTitle(f"{self.kind.title} — CalTrack")
        self.setObjectName("reportDialog")
        self.setMinimumWidth(620)

        about = QLabel(self.kind.about)
        about.setWordWrap(True)
        self.params = QGroupBox("What to include")
        self.form = ValidatingForm()
        QVBoxLayout(self.params).addWidget(self.form)
        self._build_parameters(tag)

        output = QGroupBox("Output")
        out_form = QFormLayout(output)
        self.format = QComboBox()
        for key in FORMATS:
            self.format.addItem(FORMAT_LABELS[key], key)
        self.format.setCurrentIndex(max(0, self.format.findData(prefs.format)))
        self.format.setAccessibleName("Format")
        format_label = QLabel("&Format:")
        format_label.setBuddy(self.format)
        out_form.addRow(format_label, self.format)
        self.file = QLineEdit()
        self.file.setAccessibleName("File to write")
        self.file.textEdited.connect(self._file_edited)
        self.choose = QPushButton("C&hoose…")
        self.choose.setAccessibleName("Choose the file")
        self.choose.clicked.connect(self.choose_file)
        self.file_error = QLabel()
        self.file_error.setObjectName("fieldError")
        self.file_error.setWordWrap(True)
        self.file_error.hide()
        file_row = QWidget()
        file_layout = QVBoxLayout(file_row)
        file_layout.setContentsMargins(0, 0, 0, 0)
        line = QHBoxLayout()
        line.addWidget(self.file, 1)
        line.addWidget(self.choose)
        file_layout.addLayout(line)
        file_layout.addWidget(self.file_error)
        file_label = QLabel("F&ile:")
        file_label.setBuddy(self.file)
        out_form.addRow(file_label, file_row)
        self.open_when_done = QCheckBox("&Open the file when it is written")
        self.open_when_done.setChecked(prefs.open_when_done)
        out_form.addRow("", self.open_when_done)
        self.format.currentIndexChanged.connect(lambda _i: self._format_changed())

        self.busy = BusyBar(self.cancel, button="&Cancel", tip="Stop: nothing is written")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setAccessibleName("Note")
        self.note.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.print_button = self.buttons.addButton(
            "&Print…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.print_button.setToolTip("Print the report (laid out as the PDF)")
        self.save_button = self.buttons.addButton("&Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setToolTip("Write the report to the file")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        self.print_button.clicked.connect(self.print_report)

        layout = dialog_layout(self)
        layout.addWidget(about)
        layout.addWidget(self.params)
        layout.addWidget(output)
        layout.addWidget(self.busy)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        enter_presses(self, self.print_button if print_first else self.save_button)
        self._propose_name()

    # -- parameters per kind ---------------------------------------------------------

    def _build_parameters(self, tag: str) -> None:
        key = self.kind.key
        self.days: QSpinBox | None = None
        self.tag: QLineEdit | None = None
        self.status: QComboBox | None = None
        self.date_from: DateChoice | None = None
        self.date_to: DateChoice | None = None
        self.user: QComboBox | None = None
        self.entity_type: QComboBox | None = None
        self.entity: QLineEdit | None = None
        if key == "due":
            self.days = QSpinBox()
            self.days.setRange(0, MAX_DUE_DAYS)
            self.days.setValue(30)
            self.days.setSuffix(" days")
            self.days.setMaximumWidth(160)
            self.form.add("days", "&Due within:", self.days)
        elif key in ("overdue", "custody"):
            note = QLabel(f"As of today, {self.today:%Y-%m-%d}. Nothing to choose.")
            note.setWordWrap(True)
            self.form.layout_.addRow(note)
        elif key == "history":
            self.tag = QLineEdit(tag)
            self.tag.setPlaceholderText("asset tag, e.g. TH-000042")
            self.tag_model = QStringListModel(self)
            completer = QCompleter(self.tag_model, self)
            completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
            completer.setFilterMode(Qt.MatchFlag.MatchContains)
            self.tag.setCompleter(completer)
            self._complete_timer = QTimer(self)
            self._complete_timer.setSingleShot(True)
            self._complete_timer.setInterval(COMPLETE_DEBOUNCE_MS)
            self._complete_timer.timeout.connect(self._load_completions)
            self.tag.textEdited.connect(lambda _t: self._complete_timer.start())
            self.tag.textChanged.connect(lambda _t: self._propose_name())
            self.form.add("tag", "&Asset tag:", self.tag)
        elif key == "oot":
            self.status = QComboBox()
            for value, label in OOT_STATUSES:
                self.status.addItem(label, value)
            self.form.add("status", "&Status:", self.status)
            self.date_from = DateChoice("from", self.today - timedelta(days=365), on=False)
            self.date_to = DateChoice("to", self.today, on=False)
            self._add_period("Found:", "Found on or after", "Found on or before")
        elif key == "audit":
            start = self.today - timedelta(days=AUDIT_DEFAULT_DAYS)
            self.date_from = DateChoice("from", start, on=True)
            self.date_to = DateChoice("to", self.today, on=True)
            self._add_period("Period (&UTC):", "From (UTC day)", "To (UTC day, included)")
            self.user = QComboBox()
            self.user.setEditable(True)
            self.user.setMinimumContentsLength(24)
            self.user.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            self.user.addItem("")
            line = self.user.lineEdit()
            if line is not None:
                line.setPlaceholderText("any user (an OS login)")
            self.form.add("user", "Us&er:", self.user)
            self.entity_type = QComboBox()
            for value, label in ENTITY_TYPES:
                self.entity_type.addItem(label, value)
            self.form.add("entity_type", "Entity &type:", self.entity_type)
            self.entity = QLineEdit()
            self.entity.setPlaceholderText(
                "an asset tag (with its calibrations and files) or a label; empty: all"
            )
            self.form.add("entity", "E&ntity:", self.entity)
            self._load_users()
        for choice in (self.date_from, self.date_to):
            if choice is not None:
                choice.changed.connect(self._propose_name)

    def _add_period(self, label: str, low_name: str, high_name: str) -> None:
        """Both dates on one row; a problem with either is said under it."""
        if self.date_from is None or self.date_to is None:
            raise RuntimeError("a period row needs both of its dates made first")
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.date_from)
        layout.addSpacing(12)
        layout.addWidget(self.date_to)
        layout.addStretch(1)
        for choice, name in ((self.date_from, low_name), (self.date_to, high_name)):
            choice.edit.setAccessibleName(name)
            choice.check.setAccessibleName(f"Limit by date: {name.lower()}")
        row.setFocusProxy(self.date_from.check)  # the label's mnemonic lands here
        self.form.add("from", label, row)
        row.setAccessibleName(label.replace("&", "").rstrip(":"))
        self.form.rows["to"] = self.form.rows["from"]

    def _load_completions(self) -> None:
        if self.tag is None:
            raise RuntimeError("asset tag completions asked for in a report without a tag")
        text = self.tag.text().strip()
        if not text:
            return
        service = self._app.instruments

        def found(tags: list[str]) -> None:
            self.tag_model.setStringList(tags)
            completer = self.tag.completer() if self.tag is not None else None
            # The offscreen platform (tests, screenshots) cannot show popups and says so.
            popups = QGuiApplication.platformName() != "offscreen"
            if completer is not None and self.tag is not None and self.tag.hasFocus() and popups:
                completer.complete()

        self._run(
            lambda: [
                r.asset_tag
                for r in service.list(search=text, sort="asset_tag", limit=COMPLETE_LIMIT).rows
            ],
            found,
            lambda _exc: None,  # a completer that cannot load simply offers nothing
            key="report-tag-completions",
        )

    def _load_users(self) -> None:
        accounts = self._app.accounts

        def loaded(logins: list[str]) -> None:
            if self.user is None:
                return
            typed = self.user.currentText()
            for login in logins:
                if self.user.findText(login) < 0:
                    self.user.addItem(login)
            self.user.setEditText(typed)

        self._run(
            lambda: sorted(u.login for u in accounts.list()),
            loaded,
            lambda _exc: None,  # free text still works
            key="report-users",
        )

    def request(self) -> ReportRequest:
        """The parameters as they stand."""

        def text(edit: QLineEdit | None) -> str | None:
            return (edit.text().strip() or None) if edit is not None else None

        user = self.user.currentText().strip() if self.user is not None else ""
        return ReportRequest(
            kind=self.kind.key,
            days=self.days.value() if self.days is not None else 30,
            tag=self.tag.text().strip() if self.tag is not None else "",
            status=(self.status.currentData() or None) if self.status is not None else None,
            date_from=self.date_from.value() if self.date_from is not None else None,
            date_to=self.date_to.value() if self.date_to is not None else None,
            user=user or None,
            entity_type=(self.entity_type.currentData() or None)
            if self.entity_type is not None
            else None,
            entity=text(self.entity),
        )

    # -- the file --------------------------------------------------------------------

    @property
    def fmt(self) -> str:
        return str(self.format.currentData())

    def proposed_name(self) -> str:
        """e.g. ``due-list-2026-11-23.pdf``, ``history-TH-001-2026-11-23.xlsx``."""
        request = self.request()
        parts = [self.kind.stem]
        if request.kind == "history" and request.tag:
            parts.append(safe_file_part(request.tag))
        if request.kind == "audit" and (request.date_from or request.date_to):
            low = f"{request.date_from:%Y-%m-%d}" if request.date_from else "start"
            high = f"{request.date_to:%Y-%m-%d}" if request.date_to else "end"
            parts.append(f"{low}-to-{high}")
        else:
            parts.append(f"{self.today:%Y-%m-%d}")
        return "-".join(parts) + f".{self.fmt}"

    def _propose_name(self) -> None:
        if self._auto_name:
            self.file.setText(str(self._folder / self.proposed_name()))
            show_whole_path(self.file)

    def _file_edited(self, _text: str) -> None:
        self._auto_name = False
        self._confirmed = None
        self.file_error.hide()

    def _format_changed(self) -> None:
        if self._auto_name:
            self._propose_name()
            return
        path = Path(self.file.text().strip())
        if path.suffix.lower().lstrip(".") in FORMATS:
            self.file.setText(str(path.with_suffix(f".{self.fmt}")))
            self._confirmed = None

    def target(self) -> Path | None:
        """The file to write (a relative name goes into the proposed folder)."""
        text = self.file.text().strip()
        if not text:
            return None
        path = Path(text).expanduser()
        return path if path.is_absolute() else self._folder / path

    def choose_file(self) -> None:
        current = self.target() or self._folder / self.proposed_name()
        filters = ";;".join(FORMAT_FILTERS[f] for f in (self.fmt, *FORMATS) if f != self.fmt)
        filters = f"{FORMAT_FILTERS[self.fmt]};;{filters}"
        chosen = files.ask_save_path(
            self, f"Save the {self.kind.title.lower()} as", str(current), filters
        )
        if not chosen:
            return
        path = Path(chosen)
        ext = path.suffix.lower().lstrip(".")
        if ext in FORMATS:
            self.format.blockSignals(True)
            self.format.setCurrentIndex(self.format.findData(ext))
            self.format.blockSignals(False)
        else:
            path = path.with_name(f"{path.name}.{self.fmt}")
        self.set_target(path)
        # The Save dialog asked about replacing it (only for the name it returned).
        self._confirmed = path if ext in FORMATS else None

    def set_target(self, path: Path) -> None:
        """Write to ``path`` (the name is no longer proposed from the parameters)."""
        self._auto_name = False
        self._confirmed = None
        self.file.setText(str(path))
        show_whole_path(self.file)
        self.file_error.hide()

    # -- running ---------------------------------------------------------------------

    def _run(self, fn: Callable[[], Any], done: Ok, fail: Fail, *, key: str | None = None) -> None:
        run_for(self, self._runner, fn, done, fail, key=key)

    @property
    def is_busy(self) -> bool:
        return self.job is not None

    def _set_busy(self, text: str | None) -> None:
        busy = text is not None
        for widget in (self.params, self.format, self.file, self.choose, self.open_when_done):
            widget.setEnabled(not busy)
        self.save_button.setEnabled(not busy)
        self.print_button.setEnabled(not busy)
        if text is None:
            self.job = None
            self.busy.finish()
        else:
            self.note.hide()
            self.busy.start(text)

    def _check_input(self) -> ReportRequest | None:
        self.form.show_errors({})
        request = self.request()
        if request.kind == "history" and not request.tag:
            self.form.show_errors({"tag": "Enter the asset tag of the instrument."})
            return None
        return request

    def _failed(self, job: CancellableJob, exc: BaseException) -> None:
        if job is not self.job:
            return  # cancelled: its errors no longer matter either
        self._set_busy(None)
        if isinstance(exc, ValidationError):
            self.form.show_errors(dict(exc.fields))
        elif isinstance(exc, NotFoundError) and self.tag is not None:
            self.form.show_errors({"tag": "No instrument has this asset tag."})
        elif isinstance(exc, UsageError):
            # The file or its folder (the only usage a report meets): say it at the field.
            self.file_error.setText(str(exc))
            self.file_error.show()
        messages.explain(self, exc, doing=f"making the {self.kind.title.lower()}")

    def save(self) -> None:
        """Build the report, then render and write it to the file (both off the GUI thread)."""
        if self.is_busy:
            return
        request = self._check_input()
        if request is None:
            return
        target = self.target()
        if target is None:
            self.file_error.setText("Name the file to write, or use Choose….")
            self.file_error.show()
            self.file.setFocus()
            return
        fmt = self.fmt
        ext = target.suffix.lower().lstrip(".")
        if ext not in FORMATS:
            target = target.with_name(f"{target.name}.{fmt}")
            self.file.setText(str(target))
        elif ext != fmt:
            self.file_error.setText(
                f"{target.name} ends in .{ext} but the format is {fmt.upper()}: choose "
                f"{ext.upper()} as the format, or name the file {target.stem}.{fmt}."
            )
            self.file_error.show()
            return
        app = self._app
        job = CancellableJob()
        self.job = job
        self._set_busy(f"Reading the database for the {self.kind.title.lower()}…")

        def build() -> tuple[Path, bool, Report | None]:
            # The path first: a file that cannot be written is refused before any work.
            checked = check_output_path(target)
            format_for(checked, fmt)
            exists = checked.exists()
            if job.cancelled:
                return checked, exists, None
            return checked, exists, build_report(app, request)

        self._run(
            build,
            lambda result: self._built(job, fmt, *result),
            lambda exc: self._failed(job, exc),
        )

    def _built(
        self, job: CancellableJob, fmt: str, target: Path, exists: bool, report: Report | None
    ) -> None:
        if job is not self.job or report is None:
            return  # cancelled meanwhile: dropped
        self.report = report
        if exists and self._confirmed != target and not files.confirm_replace(self, target):
            self._set_busy(None)
            self.file.setFocus()
            return
        rows = report.row_count
        if fmt == "pdf" and rows > MAX_PDF_ROWS:
            # Refused by the renderer too; said here with both ways out.
            self._set_busy(None)
            messages.warn(
                self,
                "Too long for a PDF",
                f"The report has {rows:,} rows; a PDF takes at most {MAX_PDF_ROWS:,} "
                "(about 300 pages).",
                "Narrow it (a shorter period, one user or one entity), or choose CSV or "
                "XLSX, which hold any length.",
            )
            return
        self.busy.say(self._render_note(report, f"Writing {target.name}…", fmt))

        def write() -> Path | None:
            try:
                return write_cancellable(
                    target,
                    job,
                    lambda partial: write_report(
                        report, partial, fmt, responsive=True, cancelled=lambda: job.cancelled
                    ),
                )
            except RenderCancelled:
                return None  # cancelled while the child process rendered: nothing written

        self._run(
            write,
            lambda path: self._written(job, path, report, fmt),
            lambda exc: self._failed(job, exc),
        )

    def _render_note(self, report: Report, text: str, fmt: str) -> str:
        rows = report.row_count
        if fmt == "pdf" and rows >= ISOLATE_PDF_ROWS:
            return (
                f"Laying out {rows:,} rows for the PDF (a 10,000-row report takes about "
                "15 s; CSV or XLSX are much faster)…"
            )
        return text

    def _written(self, job: CancellableJob, path: Path | None, report: Report, fmt: str) -> None:
        if job is not self.job or path is None:
            return
        self._set_busy(None)
        rows = report.row_count
        self.prefs = ReportPrefs(
            format=fmt, folder=str(path.parent), open_when_done=self.open_when_done.isChecked()
        )
        self.prefs_changed.emit(self.prefs)
        self.written.emit(
            f"Wrote {path} ({report.title}, {fmt.upper()}, {rows:,} row{'' if rows == 1 else 's'})."
        )
        if self.open_when_done.isChecked():
            files.open_file(path)
        self.accept()

    def print_report(self) -> None:
        """Ask for the printer, then build and print the report off the GUI thread."""
        if self.is_busy:
            return
        request = self._check_input()
        if request is None:
            return
        printer = files.make_printer()
        printer.setDocName(self.kind.title)
        if not files.ask_printer(self, printer):
            return
        app = self._app
        job = CancellableJob()
        self.job = job
        self._set_busy(f"Reading the database for the {self.kind.title.lower()}…")

        def build() -> Report | None:
            return None if job.cancelled else build_report(app, request)

        self._run(
            build,
            lambda report: self._print_built(job, printer, report),
            lambda exc: self._failed(job, exc),
        )

    def _print_built(self, job: CancellableJob, printer: QPrinter, report: Report | None) -> None:
        if job is not self.job or report is None:
            return
        self.report = report
        rows = report.row_count
        if rows > MAX_PDF_ROWS:
            self._set_busy(None)
            messages.warn(
                self,
                "Too long to print",
                f"The report has {rows:,} rows; at most {MAX_PDF_ROWS:,} are printed "
                "(about 300 pages).",
                "Narrow it (a shorter period, one user or one entity), or save it as CSV or "
                "XLSX instead.",
            )
            return
        self.busy.say(self._render_note(report, "Printing…", "pdf"))

        def paint() -> int | None:
            from app.reports.pdf import paint_report

            if not job.commit():
                return None
            printer.setDocName(report.title)
            return paint_report(printer, report)

        self._run(
            paint,
            lambda pages: self._printed(job, pages, report),
            lambda exc: self._failed(job, exc),
        )

    def _printed(self, job: CancellableJob, pages: int | None, report: Report) -> None:
        if job is not self.job or pages is None:
            return
        self._set_busy(None)
        self.prefs_changed.emit(self.prefs)
        self.written.emit(f"Printed {report.title} ({pages} page{'' if pages == 1 else 's'}).")
        self.accept()

    def cancel(self) -> None:
        """Stop waiting: a result that arrives later is dropped and nothing is written."""
        job = self.job
        if job is None:
            return
        if not job.cancel():
            # The file is being renamed into place or the printer has the pages.
            self.busy.say("Too late to cancel: it is being finished; this takes a moment.")
            self.busy.button.setEnabled(False)
            return
        self._set_busy(None)
        self.note.setText("Cancelled: nothing was written.")
        self.note.show()

    def reject(self) -> None:
        if self.is_busy:
            # Esc, Close or the title bar's X while working stops the work; the dialog and
            # what the user chose stay.
            self.cancel()
            return
        super().reject()
