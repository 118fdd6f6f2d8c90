"""The out-of-tolerance case window with real services: filter counts, selecting a case,
assessing it (with a conflict), closing it with a signature and a return to service, and
a closed case's impact list as a technician sees it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.ui.dialogs.conflict_dialog import ConflictDialog
from app.ui.dialogs.oot_dialogs import CloseCaseDialog, OotWindow
from app.ui.tasks import TaskRunner
from tests.ui.conftest import Shown
from tests.ui.opened import opened
from tests.ui.test_qa_dialogs import build_lab
from tests.unit.impact_helpers import build_failed_standard
from tests.unit.qa_helpers import BOB, PASSWORD, QUINN, calibrate, make_qa, open_as, reading


@pytest.fixture
def lab(app: CalTrack) -> CalTrack:
    build_lab(app)
    return app


@pytest.fixture
def window(qtbot: QtBot, lab: CalTrack, shown: Shown) -> Iterator[OotWindow]:
    runner = TaskRunner()
    win = OotWindow(app=lab, runner=runner, editing=True)
    qtbot.addWidget(win)
    win.show()
    win.reload()
    qtbot.waitUntil(lambda: win.loaded and win.case is not None, timeout=10_000)
    yield win
    runner.wait()


def reload_and_wait(qtbot: QtBot, win: OotWindow) -> None:
    win.loaded = False
    win.reload()
    qtbot.waitUntil(lambda: win.loaded, timeout=10_000)


def test_filter_counts_and_the_selected_case(
    qtbot: QtBot, window: OotWindow, lab: CalTrack
) -> None:
    # A second case: voiding its calibration does not cancel it; it waits for QA.
    record_id = calibrate(lab, "TH-002", "2026-11-21", "fail", points=(reading(0, 2.0),))
    lab.calibrations.void(record_id, "entered for the wrong instrument")
    reload_and_wait(qtbot, window)
    texts = {key: chip.text() for key, chip in window.filter_buttons.items()}
    assert texts == {
        "open": "Open (2)",
        "closed": "Closed (0)",
        "cancelled": "Cancelled (0)",
        None: "All (2)",
    }
    assert window.model.rowCount() == 2
    case = window.case
    assert case is not None and case.asset_tag == "REF-1"
    assert window.case_title.text().startswith(f"OOT-{case.id} · REF-1 — Reference PRT")
    assert "found 0.9 °C (±0.5 °C)" in window.facts.text()
    assert "2026-01-10" in window.facts.text(), "the last good calibration"
    assert window.affected.rowCount() == 2
    affected = [window.affected.item(r, 2).text() for r in range(2)]  # type: ignore[union-attr]
    assert affected == ["TH-001 — Digital thermometer", "TH-002 — Digital thermometer"]
    assert not window.close_button.isEnabled(), "not assessed yet"

    window.filter_buttons["cancelled"].click()
    assert window.model.rowCount() == 0
    window.filter_buttons[None].click()
    assert window.model.rowCount() == 2


def test_assess_then_close_with_signature_and_return_to_service(
    qtbot: QtBot, window: OotWindow, lab: CalTrack, shown: Shown
) -> None:
    case = window.case
    assert case is not None
    assert lab.instruments.get("REF-1").lifecycle == "out_of_service"
    window.assessment.setPlainText("Offset 0.9 °C is within the ±1 °C needed by TH-001/002.")
    window.disposition.setCurrentIndex(window.disposition.findData("no_impact"))
    assert window.unsaved.text() == "Unsaved changes"
    assert not window.close_button.isEnabled(), "save the assessment first"
    window.save_button.click()
    qtbot.waitUntil(lambda: lab.oot.get(case.id).version == 2, timeout=10_000)
    qtbot.waitUntil(lambda: window.case is not None and window.case.version == 2, timeout=10_000)
    assert window.unsaved.text() == ""
    assert lab.oot.get(case.id).disposition == "no_impact"
    assert window.close_button.isEnabled()

    window.close_case()
    dialog = opened(qtbot, CloseCaseDialog)
    assert dialog.return_to_service.isEnabled(), "the latest calibration left it good"
    assert not dialog.ok.isEnabled()
    dialog.return_to_service.setChecked(True)
    dialog.comment.setPlainText("no recall needed")
    dialog.signing.password.setText(PASSWORD)
    dialog.ok.click()
    qtbot.waitUntil(lambda: lab.oot.get(case.id).status == "closed", timeout=10_000)
    closed = lab.oot.get(case.id)
    assert closed.returned_to_service
    assert lab.instruments.get("REF-1").lifecycle == "in_service"
    qtbot.waitUntil(
        lambda: window.case is not None and window.case.status == "closed", timeout=10_000
    )
    assert window.signatures.text() == (
        "Closed by Alice A. Admin (alice) on 2026-11-23 09:30:00 UTC — “no recall needed”"
    )
    assert window.assessment.isReadOnly()
    assert not window.close_button.isEnabled()
    assert window.filter_buttons["closed"].text() == "Closed (1)"
    assert shown.boxes == []


def test_a_newer_assessment_leads_to_the_conflict_dialog(
    qtbot: QtBot, window: OotWindow, lab: CalTrack
) -> None:
    case = window.case
    assert case is not None
    window.assessment.setPlainText("mine: no impact")
    window.disposition.setCurrentIndex(window.disposition.findData("no_impact"))
    # Someone else assesses meanwhile (the same database, another session).
    lab.oot.assess(case.id, impact_assessment="theirs: recall", disposition="results_recalled")

    window.save_button.click()
    conflict = opened(qtbot, ConflictDialog)
    seen = [conflict.table.item(0, 2).text()]  # type: ignore[union-attr]
    conflict.reapply.click()
    qtbot.waitUntil(lambda: lab.oot.get(case.id).version == 3, timeout=10_000)
    saved = lab.oot.get(case.id)
    assert (saved.impact_assessment, saved.disposition) == ("mine: no impact", "no_impact")
    assert seen == ["results_recalled"], "their stored disposition was shown"
    qtbot.waitUntil(lambda: not window.drafts, timeout=10_000)


def test_keep_theirs_drops_the_draft_and_shows_their_assessment(
    qtbot: QtBot, window: OotWindow, lab: CalTrack
) -> None:
    case = window.case
    assert case is not None
    window.assessment.setPlainText("mine")
    lab.oot.assess(case.id, impact_assessment="theirs", disposition="other")
    window.save_button.click()
    opened(qtbot, ConflictDialog).keep.click()
    qtbot.waitUntil(lambda: window.assessment.toPlainText() == "theirs", timeout=10_000)
    assert window.drafts == {}
    assert lab.oot.get(case.id).impact_assessment == "theirs"


def test_an_unsaved_assessment_survives_switching_cases(
    qtbot: QtBot, window: OotWindow, lab: CalTrack
) -> None:
    calibrate(lab, "TH-002", "2026-11-21", "fail", points=(reading(0, 2.0),))
    reload_and_wait(qtbot, window)
    first = window.case
    assert first is not None and window.model.rowCount() == 2
    window.assessment.setPlainText("half written")
    other_row = 1 - (window.model.row_of(first.id) or 0)
    window.table.selectRow(other_row)
    assert window.case is not None and window.case.id != first.id
    assert window.assessment.toPlainText() == ""
    window.table.selectRow(window.model.row_of(first.id) or 0)
    assert window.assessment.toPlainText() == "half written"
    assert window.unsaved_cases() == [first.id]


@pytest.mark.sqlite_only("the window shows the service's list, on both backends in test_oot_impact")
def test_a_technician_reads_a_closed_cases_stored_impact_list_but_opens_no_follow_up(
    qtbot: QtBot, app: CalTrack, db_url: str, clock: FixedClock, shown: Shown
) -> None:
    """What the journey (QA, an open case) cannot reach: the list frozen at closing, said
    so, and the follow-up refused to another role with the reason on the button."""
    build_failed_standard(app)  # tests/unit/impact_helpers.py: four verdicts flip
    (case,) = app.oot.list(status="open")
    make_qa(app, db_url, clock)  # closes alice's session
    with open_as(db_url, QUINN, clock) as qa:
        qa.oot.assess(case.id, impact_assessment="TH-A and TH-B recalled", disposition="other")
        qa.oot.close(case.id, password=PASSWORD)
    with open_as(db_url, BOB, clock) as bob:
        runner = TaskRunner()
        win = OotWindow(app=bob, runner=runner, editing=True)
        qtbot.addWidget(win)
        try:
            win.show()
            win.show_case_id(case.id)  # a closed case: the window shows them all
            qtbot.waitUntil(
                lambda: win.impact is not None and win.impact.case_id == case.id,
                timeout=10_000,
            )
            win.show_impact()
            assert win.tabs.currentIndex() == 1 and win.impact_table.hasFocus()
            # The clock of these tests stands at 2026-11-23 09:30 UTC, when quinn closed it.
            assert win.impact_note.text().startswith(
                "As stored when the case was closed on 2026-11-23 09:30 UTC.\n3 calibration(s)"
            )
            assert win.tabs.tabText(1) == "Impact: 4 verdicts would change"
            win.select_flipped_button.click()
            assert len(win.impact_table.selectionModel().selectedRows()) == 4
            assert not win.follow_up_button.isEnabled()
            assert win.follow_up_button.toolTip() == (
                "Only QA reviewers and admins open follow-up cases; you (bob) are a technician"
            )
            win.open_follow_ups()  # the button's slot, reached anyway: nothing happens
            assert [c.id for c in bob.oot.list()] == [case.id]
            assert shown.boxes == []
        finally:
            win.close()
            runner.wait()
