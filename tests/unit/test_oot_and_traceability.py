"""Out-of-tolerance cases with reverse traceability, and the standards rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.db.models import OOT_DISPOSITIONS
from app.errors import NotAllowedError, ValidationError
from app.services.dto import CalibrationInput, InstrumentChanges
from app.services.oot import DISPOSITION_LABELS
from app.services.transfer_model import ImportOptions
from tests.conftest import add_thermometer
from tests.unit.qa_helpers import (
    ALICE,
    BOB,
    PASSWORD,
    QUINN,
    calibrate,
    make_qa,
    open_as,
    reading,
)


@pytest.fixture
def lab(app: CalTrack) -> CalTrack:
    """REF-1 (a reference) calibrated yearly; TH-001 and TH-002 calibrated with it."""
    add_thermometer(app, "REF-1", description="Reference PRT")
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    calibrate(app, "REF-1", "2025-01-10", points=(reading(0, 0.1),))
    calibrate(app, "TH-001", "2025-03-01", standards=("REF-1",))  # before the last good one
    calibrate(app, "REF-1", "2026-01-10", points=(reading(0, 0.2),))  # the last good one
    calibrate(app, "TH-001", "2026-03-01", standards=("REF-1",))
    calibrate(app, "TH-002", "2026-06-15", standards=("REF-1",))
    return app


def test_failing_as_found_opens_a_case_with_what_it_may_have_affected(lab: CalTrack) -> None:
    # Found out of tolerance, adjusted back in: still a case, and out of service.
    record_id = calibrate(
        lab, "REF-1", "2026-11-20", "adjusted", points=(reading(0, 0.9, left=0.1),)
    )
    (case,) = lab.oot.list(status="open")
    assert (case.asset_tag, case.record_id, case.status) == ("REF-1", record_id, "open")
    assert str(case.last_good_on) == "2026-01-10"
    assert "As found out of tolerance at 1 of 1 points" in case.summary
    assert [p.as_found for p in case.failing_points] == [0.9]
    # Reverse traceability: the calibrations since the last good one, not the older one.
    assert [(a.asset_tag, str(a.performed_on)) for a in case.affected] == [
        ("TH-001", "2026-03-01"),
        ("TH-002", "2026-06-15"),
    ]
    assert case.affected_instruments == ["TH-001", "TH-002"]
    assert lab.instruments.get("REF-1").lifecycle == "out_of_service"
    (view,) = [c for c in lab.calibrations.history("REF-1") if c.id == record_id]
    assert view.oot_case_id == case.id and view.as_found_failed
    assert lab.maintenance.verify().problems == []


def test_qa_assesses_and_closes_the_case_with_a_signature(
    lab: CalTrack, db_url: str, clock: FixedClock
) -> None:
    calibrate(lab, "REF-1", "2026-11-20", "adjusted", points=(reading(0, 0.9, left=0.1),))
    case_id = lab.oot.list()[0].id
    make_qa(lab, db_url, clock)
    with open_as(db_url, BOB, clock) as bob, pytest.raises(NotAllowedError):
        bob.oot.assess(case_id, impact_assessment="fine", disposition="no_impact")
    with open_as(db_url, QUINN, clock) as qa:
        with pytest.raises(ValidationError, match="impact assessment"):
            qa.oot.close(case_id, password=PASSWORD)
        with pytest.raises(ValidationError) as info:
            qa.oot.assess(case_id, impact_assessment="x", disposition="shrug")
        assert "disposition" in info.value.fields
        assessed = qa.oot.assess(
            case_id,
            impact_assessment="Offset 0.9 °C is within the 1 °C tolerance of TH-001/TH-002.",
            disposition="no_impact",
            expected_version=1,
        )
        assert assessed.version == 2
        closed = qa.oot.close(
            case_id,
            password=PASSWORD,
            comment="no recall",
            return_to_service=True,
            expected_version=2,
        )
        assert (closed.status, closed.closed_by, closed.returned_to_service) == (
            "closed",
            "quinn",
            True,
        )
        (sig,) = closed.signatures
        assert (sig.meaning, sig.printed_name, sig.intact) == ("closed", "Quinn Q. Reviewer", True)
        assert qa.instruments.get("REF-1").lifecycle == "in_service"
        with pytest.raises(ValidationError, match="closed"):
            qa.oot.assess(case_id, impact_assessment="again", disposition="other")
        assert qa.maintenance.verify().problems == []
        # What was assessed is frozen with the case, whatever is recorded later.
        calibrate(qa, "TH-002", "2026-11-21", standards=("REF-1",))
        assert [a.asset_tag for a in qa.oot.get(case_id).affected] == ["TH-001", "TH-002"]


def test_return_to_service_needs_a_calibration_that_left_it_good(
    lab: CalTrack, db_url: str, clock: FixedClock
) -> None:
    calibrate(lab, "REF-1", "2026-11-20", "fail", points=(reading(0, 0.9),))
    case_id = lab.oot.list()[0].id
    make_qa(lab, db_url, clock)
    with open_as(db_url, QUINN, clock) as qa:
        qa.oot.assess(case_id, impact_assessment="recalled", disposition="results_recalled")
        with pytest.raises(ValidationError, match="record a passing calibration first"):
            qa.oot.close(case_id, password=PASSWORD, return_to_service=True)
        assert qa.oot.get(case_id).status == "open"
        closed = qa.oot.close(case_id, password=PASSWORD)
        assert closed.status == "closed" and not closed.returned_to_service
        assert qa.instruments.get("REF-1").lifecycle == "out_of_service"


def test_voiding_the_failing_record_needs_qa_and_leaves_its_case_open(
    lab: CalTrack, db_url: str, clock: FixedClock
) -> None:
    record_id = calibrate(lab, "REF-1", "2026-11-20", "fail", points=(reading(0, 0.9),))
    (case,) = lab.oot.list(status="open")
    make_qa(lab, db_url, clock)
    with open_as(db_url, BOB, clock) as bob:
        # Not yet assessed: still QA's. A technician could otherwise void the record,
        # cancel the case with it, and put the instrument back in use with no QA at all.
        with pytest.raises(NotAllowedError, match=f"case OOT-{case.id} is open"):
            bob.calibrations.void(record_id, "entered for the wrong instrument")
        with pytest.raises(NotAllowedError, match=f"case OOT-{case.id} is open"):
            bob.calibrations.supersede(
                record_id,
                CalibrationInput(performed_on="2026-11-20", result="pass"),
                reason="typo in the reading",
            )
        assert not bob.calibrations.get(record_id).voided
        assert bob.oot.get(case.id).status == "open"
        with pytest.raises(NotAllowedError):
            bob.instruments.edit(
                "REF-1", InstrumentChanges(status="in_service"), reason="record voided"
            )
    with open_as(db_url, QUINN, clock) as qa:
        qa.calibrations.void(record_id, "entered for the wrong instrument")
        # The case stays open until QA closes it.
        assert qa.oot.get(case.id).status == "open"
        assert qa.instruments.get("REF-1").lifecycle == "out_of_service"
        qa.oot.assess(case.id, impact_assessment="Record was for another unit", disposition="other")
        assert qa.oot.close(case.id, password=PASSWORD).status == "closed"
        assert qa.maintenance.verify().problems == []


def test_a_standard_must_be_valid_on_the_day_or_justified(lab: CalTrack) -> None:
    add_thermometer(lab, "NEW-1", description="Never calibrated")
    problems = lab.calibrations.standard_problems(["NEW-1", "REF-1"], "2026-11-20")
    assert problems == {"NEW-1": "NEW-1 had no calibration on or before 2026-11-20"}
    with pytest.raises(ValidationError, match="give a justification"):
        calibrate(lab, "TH-001", "2026-11-20", standards=("NEW-1",))
    # Overdue on the day: REF-3's calibration was due 2026-06-01.
    add_thermometer(lab, "REF-3", description="Reference balance")
    calibrate(lab, "REF-3", "2025-06-01")
    assert lab.calibrations.standard_problems(["REF-3"], "2026-05-31") == {}
    with pytest.raises(
        ValidationError, match=r"REF-3 was overdue on 2026-09-01 \(due 2026-06-01\)"
    ):
        calibrate(lab, "TH-002", "2026-09-01", standards=("REF-3",))
    # With a justification it is recorded, and kept with the record.
    record_id = calibrate(
        lab,
        "TH-002",
        "2026-09-01",
        standards=("REF-3",),
        justification="REF-3 checked against REF-1 the same morning",
    )
    (view,) = [c for c in lab.calibrations.history("TH-002") if c.id == record_id]
    assert view.standards_justification == "REF-3 checked against REF-1 the same morning"
    assert lab.maintenance.verify().problems == []


def test_an_out_of_service_standard_is_refused_from_the_day_it_went_out(lab: CalTrack) -> None:
    lab.instruments.edit("REF-1", InstrumentChanges(status="out_of_service"), reason="dropped")
    today = "2026-11-23"  # the fixed clock's day: the status changed today
    assert lab.calibrations.standard_problems(["REF-1"], today) == {
        "REF-1": "REF-1 is out of service since 2026-11-23"
    }
    # A calibration done before it went out of service is entered late without fuss.
    assert lab.calibrations.standard_problems(["REF-1"], "2026-11-01") == {}
    calibrate(lab, "TH-001", "2026-11-01", standards=("REF-1",))


def test_a_standard_left_out_of_tolerance_is_suspect_until_calibrated_good(
    lab: CalTrack,
) -> None:
    add_thermometer(lab, "REF-2", description="Second reference")
    calibrate(lab, "REF-2", "2026-01-05")
    failed = calibrate(lab, "REF-2", "2026-11-10", "fail", points=(reading(0, 0.9),))
    lab.instruments.edit(
        "REF-2", InstrumentChanges(status="in_service"), reason="test: back in service"
    )
    problems = lab.calibrations.standard_problems(["REF-2"], "2026-11-20")
    assert problems == {
        "REF-2": f"REF-2 was left out of tolerance by its calibration of 2026-11-10 (#{failed})"
    }
    # Before the failure it was good; after an adjustment that left it good, it is again
    # (the open case is about the results before the failure, not after).
    assert lab.calibrations.standard_problems(["REF-2"], "2026-11-09") == {}
    calibrate(lab, "REF-2", "2026-11-21", "adjusted", points=(reading(0, 0.7, left=0.1),))
    assert len(lab.oot.list(status="open", tag="REF-2")) == 2
    assert lab.calibrations.standard_problems(["REF-2"], "2026-11-22") == {}


def test_traceability_both_ways(lab: CalTrack) -> None:
    trace = lab.calibrations.traceability("REF-1")
    assert [(t.instrument_tag, str(t.performed_on)) for t in trace.used_as_standard] == [
        ("TH-002", "2026-06-15"),
        ("TH-001", "2026-03-01"),
        ("TH-001", "2025-03-01"),
    ]
    assert trace.standards_used == []
    up = lab.calibrations.traceability("TH-001")
    assert [(t.standard_tag, str(t.performed_on)) for t in up.standards_used] == [
        ("REF-1", "2026-03-01"),
        ("REF-1", "2025-03-01"),
    ]


# -- what an open case covers follows the history -------------------------------------


def test_superseding_a_good_record_by_a_failing_one_reaches_back_past_it(
    lab: CalTrack,
) -> None:
    # The 2026-01-10 record was mistyped: in truth REF-1 was found out of tolerance.
    (good,) = [c for c in lab.calibrations.history("REF-1") if str(c.performed_on) == "2026-01-10"]
    new = lab.calibrations.supersede(
        good.id,
        CalibrationInput(
            performed_on="2026-01-10", result="adjusted", points=(reading(0, 0.9, left=0.1),)
        ),
        reason="as-found value mistyped",
    )
    assert new.oot_case_id is not None
    case = lab.oot.get(new.oot_case_id)
    assert str(case.last_good_on) == "2025-01-10"  # not the superseded record's day
    assert {(a.asset_tag, str(a.performed_on)) for a in case.affected} == {
        ("TH-002", "2026-06-15"),
        ("TH-001", "2026-03-01"),
        ("TH-001", "2025-03-01"),
    }
    assert lab.maintenance.verify().problems == []


def test_voiding_the_last_good_calibration_widens_an_open_case(lab: CalTrack) -> None:
    calibrate(lab, "REF-1", "2026-11-20", "fail", points=(reading(0, 0.9),))
    (case,) = lab.oot.list(status="open")
    assert str(case.last_good_on) == "2026-01-10" and len(case.affected) == 2
    (good,) = [c for c in lab.calibrations.history("REF-1") if str(c.performed_on) == "2026-01-10"]
    lab.calibrations.void(good.id, "certificate belongs to another reference")
    case = lab.oot.get(case.id)
    assert str(case.last_good_on) == "2025-01-10"
    assert {(a.asset_tag, str(a.performed_on)) for a in case.affected} == {
        ("TH-002", "2026-06-15"),
        ("TH-001", "2026-03-01"),
        ("TH-001", "2025-03-01"),
    }
    events = lab.audit.for_entity("oot_case", case.id)
    assert events[-1].action == "update"
    assert events[-1].changes["last_good_on"] == ["2026-01-10", "2025-01-10"]
    assert lab.maintenance.verify().problems == []


# -- the standards rule looks at the status on the day ---------------------------------


def test_a_standard_out_of_service_then_back_is_refused_for_the_days_between(
    db_url: str, app: CalTrack
) -> None:
    add_thermometer(app, "REF-1")
    add_thermometer(app, "TH-001")
    calibrate(app, "REF-1", "2026-10-01")
    app.close()
    with open_as(db_url, ALICE, FixedClock(datetime(2026, 11, 2, 12, tzinfo=UTC))) as lab:
        lab.instruments.edit(
            "REF-1", InstrumentChanges(status="out_of_service"), reason="sent for repair"
        )
    with open_as(db_url, ALICE, FixedClock(datetime(2026, 11, 10, 12, tzinfo=UTC))) as lab:
        lab.instruments.edit(
            "REF-1", InstrumentChanges(status="in_service"), reason="back from repair"
        )
    with open_as(db_url, ALICE, FixedClock(datetime(2026, 11, 20, 12, tzinfo=UTC))) as lab:
        assert lab.calibrations.standard_problems(["REF-1"], "2026-11-05") == {
            "REF-1": "REF-1 was out of service on 2026-11-05 (from 2026-11-02)"
        }
        with pytest.raises(ValidationError, match="out of service on 2026-11-05"):
            calibrate(lab, "TH-001", "2026-11-05", standards=("REF-1",))
        assert lab.calibrations.standard_problems(["REF-1"], "2026-11-02") != {}
        for fine in ("2026-11-01", "2026-11-10", "2026-11-15"):
            assert lab.calibrations.standard_problems(["REF-1"], fine) == {}, fine


def test_the_day_a_standard_went_out_of_service_is_the_labs_local_day(
    db_url: str, app: CalTrack
) -> None:
    add_thermometer(app, "REF-1")
    add_thermometer(app, "TH-001")
    calibrate(app, "REF-1", "2026-11-01")
    app.close()
    # 21:00 on 22 November at UTC-5 is already 02:00 UTC on the 23rd.
    evening = FixedClock(datetime(2026, 11, 23, 2, tzinfo=UTC), local=timezone(timedelta(hours=-5)))
    assert str(evening.today()) == "2026-11-22"
    with open_as(db_url, ALICE, evening) as lab:
        lab.instruments.edit("REF-1", InstrumentChanges(status="out_of_service"), reason="dropped")
        assert lab.calibrations.standard_problems(["REF-1"], "2026-11-22") == {
            "REF-1": "REF-1 is out of service since 2026-11-22"
        }
        assert lab.calibrations.standard_problems(["REF-1"], "2026-11-21") == {}


def test_only_qa_takes_an_instrument_with_an_open_case_back_into_service(
    lab: CalTrack, db_url: str, clock: FixedClock
) -> None:
    failing = calibrate(lab, "REF-1", "2026-11-20", "fail", points=(reading(0, 0.9),))
    (case,) = lab.oot.list(status="open")
    make_qa(lab, db_url, clock)
    with open_as(db_url, BOB, clock) as bob:
        with pytest.raises(NotAllowedError, match=f"while OOT-{case.id} is open"):
            bob.instruments.edit(
                "REF-1", InstrumentChanges(status="in_service"), reason="looks fine"
            )
        assert bob.instruments.get("REF-1").lifecycle == "out_of_service"
        bob.instruments.edit(
            "REF-1", InstrumentChanges(location="Bench 2"), reason="moved"
        )  # still fine
    with open_as(db_url, QUINN, clock) as qa:
        qa.oot.assess(case.id, impact_assessment="No results affected", disposition="no_impact")
    with open_as(db_url, BOB, clock) as bob:
        # Voiding the failing record is QA's while its case is open.
        with pytest.raises(NotAllowedError, match=f"case OOT-{case.id} is open"):
            bob.calibrations.void(failing, "wrong instrument")
        assert bob.oot.get(case.id).status == "open"
    with open_as(db_url, QUINN, clock) as qa:
        qa.instruments.edit(
            "REF-1", InstrumentChanges(status="in_service"), reason="adjusted and verified"
        )
        assert qa.instruments.get("REF-1").lifecycle == "in_service"


def test_an_import_by_a_technician_cannot_put_an_instrument_with_an_open_case_back(
    lab: CalTrack, db_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    calibrate(lab, "REF-1", "2026-11-20", "fail", points=(reading(0, 0.9),))
    (case,) = lab.oot.list(status="open")
    lab.close()
    register = tmp_path / "register.csv"
    register.write_text(
        "Asset tag,Description,Status\nREF-1,Reference PRT,in_service\n"
        "TH-001,Digital thermometer,in_service\n",
        encoding="utf-8",
    )
    with open_as(db_url, BOB, clock) as bob:
        options = ImportOptions(kind="instruments", update_existing=True)
        preview = bob.transfer.import_file(register, options)
        assert not preview.committed
        (refused,) = [r for r in preview.rows if r.action == "error"]
        assert refused.asset_tag == "REF-1"
        assert f"while OOT-{case.id} is open" in str(refused.issues[0])
        assert bob.instruments.get("REF-1").lifecycle == "out_of_service"


def test_every_disposition_has_one_label() -> None:
    assert set(DISPOSITION_LABELS) == set(OOT_DISPOSITIONS)


def test_a_standard_marked_calibration_not_required_needs_a_justification(
    lab: CalTrack,
) -> None:
    """An item kept for parts or as a reference only has no calibration behind it: using
    it as a standard is a traceability gap, as an overdue one is (it has no due date, so
    the overdue rule alone let it through)."""
    lab.instruments.edit(
        "REF-1",
        InstrumentChanges(
            calibration_requirement="not_required", requirement_reason="display only"
        ),
        reason="no longer used for measurement",
    )
    assert lab.calibrations.standard_problems(["REF-1"], "2026-11-20") == {
        "REF-1": "REF-1 is marked calibration not required (display only): it gives no traceability"
    }
    with pytest.raises(ValidationError, match="give a justification"):
        calibrate(lab, "TH-001", "2026-11-20", standards=("REF-1",))
