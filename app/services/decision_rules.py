"""Decision rules: how a reading and its uncertainty become a verdict (issue 14).

ISO/IEC 17025:2017 7.8.6 asks a lab that states conformity to document the decision rule
it used and the risk it accepts; ILAC-G8:09/2019 describes the rules labs use. A leaf
module (it imports only the tolerance limits and the errors): plain values, no Qt, no SQL.

A guard band ``w`` moves each acceptance limit inside its tolerance limit:
``AL = TL − w`` (ILAC G8:2019 4.1). The rules:

- **Simple acceptance**, ``w = 0`` (ILAC G8:2019 4.2.1), also called shared risk: at the
  limit the chance that the true value lies outside is up to 50 %.
- **Guarded acceptance**, ``w = r·U`` for a chosen ``r`` (``r = 1``: ``w = U``), binary
  (ILAC G8:2019 4.2.2: pass or fail) or non-binary (4.2.3: pass, conditional pass,
  conditional fail, fail).
- **Target false-accept probability** ``α``: ``w`` such that, for a reading exactly on the
  acceptance limit, the probability that the true value lies beyond the tolerance limit
  is ``α``, with the true value normally distributed about the reading with standard
  uncertainty ``u = U/k``: ``1 − Φ(w/u) = α``, so ``w = u·Φ⁻¹(1 − α)`` (the specific-risk
  guard band of JCGM 106:2012; its clause number is unchecked here). Only the near limit
  counts, as is usual: the far one is a whole tolerance away. ``w`` is rounded away from
  zero to 3 significant digits, so the probability reached is at most ``α``.

Conventions: a reading exactly on an acceptance limit passes (as ``tolerance.within``
has always judged the tolerance limit); in the non-binary rule a reading exactly on the
tolerance limit is a conditional pass and one exactly on ``TL + w`` a conditional fail
(ILAC's closed intervals ``[TL − w, TL]`` and ``[TL, TL + w]``). A point without ``U``
cannot be guarded: it is judged with ``w = 0`` and its result says so
(``uncertainty_used`` is False), which keeps old records' verdicts as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_UP, Decimal, localcontext
from enum import StrEnum
from statistics import NormalDist

from app.errors import ValidationError
from app.services.tolerance_spec import (
    DECIMAL_CONTEXT,
    Limits,
    as_decimal,
    format_limit,
    format_number,
)

# The coverage factor assumed when a U comes without one (about 95 % coverage).
ASSUMED_K = Decimal(2)
# Significant digits a false-accept guard band is rounded (up) to.
GUARD_BAND_DIGITS = 3
FIELD = "decision rule"


class Verdict(StrEnum):
    """The statement of conformity for one reading (ILAC G8:2019 4.2)."""

    PASS = "pass"
    CONDITIONAL_PASS = "conditional_pass"
    CONDITIONAL_FAIL = "conditional_fail"
    FAIL = "fail"

    @property
    def label(self) -> str:
        """The words a report prints ("conditional pass")."""
        return self.value.replace("_", " ")

    @property
    def conforms(self) -> bool:
        """True for a pass, conditional or not: the reading lies within tolerance."""
        return self in (Verdict.PASS, Verdict.CONDITIONAL_PASS)


class RuleKind(StrEnum):
    """How a rule sets its guard band."""

    SIMPLE = "simple"
    GUARD_BAND = "guard_band"
    FALSE_ACCEPT = "false_accept"


@dataclass(frozen=True)
class AcceptanceLimits:
    """The acceptance limits a rule sets inside a tolerance, and the guard band used.

    ``lower > upper`` (``empty``) when the guard band is wider than half the tolerance:
    no reading can then pass outright.
    """

    tolerance: Limits
    guard_band: Decimal
    uncertainty_used: bool

    @property
    def lower(self) -> Decimal:
        """The lower acceptance limit, ``TL_low + w``."""
        with localcontext(DECIMAL_CONTEXT):
            return self.tolerance.lower + self.guard_band

    @property
    def upper(self) -> Decimal:
        """The upper acceptance limit, ``TL_high − w``."""
        with localcontext(DECIMAL_CONTEXT):
            return self.tolerance.upper - self.guard_band

    @property
    def empty(self) -> bool:
        """True when nothing lies between the acceptance limits."""
        return self.lower > self.upper

    def __str__(self) -> str:
        return f"{format_limit(self.lower)} … {format_limit(self.upper)}"


@dataclass(frozen=True)
class Judgement:
    """A reading's verdict with the acceptance limits it was judged against."""

    verdict: Verdict
    reading: Decimal
    acceptance: AcceptanceLimits


@dataclass(frozen=True)
class DecisionRule:
    """A decision rule, stored as its ``code`` and printed as its ``sentence``.

    ``multiple`` is ``r`` of ``w = r·U``; ``false_accept_percent`` the target ``α`` in
    percent; ``binary`` False gives the conditional verdicts of ILAC G8:2019 4.2.3.
    Build one with the classmethods or :func:`parse_rule`, which check the numbers.
    """

    kind: RuleKind
    multiple: Decimal | None = None
    false_accept_percent: Decimal | None = None
    binary: bool = True

    @classmethod
    def simple(cls) -> DecisionRule:
        """Simple acceptance, ``w = 0`` (shared risk)."""
        return cls(RuleKind.SIMPLE)

    @classmethod
    def guarded(cls, multiple: Decimal | str | int = 1, *, binary: bool = True) -> DecisionRule:
        """Guarded acceptance, ``w = r·U``."""
        r = as_decimal(multiple, FIELD)
        if r <= 0:
            raise ValidationError(
                {FIELD: f"the guard band multiple r must be more than 0, not {r}"}
            )
        return cls(RuleKind.GUARD_BAND, multiple=r, binary=binary)

    @classmethod
    def false_accept(cls, percent: Decimal | str | int, *, binary: bool = True) -> DecisionRule:
        """Guarded acceptance with ``w`` set for a target false-accept probability."""
        p = as_decimal(percent, FIELD)
        if not 0 < p < 50:
            raise ValidationError(
                {FIELD: f"the false-accept probability must be between 0 and 50 %, not {p} %"}
            )
        return cls(RuleKind.FALSE_ACCEPT, false_accept_percent=p, binary=binary)

    # --- words ----------------------------------------------------------------------

    @property
    def code(self) -> str:
        """A short stored form: ``simple``, ``guard r=1 binary``, ``pfa 2.5% conditional``."""
        statement = "binary" if self.binary else "conditional"
        if self.kind is RuleKind.SIMPLE:
            return "simple"
        if self.kind is RuleKind.GUARD_BAND:
            return f"guard r={format_number(_given(self.multiple))} {statement}"
        return f"pfa {format_number(_given(self.false_accept_percent))}% {statement}"

    @property
    def sentence(self) -> str:
        """The rule as a report or certificate states it."""
        if self.kind is RuleKind.SIMPLE:
            return "Simple acceptance (shared risk), w = 0 (ILAC G8:2019 4.2.1)"
        if self.kind is RuleKind.GUARD_BAND:
            r = _given(self.multiple)
            band = "w = U" if r == 1 else f"w = {format_number(r)} U"
        else:
            band = (
                f"w for a {format_number(_given(self.false_accept_percent))} % probability "
                "of false acceptance at the acceptance limit, normal distribution"
            )
        if self.binary:
            return f"Guarded acceptance, {band} (ILAC G8:2019 4.2.2)"
        return (
            "Guarded acceptance with conditional pass and conditional fail, "
            f"{band} (ILAC G8:2019 4.2.3)"
        )

    def __str__(self) -> str:
        return self.sentence

    # --- numbers --------------------------------------------------------------------

    def guard_band(
        self, uncertainty: float | Decimal | None, k: float | Decimal | None = None
    ) -> Decimal | None:
        """``w`` for an expanded uncertainty ``U`` (coverage factor ``k``, 2 if not given).

        0 for simple acceptance; None when the rule needs ``U`` and there is none.
        """
        if self.kind is RuleKind.SIMPLE:
            return Decimal(0)
        if uncertainty is None:
            return None
        big_u = as_decimal(uncertainty, "U")
        if big_u < 0:
            raise ValidationError({"U": f"the uncertainty U cannot be negative ({big_u})"})
        if self.kind is RuleKind.GUARD_BAND:
            with localcontext(DECIMAL_CONTEXT):
                return _given(self.multiple) * big_u
        coverage = ASSUMED_K if k is None else as_decimal(k, "k")
        if coverage <= 0:
            raise ValidationError({"k": f"the coverage factor k must be more than 0 ({coverage})"})
        if big_u == 0:
            return Decimal(0)
        alpha = float(_given(self.false_accept_percent)) / 100
        z = NormalDist().inv_cdf(1 - alpha)
        exact = Decimal(repr(float(big_u) / float(coverage) * z))
        # Away from zero, so the probability reached never exceeds the target.
        quantum = Decimal(1).scaleb(exact.adjusted() - GUARD_BAND_DIGITS + 1)
        return exact.quantize(quantum, rounding=ROUND_UP)

    def acceptance_limits(
        self,
        tolerance: Limits,
        uncertainty: float | Decimal | None,
        k: float | Decimal | None = None,
    ) -> AcceptanceLimits:
        """The acceptance limits inside ``tolerance`` (the tolerance itself without ``U``)."""
        w = self.guard_band(uncertainty, k)
        used = w is not None and self.kind is not RuleKind.SIMPLE
        return AcceptanceLimits(tolerance, w if w is not None else Decimal(0), used)

    def judge(
        self,
        reading: float | Decimal,
        tolerance: Limits,
        uncertainty: float | Decimal | None = None,
        k: float | Decimal | None = None,
    ) -> Judgement:
        """The verdict for ``reading`` against ``tolerance`` under this rule."""
        x = as_decimal(reading, "reading")
        acceptance = self.acceptance_limits(tolerance, uncertainty, k)
        return Judgement(self._verdict(x, acceptance), x, acceptance)

    def _verdict(self, x: Decimal, acceptance: AcceptanceLimits) -> Verdict:
        if not acceptance.empty and acceptance.lower <= x <= acceptance.upper:
            return Verdict.PASS
        if self.binary:
            return Verdict.FAIL
        tol, w = acceptance.tolerance, acceptance.guard_band
        if tol.lower <= x <= tol.upper:
            return Verdict.CONDITIONAL_PASS
        with localcontext(DECIMAL_CONTEXT):
            outer_lower, outer_upper = tol.lower - w, tol.upper + w
        if outer_lower <= x <= outer_upper:
            return Verdict.CONDITIONAL_FAIL
        return Verdict.FAIL


_NUM = r"(\d+(?:\.\d*)?|\.\d+)"
_GUARD = re.compile(rf"guard\s+r\s*=\s*{_NUM}\s+(binary|conditional)")
_PFA = re.compile(rf"pfa\s+{_NUM}\s*%\s+(binary|conditional)")
ACCEPTED_CODES = "simple, guard r=1 binary, guard r=1.5 conditional, pfa 2.5% binary"


def parse_rule(code: str) -> DecisionRule:
    """A rule from its ``code`` (as stored, or as typed on the command line)."""
    text = " ".join(code.split()).lower()
    if text == "simple":
        return DecisionRule.simple()
    if m := _GUARD.fullmatch(text):
        return DecisionRule.guarded(Decimal(m[1]), binary=m[2] == "binary")
    if m := _PFA.fullmatch(text):
        return DecisionRule.false_accept(Decimal(m[1]), binary=m[2] == "binary")
    raise ValidationError({FIELD: f"cannot read {code!r}; write one of {ACCEPTED_CODES}"})


def _given(value: Decimal | None) -> Decimal:
    # The classmethods fill what a kind uses; a hand-built rule that skipped it is a
    # programming error, said plainly rather than as a None arithmetic error.
    if value is None:
        raise TypeError("this decision rule lacks a number its kind needs")
    return value
