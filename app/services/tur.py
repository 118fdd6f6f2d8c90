"""Test uncertainty ratio of a measurement point, and the check against a minimum (issue 14).

TUR as ANSI/NCSL Z540.3 defines it: the span of the tolerance over twice the expanded
uncertainty of the calibration, ``(upper − lower) / (2·U)``; for a symmetric ± a
tolerance that is ``a / U``. A leaf module (only the tolerance limits and the errors).

Conventions:

- ``U`` is taken as reported. Z540.3 means the 95 % expanded uncertainty; a U stated
  with ``k`` above 2 usually reaches 95 % with few degrees of freedom, so rescaling it by
  ``k`` would be wrong, and no ``k`` is asked for here.
- No ``U`` means no TUR (None), never a number: an old point without U is "unknown", not
  "infinitely good". ``U`` of 0 or less is refused: the entry forms must not let it in.
- The ratio is exact (decimal, 28 digits); :func:`format_tur` cuts it *down* to one
  decimal, so a point flagged below 4:1 never prints as "4.0:1".
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal, localcontext

from app.errors import ValidationError
from app.services.tolerance_spec import DECIMAL_CONTEXT, Limits, as_decimal

# The lab default minimum TUR (4:1, the customary figure behind Z540.3's 2 % rule).
DEFAULT_MINIMUM_TUR = Decimal(4)


def tur(tolerance: Limits, uncertainty: float | Decimal | None) -> Decimal | None:
    """``(upper − lower) / (2·U)``; None when ``U`` is unknown."""
    if uncertainty is None:
        return None
    big_u = as_decimal(uncertainty, "U")
    if big_u <= 0:
        raise ValidationError({"U": f"the uncertainty U must be more than 0, not {big_u}"})
    with localcontext(DECIMAL_CONTEXT):
        return tolerance.span / (2 * big_u)


def meets_minimum(
    ratio: Decimal | None, minimum: Decimal | int | str = DEFAULT_MINIMUM_TUR
) -> bool | None:
    """True when ``ratio`` ≥ ``minimum`` (a ratio exactly on it is enough); None if unknown."""
    if ratio is None:
        return None
    return ratio >= as_decimal(minimum, "minimum TUR")


def format_tur(ratio: Decimal | None) -> str:
    """``4.0:1`` (one decimal, cut down), or an empty string when unknown."""
    if ratio is None:
        return ""
    return f"{ratio.quantize(Decimal('0.1'), rounding=ROUND_DOWN)}:1"
