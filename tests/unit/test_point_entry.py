"""What the readings grid shows for a typed row: ``app.services.point_entry`` (issue 14).

Worked numbers by hand, from the conventions in ``decision_rules`` (w = r·U, ILAC
G8:2019 4.2.2/4.2.3), ``tur`` ((upper − lower) / 2U, ANSI/NCSL Z540.3) and
``tolerance_spec``'s table.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.bootstrap import CalTrack
from app.services.decision_rules import Verdict
from app.services.dto import (
    CalibrationInput,
    InstrumentChanges,
    PointInput,
    TypeInput,
    TypePointInput,
)
from app.services.point_entry import EntryRules, preview_row, rule_choices
from tests.conftest import add_thermometer

SIMPLE = EntryRules.of("simple")
GUARDED = EntryRules.of("guard r=1 binary")
CONDITIONAL = EntryRules.of("guard r=1 conditional")


def test_a_plain_number_stays_a_plus_minus_tolerance_judged_as_before() -> None:
    row = preview_row(SIMPLE, "20", "20,4", "20.6", "0.5", "°C")
    assert row.point == PointInput(20.0, 20.4, 20.6, 0.5, "°C")
    assert (row.limits, row.acceptance, row.tur) == ("19.5 … 20.5", "19.5 … 20.5", "")
    assert (row.as_found, row.as_left) == (Verdict.PASS, Verdict.FAIL)
    assert row.left_outside and row.nonconforming


@pytest.mark.parametrize(
    ("rules", "reading", "verdict"),
    [
        # 20 ± 0.5, U = 0.1: acceptance 19.6 … 20.4.
        (GUARDED, "20.4", Verdict.PASS),  # on the acceptance limit: passes
        (GUARDED, "20.45", Verdict.FAIL),  # inside the tolerance: binary fail
        (CONDITIONAL, "20.45", Verdict.CONDITIONAL_PASS),
        (CONDITIONAL, "20.5", Verdict.CONDITIONAL_PASS),  # on the tolerance limit
        (CONDITIONAL, "20.6", Verdict.CONDITIONAL_FAIL),  # on TL + w
        (CONDITIONAL, "20.61", Verdict.FAIL),
    ],
)
def test_guarded_verdicts_at_and_around_the_limits(
    rules: EntryRules, reading: str, verdict: Verdict
) -> None:
    row = preview_row(rules, "20", reading, "", "±0.5", "°C", "0.1", "2")
    assert row.acceptance == "19.6 … 20.4"
    assert row.tur == "5.0:1" and not row.tur_low
    assert row.as_found is verdict
    assert row.found_outside is (Decimal(reading) > Decimal("20.5"))
    assert row.point is not None and row.point.tolerance_text == "±0.5"


def test_tur_below_the_minimum_is_flagged_and_cut_down() -> None:
    # ±0.5 with U = 0.13: 1 / 0.26 = 3.846…:1, shown cut down as 3.8:1, below 4:1.
    row = preview_row(SIMPLE, "20", "20.1", "", "0.5", "", "0.13")
    assert (row.tur, row.tur_low) == ("3.8:1", True)
    # The lab's minimum of 3:1: no longer flagged.
    lenient = EntryRules.of("simple", Decimal(3))
    assert not preview_row(lenient, "20", "20.1", "", "0.5", "", "0.13").tur_low


def test_written_tolerances_need_the_instruments_range_and_resolution() -> None:
    rules = EntryRules.of("simple", range_text="-50 to 150 °C", resolution_text="0.01 °C")
    # ±(0.05 % + 2 digits) at 100: 0.05 + 0.02 = 0.07.
    assert preview_row(rules, "100", "", "", "±(0.05 % + 2 digits)").limits == "99.93 … 100.07"
    # ±0.5 %FS of −50 … 150: full scale 150, 0.75.
    assert preview_row(rules, "100", "", "", "±0.5 %FS").limits == "99.25 … 100.75"
    # Without the range the row says so, and gives no point to save.
    bare = preview_row(SIMPLE, "100", "", "", "±0.5 %FS")
    assert bare.point is None and "range" in bare.problem


@pytest.mark.parametrize(
    ("texts", "problem"),
    [
        (("", "20.1", "", "0.5"), "nominal needed"),
        (("20", "20.1", "", ""), "tolerance needed"),
        (("20", "abc", "", "0.5"), "as found must be a number"),
        (("20", "20.1", "", "0.5", "", "", "2"), "comes with U"),
        (("20", "20.1", "", "0.5", "", "0", ""), "U must be more than 0"),
        (("20", "20.1", "", "about half"), "cannot read"),
    ],
)
def test_a_row_that_cannot_be_read_says_why(texts: tuple[str, ...], problem: str) -> None:
    row = preview_row(SIMPLE, *texts)
    assert row.point is None and problem in row.problem


def test_an_empty_row_is_not_a_point() -> None:
    row = preview_row(SIMPLE, " ", "", "", "", "", "", "")
    assert row.empty and row.point is None and row.problem == ""


def test_the_rule_in_force_is_offered_first_with_whose_it_is() -> None:
    choices = rule_choices(GUARDED.rule, "type Bench thermometer")
    assert choices[0].code == "guard r=1 binary"
    assert choices[0].label.endswith("— type Bench thermometer")
    assert [c.code for c in choices].count("guard r=1 binary") == 1
    assert "simple" in [c.code for c in choices]


def test_a_types_range_and_resolution_serve_an_instrument_whose_form_has_none(
    app: CalTrack,
) -> None:
    """Saving and the grid (``entry_rules``) resolve a written tolerance alike: with the
    instrument's own range and resolution, else its type's. ±0.5 %FS of the type's
    −50 … 150 (full scale 150) is ±0.75; of the instrument's own 0 … 100 it is ±0.5."""
    app.types.add(
        TypeInput(
            name="Wide thermometer",
            range_low="-50",
            range_high="150",
            resolution="0.01",
            points=(TypePointInput(100, "±0.5 %FS", "°C"),),
        )
    )
    add_thermometer(app, "TH-1")
    add_thermometer(app, "TH-2", range_text="0 to 100 °C")
    for tag in ("TH-1", "TH-2"):
        app.instruments.edit(tag, InstrumentChanges(), type_name="Wide thermometer")
    expected = {"TH-1": (99.25, 100.75), "TH-2": (99.5, 100.5)}
    for tag, (low, high) in expected.items():
        rules = app.calibrations.entry_rules(tag)
        shown = preview_row(rules, "100", "100.4", "", "±0.5 %FS", "°C")
        assert shown.limits == f"{low} … {high}"
        stored = app.calibrations.add(
            tag,
            CalibrationInput(
                performed_on="2026-11-20",
                result="pass",
                points=(PointInput.written(100, 100.4, None, "±0.5 %FS", "°C"),),
            ),
        )
        assert (stored.points[0].lower_limit, stored.points[0].upper_limit) == (low, high)
