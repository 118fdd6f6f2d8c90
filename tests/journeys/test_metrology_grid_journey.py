"""Journey (issue 14): a typed instrument's calibration entered by keyboard, the grid
prefilled from its type's test plan, TUR and guarded verdicts shown as typed, saved.

Worked numbers (by hand; ``app.services.decision_rules`` and ``tur``): the type's rule is
"guard r=1 binary", w = U (ILAC G8:2019 4.2.2).

- 0 °C ± 0.3, U = 0.05: acceptance −0.25 … 0.25, TUR 0.6 / 0.1 = 6.0:1; 0.05 passes.
- 50 °C ± 0.3, U = 0.05: acceptance 49.75 … 50.25; 50.28 lies inside the tolerance but
  outside the acceptance limits: FAIL (binary); 50.02 as left passes.
- 100 °C ± (0.1 % + 2 digits) with a resolution of 0.01: 0.1 + 0.02 = 0.12, limits
  99.88 … 100.12; U = 0.04: TUR 0.24 / 0.08 = 3.0:1, below the lab's 4:1, so the record
  needs a TUR justification.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.decision_rules import Verdict
from app.services.dto import InstrumentChanges, TypeInput, TypePointInput
from app.settings.user_settings import UserSettings
from app.ui.dialogs.calibration_dialog import (
    ACCEPTANCE,
    AS_FOUND,
    TUR_COLUMN,
    VERDICT_FOUND,
    VERDICT_LEFT,
    CalibrationDialog,
)
from app.ui.main_window import MainWindow
from tests.conftest import add_thermometer
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone

TAG = "TH-0043"
TYPE = "Digital thermometer, 0-150 °C"
Screenshot = Callable[[QWidget, str], None]


@pytest.fixture
def typed_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The window on a thermometer of a type with a three-point plan."""
    app.types.add(
        TypeInput(
            name=TYPE,
            decision_rule="guard r=1 binary",
            procedure_id="WI-12",
            procedure_revision="C",
            resolution="0.01",
            points=(
                TypePointInput(0, "±0.3", "°C"),
                TypePointInput(50, "±0.3", "°C"),
                TypePointInput(100, "±(0.1 % + 2 digits)", "°C"),
            ),
        )
    )
    add_thermometer(app, TAG, resolution_text="0.01 °C")
    app.instruments.edit(TAG, InstrumentChanges(), type_name=TYPE)
    win_iter = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(win_iter)
    qtbot.waitUntil(lambda: win.model.rowCount() == 1, timeout=10_000)
    yield win
    next(win_iter, None)


def _cell(dialog: CalibrationDialog, row: int, col: int) -> str:
    item = dialog.points.item(row, col)
    return item.text() if item is not None else ""


def test_a_typed_instrument_is_calibrated_by_keyboard_from_its_plan(
    qtbot: QtBot,
    person: Person,
    typed_window: MainWindow,
    app: CalTrack,
    screenshot: Screenshot,
) -> None:
    window = typed_window
    person.click_cell(window.table, 0, 0)
    qtbot.waitUntil(lambda: window.detail.history is not None, timeout=10_000)

    person.shortcut("Ctrl+K")
    dialog = person.wait_for(CalibrationDialog)
    grid = dialog.points
    # Prefilled from the type: nominals, tolerances as written, units; the type's rule.
    assert [[_cell(dialog, r, c) for c in range(5)] for r in range(grid.rowCount())] == [
        ["0", "", "", "±0.3", "°C"],
        ["50", "", "", "±0.3", "°C"],
        ["100", "", "", "±(0.1 % + 2 digits)", "°C"],
    ]
    assert "Guarded acceptance, w = U" in dialog.rule_box.currentText()
    assert TYPE in dialog.rule_box.currentText()

    # Alt+G goes to the grid, at the first reading to type.
    person.shortcut("Alt+G")
    assert person.focused() is grid or grid.isAncestorOf(person.focused())
    assert (grid.currentRow(), grid.currentColumn()) == (0, AS_FOUND)
    # As found, as left, (tolerance and unit as planned), U, k; then the next row.
    for found, left, big_u in (("0.05", "0.02", "0.05"), ("50.28", "50.02", "0.05")):
        for text in (found, left, "", "", big_u, "2", ""):
            person.write(text)
            person.press(Qt.Key.Key_Tab)
    assert (grid.currentRow(), grid.currentColumn()) == (2, AS_FOUND)
    for text in ("100.03", "", "", "", "0.04"):
        person.write(text)
        person.press(Qt.Key.Key_Tab)
    person.write("2")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: grid.state() == QAbstractItemView.State.NoState, timeout=5_000)

    # As typed: acceptance limits, TUR (flagged below 4:1) and the guarded verdicts.
    assert [_cell(dialog, r, ACCEPTANCE) for r in range(3)] == [
        "-0.25 … 0.25",
        "49.75 … 50.25",
        "99.92 … 100.08",
    ]
    assert [_cell(dialog, r, TUR_COLUMN) for r in range(3)] == ["6.0:1", "6.0:1", "3.0:1 low"]
    assert [
        (_cell(dialog, r, VERDICT_FOUND), _cell(dialog, r, VERDICT_LEFT)) for r in range(3)
    ] == [
        ("Pass", "Pass"),
        ("FAIL", "Pass"),
        ("Pass", ""),
    ]
    assert dialog.tur_problem_text.isVisible()
    assert "point 3 (3.0:1)" in dialog.tur_problem_text.text()
    assert not dialog.oot_notice.isVisible(), "inside the tolerance: no case opens"

    # Result: Adjusted (Alt+R, Down); the TUR justification (Alt+I).
    person.shortcut("Alt+R")
    person.press(Qt.Key.Key_Down)
    assert dialog.result_box.currentData() == "adjusted"
    person.shortcut("Alt+I")
    assert person.focused() is dialog.tur_justification
    person.write("Best reference we hold at 100 °C; TUR 3:1 accepted per WI-12 4.3")
    screenshot(dialog, "calibration-metrology")
    person.click_button("Save")
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    (record,) = app.calibrations.history(TAG)
    assert record.result == "adjusted"
    assert record.decision_rule == "guard r=1 binary"
    assert record.tur_justification.startswith("Best reference we hold at 100 °C")
    assert [
        (p.nominal, p.as_found, p.as_left, p.tolerance_text, p.uncertainty, p.coverage_factor)
        for p in record.points
    ] == [
        (0.0, 0.05, 0.02, "±0.3", 0.05, 2.0),
        (50.0, 50.28, 50.02, "±0.3", 0.05, 2.0),
        (100.0, 100.03, None, "±(0.1 % + 2 digits)", 0.04, 2.0),
    ]
    assert [(p.lower_limit, p.upper_limit) for p in record.points] == [
        (-0.3, 0.3),
        (49.7, 50.3),
        (99.88, 100.12),
    ]
    assert [p.tur_text for p in record.points] == ["6.0:1", "6.0:1", "3.0:1"]
    assert [(p.as_found_verdict, p.as_left_verdict) for p in record.points] == [
        (Verdict.PASS, Verdict.PASS),
        (Verdict.FAIL, Verdict.PASS),
        (Verdict.PASS, None),
    ]
    assert record.oot_case_id is None
