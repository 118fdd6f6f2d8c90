"""The metrology of issue 14 on the command line, as real processes: ``--point`` with U, K
and a tolerance as written, ``--decision-rule``, ``--tur-justification``, ``calibrations
show`` and ``settings show|set``; bad values exit 2 with one line and store nothing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from app.clock import FixedClock
from app.identity import get_current_user_id
from tests.conftest import add_thermometer, is_server
from tests.integration.helpers import assert_one_error_line, count, open_lab, run_cli
from tests.unit.qa_helpers import png

ADD = ("calibrations", "add", "DMM-1", "--performed-on", "2026-11-02", "--result")
# The DMM's 10 V point: ±(0.05 % + 2 digits) with a resolution of 0.001 V is
# 0.005 + 0.002 = ±0.007 V, limits 9.993 … 10.007 (tolerance_spec's table); U = 0.0014 V
# (k = 2) gives TUR 0.014 / 0.0028 = 5:1. Guarded acceptance with w = U (ILAC G8:2019
# 4.2.3): acceptance limits 9.9944 … 10.0056.
DMM_POINT = "10:10.006:10.001:±(0.05 % + 2 digits):V:0.0014:2"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


@pytest.fixture
def lab(db_url: str, clock: FixedClock) -> str:
    """A database whose creator (an admin) is whoever runs the CLI, with a DMM in it.

    The CLI's user is the OS login on a file and the server login on a server (which is
    what CalTrack takes when no identity is given there)."""
    creator = None if is_server(db_url) else get_current_user_id()
    with open_lab(db_url, create=True, identity=creator, clock=clock) as app:
        add_thermometer(app, "DMM-1", range_text="0 to 20 V", resolution_text="0.001 V")
        add_thermometer(app, "TH-001")  # no range, no resolution
    return db_url


def test_a_guarded_calibration_is_recorded_and_shown_with_u_k_tur_and_verdicts(lab: str) -> None:
    recorded = json.loads(
        ok(
            run_cli(
                lab,
                *ADD,
                "adjusted",
                "--point",
                DMM_POINT,
                "--point",
                "5:5.001:5.001:0.01:V",
                "--decision-rule",
                "guard r=1 conditional",
                "--json",
            )
        )
    )
    first = recorded["points"][0]
    # 10.006 is inside the tolerance (≤ 10.007) but past the acceptance limit 10.0056.
    assert (first["as_found_verdict"], first["as_left_verdict"]) == ("conditional_pass", "pass")
    assert (first["lower_limit"], first["upper_limit"], first["tur_text"]) == (
        9.993,
        10.007,
        "5.0:1",
    )
    assert recorded["decision_rule"] == "guard r=1 conditional"

    shown = ok(run_cli(lab, "calibrations", "show", str(recorded["id"])))
    assert (
        "Decision rule            Guarded acceptance with conditional pass and conditional "
        "fail, w = U (ILAC G8:2019 4.2.3)"
    ) in shown
    rows = [line.split() for line in shown.splitlines() if line[:2] in ("1 ", "2 ")]
    assert rows[0] == [
        "1",
        "10",
        "V",
        "10.006",
        "conditional",
        "pass",
        "10.001",
        "pass",
        "±(0.05",
        "%",
        "+",
        "2",
        "digits)",
        "9.993",
        "…",
        "10.007",
        "0.0014",
        "2",
        "5.0:1",
        "9.9944",
        "…",
        "10.0056",
    ]
    # The 5 V point has no U: no TUR, and its acceptance limits are its tolerance's.
    assert rows[1][-5:] == ["4.99", "…", "5.01", "=", "tolerance"]


def test_the_labs_settings_are_shown_set_and_used_by_default(lab: str, tmp_path: Path) -> None:
    shown = ok(run_cli(lab, "settings", "show"))
    assert "Decision rule               simple — Simple acceptance (shared risk)" in shown
    assert "Minimum TUR                 4:1" in shown
    assert "Lab name                    not set" in shown
    logo = tmp_path / "logo.png"
    logo.write_bytes(png())
    rule = ("--decision-rule", "guard r=1 binary", "--minimum-tur", "5")
    lab_args = ("--lab-name", "Acme Lab", "--lab-logo", str(logo))
    ok(run_cli(lab, "settings", "set", *rule, *lab_args))
    values = json.loads(ok(run_cli(lab, "settings", "show", "--json")))
    assert (values["decision_rule"], values["minimum_tur"]) == ("guard r=1 binary", "5")
    assert (values["lab_name"], values["lab_logo"]) == ("Acme Lab", f"PNG, {len(png())} bytes")
    # TUR exactly 5:1 meets the new minimum; the record takes the lab's rule, under which
    # 10.006 (past the acceptance limit 10.0056) is a fail: "pass" is refused...
    refused = assert_one_error_line(run_cli(lab, *ADD, "pass", "--point", DMM_POINT), 2)
    assert "point 1: is outside its acceptance limits (9.9944 … 10.0056)" in refused
    # ...and "adjusted" is recorded under it.
    recorded = json.loads(ok(run_cli(lab, *ADD, "adjusted", "--point", DMM_POINT, "--json")))
    assert recorded["decision_rule"] == "guard r=1 binary"
    assert recorded["points"][0]["as_found_verdict"] == "fail"


@pytest.mark.parametrize(
    ("point", "extra", "says"),
    [
        ("10:10:10:0.01:V:0", (), "--point: '10:10:10:0.01:V:0': U must be more than 0"),
        ("10:10:10:0.01:V:-0.001", (), "U must be more than 0 (got -0.001)"),
        ("10:10:10:0.01:V:0.001:0", (), "k must be more than 0 (got 0)"),
        ("10:10:10:about 1%:V", (), "cannot read 'about 1%'"),
        ("10:10:10:0.01:V", ("--decision-rule", "guarded"), "--decision-rule: cannot read"),
        # TUR 0.02 / 0.006 = 3.3:1, below the default 4:1, and no justification.
        (
            "10:10:10:0.01:V:0.003",
            (),
            "--tur-justification: the TUR of point 1 (3.3:1) is below the lab's minimum of 4:1",
        ),
    ],
)
def test_bad_metrology_exits_2_in_one_line_and_stores_nothing(
    lab: str, point: str, extra: tuple[str, ...], says: str
) -> None:
    line = assert_one_error_line(run_cli(lab, *ADD, "pass", "--point", point, *extra), 2)
    assert says in line
    assert count(lab, "calibration_record") == 0


def test_a_tolerance_the_instrument_cannot_resolve_names_the_point(lab: str) -> None:
    args = ("calibrations", "add", "TH-001", "--performed-on", "2026-11-02", "--result", "pass")
    line = assert_one_error_line(
        run_cli(lab, *args, "--point", "20:20:20:0.5", "--point", "20:20:20:±0.5 %FS:°C"), 2
    )
    assert line.startswith("caltrack: point 2: ±0.5 %FS needs the instrument's range")
    bad = assert_one_error_line(run_cli(lab, "settings", "set", "--minimum-tur", "0"), 2)
    assert "--minimum-tur: must be more than 0" in bad
    assert count(lab, "calibration_record") == 0
