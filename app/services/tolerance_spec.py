"""Tolerances as people write them, and the limits they give at a nominal (issue 14).

A leaf module: plain values, no Qt, no SQL, no other service. Five forms are read:

==========================  =========================  =================================
form                        written (canonical first)  half-width at nominal N
==========================  =========================  =================================
absolute ±                  ``±0.05``, ``0.05``,       a
                            ``+/-0.05``
asymmetric                  ``-0.02/+0.05``            below b, above a (not symmetric)
% of reading                ``±0.1 %rdg``, ``0.1%``    p/100 · |N|
% of full scale / span      ``±0.5 %FS``,              p/100 · full scale, or
                            ``±0.5 %span``             p/100 · (high − low)
% of reading + digits       ``±(0.05 % + 2 digits)``   p/100 · |N| + n · resolution
==========================  =========================  =================================

Conventions, chosen once here so every caller judges alike:

- **% of reading uses the nominal, not the reading.** The limits are then known before
  anything is measured (the grid and a type's test plan can show them), as-found and
  as-left are judged against the same limits, and the difference is second order:
  0.05 % of a 3 mV error on 10 V is 1.5 µV. A lab that must use the display reading
  (some DMM data sheets say so) changes :meth:`ToleranceSpec.limits`' one line.
- **Full scale** is the larger magnitude of the range's ends (150 for 0…150, and for
  −50…150); **span** is high − low (200 for −50…150).
- **Exact decimals.** The typed numbers are kept as :class:`~decimal.Decimal` with their
  trailing zeros (``0.050`` prints as typed); a float nominal or reading enters through
  :func:`as_decimal`, i.e. its shortest repr (``0.1`` is 0.1, not 0.1000000000000000055…).
  Limits are sums and products of such numbers computed at 28 significant digits, which
  is exact for anything a person types: no rounding happens, and 0.1 ± 0.2 gives
  −0.1 … 0.3, never 0.30000000000000004.
- **What was entered is kept** (``entered``, not part of equality) and is what ``str()``
  shows; ``text`` is the canonical form, which :func:`parse_tolerance` reads back to an
  equal spec.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum
from typing import TypeVar

from app.errors import ValidationError

# 28 digits (Python's default, restated so a changed global context cannot alter limits).
DECIMAL_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)

ACCEPTED_FORMS = (
    "±0.05 (or 0.05), -0.02/+0.05, ±0.1 %rdg (or 0.1%), ±0.5 %FS, ±0.5 %span "
    "or ±(0.05 % + 2 digits)"
)
FIELD = "tolerance"
_T = TypeVar("_T")


class ToleranceKind(StrEnum):
    """Which of the written forms a tolerance is."""

    ABSOLUTE = "absolute"
    ASYMMETRIC = "asymmetric"
    PERCENT_READING = "percent_reading"
    PERCENT_FULL_SCALE = "percent_full_scale"
    PERCENT_SPAN = "percent_span"
    PERCENT_READING_DIGITS = "percent_reading_digits"


def as_decimal(value: float | int | Decimal | str, name: str = "value") -> Decimal:
    """``value`` as an exact Decimal: a float through its shortest repr (``0.1`` → 0.1)."""
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError({name: f"{value} is not a number"})
        number = Decimal(repr(value))
    else:
        try:
            number = Decimal(value)
        except ArithmeticError:
            raise ValidationError({name: f"{value!r} is not a number"}) from None
    if not number.is_finite():
        raise ValidationError({name: f"{value} is not a number"})
    return number


def format_number(value: Decimal) -> str:
    """A decimal without exponent, as typed (``0.050`` stays ``0.050``)."""
    return format(value, "f")


def format_limit(value: Decimal) -> str:
    """A computed limit without trailing zeros or exponent (``10.0500`` → ``10.05``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


@dataclass(frozen=True)
class Limits:
    """Lower and upper tolerance limits (inclusive), in the point's unit."""

    lower: Decimal
    upper: Decimal

    @property
    def span(self) -> Decimal:
        """Upper − lower: the tolerance interval's width."""
        with localcontext(DECIMAL_CONTEXT):
            return self.upper - self.lower

    def __str__(self) -> str:
        return f"{format_limit(self.lower)} … {format_limit(self.upper)}"


@dataclass(frozen=True)
class MeasuringRange:
    """An instrument's range, for tolerances in % of full scale or of span."""

    low: Decimal
    high: Decimal

    def __post_init__(self) -> None:
        if not self.high > self.low:
            raise ValidationError(
                {
                    "range": f"the range's high end ({self.high}) must be above its low end "
                    f"({self.low})"
                }
            )

    @classmethod
    def of(cls, low: float | Decimal | str, high: float | Decimal | str) -> MeasuringRange:
        """A range from typed or stored numbers."""
        return cls(as_decimal(low, "range"), as_decimal(high, "range"))

    @property
    def full_scale(self) -> Decimal:
        """The larger magnitude of the two ends (150 for 0…150 and for −50…150)."""
        return max(abs(self.low), abs(self.high))

    @property
    def span(self) -> Decimal:
        """High − low (200 for −50…150)."""
        with localcontext(DECIMAL_CONTEXT):
            return self.high - self.low


@dataclass(frozen=True)
class ToleranceSpec:
    """A tolerance as written: its form, its numbers as typed, and what it needs.

    ``minus``/``plus`` hold an absolute or asymmetric tolerance (equal for ±),
    ``percent`` the % of the % forms, ``digits`` and ``resolution`` the digits part,
    ``measuring_range`` the range of a %FS or %span tolerance. Build one with
    :func:`parse_tolerance` or the classmethods, which check the numbers.
    """

    kind: ToleranceKind
    minus: Decimal | None = None
    plus: Decimal | None = None
    percent: Decimal | None = None
    digits: int | None = None
    resolution: Decimal | None = None
    measuring_range: MeasuringRange | None = None
    entered: str = field(default="", compare=False)

    # --- construction -------------------------------------------------------------

    @classmethod
    def absolute(cls, half_width: Decimal | float | str, *, entered: str = "") -> ToleranceSpec:
        """± a (today's tolerance column is this form).

        ``±0`` is allowed, as the tolerance column has always allowed it (a reading must
        equal the nominal); every other form needs a width.
        """
        a = as_decimal(half_width, FIELD)
        if a < 0:
            raise _error(f"the tolerance must be 0 or more (it is ±), not {format_number(a)}")
        return cls(ToleranceKind.ABSOLUTE, minus=a, plus=a, entered=entered)

    @classmethod
    def asymmetric(
        cls, minus: Decimal | str, plus: Decimal | str, *, entered: str = ""
    ) -> ToleranceSpec:
        """−b/+a: ``minus`` below the nominal, ``plus`` above (both ≥ 0, not both 0)."""
        below, above = as_decimal(minus, FIELD), as_decimal(plus, FIELD)
        if below < 0 or above < 0 or (below == 0 and above == 0):
            raise _error(f"-{below}/+{above} has no width; {_forms()}")
        return cls(ToleranceKind.ASYMMETRIC, minus=below, plus=above, entered=entered)

    @classmethod
    def percent_of_reading(cls, percent: Decimal | str, *, entered: str = "") -> ToleranceSpec:
        """± p % of the reading (computed on the nominal: see the module's notes)."""
        p = _positive(as_decimal(percent, FIELD), "the percentage")
        return cls(ToleranceKind.PERCENT_READING, percent=p, entered=entered)

    @classmethod
    def percent_of_full_scale(
        cls, percent: Decimal | str, measuring_range: MeasuringRange | None, *, entered: str = ""
    ) -> ToleranceSpec:
        """± p % of full scale; needs the range."""
        p = _positive(as_decimal(percent, FIELD), "the percentage")
        if measuring_range is None:
            raise _error(f"±{p} %FS needs the instrument's range (its low and high ends)")
        return cls(
            ToleranceKind.PERCENT_FULL_SCALE,
            percent=p,
            measuring_range=measuring_range,
            entered=entered,
        )

    @classmethod
    def percent_of_span(
        cls, percent: Decimal | str, measuring_range: MeasuringRange | None, *, entered: str = ""
    ) -> ToleranceSpec:
        """± p % of the range's span; needs the range."""
        p = _positive(as_decimal(percent, FIELD), "the percentage")
        if measuring_range is None:
            raise _error(f"±{p} %span needs the instrument's range (its low and high ends)")
        return cls(
            ToleranceKind.PERCENT_SPAN, percent=p, measuring_range=measuring_range, entered=entered
        )

    @classmethod
    def percent_plus_digits(
        cls,
        percent: Decimal | str,
        digits: int,
        resolution: Decimal | float | str | None,
        *,
        entered: str = "",
    ) -> ToleranceSpec:
        """±(p % of reading + n digits); a digit is one step of ``resolution``."""
        p = as_decimal(percent, FIELD)
        if p < 0 or digits < 0 or (p == 0 and digits == 0):
            raise _error(f"±({p} % + {digits} digits) has no width; {_forms()}")
        if resolution is None:
            raise _error(
                f"±({p} % + {digits} digits) needs the instrument's resolution "
                "(the value of one digit, e.g. 0.001)"
            )
        step = as_decimal(resolution, "resolution")
        if step <= 0:
            raise ValidationError({"resolution": f"the resolution must be more than 0, not {step}"})
        return cls(
            ToleranceKind.PERCENT_READING_DIGITS,
            percent=p,
            digits=digits,
            resolution=step,
            entered=entered,
        )

    # --- reading it ---------------------------------------------------------------

    @property
    def text(self) -> str:
        """The canonical written form; :func:`parse_tolerance` reads it back."""
        kind = self.kind
        if kind is ToleranceKind.ABSOLUTE:
            return f"±{format_number(_given(self.plus))}"
        if kind is ToleranceKind.ASYMMETRIC:
            return f"-{format_number(_given(self.minus))}/+{format_number(_given(self.plus))}"
        p = format_number(_given(self.percent))
        if kind is ToleranceKind.PERCENT_READING:
            return f"±{p} %rdg"
        if kind is ToleranceKind.PERCENT_FULL_SCALE:
            return f"±{p} %FS"
        if kind is ToleranceKind.PERCENT_SPAN:
            return f"±{p} %span"
        n = _given(self.digits)
        return f"±({p} % + {n} {'digit' if n == 1 else 'digits'})"

    def __str__(self) -> str:
        return self.entered or self.text

    def limits(self, nominal: float | Decimal) -> Limits:
        """The lower and upper tolerance limits at ``nominal``.

        % of reading is taken of |nominal| (see the module's notes on why not the
        reading); a pure % of reading at a nominal of 0 has no width and is refused.
        """
        n = as_decimal(nominal, "nominal")
        with localcontext(DECIMAL_CONTEXT):
            below, above = self._widths(n)
            return Limits(n - below, n + above)

    def _widths(self, nominal: Decimal) -> tuple[Decimal, Decimal]:
        kind = self.kind
        if kind in (ToleranceKind.ABSOLUTE, ToleranceKind.ASYMMETRIC):
            return _given(self.minus), _given(self.plus)
        share = _given(self.percent) / 100
        if kind is ToleranceKind.PERCENT_READING:
            if nominal == 0:
                raise _error(
                    f"{self} has no width at a nominal of 0; add digits "
                    "(±(0.05 % + 2 digits)) or give an absolute tolerance"
                )
            width = share * abs(nominal)
        elif kind is ToleranceKind.PERCENT_FULL_SCALE:
            width = share * _given(self.measuring_range).full_scale
        elif kind is ToleranceKind.PERCENT_SPAN:
            width = share * _given(self.measuring_range).span
        else:
            width = share * abs(nominal) + _given(self.digits) * _given(self.resolution)
        return width, width


# --- the parser ----------------------------------------------------------------------

_NUM = r"(\d+(?:\.\d*)?|\.\d+)"
_PM = r"(?:±\s*)?"
_ABSOLUTE = re.compile(rf"{_PM}{_NUM}")
_ASYMMETRIC = re.compile(rf"([+-]?)\s*{_NUM}\s*/\s*([+-]?)\s*{_NUM}")
_READING_WORDS = r"(?:rdg|rd|reading|of\s+reading|of\s+rdg)"
_PERCENT_READING = re.compile(rf"{_PM}{_NUM}\s*%\s*{_READING_WORDS}?")
_PERCENT_FS = re.compile(
    rf"{_PM}{_NUM}\s*%\s*(?:fs|f\.s\.|of\s+fs|full\s+scale|of\s+full\s+scale|of\s+f\.s\.)"
)
_PERCENT_SPAN = re.compile(rf"{_PM}{_NUM}\s*%\s*(?:span|of\s+span)")
_DIGIT_WORDS = r"(?:digits?|dgts?|dgt|d|counts?|cts?|lsd)"
_PERCENT_DIGITS = re.compile(
    rf"{_PM}(\(?)\s*{_NUM}\s*%\s*{_READING_WORDS}?\s*\+\s*(\d+)\s*{_DIGIT_WORDS}\s*(\)?)"
)


def parse_tolerance(
    text: str,
    *,
    measuring_range: MeasuringRange | None = None,
    resolution: Decimal | float | str | None = None,
) -> ToleranceSpec:
    """Read a tolerance as a person writes it (the forms in the module's table).

    ``measuring_range`` is needed by %FS and %span, ``resolution`` by "+ n digits";
    either is ignored by forms that do not use it. Raises ValidationError (field
    ``tolerance``) naming the accepted forms.
    """
    entered = " ".join(text.split())
    # One spelling for the signs people type: the minus sign, +/- and +-.
    norm = entered.replace("\u2212", "-").replace("+/-", "±").replace("+-", "±").lower()
    if not norm:
        raise _error(f"a tolerance is needed; write {ACCEPTED_FORMS}")
    if "," in norm:
        raise _error(f"write decimals with a point (0.05, not 0,05); {_forms()}")
    if m := _ABSOLUTE.fullmatch(norm):
        return ToleranceSpec.absolute(Decimal(m[1]), entered=entered)
    if m := _ASYMMETRIC.fullmatch(norm):
        return _asymmetric(m[1], m[2], m[3], m[4], entered)
    if m := _PERCENT_READING.fullmatch(norm):
        return ToleranceSpec.percent_of_reading(Decimal(m[1]), entered=entered)
    if m := _PERCENT_FS.fullmatch(norm):
        return ToleranceSpec.percent_of_full_scale(Decimal(m[1]), measuring_range, entered=entered)
    if m := _PERCENT_SPAN.fullmatch(norm):
        return ToleranceSpec.percent_of_span(Decimal(m[1]), measuring_range, entered=entered)
    if (m := _PERCENT_DIGITS.fullmatch(norm)) and bool(m[1]) == bool(m[4]):
        return ToleranceSpec.percent_plus_digits(
            Decimal(m[2]), int(m[3]), resolution, entered=entered
        )
    raise _error(f"cannot read {entered!r}; {_forms()}")


def _asymmetric(sign_a: str, a: str, sign_b: str, b: str, entered: str) -> ToleranceSpec:
    first, second = Decimal(a), Decimal(b)
    # Each non-zero part carries its sign, so 0.02/0.05 is not silently read one way.
    if (first != 0 and not sign_a) or (second != 0 and not sign_b):
        raise _error(f"{entered!r}: give each part its sign, as in -0.02/+0.05; {_forms()}")
    values = [first if sign_a != "-" else -first, second if sign_b != "-" else -second]
    low, high = min(values), max(values)
    if low > 0 or high < 0:
        raise _error(
            f"{entered!r} does not include the nominal: one part must be minus (or 0) "
            f"and the other plus (or 0); {_forms()}"
        )
    return ToleranceSpec.asymmetric(-low, high, entered=entered)


def _forms() -> str:
    return f"write one of {ACCEPTED_FORMS}"


def _error(message: str) -> ValidationError:
    return ValidationError({FIELD: message})


def _positive(value: Decimal, what: str) -> Decimal:
    if value <= 0:
        raise _error(f"{what} must be more than 0, not {format_number(value)}; {_forms()}")
    return value


def _given(value: _T | None) -> _T:
    # The constructors fill every field a kind uses; a hand-built spec that skipped one
    # is a programming error, reported plainly rather than as a None arithmetic error.
    if value is None:
        raise TypeError("this tolerance spec lacks a field its kind needs")
    return value
