"""Reports as XLSX through openpyxl: a sheet that identifies the report, then one
sheet per section with a bold, frozen header row, an autofilter, fitting column widths
and real dates (UTC times as Excel date-times).

The workbook is written in openpyxl's write-only mode: rows stream to the file, so a
trail of a hundred thousand rows takes seconds and little memory.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from typing import IO, cast

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import Cell as SheetCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook as Book
from openpyxl.worksheet.worksheet import Worksheet

from app.reports.cells import cell_text
from app.services.report_model import Cell, Report, Section

MAX_SHEET_NAME = 31
MAX_SHEET_ROWS = 1_048_576  # Excel's own limit
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
MAX_COLUMN_WIDTH = 60
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
HEADER_FILL = PatternFill("solid", fgColor="E4E4E4")
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)


def sheet_name(wanted: str, taken: set[str]) -> str:
    """A valid, unique sheet name: no []:*?/\\, at most 31 characters."""
    base = _BAD_SHEET_CHARS.sub("-", wanted).strip("' ") or "Sheet"
    name = base[:MAX_SHEET_NAME].rstrip()
    n = 2
    while name.casefold() in taken:
        suffix = f" ({n})"
        name = base[: MAX_SHEET_NAME - len(suffix)].rstrip() + suffix
        n += 1
    taken.add(name.casefold())
    return name


def _width(value: Cell) -> int:
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    text = cell_text(value)
    return max((len(line) for line in text.splitlines()), default=0)


def _cell(ws: Worksheet, value: Cell, *, font: Font | None = None) -> SheetCell | Cell:
    """A value as written: plain where openpyxl's default is right, a styled cell else."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # Excel has no time zones: report times are UTC
            value = value.astimezone(UTC).replace(tzinfo=None)
        cell = WriteOnlyCell(ws, value=value)
        cell.number_format = DATETIME_FORMAT
        return cell
    if isinstance(value, date):
        # Excel stores a date as a date-time at midnight; the format shows the date.
        cell = WriteOnlyCell(ws, value=datetime.combine(value, time.min))
        cell.number_format = DATE_FORMAT
        return cell
    if font is not None or (isinstance(value, str) and value.startswith("=")):
        cell = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            cell.data_type = "s"  # text that looks like a formula stays text
        if font is not None:
            cell.font = font
        return cell
    return value


def _identification_sheet(ws: Worksheet, report: Report, sheets: list[tuple[str, str]]) -> None:
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 80
    ws.append([_cell(ws, report.title, font=TITLE)])
    if report.subtitle:
        ws.append([_cell(ws, report.subtitle)])
    ws.append([])
    for key, value in report.identification:
        ws.append([_cell(ws, key, font=BOLD), _cell(ws, value)])
    ws.append([])
    ws.append([_cell(ws, "Sheets", font=BOLD)])
    for name, heading in sheets:
        ws.append([_cell(ws, name), _cell(ws, heading)])


def _section_sheet(ws: Worksheet, section: Section) -> None:
    notes = [section.heading, *section.paragraphs, *(f"Signature: {s}" for s in section.signatures)]
    table = section.table
    if table is None:
        ws.column_dimensions["A"].width = MAX_COLUMN_WIDTH * 2
        ws.append([_cell(ws, section.heading, font=BOLD)])
        for text in notes[1:]:
            ws.append([_cell(ws, text)])
        return
    # Write-only sheets take their column widths before the first row.
    widths = [max(len(c), 6) for c in table.columns]
    for values in table.rows:
        for col, value in enumerate(values):
            if value is not None:
                width = _width(value)
                if width > widths[col]:
                    widths[col] = width
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = min(width + 2, MAX_COLUMN_WIDTH)
    ws.freeze_panes = "A2"
    last = get_column_letter(len(table.columns))
    ws.auto_filter.ref = f"A1:{last}{max(len(table.rows) + 1, 2)}"
    header = []
    for heading in table.columns:
        cell = WriteOnlyCell(ws, value=heading)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        header.append(cell)
    ws.append(header)
    for values in table.rows:
        ws.append([_cell(ws, v) for v in values])
    # Notes go below the table: the header stays row 1, frozen, whatever the notes.
    ws.append([])
    ws.append([_cell(ws, section.heading, font=BOLD)])
    for text in notes[1:]:
        ws.append([_cell(ws, text)])


def too_many_rows(report: Report) -> str | None:
    """Why the report does not fit a workbook, or None."""
    for section in report.sections:
        rows = len(section.table.rows) if section.table is not None else 0
        if rows + 1 + 2 + len(section.paragraphs) + len(section.signatures) > MAX_SHEET_ROWS:
            return f"“{section.heading}” has {rows:,} rows, more than an Excel sheet holds"
    return None


def _new_sheet(wb: Book, name: str) -> Worksheet:
    # A write-only sheet offers what is used here (append, widths, freeze, filter)
    # under the same names as a normal one; the type stubs know only the latter.
    return cast(Worksheet, wb.create_sheet(name))


def write_xlsx(report: Report, handle: IO[bytes]) -> None:
    """Write the report to a binary file (the caller makes the write atomic)."""
    wb = Workbook(write_only=True)
    taken: set[str] = set()
    first = sheet_name("Report", taken)
    names = [sheet_name(s.sheet or s.heading, taken) for s in report.sections]
    headings = [s.heading for s in report.sections]
    _identification_sheet(_new_sheet(wb, first), report, list(zip(names, headings, strict=True)))
    for name, section in zip(names, report.sections, strict=True):
        _section_sheet(_new_sheet(wb, name), section)
    if report.sections:
        wb.active = 1  # open on the first table; the report's identity is one tab away
    wb.save(handle)
