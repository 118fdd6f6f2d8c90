"""Points with U, k and tolerances as written; the decision rule and TUR on the record
(issue 14), through CalibrationService and the shared settings, on both backends."""

from __future__ import annotations

from datetime import date

import pytest

from app.bootstrap import CalTrack
from app.db.models import CalibrationRecord, MeasurementPoint
from app.errors import NotAllowedError, ValidationError
from app.services.audit import reading_text
from app.services.calibrations import parse_point
from app.services.decision_rules import Verdict
from app.services.dto import CalibrationInput, CalibrationView, PointInput
from app.services.snapshots import signed_record_content
from app.services.tolerance import measuring_range, resolution
from app.services.tolerance_spec import MeasuringRange
from tests.conftest import add_thermometer
from tests.unit.qa_helpers import BOB, open_as

# The worked example of most tests: a thermometer read at 100 °C with a tolerance of
# ±0.5 °C and an expanded uncertainty U = 0.1 °C. Tolerance limits 99.5 … 100.5.
# Guarded acceptance with w = U (ILAC G8:2019 4.2.2 and 4.2.3) moves each acceptance
# limit in by 0.1: 99.6 … 100.4. TUR (ANSI/NCSL Z540.3) = span / 2U = 1.0 / 0.2 = 5.
GUARD_BINARY = "guard r=1 binary"
GUARD_CONDITIONAL = "guard r=1 conditional"


def _add(
    app: CalTrack,
    *points: PointInput,
    result: str = "pass",
    rule: str = "",
    tag: str = "TH-001",
    justification: str = "",
    on: str = "2026-11-01",
) -> CalibrationView:
    return app.calibrations.add(
        tag,
        CalibrationInput(
            performed_on=on,
            result=result,
            points=points,
            decision_rule=rule,
            tur_justification=justification,
        ),
    )


def _point(found: float, left: float | None = None, u: float | None = 0.1) -> PointInput:
    k = None if u is None else 2.0
    return PointInput(100.0, found, found if left is None else left, 0.5, "°C", u, k)


# -- guarded acceptance, w = U -------------------------------------------------------


def test_guarded_binary_point_just_inside_passes_and_just_outside_fails(app: CalTrack) -> None:
    add_thermometer(app)
    # 100.4 lies on the upper acceptance limit (100.5 − 0.1): a pass (on the limit passes).
    inside = _add(app, _point(100.4), rule=GUARD_BINARY)
    p = inside.points[0]
    assert (p.as_found_verdict, p.as_left_verdict) == (Verdict.PASS, Verdict.PASS)
    assert (p.lower_limit, p.upper_limit) == (99.5, 100.5)
    assert (p.acceptance_lower, p.acceptance_upper) == (99.6, 100.4)
    assert (p.guard_band, p.tur, p.tur_text) == (0.1, 5.0, "5.0:1")
    assert (p.uncertainty, p.coverage_factor) == (0.1, 2.0)
    assert inside.decision_rule == GUARD_BINARY
    assert inside.decision_rule_text == "Guarded acceptance, w = U (ILAC G8:2019 4.2.2)"

    # 100.41 is inside the tolerance (≤ 100.5) but beyond the acceptance limit 100.4:
    # under the binary rule a fail, so the record cannot say "pass"...
    with pytest.raises(ValidationError) as refused:
        _add(app, _point(100.41), rule=GUARD_BINARY)
    assert "outside its acceptance limits (99.6 … 100.4)" in refused.value.fields["point 1"]
    # ...and recorded as adjusted it is a fail, not out of tolerance: no case opens.
    adjusted = _add(app, _point(100.41, left=100.0), result="adjusted", rule=GUARD_BINARY)
    assert adjusted.points[0].as_found_verdict is Verdict.FAIL
    assert adjusted.points[0].as_found_pass is True  # within the tolerance all the same
    assert adjusted.oot_case_id is None


def test_guarded_conditional_verdicts_around_both_limits(app: CalTrack) -> None:
    add_thermometer(app)
    # ILAC G8:2019 4.2.3: [AL, TL] conditional pass, (TL, TL + w] conditional fail.
    readings = {
        100.4: Verdict.PASS,  # on the acceptance limit
        100.41: Verdict.CONDITIONAL_PASS,  # just past it, inside the tolerance
        100.5: Verdict.CONDITIONAL_PASS,  # on the tolerance limit
        100.51: Verdict.CONDITIONAL_FAIL,  # just past the tolerance, within TL + w = 100.6
        100.61: Verdict.FAIL,  # beyond TL + w
        99.59: Verdict.CONDITIONAL_PASS,  # just below the lower acceptance limit 99.6
    }
    view = _add(
        app,
        *(_point(found, left=100.0) for found in readings),
        result="adjusted",
        rule=GUARD_CONDITIONAL,
    )
    assert [p.as_found_verdict for p in view.points] == list(readings.values())
    # Within the tolerance: the passes and conditional passes, not the others.
    assert [p.as_found_pass for p in view.points] == [True, True, True, False, False, True]
    # Two readings lie beyond the tolerance: the case opens, as simple acceptance would.
    assert view.oot_case_id is not None
    case = app.oot.get(view.oot_case_id)
    assert [p.seq for p in case.failing_points] == [4, 5]


def test_indeterminate_as_found_opens_a_case_only_when_the_lab_says_so(app: CalTrack) -> None:
    add_thermometer(app)
    app.settings.set_metrology(decision_rule=GUARD_CONDITIONAL)
    # 100.45: inside the tolerance, outside the acceptance limits: a conditional pass.
    quiet = _add(app, _point(100.45, left=100.0), result="adjusted", on="2026-10-01")
    assert quiet.points[0].as_found_verdict is Verdict.CONDITIONAL_PASS
    assert quiet.oot_case_id is None

    app.settings.set_metrology(indeterminate_opens_case=True)
    opened = _add(app, _point(100.45, left=100.0), result="adjusted", on="2026-11-01")
    assert opened.oot_case_id is not None
    case = app.oot.get(opened.oot_case_id)
    assert case.summary.startswith("As found indeterminate (inside the tolerance, outside")
    assert [p.seq for p in case.failing_points] == [1]


def test_a_point_without_u_is_judged_as_before_under_any_rule(app: CalTrack) -> None:
    add_thermometer(app)
    # No U: no guard band can be set, so 100.45 passes (w = 0) and no TUR is known.
    view = _add(app, _point(100.45, u=None), rule=GUARD_BINARY)
    p = view.points[0]
    assert (p.as_found_verdict, p.tur, p.tur_text, p.guard_band) == (Verdict.PASS, None, "", None)
    assert (p.acceptance_lower, p.acceptance_upper) == (99.5, 100.5)


# -- tolerances as written ----------------------------------------------------------


def test_percent_of_reading_plus_digits_resolves_to_known_limits(app: CalTrack) -> None:
    # A 6½-digit DMM on its 20 V range, read at 10 V: ±(0.05 % + 2 digits) with a
    # resolution of 0.001 V is 0.05/100 · 10 + 2 · 0.001 = 0.005 + 0.002 = ±0.007 V,
    # limits 9.993 … 10.007 (tolerance_spec's table). U = 0.0014 V: TUR 0.014 / 0.0028 = 5.
    add_thermometer(app, "DMM-1", range_text="0 to 20 V", resolution_text="0.001 V")
    view = _add(
        app,
        PointInput.written(10.0, 10.006, 10.006, "±(0.05 % + 2 digits)", "V", 0.0014, 2),
        tag="DMM-1",
    )
    p = view.points[0]
    assert p.tolerance_text == "±(0.05 % + 2 digits)"
    assert (p.lower_limit, p.upper_limit) == (9.993, 10.007)
    assert p.tolerance == pytest.approx(0.007)  # the wider side, for ±-only readers
    assert p.tur_text == "5.0:1"
    assert p.as_found_verdict is Verdict.PASS  # simple acceptance, the lab default
    # 10.008 is past 10.007: out of tolerance, so "pass" is refused.
    with pytest.raises(ValidationError) as refused:
        _add(
            app,
            PointInput.written(10.0, 10.008, 10.008, "±(0.05 % + 2 digits)", "V"),
            tag="DMM-1",
        )
    assert "out of tolerance" in refused.value.fields["point 1"]


def test_asymmetric_and_full_scale_tolerances(app: CalTrack) -> None:
    # −0.02/+0.05 at 20: 19.98 … 20.05. ±0.5 %FS of 0 to 150 °C: 0.75, so 49.25 … 50.75.
    add_thermometer(app, range_text="0 to 150 °C")
    view = _add(
        app,
        PointInput.written(20.0, 20.04, 20.04, "-0.02/+0.05", "°C"),
        PointInput.written(50.0, 50.7, 50.7, "±0.5 %FS", "°C"),
    )
    first, second = view.points
    assert (first.lower_limit, first.upper_limit, first.tolerance) == (19.98, 20.05, 0.05)
    assert (second.lower_limit, second.upper_limit) == (49.25, 50.75)
    assert [p.as_found_pass for p in view.points] == [True, True]


def test_a_tolerance_needing_what_the_instrument_lacks_is_refused_naming_the_point(
    app: CalTrack,
) -> None:
    add_thermometer(app)  # no range and no resolution typed
    with pytest.raises(ValidationError) as refused:
        _add(
            app,
            PointInput(20.0, 20.0, 20.0, 0.5),
            PointInput.written(10.0, 10.0, 10.0, "±(0.05 % + 2 digits)"),
        )
    assert "needs the instrument's resolution" in refused.value.fields["point 2"]
    assert app.calibrations.history("TH-001") == []


def test_u_and_k_must_be_positive(app: CalTrack) -> None:
    add_thermometer(app)
    for u, k, field in ((0.0, None, "U must be more than 0"), (0.1, 0.0, "k must be more")):
        with pytest.raises(ValidationError) as refused:
            _add(app, PointInput(100.0, 100.0, 100.0, 0.5, "°C", u, k))
        assert field in refused.value.fields["point 1"]
    with pytest.raises(ValidationError) as unknown:
        _add(app, _point(100.0), rule="guard r=one")
    assert "cannot read 'guard r=one'" in unknown.value.fields["decision_rule"]
    assert app.calibrations.history("TH-001") == []


# -- TUR -------------------------------------------------------------------------------


def test_tur_exactly_four_to_one_needs_no_justification_and_below_it_does(
    app: CalTrack,
) -> None:
    add_thermometer(app)
    # ±0.5 with U = 0.125: TUR = 1.0 / 0.25 = 4 exactly, on the lab's default 4:1.
    on_it = _add(app, _point(100.0, u=0.125), on="2026-10-01")
    assert on_it.points[0].tur == 4.0
    # U = 0.126: 1.0 / 0.252 = 3.968…, cut down to 3.9:1 (never shown as 4.0:1).
    with pytest.raises(ValidationError) as refused:
        _add(app, _point(100.0, u=0.126))
    message = refused.value.fields["tur_justification"]
    assert message.startswith("the TUR of point 1 (3.9:1) is below the lab's minimum of 4:1")
    kept = _add(app, _point(100.0, u=0.126), justification="best standard available; QA ok")
    assert kept.tur_justification == "best standard available; QA ok"
    # A lower lab minimum (3:1) accepts it without one.
    app.settings.set_metrology(minimum_tur="3")
    assert _add(app, _point(100.0, u=0.126), on="2026-11-02").tur_justification == ""


# -- the lab's settings --------------------------------------------------------------


def test_lab_default_rule_is_stored_on_the_record_and_a_later_change_does_not_rejudge(
    app: CalTrack,
) -> None:
    add_thermometer(app)
    before = _add(app, _point(100.45, left=100.0), result="adjusted", on="2026-10-01")
    assert before.decision_rule == "simple"
    assert before.points[0].as_found_verdict is Verdict.PASS
    lab = app.settings.set_metrology(decision_rule="Guard r=1 Binary", minimum_tur="4.5")
    assert (lab.decision_rule.code, str(lab.minimum_tur)) == (GUARD_BINARY, "4.5")
    after = _add(app, _point(100.45, left=100.0), result="adjusted", justification="")
    assert after.decision_rule == GUARD_BINARY
    assert after.points[0].as_found_verdict is Verdict.FAIL
    # The earlier record keeps the rule it was judged by.
    assert app.calibrations.get(before.id).points[0].as_found_verdict is Verdict.PASS
    changes = [e.changes for e in app.audit.search(entity_type="settings")]
    assert changes == [{"decision_rule": [None, GUARD_BINARY], "minimum_tur": [None, "4.5"]}]
    assert app.maintenance.verify(deep=True).problems == []


def test_settings_refuse_bad_values_and_technicians(app: CalTrack, db_url: str) -> None:
    with pytest.raises(ValidationError) as bad:
        app.settings.set_metrology(decision_rule="pfa 60% binary", minimum_tur="0")
    assert "between 0 and 50 %" in bad.value.fields["decision rule"]
    assert "must be more than 0" in bad.value.fields["minimum_tur"]
    app.close()
    with open_as(db_url, BOB, app.clock) as bob, pytest.raises(NotAllowedError):
        bob.settings.set_metrology(minimum_tur="2")


# -- signatures, audit, parsing ------------------------------------------------------


def test_signed_content_of_a_record_without_metrology_is_unchanged() -> None:
    # The content a signature hashed before issue 14: no "metrology" entry, 6-value
    # readings; a stored "simple" and NULL both say simple acceptance.
    old = CalibrationRecord(instrument_id=1, performed_on=date(2026, 1, 5), decision_rule=None)
    old.points = [
        MeasurementPoint(seq=1, nominal=20.0, as_found=20.1, as_left=20.1, tolerance=0.5, unit="°C")
    ]
    old.tur_justification = ""
    content = signed_record_content(old)
    assert "metrology" not in content
    assert content["points"] == [[1, 20.0, 20.1, 20.1, 0.5, "°C"]]
    old.decision_rule = "simple"
    assert signed_record_content(old) == content
    old.points[0].uncertainty = 0.1
    covered = signed_record_content(old)
    assert covered["metrology"]["points"] == [
        [1, 20.0, 20.1, 20.1, 0.5, "°C", 0.1, None, None, None, None, None]
    ]


def test_parse_point_with_u_k_and_written_tolerance() -> None:
    assert parse_point("10:10.006:10.006:±(0.05 % + 2 digits):V:0.0014:2") == PointInput.written(
        10.0, 10.006, 10.006, "±(0.05 % + 2 digits)", "V", 0.0014, 2.0
    )
    assert parse_point("100:100.2::0.5:°C:0.1") == PointInput(
        100.0, 100.2, None, 0.5, "°C", 0.1, None
    )
    for bad, says in (
        ("100:100::0.5:°C:0", "U must be more than 0"),
        ("100:100::0.5:°C:0.1:-2", "k must be more than 0"),
        ("100:100::0.5:°C::2", "k needs U"),
        ("100:100::half:°C", "cannot read 'half'"),
        ("1:2:3:4:5:6:7:8", "must be NOMINAL:AS_FOUND:AS_LEFT:TOLERANCE[:UNIT[:U[:K]]]"),
    ):
        with pytest.raises(ValidationError) as refused:
            parse_point(bad)
        assert says in refused.value.fields["point"], bad


def test_instrument_range_and_resolution_as_typed() -> None:
    assert measuring_range("0 to 150 °C") == MeasuringRange.of("0", "150")
    assert measuring_range("-50 … 150") == MeasuringRange.of("-50", "150")
    assert measuring_range("about 150") is None
    assert measuring_range("150 to 0") is None  # high below low: not a range
    assert str(resolution("0.001 V")) == "0.001"
    assert resolution("") is None


def test_the_audit_trail_reads_a_metrology_reading_in_words() -> None:
    # A 6-value reading reads as it always did; a 12-value one (revision 0010) adds the
    # limits, U with k, and the TUR cut down: 1.0 / 0.252 = 3.968… reads 3.9:1, not 4.0:1.
    assert reading_text([1, 100.0, 100.41, 100.0, 0.5, "°C"]) == (
        "nominal 100 °C, as found 100.41, as left 100, ± 0.5"
    )
    row = [1, 100.0, 100.41, 100.0, 0.5, "°C", 0.126, 2.0, None, None, None, 3.968253968253968]
    assert reading_text(row) == (
        "nominal 100 °C, as found 100.41, as left 100, ± 0.5, U 0.126 (k=2), TUR 3.9:1"
    )
    written = [2, 10.0, 10.006, 10.001, 0.007, "V", None, None, "±(0.05 % + 2 digits)"]
    assert reading_text([*written, 9.993, 10.007, None]) == (
        "nominal 10 V, as found 10.006, as left 10.001, ±(0.05 % + 2 digits) (9.993 … 10.007)"
    )


def test_a_retried_entry_is_recognised_after_the_labs_rule_changed(app: CalTrack) -> None:
    add_thermometer(app)
    entry = CalibrationInput(
        performed_on="2026-11-01", result="pass", points=(_point(100.1),), entry_key="k-1"
    )
    first = app.calibrations.add("TH-001", entry)
    assert first.decision_rule == "simple"
    app.settings.set_metrology(decision_rule=GUARD_BINARY)
    again = app.calibrations.add("TH-001", entry)  # its answer was lost: the same entry
    assert (again.already_saved, again.id, again.decision_rule) == (True, first.id, "simple")
