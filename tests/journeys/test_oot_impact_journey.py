"""Journey: QA reads a failed standard's OOT impact list and opens a follow-up case from it.

The lab of tests/unit/impact_helpers.py (issue 14's worked numbers): STD-1 was found
+0.1 °C high at 0 °C and +0.3 °C high at 100 °C, after serving in the calibrations of
TH-A, TH-B and TH-C. Shifted by that error, exactly four verdicts flip, all pass → fail:
TH-A point 1 (guarded acceptance w = U: 100.1 → 100.4, past the acceptance limit 100.3)
as found and as left, and TH-B point 2 (error +0.2, linear between the two nominals:
50.35 → 50.55, past 50.5) as found and as left. Quinn (QA) opens the cases window, reads
the list on its tab, picks TH-B's flipped row by keyboard and opens a follow-up case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QMessageBox, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.settings.user_settings import UserSettings
from app.ui.dialogs.oot_dialogs import OotWindow
from app.ui.main_window import MainWindow
from app.ui.models.impact_table import COL_CHANGE, COLUMNS
from tests.journeys.conftest import open_window
from tests.journeys.person import Person
from tests.unit.impact_helpers import FailedStandard, build_failed_standard
from tests.unit.qa_helpers import QUINN, make_qa, open_as

pytestmark = pytest.mark.sqlite_only(
    "the list is the service's, proven on both backends in tests/unit/test_oot_impact.py; "
    "the window only shows it"
)

# The flipped rows as the window words them: Instrument, Point, Reading, Unit, Stored,
# Error, Shifted, Verdict (before → after), Change (the record column aside).
FLIPPED = [
    ["TH-A", "1", "as found", "°C", "100.1", "+0.3", "100.4", "pass → fail", "Would change"],
    ["TH-A", "1", "as left", "°C", "100.1", "+0.3", "100.4", "pass → fail", "Would change"],
    ["TH-B", "2", "as found", "°C", "50.35", "+0.2", "50.55", "pass → fail", "Would change"],
    ["TH-B", "2", "as left", "°C", "50.35", "+0.2", "50.55", "pass → fail", "Would change"],
]


@pytest.fixture
def lab(app: CalTrack, db_url: str, clock: FixedClock) -> Iterator[tuple[CalTrack, FailedStandard]]:
    """The lab above, built by alice (admin); quinn, QA, opens it."""
    built = build_failed_standard(app)
    make_qa(app, db_url, clock)  # closes alice's session
    with open_as(db_url, QUINN, clock) as quinn:
        yield quinn, built


@pytest.fixture
def qa_window(qtbot: QtBot, lab: tuple[CalTrack, FailedStandard]) -> Iterator[MainWindow]:
    yield from open_window(qtbot, lab[0], UserSettings(reminders=False))


def row_texts(cases: OotWindow, row: int) -> list[str]:
    model = cases.impact_model
    return [str(model.index(row, c).data()) for c in range(1, len(COLUMNS))]


def test_qa_reads_the_impact_list_and_opens_a_follow_up_case(
    qtbot: QtBot,
    person: Person,
    lab: tuple[CalTrack, FailedStandard],
    qa_window: MainWindow,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    app, built = lab
    (case,) = app.oot.list(status="open")
    person.shortcut("Ctrl+Shift+O")
    cases = person.wait_for(OotWindow)
    qtbot.waitUntil(lambda: cases.loaded and cases.case is not None, timeout=10_000)
    person.click_cell(cases.table, 0, 1)
    assert cases.case is not None and cases.case.id == case.id

    bar = cases.tabs.tabBar()
    person.click(bar, bar.tabRect(1).center())
    assert cases.tabs.currentIndex() == 1
    qtbot.waitUntil(lambda: cases.impact is not None, timeout=10_000)
    assert bar.tabText(1) == "Impact: 4 verdicts would change"

    # The line above the list: live, the service's summary, the standard's errors, the method.
    note = cases.impact_note.text()
    assert note.startswith("Computed now from the stored readings")
    assert "4 verdict(s) would change, at 2 point(s) of 2 record(s): TH-A, TH-B" in note
    assert (
        f"Standard STD-1's as-found error, from its calibration #{built.failing_record}: "
        "+0.1 °C at 0 °C; +0.3 °C at 100 °C." in note
    )
    assert "linear between the standard's two nominals around it" in note

    # Exactly the four flipped rows stand out, by their words and by colour and weight.
    model = cases.impact_model
    assert model.rowCount() == 10  # 5 points of TH-A, TH-B, TH-C: as found and as left
    flipped = [
        r for r in range(model.rowCount()) if model.index(r, COL_CHANGE).data() == "Would change"
    ]
    assert [row_texts(cases, r) for r in flipped] == FLIPPED
    assert model.index(flipped[0], 0).data() == f"#{built.records['TH-A']}"
    for r in range(model.rowCount()):
        font = model.index(r, 1).data(Qt.ItemDataRole.FontRole)
        coloured = model.index(r, 1).data(Qt.ItemDataRole.ForegroundRole) is not None
        assert (isinstance(font, QFont) and font.bold()) == (r in flipped) == coloured
    changes = {model.index(r, COL_CHANGE).data() for r in range(model.rowCount())}
    assert changes - {"Would change"} == {
        "unchanged",
        "not comparable: the standard's failing calibration has no as-found reading in °F",
        "no as found reading: skipped",
    }
    assert not cases.follow_up_button.isEnabled(), "nothing selected yet"
    assert "Select readings first" in cases.follow_up_button.toolTip()

    # By keyboard: Alt+P into the list, down to TH-B's flipped row, Enter. Tab leaves the
    # list for its buttons, Shift+Tab comes back.
    person.shortcut("Alt+P")
    assert person.focused() is cases.impact_table
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is cases.select_flipped_button
    person.press(Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
    assert person.focused() is cases.impact_table
    target = flipped[2]
    while cases.impact_table.currentIndex().row() < target:
        person.press(Qt.Key.Key_Down)
    person.press(Qt.Key.Key_Return)
    selection = cases.impact_table.selectionModel()
    assert [i.row() for i in selection.selectedRows()] == [target]
    person.press(Qt.Key.Key_Space)  # Space takes it out again, and puts it back
    assert selection.selectedRows() == []
    assert not cases.follow_up_button.isEnabled()
    person.press(Qt.Key.Key_Space)
    assert [i.row() for i in selection.selectedRows()] == [target]
    assert cases.follow_up_button.isEnabled()

    person.shortcut("Alt+F")  # Open &follow-up cases…
    question = person.wait_for(QMessageBox, where=lambda b: b.objectName() == "followUpQuestion")
    assert question.text() == "Open a follow-up out-of-tolerance case for TH-B?"
    person.click_button("Open follow-up cases", within=question)

    qtbot.waitUntil(lambda: len(app.oot.list(status="open")) == 2, timeout=10_000)
    new = next(c for c in app.oot.list(status="open") if c.id != case.id)
    assert (new.asset_tag, new.record_id, new.origin_case_id) == (
        "TH-B",
        built.records["TH-B"],
        case.id,
    )
    assert new.summary.startswith(f"Follow-up of OOT-{case.id}: standard STD-1 found out of")
    assert "TH-B" in new.summary and "as found: pass → fail" in new.summary
    qtbot.waitUntil(
        lambda: cases.follow_up_note.text().startswith(f"Opened OOT-{new.id} (TH-B)"),
        timeout=10_000,
    )
    # The window heard the change through the runner's one signal: the new case is listed.
    qtbot.waitUntil(lambda: cases.model.rowCount() == 2, timeout=10_000)
    assert cases.filter_buttons["open"].text() == "Open (2)"
    assert cases.case is not None and cases.case.id == case.id, "still on STD-1's case"
    qtbot.waitUntil(lambda: cases.impact is not None and cases.impact_model.rowCount() == 10)
    screenshot(cases, "oot-impact")
