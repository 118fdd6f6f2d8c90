"""`caltrack types ...` and `instruments add/edit --type` as real processes on a real file.

Bad input exits 2 with one line and stores nothing (``fingerprint`` is the database's
content before and after). Worked limits: ±(0.05 % + 2 digits) at 100 with a
resolution of 0.01 is 100 ± (0.05 + 0.02) = 99.93 … 100.07.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.services.dto import CalibrationInput, InstrumentChanges, PointInput, StatedUncertainty
from tests.conftest import add_thermometer
from tests.integration.helpers import assert_one_error_line, fingerprint, open_lab, run_cli

THERMOMETER = (
    "types", "add", "--name", "Digital thermometer, 0-150 °C", "--interval-days", "180",
    "--decision-rule", "guard r=1 binary", "--procedure", "WI-12", "--procedure-revision", "C",
    "--range-low", "-50", "--range-high", "150", "--resolution", "0.01",
    "--standard-category", "PRT reference", "--standard-category", "Dry block",
    "--point", "20:±0.5:°C", "--point", "100:±(0.05 % + 2 digits):°C",
    "--point", "0:-0.2/+0.3:°C",
    "--field", "Probe:choice=Pt100|Type K:required", "--field", "Probe length:number",
    "--field", "Bought on:date", "--description", "Handheld probe thermometers",
)  # fmt: skip
NAME = "Digital thermometer, 0-150 °C"


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    assert result.stderr == "", result.stderr
    return result


@pytest.fixture
def lab(tmp_path: Path) -> Path:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True):
        pass
    ok(run_cli(db, *THERMOMETER))
    return db


def test_add_show_list_assign_plan_and_verify(lab: Path) -> None:
    shown = json.loads(
        ok(run_cli(lab, "types", "show", "DIGITAL THERMOMETER, 0-150 °C", "--json")).stdout
    )
    assert shown["name"] == NAME
    assert shown["default_interval_days"] == 180
    assert shown["decision_rule"] == "guard r=1 binary"
    assert [p["limits"] for p in shown["points"]] == [
        "19.5 … 20.5",
        "99.93 … 100.07",
        "-0.2 … 0.3",
    ]
    assert [(f["name"], f["kind"], f["required"]) for f in shown["fields"]] == [
        ("Probe", "choice", True),
        ("Probe length", "number", False),
        ("Bought on", "date", False),
    ]
    listed = json.loads(ok(run_cli(lab, "types", "list", "--json")).stdout)
    assert [t["name"] for t in listed["types"]] == [NAME]

    added = json.loads(
        ok(
            run_cli(
                lab, "instruments", "add", "--asset-tag", "TH-1", "--description", "Thermometer",
                "--type", "digital thermometer, 0-150 °c", "--custom", "probe=type k",
                "--custom", "Bought on=2024-03-01", "--json",
            )
        ).stdout
    )  # fmt: skip
    assert added["type_name"] == NAME
    assert added["calibration_interval_days"] == 180  # the type's default
    assert added["custom_fields"] == {"Probe": "Type K", "Bought on": "2024-03-01"}
    edited = json.loads(
        ok(
            run_cli(lab, "instruments", "edit", "TH-1", "--custom", "Probe length=150", "--json")
        ).stdout
    )
    assert edited["custom_fields"]["Probe length"] == "150"
    assert edited["version"] == 2

    plan = json.loads(ok(run_cli(lab, "types", "plan", "TH-1", "--json")).stdout)
    assert plan["interval_days"] == 180
    assert plan["procedure"] == "WI-12 rev C"
    assert [(p["lower_limit"], p["upper_limit"]) for p in plan["points"]] == [
        ("19.5", "20.5"),
        ("99.93", "100.07"),
        ("-0.2", "0.3"),
    ]

    saved = ok(
        run_cli(
            lab, "types", "edit", NAME, "--point", "25:±0.2:°C", "--decision-rule", "",
            "--expect-version", "1", "--reason", "method revised",
        )
    )  # fmt: skip
    assert saved.stdout.strip() == f"saved type {NAME} (version 2)"
    stale = run_cli(lab, "types", "edit", NAME, "--description", "x", "--expect-version", "1")
    assert stale.returncode == 3, stale.stderr
    verified = run_cli(lab, "db", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("types", "add", "--name", "DIGITAL THERMOMETER, 0-150 °C"), "--name: 'DIGITAL"),
        (("types", "add", "--name", "X", "--point", "20:about half"), "point 1: cannot read"),
        (("types", "add", "--name", "X", "--point", "20"), "--point 1: '20': write it as"),
        (("types", "add", "--name", "X", "--point", "twenty:±1"), "--point 1: must be a number"),
        (("types", "add", "--name", "X", "--field", "Probe:colour"), "the kind 'colour'"),
        (("types", "add", "--name", "X", "--field", "Probe:text:maybe"), "--field 1:"),
        (("types", "add", "--name", "X", "--decision-rule", "strict"), "--decision-rule:"),
        (("types", "add", "--name", "X", "--interval-days", "0"), "--interval-days: must be"),
        (("types", "show", "Barometer"), "no instrument type named 'Barometer'"),
        (("types", "edit", "Barometer", "--description", "x"), "no instrument type named"),
        (
            ("instruments", "add", "--asset-tag", "TH-9", "--description", "d", "--type", "Nope"),
            "no instrument type named 'Nope'",
        ),
        (
            ("instruments", "add", "--asset-tag", "TH-9", "--description", "d", "--type", NAME),
            "custom field Probe: required",
        ),
        (
            (
                "instruments",
                "add",
                "--asset-tag",
                "TH-9",
                "--description",
                "d",
                "--type",
                NAME,
                "--custom",
                "Probe=Pt100",
                "--custom",
                "Bought on=yesterday",
            ),
            "custom field Bought on: must be a date",
        ),
        (
            ("instruments", "add", "--asset-tag", "TH-9", "--description", "d", "--custom", "x"),
            "--custom 'x': write it as NAME=VALUE",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_stores_nothing(
    lab: Path, args: tuple[str, ...], words: str
) -> None:
    before = fingerprint(lab)
    line = assert_one_error_line(run_cli(lab, *args), 2)
    assert words in line, line
    assert fingerprint(lab) == before


def test_export_and_import_keep_every_field(lab: Path, tmp_path: Path) -> None:
    ok(run_cli(lab, "types", "add", "--name", "Balance", "--point", "100:±0.001:g"))
    exported = tmp_path / "types.json"
    ok(run_cli(lab, "types", "export", "-o", str(exported)))
    other = tmp_path / "other" / "lab.db"
    other.parent.mkdir()
    with open_lab(other, create=True):
        pass
    dry = ok(run_cli(other, "types", "import", str(exported), "--dry-run"))
    assert "would import 2 types" in dry.stdout
    assert json.loads(ok(run_cli(other, "types", "list", "--json")).stdout)["types"] == []
    ok(run_cli(other, "types", "import", str(exported), "--reason", "from the main lab"))
    again = tmp_path / "again.json"
    ok(run_cli(other, "types", "export", "-o", str(again)))
    assert json.loads(again.read_text("utf-8")) == json.loads(exported.read_text("utf-8"))
    document = json.loads(exported.read_text("utf-8"))
    kept = document["types"][1]
    assert kept["name"] == NAME and kept["resolution"] == "0.01"
    assert kept["fields"][0] == {
        "name": "Probe",
        "kind": "choice",
        "required": True,
        "choices": ["Pt100", "Type K"],
    }

    # Importing again: every name is taken, so nothing is written.
    before = fingerprint(other)
    line = assert_one_error_line(run_cli(other, "types", "import", str(exported)), 2)
    assert "already registered: Balance, Digital thermometer" in line
    assert fingerprint(other) == before
    # A bad tolerance anywhere in the file: nothing is written either.
    document["types"][0]["name"] = "Balance 2"
    document["types"][0]["points"][0]["tolerance"] = "roughly"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document), "utf-8")
    line = assert_one_error_line(run_cli(other, "types", "import", str(bad)), 2)
    assert "'Balance 2' point 1: cannot read 'roughly'" in line
    assert fingerprint(other) == before
    bad.write_text("{not json", "utf-8")
    assert "is not a JSON file" in assert_one_error_line(
        run_cli(other, "types", "import", str(bad)), 2
    )
    verified = run_cli(other, "db", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_standards_feed_u_and_cover_the_types_categories(lab: Path) -> None:
    """`calibrations add --u-from-standards`, `--stated-u` and the type's required
    categories as real processes (the standards are set up in-process, and a bad
    `--stated-u` is checked in tests/unit/test_standard_uncertainty.py: fewer spawns).

    Worked numbers: STD-7 was calibrated at 0 and 200 °C with U = 0.02 and 0.05 °C
    (k = 2); 100 °C is as near to both, so the larger, 0.05 °C, is offered. With the
    point's ±0.5 °C the TUR is 1.0 / (2 × 0.05) = 10:1.
    """
    with open_lab(lab) as app:
        for tag, category in (("STD-7", "PRT reference"), ("DB-1", "Dry block")):
            add_thermometer(app, tag, category=category)
        points = (
            PointInput(0, 0, 0, 1, "°C", 0.02, 2),
            PointInput(200, 200, 200, 1, "°C", 0.05, 2),
        )
        for tag, readings in (("STD-7", points), ("DB-1", ())):
            app.calibrations.add(tag, CalibrationInput("2026-05-01", "pass", points=readings))
        add_thermometer(app, "TH-1")
        app.instruments.edit("TH-1", InstrumentChanges(), type_name=NAME, custom={"Probe": "Pt100"})
    record = ("calibrations", "add", "TH-1", "--performed-on", "2026-11-01", "--result", "pass",
              "--point", "100:100.1:100.1:±0.5:°C", "--u-from-standards")  # fmt: skip
    before = fingerprint(lab)
    # A dry block is required by the type: refused, naming the missing category.
    line = assert_one_error_line(run_cli(lab, *record, "--standard", "STD-7"), 2)
    assert "category Dry block; none of the standards used is one" in line, line
    assert fingerprint(lab) == before

    saved = run_cli(lab, *record, "--standard", "STD-7", "--standard", "DB-1", "--json")
    assert saved.returncode == 0, saved.stderr
    assert saved.stderr.splitlines() == [
        "point 1: U = 0.05 (k = 2), from calibration #1 of STD-7 (2026-05-01), point 200 °C"
    ]
    (point,) = json.loads(saved.stdout)["points"]
    assert (point["uncertainty"], point["coverage_factor"], point["tur"]) == (0.05, 2.0, 10.0)
    ok(run_cli(lab, "instruments", "edit", "STD-7", "--stated-u", "0.1:2:°C"))
    with open_lab(lab) as app:
        assert app.instruments.get("STD-7").stated_uncertainty == StatedUncertainty(0.1, 2, "°C")
        assert app.maintenance.verify().problems == []
