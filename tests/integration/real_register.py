"""Registers written to look like the ones labs really have, for the import tests.

Fifteen years of an older in-house database: the lab's own status words, instruments that
are not calibrated periodically (a frequency of 0, "service only"), a Tolerance column in
free text, who calibrated, dates written day first, instruments never calibrated, and a
few rows whose history contradicts itself (the old tool overwrote one field: a next due
years before the last calibration, a calibration in the future, a 1970 placeholder).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl

HEADERS = (
    "Asset No",
    "Description",
    "Manufacturer",
    "Model",
    "Serial No",
    "Location",
    "Status",
    "Frequency (Months)",
    "Last Cal Date",
    "Next Cal Date",
    "Tolerance",
    "Calibrated By",
    "Remarks",
)

# Two labs' words for the same four states (and words of their own nothing guesses).
VOCABULARIES: dict[str, dict[str, str]] = {
    "old-database": {
        "ACTIVE": "in_service",
        "IN-ACTIVE": "retired",
        "SERVICE": "out_of_service",
        "DEFECTIVE": "out_of_service",
        "FOR REPAIR": "out_of_service",
        "SCRAP": "retired",
        "MISSING": "lost",
        "EXTENDED": "in_service",  # not guessed: the lab says what it means
        "PR#33199": "out_of_service",  # a purchase request number in the status column
    },
    "spreadsheet": {
        "In use": "in_service",
        "in use ": "in_service",
        "Quarantined": "out_of_service",
        "Broken": "out_of_service",
        "Disposed": "retired",
        "Obsolete": "retired",
        "Not found": "lost",
        "On loan": "in_service",  # not guessed
    },
}
UNGUESSED = {"old-database": ("EXTENDED", "PR#33199"), "spreadsheet": ("On loan",)}

KINDS = (
    ("Digital multimeter", "Fluke", "87V", "±0.05%+2D"),
    ("Balance", "Mettler Toledo", "XS205", "±0.010 KG"),
    ("Pressure gauge", "WIKA", "232.50", "3%FSD"),
    ("LCR meter", "Keysight", "E4980A", ".05%+0.5PF"),
    ("Thermometer", "Testo", "735-2", "±0.2 °C"),
    ("Torque wrench", "Norbar", "TTi 60", "±4%"),
)
PROVIDERS = ("Fluke Cal Lab", "in-house (JS)", "NMI Services", "in-house (AK)", "")


@dataclass
class RegisterFacts:
    """What a generated register holds, for the test to compare against."""

    rows: int = 0
    statuses: dict[str, str] = field(default_factory=dict)  # tag -> canonical status
    service_only: set[str] = field(default_factory=set)  # frequency 0
    contradictory: dict[str, str] = field(default_factory=dict)  # tag -> what is wrong
    dates: dict[str, tuple[str, str]] = field(default_factory=dict)  # tag -> (last, next) ISO


def _day_first(day: date | None) -> str:
    return "" if day is None else day.strftime("%d/%m/%Y")


def write_register(
    path: Path, today: date, *, vocabulary: str = "old-database", rows: int = 200, seed: int = 11
) -> RegisterFacts:
    """Write the register as CSV and return what it holds."""
    rng = random.Random(seed)
    words = list(VOCABULARIES[vocabulary])
    facts = RegisterFacts(rows=rows)
    # Fixed positions for the rows that matter, so every run has all of them.
    service_only = set(range(5, rows, 8))  # 25 rows of 200
    wrong = {
        3: "next-before-last",
        17: "next-before-last",
        44: "next-before-last",
        61: "next-before-last",
        90: "next-before-last",
        123: "next-before-last",
        150: "future",
        171: "future",
        188: "placeholder",
        199: "placeholder",
    }
    wrong = {n: why for n, why in wrong.items() if n < rows and n not in service_only}
    lines: list[list[str]] = []
    for n in range(rows):
        tag = f"EL-{n + 1:04d}"
        description, maker, model, tolerance = KINDS[n % len(KINDS)]
        word = words[n % len(words)]
        months = 0 if n in service_only else rng.choice((6, 12, 12, 12, 24, 36))
        last: date | None = today - timedelta(days=rng.randint(20, 330))
        nxt: date | None = None
        remarks = ""
        if months == 0:
            remarks = "service only: output is verified by oscilloscope"
            last = None if n % 3 else today - timedelta(days=rng.randint(400, 3000))
        elif n % 23 == 0:
            last = None  # never calibrated
        else:
            assert last is not None
            nxt = last + timedelta(days=round(months * 365 / 12))
        why = wrong.get(n)
        if why == "next-before-last":
            last = date(2021, 5, 4) + timedelta(days=n)
            nxt = date(2019, 3, 1) + timedelta(days=n)
        elif why == "future":
            last = today + timedelta(days=40 + n)
            nxt = last + timedelta(days=365)
        elif why == "placeholder":
            last = today - timedelta(days=100)
            nxt = date(1970, 1, 1)
        lines.append(
            [
                tag,
                description,
                maker,
                model,
                f"SN{rng.randint(10000, 99999)}-{n}",
                f"Lab {1 + n % 4}",
                word,
                str(months),
                _day_first(last),
                _day_first(nxt),
                tolerance,
                rng.choice(PROVIDERS) if last else "",
                remarks,
            ]
        )
        facts.statuses[tag] = VOCABULARIES[vocabulary][word]
        if months == 0:
            facts.service_only.add(tag)
        if why:
            facts.contradictory[tag] = why
        facts.dates[tag] = (
            last.isoformat() if last else "",
            nxt.isoformat() if nxt else "",
        )
    if path.suffix == ".xlsx":
        _write_xlsx(path, lines)
        return facts
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADERS)
        writer.writerows(lines)
    return facts


def _write_xlsx(path: Path, lines: list[list[str]]) -> None:
    """The same register as Excel keeps it: real date cells, numbers as numbers."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Register"
    sheet.append(HEADERS)
    dates = {HEADERS.index("Last Cal Date"), HEADERS.index("Next Cal Date")}
    months = HEADERS.index("Frequency (Months)")
    for line in lines:
        cells: list[object] = []
        for n, text in enumerate(line):
            if n in dates and text:
                cells.append(datetime.strptime(text, "%d/%m/%Y").date())
            elif n == months:
                cells.append(int(text))
            else:
                cells.append(text or None)
        sheet.append(cells)
    book.save(path)
