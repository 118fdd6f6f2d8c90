"""The OOT impact, computed (issue 14): a failed standard's as-found error applied to
the calibrations it served in, re-judged by each record's own rule, on both backends.

The lab and its worked numbers: tests/unit/impact_helpers.py.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.errors import NotAllowedError, ValidationError
from app.services.oot_impact import COMPARED, NO_READING, NOT_COMPARABLE, error_at
from tests.integration.helpers import tamper
from tests.unit.impact_helpers import FLIPS, build_failed_standard
from tests.unit.qa_helpers import BOB, PASSWORD, QUINN, make_qa, open_as

# -- the interpolation, alone -----------------------------------------------------------

# The standard's errors of impact_helpers: +0.1 at 0 °C, +0.3 at 100 °C.
ERRORS = [(Decimal(0), Decimal("0.1")), (Decimal(100), Decimal("0.3"))]


def test_the_error_is_linear_between_the_two_nominals_around_the_point() -> None:
    # 0.1 + (0.3 − 0.1) · (50 − 0) / (100 − 0) = 0.2; at 25: 0.1 + 0.2 · 0.25 = 0.15.
    assert error_at(ERRORS, Decimal(50)) == Decimal("0.2")
    assert error_at(ERRORS, Decimal(25)) == Decimal("0.15")
    assert error_at(ERRORS, Decimal(100)) == Decimal("0.3")


def test_beyond_the_standards_nominals_the_nearest_ends_error_holds() -> None:
    # No extrapolation: a line through two points says nothing outside them.
    assert error_at(ERRORS, Decimal(-40)) == Decimal("0.1")
    assert error_at(ERRORS, Decimal(150)) == Decimal("0.3")
    assert error_at(ERRORS[:1], Decimal(150)) == Decimal("0.1")
    assert error_at([], Decimal(150)) is None


# -- a case's list ------------------------------------------------------------------------


def test_the_impact_lists_exactly_the_verdicts_the_standards_error_changes(
    app: CalTrack,
) -> None:
    lab = build_failed_standard(app)
    (case,) = app.oot.list(status="open")
    assert case.record_id == lab.failing_record
    impact = app.oot.impact(case.id)
    assert not impact.frozen
    assert (impact.standard_tag, impact.standard_record_id) == ("STD-1", lab.failing_record)
    assert [(e.nominal, e.unit, e.error) for e in impact.errors] == [
        ("0", "°C", "+0.1"),
        ("100", "°C", "+0.3"),
    ]
    assert {(r.asset_tag, r.seq, r.reading) for r in impact.flipped} == FLIPS
    assert {(r.before, r.after) for r in impact.flipped} == {("pass", "fail")}
    # TH-D was calibrated before the last good calibration: not on the list.
    assert sorted({r.asset_tag for r in impact.rows}) == ["TH-A", "TH-B", "TH-C"]

    rows = {(r.asset_tag, r.seq, r.reading): r for r in impact.rows}
    guarded = rows[("TH-A", 1, "as_found")]
    assert (guarded.stored, guarded.error, guarded.shifted) == (100.1, "+0.3", "100.4")
    assert guarded.line == (
        f"TH-A #{lab.records['TH-A']} point 1 as found: pass → fail (100.1 → 100.4 °C, error +0.3)"
    )
    simple = rows[("TH-B", 1, "as_found")]  # the same reading, simple acceptance
    assert (simple.shifted, simple.before, simple.after, simple.flips) == (
        "100.4",
        "pass",
        "pass",
        False,
    )
    interpolated = rows[("TH-B", 2, "as_left")]
    assert (interpolated.error, interpolated.shifted) == ("+0.2", "50.55")
    fahrenheit = rows[("TH-B", 3, "as_found")]
    assert fahrenheit.status == NOT_COMPARABLE and "reading in °F" in fahrenheit.note
    missing = rows[("TH-C", 1, "as_found")]
    assert (missing.status, missing.note) == (NO_READING, "no as found reading: skipped")
    left = rows[("TH-C", 1, "as_left")]
    assert (left.status, left.shifted, left.flips) == (COMPARED, "100.3", False)
    assert impact.summary == (
        "3 calibration(s) re-evaluated with STD-1's as-found error: 4 verdict(s) would "
        "change, at 2 point(s) of 2 record(s): TH-A, TH-B; 1 point(s) not comparable "
        "(another unit); 1 point(s) with a reading missing"
    )

    # The OOT log carries the list when given it: one row per verdict that would change.
    section = app.reports.oot_log(app.oot.list(), impacts=[impact]).sections[1]
    assert section.heading == "Verdicts that would change"
    assert section.table is not None
    assert {(row[3], row[5], row[8], row[12], row[13]) for row in section.table.rows} == {
        (tag, seq, kind.replace("_", " "), "pass", "fail") for tag, seq, kind in FLIPS
    }


def test_closing_freezes_the_list_and_qa_opens_follow_up_cases_from_it(
    app: CalTrack, db_url: str, clock: FixedClock
) -> None:
    lab = build_failed_standard(app)
    case_id = app.oot.list(status="open")[0].id
    live = app.oot.impact(case_id)
    make_qa(app, db_url, clock)
    with open_as(db_url, BOB, clock) as bob, pytest.raises(NotAllowedError):
        bob.oot.follow_up(case_id, all_flipped=True)
    with open_as(db_url, QUINN, clock) as qa:
        qa.oot.assess(case_id, impact_assessment="TH-A and TH-B recalled", disposition="other")
        closed = qa.oot.close(case_id, password=PASSWORD)
        assert closed.signatures[0].intact
        frozen = qa.oot.impact(case_id)
        assert frozen.frozen and frozen.rows == live.rows and frozen.summary == live.summary

        with pytest.raises(ValidationError, match="TH-D is not on OOT-"):
            qa.oot.follow_up(case_id, tags=["TH-D"])
        with pytest.raises(ValidationError, match="name the instruments"):
            qa.oot.follow_up(case_id)
        done = qa.oot.follow_up(case_id, all_flipped=True)
        assert done.skipped == []
        by_tag = {c.asset_tag: c for c in done.opened}
        assert sorted(by_tag) == ["TH-A", "TH-B"]
        follow = by_tag["TH-A"]
        assert (follow.origin_case_id, follow.record_id, follow.status) == (
            case_id,
            lab.records["TH-A"],
            "open",
        )
        assert follow.summary.startswith(
            f"Follow-up of OOT-{case_id}: standard STD-1 found out of tolerance on "
            "2026-04-01; with its as-found error, TH-A #"
        )
        assert "as left: pass → fail" in follow.summary
        # Again: nothing twice. A chosen instrument with no flip gets a case on request.
        again = qa.oot.follow_up(case_id, tags=["TH-A", "th-c"])
        assert [c.asset_tag for c in again.opened] == ["TH-C"]
        assert again.skipped == [
            f"TH-A: calibration #{lab.records['TH-A']} already has case OOT-{follow.id}"
        ]
        # A later edit of an affected record changes nothing QA saw and signed.
        qa.calibrations.void(lab.records["TH-B"], "entered against the wrong asset")
        assert qa.oot.impact(case_id) == frozen
        assert qa.oot.get(case_id).signatures[0].intact
        assert qa.maintenance.verify(deep=True).problems == []
        events = qa.audit.for_entity("oot_case", follow.id)
        assert [(e.action, e.reason) for e in events] == [
            ("create", f"follow-up of OOT-{case_id}, from its impact list")
        ]
        assert events[0].changes["origin_case_id"] == [None, case_id]
        (closing,) = [e for e in qa.audit.for_entity("oot_case", case_id) if e.action == "close"]
        stored = json.loads(closing.changes["impact_snapshot"][1])
        assert len(stored["rows"]) == len(live.rows)

    # The frozen list is signed and audited: emptied behind CalTrack's back, both say so.
    tamper(db_url, f"UPDATE oot_case SET impact_snapshot = '' WHERE id = {case_id}")
    with open_as(db_url, QUINN, clock) as qa:
        assert not qa.oot.get(case_id).signatures[0].intact
        problems = qa.maintenance.verify(deep=True).problems
        assert any(
            f"OOT-{case_id}" in p and "differs from its audit trail in impact_snapshot" in p
            for p in problems
        ), problems
