"""Decision rules of ILAC G8:2019 with worked numbers: inside, on and just outside (issue 14).

Sources of the worked examples:

- ``10 ± 1, U = 0.2`` (TUR 5:1): the example Harper Metrology uses for guard bands of
  0.83 U, 1 U, 1.5 U and 3 U (post of 24 Oct 2024); the limits are computed by hand from
  ILAC G8:2019 4.1 (``AL = TL − w``).
- Micrometer ``MPE ±0.003 mm, U = 0.0010 mm → AL ±0.002 mm``, deviations 0.0017 and
  0.0025 mm: talalspecialbolt.com, "ILAC-G8 decision rule and guard banding"; the four
  zones are ILAC G8:2019 4.2.3 (Figure 5, shown there for w = U).
- The false-accept rule is checked against ``statistics.NormalDist`` directly.
"""

from __future__ import annotations

from decimal import Decimal
from statistics import NormalDist

import pytest

from app.errors import ValidationError
from app.services.decision_rules import (
    DecisionRule,
    RuleKind,
    Verdict,
    parse_rule,
)
from app.services.tolerance_spec import Limits, parse_tolerance

P, CP, CF, F = Verdict.PASS, Verdict.CONDITIONAL_PASS, Verdict.CONDITIONAL_FAIL, Verdict.FAIL
TEN_PM_ONE = parse_tolerance("±1").limits(10.0)
HARPER_U = 0.2


@pytest.mark.parametrize(
    ("rule", "acceptance", "readings"),
    [
        # ILAC G8:2019 4.2.1, w = 0: AL = TL = 9 … 11
        (
            DecisionRule.simple(),
            ("9", "11"),
            [(10.99, P), (11.0, P), (11.01, F), (9.01, P), (9.0, P), (8.99, F)],
        ),
        # ILAC G8:2019 4.2.2, w = U = 0.2: AL = 9.2 … 10.8 (computed by hand)
        (
            DecisionRule.guarded(1),
            ("9.2", "10.8"),
            [(10.79, P), (10.8, P), (10.81, F), (9.21, P), (9.2, P), (9.19, F), (11.5, F)],
        ),
        # w = 1.5 U = 0.3 (Harper's "3 sigma" band): AL = 9.3 … 10.7 (computed by hand)
        (
            DecisionRule.guarded("1.5"),
            ("9.3", "10.7"),
            [(10.69, P), (10.7, P), (10.71, F), (9.31, P), (9.3, P), (9.29, F)],
        ),
        # w = 0.83 U = 0.166 (Harper, after ISO 14253-1): AL = 9.166 … 10.834
        (
            DecisionRule.guarded("0.83"),
            ("9.166", "10.834"),
            [(10.833, P), (10.834, P), (10.835, F), (9.167, P), (9.166, P), (9.165, F)],
        ),
        # w = 3 U = 0.6 (Harper's "6 sigma" band): AL = 9.6 … 10.4
        (
            DecisionRule.guarded(3),
            ("9.6", "10.4"),
            [(10.39, P), (10.4, P), (10.41, F), (9.61, P), (9.6, P), (9.59, F)],
        ),
    ],
)
def test_binary_rules_inside_on_and_outside_the_acceptance_limits(
    rule: DecisionRule, acceptance: tuple[str, str], readings: list[tuple[float, Verdict]]
) -> None:
    limits = rule.acceptance_limits(TEN_PM_ONE, HARPER_U)
    assert (limits.lower, limits.upper) == (Decimal(acceptance[0]), Decimal(acceptance[1]))
    got = [(x, rule.judge(x, TEN_PM_ONE, HARPER_U).verdict) for x in readings_of(readings)]
    assert got == readings


def readings_of(pairs: list[tuple[float, Verdict]]) -> list[float]:
    return [x for x, _ in pairs]


MICROMETER = parse_tolerance("±0.003").limits(0.0)


@pytest.mark.parametrize(
    ("deviation", "verdict"),
    [
        (0.0017, P),  # talalspecialbolt case 1: 0.0017 + 0.0010 ≤ 0.003
        (0.0025, CP),  # case 2: within MPE, but 0.0025 + 0.0010 > 0.003
        (0.0035, CF),  # case 3: beyond MPE, but 0.0035 − 0.0010 < 0.003
        (0.0045, F),  # case 4: 0.0045 − 0.0010 > 0.003
        (0.002, P),  # on AL = TL − w
        (0.0021, CP),  # just past AL
        (0.003, CP),  # on TL: ILAC's [TL − w, TL] is closed
        (0.0031, CF),  # just past TL
        (0.004, CF),  # on TL + w: ILAC's [TL, TL + w] is closed
        (0.0041, F),  # just past TL + w
        (-0.002, P),  # the lower side mirrors the upper
        (-0.0021, CP),
        (-0.0031, CF),
        (-0.0041, F),
    ],
)
def test_non_binary_guard_band_gives_the_four_verdicts(deviation: float, verdict: Verdict) -> None:
    rule = DecisionRule.guarded(1, binary=False)
    judged = rule.judge(deviation, MICROMETER, 0.0010)
    assert judged.verdict is verdict
    assert (judged.acceptance.lower, judged.acceptance.upper) == (
        Decimal("-0.002"),
        Decimal("0.002"),
    )


@pytest.mark.parametrize(
    ("percent", "big_u", "k", "band"),
    [
        # computed by hand: u = 0.2/2 = 0.1; z(97.5 %) = 1.959964; w = 0.1959964 → 0.196
        ("2.5", 0.2, 2, "0.196"),
        # u = 0.1/2 = 0.05; z(95 %) = 1.644854; w = 0.0822427 → 0.0823 (rounded up)
        ("5", 0.1, 2, "0.0823"),
        # u = 0.3/3 = 0.1; z(99.865 %) = 3.000; w = 0.3000 (the "3 sigma" band)
        ("0.135", 0.3, 3, "0.300"),
        # k not given: 2 is assumed, as for the first case
        ("2.5", 0.2, None, "0.196"),
        # u = 0.05/1 (a U stated at k = 1); z(99 %) = 2.326348; w = 0.1163174 → 0.117
        ("1", 0.05, 1, "0.117"),
    ],
)
def test_false_accept_guard_band_against_the_normal_distribution(
    percent: str, big_u: float, k: int | None, band: str
) -> None:
    rule = DecisionRule.false_accept(percent)
    w = rule.guard_band(big_u, k)
    assert w is not None
    assert w == Decimal(band)
    # The defining property: a true value ~ N(reading, u) with the reading on the upper
    # acceptance limit lies beyond the tolerance limit with probability at most α (w is
    # rounded up to 3 significant digits, which costs at most a few % of α).
    u = big_u / (k or 2)
    acceptance = rule.acceptance_limits(TEN_PM_ONE, big_u, k)
    beyond = 1 - NormalDist(float(acceptance.upper), u).cdf(float(TEN_PM_ONE.upper))
    alpha = float(percent) / 100
    assert alpha * 0.95 < beyond <= alpha
    below = NormalDist(float(acceptance.lower), u).cdf(float(TEN_PM_ONE.lower))
    assert below == pytest.approx(beyond, rel=1e-9)
    # And w is u·Φ⁻¹(1 − α) rounded up by less than one step in its 3rd significant digit.
    exact = u * NormalDist().inv_cdf(1 - alpha)
    step = float(Decimal(1).scaleb(w.adjusted() - 2))
    assert exact <= float(w) < exact + step


@pytest.mark.parametrize(
    ("reading", "verdict"),
    [(10.803, P), (10.804, P), (10.805, F), (9.197, P), (9.196, P), (9.195, F)],
)
def test_false_accept_rule_inside_on_and_outside(reading: float, verdict: Verdict) -> None:
    """computed by hand: 10 ± 1, U = 0.2, k = 2, α = 2.5 %: w = 0.196, AL = 9.196 … 10.804."""
    assert DecisionRule.false_accept("2.5").judge(reading, TEN_PM_ONE, 0.2, 2).verdict is verdict


@pytest.mark.parametrize(
    ("reading", "verdict"),
    [(10.80, P), (10.81, CP), (11.0, CP), (11.19, CF), (11.2, F), (8.9, CF), (8.8, F)],
)
def test_false_accept_rule_non_binary(reading: float, verdict: Verdict) -> None:
    """computed by hand: w = 0.196 → conditional pass up to 11, conditional fail to 11.196."""
    rule = DecisionRule.false_accept("2.5", binary=False)
    assert rule.judge(reading, TEN_PM_ONE, 0.2, 2).verdict is verdict


def test_w_equal_to_u_keeps_false_acceptance_under_two_and_a_half_percent() -> None:
    """Labs quote "w = U: PFA < 2.5 %" (e.g. SGS/TLA decision rule page, citing ILAC G8).

    With k = 2, u = U/2 and a reading on AL = TL − U sits 2u inside: 1 − Φ(2) = 2.275 %.
    """
    accepted = DecisionRule.guarded(1).acceptance_limits(TEN_PM_ONE, HARPER_U)
    beyond = 1 - NormalDist(float(accepted.upper), HARPER_U / 2).cdf(11.0)
    assert beyond == pytest.approx(0.02275, abs=1e-5)
    assert beyond < 0.025


def test_asymmetric_tolerance_is_guarded_on_each_side() -> None:
    """computed by hand: 20 −0.02/+0.05 → 19.98 … 20.05; w = U = 0.01 → 19.99 … 20.04."""
    tolerance = parse_tolerance("-0.02/+0.05").limits(20.0)
    rule = DecisionRule.guarded(1)
    assert str(rule.acceptance_limits(tolerance, 0.01)) == "19.99 … 20.04"
    verdicts = [rule.judge(x, tolerance, 0.01).verdict for x in (19.989, 19.99, 20.04, 20.041)]
    assert verdicts == [F, P, P, F]


def test_percent_plus_digits_tolerance_is_guarded() -> None:
    """computed by hand: 10 V ±(0.05 % + 2 digits), 0.001 V → 9.993 … 10.007; U = 0.0015
    → AL 9.9945 … 10.0055."""
    tolerance = parse_tolerance("±(0.05 % + 2 digits)", resolution="0.001").limits(10.0)
    rule = DecisionRule.guarded(1)
    assert str(rule.acceptance_limits(tolerance, 0.0015)) == "9.9945 … 10.0055"
    verdicts = [rule.judge(x, tolerance, 0.0015).verdict for x in (10.0055, 10.0056)]
    assert verdicts == [P, F]


@pytest.mark.parametrize(
    "rule",
    [DecisionRule.guarded(1), DecisionRule.guarded(2, binary=False), DecisionRule.false_accept(5)],
)
def test_a_point_without_u_is_judged_as_before(rule: DecisionRule) -> None:
    """Old points have no U: no guard band, the tolerance limits decide, and it says so."""
    acceptance = rule.acceptance_limits(TEN_PM_ONE, None)
    assert acceptance.guard_band == 0
    assert acceptance.uncertainty_used is False
    assert (acceptance.lower, acceptance.upper) == (Decimal(9), Decimal(11))
    verdicts = [rule.judge(x, TEN_PM_ONE).verdict for x in (11.0, 11.01)]
    assert verdicts == [P, F]


def test_a_guard_band_wider_than_half_the_tolerance_passes_nothing_outright() -> None:
    """computed by hand: ±0.1 with U = 0.2: AL = 10.1 … 9.9, an empty acceptance zone."""
    tolerance = Limits(Decimal("9.9"), Decimal("10.1"))
    acceptance = DecisionRule.guarded(1).acceptance_limits(tolerance, 0.2)
    assert acceptance.empty
    assert DecisionRule.guarded(1).judge(10.0, tolerance, 0.2).verdict is F
    assert DecisionRule.guarded(1, binary=False).judge(10.0, tolerance, 0.2).verdict is CP


@pytest.mark.parametrize(
    ("rule", "code", "sentence"),
    [
        (
            DecisionRule.simple(),
            "simple",
            "Simple acceptance (shared risk), w = 0 (ILAC G8:2019 4.2.1)",
        ),
        (
            DecisionRule.guarded(1),
            "guard r=1 binary",
            "Guarded acceptance, w = U (ILAC G8:2019 4.2.2)",
        ),
        (
            DecisionRule.guarded("1.5"),
            "guard r=1.5 binary",
            "Guarded acceptance, w = 1.5 U (ILAC G8:2019 4.2.2)",
        ),
        (
            DecisionRule.guarded(1, binary=False),
            "guard r=1 conditional",
            "Guarded acceptance with conditional pass and conditional fail, w = U "
            "(ILAC G8:2019 4.2.3)",
        ),
        (
            DecisionRule.false_accept("2.5"),
            "pfa 2.5% binary",
            "Guarded acceptance, w for a 2.5 % probability of false acceptance at the "
            "acceptance limit, normal distribution (ILAC G8:2019 4.2.2)",
        ),
    ],
)
def test_rule_code_and_sentence(rule: DecisionRule, code: str, sentence: str) -> None:
    assert rule.code == code
    assert rule.sentence == sentence == str(rule)
    assert parse_rule(code) == rule
    assert parse_rule(code.upper().replace(" ", "  ")) == rule


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: parse_rule("guarded"), "cannot read 'guarded'"),
        (lambda: parse_rule("guard r=0 binary"), "must be more than 0"),
        (lambda: parse_rule("pfa 50% binary"), "between 0 and 50 %"),
        (lambda: DecisionRule.false_accept(0), "between 0 and 50 %"),
        (lambda: DecisionRule.guarded(1).guard_band(-0.1), "cannot be negative"),
        (lambda: DecisionRule.false_accept(5).guard_band(0.1, 0), "k must be more than 0"),
    ],
)
def test_bad_rules_and_numbers_are_refused(make: object, says: str) -> None:
    assert callable(make)
    with pytest.raises(ValidationError, match=says):
        make()


def test_verdict_words_and_conformity() -> None:
    assert [v.label for v in Verdict] == ["pass", "conditional pass", "conditional fail", "fail"]
    assert [v.conforms for v in Verdict] == [True, True, False, False]
    assert DecisionRule.simple().kind is RuleKind.SIMPLE
