"""Instrument types: the register, assigning a type, the prefill, audit and replay (issue 14).

Every test runs on SQLite and on the private PostgreSQL server (``app`` / ``db_url``).
Worked numbers are computed by hand in the comments, from the conventions in
``app.services.tolerance_spec``'s docstring.
"""

from __future__ import annotations

import pytest

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.errors import ConflictError, NotAllowedError, NotFoundError, ValidationError
from app.services.decision_rules import DecisionRule, parse_rule
from app.services.dto import (
    CalibrationInput,
    InstrumentChanges,
    InstrumentInput,
    PointInput,
    TypeChanges,
    TypeFieldInput,
    TypeInput,
    TypePointInput,
)
from app.services.point_entry import COMMON_RULES, type_rule_choices
from app.services.types import limits_preview
from tests.conftest import add_thermometer
from tests.integration.helpers import scalar, tamper
from tests.unit.qa_helpers import BOB, QUINN, open_as

THERMOMETER = TypeInput(
    name="Digital thermometer, 0-150 °C",
    description="Handheld probe thermometers",
    default_interval_days=180,
    decision_rule="guard r=1 binary",
    procedure_id="WI-12",
    procedure_revision="C",
    range_low="-50",
    range_high="150",
    resolution="0.01",
    standard_categories=("PRT reference", "Dry block"),
    points=(
        TypePointInput(20, "±0.5", "°C"),
        TypePointInput(100, "±(0.05 % + 2 digits)", "°C"),
        TypePointInput(100, "±0.5 %FS", "°C"),
        TypePointInput(0, "-0.2/+0.3", "°C"),
    ),
    fields=(
        TypeFieldInput("Probe", "choice", True, ("Pt100", "Type K")),
        TypeFieldInput("Probe length mm", "number"),
    ),
)


def _events(db: str) -> int:
    return int(str(scalar(db, "SELECT COUNT(*) FROM audit_event")))


def test_a_type_is_stored_as_written_with_its_limits(app: CalTrack) -> None:
    view = app.types.add(THERMOMETER, reason="new lab method")
    assert view.version == 1
    shown = app.types.get("digital thermometer, 0-150 °c")  # any case finds it
    assert shown == app.types.list()[0]
    assert shown.decision_rule == "guard r=1 binary"
    assert shown.decision_rule_sentence == "Guarded acceptance, w = U (ILAC G8:2019 4.2.2)"
    assert (shown.procedure_id, shown.procedure_revision) == ("WI-12", "C")
    assert shown.standard_categories == ("PRT reference", "Dry block")
    assert [(p.nominal, p.tolerance, p.unit, p.limits) for p in shown.points] == [
        # ±0.5 at 20: 19.5 … 20.5
        (20.0, "±0.5", "°C", "19.5 … 20.5"),
        # 0.05 % of 100 = 0.05, + 2 digits of 0.01 = 0.02: ±0.07
        (100.0, "±(0.05 % + 2 digits)", "°C", "99.93 … 100.07"),
        # full scale of -50…150 is 150; 0.5 % of 150 = 0.75
        (100.0, "±0.5 %FS", "°C", "99.25 … 100.75"),
        # -0.2/+0.3 about 0
        (0.0, "-0.2/+0.3", "°C", "-0.2 … 0.3"),
    ]
    assert [(f.name, f.kind, f.required, f.choices) for f in shown.fields] == [
        ("Probe", "choice", True, ("Pt100", "Type K")),
        ("Probe length mm", "number", False, ()),
    ]
    assert app.maintenance.verify().problems == []


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        (
            TypeInput(name="X", points=(TypePointInput(20, "about half", "°C"),)),
            "point 1",
            "cannot read",
        ),
        (TypeInput(name="X", points=(TypePointInput(20, "±0.5 %FS"),)), "point 1", "range"),
        (TypeInput(name="X", points=(TypePointInput(0, "±0.1 %rdg"),)), "point 1", "no width"),
        (TypeInput(name="X", decision_rule="strict"), "decision_rule", "cannot read"),
        (TypeInput(name="X", fields=(TypeFieldInput("Probe", "colour"),)), "field 1", "kind"),
        (TypeInput(name="X", fields=(TypeFieldInput("Probe", "choice"),)), "field 1", "choices"),
        (TypeInput(name="X", default_interval_days=0), "default_interval_days", "between"),
        (TypeInput(name="X", range_low="10", range_high="5"), "range_high", "above"),
        (TypeInput(name=" "), "name", "required"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    app: CalTrack, db_url: str, bad: TypeInput, field: str, words: str
) -> None:
    before = _events(db_url)
    with pytest.raises(ValidationError) as caught:
        app.types.add(bad)
    assert words in caught.value.fields[field]
    assert app.types.list() == []
    assert _events(db_url) == before


def test_a_look_alike_name_is_refused(app: CalTrack, db_url: str) -> None:
    app.types.add(TypeInput(name="Pressure gauge"))
    before = _events(db_url)
    # Case and a fullwidth letter fold to the same key as asset tags do.
    for twin in ("PRESSURE GAUGE", "Ｐressure gauge"):
        with pytest.raises(ValidationError, match="already the type 'Pressure gauge'"):
            app.types.add(TypeInput(name=twin))
    assert [t.name for t in app.types.list()] == ["Pressure gauge"]
    assert _events(db_url) == before


def test_only_qa_keeps_types_and_technicians_read_them(
    app: CalTrack, db_url: str, clock: FixedClock
) -> None:
    app.types.add(TypeInput(name="Caliper"))
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        with pytest.raises(NotAllowedError, match="only QA reviewers may add instrument types"):
            bob.types.add(TypeInput(name="Micrometer"))
        with pytest.raises(NotAllowedError, match="edit instrument types"):
            bob.types.edit("Caliper", TypeChanges(description="changed"))
        assert [t.name for t in bob.types.list()] == ["Caliper"]
        # A technician assigns types: an instrument edit like any other.
        add_thermometer(bob, "CAL-1")
        assert bob.instruments.edit(
            "CAL-1", InstrumentChanges(), type_name="caliper"
        ).type_name == ("Caliper")


def test_editing_a_type_changes_only_what_comes_next(app: CalTrack) -> None:
    app.types.add(THERMOMETER)
    add_thermometer(app, "TH-1")
    app.instruments.edit(
        "TH-1", InstrumentChanges(), type_name=THERMOMETER.name, custom={"probe": "pt100"}
    )
    recorded = app.calibrations.add(
        "TH-1",
        CalibrationInput(
            performed_on="2026-01-10",
            result="pass",
            points=(PointInput(20, 20.1, 20.1, 0.5, "°C"),),
            # The type requires a PRT reference and a dry block (refused without them).
            standards_justification="checked against the lab's ice point only",
        ),
    )
    edited = app.types.edit(
        THERMOMETER.name,
        TypeChanges(points=(TypePointInput(25, "±0.2", "°C"),), decision_rule=""),
        expected_version=1,
        reason="method revised",
    )
    assert edited.version == 2
    assert edited.decision_rule is None  # back to the lab default
    assert [(p.nominal, p.tolerance) for p in edited.points] == [(25.0, "±0.2")]
    # The record keeps its own readings; the instrument its custom values.
    again = app.calibrations.history("TH-1")[0]
    assert again.points == recorded.points
    assert app.instruments.get("TH-1").custom_fields == {"Probe": "Pt100"}
    assert app.types.prefill("TH-1").points[0].nominal == 25.0
    with pytest.raises(ConflictError):
        app.types.edit(THERMOMETER.name, TypeChanges(description="late"), expected_version=1)
    assert app.maintenance.verify().problems == []


def test_assigning_a_type_checks_the_custom_fields(app: CalTrack, db_url: str) -> None:
    app.types.add(THERMOMETER)
    add_thermometer(app, "TH-1")
    before = _events(db_url)
    with pytest.raises(ValidationError) as missing:
        app.instruments.edit("TH-1", InstrumentChanges(), type_name=THERMOMETER.name)
    assert "required" in missing.value.fields["custom field Probe"]
    with pytest.raises(ValidationError) as wrong:
        app.instruments.edit(
            "TH-1",
            InstrumentChanges(),
            type_name=THERMOMETER.name,
            custom={"Probe": "Type J", "Probe length mm": "long", "Colour": "red"},
        )
    assert set(wrong.value.fields) == {
        "custom field Probe",
        "custom field Probe length mm",
        "custom field Colour",
    }
    with pytest.raises(NotFoundError, match="no instrument type named 'Barometer'"):
        app.instruments.edit("TH-1", InstrumentChanges(), type_name="Barometer")
    assert _events(db_url) == before
    assert app.instruments.get("TH-1").type_name == ""

    detail = app.instruments.edit(
        "TH-1",
        InstrumentChanges(),
        type_name=THERMOMETER.name,
        custom={"PROBE": "type k", "Probe length mm": "150.0"},
    )
    assert detail.type_name == THERMOMETER.name
    assert detail.custom_fields == {"Probe": "Type K", "Probe length mm": "150.0"}
    assert detail.version == 2
    # Removing the type would leave values no field holds: refused until cleared.
    with pytest.raises(ValidationError, match="clear them first"):
        app.instruments.edit("TH-1", InstrumentChanges(), type_name="")
    cleared = app.instruments.edit(
        "TH-1", InstrumentChanges(), type_name="", custom={"Probe": "", "Probe length mm": ""}
    )
    assert (cleared.type_name, cleared.custom_fields) == ("", {})
    assert app.maintenance.verify().problems == []


def test_a_new_instrument_takes_the_type_and_its_default_interval(app: CalTrack) -> None:
    app.types.add(THERMOMETER)
    add_thermometer(app, "REF-0")
    from_type = app.instruments.add(
        instrument_for("TH-2"),
        type_name="digital thermometer, 0-150 °C",
        custom={"Probe": "Pt100"},
        interval_from_type=True,
    )
    assert (from_type.type_name, from_type.calibration_interval_days) == (THERMOMETER.name, 180)
    own = app.instruments.add(
        instrument_for("TH-3"), type_name=THERMOMETER.name, custom={"Probe": "Pt100"}
    )
    assert own.calibration_interval_days == 365  # given (the input's), so kept
    assert app.types.get(THERMOMETER.name).instruments == 2
    assert app.maintenance.verify().problems == []


def test_the_prefill_of_a_new_calibration(app: CalTrack) -> None:
    app.types.add(THERMOMETER)
    add_thermometer(app, "TH-1")
    with pytest.raises(NotFoundError, match="TH-1 has no instrument type"):
        app.types.prefill("TH-1")
    app.instruments.edit(
        "TH-1", InstrumentChanges(), type_name=THERMOMETER.name, custom={"Probe": "Pt100"}
    )
    prefill = app.types.prefill("th-1")
    assert prefill.interval_days == 180  # the type's default, not the instrument's 365
    assert prefill.decision_rule == "guard r=1 binary"
    assert prefill.procedure == "WI-12 rev C"
    assert prefill.standard_categories == ("PRT reference", "Dry block")
    assert [
        (p.nominal, p.tolerance, p.lower_limit, p.upper_limit, p.half_width) for p in prefill.points
    ] == [
        (20.0, "±0.5", "19.5", "20.5", 0.5),
        (100.0, "±(0.05 % + 2 digits)", "99.93", "100.07", 0.07),
        (100.0, "±0.5 %FS", "99.25", "100.75", 0.75),
        (0.0, "-0.2/+0.3", "-0.2", "0.3", None),  # no ± form
    ]
    # Today's PointInput holds a ± tolerance: the asymmetric point is left to `points`.
    assert prefill.point_inputs() == (
        PointInput(20.0, None, None, 0.5, "°C"),
        PointInput(100.0, None, None, 0.07, "°C"),
        PointInput(100.0, None, None, 0.75, "°C"),
    )


def test_verify_finds_a_type_or_an_instruments_type_changed_behind_its_back(
    app: CalTrack, db_url: str
) -> None:
    app.types.add(THERMOMETER)
    add_thermometer(app, "TH-1")
    app.instruments.edit(
        "TH-1", InstrumentChanges(), type_name=THERMOMETER.name, custom={"Probe": "Pt100"}
    )
    app.types.edit(THERMOMETER.name, TypeChanges(procedure_revision="D"))
    assert app.maintenance.verify().problems == []
    tamper(
        db_url,
        "UPDATE type_point SET tolerance = '±5' WHERE seq = 1",
        "UPDATE instrument SET type_id = NULL, custom_fields = '{}'",
    )
    problems = app.maintenance.verify().problems
    assert any(f"instrument_type {THERMOMETER.name}" in p and "points" in p for p in problems), (
        problems
    )
    assert any("instrument TH-1" in p and "custom_fields, type_id" in p for p in problems), problems
    # Text that is no longer JSON, or a rule no longer readable: shown, and reported.
    tamper(
        db_url,
        "UPDATE instrument_type SET standard_categories = '{bad', decision_rule = 'strict'",
    )
    shown = app.types.get(THERMOMETER.name)
    assert shown.standard_categories == ("(unreadable: {bad)",)
    assert shown.decision_rule_sentence.startswith("(unreadable rule 'strict'")
    problems = app.maintenance.verify().problems
    assert any("decision_rule, points, standard_categories" in p for p in problems), problems


def test_qa_may_keep_types(app: CalTrack, db_url: str, clock: FixedClock) -> None:
    app.accounts.set_role(QUINN.user, "qa")
    app.close()
    with open_as(db_url, QUINN, clock) as quinn:
        quinn.types.add(TypeInput(name="Balance", points=(TypePointInput(100, "±0.001", "g"),)))
        quinn.types.edit("Balance", TypeChanges(default_interval_days=90))
        assert quinn.types.get("Balance").default_interval_days == 90
        quinn.types.edit("Balance", TypeChanges(default_interval_days=0))
        assert quinn.types.get("Balance").default_interval_days is None
        assert quinn.maintenance.verify().problems == []


def instrument_for(tag: str) -> InstrumentInput:
    return InstrumentInput(asset_tag=tag, description="Digital thermometer")


def test_the_limits_preview_reads_a_row_as_saving_does() -> None:
    """What the Types dialog shows per row while typing (no database: pure functions).

    By hand: 50 ± 0.5 %FS over 0 … 150 is ± 0.75; 100 ± (0.05 % + 2 digits) with a
    resolution of 0.01 is ± (0.05 + 0.02) = ± 0.07.
    """
    assert limits_preview("20", "±0.5") == "19.5 … 20.5"
    assert limits_preview("50", "0.5 %FS", range_low="0", range_high="150") == "49.25 … 50.75"
    assert limits_preview("100", "±(0.05 % + 2 digits)", resolution="0.01") == "99.93 … 100.07"
    assert limits_preview("1,5", "-0.1/+0.2") == "1.4 … 1.7"  # a decimal comma, as in the grid
    assert (
        limits_preview("50", "0.5 %FS")
        == "±0.5 %FS needs the instrument's range (its low and high ends)"
    )
    assert limits_preview("x", "±1") == "the nominal must be a number (got 'x')"
    assert limits_preview("", "±1") == "give the nominal"
    assert limits_preview("5", " ") == "give the tolerance"
    assert limits_preview("", "") == ""


def test_a_type_offers_the_lab_default_then_its_own_rule_then_the_common_ones() -> None:
    lab = DecisionRule.simple()
    codes = [c.code for c in type_rule_choices(lab, None)]
    assert codes == ["", *(parse_rule(c).code for c in COMMON_RULES)]
    own = type_rule_choices(lab, "guard r=1.5 conditional")
    assert own[0].label.startswith("Lab default (now: Simple acceptance")
    assert own[1].code == "guard r=1.5 conditional" and "w = 1.5 U" in own[1].label
    assert len(type_rule_choices(lab, "guard r=1 binary")) == len(codes), "a common one once"


def test_an_edit_of_only_the_points_or_fields_moves_the_version(app: CalTrack) -> None:
    """The plan lives in rows of its own; an edit of only them must still count as an
    edit of the type, or a second editor's stale save would overwrite it unasked (the
    fixed clock leaves the type's own row unchanged otherwise)."""
    app.types.add(THERMOMETER)
    first = app.types.edit(
        THERMOMETER.name,
        TypeChanges(points=(TypePointInput(25, "±0.2", "°C"),)),
        expected_version=1,
    )
    assert first.version == 2
    second = app.types.edit(
        THERMOMETER.name,
        TypeChanges(fields=(TypeFieldInput("Probe", "text"),)),
        expected_version=2,
    )
    assert second.version == 3
    with pytest.raises(ConflictError):
        app.types.edit(
            THERMOMETER.name,
            TypeChanges(points=(TypePointInput(30, "±0.1", "°C"),)),
            expected_version=2,
        )
    kept = app.types.get(THERMOMETER.name)
    assert [(p.nominal, p.tolerance) for p in kept.points] == [(25.0, "±0.2")]
    assert kept.version == 3
