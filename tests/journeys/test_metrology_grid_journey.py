"""Journey (issue 14): a typed instrument's calibration entered by keyboard, the grid
prefilled from its type's test plan, the standard its type requires picked and offering
U, TUR and guarded verdicts shown as typed, saved.

The standard STD-7 was calibrated on 2026-06-01 at 0, 50 and 100 °C with U = 0.05, 0.05
and 0.03 °C (k = 2): picking it offers those U at the plan's nominals (the nearest
calibrated point, here the same nominal). The technician keeps the first two offers and
types their own U = 0.04 at 100 °C (their budget adds the probe's immersion).

Worked numbers (by hand; ``app.services.decision_rules`` and ``tur``): the type's rule is
"guard r=1 binary", w = U (ILAC G8:2019 4.2.2).

- 0 °C ± 0.3, U = 0.05: acceptance −0.25 … 0.25, TUR 0.6 / 0.1 = 6.0:1; 0.05 passes.
- 50 °C ± 0.3, U = 0.05: acceptance 49.75 … 50.25; 50.28 lies inside the tolerance but
  outside the acceptance limits: FAIL (binary); 50.02 as left passes.
- 100 °C ± (0.1 % + 2 digits) with a resolution of 0.01: 0.1 + 0.02 = 0.12, limits
  99.88 … 100.12; the offered U = 0.03 gives TUR 0.24 / 0.06 = 4.0:1; the typed U = 0.04
  gives 0.24 / 0.08 = 3.0:1, below the lab's 4:1, so the record needs a TUR
  justification.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.decision_rules import Verdict
from app.services.dto import (
    CalibrationInput,
    InstrumentChanges,
    PointInput,
    TypeInput,
    TypePointInput,
)
from app.settings.user_settings import UserSettings
from app.ui.dialogs.calibration_dialog import (
    ACCEPTANCE,
    AS_FOUND,
    K_COLUMN,
    TUR_COLUMN,
    U_COLUMN,
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
            standard_categories=("PRT reference",),
            points=(
                TypePointInput(0, "±0.3", "°C"),
                TypePointInput(50, "±0.3", "°C"),
                TypePointInput(100, "±(0.1 % + 2 digits)", "°C"),
            ),
        )
    )
    add_thermometer(app, TAG, resolution_text="0.01 °C")
    app.instruments.edit(TAG, InstrumentChanges(), type_name=TYPE)
    add_thermometer(app, "STD-7", description="Reference PRT", category="PRT reference")
    standard_points = ((0.0, 0.05), (50.0, 0.05), (100.0, 0.03))
    app.calibrations.add(
        "STD-7",
        CalibrationInput(
            performed_on="2026-06-01",
            result="pass",
            points=tuple(PointInput(n, n, n, 1.0, "°C", u, 2.0) for n, u in standard_points),
        ),
    )
    win_iter = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(win_iter)
    qtbot.waitUntil(lambda: win.model.rowCount() == 2, timeout=10_000)
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
    (row,) = [r for r in range(window.model.rowCount()) if window.model.index(r, 0).data() == TAG]
    person.click_cell(window.table, row, 0)
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

    # The type requires a PRT reference: said before any standard is picked.
    problem = dialog.standards_problem_text
    qtbot.waitUntil(problem.isVisible, timeout=10_000)
    assert "needs a standard of the category PRT reference" in problem.text()

    # The standard picked offers U at each nominal; TUR computes before a reading.
    person.click(dialog.standard_input)
    person.write("STD-7")
    person.press(Qt.Key.Key_Return)
    # Enter added the standard, and did not press Save with the grid still empty.
    assert dialog.isVisible() and dialog.standard_tags() == ["STD-7"]
    qtbot.waitUntil(lambda: dialog.offered(2), timeout=10_000)
    assert [(_cell(dialog, r, U_COLUMN), _cell(dialog, r, K_COLUMN)) for r in range(3)] == [
        ("0.05", "2"),
        ("0.05", "2"),
        ("0.03", "2"),
    ]
    offer = grid.item(0, U_COLUMN)
    assert offer is not None and offer.font().italic()
    assert "of STD-7 (2026-06-01), point 0 °C" in offer.toolTip()
    assert [_cell(dialog, r, TUR_COLUMN) for r in range(3)] == ["6.0:1", "6.0:1", "4.0:1"]
    qtbot.waitUntil(lambda: not problem.isVisible(), timeout=10_000)  # STD-7 is one

    # Alt+G goes to the grid, at the first reading to type.
    person.shortcut("Alt+G")
    assert person.focused() is grid or grid.isAncestorOf(person.focused())
    assert (grid.currentRow(), grid.currentColumn()) == (0, AS_FOUND)
    # As found, as left, (tolerance, unit, U and k as planned and offered); next row.
    for found, left in (("0.05", "0.02"), ("50.28", "50.02")):
        for text in (found, left, "", "", "", "", ""):
            person.write(text)
            person.press(Qt.Key.Key_Tab)
    assert (grid.currentRow(), grid.currentColumn()) == (2, AS_FOUND)
    # At 100 °C the technician's own U, typed over the offer (k typed too).
    for text in ("100.03", "", "", "", "0.04"):
        person.write(text)
        person.press(Qt.Key.Key_Tab)
    person.write("2")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: grid.state() == QAbstractItemView.State.NoState, timeout=5_000)
    assert [dialog.offered(r) for r in range(3)] == [True, True, False]
    typed = grid.item(2, U_COLUMN)
    assert typed is not None and not typed.font().italic() and typed.toolTip() == ""

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
    assert record.standards == ["STD-7"]
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
