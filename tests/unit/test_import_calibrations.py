"""Importing calibration history: readings, standards, date order, voided records."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.errors import ValidationError
from app.services.dto import InstrumentInput
from app.services.transfer_model import ImportOptions, ImportPreview
from tests.conftest import add_thermometer
from tests.integration.helpers import fingerprint

DATA = Path(__file__).parents[1] / "data" / "import"
HISTORY = DATA / "calibrations-history.csv"
CALIBRATIONS = ImportOptions(kind="calibrations")


def errors_by_line(preview: ImportPreview) -> dict[int | None, list[str]]:
    found: dict[int | None, list[str]] = {}
    for issue in preview.issues:
        found.setdefault(issue.line, []).append(
            f"{issue.column}: {issue.message}" if issue.column else issue.message
        )
    return found


@pytest.fixture
def lab(app: CalTrack) -> CalTrack:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    app.instruments.add(
        InstrumentInput(
            asset_tag="REF-1", description="Reference PRT", calibration_interval_days=365
        )
    )
    return app


def test_history_rows_fail_exactly_where_they_should(lab: CalTrack, db_url: str) -> None:
    before = fingerprint(db_url)
    preview = lab.transfer.preview(HISTORY, CALIBRATIONS)
    assert errors_by_line(preview) == {
        6: [
            "Asset tag: no instrument 'NOPE-9' in the database; import the instruments first "
            "or correct the tag"
        ],
        7: ["Readings: reading 1 of 1: '20:abc:20:0.5': as_found must be a number (got 'abc')"],
        8: [
            "Performed on: repeats the calibration on line 2 (same tag, date, certificate, "
            "result and readings); keep one of them and leave the other line out"
        ],
    }
    assert [(r.line, r.action) for r in preview.rows][:5] == [
        (2, "add"),
        (3, "add"),
        (4, "add"),
        (5, "add"),
        (6, "error"),
    ]
    assert preview.warnings == (
        "7 row(s) name nobody who performed the calibration (first: line 2); they are "
        "recorded as performed by alice, who imports them",
    )
    # What the commit would do to the instrument is said before it is done.
    assert preview.rows[2].notes == (
        "found out of tolerance: opens an out-of-tolerance case",
        "takes TH-001 out of service",
    )
    with pytest.raises(ValidationError):
        lab.transfer.commit(preview)
    assert not lab.transfer.import_file(HISTORY, CALIBRATIONS).committed
    assert fingerprint(db_url) == before


def test_history_is_applied_in_date_order_with_standards_and_voids(lab: CalTrack) -> None:
    options = replace(CALIBRATIONS, exclude_lines=frozenset({6, 7, 8}))
    result = lab.transfer.import_file(HISTORY, options)
    assert result.committed, result.issues
    th1 = lab.calibrations.history("TH-001")
    assert [(c.performed_on, c.result, c.standards) for c in th1] == [
        (date(2026, 6, 1), "fail", ["REF-1"]),
        (date(2026, 3, 1), "pass", ["REF-1"]),
    ]
    first = th1[1]
    assert [(p.nominal, p.as_found, p.as_left, p.tolerance, p.unit) for p in first.points] == [
        (20.0, 20.1, 20.1, 0.5, "°C"),
        (50.0, 50.2, 50.2, 0.5, "°C"),
    ]
    assert (first.certificate_number, first.temperature_c, first.humidity_pct) == (
        "C-1",
        21.5,
        45.0,
    )
    assert th1[0].notes == "Sensor drift"
    detail = lab.instruments.get("TH-001")
    assert (detail.last_calibrated, detail.next_due, detail.lifecycle) == (
        date(2026, 6, 1),
        date(2027, 6, 1),
        "out_of_service",
    )
    # The reference's own calibration (line 3, an earlier date) went in first.
    ref = lab.calibrations.history("REF-1")
    assert [(c.provider_kind, c.provider_name, c.certificate_number) for c in ref] == [
        ("external", "Trescal", "EXT-9")
    ]
    # A record that was void in the file is void here, and changed nothing on TH-002.
    voided = lab.calibrations.history("TH-002")
    assert [(c.voided, c.void_reason) for c in voided] == [(True, "Wrong instrument recorded")]
    th2 = lab.instruments.get("TH-002")
    assert (th2.last_calibrated, th2.next_due, th2.lifecycle) == (None, None, "in_service")
    events = lab.audit.for_entity("calibration", voided[0].id)
    assert [(e.action, e.reason) for e in events] == [
        ("create", "imported from calibrations-history.csv line 5"),
        ("void", "imported from calibrations-history.csv line 5"),
    ]
    assert lab.audit.for_entity("calibration", first.id)[0].reason == (
        "imported from calibrations-history.csv line 2"
    )
    assert lab.maintenance.verify().clean


def test_a_standard_without_its_own_calibration_needs_a_justification(lab: CalTrack) -> None:
    # Without line 3 REF-1 has no calibration before it vouched for TH-001 and TH-002.
    options = replace(CALIBRATIONS, exclude_lines=frozenset({3, 6, 7, 8}))
    preview = lab.transfer.preview(HISTORY, options)
    assert preview.error_lines == (2, 4, 5)
    for line in (2, 4, 5):
        [issue] = [i for i in preview.issues if i.line == line]
        assert issue.column == "Standards"
        assert "REF-1 had no calibration on or before" in issue.message
        assert "give a justification" in issue.message


def test_a_voided_record_keeps_who_voided_it_and_when(lab: CalTrack, tmp_path: Path) -> None:
    path = tmp_path / "voided.csv"
    path.write_text(
        "Asset tag,Performed on,Result,Voided at (UTC),Voided by,Void reason\n"
        "TH-001,2026-02-01,pass,2026-02-03 10:00:00,bob,Typo in the certificate\n"
        "TH-001,2026-03-01,pass,2026-03-02 10:00:00,bob,\n",
        encoding="utf-8",
    )
    preview = lab.transfer.preview(path, CALIBRATIONS)
    assert errors_by_line(preview) == {
        3: [
            "Void reason: the record is marked voided but has no void reason; a voided record "
            "needs one"
        ]
    }
    result = lab.transfer.import_file(path, replace(CALIBRATIONS, exclude_lines=frozenset({3})))
    assert result.committed
    [record] = lab.calibrations.history("TH-001")
    assert (record.voided, record.void_reason) == (True, "Typo in the certificate")
    event = lab.audit.for_entity("calibration", record.id)[-1]
    assert event.action == "void"
    assert event.user == "alice"  # who imported it
    assert event.changes["voided_by"] == [None, "bob"]  # who voided it, from the file
    assert event.changes["voided_at"][1].startswith("2026-02-03T10:00:00")
    assert lab.maintenance.verify().clean


def test_next_due_dates_of_the_history_are_kept(lab: CalTrack, tmp_path: Path) -> None:
    path = tmp_path / "due.csv"
    path.write_text(
        "Asset tag,Performed on,Result,Next due\n"
        "TH-001,01.02.2025,pass,01.08.2025\n"
        "TH-001,15.08.2025,pass,\n",
        encoding="utf-8",
    )
    result = lab.transfer.import_file(path, CALIBRATIONS)
    assert result.committed, result.issues
    assert result.date_order == "dmy"
    older, newer = reversed(lab.calibrations.history("TH-001"))
    assert (older.performed_on, older.next_due) == (date(2025, 2, 1), date(2025, 8, 1))
    assert (newer.performed_on, newer.next_due) == (date(2025, 8, 15), date(2026, 8, 15))
    reason = lab.audit.for_entity("calibration", older.id)[0].reason
    assert reason == "next due as recorded in due.csv; imported from due.csv line 2"


def test_the_same_history_twice_is_refused_the_second_time(lab: CalTrack, db_url: str) -> None:
    options = replace(CALIBRATIONS, exclude_lines=frozenset({6, 7, 8}))
    assert lab.transfer.import_file(HISTORY, options).committed
    before = fingerprint(db_url)
    again = lab.transfer.import_file(HISTORY, options)
    assert not again.committed
    assert again.error_lines == (2, 3, 4, 5)
    [issue] = [i for i in again.issues if i.line == 3]
    assert issue.message.startswith("already recorded as calibration #")
    assert fingerprint(db_url) == before


def test_performed_on_is_required_and_future_dates_are_flagged(
    lab: CalTrack, tmp_path: Path
) -> None:
    path = tmp_path / "dates.csv"
    path.write_text(
        "Asset tag,Performed on,Result,Adjustment made\n"
        "TH-001,,pass,no\n"
        "TH-001,2027-01-01,pass,no\n"
        "TH-001,2026-01-01,maybe,perhaps\n",
        encoding="utf-8",
    )
    preview = lab.transfer.preview(path, CALIBRATIONS)
    assert errors_by_line(preview) == {
        2: ["Performed on: required: the date of the calibration"],
        4: ["Adjustment made: 'perhaps' is neither yes nor no"],
        None: [
            "Result: 'maybe' (1 row: line 4) is not a result CalTrack knows; map it to one "
            "of pass, fail, adjusted, or leave those lines out"
        ],
    }
    # A date in the future is old data that contradicts itself: flagged, not refused.
    assert preview.rows[1].review == (
        "calibration on 2027-01-01 is in the future (imported on 2026-11-23)"
    )


def test_who_voided_and_why_refuse_control_characters(lab: CalTrack, tmp_path: Path) -> None:
    """Both are printed as lines; a newline in them would forge a second line."""
    path = tmp_path / "voided.csv"
    path.write_text(
        "Asset tag,Performed on,Result,Voided at (UTC),Voided by,Void reason\n"
        'TH-001,2026-02-01,pass,2026-02-03 10:00:00,"bob\nroot",Typo\n'
        'TH-001,2026-03-01,pass,2026-03-02 10:00:00,bob,"Typo\x1b[2K"\n',
        encoding="utf-8",
    )
    preview = lab.transfer.preview(path, CALIBRATIONS)
    assert errors_by_line(preview) == {
        2: ["Voided by: contains the control character U+000A (LINE FEED) at position 4"],
        4: ["Void reason: contains the control character U+001B (ESCAPE) at position 5"],
    }
