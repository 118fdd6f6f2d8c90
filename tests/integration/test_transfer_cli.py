"""`caltrack import` and `caltrack export` end to end: separate processes, real files."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from app.services.checks import CheckInput, parse_reading
from app.services.dto import InstrumentInput
from app.services.provider_views import ProviderInput
from app.services.schedules import ScheduleInput
from app.services.transfer_model import ImportOptions
from tests.conftest import add_thermometer
from tests.integration.helpers import (
    assert_one_error_line,
    count,
    fingerprint,
    open_lab,
    query,
    run_cli,
)

DATA = Path(__file__).parents[1] / "data" / "import"


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    """A database with TH-001, TH-002 and a reference REF-1; the messy files beside it."""
    db = tmp_path / "lab.db"
    with open_lab(db, create=True) as app:
        add_thermometer(app, "TH-001")
        add_thermometer(app, "TH-002")
        app.instruments.add(InstrumentInput(asset_tag="REF-1", description="Reference PRT"))
    for name in ("register-duplicates.csv", "calibrations-history.csv", "not-a-table.csv"):
        shutil.copy(DATA / name, tmp_path / name)
    shutil.copy(DATA / "register-cp1252.csv", tmp_path / "register-cp1252.csv")
    return db


def test_errors_are_listed_by_line_and_nothing_is_written(lab: Path) -> None:
    before = fingerprint(lab)
    for extra in ((), ("--dry-run",)):
        result = run_cli(lab, "import", "instruments", "register-duplicates.csv", *extra)
        line = assert_one_error_line(result, 2)
        assert line == (
            "caltrack: register-duplicates.csv: 2 line(s) have errors (3, 4); nothing was "
            "written — fix them, or leave those lines out of the import"
        )
        out = result.stdout
        assert out.startswith(
            "instruments from register-duplicates.csv: CSV, UTF-8, comma delimited, "
            "header on line 1\n"
        )
        assert (
            "ERROR: line 3, column 'Asset tag': TH-001 is already in the database (Digital "
            "thermometer); leave the line out, or choose to update existing instruments"
        ) in out
        assert (
            "ERROR: line 4, column 'Asset tag': asset tag 'th-100' is already on line 2 of this "
            "file; keep one of them and leave the other line out"
        ) in out
        assert "rows: 4 (2 add, 0 update, 0 unchanged, 2 error, 0 excluded)" in out
    assert fingerprint(lab) == before


def test_dry_run_then_commit(lab: Path) -> None:
    before = fingerprint(lab)
    dry = ok(
        run_cli(
            lab,
            "import",
            "instruments",
            "register-duplicates.csv",
            "--exclude-line",
            "3,4",
            "--dry-run",
        )
    )
    assert dry.stdout.rstrip().endswith("dry run: nothing was written")
    assert "checked: against the database (the save was tried, then rolled back)" in dry.stdout
    assert fingerprint(lab) == before
    saved = ok(
        run_cli(lab, "import", "instruments", "register-duplicates.csv", "--exclude-line", "3-4")
    )
    assert "saved: 2 added, 0 updated, 0 unchanged" in saved.stdout
    assert count(lab, "instrument") == 5
    reasons = query(
        lab,
        "SELECT entity_label, reason FROM audit_event WHERE reason LIKE 'imported from%' "
        "ORDER BY id",
    )
    assert reasons == [
        ("TH-100", "imported from register-duplicates.csv line 2"),
        ("TH-102", "imported from register-duplicates.csv line 5"),
    ]


def test_update_existing_with_json(lab: Path) -> None:
    result = ok(
        run_cli(
            lab,
            "import",
            "instruments",
            "register-duplicates.csv",
            "--update-existing",
            "--exclude-line",
            "4",
            "--json",
        )
    )
    data = json.loads(result.stdout)
    assert data["committed"] is True
    assert data["counts"]["add"] == 2 and data["counts"]["update"] == 1
    assert [(r["line"], r["action"]) for r in data["rows"]] == [
        (2, "add"),
        (3, "update"),
        (4, "excluded"),
        (5, "add"),
    ]
    assert data["mapping"][0] == {
        "index": 0,
        "header": "Asset tag",
        "field": "asset_tag",
        "describes": "asset tag",
        "source": "guessed",
        "informational": False,
        "samples": [],
    }
    rows = query(
        lab,
        "SELECT description, calibration_interval_days FROM instrument WHERE asset_tag = 'TH-001'",
    )
    assert rows == [("Digital thermometer (recalibrated yearly)", 180)]


def test_calibration_history_from_the_cli(lab: Path) -> None:
    result = ok(
        run_cli(lab, "import", "calibrations", "calibrations-history.csv", "--exclude-line", "6-8")
    )
    assert "note: line 4 (TH-001): takes TH-001 out of service" in result.stdout
    assert "saved: 4 added" in result.stdout
    assert count(lab, "calibration_record") == 4
    voided = query(lab, "SELECT void_reason FROM calibration_record WHERE void_reason IS NOT NULL")
    assert voided == [("Wrong instrument recorded",)]


def test_an_import_needs_the_editor_lock(lab: Path) -> None:
    before = fingerprint(lab)
    with open_lab(lab):  # someone else is the editor
        result = run_cli(lab, "import", "instruments", "register-cp1252.csv")
        line = assert_one_error_line(result, 5)
        assert "(this session is read-only)" in line
        # A dry run still shows what it can check, and says how little that is.
        dry = run_cli(lab, "import", "instruments", "register-cp1252.csv", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "checked: fields only — the database is read-only" in dry.stdout
    assert fingerprint(lab) == before


def test_unreadable_input_is_one_line(lab: Path) -> None:
    before = fingerprint(lab)
    png = run_cli(lab, "import", "instruments", "not-a-table.csv")
    assert assert_one_error_line(png, 2) == (
        "caltrack: not-a-table.csv is not a table: it is a PNG image; export the data as CSV "
        "or XLSX and import that file"
    )
    encoding = run_cli(lab, "import", "instruments", "register-cp1252.csv", "--encoding", "utf-8")
    assert (
        "register-cp1252.csv line 2: byte 0xFC cannot be read as utf-8; choose the encoding cp1252"
        in (assert_one_error_line(encoding, 2))
    )
    missing = run_cli(lab, "import", "instruments", "nothere.csv")
    assert "nothere.csv: no such file" in assert_one_error_line(missing, 2)
    bad_map = run_cli(lab, "import", "instruments", "register-cp1252.csv", "--map", "Tag")
    assert "--map 'Tag': write it as \"Column header=field\"" in assert_one_error_line(bad_map, 2)
    bad_line = run_cli(lab, "import", "instruments", "register-cp1252.csv", "--exclude-line", "two")
    assert "--exclude-line 'two'" in assert_one_error_line(bad_line, 2)
    unknown = run_cli(lab, "import", "instruments", "register-cp1252.csv", "--map", "Colour=x")
    assert assert_one_error_line(unknown, 2).startswith(
        "caltrack: register-cp1252.csv: mapping of 'Colour': the file has no such column"
    )
    assert fingerprint(lab) == before


def test_a_confirmed_mapping_is_offered_for_the_same_layout(lab: Path) -> None:
    folder = lab.parent
    (folder / "a.csv").write_text("Kennung;Bezeichnung;Intervall\nK-1;Waage;12\n", encoding="utf-8")
    (folder / "b.csv").write_text(
        "KENNUNG;Bezeichnung;Intervall\nK-2;Pipette;6\n", encoding="utf-8"
    )
    unmapped = run_cli(lab, "import", "instruments", "a.csv")
    assert "no column gives the asset tag (required)" in assert_one_error_line(unmapped, 2)
    ok(
        run_cli(
            lab,
            "import",
            "instruments",
            "a.csv",
            "--map",
            "Kennung=asset_tag",
            "--map",
            "Bezeichnung=description",
            "--map",
            "Intervall=calibration_interval_months",
        )
    )
    again = ok(run_cli(lab, "import", "instruments", "b.csv"))
    assert "remembered" in again.stdout
    assert query(
        lab,
        "SELECT asset_tag, calibration_interval_days FROM instrument WHERE asset_tag LIKE 'K-%' "
        "ORDER BY asset_tag",
    ) == [("K-1", 365), ("K-2", 183)]
    assert (folder / "xdg-config" / "CalTrack" / "settings.json").exists()


def test_export_csv_and_xlsx(lab: Path) -> None:
    folder = lab.parent
    missing = run_cli(lab, "export", "--format", "csv", "-o", "nowhere/lab")
    assert "does not exist; create it first" in assert_one_error_line(missing, 2)
    (folder / "out").mkdir()
    result = ok(run_cli(lab, "export", "--format", "csv", "-o", "out/lab", "--json"))
    assert json.loads(result.stdout) == {
        "format": "csv",
        "files": [
            str(folder / "out" / "lab-instruments.csv"),
            str(folder / "out" / "lab-calibrations.csv"),
            str(folder / "out" / "lab-custody.csv"),
            str(folder / "out" / "lab-maintenance.csv"),
        ],
        "instruments": 3,
        "calibrations": 0,
        "custody": 0,
        "maintenance_events": 0,
    }
    text = (folder / "out" / "lab-instruments.csv").read_bytes()
    assert text.startswith(b"\xef\xbb\xbfAsset tag,")
    assert text.count(b"\r\n") == 4
    xlsx = ok(run_cli(lab, "export", "--format", "xlsx", "-o", "out/lab.xlsx"))
    assert xlsx.stdout.strip() == (
        f"exported 3 instruments and 0 calibration records to {folder / 'out' / 'lab.xlsx'}"
    )
    # What was exported imports back into a new database.
    other = folder / "copy.db"
    with open_lab(other, create=True):
        pass
    ok(run_cli(other, "import", "instruments", "out/lab.xlsx"))
    assert count(other, "instrument") == 3


def test_a_labs_own_status_words_are_mapped_with_value(lab: Path) -> None:
    folder = lab.parent
    shutil.copy(DATA / "register-lab-status.csv", folder / "register-lab-status.csv")
    before = fingerprint(lab)
    dry = run_cli(lab, "import", "instruments", "register-lab-status.csv", "--dry-run")
    line = assert_one_error_line(dry, 2)
    assert line == (
        "caltrack: register-lab-status.csv: 2 value(s) have no mapping (column 'Status': "
        "'EXTENDED' (3 rows); column 'Status': 'PR#33199' (1 row)); nothing was written — map "
        'each value with --value "COLUMN:VALUE=TARGET", or leave its lines out'
    )
    out = dry.stdout
    assert "values of column 'Status' (status: in_service, out_of_service, retired, lost):" in out
    table = out[out.index("values of column 'Status'") :].splitlines()[1:12]
    assert [r.split() for r in table] == [
        ["VALUE", "ROWS", "BECOMES", "FROM"],
        ["ACTIVE", "3", "in_service", "guessed"],
        ["IN-ACTIVE", "2", "retired", "guessed"],
        ["SERVICE", "1", "out_of_service", "guessed"],
        ["DEFECTIVE", "1", "out_of_service", "guessed"],
        ["FOR", "REPAIR", "1", "out_of_service", "guessed"],
        ["SCRAP", "1", "retired", "guessed"],
        ["MISSING", "1", "lost", "guessed"],
        ["EXTENDED", "3", "?", "not", "mapped"],
        ["PR#33199", "1", "?", "not", "mapped"],
        ["In", "service", "1", "in_service", "exact"],
    ]
    # One ERROR per unmapped value, with its count and the way out; none per row.
    errors = [r for r in out.splitlines() if r.startswith("ERROR")]
    assert errors == [
        "ERROR: column 'Status': 'EXTENDED' (3 rows: lines 12, 13, 14) is not a status CalTrack "
        "knows; map it to one of in_service, out_of_service, retired, lost, or leave those "
        'lines out (--value "Status:EXTENDED=TARGET")',
        "ERROR: column 'Status': 'PR#33199' (1 row: line 15) is not a status CalTrack knows; "
        "map it to one of in_service, out_of_service, retired, lost, or leave those lines out "
        '(--value "Status:PR#33199=TARGET")',
    ]
    # A TARGET that is not a status: exit 2, naming the allowed ones; nothing written.
    bad = run_cli(
        lab, "import", "instruments", "register-lab-status.csv", "--value", "Status:EXTENDED=ok"
    )
    assert assert_one_error_line(bad, 2) == (
        "caltrack: register-lab-status.csv: value mapping Status:EXTENDED=ok: 'ok' is not a "
        "status; one of in_service, out_of_service, retired, lost; nothing was written"
    )
    malformed = run_cli(
        lab, "import", "instruments", "register-lab-status.csv", "--value", "EXTENDED=retired"
    )
    assert "--value 'EXTENDED=retired': write it as" in assert_one_error_line(malformed, 2)
    assert fingerprint(lab) == before
    # Two overrides: the whole file goes in in one go.
    saved = ok(
        run_cli(
            lab,
            "import",
            "instruments",
            "register-lab-status.csv",
            "--value",
            "Status:extended=in_service",
            "--value",
            "Status: PR#33199 =out_of_service",
            "--json",
        )
    )
    data = json.loads(saved.stdout)
    assert data["committed"] is True and data["counts"]["add"] == 15
    [status] = data["values"]
    assert (status["column"], status["field"]) == ("Status", "status")
    assert status["values"][7] == {
        "value": "EXTENDED",
        "count": 3,
        "target": "in_service",
        "source": "given",
        "guessed_from": "",
        "lines": [12, 13, 14],
    }
    assert status["values"][1]["source"] == "guessed"
    rows = query(lab, "SELECT asset_tag, status FROM instrument WHERE asset_tag LIKE 'G-%'")
    stored = {str(tag): str(status) for tag, status in rows}
    assert [stored[f"G-{n:04}"] for n in (1, 4, 6, 9, 10, 11, 12, 14, 15)] == [
        "in_service",
        "retired",
        "out_of_service",
        "retired",
        "lost",
        "in_service",
        "in_service",
        "out_of_service",
        "in_service",
    ]
    # Remembered with the column mapping: the next file of this layout needs no --value.
    (folder / "more.csv").write_text(
        "Asset No,Description,Frequency (days),Last Cal,Status\n"
        "G-0101,Caliper,365,2026-01-10,EXTENDED\n"
        "G-0102,Caliper,365,2026-01-10,pr#33199\n",
        encoding="utf-8",
    )
    again = ok(run_cli(lab, "import", "instruments", "more.csv", "--map", "Last Cal="))
    assert "not imported: Last Cal\n  column 'Last Cal' holds: 2026-01-10\n" in again.stdout
    assert "EXTENDED  " in again.stdout and "remembered" in again.stdout
    assert query(
        lab, "SELECT status FROM instrument WHERE asset_tag IN ('G-0101', 'G-0102') ORDER BY 1"
    ) == [("in_service",), ("out_of_service",)]


def test_schedules_and_checks_of_an_export_import_into_a_fresh_database(tmp_path: Path) -> None:
    """Issue 15: the Schedules and Checks sheets of an export, imported by `caltrack
    import schedules|checks` (the kind chooses the sheet), bad rows refused by line."""
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    workbook = tmp_path / "export.xlsx"
    with open_lab(source, create=True) as app:
        add_thermometer(app, "TH-001")
        app.schedules.set("TH-001", ScheduleInput("check", every="1m", grace_days=2))
        app.checks.add(
            "TH-001",
            CheckInput(date(2026, 6, 1), (parse_reading("20:20.2:0.5"),), standard="gauge"),
        )
        app.transfer.export("xlsx", workbook)
    with open_lab(target, create=True) as app:
        assert app.transfer.import_file(workbook, ImportOptions(kind="instruments")).committed
    bad = tmp_path / "checks.csv"
    bad.write_text(
        "Asset tag,Date,Standard,Readings\n"
        "TH-001,2026-06-02,gauge,20:20.1:0.5\n"
        "\u0422\u041d-001,2026-06-03,gauge,20:20.1:0.5\n"
        "TH-001,31.02.2026,gauge,20:20.1:0.5\n"
        "TH-001,2026-06-04,gauge,20:1e999:0.5\n",
        encoding="utf-8",
    )
    before = fingerprint(target)
    line = assert_one_error_line(run_cli(target, "import", "checks", str(bad)), 2)
    assert line == (
        "caltrack: checks.csv: 3 line(s) have errors (3, 4, 5); nothing was written — fix "
        "them, or leave those lines out of the import"
    )
    assert fingerprint(target) == before
    schedules = ok(run_cli(target, "import", "schedules", str(workbook)))
    assert "schedules from export.xlsx: XLSX, sheet 'Schedules'" in schedules.stdout
    assert "saved: 1 added, 0 updated, 0 unchanged" in schedules.stdout
    checks = ok(run_cli(target, "import", "checks", str(workbook), "--json"))
    preview = json.loads(checks.stdout)
    assert (preview["sheet"], preview["committed"], preview["counts"]["add"]) == ("Checks", True, 1)
    with open_lab(target, edit=False) as copy, open_lab(source, edit=False) as original:
        assert [replace(s, version=0) for s in copy.schedules.list("TH-001")] == [
            replace(s, version=0) for s in original.schedules.list("TH-001")
        ]
        assert [c.readings for c in copy.checks.list("TH-001")] == [
            c.readings for c in original.checks.list("TH-001")
        ]
        assert copy.maintenance.verify().problems == []


def test_custody_and_send_outs_of_an_export_import_by_the_cli(tmp_path: Path) -> None:
    """Issue 15: `caltrack import custody|sendouts` read an export's Custody and Send-outs
    sheets; a batch to a provider not registered yet is refused by its line."""
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    workbook = tmp_path / "export.xlsx"
    with open_lab(source, create=True) as app:
        add_thermometer(app, "TH-001")
        add_thermometer(app, "TH-002")
        app.custody.check_out("TH-001", holder="Dana")
        app.custody.check_in("TH-001")
        app.custody.check_out("TH-002", holder="Kim")
        app.providers.add(ProviderInput("Acme"))
        app.sendouts.create("Acme", ["TH-001"], po_number="PO-1")
        app.transfer.export("xlsx", workbook)
    with open_lab(target, create=True) as app:
        assert app.transfer.import_file(workbook, ImportOptions(kind="instruments")).committed
    before = fingerprint(target)
    refused = run_cli(target, "import", "sendouts", str(workbook))
    assert assert_one_error_line(refused, 2) == (
        "caltrack: export.xlsx: 1 line(s) have errors (2); nothing was written — fix them, "
        "or leave those lines out of the import"
    )
    assert "no provider named 'Acme' in this database" in refused.stdout
    assert fingerprint(target) == before
    custody = ok(run_cli(target, "import", "custody", str(workbook)))
    assert "custody from export.xlsx: XLSX, sheet 'Custody'" in custody.stdout
    assert "saved: 2 added" in custody.stdout
    with open_lab(target) as app:
        assert app.transfer.import_file(workbook, ImportOptions(kind="providers")).committed
    sendouts = ok(run_cli(target, "import", "sendouts", str(workbook), "--json"))
    preview = json.loads(sendouts.stdout)
    assert (preview["sheet"], preview["committed"], preview["counts"]["add"]) == (
        "Send-outs",
        True,
        1,
    )
    with open_lab(target, edit=False) as copy:
        assert [v.holder for v in copy.custody.out_now()] == ["Kim"]
        assert [(b.provider, b.po_number) for b in copy.sendouts.list()] == [("Acme", "PO-1")]
        assert copy.maintenance.verify().problems == []
