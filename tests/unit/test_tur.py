"""Test uncertainty ratio, (upper − lower) / (2·U) as ANSI/NCSL Z540.3 defines it (issue 14)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.errors import ValidationError
from app.services.tolerance_spec import parse_tolerance
from app.services.tur import DEFAULT_MINIMUM_TUR, format_tur, meets_minimum, tur


@pytest.mark.parametrize(
    ("text", "resolution", "nominal", "big_u", "ratio", "shown", "meets_four"),
    [
        # Harper Metrology's guard band example: 10 ± 1 with U = 0.2 is "5 to 1 TUR";
        # by hand 2 / 0.4 = 5
        ("±1", None, 10.0, 0.2, "5", "5.0:1", True),
        # computed by hand: 0.1 / (2 × 0.0125) = 4 exactly, which meets 4:1
        ("±0.05", None, 20.0, 0.0125, "4", "4.0:1", True),
        # computed by hand: 0.1 / 0.0252 = 3.968…, shown cut down to 3.9, below 4:1
        ("±0.05", None, 20.0, 0.0126, "3.968253968253968253968253968", "3.9:1", False),
        # computed by hand: asymmetric span 0.07 / (2 × 0.01) = 3.5
        ("-0.02/+0.05", None, 20.0, 0.01, "3.5", "3.5:1", False),
        # computed by hand: 10 V ±(0.05 % + 2 digits) at 0.001: span 0.014 / 0.0028 = 5
        ("±(0.05 % + 2 digits)", "0.001", 10.0, 0.0014, "5", "5.0:1", True),
        # computed by hand: ±0.1 %rdg at 250 is ±0.25; 0.5 / (2 × 0.05) = 5
        ("±0.1 %rdg", None, 250.0, 0.05, "5", "5.0:1", True),
        # computed by hand: 0.3 / (2 × 0.1) = 1.5 — 0.1 and 0.2 exact in decimals
        ("±0.15", None, 0.1, 0.1, "1.5", "1.5:1", False),
    ],
)
def test_tur_worked_numbers(
    text: str,
    resolution: str | None,
    nominal: float,
    big_u: float,
    ratio: str,
    shown: str,
    meets_four: bool,
) -> None:
    limits = parse_tolerance(text, resolution=resolution).limits(nominal)
    value = tur(limits, big_u)
    assert value == Decimal(ratio)
    assert format_tur(value) == shown
    assert meets_minimum(value) is meets_four


def test_unknown_u_gives_no_tur_and_no_flag() -> None:
    limits = parse_tolerance("±1").limits(10.0)
    assert tur(limits, None) is None
    assert meets_minimum(None) is None
    assert format_tur(None) == ""


@pytest.mark.parametrize("big_u", [0.0, -0.1])
def test_u_must_be_positive(big_u: float) -> None:
    with pytest.raises(ValidationError, match="must be more than 0"):
        tur(parse_tolerance("±1").limits(10.0), big_u)


@pytest.mark.parametrize(
    ("minimum", "ratio", "meets"),
    [("3", "3", True), ("3", "2.99", False), (4, "4", True), ("10", "9.9", False)],
)
def test_a_lab_chosen_minimum(minimum: str | int, ratio: str, meets: bool) -> None:
    assert meets_minimum(Decimal(ratio), minimum) is meets


def test_default_minimum_is_four_to_one() -> None:
    assert meets_minimum(Decimal("3.99")) is False
    assert meets_minimum(Decimal(4)) is True
    assert str(DEFAULT_MINIMUM_TUR) == "4"
