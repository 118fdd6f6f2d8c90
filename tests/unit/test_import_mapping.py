"""Column mapping: guessed from headers, overridden, remembered per user and layout."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.services.transfer_mapping import (
    COLUMNS,
    build_mapping,
    exported_columns,
    find_header,
    layout_key,
    normalise,
)
from app.services.transfer_model import ImportOptions
from app.settings.import_mappings import MAX_REMEMBERED, remember_mapping, remembered_mapping
from app.settings.user_settings import UserSettings, load_settings, save_settings

DATA = Path(__file__).parents[1] / "data" / "import"


def fields_of(
    kind: str,
    headers: list[str],
    *,
    given: Mapping[str, str] | None = None,
    remembered: Mapping[str, str] | None = None,
) -> dict[str, str | None]:
    mapping, problems = build_mapping(kind, headers, given=given or {}, remembered=remembered)
    assert problems == []
    return {c.header: c.field for c in mapping.columns}


def test_normalise_ignores_case_spaces_punctuation_and_accents() -> None:
    assert normalise("  Asset no. ") == "assetno"
    assert normalise("S/N") == "sn"
    assert normalise("Interval (months)") == "intervalmonths"
    assert normalise("Temperature (°C)") == "temperaturec"
    assert normalise("Auflösung") == "auflosung"


def test_common_header_names_are_guessed() -> None:
    headers = [
        "Asset tag",
        "Equipment ID",
        "Tag",
        "Asset no.",
        "Serial",
        "S/N",
        "Mfr",
        "Manufacturer",
        "Cal date",
        "Calibrated on",
        "Due",
        "Next due",
        "Interval (months)",
        "Colour",
    ]
    for first, field in [
        ("Asset tag", "asset_tag"),
        ("Equipment ID", "asset_tag"),
        ("Tag", "asset_tag"),
        ("Asset no.", "asset_tag"),
        ("Serial", "serial_number"),
        ("S/N", "serial_number"),
        ("Mfr", "manufacturer"),
        ("Manufacturer", "manufacturer"),
        ("Cal date", "last_calibrated"),
        ("Calibrated on", "last_calibrated"),
        ("Due", "next_due"),
        ("Next due", "next_due"),
        ("Interval (months)", "calibration_interval_months"),
    ]:
        # Each alone (with a description) maps to its field.
        assert fields_of("instruments", [first, "Description"])[first] == field
    # All together: the first column for a field wins, the others are listed unmapped.
    mapping, _ = build_mapping("instruments", headers, given={}, remembered=None)
    assert mapping.header_of("asset_tag") == "Asset tag"
    assert mapping.header_of("serial_number") == "Serial"
    assert mapping.unmapped == (
        "Equipment ID",
        "Tag",
        "Asset no.",
        "S/N",
        "Manufacturer",
        "Calibrated on",
        "Next due",
        "Colour",
    )
    equipment = next(c for c in mapping.columns if c.header == "Equipment ID")
    assert equipment.describes == "not imported: column 'Asset tag' already gives asset_tag"
    # The same words mean the calibration's own fields in a history file.
    history = fields_of("calibrations", ["Tag", "Cal date", "Result", "Due", "Certificate"])
    assert history == {
        "Tag": "asset_tag",
        "Cal date": "performed_on",
        "Result": "result",
        "Due": "next_due",
        "Certificate": "certificate_number",
    }


def test_interval_units_are_explicit() -> None:
    mapping, _ = build_mapping(
        "instruments",
        ["Tag", "Description", "Interval (days)", "Interval (months)"],
        given={},
        remembered=None,
    )
    # Only one interval column is read; the preview says which and in what unit.
    assert mapping.header_of("calibration_interval_days") == "Interval (days)"
    assert mapping.unmapped == ("Interval (months)",)
    months, _ = build_mapping(
        "instruments", ["Tag", "Description", "Interval (months)"], given={}, remembered=None
    )
    assert months.columns[2].describes == (
        "calibration interval (months → days: × 365 / 12, rounded)"
    )


def test_overrides_win_and_can_leave_a_column_out() -> None:
    fields = fields_of(
        "instruments",
        ["Kennung", "Bezeichnung", "Interval", "Notes"],
        given={"kennung": "asset_tag", "Interval": "calibration_interval_months", "Notes": ""},
    )
    assert fields == {
        "Kennung": "asset_tag",
        "Bezeichnung": "description",
        "Interval": "calibration_interval_months",
        "Notes": None,
    }


def test_bad_overrides_and_missing_required_fields_are_problems() -> None:
    mapping, problems = build_mapping(
        "instruments",
        ["Serial", "Location"],
        given={"Colour": "notes", "Location": "colour"},
        remembered=None,
    )
    assert problems[0] == "mapping of 'Colour': the file has no such column ('Serial', 'Location')"
    assert problems[1].startswith(
        "mapping 'Location' to 'colour': unknown field; one of asset_tag, "
    )
    assert mapping.missing == ("asset_tag", "description")


def test_the_header_row_is_found_below_title_rows() -> None:
    rows: list[list[object]] = [
        ["Instrument register — Lab 2"],
        [],
        ["Printed 2026-11-20", None, None],
        ["Equipment ID", "Description", "Cal date"],
        ["EQ-1", "Gauge", "2026-01-01"],
    ]
    assert find_header(rows, "instruments") == 3
    assert find_header([["Foo", "Bar"], ["1", "2"]], "instruments") == 0


def test_every_export_column_is_read_back_as_itself() -> None:
    for kind in COLUMNS:
        labels = [c.label for c in exported_columns(kind)]
        mapping, problems = build_mapping(kind, labels, given={}, remembered=None)
        assert problems == []
        assert [c.field for c in mapping.columns] == [c.field for c in exported_columns(kind)]
        assert mapping.unmapped == ()
        assert mapping.missing == ()


def test_layout_key_ignores_spelling_but_not_columns() -> None:
    key = layout_key("instruments", ["Asset tag", "Description"])
    assert key == layout_key("instruments", ["ASSET TAG", " description "])
    assert key != layout_key("calibrations", ["Asset tag", "Description"])
    assert key != layout_key("instruments", ["Description", "Asset tag"])


def test_a_confirmed_mapping_is_remembered_per_layout(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    save_settings(UserSettings(theme="dark"), settings)
    key = layout_key("instruments", ["Kennung", "Bezeichnung"])
    assert remembered_mapping(key, settings) is None
    remember_mapping(
        key,
        "instruments",
        ["Kennung", "Bezeichnung"],
        {"Kennung": "asset_tag", "Bezeichnung": "description"},
        settings,
    )
    assert remembered_mapping(key, settings) == {
        "Kennung": "asset_tag",
        "Bezeichnung": "description",
    }
    # The rest of the settings is untouched.
    assert load_settings(settings).theme == "dark"
    fields = fields_of(
        "instruments", ["Kennung", "Bezeichnung"], remembered=remembered_mapping(key, settings)
    )
    assert fields == {"Kennung": "asset_tag", "Bezeichnung": "description"}


def test_only_the_newest_layouts_are_kept(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    for n in range(MAX_REMEMBERED + 5):
        remember_mapping(
            f"key{n}",
            "instruments",
            [f"H{n}"],
            {f"H{n}": "asset_tag"},
            settings,
            now=datetime(2026, 1, 1, 0, n % 60, n // 60, tzinfo=UTC),
        )
    stored = json.loads(settings.read_text(encoding="utf-8"))["extra"]["import_mappings"]
    assert len(stored) == MAX_REMEMBERED
    assert "key0" not in stored and f"key{MAX_REMEMBERED + 4}" in stored


def test_damaged_memory_is_ignored(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    save_settings(UserSettings(extra={"import_mappings": {"k": "not a dict"}}), settings)
    assert remembered_mapping("k", settings) is None


def test_the_preview_names_where_each_column_came_from(app: CalTrack) -> None:
    table = app.transfer.read(DATA / "register-duplicates.csv", ImportOptions(kind="instruments"))
    headers, key = app.transfer.layout(table, ImportOptions(kind="instruments"))
    assert headers == ["Asset tag", "Description", "Serial number", "Interval (days)"]
    options = ImportOptions(
        kind="instruments",
        mapping={"Serial number": ""},
        remembered={"Interval (days)": "", "Asset tag": "asset_tag"},
    )
    preview = app.transfer.preview_table(table, options)
    assert [(c.header, c.field, c.source) for c in preview.mapping.columns] == [
        ("Asset tag", "asset_tag", "remembered"),
        ("Description", "description", "guessed"),
        ("Serial number", None, "given"),
        ("Interval (days)", None, "remembered"),
    ]
    assert preview.mapping.unmapped == ("Serial number", "Interval (days)")
    assert key == layout_key("instruments", headers)


@pytest.mark.parametrize("kind", ["instruments", "calibrations"])
def test_a_file_of_the_other_kind_is_named(app: CalTrack, kind: str) -> None:
    name = "register-duplicates.csv" if kind == "calibrations" else "calibrations-history.csv"
    other = "instruments" if kind == "calibrations" else "calibrations"
    preview = app.transfer.preview(DATA / name, ImportOptions(kind=kind))
    assert not preview.ok
    assert any(f"this looks like a file of {other}" in str(p) for p in preview.problems)
    assert {r.action for r in preview.rows} == {"not checked"}
