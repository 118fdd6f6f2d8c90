"""ReportService and the report builders: what each report holds, on a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.errors import NotFoundError, UsageError, ValidationError
from app.services.dto import (
    AffectedCalibration,
    CalibrationInput,
    InstrumentChanges,
    OotCaseView,
    PointView,
    SignatureView,
)
from app.services.report_model import Report, Table
from app.services.reports import Stamp, oot_log_report
from tests.conftest import add_thermometer
from tests.unit.qa_helpers import PASSWORD, QUINN, calibrate, make_qa, open_as, reading

STAMP = Stamp(datetime(2026, 11, 23, 9, 30, tzinfo=UTC), "alice on LAB-PC-3", "/labs/lab.db")


def _calibrated(app: CalTrack, tag: str, on: str | None, **extra: object) -> None:
    add_thermometer(app, tag, **extra)
    if on is not None:
        calibrate(app, tag, on)


@pytest.fixture
def register(app: CalTrack) -> CalTrack:
    """Instruments around today (2026-11-23): due soon, later, overdue, never, out of use."""
    _calibrated(app, "DUE-02", "2026-01-20")  # due 2027-01-20: in 58 days
    _calibrated(app, "DUE-01", "2025-12-01")  # due 2026-12-01: in 8 days
    _calibrated(app, "FAR-01", "2026-10-01")  # due 2027-10-01
    _calibrated(app, "OLD-01", "2025-06-01")  # due 2026-06-01: 175 days ago
    _calibrated(app, "NEW-01", None)  # never calibrated
    _calibrated(app, "RET-01", "2025-06-01")
    app.instruments.edit("RET-01", InstrumentChanges(status="retired"), reason="scrapped")
    _calibrated(app, "OOS-01", "2025-12-02")
    app.instruments.edit("OOS-01", InstrumentChanges(status="out_of_service"), reason="dropped")
    return app


def _table(report: Report, section: int = 0) -> Table:
    table = report.sections[section].table
    assert table is not None
    return table


def _column(table: Table, name: str) -> list[object]:
    i = table.columns.index(name)
    return [row[i] for row in table.rows]


# -- due and overdue -----------------------------------------------------------------


def test_due_list_is_in_service_within_the_window_soonest_first(register: CalTrack) -> None:
    report = register.reports.due(60)
    table = _table(report)
    assert _column(table, "Asset tag") == ["DUE-01", "DUE-02"]
    assert _column(table, "Days left") == [8, 58]
    assert _column(table, "Next due") == [date(2026, 12, 1), date(2027, 1, 20)]
    assert (
        report.sections[0]
        .paragraphs[0]
        .startswith("2 instruments in service fall due between 2026-11-23 and 2027-01-22")
    )
    assert ("Days ahead", "60") in report.parameters
    assert _column(_table(register.reports.due(30)), "Asset tag") == ["DUE-01"]
    # Today counts: N = 0 is "due today", and nothing is due today here.
    assert _table(register.reports.due(0)).rows == []


def test_due_days_out_of_range_is_refused(app: CalTrack) -> None:
    with pytest.raises(ValidationError) as refused:
        app.reports.due(5000)
    assert "days" in refused.value.fields


def test_overdue_lists_past_due_and_never_calibrated_in_service_only(
    register: CalTrack,
) -> None:
    table = _table(register.reports.overdue())
    tags = _column(table, "Asset tag")
    # Never calibrated first (it must not be used at all), then by due date.
    assert tags == ["NEW-01", "OLD-01"]
    assert _column(table, "Days overdue") == [None, 175]
    assert _column(table, "State") == ["never calibrated", "overdue"]
    assert "RET-01" not in tags and "OOS-01" not in tags


def test_every_report_names_its_database_time_and_maker(register: CalTrack, db_url: str) -> None:
    report = register.reports.overdue()
    assert report.database == str(db_url)
    assert report.generated_at == datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert report.generated_by == "alice on LAB-PC-3"
    ident = dict(report.identification)
    assert ident["Database"] == str(db_url)
    assert ident["Generated"] == "2026-11-23 09:30:00 UTC"
    assert report.generated_line == "Generated 2026-11-23 09:30 UTC by alice on LAB-PC-3"


# -- instrument history -----------------------------------------------------------------


@pytest.fixture
def signed_history(app: CalTrack, db_url: str, clock: FixedClock, tmp_path: Path) -> CalTrack:
    """HIS-01: a signed calibration with readings and a standard, a voided one, a file.

    Returns quinn's (QA) session; the fixture's own app is closed by make_qa.
    """
    add_thermometer(app, "STD-01", description="Reference thermometer")
    calibrate(app, "STD-01", "2026-01-10")
    add_thermometer(app, "HIS-01", description="Process thermometer")
    good = app.calibrations.add(
        "HIS-01",
        CalibrationInput(
            performed_on="2026-03-02",
            result="adjusted",
            provider_kind="external",
            provider_name="Acme Cal Lab",
            certificate_number="ACME-77",
            temperature_c=21.5,
            humidity_pct=40,
            adjustment_made=True,
            uncertainty="0.05 °C (k=2)",
            points=(reading(0, 0.2), reading(100, 100.9, 100.1)),
            standards=("STD-01",),
        ),
    )
    wrong = calibrate(app, "HIS-01", "2026-04-01")
    app.calibrations.void(wrong, "entered on the wrong instrument")
    certificate = tmp_path / "ACME-77.pdf"
    certificate.write_bytes(b"%PDF-1.4 certificate")
    app.attachments.add("HIS-01", certificate, record_id=good.id)
    make_qa(app, db_url, clock)
    qa = open_as(db_url, QUINN, clock)
    qa.signatures.sign_record(good.id, meaning="reviewed", password=PASSWORD, comment="ok")
    return qa


def test_history_has_every_field_and_each_calibration_certificate_like(
    signed_history: CalTrack,
) -> None:
    with signed_history as qa:
        report = qa.reports.history("his-01")  # tags ignore case, as everywhere
        detail = qa.instruments.get("HIS-01")
    assert report.title == "Instrument history: HIS-01"
    assert report.subtitle == "Process thermometer"
    headings = [s.heading for s in report.sections]
    assert headings[:2] == ["Instrument", "Calibrations"]
    assert headings[-3:] == ["Attachments", "Custody", "Audit trail"]
    fields = {row[0]: row[1] for row in _table(report, 0).rows}
    assert fields["Asset tag"] == "HIS-01"
    assert fields["Serial number"] == "SN123"
    assert fields["Next due"] == detail.next_due
    assert fields["Version"] == detail.version

    summary = _table(report, 1)
    assert len(summary.rows) == 2
    assert "VOID: entered on the wrong instrument" in _column(summary, "State")

    (voided,) = [s for s in report.sections if "VOIDED" in s.heading]
    assert voided.heading.startswith("Calibration #") and "2026-04-01" in voided.heading
    assert voided.paragraphs[0] == (
        "VOIDED — this record does not count. Reason: entered on the wrong instrument."
    )

    (good,) = [s for s in report.sections if s.heading.endswith("— ADJUSTED")]
    text = "\n".join(good.paragraphs)
    assert "External provider: Acme Cal Lab" in text and "certificate ACME-77" in text
    assert "Environment: 21.5 °C, 40 %RH." in text
    assert "adjustment made: yes" in text and "uncertainty: 0.05 °C (k=2)" in text
    assert "Standards used: STD-01." in text
    assert "As found: 1 reading outside tolerance" in text
    readings = good.table
    assert readings is not None
    assert readings.columns[:6] == ["#", "Nominal", "As found", "As left", "Tolerance (±)", "Unit"]
    assert readings.rows[1][:8] == (2, 100.0, 100.9, 100.1, 0.5, "°C", "FAIL", "pass")
    # No U typed: no k or TUR; the simple rule's acceptance limits are the tolerance's.
    assert readings.columns[8:] == ["U", "k", "TUR", "Acceptance limits"]
    assert readings.rows[1][8:] == (None, None, None, "= limits")
    # The rule the record was judged by, as a sentence (issue 14).
    assert "Decision rule: Simple acceptance" in text, text
    assert good.signatures == [
        "Reviewed by Quinn Q. Reviewer (quinn) on 2026-11-23 09:30:00 UTC — “ok”"
    ]
    assert voided.signatures == [] and "Not signed." in voided.paragraphs

    attachments = _table(report, len(report.sections) - 3)
    assert _column(attachments, "File") == ["ACME-77.pdf"]
    assert _column(attachments, "Size (bytes)") == [len(b"%PDF-1.4 certificate")]
    audit = _table(report, len(report.sections) - 1)
    assert ("create", "Asset tag", None, "HIS-01") in [row[3:7] for row in audit.rows]
    assert any(str(row[2]).startswith("Calibration HIS-01 #") for row in audit.rows)


def test_history_of_an_unknown_tag_says_so(app: CalTrack) -> None:
    with pytest.raises(NotFoundError, match="NOPE"):
        app.reports.history("NOPE")


# -- OOT log ---------------------------------------------------------------------------


def _case(case_id: int, status: str, found_on: date, **extra: object) -> OotCaseView:
    values: dict[str, object] = {
        "id": case_id,
        "instrument_id": 10 + case_id,
        "asset_tag": f"STD-{case_id:02d}",
        "description": "Reference thermometer",
        "record_id": 100 + case_id,
        "status": status,
        "found_on": found_on,
        "last_good_on": date(2025, 11, 1),
        "summary": "as found out of tolerance",
        "failing_points": [PointView(1, 100, 101, 100, 0.5, "°C", False, True)],
        "impact_assessment": "",
        "disposition": "",
        "affected": [],
        "returned_to_service": False,
        "opened_at": datetime(2026, 1, 1, 8, 0),
        "opened_by": "alice",
        "closed_at": None,
        "closed_by": None,
        "updated_at": datetime(2026, 1, 1, 8, 0),
        "updated_by": "alice",
        "version": 1,
    }
    values.update(extra)
    return OotCaseView(**values)  # type: ignore[arg-type]


def _affected(record_id: int, tag: str) -> AffectedCalibration:
    return AffectedCalibration(record_id, 1, tag, "Oven", date(2026, 2, 1), "pass", "C-1", "")


def test_oot_log_columns_and_order() -> None:
    signature = SignatureView(
        1, "oot_case", 2, "closed", "quinn", "Quinn Q.", datetime(2026, 3, 4, 10, 0), "", "h"
    )
    cases = [
        _case(
            2,
            "closed",
            date(2026, 3, 1),
            disposition="results_reassessed",
            affected=[_affected(7, "OV-2"), _affected(8, "OV-1"), _affected(9, "OV-2")],
            impact_assessment="Oven results rechecked; within limits.",
            closed_at=datetime(2026, 3, 4, 10, 0),
            closed_by="quinn",
            signatures=[signature],
        ),
        _case(1, "open", date(2026, 2, 1)),
    ]
    report = oot_log_report(cases, stamp=STAMP)
    table = _table(report)
    assert report.landscape and report.kind == "oot"
    assert table.columns[:4] == ["Case", "Instrument", "Description", "Found on"]
    assert _column(table, "Case") == [1, 2]  # by date found, oldest first
    closed = dict(zip(table.columns, table.rows[1], strict=True))
    assert closed["Disposition"] == "results reassessed"
    assert closed["Affected calibrations"] == 3
    assert closed["Affected instruments"] == "OV-1, OV-2"
    assert closed["Closed by"] == "quinn"
    assert closed["Closed at (UTC)"] == datetime(2026, 3, 4, 10, 0)
    assert closed["Signature"] == "Closed by Quinn Q. (quinn) on 2026-03-04 10:00:00 UTC"
    assert report.sections[0].paragraphs == ["2 cases: 1 closed, 1 open."]

    only_open = oot_log_report(cases, stamp=STAMP, status="open")
    assert _column(_table(only_open), "Case") == [1]
    in_march = oot_log_report(cases, stamp=STAMP, found_from=date(2026, 3, 1))
    assert _column(_table(in_march), "Case") == [2]
    assert ("Found", "2026-03-01 to today") in in_march.parameters
    none = oot_log_report(cases, stamp=STAMP, found_to=date(2026, 1, 1))
    assert _table(none).rows == [] and none.sections[0].paragraphs == [
        "No out-of-tolerance case matches."
    ]


def test_oot_log_from_the_oot_service(app: CalTrack) -> None:
    add_thermometer(app, "STD-09")
    calibrate(app, "STD-09", "2026-01-05")
    calibrate(app, "STD-09", "2026-11-02", "fail", points=(reading(50, 51.2),))
    report = app.reports.oot_log(app.oot.list(), status=None)
    (row,) = _table(report).rows
    cells = dict(zip(_table(report).columns, row, strict=True))
    assert (cells["Instrument"], cells["Status"]) == ("STD-09", "open")
    assert cells["Found on"] == date(2026, 11, 2)
    assert cells["Last good"] == date(2026, 1, 5)
    with pytest.raises(ValidationError):
        app.reports.oot_log([], found_from=date(2026, 2, 1), found_to=date(2026, 1, 1))


# -- audit trail -------------------------------------------------------------------------


def test_audit_trail_shows_field_changes_and_filters(register: CalTrack) -> None:
    register.instruments.edit("DUE-01", InstrumentChanges(location="Lab 9"), reason="moved")
    report = register.reports.audit_trail(since=date(2026, 11, 23), until=date(2026, 11, 23))
    table = _table(report)
    assert report.landscape and report.kind == "audit"
    assert table.columns == [
        "Event",
        "When (UTC)",
        "User",
        "Machine",
        "Entity type",
        "Entity",
        "Action",
        "Field",
        "Before",
        "After",
        "Reason",
    ]
    moved = [r for r in table.rows if r[5] == "DUE-01" and r[6] == "update" and r[7] == "location"]
    assert [r[8:] for r in moved] == [("", "Lab 9", "moved")]
    assert moved[0][1] == datetime(2026, 11, 23, 9, 30)
    assert moved[0][2:4] == ("alice", "LAB-PC-3")
    ids = [r[0] for r in table.rows if isinstance(r[0], int)]
    assert len(ids) == len(table.rows) and ids == sorted(ids)  # oldest first

    # One entity: the instrument, its calibrations ("DUE-01 #2") — not DUE-02's.
    one = _table(register.reports.audit_trail(entity="due-01"))
    assert {r[5] for r in one.rows} == {"DUE-01", f"DUE-01 #{_first_record(register)}"}
    only_cal = _table(register.reports.audit_trail(entity="DUE-01", entity_type="calibration"))
    assert {r[4] for r in only_cal.rows} == {"calibration"}
    assert _table(register.reports.audit_trail(user="nobody")).rows == []
    assert _table(register.reports.audit_trail(since=date(2026, 11, 24))).rows == []
    assert _table(register.reports.audit_trail(until=date(2026, 11, 22))).rows == []
    assert ("User", "bob") in register.reports.audit_trail(user="bob").parameters


def _first_record(app: CalTrack) -> int:
    return app.calibrations.history("DUE-01")[0].id


def test_audit_trail_period_must_be_in_order(app: CalTrack) -> None:
    with pytest.raises(ValidationError) as refused:
        app.reports.audit_trail(since=date(2026, 5, 2), until=date(2026, 5, 1))
    assert "swap" in refused.value.fields["from"]


def test_audit_search_is_a_read_with_since_until_and_limit(register: CalTrack) -> None:
    everything = register.audit.search(limit=None)
    assert [e.id for e in everything] == sorted(e.id for e in everything)
    assert len(register.audit.search(limit=3)) == 3
    at = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert register.audit.search(since=at, limit=None) == everything
    assert register.audit.search(until=at, limit=None) == []  # until is exclusive
    assert {e.entity_label for e in register.audit.search(entity="OLD-01", limit=None)} == {
        "OLD-01",
        f"OLD-01 #{register.calibrations.history('OLD-01')[0].id}",
    }


# -- labels -----------------------------------------------------------------------------


def test_label_data_by_tags_status_or_all(register: CalTrack) -> None:
    named = register.reports.labels(tags=["old-01", "DUE-01"])
    assert [(lb.asset_tag, lb.next_due) for lb in named] == [
        ("OLD-01", date(2026, 6, 1)),
        ("DUE-01", date(2026, 12, 1)),
    ]
    assert named[0].last_calibrated == date(2025, 6, 1)
    overdue = register.reports.labels(status="overdue")
    assert [lb.asset_tag for lb in overdue] == ["OLD-01"]
    never = register.reports.labels(status="not-calibrated")
    assert [lb.asset_tag for lb in never] == ["NEW-01"]
    assert len(register.reports.labels(everything=True)) == 7
    with pytest.raises(NotFoundError, match="NOPE"):
        register.reports.labels(tags=["DUE-01", "NOPE"])
    with pytest.raises(UsageError):
        register.reports.labels(tags=["DUE-01"], everything=True)
    with pytest.raises(UsageError, match="lost"):
        register.reports.labels(status="lost")
    with pytest.raises(ValidationError):
        register.reports.labels(status="broken")
