"""``caltrack report`` and ``caltrack labels`` end to end: real processes, real files.

The database (a file, or a database on this run's server) is demo data plus a few
instruments recorded here with known dates; the reports are read back with pypdf, csv and
openpyxl, the labels' QR codes with zbarimg.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import make_url

from app.clock import SystemClock
from app.identity import get_current_user_id
from app.services.dto import CalibrationInput, InstrumentChanges, PointInput
from tests.conftest import BACKENDS, ServerUrl, add_thermometer, is_server
from tests.integration.helpers import (
    assert_one_error_line,
    open_lab,
    query,
    run_cli,
    run_cli_many,
)
from tests.pg_server import PgServer

ME = get_current_user_id()
TODAY = date.today()  # the CLI children run on the real clock
MM_PER_PT = 25.4 / 72


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


def pdf_pages(path: Path) -> list[str]:
    return [" ".join(p.extract_text().split()) for p in PdfReader(path).pages]


def csv_table(path: Path, header_first: str) -> list[dict[str, str]]:
    """The rows of the CSV block whose header row starts with ``header_first``."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"), newline="")))
    start = next(i for i, r in enumerate(rows) if r and r[0] == header_first)
    header, found = rows[start], []
    for row in rows[start + 1 :]:
        if not row:
            break
        found.append(dict(zip(header, row, strict=True)))
    return found


@dataclass(frozen=True)
class Lab:
    db: Path | str
    due_tag: str
    oot_tag: str
    moved_tag: str


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend of this half of the module (its database is made once a half)."""
    return str(request.param)


@pytest.fixture(scope="module")
def lab(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Lab]:
    """Demo data, plus: one instrument due in 10 days, one failed as found (an OOT case),
    one edited today with a reason."""
    folder = tmp_path_factory.mktemp("reports")
    if backend == "sqlite":
        yield _make_lab(folder / "lab.db")
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = ServerUrl(server.new_database("reports"), folder / "state")
    yield _make_lab(url)
    server.drop_database(url)


def _make_lab(db: Path | str) -> Lab:
    ok(run_cli(db, "init"))
    ok(run_cli(db, "demo", "--instruments", "40", "--seed", "11"))
    with open_lab(db, identity=ME, clock=SystemClock()) as app:
        add_thermometer(app, "REP-DUE", calibration_interval_days=365)
        app.calibrations.add(
            "REP-DUE",
            CalibrationInput(
                performed_on=TODAY - timedelta(days=355),
                result="pass",
                certificate_number="CERT-REP-1",
                points=(PointInput(20, 20.1, 20.1, 0.5, "°C"),),
            ),
        )
        add_thermometer(app, "REP-OOT")
        app.calibrations.add(
            "REP-OOT",
            CalibrationInput(
                performed_on=TODAY - timedelta(days=3),
                result="fail",
                points=(PointInput(100, 101.5, 101.5, 0.5, "°C"),),
            ),
        )
        add_thermometer(app, "REP-MOVED")
        app.instruments.edit(
            "REP-MOVED", InstrumentChanges(location="Cold room"), reason="moved for audit"
        )
        add_thermometer(app, "REP-SPARE")  # the editor's own, for the read-only test
    return Lab(db, "REP-DUE", "REP-OOT", "REP-MOVED")


@dataclass(frozen=True)
class Made:
    out: Path
    results: dict[str, subprocess.CompletedProcess[str]]

    def file(self, name: str) -> Path:
        result = self.results[name]
        ok(result)
        path = self.out / name
        assert result.stdout.startswith(f"wrote {path} (")
        assert path.is_file()
        return path


REPORT_RUNS: dict[str, tuple[str, ...]] = {
    "due.pdf": ("report", "due", "--days", "30"),
    "due.csv": ("report", "due", "--days", "30"),
    "due.xlsx": ("report", "due", "--days", "30", "--format", "xlsx"),
    "overdue.xlsx": ("report", "overdue"),
    "overdue.csv": ("report", "overdue"),
    "history.pdf": ("report", "history", "rep-due"),
    "history.csv": ("report", "history", "REP-DUE"),
    "history.xlsx": ("report", "history", "REP-DUE"),
    "oot.pdf": ("report", "oot"),
    # Record #1: the demo data's first calibration (never signed by the demo).
    "certificate.pdf": ("report", "certificate", "1"),
    "oot.csv": ("report", "oot", "--status", "open"),
    "oot-closed.csv": ("report", "oot", "--status", "closed"),
    "audit.xlsx": ("report", "audit", "--from", str(TODAY), "--to", str(TODAY)),
    "audit-moved.pdf": ("report", "audit", "--from", str(TODAY), "--entity", "REP-MOVED"),
    "audit-moved.csv": ("report", "audit", "--entity", "REP-MOVED", "--user", ME.user),
}


@pytest.fixture(scope="module")
def made(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Made:
    out = tmp_path_factory.mktemp("made")
    runs = [(*args, "-o", str(out / name)) for name, args in REPORT_RUNS.items()]
    results = run_cli_many(lab.db, runs)
    return Made(out, dict(zip(REPORT_RUNS, results, strict=True)))


def listed(lab: Lab, status: str) -> set[str]:
    result = ok(
        run_cli(lab.db, "instruments", "list", "--status", status, "--json", "--limit", "0")
    )
    return {r["asset_tag"] for r in json.loads(result.stdout)["instruments"]}


# -- the reports, read back --------------------------------------------------------------


def test_due_list_pdf(made: Made, lab: Lab) -> None:
    pages = pdf_pages(made.file("due.pdf"))
    first = pages[0]
    assert "Calibrations due" in first and "Due list" in first
    # On a server the CLI is the person it logs in as (README: a server login per person).
    user = make_url(str(lab.db)).username if is_server(lab.db) else ME.user
    assert f"Database {lab.db}" in first and f"Generated by {user} on {ME.machine}" in first
    assert lab.due_tag in " ".join(pages)
    assert all(f"page {i} of {len(pages)}" in t for i, t in enumerate(pages, start=1))


def test_due_list_csv_and_xlsx_agree_with_the_register(made: Made, lab: Lab) -> None:
    rows = csv_table(made.file("due.csv"), "Asset tag")
    # The register's "due soon" filter uses the same 30 days by default.
    assert {r["Asset tag"] for r in rows} == listed(lab, "due-soon")
    mine = next(r for r in rows if r["Asset tag"] == lab.due_tag)
    assert mine["Days left"] == "10"
    assert mine["Next due"] == str(TODAY + timedelta(days=10))
    days = [int(r["Days left"]) for r in rows]
    assert days == sorted(days)

    book = load_workbook(made.file("due.xlsx"))
    # The demo's checks and maintenance due soon follow the calibrations (issue 15).
    assert book.sheetnames == ["Report", "Due", "Checks due"]
    sheet = book["Due"]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["Asset tag", "Description"] and sheet.freeze_panes == "A2"
    due_col = header.index("Next due") + 1
    values = [sheet.cell(r, due_col).value for r in range(2, len(rows) + 2)]
    assert all(isinstance(v, datetime) for v in values)  # real dates, not text
    assert {v.date() for v in values if isinstance(v, datetime)} == {
        date.fromisoformat(r["Next due"]) for r in rows
    }


def test_overdue_list(made: Made, lab: Lab) -> None:
    book = load_workbook(made.file("overdue.xlsx"))
    sheet = book["Overdue"]
    tags = {sheet.cell(r, 1).value for r in range(2, sheet.max_row + 1)} - {None}
    # Not to be used: overdue, and never calibrated (their own filter in the register).
    expected = listed(lab, "overdue") | listed(lab, "not-calibrated")
    assert expected and expected <= tags | {"Overdue list"}
    rows = csv_table(made.file("overdue.csv"), "Asset tag")
    assert {r["Asset tag"] for r in rows} == expected
    assert all(r["State"] in ("overdue", "never calibrated") for r in rows)


def test_instrument_history(made: Made, lab: Lab) -> None:
    text = " ".join(pdf_pages(made.file("history.pdf")))
    assert f"Instrument history: {lab.due_tag}" in text
    assert "Calibration #" in text and "certificate CERT-REP-1" in text
    assert "Nominal As found As left" in text
    readings = csv_table(made.file("history.csv"), "#")
    assert [(r["Nominal"], r["As found"], r["As found result"]) for r in readings] == [
        ("20", "20.1", "pass")
    ]
    book = load_workbook(made.file("history.xlsx"))
    assert book.sheetnames[:3] == ["Report", "Instrument", "Calibrations"]
    assert any(name.startswith("Cal #") for name in book.sheetnames)
    assert book["Instrument"]["A2"].value == "Asset tag"
    assert book["Instrument"]["B2"].value == lab.due_tag


def test_certificate(made: Made) -> None:
    result = made.results["certificate.pdf"]
    assert "(calibration #1: NOT SIGNED" in result.stdout, result.stdout
    text = " ".join(pdf_pages(made.file("certificate.pdf")))
    assert "Calibration certificate — calibration #1 of" in text
    assert "NOT SIGNED" in text and "Decision rule:" in text and "page 1 of" in text


def test_oot_log(made: Made, lab: Lab) -> None:
    text = " ".join(pdf_pages(made.file("oot.pdf")))
    assert "Out-of-tolerance log" in text and lab.oot_tag in text
    rows = csv_table(made.file("oot.csv"), "Case")
    mine = [r for r in rows if r["Instrument"] == lab.oot_tag]
    assert len(mine) == 1 and mine[0]["Status"] == "open"
    assert mine[0]["Found on"] == str(TODAY - timedelta(days=3))
    assert lab.oot_tag not in {
        r["Instrument"] for r in csv_table(made.file("oot-closed.csv"), "Case")
    }


def test_audit_trail(made: Made, lab: Lab) -> None:
    book = load_workbook(made.file("audit.xlsx"))
    sheet = book["Audit trail"]
    header = [c.value for c in sheet[1]]
    assert header[7:10] == ["Field", "Before", "After"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    moved = [r for r in rows if r[5] == lab.moved_tag and r[6] == "update"]
    assert [(r[7], r[8], r[9], r[10]) for r in moved] == [
        ("location", None, "Cold room", "moved for audit")
    ]
    assert isinstance(sheet.cell(2, 2).value, datetime)  # When (UTC) is a real date-time

    pdf = made.file("audit-moved.pdf")
    box = PdfReader(pdf).pages[0].mediabox
    assert float(box.width) > float(box.height)  # the wide trail prints landscape
    text = " ".join(pdf_pages(pdf))
    assert "Entity REP-MOVED" in text and "moved for audit" in text and "Cold room" in text
    only = csv_table(made.file("audit-moved.csv"), "Event")
    assert only and {r["Entity"] for r in only} == {lab.moved_tag}
    assert {r["User"] for r in only} == {ME.user}


# -- labels -------------------------------------------------------------------------


def decode_page(pdf: Path, page: int) -> list[str]:
    pdftoppm, zbarimg = shutil.which("pdftoppm"), shutil.which("zbarimg")
    if pdftoppm is None or zbarimg is None:
        pytest.skip("needs pdftoppm and zbarimg: apt-get install poppler-utils zbar-tools")
    image = pdf.with_name(f"{pdf.stem}-{page}")
    pages = ["-f", str(page), "-l", str(page), "-singlefile"]
    subprocess.run(
        [pdftoppm, "-png", "-r", "300", *pages, str(pdf), str(image)],
        check=True,
        timeout=120,
    )
    found = subprocess.run(
        [zbarimg, "--quiet", "--raw", f"{image}.png"], capture_output=True, text=True, timeout=120
    )
    return sorted(line for line in found.stdout.splitlines() if line)


def audit_head(db: Path | str) -> str:
    """The newest audit event as printed on reports, backups and labels."""
    row = query(db, "SELECT id, hash FROM audit_event ORDER BY id DESC LIMIT 1")[0]
    return f"#{row[0]} {str(row[1])[:12]}…"


def test_labels_for_named_tags(lab: Lab, tmp_path: Path) -> None:
    target = tmp_path / "labels.pdf"
    result = ok(
        run_cli(
            lab.db, "labels", lab.due_tag, lab.oot_tag, "--size", "dymo-99012", "-o", str(target)
        )
    )
    head = audit_head(lab.db)
    assert result.stdout == (
        f"wrote 2 labels (dymo-99012) on 2 pages to {target} (audit head {head})\n"
    )
    reader = PdfReader(target)
    assert reader.metadata is not None
    assert f"made at audit head {head}" in str(reader.metadata.title)
    assert len(reader.pages) == 2
    box = reader.pages[0].mediabox
    assert (float(box.width) * MM_PER_PT, float(box.height) * MM_PER_PT) == pytest.approx(
        (89, 36), abs=0.5
    )
    assert decode_page(target, 1) == [lab.due_tag]
    assert decode_page(target, 2) == [lab.oot_tag]
    assert lab.due_tag in reader.pages[0].extract_text()


def test_labels_by_status_on_a4_sheets(lab: Lab, tmp_path: Path) -> None:
    target = tmp_path / "overdue.pdf"
    ok(run_cli(lab.db, "labels", "--status", "overdue", "--size", "avery-l7160", "-o", str(target)))
    count = len(listed(lab, "overdue"))
    assert len(PdfReader(target).pages) == -(-count // 21)
    listing = ok(run_cli(lab.db, "labels", "--list-sizes")).stdout
    for key in ("dymo-99012", "dk-11204", "62x29", "50x25", "avery-l7160"):
        assert key in listing


# -- refusals: one line, exit 2, no file ----------------------------------------------------


def _unwritable(tmp_path: Path) -> Path:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root writes anywhere: a kernel folder refuses it
        return Path("/sys/caltrack-report.pdf")
    return folder / "r.pdf"


REFUSALS: dict[str, tuple[tuple[str, ...], str]] = {
    "bad date": (("report", "audit", "--from", "2026-02-30", "-o", "{out}/a.pdf"), "YYYY-MM-DD"),
    "dates swapped": (
        ("report", "audit", "--from", "2026-03-02", "--to", "2026-03-01", "-o", "{out}/a.pdf"),
        "swap",
    ),
    "missing folder": (("report", "due", "-o", "{out}/nope/due.pdf"), "does not exist"),
    "a folder": (("report", "due", "-o", "{out}"), "is a folder"),
    "unwritable": (("report", "overdue", "-o", "{unwritable}"), "cannot write"),
    "unknown tag": (("report", "history", "NO-SUCH-TAG", "-o", "{out}/h.pdf"), "NO-SUCH-TAG"),
    "unknown extension": (("report", "due", "-o", "{out}/due.docx"), "cannot tell the format"),
    "mismatch": (("report", "due", "--format", "csv", "-o", "{out}/due.pdf"), "does not end"),
    "no record": (("report", "certificate", "999999", "-o", "{out}/c.pdf"), "#999999"),
    "record id": (("report", "certificate", "one", "-o", "{out}/c.pdf"), "whole number"),
    "certificate csv": (("report", "certificate", "1", "-o", "{out}/c.csv"), "as PDF"),
    "logo missing": (("settings", "set", "--lab-logo", "{out}/logo.png"), "cannot read"),
    "logo not image": (("settings", "set", "--lab-logo", "/etc/passwd"), "not a PNG or JPEG"),
    "label tag": (("labels", "NO-SUCH-TAG", "--size", "62x29", "-o", "{out}/l.pdf"), "NO-SUCH"),
    "label size": (("labels", "--all", "--size", "A0", "-o", "{out}/l.pdf"), "label size"),
    "label not pdf": (("labels", "--all", "--size", "62x29", "-o", "{out}/l.png"), "as PDF"),
    "label what": (("labels", "--size", "62x29", "-o", "{out}/l.pdf"), "--all"),
}


@pytest.fixture(scope="module")
def refusals(
    lab: Lab, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    base = tmp_path_factory.mktemp("refused")
    unwritable = _unwritable(base)
    outs = []
    for name in REFUSALS:
        out = base / name.replace(" ", "-")
        out.mkdir()
        outs.append(out)
    runs = [
        tuple(a.format(out=out, unwritable=unwritable) for a in args)
        for (args, _), out in zip(REFUSALS.values(), outs, strict=True)
    ]
    results = run_cli_many(lab.db, runs)
    return {n: (r, o) for n, r, o in zip(REFUSALS, results, outs, strict=True)}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_are_one_line_and_leave_no_file(
    refusals: dict[str, tuple[subprocess.CompletedProcess[str], Path]], case: str
) -> None:
    result, out = refusals[case]
    line = assert_one_error_line(result, 2)
    assert REFUSALS[case][1] in line, line
    assert list(out.iterdir()) == []  # not even a temp file
    assert result.stdout == ""


# -- reports are reads: they work while someone else edits ---------------------------------


def test_reports_and_labels_work_while_another_session_edits(lab: Lab, tmp_path: Path) -> None:
    with open_lab(lab.db, identity=ME, clock=SystemClock()) as editor:
        assert editor.session.editing
        results = run_cli_many(
            lab.db,
            [
                ("report", "due", "-o", str(tmp_path / "due.pdf")),
                ("report", "history", lab.due_tag, "-o", str(tmp_path / "h.xlsx")),
                ("labels", lab.due_tag, "--size", "50x25", "-o", str(tmp_path / "l.pdf")),
            ],
        )
        for result in results:
            assert result.returncode == 0, result.stderr
        # The editor kept its lock and can still save.
        editor.instruments.edit("REP-SPARE", InstrumentChanges(notes="checked"), reason="test")
    assert len(PdfReader(tmp_path / "l.pdf").pages) == 1
    assert "Calibrations due" in pdf_pages(tmp_path / "due.pdf")[0]
    assert load_workbook(tmp_path / "h.xlsx")["Instrument"]["B2"].value == lab.due_tag
