"""The labels dialog on a real database: PDFs whose page size and count match the label
stock, the list's instruments, typed tags, the sheet's skipped positions, printing on a
page of the label's size, refusals, and a preview that shows something."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from PySide6.QtGui import QColor
from PySide6.QtPrintSupport import QPrinter
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.reports.labels import LABEL_SIZES
from app.settings.user_settings import UserSettings
from app.ui import files
from app.ui.dialogs.labels_dialog import LabelPrefs, LabelsDialog, parse_tags
from app.ui.main_window import MainWindow
from app.ui.tasks import TaskRunner
from tests.ui.conftest import Shown

TIMEOUT = 30_000
PT_PER_MM = 72 / 25.4


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.wait()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    paths: list[Path] = []
    monkeypatch.setattr(files, "open_file", paths.append)
    return paths


def save_to(monkeypatch: pytest.MonkeyPatch, path: Path) -> list[str]:
    """Answer the Save dialog with ``path``; returns the names it proposed."""
    proposed: list[str] = []

    def ask(_parent: object, _title: str, name: str, _filters: str) -> str:
        proposed.append(name)
        return str(path)

    monkeypatch.setattr(files, "ask_save_path", ask)
    return proposed


def tags_of(app: CalTrack, n: int) -> list[str]:
    return [r.asset_tag for r in app.instruments.list(limit=n, sort="asset_tag").rows]


def make(qtbot: QtBot, app: CalTrack, runner: TaskRunner, **kwargs: Any) -> LabelsDialog:
    kwargs.setdefault("prefs", LabelPrefs())
    dialog = LabelsDialog(app=app, runner=runner, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def choose_size(dialog: LabelsDialog, key: str) -> None:
    dialog.size_combo.setCurrentIndex(dialog.size_combo.findData(key))


def page_sizes_mm(path: Path) -> list[tuple[float, float]]:
    return [
        (
            round(float(p.mediabox.width) / PT_PER_MM, 1),
            round(float(p.mediabox.height) / PT_PER_MM, 1),
        )
        for p in PdfReader(path).pages
    ]


def pages_are(path: Path, expected: list[tuple[float, float]]) -> bool:
    """The PDF's pages have these sizes (PDF page boxes are whole points: ±0.35 mm)."""
    sizes = page_sizes_mm(path)
    return len(sizes) == len(expected) and all(
        abs(w - ew) < 0.4 and abs(h - eh) < 0.4
        for (w, h), (ew, eh) in zip(sizes, expected, strict=True)
    )


def test_the_selected_instrument_on_a_dymo_label(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    opened: list[Path],
) -> None:
    tag = tags_of(demo_app, 1)[0]
    target = tmp_path / "label.pdf"
    proposed = save_to(monkeypatch, target)
    dialog = make(qtbot, demo_app, runner, selected_tag=tag, prefs=LabelPrefs(folder=str(tmp_path)))
    assert dialog.use_selected.isChecked() and tag in dialog.use_selected.text()
    assert dialog.size_combo.currentData() == "dymo-99012"
    assert "89 × 36 mm" in dialog.size_combo.currentText()
    assert not dialog.skip.isEnabled(), "a label printer has no sheet positions"
    assert dialog.summary.text() == "1 label on 1 label page."
    prefs: list[LabelPrefs] = []
    dialog.prefs_changed.connect(prefs.append)
    with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT):
        dialog.save_button.click()
    assert proposed == [str(tmp_path / "labels-dymo-99012-2026-11-23.pdf")]
    assert pages_are(target, [(89.0, 36.0)])
    text = PdfReader(target).pages[0].extract_text() or ""
    assert tag in text and "Due" in text
    assert opened == [target]
    assert prefs == [LabelPrefs(size="dymo-99012", folder=str(tmp_path), open_when_done=True)]


def test_the_list_on_a_part_used_a4_sheet(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    opened: list[Path],
) -> None:
    rows = demo_app.instruments.list(limit=25, sort="asset_tag").rows
    ids = [r.id for r in rows]
    target = tmp_path / "sheet.pdf"
    save_to(monkeypatch, target)
    dialog = make(qtbot, demo_app, runner, list_ids=ids, list_name="all, search “x”")
    assert dialog.use_list.isChecked() and "25 instruments in the list (all, search “x”)" in (
        dialog.use_list.text().replace("&", "")
    )
    choose_size(dialog, "avery-l7160")
    assert dialog.skip.isEnabled() and dialog.skip.maximum() == 20
    dialog.skip.setValue(19)
    assert dialog.summary.text() == "25 labels on 3 sheets, starting at position 20."
    with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT):
        dialog.save_button.click()
    assert pages_are(target, [(210.0, 297.0)] * 3)
    reader = PdfReader(target)
    first = reader.pages[0].extract_text() or ""
    assert rows[0].asset_tag in first and rows[1].asset_tag in first
    assert rows[2].asset_tag not in first, "two labels fit after the 19 used ones"
    assert rows[-1].asset_tag in (reader.pages[2].extract_text() or "")


def test_typed_tags_print_on_a_page_the_size_of_the_label(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tags = tags_of(demo_app, 3)
    out = tmp_path / "printed.pdf"
    page_asked: list[tuple[float, float]] = []

    def ask(_parent: object, printer: QPrinter) -> bool:
        size = printer.pageLayout().pageSize().size(printer.pageLayout().pageSize().Unit.Millimeter)
        page_asked.append((round(size.width(), 1), round(size.height(), 1)))
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(str(out))
        return True

    monkeypatch.setattr(files, "ask_printer", ask)
    dialog = make(qtbot, demo_app, runner)
    assert dialog.use_tags.isChecked(), "nothing selected, no list: tags"
    qtbot.keyClicks(dialog.tags, f"{tags[2]}, {tags[0]}; {tags[2]} {tags[1]}")
    assert dialog.summary.text() == "3 labels on 3 label pages."
    choose_size(dialog, "62x29")
    with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT):
        dialog.print_button.click()
    assert page_asked == [(62.0, 29.0)], "the print dialog opens on the label's page size"
    assert pages_are(out, [(62.0, 29.0)] * 3)
    printed = [p.extract_text() or "" for p in PdfReader(out).pages]
    assert [t for page in printed for t in tags if t in page] == [tags[2], tags[0], tags[1]]
    assert dialog.pages_written == 3


def test_an_unknown_tag_is_refused_and_nothing_is_written(
    qtbot: QtBot,
    demo_app: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    shown: Shown,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "labels.pdf"
    save_to(monkeypatch, target)
    dialog = make(qtbot, demo_app, runner)
    qtbot.keyClicks(dialog.tags, f"{tags_of(demo_app, 1)[0]} NO-SUCH-TAG")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=TIMEOUT)
    assert shown.titles() == ["Not found"] and "NO-SUCH-TAG" in shown.boxes[0][1]
    assert dialog.isVisible() and dialog.job is None and dialog.save_button.isEnabled()
    assert dialog.tags.text().endswith("NO-SUCH-TAG"), "what was typed stays"
    assert not target.exists() and not list(tmp_path.glob("*.pdf"))


def test_the_preview_paints_the_first_label_and_follows_the_size(
    qtbot: QtBot, demo_app: CalTrack, runner: TaskRunner
) -> None:
    tag = tags_of(demo_app, 1)[0]
    dialog = make(qtbot, demo_app, runner, selected_tag=tag)
    qtbot.waitUntil(lambda: dialog.preview_data is not None, timeout=TIMEOUT)
    assert dialog.preview_data is not None and dialog.preview_data.asset_tag == tag
    image = dialog.preview.pixmap().toImage()
    colours = {
        QColor(image.pixel(x, y)).lightness()
        for x in range(0, image.width(), 3)
        for y in range(0, image.height(), 3)
    }
    assert min(colours) < 60 and max(colours) > 240, "dark code and text on a white label"
    wide = image.width() / image.height()
    assert abs(wide - 89 / 36) < 0.05
    choose_size(dialog, "dk-11204")
    small = dialog.preview.pixmap().toImage()
    assert abs(small.width() / small.height() - 54 / 17) < 0.05
    assert tag in dialog.preview_note.text()

    qtbot.keyClicks(dialog.tags, "NO-SUCH-TAG")
    qtbot.waitUntil(lambda: dialog.preview_data is None, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: "NO-SUCH-TAG" in dialog.preview_note.text(), timeout=TIMEOUT)


def test_parse_tags_keeps_order_and_drops_repeats() -> None:
    assert parse_tags(" A-1, B-2;A-1\nC-3  ") == ["A-1", "B-2", "C-3"]
    assert parse_tags(" ,; ") == []


def test_labels_from_the_window_remember_the_size(
    qtbot: QtBot,
    demo_app: CalTrack,
    shown: Shown,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    opened: list[Path],
) -> None:
    runner = TaskRunner()
    window = MainWindow(app=demo_app, runner=runner, settings=UserSettings(reminders=False))
    qtbot.addWidget(window)
    window.show()
    try:
        qtbot.waitUntil(lambda: window.history is not None, timeout=TIMEOUT)
        qtbot.waitUntil(lambda: window.model.rowCount() == 60, timeout=TIMEOUT)
        dialog = window.report_actions.open_labels()
        assert window.history is not None
        assert window.history.instrument.asset_tag in dialog.use_selected.text()
        assert "60 instruments in the list (all)" in dialog.use_list.text().replace("&", "")
        choose_size(dialog, "50x25")
        save_to(monkeypatch, tmp_path / "one.pdf")
        with qtbot.waitSignal(dialog.finished, timeout=TIMEOUT):
            dialog.save_button.click()
        assert window.settings.extra["labels"]["size"] == "50x25"
        assert pages_are(tmp_path / "one.pdf", [(50.0, 25.0)])
        again = window.report_actions.open_labels()
        assert again.size_combo.currentData() == "50x25"
        assert again.label_size is LABEL_SIZES["50x25"]
        again.reject()
    finally:
        window.close()
        runner.wait()
