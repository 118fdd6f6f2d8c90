"""Importing instrument registers: the messy files, the dry run, all-or-nothing commits."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import ReadOnlyError, UsageError, ValidationError
from app.identity import Identity
from app.services.dto import CalibrationInput
from app.services.editing import EditingOptions
from app.services.transfer_model import ImportOptions, ImportPreview
from tests.conftest import add_thermometer
from tests.integration.helpers import fingerprint

DATA = Path(__file__).parents[1] / "data" / "import"
INSTRUMENTS = ImportOptions(kind="instruments")


def errors_by_line(preview: ImportPreview) -> dict[int | None, list[str]]:
    found: dict[int | None, list[str]] = {}
    for issue in preview.issues:
        found.setdefault(issue.line, []).append(
            f"{issue.column}: {issue.message}" if issue.column else issue.message
        )
    return found


def create_reason(app: CalTrack, tag: str) -> str:
    detail = app.instruments.get(tag)
    return app.audit.for_entity("instrument", detail.id)[0].reason


def test_utf8_bom_semicolons_day_first_dates_and_months(app: CalTrack, db_url: str) -> None:
    before = fingerprint(db_url)
    preview = app.transfer.preview(DATA / "register-semicolon-bom.csv", INSTRUMENTS)
    assert preview.ok, preview.issues
    assert (preview.encoding_note, preview.delimiter, preview.header_line) == (
        "UTF-8 with BOM",
        ";",
        1,
    )
    assert preview.date_order == "dmy"
    assert preview.date_order_note == "day first (dd.mm.yyyy): line 2 has 14.03.2026"
    assert [(r.line, r.action, r.asset_tag) for r in preview.rows] == [
        (2, "add", "TH-101"),
        (3, "add", "BAL-102"),
        (4, "add", "PIP-103"),
    ]
    assert preview.checked == "against the database (the save was tried, then rolled back)"
    # A dry run writes nothing at all.
    assert fingerprint(db_url) == before
    result = app.transfer.commit(preview)
    assert result.committed
    th = app.instruments.get("TH-101")
    assert (th.calibration_interval_days, th.last_calibrated, th.next_due) == (
        365,
        date(2026, 3, 14),
        date(2027, 3, 14),
    )
    assert (th.manufacturer, th.model, th.serial_number, th.location) == (
        "Fluke",
        "1524",
        "SN-1",
        "Lab 1.01",
    )
    bal = app.instruments.get("BAL-102")
    # 6 months are 183 days; the next due date follows from the last calibration.
    assert (bal.calibration_interval_days, bal.next_due) == (183, date(2027, 4, 6))
    pip = app.instruments.get("PIP-103")
    assert (pip.calibration_interval_days, pip.next_due) == (91, date(2027, 2, 1))
    assert pip.description == "Pipette 100 µL"
    assert pip.notes == "Two lines:\nfirst; second"
    assert create_reason(app, "TH-101") == "imported from register-semicolon-bom.csv line 2"
    assert create_reason(app, "PIP-103") == "imported from register-semicolon-bom.csv line 4"
    assert app.maintenance.verify().clean


def test_cp1252_with_umlauts_degrees_and_micro(app: CalTrack) -> None:
    result = app.transfer.import_file(DATA / "register-cp1252.csv", INSTRUMENTS)
    assert result.committed, result.issues
    assert result.encoding == "cp1252"
    pg = app.instruments.get("PG-201")
    assert (pg.description, pg.range_text, pg.accuracy_text, pg.location) == (
        "Drucksensor für Kühlraum",
        "-40 to 250 °C",
        "±0.5 °C",
        "Kühlraum 2",
    )
    assert app.instruments.get("CAL-202").accuracy_text == "±20 µm"
    assert app.instruments.get("CAL-202").calibration_interval_days == 730
    assert app.instruments.get("TW-203").description == "Drehmomentschlüssel, groß"
    assert app.instruments.get("TW-203").range_text == "5 to 200 N·m"


def test_blank_lines_and_trailing_empty_columns(app: CalTrack, db_url: str) -> None:
    before = fingerprint(db_url)
    result = app.transfer.import_file(DATA / "register-blank-lines.csv", INSTRUMENTS)
    assert not result.committed
    assert [(r.line, r.action) for r in result.rows] == [
        (3, "add"),
        (6, "add"),
        (8, "add"),
        (9, "error"),
    ]
    assert errors_by_line(result) == {
        9: [
            "has 4 values but the header has 3 columns (a delimiter inside a value that is "
            "not quoted?)"
        ]
    }
    assert result.mapping.unmapped == ()
    assert fingerprint(db_url) == before
    kept = app.transfer.import_file(
        DATA / "register-blank-lines.csv", replace(INSTRUMENTS, exclude_lines=frozenset({9}))
    )
    assert kept.committed
    assert [(r.line, r.action) for r in kept.rows][-1] == (9, "excluded")
    assert app.instruments.status_counts()["all"] == 3
    assert app.instruments.get("MM-303").location == "Production line A"
    assert create_reason(app, "MM-302") == "imported from register-blank-lines.csv line 6"


def test_bad_values_are_reported_per_line_and_column(app: CalTrack, db_url: str) -> None:
    before = fingerprint(db_url)
    preview = app.transfer.preview(DATA / "register-bad-values.csv", INSTRUMENTS)
    assert errors_by_line(preview) == {
        2: ["Last calibrated: '2026-02-30' is not a valid date (day is out of range for month)"],
        3: ["Interval (days): must be a whole number (got 'ninety')"],
        4: ["Description: at most 255 characters (got 300)"],
        5: ["Last calibrated: 'next week' is not a date; write it as yyyy-mm-dd"],
        # A value no mapping covers: once for the value, not per row (the row is an error).
        None: [
            "Status: 'on loan' (1 row: line 6) is not a status CalTrack knows; map it to one "
            "of in_service, out_of_service, retired, lost, or leave those lines out"
        ],
    }
    assert preview.error_lines == (2, 3, 4, 5, 6)
    assert [r.action for r in preview.rows] == ["error"] * 5 + ["add"]
    # A commit of a preview with errors is refused, and nothing is written.
    with pytest.raises(ValidationError) as refused:
        app.transfer.commit(preview)
    assert str(refused.value) == (
        "register-bad-values.csv: 1 value(s) have no mapping (column 'Status': 'on loan' "
        "(1 row)); 4 other line(s) have errors; nothing was written — map each value, or "
        "leave its lines out"
    )
    assert not app.transfer.import_file(DATA / "register-bad-values.csv", INSTRUMENTS).committed
    assert fingerprint(db_url) == before
    # Leaving the bad lines out, the good one goes in with its quoted multi-line note.
    kept = app.transfer.preview(
        DATA / "register-bad-values.csv",
        replace(INSTRUMENTS, exclude_lines=frozenset({2, 3, 4, 5, 6})),
    )
    assert kept.ok
    assert app.transfer.commit(kept).committed
    ph = app.instruments.get("PH-406")
    assert ph.notes == 'Buffer 4.01 "old"\nreplaced in March'
    assert (ph.calibration_interval_days, ph.last_calibrated, ph.next_due) == (
        90,
        date(2026, 3, 1),
        date(2026, 5, 30),
    )
    assert app.instruments.status_counts()["all"] == 1


def test_duplicates_in_the_file_and_tags_already_in_the_database(
    app: CalTrack, db_url: str
) -> None:
    add_thermometer(app)  # TH-001
    before = fingerprint(db_url)
    preview = app.transfer.preview(DATA / "register-duplicates.csv", INSTRUMENTS)
    assert errors_by_line(preview) == {
        3: [
            "Asset tag: TH-001 is already in the database (Digital thermometer); leave the line "
            "out, or choose to update existing instruments"
        ],
        4: [
            "Asset tag: asset tag 'th-100' is already on line 2 of this file; keep one of them "
            "and leave the other line out"
        ],
    }
    update = replace(INSTRUMENTS, update_existing=True)
    preview = app.transfer.preview(DATA / "register-duplicates.csv", update)
    assert [(r.line, r.action) for r in preview.rows] == [
        (2, "add"),
        (3, "update"),
        (4, "error"),
        (5, "add"),
    ]
    assert preview.rows[1].summary == "changes description, interval (days)"
    assert not app.transfer.import_file(DATA / "register-duplicates.csv", update).committed
    assert fingerprint(db_url) == before
    result = app.transfer.import_file(
        DATA / "register-duplicates.csv", replace(update, exclude_lines=frozenset({4}))
    )
    assert result.committed
    th = app.instruments.get("TH-001")
    assert th.description == "Digital thermometer (recalibrated yearly)"
    assert th.calibration_interval_days == 180
    last = app.audit.for_entity("instrument", th.id)[-1]
    assert last.action == "update"
    assert last.reason == "imported from register-duplicates.csv line 3"
    assert sorted(last.changes) == ["calibration_interval_days", "description"]
    assert app.instruments.get("TH-100").description == "Thermometer A"
    # The same file again: existing rows are unchanged, not updated twice.
    again = app.transfer.preview(
        DATA / "register-duplicates.csv", replace(update, exclude_lines=frozenset({4}))
    )
    assert [r.action for r in again.rows] == ["unchanged", "unchanged", "excluded", "unchanged"]


def test_xlsx_with_date_cells_and_numbers_as_text(app: CalTrack) -> None:
    result = app.transfer.import_file(DATA / "register-dates.xlsx", INSTRUMENTS)
    assert result.committed, result.issues
    assert (result.format, result.sheet) == ("xlsx", "Register")
    a = app.instruments.get("XL-601")
    assert (a.serial_number, a.calibration_interval_days, a.last_calibrated, a.next_due) == (
        "100234",
        365,
        date(2026, 5, 4),
        date(2027, 5, 4),
    )
    b = app.instruments.get("XL-602")
    assert (b.calibration_interval_days, b.last_calibrated, b.next_due) == (
        730,
        date(2025, 12, 1),
        date(2027, 6, 1),
    )
    c = app.instruments.get("XL-603")
    assert (c.calibration_interval_days, c.last_calibrated) == (365, date(2026, 7, 15))


def test_xlsx_with_title_rows_above_the_header(app: CalTrack) -> None:
    preview = app.transfer.preview(DATA / "register-title-rows.xlsx", INSTRUMENTS)
    assert preview.ok
    assert preview.header_line == 3
    assert preview.warnings == (
        "the header is on line 3; the line(s) above it were skipped "
        "('Instrument register — Lab 2 (exported 2026-11-20)')",
    )
    assert [(r.line, r.asset_tag, r.notes) for r in preview.rows] == [
        (4, "EQ-701", ("no interval given: 365 days",)),
        (5, "EQ-702", ("no interval given: 365 days",)),
    ]
    assert app.transfer.commit(preview).committed
    assert app.instruments.get("EQ-701").last_calibrated == date(2026, 2, 2)
    # Told where the header is, rows above it are not searched.
    with pytest.raises(UsageError, match="has no row on line 2 for the header"):
        app.transfer.preview(DATA / "register-title-rows.xlsx", replace(INSTRUMENTS, header_line=2))


def test_utf16_unicode_text(app: CalTrack) -> None:
    result = app.transfer.import_file(DATA / "register-unicode-text.txt", INSTRUMENTS)
    assert result.committed
    assert app.instruments.get("HYG-501").range_text == "-20 to 60 °C"


def test_date_orders(app: CalTrack) -> None:
    us = app.transfer.preview(DATA / "register-us-dates.csv", INSTRUMENTS)
    assert us.date_order == "mdy" and us.ok
    mixed = app.transfer.preview(DATA / "register-mixed-dates.csv", INSTRUMENTS)
    assert [str(p) for p in mixed.problems] == [
        "the dates mix two orders: line 2 has 14/03/2026 (day first), line 3 has 03/14/2026 "
        "(month first); choose the date order (day first or month first) and fix the other lines"
    ]
    assert {r.action for r in mixed.rows} == {"not checked"}
    chosen = app.transfer.preview(
        DATA / "register-mixed-dates.csv", replace(INSTRUMENTS, date_order="dmy")
    )
    assert errors_by_line(chosen) == {
        3: ["Last calibrated: '03/14/2026' is not a valid date (month must be in 1..12)"]
    }
    ambiguous = app.transfer.preview(DATA / "register-ambiguous-dates.csv", INSTRUMENTS)
    assert ambiguous.ok and ambiguous.date_order == "dmy"
    assert "could be day-first or month-first" in ambiguous.warnings[0]
    assert app.transfer.commit(us).committed
    assert app.instruments.get("US-1").last_calibrated == date(2026, 3, 4)
    assert app.instruments.get("US-2").last_calibrated == date(2025, 11, 23)


def test_excluding_a_line_that_is_not_a_row_is_a_problem(app: CalTrack) -> None:
    preview = app.transfer.preview(
        DATA / "register-duplicates.csv", replace(INSTRUMENTS, exclude_lines=frozenset({1, 40}))
    )
    assert [str(p) for p in preview.problems] == [
        "line 1: left out, but there is no data row on this line",
        "line 40: left out, but there is no data row on this line",
    ]
    assert not preview.ok


def test_a_future_last_calibration_is_flagged_not_refused(app: CalTrack, tmp_path: Path) -> None:
    """Old data that contradicts itself is kept as recorded and flagged for QA review
    (test_review_flag covers it whole); the service's date rule no longer refuses it."""
    path = tmp_path / "future.csv"
    path.write_text(
        "Tag,Description,Last calibrated,Next due\n"
        "F-1,Future,2026-12-01,\n"
        "F-2,Backwards,2026-05-01,2026-04-01\n",
        encoding="utf-8",
    )
    preview = app.transfer.preview(path, INSTRUMENTS)
    assert preview.ok, preview.issues
    assert [r.review for r in preview.rows] == [
        "last calibration 2026-12-01 is in the future (imported on 2026-11-23)",
        "next due 2026-04-01 is before the last calibration 2026-05-01",
    ]


def test_a_read_only_database_previews_fields_only_and_refuses_the_commit(
    app: CalTrack, db_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    add_thermometer(app)
    bob = Identity(user="bob", machine="LAB-PC-4")
    with open_caltrack(
        str(db_url),
        identity=bob,
        clock=clock,
        editing=EditingOptions(edit=False),
        state_dir=tmp_path / "bob",
    ) as reader:
        preview = reader.transfer.preview(DATA / "register-duplicates.csv", INSTRUMENTS)
        assert preview.checked.startswith("fields only — the database is read-only")
        assert preview.error_lines == (3, 4)
        with pytest.raises(ReadOnlyError):
            reader.transfer.import_file(DATA / "register-duplicates.csv", INSTRUMENTS)
        with pytest.raises(ReadOnlyError):
            reader.transfer.commit(
                reader.transfer.preview(
                    DATA / "register-duplicates.csv",
                    replace(INSTRUMENTS, exclude_lines=frozenset({3, 4})),
                )
            )
    assert app.instruments.status_counts()["all"] == 1


def test_progress_is_reported_while_saving(app: CalTrack, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    lines = ["Tag,Description"] + [f"T-{n:04d},Thing {n}" for n in range(1200)]
    path.write_text("\n".join(lines), encoding="utf-8")
    seen: list[tuple[str, int, int]] = []
    result = app.transfer.import_file(path, INSTRUMENTS, progress=lambda *step: seen.append(step))
    assert result.committed
    assert ("saving", 1000, 1200) in seen
    assert app.instruments.status_counts()["all"] == 1200


def test_dates_outside_the_calendar_are_refused_per_line(app: CalTrack, tmp_path: Path) -> None:
    """9999-12-31 plus grace days once overflowed every later calibration naming it."""
    path = tmp_path / "far.csv"
    path.write_text(
        "Tag,Description,Grace days,Last calibrated,Next due\n"
        "F-1,Far future,10,2026-01-01,9999-12-31\n"
        "F-2,Far past,0,1066-10-14,\n"
        "F-3,Fine,0,2026-01-01,2200-12-31\n",
        encoding="utf-8",
    )
    preview = app.transfer.preview(path, INSTRUMENTS)
    assert errors_by_line(preview) == {
        2: [
            "Next due: 9999-12-31 is outside the calendar CalTrack keeps (1900-01-01 to 2200-12-31)"
        ],
        3: [
            "Last calibrated: 1066-10-14 is outside the calendar CalTrack keeps "
            "(1900-01-01 to 2200-12-31)"
        ],
    }


def test_the_service_refuses_dates_outside_the_calendar(app: CalTrack) -> None:
    add_thermometer(app)
    with pytest.raises(ValidationError) as caught:
        app.calibrations.add(
            "TH-001",
            CalibrationInput(performed_on=date(1, 1, 1), result="pass"),
        )
    assert caught.value.fields == {
        "performed_on": "0001-01-01 is outside the calendar CalTrack keeps "
        "(1900-01-01 to 2200-12-31)"
    }
