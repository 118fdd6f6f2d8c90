"""Value mapping: a lab's own words for status, result and provider kind."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import openpyxl
import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import ValidationError
from app.identity import Identity
from app.services.transfer import refusal
from app.services.transfer_mapping import build_mapping
from app.services.transfer_model import ColumnValues, ImportOptions, ImportPreview
from app.services.transfer_values import guess_value
from app.settings.import_mappings import (
    remember_mapping,
    remembered_in,
    remembered_mapping,
    remembered_values,
)
from app.settings.user_settings import UserSettings, load_settings, save_settings
from tests.conftest import add_thermometer
from tests.integration.helpers import fingerprint

DATA = Path(__file__).parents[1] / "data" / "import"
LAB = DATA / "register-lab-status.csv"
INSTRUMENTS = ImportOptions(kind="instruments")
OVERRIDES = {"Status": {"extended": "in_service", "PR#33199": "out_of_service"}}


@pytest.mark.parametrize(
    ("text", "target", "source", "source_word"),
    [
        ("in_service", "in_service", "exact", ""),
        ("In service", "in_service", "exact", ""),
        ("OUT-OF-SERVICE", "out_of_service", "exact", ""),
        ("ACTIVE", "in_service", "guessed", "ACTIVE"),
        ("in use", "in_service", "guessed", "in use"),
        ("OK", "in_service", "guessed", "OK"),
        ("IN-ACTIVE", "retired", "guessed", "IN-ACTIVE"),
        ("Inactive", "retired", "guessed", "Inactive"),
        ("scrapped", "retired", "guessed", "scrapped"),
        ("Disposed", "retired", "guessed", "Disposed"),
        ("OBSOLETE", "retired", "guessed", "OBSOLETE"),
        ("DEFECTIVE", "out_of_service", "guessed", "DEFECTIVE"),
        ("For repair", "out_of_service", "guessed", "For repair"),
        ("broken", "out_of_service", "guessed", "broken"),
        ("SERVICE", "out_of_service", "guessed", "SERVICE"),
        ("faulty", "out_of_service", "guessed", "faulty"),
        ("MISSING", "lost", "guessed", "MISSING"),
        # A known phrase standing in the value as whole words, the longest deciding.
        ("Sent for repair 2019", "out_of_service", "guessed", "for repair"),
        ("in service (bench 3)", "in_service", "guessed", "in service"),
        ("scrap - see memo", "retired", "guessed", "scrap"),
    ],
)
def test_status_words_are_guessed(text: str, target: str, source: str, source_word: str) -> None:
    guess = guess_value("instruments", "status", text)
    assert (guess.target, guess.source, guess.guessed_from) == (target, source, source_word)


@pytest.mark.parametrize(
    "text",
    [
        "EXTENDED",
        "PR#33199",
        "not in use",  # a negation is never guessed as its opposite
        "no longer active",
        "active / scrap",  # words for two targets: the user decides
        "Spare",
        "valid until 2019",  # a common word counts only as the whole value
        "use with care",
        "",
        "   ",
    ],
)
def test_what_cannot_be_guessed_is_not(text: str) -> None:
    guess = guess_value("instruments", "status", text)
    assert (guess.target, guess.source) == (None, "")


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("PASS", "pass"),
        ("Passed", "pass"),
        ("ok", "pass"),
        ("In tol", "pass"),
        ("within tolerance", "pass"),
        ("FAIL", "fail"),
        ("failed", "fail"),
        ("OOT", "fail"),
        ("Out of tolerance", "fail"),
        ("not ok", "fail"),
        ("Adjusted", "adjusted"),
        ("ADJ", "adjusted"),
        ("pass after adjustment", "adjusted"),
        ("P", "pass"),
        ("F", "fail"),
    ],
)
def test_result_words_are_guessed(text: str, target: str) -> None:
    assert guess_value("calibrations", "result", text).target == target


def test_single_letters_count_only_as_the_whole_value() -> None:
    assert guess_value("calibrations", "result", "F 12").target is None
    assert guess_value("calibrations", "result", "see p 4").target is None


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("In-house", "in_house"),
        ("internal", "in_house"),
        ("Vendor", "external"),
        ("EXTERN", "external"),
    ],
)
def test_provider_kinds_are_guessed(text: str, target: str) -> None:
    assert guess_value("calibrations", "provider_kind", text).target == target


def table_of(preview: ImportPreview, field: str) -> ColumnValues:
    [table] = [c for c in preview.values if c.field == field]
    return table


def test_a_lab_vocabulary_is_one_error_per_unmapped_value(app: CalTrack, db_url: str) -> None:
    before = fingerprint(db_url)
    preview = app.transfer.preview(LAB, INSTRUMENTS)
    status = table_of(preview, "status")
    assert status.column == "Status"
    assert status.allowed == ("in_service", "out_of_service", "retired", "lost")
    assert [(v.value, v.count, v.target, v.source, v.guessed_from) for v in status.values] == [
        ("ACTIVE", 3, "in_service", "guessed", "ACTIVE"),
        ("IN-ACTIVE", 2, "retired", "guessed", "IN-ACTIVE"),
        ("SERVICE", 1, "out_of_service", "guessed", "SERVICE"),
        ("DEFECTIVE", 1, "out_of_service", "guessed", "DEFECTIVE"),
        ("FOR REPAIR", 1, "out_of_service", "guessed", "FOR REPAIR"),
        ("SCRAP", 1, "retired", "guessed", "SCRAP"),
        ("MISSING", 1, "lost", "guessed", "MISSING"),
        ("EXTENDED", 3, None, "", ""),
        ("PR#33199", 1, None, "", ""),
        ("In service", 1, "in_service", "exact", ""),
    ]
    # ONE error per value that nothing maps, with its count — not one per row.
    assert [str(i) for i in preview.issues] == [
        "column 'Status': 'EXTENDED' (3 rows: lines 12, 13, 14) is not a status CalTrack "
        "knows; map it to one of in_service, out_of_service, retired, lost, or leave those "
        "lines out",
        "column 'Status': 'PR#33199' (1 row: line 15) is not a status CalTrack knows; map it "
        "to one of in_service, out_of_service, retired, lost, or leave those lines out",
    ]
    assert not preview.ok
    # The rows holding them are the ones to leave out, if the user prefers that.
    assert preview.error_lines == (12, 13, 14, 15)
    assert refusal(preview) == (
        "register-lab-status.csv: 2 value(s) have no mapping (column 'Status': 'EXTENDED' "
        "(3 rows); column 'Status': 'PR#33199' (1 row)); nothing was written — map each "
        "value, or leave its lines out"
    )
    with pytest.raises(ValidationError):
        app.transfer.commit(preview)
    assert fingerprint(db_url) == before
    # Leaving those lines out instead is enough as well.
    left_out = replace(INSTRUMENTS, exclude_lines=frozenset({12, 13, 14, 15}))
    kept = app.transfer.preview(LAB, left_out)
    assert kept.ok, kept.issues
    assert [v.value for v in table_of(kept, "status").values if v.target is None] == []


def test_two_overrides_import_the_whole_file_and_export_gives_them_back(
    app: CalTrack, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    options = replace(INSTRUMENTS, values=OVERRIDES)
    preview = app.transfer.preview(LAB, options)
    assert preview.ok, preview.issues
    status = table_of(preview, "status")
    assert [(v.value, v.target, v.source) for v in status.values if v.source == "given"] == [
        ("EXTENDED", "in_service", "given"),
        ("PR#33199", "out_of_service", "given"),
    ]
    result = app.transfer.commit(preview)
    assert result.committed and result.counts()["add"] == 15
    tags = [f"G-{n:04}" for n in range(1, 16)]
    stored = {tag: app.instruments.get(tag).lifecycle for tag in tags}
    assert stored == {
        "G-0001": "in_service",
        "G-0002": "in_service",
        "G-0003": "in_service",
        "G-0004": "retired",
        "G-0005": "retired",
        "G-0006": "out_of_service",
        "G-0007": "out_of_service",
        "G-0008": "out_of_service",
        "G-0009": "retired",
        "G-0010": "lost",
        "G-0011": "in_service",
        "G-0012": "in_service",
        "G-0013": "in_service",
        "G-0014": "out_of_service",
        "G-0015": "in_service",
    }
    # What the value mapping is remembered as: every value that needed one.
    assert result.remembered_values() == {
        "Status": {
            "ACTIVE": "in_service",
            "IN-ACTIVE": "retired",
            "SERVICE": "out_of_service",
            "DEFECTIVE": "out_of_service",
            "FOR REPAIR": "out_of_service",
            "SCRAP": "retired",
            "MISSING": "lost",
            "EXTENDED": "in_service",
            "PR#33199": "out_of_service",
        }
    }
    # The export writes the canonical values, and reads back as exactly them.
    exported = app.transfer.export("csv", tmp_path / "back")
    with open(exported.files[0], encoding="utf-8-sig", newline="") as f:
        written = {r["Asset tag"]: r["Status"] for r in csv.DictReader(f)}
    assert written == stored
    with open_caltrack(
        str(tmp_path / "other.db"),
        create=True,
        identity=alice,
        clock=clock,
        state_dir=tmp_path / "state2",
    ) as other:
        again = other.transfer.import_file(Path(exported.files[0]), INSTRUMENTS)
        assert again.committed, again.issues
        assert {v.source for v in table_of(again, "status").values} == {"exact"}
        assert {t: other.instruments.get(t).lifecycle for t in stored} == stored


def test_an_xlsx_register_is_mapped_the_same_way(app: CalTrack, tmp_path: Path) -> None:
    path = tmp_path / "register.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["Equipment ID", "Equipment name", "State"])
    states = ("Active", "Scrapped", "Loan pool", "Missing")
    for n, word in enumerate(states, start=1):
        ws.append([f"X-{n}", "Gauge", word])
    wb.save(path)
    preview = app.transfer.preview(path, INSTRUMENTS)
    column = table_of(preview, "status")
    assert [(v.value, v.target, v.source) for v in column.values] == [
        ("Active", "in_service", "guessed"),
        ("Scrapped", "retired", "guessed"),
        ("Loan pool", None, ""),
        ("Missing", "lost", "guessed"),
    ]
    assert [i.message.split(" is not")[0] for i in preview.issues] == [
        "'Loan pool' (1 row: line 4)"
    ]
    done = app.transfer.import_file(
        path, replace(INSTRUMENTS, values={"State": {"loan pool": "in_service"}})
    )
    assert done.committed, done.issues
    assert [app.instruments.get(t).lifecycle for t in ("X-1", "X-2", "X-3", "X-4")] == [
        "in_service",
        "retired",
        "in_service",
        "lost",
    ]


def test_calibration_results_are_mapped(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    path = tmp_path / "history.csv"
    path.write_text(
        "Tag,Cal date,Outcome,Performed by,Provider type\n"
        "TH-001,2024-01-10,Passed,ann,Internal\n"
        "TH-001,2024-06-10,IN TOL,ann,internal\n"
        "TH-002,2024-02-11,ADJ,bob,Vendor\n"
        "TH-002,2024-08-11,CONDITIONAL,bob,Vendor\n"
        "TH-002,2024-09-11,Conditional,bob,vendor\n",
        encoding="utf-8",
    )
    options = ImportOptions(kind="calibrations", keep_status=True)
    preview = app.transfer.preview(path, options)
    result = table_of(preview, "result")
    assert [(v.value, v.count, v.target, v.source) for v in result.values] == [
        ("Passed", 1, "pass", "guessed"),
        ("IN TOL", 1, "pass", "guessed"),
        ("ADJ", 1, "adjusted", "guessed"),
        ("CONDITIONAL", 2, None, ""),
    ]
    kinds = table_of(preview, "provider_kind")
    assert [(v.value, v.count, v.target) for v in kinds.values] == [
        ("Internal", 2, "in_house"),
        ("Vendor", 3, "external"),
    ]
    assert [str(i) for i in preview.issues] == [
        "column 'Outcome': 'CONDITIONAL' (2 rows: lines 5, 6) is not a result CalTrack knows; "
        "map it to one of pass, fail, adjusted, or leave those lines out"
    ]
    done = app.transfer.import_file(
        path, replace(options, values={"Outcome": {"Conditional": "pass"}})
    )
    assert done.committed, done.issues
    history = app.calibrations.history("TH-002")
    assert sorted((str(r.performed_on), r.result, r.provider_kind) for r in history) == [
        ("2024-02-11", "adjusted", "external"),
        ("2024-08-11", "pass", "external"),
        ("2024-09-11", "pass", "external"),
    ]


def test_bad_value_mappings_are_problems(app: CalTrack) -> None:
    for values, problem in (
        (
            {"Status": {"EXTENDED": "active"}},
            "value mapping Status:EXTENDED=active: 'active' is not a status; one of "
            "in_service, out_of_service, retired, lost",
        ),
        (
            {"Lifecycle": {"EXTENDED": "retired"}},
            "value mapping of 'Lifecycle': the file has no such column ('Asset No', "
            "'Description', 'Frequency (days)', 'Last Cal', 'Status')",
        ),
        (
            {"Description": {"Caliper": "retired"}},
            "value mapping of 'Description': the column is read as description, which takes "
            "no fixed set of values; map values only of calibration_requirement, status and "
            "the interval's 0 and blank values",
        ),
    ):
        preview = app.transfer.preview(LAB, replace(INSTRUMENTS, values=values))
        assert [str(p) for p in preview.problems] == [problem]
        assert refusal(preview) == f"register-lab-status.csv: {problem}; nothing was written"


def test_a_value_mapping_is_remembered_with_the_column_mapping(
    app: CalTrack, tmp_path: Path
) -> None:
    settings = tmp_path / "settings.json"
    remember_mapping(
        "key1",
        "instruments",
        ["Status"],
        {"Status": "status"},
        settings,
        values={"Status": {"EXTENDED": "in_service"}},
    )
    assert remembered_mapping("key1", settings) == {"Status": "status"}
    assert remembered_values("key1", settings) == {"Status": {"EXTENDED": "in_service"}}
    remembered = replace(
        INSTRUMENTS,
        remembered_values={"Status": {"EXTENDED": "in_service", "pr#33199": "lost"}},
    )
    preview = app.transfer.preview(LAB, remembered)
    assert preview.ok, preview.issues
    assert [
        (v.value, v.target, v.source)
        for v in table_of(preview, "status").values
        if v.source == "remembered"
    ] == [("EXTENDED", "in_service", "remembered"), ("PR#33199", "lost", "remembered")]
    # Given beats remembered; a remembered target no longer allowed is ignored.
    given = replace(remembered, values={"Status": {"extended": "retired"}})
    assert table_of(app.transfer.preview(LAB, given), "status").target_of("Extended") == "retired"


def test_mappings_remembered_before_values_existed_are_read(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    old_entry = {
        "kind": "instruments",
        "headers": ["Kennung"],
        "mapping": {"Kennung": "asset_tag"},
        "saved_at": "2026-01-01T00:00:00+00:00",
    }
    save_settings(UserSettings(extra={"import_mappings": {"old": old_entry}}), settings)
    assert remembered_mapping("old", settings) == {"Kennung": "asset_tag"}
    assert remembered_values("old", settings) == {}
    assert remembered_in(load_settings(settings)) == {"old": {"Kennung": "asset_tag"}}
    # Damaged value memory is ignored, not fatal.
    broken = dict(old_entry, values={"Status": "not a dict", "Other": {"x": 5}})
    save_settings(UserSettings(extra={"import_mappings": {"old": broken}}), settings)
    assert remembered_values("old", settings) == {}


def test_confirming_the_columns_alone_keeps_the_remembered_values(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    values = {"Status": {"EXTENDED": "in_service"}}
    remember_mapping("k", "instruments", ["Status"], {"Status": "status"}, settings, values=values)
    remember_mapping("k", "instruments", ["Status"], {"Status": "status"}, settings)
    assert remembered_values("k", settings) == values
    remember_mapping("k", "instruments", ["Status"], {"Status": "status"}, settings, values={})
    assert remembered_values("k", settings) == {}


def test_tolerance_and_calibrated_by_columns_are_offered(app: CalTrack, tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_text(
        "Asset No,Description,Tolerance,Calibrated by,Notes,Room,Bin\n"
        "W-1,Weight 1 kg,±0.010 KG,Acme Metrology,Class F1,Lab 2,A\n"
        "W-2,Weight 2 kg,3%FSD,In-house,,Lab 2,B\n"
        "W-3,Weight 5 kg,.05%+0.5PF,,,Lab 2,A\n"
        "W-4,Weight 10 kg,,,,Lab 3,C\n"
        "W-5,Weight 20 kg,,,,Lab 3,D\n",
        encoding="utf-8",
    )
    preview = app.transfer.preview(path, INSTRUMENTS)
    columns = {c.header: c for c in preview.mapping.columns}
    assert (columns["Tolerance"].field, columns["Tolerance"].source) == (
        "accuracy_text",
        "guessed",
    )
    assert columns["Calibrated by"].field == "last_calibrated_by"
    assert columns["Calibrated by"].describes == (
        "added to the notes as “Last calibrated by: …” (CalTrack keeps no provider for a "
        "calibration it has no record of)"
    )
    # A left-out column says what it holds, so the user can choose.
    assert columns["Bin"].field is None
    assert columns["Bin"].samples == ("A", "B", "C", "…")
    assert columns["Room"].field == "location"
    assert columns["Room"].samples == ()
    assert preview.ok, preview.issues
    app.transfer.commit(preview)
    first = app.instruments.get("W-1")
    assert (first.accuracy_text, first.notes) == (
        "±0.010 KG",
        "Class F1\nLast calibrated by: Acme Metrology",
    )
    assert app.instruments.get("W-2").notes == "Last calibrated by: In-house"
    assert app.instruments.get("W-4").notes == ""
    for tol in ("Tol", "Accuracy", "Tolerance"):
        assert guess_column(tol) == "accuracy_text"


def guess_column(header: str) -> str | None:
    mapping, _ = build_mapping("instruments", ["Tag", header], given={}, remembered=None)
    return mapping.columns[1].field


def test_a_value_mapping_of_a_left_out_column_is_a_problem(app: CalTrack) -> None:
    options = replace(
        INSTRUMENTS, mapping={"Status": ""}, values={"Status": {"EXTENDED": "retired"}}
    )
    assert [str(p) for p in app.transfer.preview(LAB, options).problems] == [
        "value mapping of 'Status': the column is left out, so none of its values is read; "
        "map it to a field first (value mappings are for calibration_requirement, status and "
        "the interval's 0 and blank values)"
    ]
