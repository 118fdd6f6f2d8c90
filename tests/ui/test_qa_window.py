"""The QA flows in the main window on a real database: the detail pane's signatures and
OOT marks, sign, correct (with a conflict), supersede end to end, traceability, the
status bar, the post-save notice, and read-only mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.dto import CalibrationInput, PointInput
from app.settings.user_settings import UserSettings
from app.ui import files
from app.ui.detail_pane import CAL_QA_COLUMN
from app.ui.dialogs import oot_dialogs
from app.ui.dialogs.calibration_dialog import (
    ACCEPTANCE,
    TUR_COLUMN,
    VERDICT_FOUND,
    CalibrationDialog,
)
from app.ui.dialogs.conflict_dialog import ConflictDialog
from app.ui.dialogs.record_edit_dialog import RecordEditDialog
from app.ui.dialogs.sign_dialog import SignDialog
from app.ui.main_window import LockView, MainWindow
from app.ui.tasks import TaskRunner
from tests.ui.conftest import Shown
from tests.ui.opened import opened
from tests.ui.test_qa_dialogs import build_lab
from tests.unit.qa_helpers import PASSWORD, reading


@pytest.fixture
def lab(app: CalTrack) -> CalTrack:
    build_lab(app)
    return app


@pytest.fixture
def window(qtbot: QtBot, lab: CalTrack, shown: Shown) -> Iterator[MainWindow]:
    runner = TaskRunner()
    win = MainWindow(app=lab, runner=runner, settings=UserSettings(reminders=False))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.history is not None, timeout=10_000)
    yield win
    win.close()
    runner.wait()


def show(qtbot: QtBot, win: MainWindow, tag: str, row: int = 0) -> None:
    """Select an instrument in the register (loaded afresh) and a record of its history."""
    win.history = None
    win.qa.select_instrument(tag)
    qtbot.waitUntil(
        lambda: win.history is not None and win.history.instrument.asset_tag == tag,
        timeout=10_000,
    )
    win.detail.calibrations.selectRow(row)


def cell(win: MainWindow, row: int, col: int) -> str:
    item = win.detail.calibrations.item(row, col)
    assert item is not None
    return item.text()


def test_status_bar_shows_the_role_and_the_open_cases(
    qtbot: QtBot, window: MainWindow, lab: CalTrack
) -> None:
    qtbot.waitUntil(lambda: window.qa.user_label.text() != "", timeout=10_000)
    assert window.qa.user_label.text() == "alice · admin"
    assert window.qa.oot_label.isVisible()
    assert "1 open OOT case<" in window.qa.oot_label.text()
    assert window.qa.role_line().startswith("Role: Admin")
    window.qa.oot_label.linkActivated.emit("oot")
    assert window.qa.oot_window is not None and window.qa.oot_window.isVisible()


def test_detail_pane_shows_signatures_oot_marks_and_links(
    qtbot: QtBot, window: MainWindow, lab: CalTrack
) -> None:
    th1 = lab.calibrations.history("TH-001")[0]
    lab.signatures.sign_record(th1.id, meaning="approved", password=PASSWORD, comment="ok")
    show(qtbot, window, "TH-001")
    assert cell(window, 0, CAL_QA_COLUMN) == "signed (approved)"
    info = window.detail.record_info.text()
    assert "Approved by Alice A. Admin (alice) on 2026-11-23 09:30:00 UTC" in info
    assert "BROKEN" not in info
    sign, correct, supersede, void = window.detail.record_buttons
    assert sign.isEnabled() and supersede.isEnabled() and void.isEnabled()
    assert not correct.isEnabled()
    assert "signed and can no longer be corrected" in correct.toolTip()
    # Its audit trail holds the signature and the calibration's events too.
    trail = window.detail.audit
    rows = [
        [getattr(trail.item(r, c), "text", lambda: "")() for c in range(trail.columnCount())]
        for r in range(trail.rowCount())
    ]
    of, action, changed = 3, 4, 5
    assert rows[0][action] == "sign" and rows[0][of] == f"Signature TH-001 #{th1.id}"
    assert rows[0][changed].startswith("meaning: approved; signer: alice")
    assert any(r[of] == f"Calibration TH-001 #{th1.id}" and r[action] == "create" for r in rows)
    assert rows[-1][of] == "Instrument TH-001" and rows[-1][action] == "create"

    show(qtbot, window, "REF-1")
    (case,) = lab.oot.list(status="open")
    assert f"OOT-{case.id}" in cell(window, 0, CAL_QA_COLUMN)
    assert f"href='oot:{case.id}'" in window.detail.record_info.text()
    window.detail.record_info.linkActivated.emit(f"oot:{case.id}")
    oot = window.qa.oot_window
    assert oot is not None
    qtbot.waitUntil(lambda: oot.case is not None and oot.case.id == case.id, timeout=10_000)

    # A voided record: struck through, every action disabled.
    lab.calibrations.void(lab.calibrations.history("TH-002")[0].id, "wrong instrument")
    show(qtbot, window, "TH-002")
    assert cell(window, 0, 1).startswith("VOID — wrong instrument")
    assert not any(b.isEnabled() for b in window.detail.record_buttons)


def test_sign_from_the_window(qtbot: QtBot, window: MainWindow, lab: CalTrack) -> None:
    show(qtbot, window, "TH-001")
    record_id = window.detail.selected_calibration().id  # type: ignore[union-attr]

    window.qa.act_sign.trigger()
    dialog = opened(qtbot, SignDialog)
    dialog.meaning_buttons["reviewed"].setChecked(True)
    dialog.signing.password.setText(PASSWORD)
    dialog.ok.click()
    qtbot.waitUntil(lambda: bool(lab.signatures.for_record(record_id)), timeout=10_000)
    qtbot.waitUntil(lambda: cell(window, 0, CAL_QA_COLUMN) == "signed (reviewed)", timeout=10_000)
    assert window.detail.selected_calibration() is not None, "the record stays selected"


def test_correct_with_a_conflict_reapplies_mine(
    qtbot: QtBot, window: MainWindow, lab: CalTrack
) -> None:
    show(qtbot, window, "TH-002")
    record = window.detail.selected_calibration()
    assert record is not None

    window.detail.correct_button.click()
    dialog = opened(qtbot, RecordEditDialog)
    dialog.edits["certificate_number"].setText("C-2026-0042")
    dialog.reason.setText("the certificate arrived")
    # Someone else corrects the notes meanwhile.
    lab.calibrations.edit(record.id, {"notes": "theirs"}, reason="typo")
    dialog.ok.click()
    opened(qtbot, ConflictDialog).reapply.click()
    qtbot.waitUntil(
        lambda: lab.calibrations.history("TH-002")[0].certificate_number == "C-2026-0042",
        timeout=10_000,
    )
    saved = lab.calibrations.history("TH-002")[0]
    assert saved.notes == "theirs", "their change is kept, mine put on top"
    assert saved.version == 3
    events = [e for e in lab.audit.for_entity("calibration", record.id) if e.action == "update"]
    assert events[-1].reason == "the certificate arrived"


def test_supersede_end_to_end(qtbot: QtBot, window: MainWindow, lab: CalTrack) -> None:
    old = lab.calibrations.history("TH-001")[0]
    lab.signatures.sign_record(old.id, meaning="approved", password=PASSWORD)
    show(qtbot, window, "TH-001")

    window.detail.supersede_button.click()
    dialog = opened(qtbot, CalibrationDialog)
    assert dialog.windowTitle() == f"Supersede calibration #{old.id} — TH-001"
    assert dialog.certificate.text() == old.certificate_number, "prefilled"
    assert dialog.standard_tags() == ["REF-1"]
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    save.click()  # no reason yet
    assert "required" in dialog.top.rows["reason"].error.text()
    dialog.certificate.setText("C-corrected")
    dialog.supersede_reason.setText("wrong certificate number")
    save.click()
    qtbot.waitUntil(lambda: len(lab.calibrations.history("TH-001")) == 2, timeout=10_000)
    new, voided = lab.calibrations.history("TH-001")
    assert new.supersedes_id == old.id and voided.superseded_by_id == new.id
    assert voided.voided and voided.void_reason == (
        f"superseded by #{new.id}: wrong certificate number"
    )
    assert new.certificate_number == "C-corrected"
    assert new.standards == ["REF-1"] and new.points == old.points
    qtbot.waitUntil(
        lambda: window.history is not None and len(window.history.calibrations) == 2,
        timeout=10_000,
    )
    assert f"supersedes #{old.id}" in cell(window, 0, CAL_QA_COLUMN)
    assert f"superseded by #{new.id}" in cell(window, 1, CAL_QA_COLUMN)
    assert window.history is not None
    assert window.detail.selected_calibration() == window.history.calibrations[0]


def test_traceability_tab_both_ways(qtbot: QtBot, window: MainWindow) -> None:
    show(qtbot, window, "REF-1")
    window.detail.tabs.setCurrentIndex(window.detail.trace_tab)
    qtbot.waitUntil(lambda: window.detail.trace_served.rowCount() == 2, timeout=10_000)
    tags = [window.detail.trace_served.item(r, 2).text() for r in range(2)]  # type: ignore[union-attr]
    assert sorted(tags) == ["TH-001", "TH-002"]
    assert window.detail.trace_used.rowCount() == 0
    item = window.detail.trace_served.item(0, 2)
    assert item is not None
    wanted = item.text()
    window.detail.trace_served.itemDoubleClicked.emit(item)
    qtbot.waitUntil(
        lambda: window.history is not None and window.history.instrument.asset_tag == wanted,
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: window.detail.trace_used.rowCount() == 1, timeout=10_000)
    assert window.detail.trace_used.item(0, 2).text() == "REF-1"  # type: ignore[union-attr]


def test_a_calibration_that_opens_a_case_offers_it(
    qtbot: QtBot, window: MainWindow, lab: CalTrack
) -> None:
    view = lab.calibrations.add(
        "TH-002",
        CalibrationInput(performed_on="2026-11-22", result="fail", points=(reading(0, 2.0),)),
    )
    assert view.oot_case_id is not None
    window.qa.calibration_saved(view)
    notice = window.qa.case_notice
    assert notice is not None and not notice.isModal()
    assert f"OOT-{view.oot_case_id} is open" in notice.text()
    open_button = next(b for b in notice.buttons() if b.text().startswith("Open OOT-"))
    open_button.click()
    oot = window.qa.oot_window
    assert oot is not None
    qtbot.waitUntil(
        lambda: oot.case is not None and oot.case.id == view.oot_case_id, timeout=10_000
    )
    qtbot.waitUntil(lambda: "2 open OOT cases" in window.qa.oot_label.text(), timeout=10_000)


def test_read_only_disables_every_qa_write(
    qtbot: QtBot,
    window: MainWindow,
    shown: Shown,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    show(qtbot, window, "TH-001")
    assert window.detail.sign_button.isEnabled()
    window.show_lock_view(
        LockView(
            editing=False,
            text="Read-only — locked by bob on LAB-PC-4",
            held_elsewhere=True,
            idle_released=False,
            stale=False,
            admin=False,
            has_lock=False,
        )
    )
    for act in window.qa.editing_actions():
        assert not act.isEnabled()
    assert not any(b.isEnabled() for b in window.detail.record_buttons)
    assert "Read-only" in window.detail.sign_button.toolTip()
    assert window.qa.act_oot.isEnabled() and window.qa.act_users.isEnabled()
    # A certificate only reads: offered in read-only mode too, from the history's
    # context menu as well (the writes there disabled, as their buttons are).
    detail = window.detail
    assert detail.certificate_button.isEnabled()
    calibrations = detail.calibrations
    menu = detail.record_menu(calibrations.visualRect(calibrations.model().index(0, 0)).center())
    assert menu is not None
    entries = [(a.text(), a.isEnabled()) for a in menu.actions()]
    assert entries == [
        ("C&ertificate…", True),
        ("&Sign…", False),
        ("C&orrect…", False),
        ("Su&persede…", False),
        ("&Void…", False),
    ]
    menu.deleteLater()
    # A file that cannot be written: one clear box, the status bar's "Writing…" gone.
    missing = tmp_path / "no-such-folder" / "certificate.pdf"
    monkeypatch.setattr(files, "ask_save_path", lambda *_args: str(missing))
    detail.certificate_button.click()
    qtbot.waitUntil(lambda: bool(shown.boxes), timeout=10_000)
    assert "does not exist" in " ".join(shown.boxes[0])
    assert window.status.currentMessage() == ""


def test_quitting_with_an_unsaved_assessment_asks_first(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    window.qa.show_oot_window()
    oot = window.qa.oot_window
    assert oot is not None
    qtbot.waitUntil(lambda: oot.case is not None, timeout=10_000)
    oot.assessment.setPlainText("not saved yet")
    answers = [False, True]
    asked: list[str] = []

    def ask(parent: object, text: str) -> bool:
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(oot_dialogs, "ask_discard", ask)
    window.close()
    assert window.isVisible(), "kept open: the user said Cancel"
    assert "is not saved" in asked[0]
    window.close()
    assert not window.isVisible()


def test_a_record_with_uncertainties_is_superseded_with_all_of_them(
    qtbot: QtBot, window: MainWindow, lab: CalTrack
) -> None:
    """The grid carries every point's tolerance as written, U and k, the record's rule and
    its TUR justification into the superseding record (the window used to refuse)."""
    lab.calibrations.add(
        "TH-002",
        CalibrationInput(
            performed_on="2026-11-20",
            result="pass",
            decision_rule="guard r=1 conditional",
            # Point 2's TUR is 0.2 / (2 × 0.05) = 2:1, below the lab's 4:1: justified.
            tur_justification="best reference we hold",
            points=(
                PointInput.written(20.0, 20.1, 20.1, "-0.2/+0.3", "°C", 0.05, 2.0),
                PointInput.written(100.0, 100.1, 100.1, "±0.1", "°C", 0.05, 2.0),
            ),
        ),
    )
    old = lab.calibrations.history("TH-002")[0]
    before = len(lab.calibrations.history("TH-002"))
    show(qtbot, window, "TH-002")
    assert window.detail.selected_calibration() == old

    window.detail.supersede_button.click()
    dialog = opened(qtbot, CalibrationDialog)
    assert dialog.rule_code() == "guard r=1 conditional", "the record's own rule"
    assert dialog.points.rowCount() == 2
    # Point 2: 100.1 lies on the tolerance limit, outside 99.95 … 100.05 (w = U = 0.05).
    assert dialog.points.item(1, ACCEPTANCE).text() == "99.95 … 100.05"  # type: ignore[union-attr]
    assert dialog.points.item(1, VERDICT_FOUND).text() == "Cond. pass"  # type: ignore[union-attr]
    assert dialog.points.item(1, TUR_COLUMN).text() == "2.0:1 low"  # type: ignore[union-attr]
    assert dialog.tur_justification.toPlainText() == "best reference we hold"
    dialog.supersede_reason.setText("certificate number missing")
    dialog.certificate.setText("C-7")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: len(lab.calibrations.history("TH-002")) == before + 1, timeout=10_000)

    records = {c.id: c for c in lab.calibrations.history("TH-002")}
    assert records[old.id].voided
    new = records[records[old.id].superseded_by_id or 0]
    assert new.supersedes_id == old.id
    assert new.certificate_number == "C-7"
    assert [
        (p.nominal, p.as_found, p.tolerance_text, p.uncertainty, p.coverage_factor)
        for p in new.points
    ] == [(20.0, 20.1, "-0.2/+0.3", 0.05, 2.0), (100.0, 100.1, "±0.1", 0.05, 2.0)]
    assert new.points == old.points, "limits, TUR and verdicts too"
    assert new.decision_rule == "guard r=1 conditional"
    assert new.tur_justification == "best reference we hold"
