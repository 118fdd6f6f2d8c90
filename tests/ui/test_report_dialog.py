"""The report dialog on real databases: every kind to a real file read back (PDF text,
CSV, XLSX), printing, refused paths and input, Cancel, the PDF limit, read-only mode,
and the main window's Reports menu with what it remembers per user."""

from __future__ import annotations

import csv
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.reports import output
from app.services.editing import EditingOptions
from app.services.report_model import Report
from app.settings.user_settings import UserSettings
from app.ui import files, jobs
from app.ui.dialogs import report_dialog
from app.ui.dialogs.report_dialog import ReportDialog, ReportPrefs
from app.ui.main_window import LockView, MainWindow
from app.ui.tasks import TaskRunner
from tests.ui.conftest import Shown
from tests.ui.test_qa_dialogs import build_lab

TIMEOUT = 30_000


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.wait()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files "Open when done" would open (instead of starting a viewer)."""
    paths: list[Path] = []
    monkeypatch.setattr(files, "open_file", paths.append)
    return paths


def make(
    qtbot: QtBot,
    app: CalTrack,
    runner: TaskRunner,
    kind: str,
    folder: Path,
    **kwargs: Any,
) -> ReportDialog:
    dialog = ReportDialog(
        app=app, runner=runner, kind=kind, prefs=ReportPrefs(folder=str(folder)), **kwargs
    )
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def choose_format(dialog: ReportDialog, fmt: str) -> None:
    dialog.format.setCurrentIndex(dialog.format.findData(fmt))


def save(qtbot: QtBot, dialog: ReportDialog, path: Path) -> None:
    dialog.set_target(path)
    with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT):
        dialog.save_button.click()


def working(dialog: ReportDialog) -> bool:
    return dialog.is_busy


def pdf_text(path: Path) -> str:
    return " ".join(" ".join((p.extract_text() or "").split()) for p in PdfReader(path).pages)


def csv_rows(path: Path, first_header: str) -> list[dict[str, str]]:
    """The rows of the table whose header row starts with ``first_header``."""
    lines = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    start = next(i for i, row in enumerate(lines) if row and row[0] == first_header)
    header = lines[start]
    rows = []
    for row in lines[start + 1 :]:
        if not any(row):
            break
        rows.append(dict(zip(header, row, strict=False)))
    return rows


def sheet_table(book: Any, name: str) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """A section sheet's header and rows (its notes follow below a blank row)."""
    rows = list(book[name].iter_rows(values_only=True))
    body: list[tuple[Any, ...]] = []
    for row in rows[1:]:
        if not any(v is not None for v in row):
            break
        body.append(row)
    return rows[0], body


def first_column(report: Report) -> list[str]:
    table = report.sections[0].table
    assert table is not None
    return [str(row[0]) for row in table.rows]


def some_tag(app: CalTrack) -> str:
    """An instrument with a few calibrations."""
    for row in app.instruments.list(limit=None, sort="asset_tag").rows:
        if len(app.calibrations.history(row.asset_tag)) >= 2:
            return row.asset_tag
    raise AssertionError("the demo data has no instrument with two calibrations")


# -- every kind to a real file ---------------------------------------------------------


def test_due_list_as_pdf_with_the_proposed_name(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path, opened: list[Path]
) -> None:
    dialog = make(qtbot, demo_app, runner, "due", tmp_path)
    assert dialog.file.text() == str(tmp_path / "due-list-2026-11-23.pdf")
    assert dialog.days is not None and dialog.days.value() == 30
    dialog.days.setValue(90)
    expected = first_column(demo_app.reports.due(90))
    assert expected, "the demo data has instruments due in 90 days"
    written: list[str] = []
    dialog.written.connect(written.append)
    save(qtbot, dialog, tmp_path / "due.pdf")
    text = pdf_text(tmp_path / "due.pdf")
    assert "Calibrations due" in text and "Due in the next 90 days" in text
    assert expected[0] in text and expected[-1] in text
    assert opened == [tmp_path / "due.pdf"], "Open when done opens the file written"
    assert written and "due.pdf" in written[0] and "PDF" in written[0]
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name], "no partial file left"


def test_overdue_list_as_csv_matches_the_service(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path, opened: list[Path]
) -> None:
    dialog = make(qtbot, demo_app, runner, "overdue", tmp_path)
    choose_format(dialog, "csv")
    assert dialog.file.text().endswith("overdue-list-2026-11-23.csv"), "extension follows"
    save(qtbot, dialog, tmp_path / "overdue.csv")
    rows = csv_rows(tmp_path / "overdue.csv", "Asset tag")
    assert [r["Asset tag"] for r in rows] == first_column(demo_app.reports.overdue())
    assert rows and all(r["State"] in ("overdue", "never calibrated") for r in rows)


def test_instrument_history_as_xlsx_for_the_selected_instrument(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path, opened: list[Path]
) -> None:
    tag = some_tag(demo_app)
    dialog = make(qtbot, demo_app, runner, "history", tmp_path, tag=tag)
    assert dialog.tag is not None and dialog.tag.text() == tag, "the selected instrument"
    choose_format(dialog, "xlsx")
    assert Path(dialog.file.text()).name == f"history-{tag}-2026-11-23.xlsx"
    save(qtbot, dialog, tmp_path / "history.xlsx")
    book = load_workbook(tmp_path / "history.xlsx", read_only=True)
    assert "Instrument" in book.sheetnames and "Calibrations" in book.sheetnames
    _header, fields = sheet_table(book, "Instrument")
    assert dict((r[0], r[1]) for r in fields)["Asset tag"] == tag
    header, calibrations = sheet_table(book, "Calibrations")
    assert header[0] == "ID"
    assert {r[0] for r in calibrations} == {c.id for c in demo_app.calibrations.history(tag)}


def test_the_tag_field_completes_from_the_register(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path
) -> None:
    tag = some_tag(demo_app)
    dialog = make(qtbot, demo_app, runner, "history", tmp_path)
    assert dialog.tag is not None
    dialog.tag.setFocus()
    qtbot.keyClicks(dialog.tag, tag[:-1])
    qtbot.waitUntil(lambda: tag in dialog.tag_model.stringList(), timeout=TIMEOUT)


def test_oot_log_of_open_cases_as_csv(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner, tmp_path: Path, opened: list[Path]
) -> None:
    build_lab(app)
    dialog = make(qtbot, app, runner, "oot", tmp_path)
    assert dialog.status is not None
    dialog.status.setCurrentIndex(dialog.status.findData("open"))
    choose_format(dialog, "csv")
    save(qtbot, dialog, tmp_path / "oot.csv")
    rows = csv_rows(tmp_path / "oot.csv", "Case")
    assert [(r["Instrument"], r["Status"]) for r in rows] == [("REF-1", "open")]
    assert rows[0]["Affected calibrations"] == "2"
    assert "TH-001" in rows[0]["Affected instruments"]


def test_audit_trail_of_one_user_and_instrument_as_xlsx(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path, opened: list[Path]
) -> None:
    tag = some_tag(demo_app)
    dialog = make(qtbot, demo_app, runner, "audit", tmp_path)
    assert dialog.date_from is not None and dialog.date_to is not None
    assert str(dialog.date_from.value()) == "2026-10-24", "the last 30 days by default"
    assert str(dialog.date_to.value()) == "2026-11-23"
    assert Path(dialog.file.text()).name == "audit-trail-2026-10-24-to-2026-11-23.pdf"
    assert dialog.user is not None and dialog.entity is not None
    qtbot.waitUntil(lambda: dialog.user is not None and dialog.user.findText("alice") >= 0)
    dialog.user.setEditText("alice")
    dialog.entity.setText(tag)
    choose_format(dialog, "xlsx")
    save(qtbot, dialog, tmp_path / "audit.xlsx")
    book = load_workbook(tmp_path / "audit.xlsx", read_only=True)
    header, body = sheet_table(book, "Audit trail")
    expected = demo_app.reports.audit_trail(
        since=dialog.date_from.value(), until=dialog.date_to.value(), user="alice", entity=tag
    )
    assert len(body) == expected.row_count > 0
    entity = header.index("Entity")
    assert all(str(r[entity]).startswith(tag) for r in body)
    assert {r[header.index("User")] for r in body} == {"alice"}


def test_print_paints_the_report_on_the_printer(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tag = some_tag(demo_app)
    out = tmp_path / "printed.pdf"
    asked: list[str] = []

    def ask(_parent: object, printer: QPrinter) -> bool:
        asked.append(printer.docName())
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(out))
        return True

    monkeypatch.setattr(files, "ask_printer", ask)
    dialog = make(qtbot, demo_app, runner, "history", tmp_path, tag=tag, print_first=True)
    assert dialog.print_button.isDefault()
    with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT):
        dialog.print_button.click()
    assert asked == ["Instrument history"]
    assert f"Instrument history: {tag}" in pdf_text(out)
    assert not (tmp_path / dialog.proposed_name()).exists(), "printing writes no file"


# -- refusals keep the dialog open with what the user chose -------------------------------


def test_a_missing_folder_is_refused_and_the_dialog_stays(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path, shown: Shown
) -> None:
    dialog = make(qtbot, demo_app, runner, "due", tmp_path)
    assert dialog.days is not None
    dialog.days.setValue(45)
    target = tmp_path / "no such folder" / "due.pdf"
    dialog.set_target(target)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=TIMEOUT)
    title, text, _detail = shown.boxes[0]
    assert title == "CalTrack" and "does not exist" in text, shown.boxes
    assert dialog.isVisible() and not dialog.is_busy
    assert dialog.days.value() == 45 and dialog.file.text() == str(target)
    assert dialog.file_error.isVisible() and "does not exist" in dialog.file_error.text()
    assert dialog.save_button.isEnabled()
    assert not target.parent.exists()


def test_a_folder_as_the_file_is_refused(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path, shown: Shown
) -> None:
    folder = tmp_path / "reports.pdf"
    folder.mkdir()
    dialog = make(qtbot, demo_app, runner, "overdue", tmp_path)
    dialog.set_target(folder)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=TIMEOUT)
    assert "is a folder" in shown.boxes[0][1]
    assert dialog.isVisible() and folder.is_dir() and not any(folder.iterdir())


def test_an_unknown_tag_and_a_reversed_period_are_refused_at_their_fields(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path, shown: Shown
) -> None:
    history = make(qtbot, demo_app, runner, "history", tmp_path, tag="NO-SUCH-TAG")
    history.save_button.click()
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=TIMEOUT)
    assert shown.titles() == ["Not found"]
    assert history.form.rows["tag"].error.isVisible()
    assert history.isVisible() and not list(tmp_path.glob("history-*"))

    history.tag.setText("") if history.tag is not None else None
    history.save_button.click()
    assert "Enter the asset tag" in history.form.rows["tag"].error.text()
    assert not history.is_busy, "nothing started without a tag"

    audit = make(qtbot, demo_app, runner, "audit", tmp_path)
    assert audit.date_from is not None and audit.date_to is not None
    audit.date_from.set_value(audit.today)
    audit.date_to.set_value(audit.today.replace(day=1))
    audit.save_button.click()
    qtbot.waitUntil(lambda: len(shown.boxes) == 2, timeout=TIMEOUT)
    assert shown.boxes[1][0] == "Please check the input"
    assert "swap them" in audit.form.rows["from"].error.text()
    assert audit.isVisible() and not list(tmp_path.glob("audit-*"))


def test_the_extension_follows_the_format_or_is_added(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner, tmp_path: Path, opened: list[Path]
) -> None:
    dialog = make(qtbot, demo_app, runner, "overdue", tmp_path)
    dialog.set_target(tmp_path / "overdue.csv")  # while PDF is the format
    dialog.save_button.click()
    assert not working(dialog) and "choose CSV as the format" in dialog.file_error.text()
    choose_format(dialog, "xlsx")
    assert dialog.file.text() == str(tmp_path / "overdue.xlsx"), "a typed name follows too"
    save(qtbot, dialog, tmp_path / "overdue list")
    assert (tmp_path / "overdue list.xlsx").exists() and opened == [tmp_path / "overdue list.xlsx"]


def test_an_existing_file_is_replaced_only_when_the_user_agrees(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    opened: list[Path],
) -> None:
    target = tmp_path / "due.csv"
    target.write_text("keep me", encoding="utf-8")
    answers = [False, True]
    asked: list[Path] = []

    def confirm(_parent: object, path: Path) -> bool:
        asked.append(path)
        return answers.pop(0)

    monkeypatch.setattr(files, "confirm_replace", confirm)
    dialog = make(qtbot, demo_app, runner, "due", tmp_path)
    choose_format(dialog, "csv")
    dialog.set_target(target)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: bool(asked) and not dialog.is_busy, timeout=TIMEOUT)
    assert target.read_text(encoding="utf-8") == "keep me" and dialog.isVisible()
    save(qtbot, dialog, target)
    assert asked == [target, target]
    assert csv_rows(target, "Asset tag"), "replaced by the report"


def test_a_pdf_over_the_limit_says_how_to_get_it_then_csv_works(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    shown: Shown,
    monkeypatch: pytest.MonkeyPatch,
    opened: list[Path],
) -> None:
    # Every row of the report: the calibrations overdue and the demo's late check.
    sections = demo_app.reports.overdue().sections
    overdue = sum(len(s.table.rows) for s in sections if s.table is not None)
    instruments = len(first_column(demo_app.reports.overdue()))
    assert overdue > instruments > 1
    monkeypatch.setattr(report_dialog, "MAX_PDF_ROWS", 1)
    dialog = make(qtbot, demo_app, runner, "overdue", tmp_path)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=TIMEOUT)
    title, text, detail = shown.boxes[0]
    assert title == "Too long for a PDF" and f"{overdue:,} rows" in text
    assert "Narrow it" in detail and "CSV or XLSX" in detail
    assert dialog.isVisible() and not list(tmp_path.glob("*.pdf"))
    choose_format(dialog, "csv")
    save(qtbot, dialog, tmp_path / "overdue.csv")
    assert len(csv_rows(tmp_path / "overdue.csv", "Asset tag")) == instruments


def test_a_long_pdf_is_rendered_by_a_child_process(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    opened: list[Path],
) -> None:
    # Rendered by a child process (the window's event loop stays free), and said so.
    monkeypatch.setattr(report_dialog, "ISOLATE_PDF_ROWS", 1)
    monkeypatch.setattr(output, "ISOLATE_PDF_ROWS", 1)
    dialog = make(qtbot, demo_app, runner, "overdue", tmp_path)
    said: list[str] = []
    monkeypatch.setattr(dialog.busy, "say", said.append)
    save(qtbot, dialog, tmp_path / "overdue.pdf")
    assert len(said) == 1 and said[0].startswith("Laying out")
    assert "CSV or XLSX" in said[0]
    text = "".join(p.extract_text() for p in PdfReader(tmp_path / "overdue.pdf").pages)
    assert "Overdue" in text


# -- cancel, read-only ------------------------------------------------------------------


def test_cancel_drops_the_result_and_writes_nothing(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    opened: list[Path],
) -> None:
    entered, gate = threading.Event(), threading.Event()
    real_due = demo_app.reports.due
    built: list[int] = []

    def held_due(days: int = 30) -> Report:
        entered.set()
        gate.wait(TIMEOUT / 1000)  # the worker is still reading when Cancel is clicked
        report = real_due(days)
        built.append(report.row_count)
        return report

    monkeypatch.setattr(demo_app.reports, "due", held_due)
    dialog = make(qtbot, demo_app, runner, "due", tmp_path)
    finished: list[int] = []
    dialog.finished.connect(finished.append)
    target = tmp_path / "due.pdf"
    dialog.set_target(target)
    dialog.save_button.click()
    assert working(dialog) and dialog.busy.isVisible() and not dialog.save_button.isEnabled()
    assert entered.wait(TIMEOUT / 1000), "the worker is reading the database"
    dialog.busy.button.click()
    assert not working(dialog) and "Cancelled" in dialog.note.text()
    gate.set()
    assert runner.wait(TIMEOUT)
    qtbot.waitUntil(lambda: runner.running == 0, timeout=TIMEOUT)  # delivered, then dropped
    assert built, "the report arrived after Cancel"
    assert not target.exists() and not list(tmp_path.glob("*.pdf")) and not opened
    assert dialog.isVisible() and finished == [] and dialog.save_button.isEnabled()
    assert dialog.file.text() == str(target), "what the user chose stays"


def test_a_cancel_before_the_rename_leaves_no_file(tmp_path: Path) -> None:
    # The job's own guarantee: a cancel before the rename wins, the partial file goes.
    job = jobs.CancellableJob()
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "due.csv"

    def write(partial: Path) -> None:
        partial.write_text("a report", encoding="utf-8")
        assert job.cancel(), "not committed yet: cancelling works"

    assert jobs.write_cancellable(target, job, write) is None
    assert list(folder.iterdir()) == []
    late = jobs.CancellableJob()
    assert jobs.write_cancellable(target, late, lambda p: p.write_text("x")) == target
    assert not late.cancel(), "committed: too late to cancel"
    assert target.read_text() == "x"


def test_reports_work_on_a_database_opened_read_only(
    qtbot: QtBot,
    demo_app: CalTrack,
    demo_db: str,
    clock: FixedClock,
    runner: TaskRunner,
    tmp_path: Path,
    opened: list[Path],
) -> None:
    bob = Identity(user="bob", machine="LAB-PC-4")
    with open_caltrack(
        str(demo_db),
        identity=bob,
        clock=clock,
        state_dir=tmp_path / "bob-state",
        editing=EditingOptions(edit=False),
    ) as reader:
        assert not reader.session.editing
        dialog = make(qtbot, reader, runner, "due", tmp_path)
        choose_format(dialog, "csv")
        save(qtbot, dialog, tmp_path / "due.csv")
        runner.wait()
    rows = csv_rows(tmp_path / "due.csv", "Asset tag")
    assert [r["Asset tag"] for r in rows] == first_column(demo_app.reports.due(30))
    lines = (tmp_path / "due.csv").read_text(encoding="utf-8-sig")
    assert "bob on LAB-PC-4" in lines, "made by the reader"


# -- the main window -------------------------------------------------------------------


@pytest.fixture
def window(qtbot: QtBot, demo_app: CalTrack, shown: Shown) -> Iterator[MainWindow]:
    runner = TaskRunner()
    win = MainWindow(app=demo_app, runner=runner, settings=UserSettings(reminders=False))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.history is not None, timeout=TIMEOUT)
    yield win
    win.close()
    runner.wait()


def test_reports_menu_stays_usable_read_only_and_remembers_format_and_folder(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, opened: list[Path]
) -> None:
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus.index("&Reports") == menus.index("&QA") + 1
    actions = window.report_actions
    window.show_lock_view(
        LockView(
            editing=False,
            text="Read-only — locked by bob on LAB-PC-4",
            held_elsewhere=True,
            idle_released=False,
            stale=False,
            admin=False,
            has_lock=False,
        )
    )
    assert all(a.isEnabled() for a in actions.actions()), "reports only read"
    saved: list[UserSettings] = []
    window.settings_changed.connect(saved.append)

    dialog = actions.open_report("overdue")
    choose_format(dialog, "xlsx")
    folder = tmp_path / "out"
    folder.mkdir()
    save(qtbot, dialog, folder / "overdue.xlsx")
    assert window.settings.extra["reports"]["format"] == "xlsx"
    assert window.settings.extra["reports"]["folder"] == str(folder)
    assert saved and saved[-1].extra["reports"]["format"] == "xlsx", "saved for the user"
    assert "overdue.xlsx" in window.status.currentMessage()

    again = actions.open_report("due")
    assert again.fmt == "xlsx"
    assert again.file.text() == str(folder / "due-list-2026-11-23.xlsx")
    again.reject()


def test_print_history_opens_the_selected_instrument_ready_to_print(
    qtbot: QtBot, window: MainWindow
) -> None:
    assert window.history is not None
    tag = window.history.instrument.asset_tag
    act = window.report_actions.act_print_history
    assert act.shortcut().toString() == "Ctrl+P"
    act.trigger()
    dialog = window.report_actions.dialog
    assert isinstance(dialog, ReportDialog) and dialog.kind.key == "history"
    assert dialog.tag is not None and dialog.tag.text() == tag
    assert dialog.print_button.isDefault()
    dialog.reject()


def test_a_remembered_folder_since_removed_gives_way_to_documents(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    dialog = make(qtbot, demo_app, runner, "due", tmp_path / "removed since")
    proposed = Path(dialog.file.text())
    assert proposed.parent == home / "Documents" and proposed.parent.is_dir()
    assert dialog.file.toolTip() == dialog.file.text()
