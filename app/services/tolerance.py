"""Tolerance rules: the verdict of a reading and what a calibration's readings say.

One home for judging a reading, so the calibration views, out-of-tolerance cases and
traceability checks (and the window, which colours readings) judge a reading alike.

Two ways, chosen per point so that nothing recorded before issue 14 is re-judged:

- **A point as recorded before revision 0010** (no U, a plain ± tolerance) is judged by
  :func:`within` as it always was, whatever rule the record names: its verdict is pass
  or fail.
- **Any other point** (a U, or a tolerance written another way) is judged by the
  record's decision rule (``app.services.decision_rules``) against its stored limits.

What a verdict means for the record and its out-of-tolerance case:

- "Out of tolerance" is the reading outside the *tolerance* limits (a fail or a
  conditional fail of the non-binary rules, or a fail of simple acceptance), as it
  always was: such an as-found reading opens a case, whatever the rule.
- "Indeterminate" is a reading inside the tolerance but outside the acceptance limits
  (a conditional pass, or a fail of a binary guarded rule). As found, it opens a case
  only when the lab's setting says so (``indeterminate_opens_case``, off by default).
- A record's result may be "pass" only when every verdict conforms (pass or
  conditional pass); a calibration "left good" is one whose as-left verdicts all
  conform and whose result is not fail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from app.db.models import CalibrationRecord, MeasurementPoint
from app.errors import ValidationError
from app.services.decision_rules import AcceptanceLimits, DecisionRule, Verdict, parse_rule
from app.services.tolerance_spec import Limits, MeasuringRange, as_decimal
from app.services.tur import tur
from app.vocabulary import Result


def within(value: float | None, nominal: float, tolerance: float) -> bool | None:
    """Pass/fail of one reading against ± tolerance; None when there is no reading."""
    if value is None:
        return None
    # A reading exactly on the limit passes; allow for binary rounding of decimals.
    slack = 1e-9 * max(1.0, abs(nominal), abs(tolerance))
    return abs(value - nominal) <= tolerance + slack


@dataclass(frozen=True)
class PointJudgement:
    """One point's limits, TUR and verdicts under its record's rule."""

    acceptance: AcceptanceLimits
    tur: Decimal | None
    as_found: Verdict | None
    as_left: Verdict | None
    # Whether each reading lies outside the tolerance limits (None: no reading).
    found_outside: bool | None
    left_outside: bool | None

    @property
    def tolerance(self) -> Limits:
        """The tolerance limits at the nominal."""
        return self.acceptance.tolerance

    @property
    def found_indeterminate(self) -> bool:
        """The as-found reading is inside the tolerance but not a plain pass."""
        return self.found_outside is False and self.as_found is not Verdict.PASS


def record_rule(code: str | None) -> DecisionRule:
    """The rule a record names; NULL (records before 0010) is simple acceptance."""
    return DecisionRule.simple() if code is None else parse_rule(code)


def judge_point(
    rule: DecisionRule,
    *,
    nominal: float,
    as_found: float | None,
    as_left: float | None,
    tolerance: float,
    lower: float | None = None,
    upper: float | None = None,
    uncertainty: float | None = None,
    coverage_factor: float | None = None,
) -> PointJudgement:
    """Judge one point: stored limits ``lower``/``upper`` when given, else ± tolerance."""
    if lower is not None and upper is not None:
        limits = Limits(as_decimal(lower, "tolerance"), as_decimal(upper, "tolerance"))
    else:
        n, t = as_decimal(nominal, "nominal"), as_decimal(tolerance, "tolerance")
        limits = Limits(n - t, n + t)
    ratio = tur(limits, uncertainty) if uncertainty is not None and uncertainty > 0 else None
    acceptance = rule.acceptance_limits(limits, uncertainty, coverage_factor)
    legacy = uncertainty is None and lower is None

    def verdict(reading: float | None) -> tuple[Verdict | None, bool | None]:
        if reading is None:
            return None, None
        if legacy:
            # Judged exactly as before revision 0010 (float slack included).
            inside = bool(within(reading, nominal, tolerance))
            return (Verdict.PASS if inside else Verdict.FAIL), not inside
        judged = rule.judge(reading, limits, uncertainty, coverage_factor)
        x = judged.reading
        return judged.verdict, not limits.lower <= x <= limits.upper

    found, found_out = verdict(as_found)
    left, left_out = verdict(as_left)
    return PointJudgement(acceptance, ratio, found, left, found_out, left_out)


def judge_stored(point: MeasurementPoint, rule: DecisionRule) -> PointJudgement:
    """:func:`judge_point` of a stored point."""
    return judge_point(
        rule,
        nominal=point.nominal,
        as_found=point.as_found,
        as_left=point.as_left,
        tolerance=point.tolerance,
        lower=point.tolerance_lower,
        upper=point.tolerance_upper,
        uncertainty=point.uncertainty,
        coverage_factor=point.coverage_factor,
    )


def _judged(record: CalibrationRecord) -> list[tuple[int, PointJudgement]]:
    rule = record_rule(record.decision_rule)
    return [(p.seq, judge_stored(p, rule)) for p in sorted(record.points, key=lambda p: p.seq)]


def failed_points(
    record: CalibrationRecord, attr: str, *, indeterminate: bool = False
) -> list[int]:
    """Seq numbers of points whose reading ``attr`` is out of tolerance.

    ``indeterminate``: also those whose as-found reading is indeterminate (see the
    module's notes; as-found only).
    """
    failed = []
    for seq, j in _judged(record):
        outside = j.found_outside if attr == "as_found" else j.left_outside
        if outside or (indeterminate and attr == "as_found" and j.found_indeterminate):
            failed.append(seq)
    return failed


def opens_case(record: CalibrationRecord, *, indeterminate: bool = False) -> bool:
    """True when a calibration found the instrument out of tolerance (or, with
    ``indeterminate``, not surely in tolerance)."""
    return record.result == "fail" or bool(
        failed_points(record, "as_found", indeterminate=indeterminate)
    )


def lab_result(judgements: Sequence[PointJudgement]) -> Result | None:
    """The result the lab's own limits and rule give readings: the one rule by which
    ``CalibrationService`` refuses "pass" for nonconforming readings, and by which a
    provider's certificate is compared on receipt.

    "fail" when an as-left reading (or, without one, the as-found) does not conform;
    "adjusted" when only as-found readings did not; "pass" otherwise. None without
    readings: nothing to judge.
    """
    if not judgements:
        return None
    found_bad = any(j.as_found is not None and not j.as_found.conforms for j in judgements)
    left_bad = any(j.as_left is not None and not j.as_left.conforms for j in judgements)
    if left_bad or (found_bad and all(j.as_left is None for j in judgements)):
        return "fail"
    return "adjusted" if found_bad else "pass"


def left_good(record: CalibrationRecord) -> bool:
    """True when a calibration left the instrument within tolerance (every as-left
    verdict conforms)."""
    return record.result != "fail" and all(
        j.as_left is None or j.as_left.conforms for _, j in _judged(record)
    )


# --- an instrument's range and resolution, as typed on its form ----------------------

_NUMBER = r"[-\u2212]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"\s*({_NUMBER})\s*(?:to|\.\.\.?|…|–)\s*({_NUMBER})(?:\s.*)?", re.IGNORECASE)
_FIRST_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)")


def measuring_range(text: str) -> MeasuringRange | None:
    """The range typed on an instrument ("0 to 150 °C", "-50 … 150"); None if unreadable."""
    m = _RANGE.fullmatch(text)
    if not m:
        return None
    low, high = (as_decimal(v.replace("\u2212", "-"), "range") for v in (m[1], m[2]))
    try:
        return MeasuringRange(low, high)
    except ValidationError:
        return None


def resolution(text: str) -> Decimal | None:
    """The resolution typed on an instrument ("0.01 °C"): its first number, if above 0."""
    m = _FIRST_NUMBER.search(text)
    if not m:
        return None
    step = Decimal(m[0])
    return step if step > 0 else None
