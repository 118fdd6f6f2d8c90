"""Custody rules (issue 15): who has an instrument, and what may not go out.

On both backends, through the service as the window and the command line use it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.errors import NotAllowedError, NotFoundError, ValidationError
from app.services.checks import CheckInput
from app.services.custody import scanned_tag
from app.services.provider_views import ProviderInput
from app.services.schedules import ScheduleInput
from tests.conftest import add_thermometer
from tests.integration.helpers import tamper
from tests.unit.qa_helpers import ALICE, BOB, calibrate, open_as


def _verify_clean(app: CalTrack) -> None:
    report = app.audit.verify()
    assert report.problems == []


def test_check_out_and_in_keep_who_has_it_and_are_audited(app: CalTrack) -> None:
    add_thermometer(app)
    calibrate(app, "TH-001", "2026-11-01")
    assert app.custody.check("TH-001").current is None

    out = app.custody.check_out("th-001", holder="Dana", place="Line 2", due_back="2026-11-30")
    assert (out.asset_tag, out.holder, out.place, out.state) == ("TH-001", "Dana", "Line 2", "out")
    assert out.due_back == date(2026, 11, 30) and not out.late
    now = app.custody.check("TH-001")
    assert now.current is not None and now.current.holder == "Dana"
    assert [v.asset_tag for v in app.custody.out_now()] == ["TH-001"]

    back = app.custody.check_in("TH-001")
    assert back.state == "returned" and back.in_by == "alice"
    assert app.custody.check("TH-001").current is None
    assert app.custody.out_now() == []
    assert [v.state for v in app.custody.history("TH-001")] == ["returned"]

    actions = [
        (e.entity_type, e.action)
        for e in app.audit.search(entity="TH-001")
        if e.entity_type == "custody"
    ]
    assert actions == [("custody", "check_out"), ("custody", "check_in")]
    _verify_clean(app)


def test_an_overdue_instrument_is_refused_and_qa_may_override_with_a_reason(
    app: CalTrack,
) -> None:
    add_thermometer(app)
    calibrate(app, "TH-001", "2025-01-02")  # due 2026-01-02, today 2026-11-23
    check = app.custody.check("TH-001")
    assert "overdue" in check.refusal and "2026-01-02" in check.refusal
    assert check.may_override  # alice made the database: an admin
    with pytest.raises(ValidationError) as refused:
        app.custody.check_out("TH-001", holder="Dana")
    assert "overdue for calibration" in str(refused.value.fields["check_out"])

    out = app.custody.check_out("TH-001", holder="Dana", override_reason="needed for one reading")
    assert out.override_reason == "needed for one reading"
    event = [e for e in app.audit.search(entity="TH-001") if e.entity_type == "custody"][-1]
    assert event.reason.startswith("override: TH-001 is overdue")
    assert event.reason.endswith("needed for one reading")
    _verify_clean(app)


def test_grace_days_and_status_decide_what_is_refused(app: CalTrack) -> None:
    add_thermometer(app, "TH-001", grace_days=365)
    calibrate(app, "TH-001", "2025-01-02")  # due 2026-01-02 plus a year's grace
    assert app.custody.check("TH-001").refusal == ""
    for status in ("out_of_service", "retired", "lost"):
        tag = f"X-{status}"
        add_thermometer(app, tag, status=status)
        words = status.replace("_", " ")
        assert app.custody.check(tag).refusal == f"{tag} is {words}: it may not be used"
    with pytest.raises(ValidationError, match="override"):
        app.custody.check_out("TH-001", holder="Dana", override_reason="not refused at all")


def test_a_technician_may_not_override(app: CalTrack, db_url: str, clock: FixedClock) -> None:
    add_thermometer(app)
    calibrate(app, "TH-001", "2025-01-02")
    add_thermometer(app, "TH-002")
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        assert not bob.custody.check("TH-001").may_override
        with pytest.raises(NotAllowedError, match="override a refused check-out"):
            bob.custody.check_out("TH-001", holder="Bob", override_reason="in a hurry")
        # A never-calibrated instrument is not late: the technician may take it.
        assert bob.custody.check_out("TH-002", holder="Bob").out_by == "bob"
        assert bob.custody.check("TH-001").current is None


def test_double_check_out_and_check_in_of_one_not_out_are_clear_errors(app: CalTrack) -> None:
    add_thermometer(app)
    with pytest.raises(ValidationError, match="TH-001 is not checked out"):
        app.custody.check_in("TH-001")
    app.custody.check_out("TH-001", holder="Dana")
    with pytest.raises(ValidationError, match="already checked out to Dana"):
        app.custody.check_out("TH-001", holder="Eve")
    with pytest.raises(ValidationError) as bad:
        app.custody.check_out("TH-001", holder=" ", due_back="2026-13-01")
    assert set(bad.value.fields) == {"holder", "due_back"}
    with pytest.raises(ValidationError, match="before today"):
        app.custody.check_out("TH-001", holder="Eve", due_back="2026-11-01")
    with pytest.raises(NotFoundError, match="no instrument with asset tag"):
        app.custody.check_out("NOPE-1", holder="Eve")
    with pytest.raises(ValidationError, match="invisible character"):
        app.custody.check("TH\u200b-001")
    # A full-width look-alike is the same tag (NFKC + case folding), not another one.
    assert app.custody.check("ＴＨ－００１").current is not None


def test_void_keeps_the_entry_and_frees_the_instrument(app: CalTrack) -> None:
    add_thermometer(app)
    out = app.custody.check_out("TH-001", holder="Dana")
    with pytest.raises(ValidationError, match="say why"):
        app.custody.void(out.id, reason="  ")
    void = app.custody.void(out.id, reason="scanned the wrong instrument")
    assert (void.state, void.void_reason, void.voided_by) == (
        "void",
        "scanned the wrong instrument",
        "alice",
    )
    assert app.custody.check("TH-001").current is None
    with pytest.raises(ValidationError, match="void already"):
        app.custody.void(out.id, reason="again")
    with pytest.raises(NotFoundError):
        app.custody.void(999, reason="none such")
    again = app.custody.check_out("TH-001", holder="Eve")
    assert [v.state for v in app.custody.history("TH-001")] == ["out", "void"]
    assert again.holder == "Eve"
    _verify_clean(app)


def test_scanned_text_loses_the_scanners_line_end() -> None:
    assert scanned_tag("  TH-001\r\n") == "TH-001"
    assert scanned_tag("TH-001\t") == "TH-001"


def test_export_history_report_and_custody_report_carry_it(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app)
    add_thermometer(app, "TH-002")
    first = app.custody.check_out("TH-001", holder="Dana", due_back="2026-11-24")
    app.custody.void(first.id, reason="wrong instrument")
    app.custody.check_out("TH-002", holder="Eve", place="Line 2")
    app.custody.check_in("TH-002")
    app.custody.check_out("TH-002", holder="Finn", due_back="2026-11-23")

    result = app.transfer.export("xlsx", tmp_path / "lab.xlsx")
    assert result.custody == 3
    sheet = openpyxl.load_workbook(tmp_path / "lab.xlsx")["Custody"]
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["Entry", "Asset tag", "With"]
    assert [(r[1], r[2], r[12]) for r in rows[1:]] == [
        ("TH-001", "Dana", "wrong instrument"),
        ("TH-002", "Eve", None),
        ("TH-002", "Finn", None),
    ]

    history = app.reports.history("TH-002")
    custody = next(s for s in history.sections if s.heading == "Custody")
    assert custody.table is not None
    assert [(r[3], r[10]) for r in custody.table.rows] == [("Finn", "out"), ("Eve", "returned")]
    out = app.reports.custody()
    assert [s.heading for s in out.sections] == ["Out now"]  # due back today: not late yet
    assert out.sections[0].table is not None
    assert [r[1] for r in out.sections[0].table.rows] == ["TH-002"]


def test_verify_finds_a_custody_entry_changed_behind_caltracks_back(
    app: CalTrack, db_url: str, clock: FixedClock
) -> None:
    add_thermometer(app)
    app.custody.check_out("TH-001", holder="Dana")
    app.close()
    # Who has it, moved in the table only: the holder and the derived open marker.
    tamper(
        db_url,
        "UPDATE custody SET holder = 'Mallory'",
        "UPDATE custody SET open_instrument_id = NULL",
    )
    with open_as(db_url, ALICE, clock) as again:
        [problem] = again.audit.verify().problems
    assert problem == (
        "custody #1 differs from its audit trail in holder, open_instrument_id: "
        "changed outside CalTrack"
    )


def test_a_check_due_before_use_refuses_the_next_check_out_until_it_is_recorded(
    app: CalTrack, clock: FixedClock
) -> None:
    add_thermometer(app)
    calibrate(app, "TH-001", "2026-11-01")
    app.schedules.set("TH-001", ScheduleInput("check", before_use=True))
    refusal = "TH-001 needs its intermediate check before use: record it first"
    assert app.custody.check("TH-001").refusal == refusal
    with pytest.raises(ValidationError) as refused:
        app.custody.check_out("TH-001", holder="Dana")
    assert "intermediate check before use" in str(refused.value)
    app.checks.add("TH-001", CheckInput(clock.today(), result="pass", standard="artefact A"))
    assert app.custody.check("TH-001").refusal == ""
    # The check-out arms the schedule again: a check is due before the next one.
    app.custody.check_out("TH-001", holder="Dana")
    app.custody.check_in("TH-001")
    assert app.custody.check("TH-001").refusal == refusal
    app.checks.add("TH-001", CheckInput(clock.today(), result="pass", standard="artefact A"))
    assert app.custody.check_out("TH-001", holder="Eve").holder == "Eve"
    _verify_clean(app)


def test_custody_and_send_outs_take_an_instrument_out_one_way_at_a_time(
    app: CalTrack,
) -> None:
    add_thermometer(app)
    add_thermometer(app, "TH-002")
    calibrate(app, "TH-001", "2026-11-01")
    calibrate(app, "TH-002", "2026-11-01")
    app.providers.add(ProviderInput(name="CalCo Labs"))
    batch = app.sendouts.create("CalCo Labs", ["TH-001"])
    at_provider = f"TH-001 is at a provider (SO-{batch.id}): receive it first"
    assert app.custody.check("TH-001").refusal == at_provider
    # Not even QA's override: the instrument is not in the lab.
    with pytest.raises(ValidationError, match=r"at a provider"):
        app.custody.check_out("TH-001", holder="Dana", override_reason="urgent")
    app.custody.check_out("TH-002", holder="Eve")
    with pytest.raises(ValidationError, match="TH-002 is checked out to Eve: check it in first"):
        app.sendouts.create("CalCo Labs", ["TH-002"])
    app.sendouts.receive(batch.id)
    assert app.custody.check_out("TH-001", holder="Dana").holder == "Dana"
    _verify_clean(app)
