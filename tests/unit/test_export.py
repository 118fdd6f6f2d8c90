"""Export to CSV and XLSX, and the round trip: export, import elsewhere, export again."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import UsageError
from app.identity import Identity
from app.services.dto import (
    CalibrationInput,
    InstrumentInput,
    PointInput,
    StatedUncertainty,
    TypeFieldInput,
    TypeInput,
    TypePointInput,
)
from app.services.transfer_mapping import exported_columns
from app.services.transfer_model import ImportOptions
from app.storage.tables import ReadOptions, read_table

# What a round trip cannot carry: new ids, and who created the rows when (the audit
# trail of the new database says who imported them).
NOT_CARRIED = {
    "Record id",
    "Supersedes record id",
    "Created at (UTC)",
    "Created by",
    "Updated at (UTC)",
    "Updated by",
}

AWKWARD = [
    'Thermometer "lab", fridge; door',
    '=HYPERLINK("http://example.com")',
    "Pipette 100 µL",
    "Messschieber (Bügel) — 0…150 mm",
    "-40 to 250 °C probe",
    "@home",
    "+ spare",
]


@pytest.fixture
def bob_app(tmp_path: Path, clock: FixedClock) -> Iterator[CalTrack]:
    """A second, empty database opened by another user (the import target)."""
    folder = tmp_path / "other"
    folder.mkdir()
    with open_caltrack(
        str(folder / "lab2.db"),
        create=True,
        identity=Identity(user="bob", machine="LAB-PC-9"),
        clock=clock,
        state_dir=tmp_path / "bob-state",
    ) as opened:
        yield opened


def fill(app: CalTrack) -> dict[str, int]:
    """Instruments and history made through the services, with every awkward case."""
    for n in range(60):
        app.instruments.add(
            InstrumentInput(
                asset_tag=f"INS-{n:03d}",
                description=AWKWARD[n % len(AWKWARD)],
                manufacturer="Fluke" if n % 2 else "Mettler Toledo",
                serial_number=f"{n:06d}",
                location="Kühlraum 2" if n % 3 else "Lab 1.01",
                calibration_interval_days=365 if n % 4 else 180,
                range_text="-40 to 250 °C",
                accuracy_text="±20 µm",
                notes="" if n % 5 else f'Line one of {n}\nline "two"; three',
                status="retired" if n == 59 else "in_service",
            )
        )
    for tag in ("REF-A", "REF-B"):
        app.instruments.add(
            InstrumentInput(
                asset_tag=tag, description="Reference PRT", calibration_interval_days=365
            )
        )
    ids: dict[str, int] = {}
    app.calibrations.add(
        "REF-A",
        CalibrationInput(
            performed_on="2025-01-10",
            result="pass",
            provider_kind="external",
            provider_name="Trescal",
            certificate_number="T-1",
        ),
    )
    app.calibrations.add(
        "REF-B",
        CalibrationInput(
            performed_on="2026-01-05",
            result="pass",
            provider_kind="external",
            provider_name="NPL, London",
            certificate_number="N-7",
            uncertainty="±0.02 °C (k=2)",
        ),
    )
    for n in range(0, 40, 2):
        view = app.calibrations.add(
            f"INS-{n:03d}",
            CalibrationInput(
                performed_on=date(2026, 2, 1 + n % 27),
                result="pass",
                performed_by="A. Novák",
                certificate_number=f"C-{n}",
                temperature_c=20.5 + n / 10,
                humidity_pct=45.0,
                points=(
                    PointInput(-40.0, -39.98, -39.98, 0.5, "°C"),
                    PointInput(0.1, 0.1000001, None, 0.0005, "µm"),
                    PointInput(250.0, None, 250.01, 0.5, ""),
                ),
                standards=("REF-B",),
                notes="" if n % 3 else 'Checked "as found"; ok,\nsee sheet',
            ),
        )
        ids[f"INS-{n:03d}"] = view.id
    # A standard overdue on the day: recorded with the justification the rule asks for.
    app.calibrations.add(
        "INS-041",
        CalibrationInput(
            performed_on="2026-03-01",
            result="pass",
            standards=("REF-A",),
            standards_justification="Only reference on site; cross-checked against REF-B",
        ),
    )
    app.calibrations.add(
        "INS-043",
        CalibrationInput(
            performed_on="2026-04-01",
            result="fail",
            points=(PointInput(20.0, 21.5, 21.5, 0.5, "°C"),),
            standards=("REF-B",),
            notes="Sensor drift",
        ),
    )
    app.calibrations.add(
        "INS-045",
        CalibrationInput(
            performed_on="2026-04-02",
            result="adjusted",
            points=(PointInput(20.0, 20.9, 20.1, 0.5, "N·m"),),
            standards=("REF-B",),
        ),
    )
    app.calibrations.add(
        "INS-047",
        CalibrationInput(
            performed_on="2026-04-03",
            result="pass",
            next_due="2026-10-03",
            next_due_reason="heavy use: six months",
        ),
    )
    wrong = app.calibrations.add(
        "INS-049", CalibrationInput(performed_on="2026-04-04", result="pass")
    )
    app.calibrations.void(wrong.id, "Entered for the wrong instrument; see INS-048")
    return ids


def load_csv(path: Path) -> list[dict[str, str]]:
    """The rows as an import reads them (the formula escape taken off again)."""
    table = read_table(path, ReadOptions())
    assert table.encoding == "utf-8-sig" and table.delimiter == ","
    header = [str(c) for c in table.rows[0].cells]
    return [dict(zip(header, (str(c) for c in r.cells), strict=True)) for r in table.rows[1:]]


def comparable(rows: list[dict[str, str]]) -> list[tuple[tuple[str, str], ...]]:
    return sorted(tuple((k, v) for k, v in row.items() if k not in NOT_CARRIED) for row in rows)


def load_xlsx(path: Path, sheet: str) -> list[dict[str, object]]:
    table = read_table(path, ReadOptions(sheet=sheet))
    header = [str(c) for c in table.rows[0].cells]
    return [dict(zip(header, r.cells, strict=False)) for r in table.rows[1:]]


def test_csv_export_has_the_import_columns_and_everything_in_them(
    app: CalTrack, tmp_path: Path
) -> None:
    fill(app)
    result = app.transfer.export("csv", tmp_path / "lab.csv")
    assert result.files == (
        str(tmp_path / "lab-instruments.csv"),
        str(tmp_path / "lab-calibrations.csv"),
        str(tmp_path / "lab-custody.csv"),
        str(tmp_path / "lab-maintenance.csv"),
    )
    assert (result.instruments, result.calibrations) == (62, 27)
    raw = (tmp_path / "lab-instruments.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfAsset tag,Description,")
    # Excel would run these as formulas: the CSV keeps them as text.
    assert b"'=HYPERLINK(" in raw and b",'-40 to 250 \xc2\xb0C," in raw
    with (tmp_path / "lab-instruments.csv").open(encoding="utf-8-sig", newline="") as handle:
        excel_view = list(csv.DictReader(handle))
    assert excel_view[1]["Description"] == '\'=HYPERLINK("http://example.com")'
    assert excel_view[0]["Serial number"] == "000000"
    instruments = load_csv(tmp_path / "lab-instruments.csv")
    assert list(instruments[0]) == [c.label for c in exported_columns("instruments")]
    first = instruments[0]
    assert (first["Asset tag"], first["Notes"], first["Range"], first["Accuracy"]) == (
        "INS-000",
        'Line one of 0\nline "two"; three',
        "-40 to 250 °C",
        "±20 µm",
    )
    assert first["Last calibrated"] == "2026-02-01" and first["Next due"] == "2026-07-31"
    records = load_csv(tmp_path / "lab-calibrations.csv")
    assert list(records[0]) == [c.label for c in exported_columns("calibrations")]
    by_tag = {r["Asset tag"]: r for r in records}
    ins0 = by_tag["INS-000"]
    assert ins0["Readings"] == (
        "-40.0:-39.98:-39.98:0.5:°C; 0.1:0.1000001::0.0005:µm; 250.0::250.01:0.5"
    )
    assert (ins0["Standards"], ins0["Performed by"], ins0["Temperature (°C)"]) == (
        "REF-B",
        "A. Novák",
        "20.5",
    )
    assert by_tag["INS-041"]["Standards justification"] == (
        "Only reference on site; cross-checked against REF-B"
    )
    assert by_tag["REF-B"]["Provider name"] == "NPL, London"
    assert by_tag["REF-B"]["Provider kind"] == "external"
    assert by_tag["INS-045"]["Adjustment made"] == "yes"
    voided = by_tag["INS-049"]
    assert voided["Void reason"] == "Entered for the wrong instrument; see INS-048"
    assert voided["Voided by"] == "alice"
    assert voided["Voided at (UTC)"] == "2026-11-23 09:30:00"
    assert not list(tmp_path.glob("*.tmp"))


def test_xlsx_export_is_one_workbook_with_typed_cells(app: CalTrack, tmp_path: Path) -> None:
    fill(app)
    result = app.transfer.export("xlsx", tmp_path)
    assert result.files == (str(tmp_path / "caltrack-export.xlsx"),)
    book = tmp_path / "caltrack-export.xlsx"
    assert read_table(book, ReadOptions()).sheets == (
        "Instruments",
        "Calibrations",
        "Custody",
        "Maintenance",
    )
    instruments = load_xlsx(book, "Instruments")
    assert len(instruments) == 62
    assert instruments[1]["Description"] == '=HYPERLINK("http://example.com")'
    assert instruments[0]["Last calibrated"] == date(2026, 2, 1)
    assert instruments[0]["Interval (days)"] == 180
    records = load_xlsx(book, "Calibrations")
    ins0 = next(r for r in records if r["Asset tag"] == "INS-000")
    assert ins0["Temperature (°C)"] == 20.5
    assert ins0["Performed on"] == date(2026, 2, 1)


def test_export_refuses_a_missing_folder_and_an_unknown_format(
    app: CalTrack, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="does not exist; create it first"):
        app.transfer.export("csv", tmp_path / "nowhere" / "lab")
    with pytest.raises(UsageError, match="export format 'pdf'"):
        app.transfer.export("pdf", tmp_path / "lab")


def round_trip(source: CalTrack, target: CalTrack, fmt: str, tmp_path: Path) -> None:
    """Export ``source``, import it into ``target``, export that, and compare."""
    first = source.transfer.export(fmt, tmp_path / "first")
    if fmt == "csv":
        # Custody, the maintenance log and the rest of issue 15's files are export only
        # (see the README's Custody): only the register and the history go round.
        instruments_file, records_file = (Path(f) for f in first.files[:2])
        sheets: dict[str, str | None] = {"instruments": None, "calibrations": None}
    else:
        instruments_file = records_file = Path(first.files[0])
        sheets = {"instruments": "Instruments", "calibrations": "Calibrations"}
    for kind, path in (("instruments", instruments_file), ("calibrations", records_file)):
        # The history comes with a register that already says each instrument's status.
        options = ImportOptions(kind=kind, sheet=sheets[kind], keep_status=True)
        result = target.transfer.import_file(path, options)
        assert result.committed, [str(i) for i in result.issues[:5]]
        assert result.mapping.unmapped == ()
    second = target.transfer.export(fmt, tmp_path / "second")
    assert (second.instruments, second.calibrations) == (first.instruments, first.calibrations)
    if fmt == "csv":
        for a, b in zip(first.files[:2], second.files[:2], strict=True):
            assert comparable(load_csv(Path(a))) == comparable(load_csv(Path(b)))
    else:
        for sheet in ("Instruments", "Calibrations"):
            a_rows = load_xlsx(Path(first.files[0]), sheet)
            b_rows = load_xlsx(Path(second.files[0]), sheet)

            def key(rows: list[dict[str, object]]) -> list[str]:
                return sorted(
                    repr(sorted((k, v) for k, v in r.items() if k not in NOT_CARRIED)) for r in rows
                )

            assert key(a_rows) == key(b_rows)
    assert target.maintenance.verify().clean


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_round_trip_loses_nothing(
    app: CalTrack, bob_app: CalTrack, tmp_path: Path, fmt: str
) -> None:
    fill(app)
    round_trip(app, bob_app, fmt, tmp_path)
    # Spot checks beyond the files: what the rules derived came out the same.
    assert bob_app.instruments.get("INS-043").lifecycle == "out_of_service"
    assert bob_app.instruments.get("INS-047").next_due == date(2026, 10, 3)
    [voided] = bob_app.calibrations.history("INS-049")
    assert (voided.voided, voided.void_reason) == (
        True,
        "Entered for the wrong instrument; see INS-048",
    )
    assert bob_app.instruments.get("INS-049").last_calibrated is None


@pytest.mark.slow  # generates, exports and imports 60 demo instruments
def test_a_round_trip_of_a_demo_database_loses_nothing(
    app: CalTrack, bob_app: CalTrack, tmp_path: Path
) -> None:
    app.demo.generate(60, seed=3)
    # The demo's repair that needs a calibration before use set its instrument due on the
    # repair's day; the maintenance log is export only, so no import could bring that
    # due date back (an import derives it from the history). Voided, the rest goes round.
    forced = [
        event
        for row in app.instruments.list(limit=None).rows
        for event in app.upkeep.history(row.asset_tag)
        if event.awaiting_calibration
    ]
    assert len(forced) == 1
    app.upkeep.void(forced[0].id, "not part of the import round trip")
    fill(app)
    round_trip(app, bob_app, "csv", tmp_path)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_round_trip_keeps_u_k_the_tolerance_as_written_and_the_rule(
    app: CalTrack, bob_app: CalTrack, tmp_path: Path, fmt: str
) -> None:
    # Issue 14. A DMM on its 20 V range (resolution 0.001 V): at 10 V ±(0.05 % + 2
    # digits) is ±0.007 V, limits 9.993 … 10.007; U = 0.002 V gives TUR 0.014 / 0.004
    # = 3.5, below 4:1, so the record carries a justification. At 5 V -0.002/+0.004
    # with U = 0.0005 (k = 2.1): TUR 0.006 / 0.001 = 6.
    app.instruments.add(
        InstrumentInput(
            asset_tag="DMM-1",
            description="6½-digit DMM",
            range_text="0 to 20 V",
            resolution_text="0.001 V",
        )
    )
    app.calibrations.add(
        "DMM-1",
        CalibrationInput(
            performed_on="2026-03-02",
            result="pass",
            certificate_number="D-1",
            decision_rule="guard r=1 conditional",
            tur_justification="best 10 V standard on site",
            points=(
                PointInput.written(10.0, 10.004, 10.004, "±(0.05 % + 2 digits)", "V", 0.002, 2),
                PointInput.written(5.0, 5.001, 5.001, "-0.002/+0.004", "V", 0.0005, 2.1),
                PointInput(1.0, 1.0001, 1.0001, 0.001, ""),
            ),
        ),
    )
    exported = app.transfer.export("csv", tmp_path / "look")
    [row] = load_csv(Path(exported.files[1]))
    assert row["Readings"] == (
        "10.0:10.004:10.004:±(0.05 % + 2 digits):V:0.002:2.0; "
        "5.0:5.001:5.001:-0.002/+0.004:V:0.0005:2.1; 1.0:1.0001:1.0001:0.001"
    )
    assert (row["Decision rule"], row["TUR justification"]) == (
        "guard r=1 conditional",
        "best 10 V standard on site",
    )
    round_trip(app, bob_app, fmt, tmp_path)
    [copy] = bob_app.calibrations.history("DMM-1")
    [original] = app.calibrations.history("DMM-1")
    assert (copy.decision_rule, copy.tur_justification) == (
        "guard r=1 conditional",
        "best 10 V standard on site",
    )
    assert copy.points == original.points
    first, second, plain = copy.points
    assert (first.tolerance_text, first.lower_limit, first.upper_limit) == (
        "±(0.05 % + 2 digits)",
        9.993,
        10.007,
    )
    assert (first.uncertainty, first.coverage_factor, first.tur_text) == (0.002, 2.0, "3.5:1")
    assert (second.lower_limit, second.upper_limit, second.tur_text) == (4.998, 5.004, "6.0:1")
    assert (plain.tolerance_text, plain.uncertainty, plain.tur) == ("", None, None)


PROBE_TYPE = TypeInput(
    name="Digital thermometer, 0-150 °C",
    default_interval_days=180,
    points=(TypePointInput(20, "±0.5", "°C"),),
    fields=(
        TypeFieldInput("Probe serial", "text", True),
        TypeFieldInput("Probe kind", "choice", False, ("Pt100", "Type K")),
        TypeFieldInput("Probe length mm", "number"),
    ),
)


@pytest.mark.sqlite_only(
    "the two cells are text on either backend; the type and custom checks of an import "
    "run on both (the next test)"
)
def test_a_round_trip_keeps_the_type_and_custom_values(
    app: CalTrack, bob_app: CalTrack, tmp_path: Path
) -> None:
    # Issue 14. The types go across first (`types export` / `types import`), then the
    # register: its "Instrument type" and "Custom fields" cells put them back. A ";" in a
    # value is written doubled and read back as one. CSV only: the cells are plain text
    # either way, and the XLSX round trip of every column is test_a_round_trip_loses_nothing.
    app.types.add(PROBE_TYPE)
    app.instruments.add(
        InstrumentInput(asset_tag="TH-1", description="Thermometer"),
        type_name=PROBE_TYPE.name,
        custom={"Probe serial": "PS-778; rev 2", "Probe kind": "pt100", "Probe length mm": "150"},
        interval_from_type=True,
    )
    app.instruments.add(InstrumentInput(asset_tag="TH-2", description="Untyped"))
    app.calibrations.add(  # a register goes with its history
        "TH-1",
        CalibrationInput(
            performed_on="2026-03-02",
            result="pass",
            certificate_number="T-1",
            points=(PointInput.written(20.0, 20.1, 20.1, "±0.5", "°C"),),
        ),
    )
    exported = app.transfer.export("csv", tmp_path / "look")
    rows = {r["Asset tag"]: r for r in load_csv(Path(exported.files[0]))}
    assert (rows["TH-1"]["Instrument type"], rows["TH-1"]["Custom fields"]) == (
        PROBE_TYPE.name,
        "Probe kind=Pt100; Probe length mm=150; Probe serial=PS-778;; rev 2",
    )
    assert (rows["TH-2"]["Instrument type"], rows["TH-2"]["Custom fields"]) == ("", "")
    bob_app.types.import_document(app.types.export_document())
    round_trip(app, bob_app, "csv", tmp_path)
    copy = bob_app.instruments.get("TH-1")
    assert (copy.type_name, copy.calibration_interval_days) == (PROBE_TYPE.name, 180)
    assert copy.custom_fields == {
        "Probe kind": "Pt100",
        "Probe length mm": "150",
        "Probe serial": "PS-778; rev 2",
    }
    assert bob_app.instruments.get("TH-2").type_name == ""


def test_an_imported_type_is_checked_per_row_and_gives_its_interval(
    app: CalTrack, tmp_path: Path
) -> None:
    app.types.add(PROBE_TYPE)
    register = tmp_path / "register.csv"
    register.write_text(
        "Asset tag,Description,Instrument type,Custom fields\n"
        'TH-1,Thermometer,"DIGITAL THERMOMETER, 0-150 °C",Probe serial=PS-1\n'  # any case
        "TH-2,Thermometer,Hygrometer,\n"  # no such type
        'TH-3,Thermometer,"Digital thermometer, 0-150 °C",Probe kind=Pt100\n'  # no serial
        'TH-4,Thermometer,"Digital thermometer, 0-150 °C",Probe serial PS-4\n'  # no "="
        "TH-5,Thermometer,,Probe serial=PS-5\n",  # a value without a type
        encoding="utf-8",
    )
    preview = app.transfer.preview(register, ImportOptions(kind="instruments"))
    found = {i.line: f"{i.column}: {i.message}" for i in preview.issues}
    assert found[3].startswith(
        "Instrument type: no instrument type named 'Hygrometer' in this database (types: "
        "Digital thermometer, 0-150 °C)"
    )
    assert found[4].startswith("Custom fields: required by type Digital thermometer")
    assert found[5].startswith("Custom fields: 'Probe serial PS-4': write each value as NAME=")
    assert found[6].startswith("Custom fields: not a field of an instrument without a type")
    assert preview.error_lines == (3, 4, 5, 6), found
    kept = app.transfer.preview(
        register,
        ImportOptions(kind="instruments", exclude_lines=frozenset({3, 4, 5, 6})),
    )
    [added] = kept.rows[:1]
    assert added.notes == ("no interval given: type Digital thermometer, 0-150 °C's 180 days",)
    assert app.transfer.commit(kept).committed
    th1 = app.instruments.get("TH-1")
    assert (th1.type_name, th1.custom_fields, th1.calibration_interval_days) == (
        PROBE_TYPE.name,
        {"Probe serial": "PS-1"},
        180,
    )


@pytest.mark.sqlite_only(
    "one text cell read by the service's own parser (Python, the same on either backend); "
    "the three columns are written and verified on both backends by test_migrations' 0013 test"
)
def test_a_round_trip_keeps_a_standards_stated_u_and_a_bad_one_is_a_row_error(
    app: CalTrack, bob_app: CalTrack, tmp_path: Path
) -> None:
    # Issue 14: the U stated on a standard goes out in one "Stated U" cell as
    # `--stated-u` takes it (VALUE[:K[:UNIT]]), like "Custom fields", and comes back.
    # STD-7 is the PRT of test_standard_uncertainty (U = 0.02 °C, k = 2); STD-8 a gauge
    # block set whose maker states 0.05 µm as 5e-05 mm with no k; STD-9 a bare U.
    stated = {
        "STD-7": StatedUncertainty(0.02, 2.0, "°C"),
        "STD-8": StatedUncertainty(5e-05, None, "mm"),
        "STD-9": StatedUncertainty(0.1),
    }
    for tag, value in stated.items():
        app.instruments.add(InstrumentInput(asset_tag=tag, description="Reference"), stated=value)
    app.instruments.add(InstrumentInput(asset_tag="TH-1", description="Thermometer"))
    exported = app.transfer.export("csv", tmp_path / "look")
    cells = {r["Asset tag"]: r["Stated U"] for r in load_csv(Path(exported.files[0]))}
    assert cells == {"STD-7": "0.02:2:°C", "STD-8": "5e-05::mm", "STD-9": "0.1", "TH-1": ""}
    imported = bob_app.transfer.import_file(
        Path(exported.files[0]), ImportOptions(kind="instruments")
    )
    assert imported.committed, [str(i) for i in imported.issues[:3]]
    assert {t: bob_app.instruments.get(t).stated_uncertainty for t in cells} == {
        **stated,
        "TH-1": None,
    }
    again = bob_app.transfer.export("csv", tmp_path / "again")
    assert {r["Asset tag"]: r["Stated U"] for r in load_csv(Path(again.files[0]))} == cells

    # An update sets it from the cell; a blank cell leaves the stored one (as a blank
    # type cell does).
    update = tmp_path / "update.csv"
    update.write_text(
        'Asset tag,Description,Stated U\nTH-1,Thermometer,"0,5:2:°C"\nSTD-7,Reference,\n',
        encoding="utf-8",
    )
    result = app.transfer.import_file(
        update, ImportOptions(kind="instruments", update_existing=True)
    )
    assert result.committed
    assert [(r.asset_tag, r.action, r.summary) for r in result.rows] == [
        ("TH-1", "update", "changes stated U"),
        ("STD-7", "unchanged", "no change"),
    ]
    assert app.instruments.get("TH-1").stated_uncertainty == StatedUncertainty(0.5, 2.0, "°C")
    assert app.instruments.get("STD-7").stated_uncertainty == stated["STD-7"]

    # A bad value is that row's error, naming the column, in the service's words.
    register = tmp_path / "register.csv"
    register.write_text(
        "Asset tag,Description,Stated U\n"
        "STD-1,PRT,0.02 °C\n"  # a unit without the colons
        "STD-2,PRT,0.02:0:°C\n"  # k = 0
        "STD-3,PRT,-0.02\n",  # U below 0
        encoding="utf-8",
    )
    bad = app.transfer.import_file(register, ImportOptions(kind="instruments"))
    assert not bad.committed
    assert {i.line: f"{i.column}: {i.message}" for i in bad.issues} == {
        2: "Stated U: write it as VALUE[:K[:UNIT]] (numbers), not '0.02 °C'",
        3: "Stated U: k must be a finite number more than 0",
        4: "Stated U: U must be a finite number more than 0",
    }
    assert app.instruments.list(search="STD-1").total == 0, "nothing stored"
