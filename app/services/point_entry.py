"""A measurement point as it is entered: resolved, judged and previewed (issue 14).

One path from what a person types to limits, TUR and verdicts, used both when a
calibration is saved (``CalibrationService``) and while its readings grid is typed in
(the window asks :func:`preview_row` for every row): the grid can then never show a
verdict that saving would not give. No Qt, no SQL.

- :func:`judge_entry` resolves a point's tolerance as written with the instrument's range
  and resolution and judges it under the record's rule (``tolerance.judge_point``).
- :func:`preview_row` reads a grid row's texts (nominal … k, with a decimal comma
  accepted in the number cells) into the :class:`PointInput` Save sends, and judges it.
- :class:`EntryRules` is what judging needs besides the point: the rule, the lab's
  minimum TUR, the instrument's range and resolution (``CalibrationService.entry_rules``
  gives the ones saving uses).
- :func:`rule_choices` lists the decision rules the grid offers, the one in force first;
  :func:`type_rule_choices` the ones a type may name (the lab's default first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal

from app.errors import ValidationError
from app.limits import TOLERANCE_TEXT_LEN, UNIT_LEN
from app.services.decision_rules import DecisionRule, Verdict, parse_rule
from app.services.dto import PointInput
from app.services.tolerance import PointJudgement, judge_point, measuring_range, resolution
from app.services.tolerance_spec import MeasuringRange, as_decimal, parse_tolerance
from app.services.tur import DEFAULT_MINIMUM_TUR, format_tur, meets_minimum

# The rules the grid offers besides the one in force (ILAC G8:2019 4.2.1–4.2.3 and a 2.5 %
# false-accept target, the usual choices); any other rule comes from the lab's setting or
# the instrument's type.
COMMON_RULES = (
    "simple",
    "guard r=1 binary",
    "guard r=1 conditional",
    "pfa 2.5% binary",
    "pfa 2.5% conditional",
)


@dataclass(frozen=True)
class ResolvedPoint:
    """A point's tolerance resolved: the ± stored for older readers, the text as
    written (None for a plain ± number), the limits (None for a plain ± number)."""

    tolerance: float
    tolerance_text: str | None
    lower: float | None
    upper: float | None


def judge_entry(
    p: PointInput,
    rule: DecisionRule,
    *,
    measuring: MeasuringRange | None,
    step: Decimal | None,
) -> tuple[ResolvedPoint, PointJudgement]:
    """Check one entered point, resolve its written tolerance to limits, and judge it.

    ``measuring`` and ``step`` are the instrument's range and resolution (a %FS or
    "+ n digits" tolerance needs them). Raises ValidationError naming the problem.
    """
    values = (p.nominal, p.as_found, p.as_left, p.tolerance, p.uncertainty, p.coverage_factor)
    if any(v is not None and not math.isfinite(v) for v in values):
        raise ValidationError({"point": "readings must be finite numbers"})
    if len(p.unit) > UNIT_LEN:
        raise ValidationError({"point": f"unit is at most {UNIT_LEN} characters"})
    if p.uncertainty is not None and p.uncertainty <= 0:
        raise ValidationError({"U": f"U must be more than 0, not {p.uncertainty:g}"})
    if p.coverage_factor is not None and (p.coverage_factor <= 0 or p.uncertainty is None):
        raise ValidationError(
            {"k": "k must be more than 0, and comes with U (the expanded uncertainty)"}
        )
    written = " ".join(p.tolerance_text.split())
    lower = upper = None
    tolerance = p.tolerance
    if written:
        if len(written) > TOLERANCE_TEXT_LEN:
            raise ValidationError(
                {"tolerance": f"is at most {TOLERANCE_TEXT_LEN} characters as written"}
            )
        spec = parse_tolerance(written, measuring_range=measuring, resolution=step)
        limits = spec.limits(p.nominal)
        lower, upper = float(limits.lower), float(limits.upper)
        # The wider side, for readers that know only ± (reports, older exports);
        # in decimals, so -0.02/+0.05 stores 0.05, not 0.05000000000000071.
        nominal = as_decimal(p.nominal, "nominal")
        tolerance = float(max(nominal - limits.lower, limits.upper - nominal))
    elif p.tolerance < 0:
        raise ValidationError({"tolerance": "tolerance must be zero or more (it is ±)"})
    judged = judge_point(
        rule,
        nominal=p.nominal,
        as_found=p.as_found,
        as_left=p.as_left,
        tolerance=tolerance,
        lower=lower,
        upper=upper,
        uncertainty=p.uncertainty,
        coverage_factor=p.coverage_factor,
    )
    return ResolvedPoint(tolerance, written or None, lower, upper), judged


@dataclass(frozen=True)
class Scale:
    """An instrument's range and resolution, for tolerances in %FS, %span, "+ n digits"."""

    measuring: MeasuringRange | None
    step: Decimal | None


@dataclass(frozen=True)
class EntryRules:
    """What judging a typed point needs besides the point itself: the rule, the lab's
    minimum TUR, the instrument's range and resolution, and whether an indeterminate
    as-found result opens a case (the lab's setting)."""

    rule: DecisionRule
    minimum_tur: Decimal = DEFAULT_MINIMUM_TUR
    measuring: MeasuringRange | None = None
    step: Decimal | None = None
    indeterminate_opens_case: bool = False

    def with_rule(self, rule: DecisionRule) -> EntryRules:
        """The same, judged by ``rule`` (the one chosen in the dialog)."""
        return replace(self, rule=rule)

    @classmethod
    def of(
        cls,
        rule: DecisionRule | str,
        minimum_tur: Decimal = DEFAULT_MINIMUM_TUR,
        *,
        range_text: str = "",
        resolution_text: str = "",
    ) -> EntryRules:
        """The rules for an instrument whose range and resolution are typed as on its form."""
        chosen = parse_rule(rule) if isinstance(rule, str) else rule
        return cls(chosen, minimum_tur, measuring_range(range_text), resolution(resolution_text))


@dataclass(frozen=True)
class RowPreview:
    """What the grid shows for one row, and the point Save sends for it.

    ``point`` is None for an empty row (``empty``) or one that cannot be read
    (``problem`` says why). The texts are empty where there is nothing to show.
    """

    empty: bool = False
    point: PointInput | None = None
    problem: str = ""
    limits: str = ""
    acceptance: str = ""
    tur: str = ""
    tur_low: bool = False
    as_found: Verdict | None = None
    as_left: Verdict | None = None
    found_outside: bool | None = None
    left_outside: bool | None = None

    @property
    def found_indeterminate(self) -> bool:
        """The as-found reading lies inside the tolerance but is not a plain pass."""
        return self.found_outside is False and self.as_found not in (None, Verdict.PASS)

    @property
    def nonconforming(self) -> bool:
        """A verdict of this row is a fail or a conditional fail (no result of pass)."""
        return any(v is not None and not v.conforms for v in (self.as_found, self.as_left))


def read_number(text: str) -> float | None:
    """A number typed in the grid (a decimal comma is read as a point); None if empty.

    Raises ValueError for text that is not a number (or is not finite).
    """
    text = text.strip().replace(",", ".")
    if not text:
        return None
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def preview_row(
    rules: EntryRules,
    nominal: str,
    as_found: str,
    as_left: str,
    tolerance: str,
    unit: str = "",
    uncertainty: str = "",
    coverage_factor: str = "",
) -> RowPreview:
    """Read a grid row's texts into a point and judge it as saving will.

    The tolerance is a plain number (± that much, stored as before issue 14) or any
    written form ``tolerance_spec`` reads. A problem is returned, never raised.
    """
    texts = (nominal, as_found, as_left, tolerance, unit, uncertainty, coverage_factor)
    if not any(t.strip() for t in texts):
        return RowPreview(empty=True)
    numbers: dict[str, float | None] = {}
    bad: list[str] = []
    for name, text in (
        ("nominal", nominal),
        ("as found", as_found),
        ("as left", as_left),
        ("U", uncertainty),
        ("k", coverage_factor),
    ):
        try:
            numbers[name] = read_number(text)
        except ValueError:
            bad.append(name)
    if bad:
        return RowPreview(problem=f"{', '.join(bad)} must be a number")
    nominal_value = numbers["nominal"]
    written = " ".join(tolerance.split())
    given = (("nominal", nominal_value is not None), ("tolerance", bool(written)))
    missing = [name for name, there in given if not there]
    if missing or nominal_value is None:
        return RowPreview(problem=f"{' and '.join(missing)} needed")
    try:
        plain = read_number(written)
    except ValueError:
        plain = None  # a tolerance as written
    found, left = numbers["as found"], numbers["as left"]
    big_u, k = numbers["U"], numbers["k"]
    if plain is not None:
        point = PointInput(nominal_value, found, left, plain, unit.strip(), big_u, k)
    else:
        point = PointInput.written(nominal_value, found, left, written, unit.strip(), big_u, k)
    try:
        _resolved, judged = judge_entry(
            point, rules.rule, measuring=rules.measuring, step=rules.step
        )
    except ValidationError as error:
        return RowPreview(point=None, problem="; ".join(error.fields.values()))
    acceptance = judged.acceptance
    return RowPreview(
        point=point,
        limits=str(judged.tolerance),
        # With w = 0 (simple acceptance, or no U) they are the tolerance limits.
        acceptance="none (w too wide)" if acceptance.empty else str(acceptance),
        tur=format_tur(judged.tur),
        tur_low=meets_minimum(judged.tur, rules.minimum_tur) is False,
        as_found=judged.as_found,
        as_left=judged.as_left,
        found_outside=judged.found_outside,
        left_outside=judged.left_outside,
    )


@dataclass(frozen=True)
class RuleChoice:
    """A decision rule offered in the grid: its code and how it is shown."""

    code: str
    label: str


def rule_choices(in_force: DecisionRule, origin: str) -> list[RuleChoice]:
    """The rule in force first (``origin`` says whose: "lab default", "type X", "record"),
    then the common rules not already listed; each labelled with its sentence."""
    choices = [RuleChoice(in_force.code, f"{in_force.sentence} — {origin}")]
    for code in COMMON_RULES:
        rule = parse_rule(code)
        if rule.code != in_force.code:
            choices.append(RuleChoice(rule.code, rule.sentence))
    return choices


# The code a type stores for "the lab's default rule" (TypeInput.decision_rule None/"").
LAB_DEFAULT_CODE = ""


def type_rule_choices(lab_rule: DecisionRule, current: str | None) -> list[RuleChoice]:
    """The rules a type may name: the lab's default first (code "", whatever the lab's
    rule is when a calibration starts; ``lab_rule`` is today's, shown in its label), the
    type's own rule when it is not a common one, then the common rules the grid offers."""
    choices = [RuleChoice(LAB_DEFAULT_CODE, f"Lab default (now: {lab_rule.sentence})")]
    codes = [parse_rule(code).code for code in COMMON_RULES]
    if current and current not in codes:
        try:
            own = parse_rule(current)
        except ValidationError:
            # Changed outside CalTrack (db verify reports it): shown as stored, so an
            # unrelated save does not silently replace it.
            choices.append(RuleChoice(current, f"{current} (unreadable rule)"))
        else:
            choices.append(RuleChoice(own.code, own.sentence))
    choices.extend(RuleChoice(code, parse_rule(code).sentence) for code in codes)
    return choices
