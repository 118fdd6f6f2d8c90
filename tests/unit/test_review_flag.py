"""Old history that contradicts itself: imported as recorded and flagged for QA review,
or left out; QA clears the flag with a reason. Real database files, real CSV and XLSX."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import NotAllowedError, UsageError, ValidationError
from app.repositories.unit_of_work import UnitOfWork
from app.services.audit import AuditChainWriter
from app.services.dto import InstrumentChanges, InstrumentInput
from app.services.transfer_model import ImportOptions
from tests.conftest import add_thermometer
from tests.integration.helpers import fingerprint
from tests.unit.qa_helpers import ALICE, BOB, QUINN, make_qa, open_as

INSTRUMENTS = ImportOptions(kind="instruments")
CALIBRATIONS = ImportOptions(kind="calibrations")
HEADER = ["Asset tag", "Description", "Interval (days)", "Last calibration", "Next due"]
# The clock of the tests says 2026-11-23.
REGISTER = [
    ["OK-1", "Thermometer", "365", "2026-01-10", "2027-01-10"],
    ["BACK-2", "Balance", "365", "2021-05-04", "2019-03-01"],  # the old tool overwrote one
    ["FUT-3", "Gauge", "365", "2027-02-01", ""],  # a last calibration in the future
    ["EPOCH-4", "Pipette", "365", "1970-01-01", ""],  # a placeholder
    ["XL-5", "Caliper", "365", "2025-06-01", "1900-01-01"],  # Excel's day 1
    ["SAME-6", "Timer", "365", "2024-03-03", "2024-03-03"],
]
FLAGGED = {
    "BACK-2": "next due 2019-03-01 is before the last calibration 2021-05-04",
    "FUT-3": "last calibration 2027-02-01 is in the future (imported on 2026-11-23)",
    "EPOCH-4": "last calibration 1970-01-01 looks like a placeholder, not a real date",
    "XL-5": "next due 1900-01-01 looks like a placeholder, not a real date",
    "SAME-6": "next due 2024-03-03 is the same day as the last calibration 2024-03-03",
}


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(header)
    for r in rows:
        # Dates as real date cells, as Excel keeps them.
        ws.append(
            [date.fromisoformat(c) if c[:2] in ("19", "20") and len(c) == 10 else c for c in r]
        )
    wb.save(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_contradictory_rows_are_imported_as_recorded_and_flagged(
    app: CalTrack, db_url: str, tmp_path: Path, fmt: str
) -> None:
    write = write_csv if fmt == "csv" else write_xlsx
    source = write(tmp_path / f"register.{fmt}", HEADER, REGISTER)
    before = fingerprint(db_url)
    preview = app.transfer.preview(source, INSTRUMENTS)
    assert preview.ok, preview.issues
    assert fingerprint(db_url) == before  # the dry run wrote nothing
    assert {r.asset_tag: r.review for r in preview.rows if r.review} == FLAGGED
    assert [r.action for r in preview.rows] == ["add"] * 6
    back = next(r for r in preview.rows if r.asset_tag == "BACK-2")
    assert back.notes == ("flagged for QA review: " + FLAGGED["BACK-2"],)
    assert preview.counts()["flagged"] == 5
    assert preview.as_json()["counts"]["flagged"] == 5
    result = app.transfer.commit(preview)
    assert result.committed
    stored = {t: app.instruments.get(t) for t, *_ in REGISTER}
    # Nothing silently changed: the dates are the file's.
    assert (stored["BACK-2"].last_calibrated, stored["BACK-2"].next_due) == (
        date(2021, 5, 4),
        date(2019, 3, 1),
    )
    assert stored["FUT-3"].last_calibrated == date(2027, 2, 1)
    assert stored["EPOCH-4"].last_calibrated == date(1970, 1, 1)
    assert stored["EPOCH-4"].due_status == "overdue"  # a placeholder is not "in date"
    assert stored["XL-5"].next_due == date(1900, 1, 1)
    assert {t: d.review_reason for t, d in stored.items() if d.review_reason} == FLAGGED
    assert stored["OK-1"].review_reason == ""
    assert app.instruments.status_counts()["to-review"] == 5
    listed = app.instruments.list(status="to-review", limit=None)
    assert sorted(r.asset_tag for r in listed.rows) == sorted(FLAGGED)
    # The create event says it was flagged and why.
    event = app.audit.for_entity("instrument", stored["BACK-2"].id)[0]
    assert event.action == "create"
    assert event.reason == (
        f"imported from register.{fmt} line 3; flagged for QA review: " + FLAGGED["BACK-2"]
    )
    assert event.changes["review_reason"] == [None, FLAGGED["BACK-2"]]


def test_leave_out_excludes_them_with_the_reason_not_as_errors(
    app: CalTrack, tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "register.csv", HEADER, REGISTER)
    options = replace(INSTRUMENTS, inconsistent="leave_out")
    preview = app.transfer.import_file(source, options)
    assert preview.committed and preview.ok
    actions = {r.asset_tag: (r.action, r.notes) for r in preview.rows}
    assert actions["OK-1"] == ("add", ())
    assert actions["BACK-2"] == (
        "excluded",
        ("left out (its dates contradict each other): " + FLAGGED["BACK-2"],),
    )
    assert preview.counts()["excluded"] == 5 and preview.counts()["flagged"] == 0
    assert app.instruments.status_counts()["all"] == 1


def test_rules_that_protect_data_stay_errors(app: CalTrack, tmp_path: Path) -> None:
    rows = [*REGISTER, ["BACK-2", "Copy", "365", "2021-05-04", "2019-03-01"]]
    rows.append(["BAD-7", "Scale", "365", "31.02.2020", ""])
    source = write_csv(tmp_path / "register.csv", HEADER, rows)
    preview = app.transfer.import_file(source, INSTRUMENTS)
    assert not preview.committed
    assert preview.error_lines == (8, 9)
    assert "already on line 3" in str(preview.issues[0])
    assert app.instruments.status_counts()["all"] == 0


def test_an_unknown_inconsistent_choice_is_a_usage_error(app: CalTrack, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "register.csv", HEADER, REGISTER[:1])
    with pytest.raises(UsageError, match="flag, leave_out"):
        app.transfer.preview(source, replace(INSTRUMENTS, inconsistent="maybe"))  # type: ignore[arg-type]


def test_without_the_import_path_such_dates_are_refused_as_before(app: CalTrack) -> None:
    def write(uow: UnitOfWork) -> None:
        audit = AuditChainWriter(uow, app.identity, app.clock)
        app.instruments.add_in(
            uow,
            audit,
            InstrumentInput(asset_tag="X-2", description="x"),
            last_calibrated=date(2021, 5, 4),
            next_due=date(2019, 3, 1),
        )

    with pytest.raises(ValidationError, match="not after the last calibration"):
        app.uow.write(write, label="test")


def test_export_then_import_gives_the_recorded_dates_back(
    app: CalTrack, tmp_path: Path, clock: FixedClock
) -> None:
    app.transfer.import_file(write_csv(tmp_path / "register.csv", HEADER, REGISTER), INSTRUMENTS)
    exported = app.transfer.export("csv", tmp_path / "out")
    with open_caltrack(
        str(tmp_path / "other.db"),
        create=True,
        identity=ALICE,
        clock=clock,
        state_dir=tmp_path / "other-state",
    ) as other:
        result = other.transfer.import_file(Path(exported.files[0]), INSTRUMENTS)
        assert result.committed, result.issues
        for tag, *_ in REGISTER:
            mine, theirs = app.instruments.get(tag), other.instruments.get(tag)
            assert (theirs.last_calibrated, theirs.next_due) == (
                mine.last_calibrated,
                mine.next_due,
            )
            assert theirs.review_reason == mine.review_reason


HISTORY_HEADER = ["Asset tag", "Performed on", "Result", "Certificate", "Next due"]
HISTORY = [
    ["TH-001", "2025-03-01", "pass", "C-1", ""],
    ["TH-001", "1970-01-01", "pass", "C-0", ""],
    ["TH-002", "2024-05-04", "pass", "C-2", "2023-05-04"],
    ["TH-002", "2027-01-05", "pass", "C-3", ""],
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_contradictory_history_is_recorded_and_its_instrument_flagged(
    app: CalTrack, tmp_path: Path, fmt: str
) -> None:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    write = write_csv if fmt == "csv" else write_xlsx
    source = write(tmp_path / f"history.{fmt}", HISTORY_HEADER, HISTORY)
    result = app.transfer.import_file(source, CALIBRATIONS)
    assert result.committed, result.issues
    assert [(r.line, r.action, r.review) for r in result.rows] == [
        (2, "add", ""),
        (3, "add", "calibration dated 1970-01-01 (looks like a placeholder)"),
        (4, "add", "calibration on 2024-05-04 has next due 2023-05-04, before it"),
        (5, "add", "calibration on 2027-01-05 is in the future (imported on 2026-11-23)"),
    ]
    assert result.counts()["flagged"] == 3
    th1, th2 = app.instruments.get("TH-001"), app.instruments.get("TH-002")
    assert th1.review_reason == "calibration dated 1970-01-01 (looks like a placeholder)"
    # Appended, each problem once.
    assert th2.review_reason == (
        "calibration on 2024-05-04 has next due 2023-05-04, before it; "
        "calibration on 2027-01-05 is in the future (imported on 2026-11-23)"
    )
    records = {r.certificate_number: r for r in app.calibrations.history("TH-002")}
    assert records["C-2"].next_due == date(2023, 5, 4)  # as recorded
    assert records["C-3"].performed_on == date(2027, 1, 5)
    events = app.audit.for_entity("instrument", th2.id)
    flagged = [e for e in events if "review_reason" in e.changes]
    assert flagged[-1].reason.endswith(
        "flagged for QA review: calibration on 2027-01-05 is in the future (imported on 2026-11-23)"
    )


def test_contradictory_history_left_out(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    source = write_csv(tmp_path / "history.csv", HISTORY_HEADER, HISTORY)
    result = app.transfer.import_file(source, replace(CALIBRATIONS, inconsistent="leave_out"))
    assert result.committed, result.issues
    assert [r.action for r in result.rows] == ["add", "excluded", "excluded", "excluded"]
    assert app.instruments.get("TH-002").review_reason == ""
    assert [r.certificate_number for r in app.calibrations.history("TH-001")] == ["C-1"]


def flagged_lab(app: CalTrack, tmp_path: Path) -> None:
    app.transfer.import_file(write_csv(tmp_path / "register.csv", HEADER, REGISTER), INSTRUMENTS)


def test_only_qa_clears_the_flag_with_a_reason_audited(
    app: CalTrack, db_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    flagged_lab(app, tmp_path)
    make_qa(app, db_url, clock)  # closes app
    with open_as(db_url, BOB, clock) as bob:
        with pytest.raises(
            NotAllowedError, match=r"only QA reviewers may clear an instrument.s review flag"
        ):
            bob.instruments.clear_review("BACK-2", "checked the certificate")
        assert bob.instruments.get("BACK-2").review_reason == FLAGGED["BACK-2"]
    with open_as(db_url, QUINN, clock) as quinn:
        before = fingerprint(db_url)
        for blank in ("", "   "):
            with pytest.raises(ValidationError, match="required"):
                quinn.instruments.clear_review("BACK-2", blank)
        assert fingerprint(db_url) == before
        version = quinn.instruments.get("BACK-2").version
        detail = quinn.instruments.clear_review(
            "BACK-2", "certificate C-19 says 2022-05-04", expected_version=version
        )
        assert detail.review_reason == ""
        event = quinn.audit.for_entity("instrument", detail.id)[-1]
        assert (event.action, event.user, event.reason) == (
            "clear review",
            "quinn",
            "certificate C-19 says 2022-05-04",
        )
        assert event.changes == {"review_reason": [FLAGGED["BACK-2"], ""]}
        with pytest.raises(ValidationError, match="no data flagged"):
            quinn.instruments.clear_review("BACK-2", "again")
        assert quinn.instruments.status_counts()["to-review"] == 4


def test_a_stale_version_is_a_conflict(app: CalTrack, db_url: str, tmp_path: Path) -> None:
    from app.errors import ConflictError

    flagged_lab(app, tmp_path)
    version = app.instruments.get("FUT-3").version
    app.instruments.edit("FUT-3", InstrumentChanges(location="Lab 2"), reason="moved")
    with pytest.raises(ConflictError):
        app.instruments.clear_review("FUT-3", "fine", expected_version=version)  # alice: admin
    assert app.instruments.get("FUT-3").review_reason == FLAGGED["FUT-3"]


def test_a_technician_flags_by_hand(app: CalTrack, db_url: str, clock: FixedClock) -> None:
    add_thermometer(app, "TH-001")
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        with pytest.raises(ValidationError, match="required"):
            bob.instruments.flag_for_review("TH-001", " ")
        detail = bob.instruments.flag_for_review("TH-001", "display drifts after warm-up")
        assert detail.review_reason == "display drifts after warm-up"
        detail = bob.instruments.flag_for_review("TH-001", "seal broken")
        assert detail.review_reason == "display drifts after warm-up; seal broken"
        event = bob.audit.for_entity("instrument", detail.id)[-1]
        assert (event.action, event.reason) == ("flag for review", "seal broken")
        assert event.changes == {
            "review_reason": ["display drifts after warm-up", detail.review_reason]
        }


def test_the_wizard_counts_the_flagged_rows(app: CalTrack, tmp_path: Path) -> None:
    from app.ui.dialogs.import_preview_page import counts_text
    from app.ui.dialogs.import_wizard import detail_lines

    preview = app.transfer.preview(write_csv(tmp_path / "r.csv", HEADER, REGISTER), INSTRUMENTS)
    assert (
        counts_text(preview) == "6 to add · 0 to update · 0 with errors · 5 flagged for QA review"
    )
    # The last page says so too, and where to find them.
    done = app.transfer.commit(preview)
    assert "5 rows kept as recorded and flagged for QA review: the “Data to review” filter" in (
        detail_lines(done)
    )
