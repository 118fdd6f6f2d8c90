"""The calibration dialog's readings grid with tolerances as written, U, k, TUR and the
verdicts of the decision rule, offscreen on a real database (issue 14).

Worked numbers (by hand, from ``app.services.decision_rules`` and ``tur``):

- 20 °C ± 0.5 with U = 0.1: w = U = 0.1 under "guard r=1" (ILAC G8:2019 4.2.2/4.2.3),
  acceptance limits 19.6 … 20.4; TUR = (20.5 − 19.5) / (2 × 0.1) = 5.0:1
  (ANSI/NCSL Z540.3's ratio). A reading of 20.45 lies inside the tolerance, outside the
  acceptance limits: binary FAIL, non-binary conditional pass; 20.55 lies within
  TL + w = 20.6: conditional fail.
- U = 0.2 on the same tolerance: TUR = 1 / 0.4 = 2.5:1, below the lab's 4:1.
- ±(0.05 % + 2 digits) at 100 with a resolution of 0.01: 0.05 + 0.02 = 0.07, limits
  99.93 … 100.07 (``tolerance_spec``'s table).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.errors import CalTrackError
from app.services.dto import (
    CalibrationInput,
    InstrumentChanges,
    PointInput,
    TypeInput,
    TypePointInput,
)
from app.ui.dialogs.calibration_dialog import (
    ACCEPTANCE,
    AS_FOUND,
    K_COLUMN,
    LIMITS,
    TUR_COLUMN,
    U_COLUMN,
    VERDICT_FOUND,
    VERDICT_LEFT,
    CalibrationDialog,
)
from tests.conftest import add_thermometer

TAG = "TH-001"


def _dialog(
    qtbot: QtBot, app: CalTrack, sent: list[CalibrationInput] | None = None, **extra: Any
) -> CalibrationDialog:
    def submit(data: CalibrationInput, ok: Any, fail: Any) -> None:
        if sent is not None:
            sent.append(data)
            return
        try:
            view = app.calibrations.add(TAG, data)
        except CalTrackError as exc:  # the dialog shows what the service said
            fail(exc)
            return
        ok(view)

    dialog = CalibrationDialog(
        instrument=app.instruments.get(TAG),
        today=app.clock.today(),
        user="alice",
        standard_tags=[],
        submit=submit,
        rules=app.calibrations.entry_rules(TAG),
        **extra,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _type_row(dialog: CalibrationDialog, row: int, values: Sequence[str]) -> None:
    for col, text in enumerate(values):
        item = dialog.points.item(row, col)
        assert item is not None
        item.setText(text)


def _shown(dialog: CalibrationDialog, row: int, col: int) -> str:
    item = dialog.points.item(row, col)
    assert item is not None
    return item.text()


def _choose_rule(dialog: CalibrationDialog, code: str) -> None:
    index = dialog.rule_box.findData(code)
    assert index >= 0, f"{code} is offered"
    dialog.rule_box.setCurrentIndex(index)


def test_guarded_verdicts_acceptance_limits_and_tur_show_as_typed(
    qtbot: QtBot, app: CalTrack
) -> None:
    add_thermometer(app, TAG)
    dialog = _dialog(qtbot, app)
    # The lab's default (simple acceptance) is in force and said as its sentence.
    assert dialog.rule_code() == "simple"
    assert "Simple acceptance" in dialog.rule_box.currentText()
    _type_row(dialog, 0, ("20", "20.45", "20.3", "0.5", "°C", "0.1", "2"))
    assert _shown(dialog, 0, LIMITS) == "19.5 … 20.5"
    assert _shown(dialog, 0, ACCEPTANCE) == "19.5 … 20.5"  # w = 0
    assert _shown(dialog, 0, TUR_COLUMN) == "5.0:1"
    assert (_shown(dialog, 0, VERDICT_FOUND), _shown(dialog, 0, VERDICT_LEFT)) == ("Pass", "Pass")

    _choose_rule(dialog, "guard r=1 binary")
    assert "w = U" in dialog.rule_box.currentText()
    assert _shown(dialog, 0, ACCEPTANCE) == "19.6 … 20.4"
    assert (_shown(dialog, 0, VERDICT_FOUND), _shown(dialog, 0, VERDICT_LEFT)) == ("FAIL", "Pass")
    assert "decision rule" in dialog.verdict.text()

    _choose_rule(dialog, "guard r=1 conditional")
    assert _shown(dialog, 0, VERDICT_FOUND) == "Cond. pass"
    _type_row(dialog, 0, ("20", "20.55"))
    assert _shown(dialog, 0, VERDICT_FOUND) == "Cond. FAIL"
    assert dialog.oot_notice.isVisible(), "outside the tolerance as found: a case opens"
    # The computed cells are never typed over.
    for col in (LIMITS, ACCEPTANCE, TUR_COLUMN, VERDICT_FOUND, VERDICT_LEFT):
        item = dialog.points.item(0, col)
        assert item is not None and not item.flags() & Qt.ItemFlag.ItemIsEditable

    # Saved as Adjusted under the rule shown: the record stores that rule, U and k.
    dialog.result_box.setCurrentIndex(dialog.result_box.findData("adjusted"))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: dialog.saved is not None, timeout=10_000)
    (record,) = app.calibrations.history(TAG)
    assert record.decision_rule == "guard r=1 conditional"
    (point,) = record.points
    assert (point.uncertainty, point.coverage_factor, point.tolerance) == (0.1, 2.0, 0.5)
    assert point.tolerance_text == ""  # a plain number stays a ± tolerance
    assert point.as_found_verdict is not None and point.as_found_verdict.value == "conditional_fail"


def test_a_low_tur_needs_a_justification(qtbot: QtBot, app: CalTrack) -> None:
    add_thermometer(app, TAG)
    sent: list[CalibrationInput] = []
    dialog = _dialog(qtbot, app, sent)
    assert not dialog.tur_justification.isVisible()
    _type_row(dialog, 0, ("20", "20.1", "", "0.5", "°C", "0.2"))
    assert _shown(dialog, 0, TUR_COLUMN) == "2.5:1 low"
    assert dialog.tur_problem_text.isVisible()
    assert "point 1 (2.5:1)" in dialog.tur_problem_text.text()
    assert "minimum of 4:1" in dialog.tur_problem_text.text()
    assert dialog.tur_justification.isVisible()

    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    save.click()
    error = dialog.after.rows["tur_justification"].error
    assert error.isVisible() and "required" in error.text()
    assert sent == []

    dialog.tur_justification.setPlainText("No better reference at 20 °C; customer agreed")
    save.click()
    assert len(sent) == 1
    assert sent[0].tur_justification == "No better reference at 20 °C; customer agreed"
    assert sent[0].decision_rule == "simple"
    assert sent[0].points[0].uncertainty == 0.2 and sent[0].points[0].coverage_factor is None

    # A better U: the TUR is no longer low and the justification is no longer asked for.
    dialog.tur_justification.clear()
    _type_row(dialog, 0, ("20", "20.1", "", "0.5", "°C", "0.1"))
    assert _shown(dialog, 0, TUR_COLUMN) == "5.0:1"
    assert not dialog.tur_problem_text.isVisible()
    assert not dialog.tur_justification.isVisible()


def test_a_tolerance_as_written_and_a_bad_cell_are_shown_in_the_row(
    qtbot: QtBot, app: CalTrack
) -> None:
    add_thermometer(app, TAG, resolution_text="0.01 °C")
    sent: list[CalibrationInput] = []
    dialog = _dialog(qtbot, app, sent)
    _type_row(dialog, 0, ("100", "100.05", "", "±(0.05 % + 2 digits)", "°C"))
    assert _shown(dialog, 0, LIMITS) == "99.93 … 100.07"
    assert _shown(dialog, 0, VERDICT_FOUND) == "Pass"
    assert _shown(dialog, 0, TUR_COLUMN) == "", "no U: the TUR is unknown, not good"
    # A %FS tolerance needs the instrument's range, which TH-001 lacks: said in the row.
    _type_row(dialog, 0, ("100", "100.05", "", "±0.5 %FS", "°C"))
    assert _shown(dialog, 0, LIMITS) == ""
    assert "Point 1:" in dialog.verdict.text() and "range" in dialog.verdict.text()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert sent == [] and "range" in dialog.banner.text()
    # k without U is refused before anything is sent.
    _type_row(dialog, 0, ("100", "100.05", "", "±0.1", "°C", "", "2"))
    assert "k must be more than 0, and comes with U" in dialog.verdict.text()
    _type_row(dialog, 0, ("100", "100.05", "", "±0.1", "°C", "0.02", "2"))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert len(sent) == 1
    point = sent[0].points[0]
    assert (point.tolerance_text, point.uncertainty, point.coverage_factor) == ("±0.1", 0.02, 2.0)


def test_a_typed_instrument_starts_from_its_plan_and_rule(qtbot: QtBot, app: CalTrack) -> None:
    app.types.add(
        TypeInput(
            name="Bench thermometer",
            decision_rule="guard r=1 binary",
            procedure_id="WI-7",
            procedure_revision="B",
            resolution="0.01",
            points=(
                TypePointInput(0, "±0.3", "°C"),
                TypePointInput(100, "-0.2/+0.4", "°C"),
                TypePointInput(100, "±(0.05 % + 2 digits)", "°C"),
            ),
        )
    )
    # Its form names no resolution: the type's (0.01) resolves the digits, as on saving.
    add_thermometer(app, TAG)
    app.instruments.edit(TAG, InstrumentChanges(), type_name="Bench thermometer")
    dialog = _dialog(qtbot, app, plan=app.types.prefill(TAG))
    assert dialog.rule_code() == "guard r=1 binary"
    assert "Bench thermometer" in dialog.rule_box.currentText()
    assert "WI-7 rev B" in dialog.plan_label.text()
    rows = [[_shown(dialog, r, c) for c in range(5)] for r in range(dialog.points.rowCount())]
    assert rows == [
        ["0", "", "", "±0.3", "°C"],
        ["100", "", "", "-0.2/+0.4", "°C"],
        ["100", "", "", "±(0.05 % + 2 digits)", "°C"],
    ]
    assert _shown(dialog, 1, LIMITS) == "99.8 … 100.4"
    assert _shown(dialog, 2, LIMITS) == "99.93 … 100.07"
    # Reached by keyboard, the grid starts at the first reading to type.
    dialog.activateWindow()
    dialog.points.setFocus(Qt.FocusReason.ShortcutFocusReason)
    qtbot.waitUntil(dialog.points.hasFocus, timeout=5_000)
    assert (dialog.points.currentRow(), dialog.points.currentColumn()) == (0, AS_FOUND)

    for row, found in enumerate(("0.1", "100.1", "100.05")):
        _type_row(dialog, row, (_shown(dialog, row, 0), found))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    qtbot.waitUntil(lambda: dialog.saved is not None, timeout=10_000)
    (record,) = app.calibrations.history(TAG)
    assert record.decision_rule == "guard r=1 binary"
    assert [(p.tolerance_text, p.lower_limit, p.upper_limit) for p in record.points] == [
        ("±0.3", -0.3, 0.3),
        ("-0.2/+0.4", 99.8, 100.4),
        ("±(0.05 % + 2 digits)", 99.93, 100.07),
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the window's logic only
def test_a_standard_offers_u_in_empty_cells_and_never_over_a_typed_one(
    qtbot: QtBot, app: CalTrack
) -> None:
    # STD-1 was calibrated at 20 °C with U = 0.1 (k = 2): offered at 20 °C, TUR 5.0:1.
    add_thermometer(app, TAG)
    add_thermometer(app, "STD-1")
    app.calibrations.add(
        "STD-1",
        CalibrationInput(
            "2026-06-01", "pass", points=(PointInput(20, 20, 20, 1.0, "°C", 0.1, 2.0),)
        ),
    )
    dialog = _dialog(
        qtbot,
        app,
        offer_uncertainty=lambda tags, day, done: done(
            app.calibrations.standard_uncertainties(tags, day)
        ),
    )
    _type_row(dialog, 0, ("20", "", "", "0.5", "°C"))
    dialog.add_point(("20", "", "", "0.5", "°C", "0.2", "2"))  # U typed: the person's
    dialog.add_point(("20", "", "", "0.5", "°C"))
    # (Typed with setText: the completer's popup is not for the offscreen platform.)
    dialog.standard_input.setText("STD-1")
    qtbot.keyClick(dialog.standard_input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.offered(0), timeout=10_000)
    assert [(_shown(dialog, r, U_COLUMN), dialog.offered(r)) for r in range(3)] == [
        ("0.1", True),
        ("0.2", False),
        ("0.1", True),
    ]
    assert [_shown(dialog, r, TUR_COLUMN) for r in range(3)] == ["5.0:1", "2.5:1 low", "5.0:1"]
    # Typed over: the row's U is the person's; the standard removed clears only offers.
    _type_row(dialog, 0, ("20", "", "", "0.5", "°C", "0.15"))
    assert not dialog.offered(0)
    dialog.standards.takeItem(0)
    qtbot.waitUntil(lambda: not dialog.offered(2), timeout=10_000)
    assert [_shown(dialog, r, U_COLUMN) for r in range(3)] == ["0.15", "0.2", ""]
    assert [_shown(dialog, r, K_COLUMN) for r in range(3)] == ["2", "2", ""]


def test_the_provider_register_is_offered_as_a_provider_name_is_typed(
    qtbot: QtBot, app: CalTrack
) -> None:
    """Issue 15: the register's providers complete the external provider's name; any
    other name is still taken as typed (records before the register keep theirs)."""
    add_thermometer(app, TAG)
    dialog = _dialog(qtbot, app, provider_names=["CalCo Labs", "Thermo Cal"])
    completer = dialog.provider_name.completer()
    assert completer is not None
    completer.setCompletionPrefix("cal")
    offered = [completer.completionModel().index(r, 0).data() for r in range(2)]
    assert offered[0] == "CalCo Labs"
    assert "Thermo Cal" in offered  # contains "cal", whatever the case
