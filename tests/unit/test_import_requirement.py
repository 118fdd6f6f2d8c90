"""Importing instruments that are not calibrated periodically: a requirement column, and
intervals of 0 mapped to "not required" or "verify before use" (never guessed)."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import ValidationError
from app.identity import Identity
from app.services.dto import InstrumentInput
from app.services.transfer_model import ColumnValues, ImportOptions, ImportPreview
from app.services.transfer_values import guess_value
from tests.integration.helpers import fingerprint

INSTRUMENTS = ImportOptions(kind="instruments")


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def table_of(preview: ImportPreview, field: str) -> ColumnValues:
    [table] = [c for c in preview.values if c.field == field]
    return table


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("periodic", "periodic"),
        ("Yes", "periodic"),
        ("scheduled", "periodic"),
        ("VBU", "verify_before_use"),
        ("Verify before use", "verify_before_use"),
        ("functional check", "verify_before_use"),
        ("CNR", "not_required"),
        ("n/a", "not_required"),
        ("Calibration not required", "not_required"),
        ("reference only", "not_required"),
        ("kept for parts", "not_required"),
        ("not-required", "not_required"),
    ],
)
def test_requirement_words_are_guessed(text: str, target: str) -> None:
    assert guess_value("instruments", "calibration_requirement", text).target == target


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Calibration requirement", "calibration_requirement"),
        ("Cal required", "calibration_requirement"),
        ("CNR", "calibration_requirement"),
        ("Requirement", "calibration_requirement"),
        ("Requirement reason", "requirement_reason"),
    ],
)
def test_requirement_headers_are_guessed(
    app: CalTrack, tmp_path: Path, header: str, field: str
) -> None:
    path = write_csv(tmp_path / "r.csv", ["Asset tag", "Description", header], [["A-1", "d", ""]])
    mapping = app.transfer.preview(path, INSTRUMENTS).mapping
    assert [c.field for c in mapping.columns if c.header == header] == [field]


def test_a_cnr_column_s_yes_and_no_are_not_guessed(app: CalTrack, tmp_path: Path) -> None:
    # "CNR: Y" means not required, "Cal required: Y" periodic: the user says which.
    path = write_csv(tmp_path / "r.csv", ["Asset tag", "Description", "CNR"], [["A-1", "d", "Y"]])
    preview = app.transfer.preview(path, INSTRUMENTS)
    assert [v.target for v in table_of(preview, "calibration_requirement").values] == [None]
    assert not preview.ok


ZERO_REGISTER = (
    ["Asset tag", "Description", "Interval (days)", "Notes"],
    [
        ["G-1", "Caliper", "365", ""],
        ["G-2", "Scope probe", "0", "service only: output verified by oscilloscope"],
        ["G-3", "Old gauge", "0", ""],
        ["G-4", "Spare meter", "0.0", ""],
        ["G-5", "Timer", "", ""],
    ],
)


def test_zero_intervals_are_one_unmapped_value_each_and_refused(
    app: CalTrack, tmp_path: Path, db_url: str
) -> None:
    before = fingerprint(db_url)
    path = write_csv(tmp_path / "reg.csv", *ZERO_REGISTER)
    preview = app.transfer.preview(path, INSTRUMENTS)
    zero = table_of(preview, "calibration_interval_days")
    assert zero.column == "Interval (days)"
    assert zero.allowed == ("periodic", "not_required", "verify_before_use")
    assert [(v.value, v.count, v.target, v.source, v.lines) for v in zero.values] == [
        ("0", 2, None, "", (3, 4)),
        ("0.0", 1, None, "", (5,)),
        # A blank is in the table too, guessed as what it always meant: the default.
        ("(blank)", 1, "periodic", "guessed", (6,)),
    ]
    assert [str(i) for i in preview.issues] == [
        "column 'Interval (days)': an interval of '0' (2 rows: lines 3, 4) is no calibration "
        "interval: say what these instruments are, map it to one of periodic, not_required, "
        "verify_before_use (periodic: the default interval), or leave those lines out",
        "column 'Interval (days)': an interval of '0.0' (1 row: line 5) is no calibration "
        "interval: say what these instruments are, map it to one of periodic, not_required, "
        "verify_before_use (periodic: the default interval), or leave those lines out",
    ]
    assert preview.error_lines == (3, 4, 5)
    with pytest.raises(ValidationError):
        app.transfer.commit(preview)
    assert fingerprint(db_url) == before


def test_mapped_zero_intervals_import_as_not_periodic(app: CalTrack, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "reg.csv", *ZERO_REGISTER)
    options = replace(
        INSTRUMENTS,
        values={"Interval (days)": {"0": "not_required", "0.0": "verify_before_use"}},
    )
    preview = app.transfer.preview(path, options)
    assert preview.ok, preview.issues
    assert [r.notes for r in preview.rows if r.line == 3] == [
        ("not calibrated periodically: not required",)
    ]
    done = app.transfer.commit(preview)
    assert done.committed
    g2 = app.instruments.get("G-2")
    assert (g2.calibration_requirement, g2.requirement_reason) == (
        "not_required",
        "interval 0 in the imported register",
    )
    assert g2.calibration_interval_days == 365 and g2.next_due is None
    assert g2.due_status == "not-required"
    g4 = app.instruments.get("G-4")
    assert g4.calibration_requirement == "verify_before_use"
    assert g4.requirement_reason == "interval 0.0 in the imported register"
    assert app.instruments.get("G-1").calibration_requirement == "periodic"
    assert app.instruments.get("G-5").calibration_requirement == "periodic"  # blank: as ever
    assert done.remembered_values() == {
        "Interval (days)": {"0": "not_required", "0.0": "verify_before_use", "(blank)": "periodic"}
    }


def test_a_blank_interval_means_what_the_lab_says(app: CalTrack, tmp_path: Path) -> None:
    """A register whose blank frequency means "not calibrated" maps the blank; a 0 may
    also be mapped to periodic, which takes the default interval."""
    path = write_csv(tmp_path / "reg.csv", *ZERO_REGISTER)
    options = replace(
        INSTRUMENTS,
        values={"Interval (days)": {"0": "periodic", "0.0": "periodic", "(blank)": "not_required"}},
    )
    preview = app.transfer.preview(path, options)
    assert preview.ok, preview.issues
    assert app.transfer.commit(preview).committed
    g5 = app.instruments.get("G-5")
    assert (g5.calibration_requirement, g5.requirement_reason) == (
        "not_required",
        "no interval in the imported register",
    )
    g2 = app.instruments.get("G-2")
    assert (g2.calibration_requirement, g2.calibration_interval_days) == ("periodic", 365)
    assert app.instruments.get("G-1").calibration_interval_days == 365


def test_a_requirement_column_wins_over_the_interval(app: CalTrack, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "reg.csv",
        ["Asset tag", "Description", "Interval (days)", "Cal required", "Requirement reason"],
        [
            ["G-1", "Caliper", "365", "yes", ""],
            ["G-2", "Probe", "0", "VBU", "checked against the scope"],
            ["G-3", "Gauge", "0", "CNR", ""],
            ["G-4", "Block", "180", "CNR", "reference only"],
            ["G-5", "Meter", "0", "required", ""],
        ],
    )
    preview = app.transfer.preview(path, INSTRUMENTS)
    assert [c.field for c in preview.values] == ["calibration_requirement"]  # no 0 to ask
    # A periodic row with an interval of 0 stays the error it was.
    assert preview.error_lines == (6,)
    assert "calibration_interval_days" in {i.field for i in preview.issues}
    done = app.transfer.import_file(path, replace(INSTRUMENTS, exclude_lines=frozenset({6})))
    assert done.committed, done.issues
    got = {
        t: (d.calibration_requirement, d.requirement_reason, d.calibration_interval_days)
        for t in ("G-1", "G-2", "G-3", "G-4")
        for d in [app.instruments.get(t)]
    }
    assert got == {
        "G-1": ("periodic", "", 365),
        "G-2": ("verify_before_use", "checked against the scope", 365),
        "G-3": ("not_required", "'CNR' in the imported register", 365),
        "G-4": ("not_required", "reference only", 180),
    }


def test_export_writes_the_requirement_and_imports_it_back(
    app: CalTrack, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    app.instruments.add(InstrumentInput(asset_tag="P-1", description="Caliper"))
    app.instruments.add(
        InstrumentInput(
            asset_tag="N-1",
            description="Gauge",
            calibration_requirement="not_required",
            requirement_reason="kept for parts",
        )
    )
    app.instruments.add(
        InstrumentInput(
            asset_tag="V-1",
            description="Probe",
            calibration_requirement="verify_before_use",
            requirement_reason="checked on the scope",
        )
    )
    exported = app.transfer.export("csv", tmp_path / "back")
    with open(exported.files[0], encoding="utf-8-sig", newline="") as f:
        written = {
            r["Asset tag"]: (r["Calibration requirement"], r["Requirement reason"])
            for r in csv.DictReader(f)
        }
    assert written == {
        "P-1": ("periodic", ""),
        "N-1": ("not_required", "kept for parts"),
        "V-1": ("verify_before_use", "checked on the scope"),
    }
    with open_caltrack(
        str(tmp_path / "other.db"),
        create=True,
        identity=alice,
        clock=clock,
        state_dir=tmp_path / "state2",
    ) as other:
        again = other.transfer.import_file(Path(exported.files[0]), INSTRUMENTS)
        assert again.committed, again.issues
        assert {
            t: (
                other.instruments.get(t).calibration_requirement,
                other.instruments.get(t).requirement_reason,
            )
            for t in written
        } == written
