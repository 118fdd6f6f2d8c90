"""Renderers: PDF (Qt printing), CSV and XLSX, each read back with a real parser."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from app.errors import UsageError
from app.reports.columns import fit_columns
from app.reports.csv_report import write_csv
from app.reports.output import check_output_path, format_for, write_report
from app.reports.pdf import paint_report, render_pdf
from app.reports.xlsx_report import sheet_name
from app.services.report_model import Cell, Report, Section, Table

pytestmark = pytest.mark.usefixtures("qapp")  # QTextDocument needs the Qt application

MM_PER_PT = 25.4 / 72


def report(
    sections: list[Section], *, landscape: bool = False, title: str = "Test report"
) -> Report:
    return Report(
        title=title,
        subtitle="for the renderers",
        parameters=[("Days ahead", "30")],
        generated_at=datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
        generated_by="alice on LAB-PC-3",
        sections=sections,
        database="/labs/shared/lab.db",
        landscape=landscape,
    )


def register_table(n: int, prefix: str = "TAG") -> Table:
    return Table(
        ["Asset tag", "Description", "Next due", "Days left", "Checked"],
        [
            (
                f"{prefix}-{i:05d}",
                f"Digital thermometer number {i}",
                date(2027, 1, 1),
                i,
                i % 2 == 0,
            )
            for i in range(n)
        ],
    )


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text with runs of whitespace as one space (Qt writes words apart)."""
    return [" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(data)).pages]


def page_size_mm(data: bytes, index: int = 0) -> tuple[float, float]:
    box = PdfReader(io.BytesIO(data)).pages[index].mediabox
    return float(box.width) * MM_PER_PT, float(box.height) * MM_PER_PT


# -- PDF -----------------------------------------------------------------------------


@pytest.mark.slow  # renders a PDF of 300 rows
def test_pdf_pages_have_header_footer_and_page_x_of_y() -> None:
    data = render_pdf(report([Section("Due list", ["Long list."], register_table(300))]))
    pages = pdf_pages(data)
    assert len(pages) > 3
    for number, text in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in text
        assert "Test report" in text  # the running header
        assert "/labs/shared/lab.db" in text and "alice on LAB-PC-3" in text
    first = pages[0]
    assert "Days ahead 30" in first and "Generated 2026-11-23 09:30:00 UTC" in first
    # The table header row repeats on every page the table spans.
    assert all("Asset tag Description Next due Days left" in t for t in pages)
    # No row is lost at a page break, nor printed twice (once hidden by the clip).
    everything = " ".join(pages)
    assert [everything.count(f"TAG-{i:05d} ") for i in range(300)] == [1] * 300
    assert page_size_mm(data) == pytest.approx((210, 297), abs=0.5)


def test_pdf_is_landscape_when_asked_or_when_a_table_is_too_wide() -> None:
    asked = render_pdf(report([Section("Events", [], register_table(3))], landscape=True))
    assert page_size_mm(asked) == pytest.approx((297, 210), abs=0.5)
    wide = Table(
        [f"Column number {i}" for i in range(16)],
        [tuple(f"value-{i}-{j}" for i in range(16)) for j in range(3)],
    )
    data = render_pdf(report([Section("Wide", [], wide)]))
    assert page_size_mm(data) == pytest.approx((297, 210), abs=0.5)
    assert "value-15-2" in pdf_pages(data)[0]


def test_pdf_wraps_long_text_instead_of_cutting_it() -> None:
    token = "X" * 40 + "-" + "Y" * 160  # no space to break at
    notes = "word " * 120
    table = Table(["Tag", "Notes"], [("TH-1", token), ("TH-2", notes.strip())])
    text = "".join(pdf_pages(render_pdf(report([Section("Notes", [], table)]))))
    squeezed = re.sub(r"\s+", "", text)
    assert token in squeezed
    assert squeezed.count("word") >= 120


@pytest.mark.slow  # renders eleven PDFs: among the slowest of the unit tier
def test_pdf_keeps_a_heading_with_the_start_of_its_table() -> None:
    # Whatever the length of the first section, the second heading never ends a page
    # alone: it is always on the page with the second table's first row.
    for rows in range(30, 62, 3):
        data = render_pdf(
            report(
                [
                    Section("First", [], register_table(rows)),
                    Section("Second section", ["Its notes."], register_table(5, "SEC")),
                ]
            )
        )
        pages = pdf_pages(data)
        (with_heading,) = [t for t in pages if "Second section" in t]
        assert "SEC-00000" in with_heading, rows


def test_pdf_marks_voided_records_and_failures(qapp: object) -> None:
    section = Section(
        "Calibration #4 on 2026-04-01 — VOIDED (pass)",
        ["VOIDED — this record does not count. Reason: wrong instrument."],
        Table(["#", "As found result"], [(1, "FAIL"), (2, "pass")]),
        ["Reviewed by Quinn (quinn) on 2026-11-23 09:30:00 UTC"],
    )
    text = pdf_pages(render_pdf(report([section])))[0]
    assert "VOIDED — this record does not count. Reason: wrong instrument." in text
    assert "FAIL" in text
    assert "Signature: Reviewed by Quinn (quinn) on 2026-11-23 09:30:00 UTC" in text


def test_column_widths_give_each_column_its_longest_word() -> None:
    table = register_table(50)
    fit = fit_columns(table, available=100, text_width=len, header_width=len, per_column=1)
    assert sum(fit.shares) == pytest.approx(1)
    assert fit.fits
    tag_share = fit.shares[0]
    assert tag_share * 100 >= len("TAG-00049") + 1
    narrow = fit_columns(table, available=20, text_width=len, header_width=len)
    assert not narrow.fits


# -- CSV -------------------------------------------------------------------------------


def csv_rows(rep: Report) -> tuple[bytes, list[list[str]]]:
    buffer = io.BytesIO()
    write_csv(rep, buffer)
    data = buffer.getvalue()
    return data, list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_has_a_bom_an_identity_block_and_one_block_per_table() -> None:
    rep = report(
        [
            Section("Due list", ["2 due."], register_table(2)),
            Section("Second", [], Table(["Range", "When"], [("-20 °C to 150 °C", None)])),
        ]
    )
    data, rows = csv_rows(rep)
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the BOM
    assert rows[0] == ["Report", "Test report"]
    assert ["Database", "/labs/shared/lab.db"] in rows
    assert ["Generated by", "alice on LAB-PC-3"] in rows
    header = rows.index(["Asset tag", "Description", "Next due", "Days left", "Checked"])
    assert rows[header - 1] == []  # a blank row before: the table is its own region
    assert rows[header - 3 : header - 1] == [["Due list"], ["2 due."]]
    assert rows[header + 1] == [
        "TAG-00000",
        "Digital thermometer number 0",
        "2027-01-01",
        "0",
        "yes",
    ]
    assert rows[header + 3] == []
    second = rows.index(["Range", "When"])
    # A text that a spreadsheet would take for a formula is marked as text.
    assert rows[second + 1] == ["'-20 °C to 150 °C", ""]


# -- XLSX ------------------------------------------------------------------------------


def test_xlsx_sheet_per_section_bold_frozen_header_real_dates(tmp_path: Path) -> None:
    when = datetime(2026, 11, 23, 9, 30)
    table = Table(
        ["Asset tag", "Next due", "When (UTC)", "Days left", "Note"],
        [
            ("TH-1", date(2026, 12, 1), when, 8, '=HYPERLINK("x")'),
            ("A-much-longer-asset-tag-0001", None, None, None, "plain"),
        ],
    )
    rep = report(
        [
            Section("Due list", ["One due."], table, sheet="Due"),
            Section("Calibration #3 on 2026-01-01 — VOIDED: a/b?", [], register_table(1)),
        ]
    )
    target = write_report(rep, tmp_path / "due.xlsx")
    book = load_workbook(target)
    assert book.sheetnames == ["Report", "Due", "Calibration #3 on 2026-01-01 —"]
    assert book.active is not None and book.active.title == "Due"
    ident = book["Report"]
    assert ident["A1"].value == "Test report"
    values = {ident.cell(r, 1).value: ident.cell(r, 2).value for r in range(1, ident.max_row + 1)}
    assert values["Database"] == "/labs/shared/lab.db"
    assert values["Generated by"] == "alice on LAB-PC-3"

    sheet = book["Due"]
    assert [c.value for c in sheet[1]] == table.columns
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:E3"
    assert sheet["B2"].value == datetime(2026, 12, 1) and sheet["B2"].is_date
    assert sheet["B2"].number_format == "yyyy-mm-dd"
    assert sheet["C2"].value == when and sheet["C2"].is_date
    assert sheet["D2"].value == 8
    assert sheet["E2"].data_type == "s"  # text, not a formula that runs
    assert sheet.column_dimensions["A"].width >= len("A-much-longer-asset-tag-0001")
    # The section's notes sit below its table: the header stays row 1.
    assert sheet["A5"].value == "Due list" and sheet["A6"].value == "One due."


def test_sheet_names_are_valid_and_unique() -> None:
    taken: set[str] = set()
    names = [sheet_name(n, taken) for n in ("Cal #1 a/b", "Cal #1 a/b", "x" * 40, "[]")]
    assert names[0] == "Cal #1 a-b"
    assert names[1] == "Cal #1 a-b (2)"
    assert len(names[2]) == 31
    assert all(not set("[]:*?/\\") & set(n) for n in names)


# -- output files ---------------------------------------------------------------------------


def test_format_comes_from_the_extension_and_must_match() -> None:
    assert format_for(Path("a.PDF"), None) == "pdf"
    assert format_for(Path("a.xlsx"), "xlsx") == "xlsx"
    with pytest.raises(UsageError, match="cannot tell the format"):
        format_for(Path("a.txt"), None)
    with pytest.raises(UsageError, match=r"does not end in \.csv"):
        format_for(Path("a.pdf"), "csv")


def test_output_path_is_checked_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder"):
        check_output_path(tmp_path)
    with pytest.raises(UsageError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "r.pdf")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is not a folder"):
        check_output_path(tmp_path / "file" / "r.pdf")


@pytest.mark.parametrize("fmt", ["pdf", "csv", "xlsx"])
def test_report_files_replace_the_old_one_and_leave_no_temp_file(tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"report.{fmt}"
    target.write_bytes(b"old")
    rep = report([Section("Due list", [], register_table(5))])
    assert write_report(rep, target) == target
    data = target.read_bytes()
    assert data != b"old"
    assert data[:4] == {"pdf": b"%PDF", "csv": b"\xef\xbb\xbfR", "xlsx": b"PK\x03\x04"}[fmt]
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_cells_print_one_way(tmp_path: Path) -> None:
    cells: tuple[Cell, ...] = (0.1 + 0.2, 3, True, None, datetime(2026, 1, 2, 3, 4, 5))
    rep = report([Section("Cells", [], Table(["a", "b", "c", "d", "e"], [cells]))])
    _, rows = csv_rows(rep)
    assert rows[-1] == ["0.3", "3", "yes", "", "2026-01-02 03:04:05"]


def test_a_report_too_long_to_print_is_refused_before_any_file(tmp_path: Path) -> None:
    rep = report([Section("Events", [], register_table(20_001))])
    with pytest.raises(UsageError, match="20,001 rows, too many to print"):
        write_report(rep, tmp_path / "trail.pdf")
    assert list(tmp_path.iterdir()) == []
    assert write_report(rep, tmp_path / "trail.csv").stat().st_size > 0


def test_paint_report_prints_on_a_device_it_is_given(tmp_path: Path) -> None:
    from PySide6.QtGui import QPdfWriter

    target = tmp_path / "printed.pdf"
    device = QPdfWriter(str(target))
    device.setResolution(600)  # a printer's resolution, not the PDF renderer's own
    pages = paint_report(device, report([Section("Due list", [], register_table(120))]))
    del device  # the writer finishes the file when it goes
    texts = pdf_pages(target.read_bytes())
    assert len(texts) == pages > 1
    assert f"page {pages} of {pages}" in texts[-1]
    assert "TAG-00119" in texts[-1]


def test_a_pdf_rendered_by_a_child_process_matches_and_can_be_cancelled(tmp_path: Path) -> None:
    from app.reports.pdf_process import render_pdf_isolated

    rep = report([Section("Due list", [], register_table(30))])
    data = render_pdf_isolated(rep)
    assert data is not None and data.startswith(b"%PDF")
    text = " ".join(pdf_pages(data))
    assert "Test report" in text and "TAG-00029" in text
    # Cancelled at once: the child is stopped and nothing comes back.
    assert render_pdf_isolated(rep, cancelled=lambda: True) is None
