"""Tolerances as people write them: reading, printing and limits with worked numbers (issue 14).

Each limit below is computed by hand from the form's rule (app/services/tolerance_spec.py
states them); the comment on each case shows the arithmetic.
"""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from app.errors import ValidationError
from app.services.tolerance import within
from app.services.tolerance_spec import (
    ACCEPTED_FORMS,
    MeasuringRange,
    ToleranceKind,
    ToleranceSpec,
    format_limit,
    parse_tolerance,
)

RANGE = MeasuringRange.of("-50", "150")
RES = "0.001"


@pytest.mark.parametrize(
    ("text", "kind", "canonical"),
    [
        ("±0.05", ToleranceKind.ABSOLUTE, "±0.05"),
        ("0.05", ToleranceKind.ABSOLUTE, "±0.05"),
        ("+/- 0.050", ToleranceKind.ABSOLUTE, "±0.050"),
        ("+-0.5", ToleranceKind.ABSOLUTE, "±0.5"),
        ("0", ToleranceKind.ABSOLUTE, "±0"),
        ("-0.02/+0.05", ToleranceKind.ASYMMETRIC, "-0.02/+0.05"),
        ("+0.05/-0.02", ToleranceKind.ASYMMETRIC, "-0.02/+0.05"),
        ("\u22120.02 / +0.05", ToleranceKind.ASYMMETRIC, "-0.02/+0.05"),
        ("0/+0.05", ToleranceKind.ASYMMETRIC, "-0/+0.05"),
        ("±0.1 %rdg", ToleranceKind.PERCENT_READING, "±0.1 %rdg"),
        ("0.1%", ToleranceKind.PERCENT_READING, "±0.1 %rdg"),
        ("0.1 % of reading", ToleranceKind.PERCENT_READING, "±0.1 %rdg"),
        ("±0.5 %FS", ToleranceKind.PERCENT_FULL_SCALE, "±0.5 %FS"),
        ("0.5% of full scale", ToleranceKind.PERCENT_FULL_SCALE, "±0.5 %FS"),
        ("±0.5 %span", ToleranceKind.PERCENT_SPAN, "±0.5 %span"),
        ("±(0.05 % + 2 digits)", ToleranceKind.PERCENT_READING_DIGITS, "±(0.05 % + 2 digits)"),
        ("0.05%rdg + 2 dgt", ToleranceKind.PERCENT_READING_DIGITS, "±(0.05 % + 2 digits)"),
        ("±(0.025 % + 1 count)", ToleranceKind.PERCENT_READING_DIGITS, "±(0.025 % + 1 digit)"),
    ],
)
def test_each_written_form_is_read_and_printed(
    text: str, kind: ToleranceKind, canonical: str
) -> None:
    spec = parse_tolerance(text, measuring_range=RANGE, resolution=RES)
    assert spec.kind is kind
    assert spec.text == canonical
    # What was entered is what str() shows (whitespace tidied), so a grid shows it as written.
    assert str(spec) == " ".join(text.split())
    # The canonical form reads back to an equal spec, and prints itself unchanged.
    again = parse_tolerance(canonical, measuring_range=RANGE, resolution=RES)
    assert again == spec
    assert again.text == canonical == str(again)


@pytest.mark.parametrize(
    ("text", "nominal", "lower", "upper"),
    [
        # computed by hand: 10 ± 0.05
        ("±0.05", 10.0, "9.95", "10.05"),
        # computed by hand: 0.1 ± 0.2 in decimals; float arithmetic gives 0.30000000000000004
        ("±0.2", 0.1, "-0.1", "0.3"),
        # computed by hand: 20 − 0.02 and 20 + 0.05
        ("-0.02/+0.05", 20.0, "19.98", "20.05"),
        # computed by hand: one-sided, 5 − 0 and 5 + 0.1
        ("0/+0.1", 5.0, "5", "5.1"),
        # computed by hand: 0.1 % of 250 = 0.25
        ("±0.1 %rdg", 250.0, "249.75", "250.25"),
        # computed by hand: 0.1 % of |−40| = 0.04 (the magnitude of the nominal)
        ("0.1%", -40.0, "-40.04", "-39.96"),
        # computed by hand: full scale of −50…150 is 150; 0.5 % of 150 = 0.75
        ("±0.5 %FS", 100.0, "99.25", "100.75"),
        # computed by hand: span of −50…150 is 200; 0.5 % of 200 = 1.0
        ("±0.5 %span", 0.0, "-1", "1"),
    ],
)
def test_limits_at_a_nominal(text: str, nominal: float, lower: str, upper: str) -> None:
    limits = parse_tolerance(text, measuring_range=RANGE).limits(nominal)
    assert (limits.lower, limits.upper) == (Decimal(lower), Decimal(upper))
    assert (format_limit(limits.lower), format_limit(limits.upper)) == (lower, upper)


@pytest.mark.parametrize(
    ("text", "resolution", "nominal", "lower", "upper"),
    [
        # computed by hand (a 6½-digit DMM's 10 V range written this way):
        # 0.05 % of 10 = 0.005, 2 digits of 0.001 = 0.002, half-width 0.007
        ("±(0.05 % + 2 digits)", "0.001", 10.0, "9.993", "10.007"),
        # computed by hand: 0.025 % of 1 = 0.00025, 3 × 0.0001 = 0.0003, half-width 0.00055
        ("±(0.025 % + 3 digits)", "0.0001", 1.0, "0.99945", "1.00055"),
        # computed by hand: 0.1 % of |−5| = 0.005, 1 × 0.01 = 0.01, half-width 0.015
        ("±(0.1 % + 1 digit)", "0.01", -5.0, "-5.015", "-4.985"),
        # computed by hand: at a nominal of 0 only the digits remain: 5 × 0.01 = 0.05
        ("±(0.5 % + 5 digits)", "0.01", 0.0, "-0.05", "0.05"),
        # computed by hand: 0 % + 4 digits of 0.1 = 0.4
        ("±(0 % + 4 digits)", "0.1", 100.0, "99.6", "100.4"),
    ],
)
def test_percent_of_reading_plus_digits(
    text: str, resolution: str, nominal: float, lower: str, upper: str
) -> None:
    limits = parse_tolerance(text, resolution=resolution).limits(nominal)
    assert (limits.lower, limits.upper) == (Decimal(lower), Decimal(upper))


def test_percent_of_reading_is_taken_of_the_nominal_not_the_reading() -> None:
    """The documented convention: the limits do not move with the reading."""
    spec = parse_tolerance("±(0.05 % + 2 digits)", resolution="0.001")
    # computed by hand: 0.05 % of the nominal 10 is 0.005; of a reading 10.4 it would be 0.0052
    assert spec.limits(10.0).upper == Decimal("10.007")


def test_typed_digits_are_kept_as_typed() -> None:
    spec = parse_tolerance("±0.050")
    assert spec.plus == Decimal("0.050")
    assert spec.text == "±0.050"
    # Equal to the same tolerance written with fewer zeros: equality is by value.
    assert spec == parse_tolerance("0.05")


@pytest.mark.parametrize(
    ("nominal", "tolerance", "reading"),
    [
        (10.0, 0.05, 10.05),  # on the upper limit: float 10.05 − 10.0 is 0.05000000000000071
        (10.0, 0.05, 9.95),  # on the lower limit
        (10.0, 0.05, 10.0501),  # just outside
        (0.1, 0.2, 0.3),  # 0.1 + 0.2 != 0.3 in floats
        (-40.0, 0.1, -40.1),
        (100.0, 0.3, 99.69),
        (5.0, 0.0, 5.0),  # a tolerance of 0 has always been allowed: only the nominal passes
        (5.0, 0.0, 5.001),
    ],
)
def test_absolute_spec_agrees_with_todays_within(
    nominal: float, tolerance: float, reading: float
) -> None:
    """The legacy tolerance column becomes an absolute spec that judges exactly as before."""
    limits = ToleranceSpec.absolute(tolerance).limits(nominal)
    from_spec = limits.lower <= Decimal(repr(reading)) <= limits.upper
    assert from_spec is within(reading, nominal, tolerance)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "a tolerance is needed"),
        ("abc", "cannot read 'abc'"),
        ("-0.05", "cannot read"),
        ("0,05", "with a point"),
        ("0.02/0.05", "give each part its sign"),
        ("+0.02/+0.05", "does not include the nominal"),
        ("-0/+0", "has no width"),
        ("(0.05 % + 2 digits", "cannot read"),
        ("±0.05 V", "cannot read"),
        ("±0.5 %FS", "needs the instrument's range"),
        ("±0.5 %span", "needs the instrument's range"),
        ("±(0.05 % + 2 digits)", "needs the instrument's resolution"),
        ("±(0 % + 0 digits)", "has no width"),
    ],
)
def test_bad_text_says_what_is_wrong_and_what_is_accepted(text: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_tolerance(text)
    assert set(caught.value.fields) == {"tolerance"}
    message = caught.value.fields["tolerance"]
    assert says in message
    if says.startswith(("cannot read", "must be", "give each", "does not", "with a point")):
        assert ACCEPTED_FORMS in message


def test_pure_percent_of_reading_at_zero_is_refused() -> None:
    with pytest.raises(ValidationError, match="no width at a nominal of 0"):
        parse_tolerance("±0.1 %rdg").limits(0.0)


def test_a_range_must_run_upwards_and_a_resolution_be_positive() -> None:
    with pytest.raises(ValidationError, match="must be above its low end"):
        MeasuringRange.of(150, 0)
    with pytest.raises(ValidationError, match="resolution must be more than 0"):
        parse_tolerance("±(0.05 % + 2 digits)", resolution="0")


def test_full_scale_and_span_of_a_range() -> None:
    # computed by hand: ends −50 and 150 → full scale 150, span 200; 0…150 → 150 and 150
    assert (RANGE.full_scale, RANGE.span) == (Decimal(150), Decimal(200))
    zero_based = MeasuringRange.of(0, 150)
    assert (zero_based.full_scale, zero_based.span) == (Decimal(150), Decimal(150))
    # computed by hand: −200…50 has full scale 200 (the larger magnitude)
    assert MeasuringRange.of(-200, 50).full_scale == Decimal(200)


def test_a_negative_absolute_tolerance_is_refused() -> None:
    with pytest.raises(ValidationError, match="must be 0 or more"):
        ToleranceSpec.absolute(-0.05)


def test_a_nan_nominal_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a number"):
        parse_tolerance("±0.05").limits(float("nan"))


SERVICES = Path(__file__).resolve().parents[2] / "app" / "services"


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        ("tolerance_spec", {"app.errors"}),
        ("decision_rules", {"app.errors", "app.services.tolerance_spec"}),
        ("tur", {"app.errors", "app.services.tolerance_spec"}),
    ],
)
def test_the_metrology_modules_are_leaves(module: str, allowed: set[str]) -> None:
    """Pure domain code: no Qt, no SQL, no service but the tolerance spec."""
    tree = ast.parse((SERVICES / f"{module}.py").read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    from_app = {name for name in imported if name.startswith("app")}
    assert from_app == allowed
    assert not {name for name in imported if name.split(".")[0] in ("PySide6", "sqlalchemy")}
