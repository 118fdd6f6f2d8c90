"""Standards feed the uncertainty, and a type's required standard categories (issue 14).

On SQLite only: the offer is read through the one repository query traceability uses
(``latest_valid_on_or_before``, run on both backends by test_oot_and_traceability), the
stated value is three plain columns (both backends in test_migrations' 0013 test), and
the rules tested here are Python, the same on either backend.

The worked example: STD-7, a PRT reference, calibrated on 2026-05-01 at 0, 100 and 200
°C with U = 0.02, 0.03 and 0.05 °C (k = 2), a calibrated span of 0 … 200 °C; it states
U = 0.1 °C (k = 2) on its maker's data sheet. The numbers are made up, but of the size
a PRT's certificate gives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.cli.commands import describe_validation
from app.errors import ValidationError
from app.services.audit import readable_changes
from app.services.calibrations import CATEGORIES
from app.services.dto import (
    CalibrationInput,
    InstrumentChanges,
    InstrumentInput,
    PointInput,
    StatedUncertainty,
    TypeInput,
    TypePointInput,
    instrument_fields,
)
from app.services.instruments import UNCHANGED
from app.services.standard_uncertainty import (
    CalibratedPoint,
    StandardUncertainty,
    combined_offer,
    fill_offered,
    offer_from,
    parse_stated,
)
from app.services.transfer_model import ImportOptions
from tests.conftest import add_thermometer
from tests.integration.helpers import tamper


@pytest.fixture
def backend() -> str:
    """SQLite only (why: the module's docstring)."""
    return "sqlite"


STD7_POINTS = ((0.0, 0.02), (100.0, 0.03), (200.0, 0.05))


def _calibrate(app: CalTrack, tag: str, on: str, points: tuple[tuple[float, float], ...]) -> int:
    view = app.calibrations.add(
        tag,
        CalibrationInput(
            performed_on=on,
            result="pass",
            points=tuple(PointInput(n, n, n, 5.0, "°C", u, 2.0) for n, u in points),
        ),
    )
    return view.id


@pytest.fixture
def std7(app: CalTrack) -> int:
    """STD-7 as in the module's docstring; the id of its calibration of 2026-05-01."""
    add_thermometer(app, "STD-7", category="PRT reference")
    app.instruments.edit(
        "STD-7", InstrumentChanges(), stated=StatedUncertainty(0.1, 2.0, "°C"), reason="data sheet"
    )
    return _calibrate(app, "STD-7", "2026-05-01", STD7_POINTS)


def _offer(app: CalTrack, tags: list[str], day: str, nominal: float, unit: str = "°C") -> object:
    offer = combined_offer(app.calibrations.standard_uncertainties(tags, day), nominal, unit)
    return None if offer is None else (offer.uncertainty, offer.coverage_factor, offer.source)


def test_the_nearest_calibrated_point_within_its_span_then_the_stated_value_then_none(
    app: CalTrack, std7: int
) -> None:
    source = f"from calibration #{std7} of STD-7 (2026-05-01), point"
    # 90 °C: 100 is nearer than 0 (10 against 90): its U.
    assert _offer(app, ["STD-7"], "2026-11-01", 90) == (0.03, 2.0, f"{source} 100 °C")
    # 150 °C: half-way between 100 and 200, a tie: the larger U, 0.05 (conservative).
    assert _offer(app, ["STD-7"], "2026-11-01", 150) == (0.05, 2.0, f"{source} 200 °C")
    # 0 and 200 °C are the span's ends, included.
    assert _offer(app, ["STD-7"], "2026-11-01", 0) == (0.02, 2.0, f"{source} 0 °C")
    # 250 °C is outside 0 … 200: no calibrated point speaks for it; the stated value.
    assert _offer(app, ["STD-7"], "2026-11-01", 250) == (0.1, 2.0, "stated on STD-7")
    # Before its calibration of 2026-05-01 only the stated value is there.
    assert _offer(app, ["STD-7"], "2026-04-30", 100) == (0.1, 2.0, "stated on STD-7")
    # Another unit: neither its points (°C) nor its stated value (°C) speak for kelvin.
    assert _offer(app, ["STD-7"], "2026-11-01", 373.15, "K") is None
    # Without the stated value, 250 °C gets nothing.
    app.instruments.edit("STD-7", InstrumentChanges(), stated=None, reason="data sheet withdrawn")
    assert _offer(app, ["STD-7"], "2026-11-01", 250) is None
    assert app.instruments.get("STD-7").stated_uncertainty is None
    assert app.maintenance.verify(deep=True).problems == []


def test_a_voided_calibration_is_not_used_the_one_before_it_is(app: CalTrack, std7: int) -> None:
    # A newer calibration says U = 0.5 at 100 °C; it is voided (a wrong certificate).
    newer = _calibrate(app, "STD-7", "2026-10-01", ((100.0, 0.5),))
    assert _offer(app, ["STD-7"], "2026-11-01", 100)[0] == 0.5  # type: ignore[index]
    app.calibrations.void(newer, "wrong certificate transcribed")
    assert _offer(app, ["STD-7"], "2026-11-01", 100) == (
        0.03,
        2.0,
        f"from calibration #{std7} of STD-7 (2026-05-01), point 100 °C",
    )
    # Its latest valid calibration has no point in the span of 150 °C: not an older one's.
    latest = _calibrate(app, "STD-7", "2026-10-02", ((100.0, 0.04),))
    assert _offer(app, ["STD-7"], "2026-11-01", 150) == (0.1, 2.0, "stated on STD-7")
    assert _offer(app, ["STD-7"], "2026-11-01", 100)[2].startswith(  # type: ignore[index]
        f"from calibration #{latest} "
    )


def test_several_standards_offer_the_dominant_one_u_over_k_largest(
    app: CalTrack, std7: int
) -> None:
    # STD-8 states U = 0.05 °C at k = 3: u = 0.0167, more than STD-7's 0.03 / 2 = 0.015
    # at 100 °C, though its U is not the larger at every k: u decides, not U.
    add_thermometer(app, "STD-8", category="Dry block")
    app.instruments.edit("STD-8", InstrumentChanges(), stated=StatedUncertainty(0.05, 3.0, "°C"))
    assert _offer(app, ["STD-7", "STD-8"], "2026-11-01", 100) == (
        0.05,
        3.0,
        "stated on STD-8; the largest of 2 standards' offers",
    )
    # At 0 °C STD-7 offers 0.02 (u = 0.01) and STD-8 still 0.0167: STD-8 again. With
    # STD-8 at k = 2 (u = 0.025) against STD-7's 200 °C point 0.05 (u = 0.025): a tie
    # keeps the first standard picked.
    app.instruments.edit("STD-8", InstrumentChanges(), stated=StatedUncertainty(0.05, 2.0, "°C"))
    offer = _offer(app, ["STD-7", "STD-8"], "2026-11-01", 200)
    assert offer == (
        0.05,
        2.0,
        f"from calibration #{std7} of STD-7 (2026-05-01), point 200 °C; "
        "the largest of 2 standards' offers",
    )


def test_fill_offered_never_overwrites_a_typed_u_or_k() -> None:
    std = StandardUncertainty(
        "STD-1", 4, date(2026, 5, 1), (CalibratedPoint(1, 10.0, "V", 0.002, 2.0),), None
    )
    points = (
        PointInput(10.0, 10.001, 10.001, 0.01, "V"),  # filled
        PointInput(10.0, 10.001, 10.001, 0.01, "V", 0.004, 2.0),  # typed: kept
        PointInput(10.0, 10.001, 10.001, 0.01, "V", None, 3.0),  # a k alone: kept
        PointInput(10.0, 10.001, 10.001, 0.01, "mV"),  # no offer in mV
    )
    filled, said = fill_offered(points, [std])
    assert [(p.uncertainty, p.coverage_factor) for p in filled] == [
        (0.002, 2.0),
        (0.004, 2.0),
        (None, 3.0),
        (None, None),
    ]
    assert [(n, o.source) for n, o in said] == [
        (1, "from calibration #4 of STD-1 (2026-05-01), point 10 V")
    ]
    assert offer_from(std, 10.5, "V") is None  # one point: its span is that point


def test_stated_u_is_checked_audited_and_replayed(app: CalTrack) -> None:
    assert parse_stated(" 0,05 : 2 : °C ") == StatedUncertainty(0.05, 2.0, "°C")
    assert parse_stated("0.05") == StatedUncertainty(0.05)
    assert parse_stated("") is None
    for bad, words in (("abc", "VALUE[:K[:UNIT]]"), ("-1", "more than 0"), ("1:0", "k must")):
        with pytest.raises(ValidationError, match=words.replace("[", r"\[")) as info:
            parse_stated(bad)
        # What `instruments add/edit --stated-u` says (exit 2).
        assert describe_validation(info.value).startswith("--stated-u: ")
    add_thermometer(app, "STD-9")
    with pytest.raises(ValidationError):
        app.instruments.edit("STD-9", InstrumentChanges(), stated=StatedUncertainty(0.1, -2))
    with pytest.raises(ValidationError, match="nothing to change"):
        app.instruments.edit("STD-9", InstrumentChanges(), stated=UNCHANGED)
    app.instruments.edit("STD-9", InstrumentChanges(), stated=StatedUncertainty(0.1, 2, "°C"))
    detail = app.instruments.get("STD-9")
    assert detail.stated_uncertainty is not None
    assert detail.stated_uncertainty.text == "0.1 °C (k = 2)"
    # `instruments show` and the window's detail pane list it (instrument_fields).
    assert ("Stated U", "0.1 °C (k = 2)") in instrument_fields(detail)
    (event,) = [e for e in app.instruments.history("STD-9").audit if e.action == "update"]
    assert event.changes == {"stated_uncertainty": [None, [0.1, 2.0, "°C"]]}
    assert readable_changes(event) == [("Stated uncertainty", None, "0.1 °C (k = 2)")]
    # Stated when registered: in the create event, and replayed as well.
    app.instruments.add(
        InstrumentInput(asset_tag="STD-10", description="Gauge block set"),
        stated=StatedUncertainty(0.00005, None, "mm"),
    )
    (made,) = app.instruments.history("STD-10").audit
    assert made.changes["stated_uncertainty"] == [None, [5e-05, None, "mm"]]
    assert ("Stated uncertainty", None, "5e-05 mm") in readable_changes(made)
    assert app.maintenance.verify(deep=True).problems == []


def test_stated_u_changed_behind_caltracks_back_is_found(app: CalTrack, db_url: str) -> None:
    add_thermometer(app, "STD-9")
    app.instruments.edit("STD-9", InstrumentChanges(), stated=StatedUncertainty(0.1, 2, "°C"))
    tamper(db_url, "UPDATE instrument SET stated_uncertainty = 0.01 WHERE asset_tag = 'STD-9'")
    (problem,) = app.maintenance.verify(deep=True).problems
    assert "STD-9" in problem and "stated_uncertainty" in problem


# -- a type's required standard categories ---------------------------------------------


@pytest.fixture
def typed(app: CalTrack, std7: int) -> CalTrack:
    """TH-001 of a type that needs a PRT reference and a dry block; DB-1 is a dry block
    whose category is typed in another case and spacing."""
    app.types.add(
        TypeInput(
            name="Thermometer",
            standard_categories=("PRT reference", "Dry block"),
            points=(TypePointInput(100, "±0.5", "°C"),),
        )
    )
    add_thermometer(app, "TH-001")
    app.instruments.edit("TH-001", InstrumentChanges(), type_name="Thermometer")
    add_thermometer(app, "DB-1", category="dry  BLOCK")
    _calibrate(app, "DB-1", "2026-05-02", ())
    return app


def _record(app: CalTrack, standards: tuple[str, ...], justification: str = "") -> int:
    return app.calibrations.add(
        "TH-001",
        CalibrationInput(
            performed_on="2026-11-01",
            result="pass",
            points=(PointInput(100.0, 100.1, 100.1, 0.5, "°C"),),
            standards=standards,
            standards_justification=justification,
        ),
    ).id


def test_a_missing_required_category_is_refused_unless_justified(typed: CalTrack) -> None:
    for standards, missing in (
        ((), "categories PRT reference, Dry block"),
        (("STD-7",), "category Dry block;"),
    ):
        with pytest.raises(ValidationError) as info:
            _record(typed, standards)
        assert missing in info.value.fields["standards"]
        assert "TH-001's type Thermometer needs a standard" in info.value.fields["standards"]
        assert "give a justification" in info.value.fields["standards"]
    # The live check the window asks says the same, keyed apart from the tags.
    problems = typed.calibrations.standard_problems(["STD-7"], "2026-11-01", instrument="TH-001")
    assert list(problems) == [CATEGORIES] and "Dry block" in problems[CATEGORIES]
    assert typed.calibrations.standard_problems(["STD-7"], "2026-11-01") == {}
    # Both categories covered ("dry  BLOCK" is "Dry block"): saved without a word.
    assert _record(typed, ("STD-7", "DB-1")) > 0
    # Justified, as a standard out of date is: saved, the justification kept.
    record_id = _record(typed, ("STD-7",), "the dry block is at the maker; a stirred bath")
    assert typed.calibrations.get(record_id).standards_justification.startswith("the dry block")


def test_an_import_applies_the_same_category_rule(typed: CalTrack, tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    path.write_text(
        "Asset tag,Performed on,Result,Standards,Standards justification\n"
        "TH-001,2026-11-01,pass,STD-7,\n"
        "TH-001,2026-11-02,pass,STD-7,the dry block was at the maker; a stirred bath\n"
        "TH-001,2026-11-03,pass,STD-7;DB-1,\n",
        encoding="utf-8",
    )
    options = ImportOptions(kind="calibrations")
    preview = typed.transfer.preview(path, options)
    assert preview.error_lines == (2,)
    (issue,) = preview.issues
    assert issue.column == "Standards" and "category Dry block" in issue.message
    result = typed.transfer.import_file(path, replace(options, exclude_lines=frozenset({2})))
    assert result.committed
    assert [str(c.performed_on) for c in typed.calibrations.history("TH-001")] == [
        "2026-11-03",
        "2026-11-02",
    ]
