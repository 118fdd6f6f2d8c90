"""Reports as CSV that Excel opens as it is: UTF-8 with a BOM, one block per table.

A CSV file holds text only, so a report becomes blocks separated by blank rows:
first what identifies the report (title, parameters, database, when and by whom),
then for each section its heading and notes, then its table (header row, then rows).
Spreadsheets treat each block between blank rows as its own region, so clicking into
a table and sorting or filtering takes exactly that table. Reports with one table
(due, overdue, OOT log, audit trail) have one table block; the instrument history has
one per section (instrument fields, calibrations, each calibration's readings, ...).
"""

from __future__ import annotations

import csv
import io
from typing import IO

from app.reports.cells import cell_text
from app.services.report_model import Cell, Report

# A text cell starting with one of these is a formula to a spreadsheet ("-20 °C to
# 150 °C" shows as #NAME?, "=HYPERLINK(...)" runs): such cells get a leading apostrophe,
# which spreadsheets hide and treat as "this is text".
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Cell) -> str:
    text = cell_text(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def write_csv(report: Report, handle: IO[bytes]) -> None:
    """Write the report to a binary file (the caller makes the write atomic)."""
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        out = csv.writer(text, lineterminator="\r\n")
        out.writerow(["Report", report.title])
        if report.subtitle:
            out.writerow(["Subtitle", report.subtitle])
        for key, value in report.identification:
            out.writerow([key, csv_cell(value)])
        for section in report.sections:
            out.writerow([])
            out.writerow([csv_cell(section.heading)])
            for paragraph in section.paragraphs:
                out.writerow([csv_cell(paragraph)])
            for line in section.signatures:
                out.writerow([csv_cell(f"Signature: {line}")])
            if section.table is not None:
                out.writerow([])
                out.writerow(section.table.columns)
                out.writerows([csv_cell(v) for v in row] for row in section.table.rows)
        text.flush()
    finally:
        text.detach()  # the caller owns the file: flushes, fsyncs and renames it
