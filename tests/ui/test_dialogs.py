"""Dialogs on their own: inline errors, live verdicts, required reasons, choices."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QComboBox, QDateEdit, QDialogButtonBox, QLabel, QLineEdit
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.errors import ConflictError, ConflictSide, ReadOnlyError, ValidationError
from app.locking.holder import HolderInfo
from app.services.dto import (
    CalibrationInput,
    InstrumentChanges,
    InstrumentInput,
    StatedUncertainty,
    TypeChanges,
    TypeFieldInput,
    TypeInput,
)
from app.services.instruments import Unchanged
from app.ui.dialogs.calibration_dialog import VERDICT_FOUND, VERDICT_LEFT, CalibrationDialog
from app.ui.dialogs.conflict_dialog import ConflictChoice, ConflictDialog
from app.ui.dialogs.instrument_dialog import CUSTOM_ROW, STATED_ROW, TYPE_ROW, InstrumentDialog
from app.ui.dialogs.lock_dialog import LockChoice, LockInUseDialog
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.vocabulary import LIFECYCLES, REQUIREMENTS
from app.words import LIFECYCLE_LABELS, PROVIDER_LABELS, REQUIREMENT_LABELS, RESULT_LABELS
from tests.conftest import add_thermometer
from tests.ui.conftest import Shown

Ok = Callable[[Any], None]
Fail = Callable[[BaseException], None]


def test_instrument_dialog_shows_server_errors_next_to_fields(qtbot: QtBot, shown: Shown) -> None:
    calls: list[InstrumentInput | InstrumentChanges] = []

    def submit(
        data: InstrumentInput | InstrumentChanges, version: int | None, ok: Ok, fail: Fail
    ) -> None:
        calls.append(data)
        fail(ValidationError({"asset_tag": "'TH-1' is already used by TH-1"}))

    dialog = InstrumentDialog(submit=submit, on_conflict=lambda e, m: None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.edits["asset_tag"], "th-1")
    qtbot.keyClicks(dialog.edits["description"], "Thermometer")
    qtbot.keyClick(dialog.edits["description"], Qt.Key.Key_Return)  # Enter saves
    assert calls == [InstrumentInput(asset_tag="th-1", description="Thermometer")]
    error = dialog.form.rows["asset_tag"].error
    assert error.isVisible() and "already used" in error.text()
    assert dialog.isVisible(), "the dialog stays open with what was typed"
    assert dialog.edits["description"].text() == "Thermometer"
    assert dialog.buttons.button(QDialogButtonBox.StandardButton.Save).isEnabled()


def test_instrument_dialog_requires_tag_and_description(qtbot: QtBot) -> None:
    calls: list[Any] = []
    dialog = InstrumentDialog(submit=lambda *a: calls.append(a), on_conflict=lambda e, m: None)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert calls == []
    assert dialog.form.rows["description"].error.text() == "required"


def test_instrument_dialog_keeps_entries_when_read_only(qtbot: QtBot, shown: Shown) -> None:
    dialog = InstrumentDialog(
        submit=lambda v, ver, ok, fail: fail(ReadOnlyError("locked by bob on LAB-PC-7")),
        on_conflict=lambda e, m: None,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.edits["asset_tag"], "TH-9")
    qtbot.keyClicks(dialog.edits["description"], "kept")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert dialog.isVisible()
    assert dialog.banner.isVisible() and "kept" in dialog.banner.text()
    assert dialog.edits["description"].text() == "kept"
    assert shown.titles() == ["Read-only"]


def _choices(box: QComboBox) -> list[tuple[Any, str]]:
    return [(box.itemData(i), box.itemText(i)) for i in range(box.count())]


def test_instrument_dialog_menus_offer_the_vocabulary(qtbot: QtBot) -> None:
    dialog = InstrumentDialog(submit=lambda *a: None, on_conflict=lambda e, m: None)
    qtbot.addWidget(dialog)
    assert _choices(dialog.status) == list(LIFECYCLE_LABELS.items())
    assert [value for value, _ in _choices(dialog.status)] == list(LIFECYCLES)
    assert _choices(dialog.requirement) == list(REQUIREMENT_LABELS.items())
    assert [value for value, _ in _choices(dialog.requirement)] == list(REQUIREMENTS)


def test_instrument_dialog_escape_cancels(qtbot: QtBot) -> None:
    dialog = InstrumentDialog(submit=lambda *a: None, on_conflict=lambda e, m: None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(dialog.isVisible)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.result() == 0


def test_edit_sends_only_changed_fields_with_version(qtbot: QtBot, demo_app: CalTrack) -> None:
    tag = demo_app.instruments.list(limit=1).rows[0].asset_tag
    detail = demo_app.instruments.get(tag)
    sent: list[tuple[InstrumentInput | InstrumentChanges, int | None]] = []
    dialog = InstrumentDialog(
        submit=lambda v, ver, ok, fail: sent.append((v, ver)),
        on_conflict=lambda e, m: None,
        detail=detail,
    )
    qtbot.addWidget(dialog)
    dialog.edits["location"].setText("Lab 9.99")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert sent == [(InstrumentChanges(location="Lab 9.99"), detail.version)]


def calibration_dialog(qtbot: QtBot, app: CalTrack, submit: Any) -> CalibrationDialog:
    tag = app.instruments.list(limit=1).rows[0].asset_tag
    dialog = CalibrationDialog(
        instrument=app.instruments.get(tag),
        today=date(2026, 11, 23),
        user="alice",
        standard_tags=[],
        submit=submit,
    )
    qtbot.addWidget(dialog)
    return dialog


def test_calibration_menus_offer_the_vocabulary(qtbot: QtBot, demo_app: CalTrack) -> None:
    dialog = calibration_dialog(qtbot, demo_app, lambda *a: None)
    assert _choices(dialog.result_box) == list(RESULT_LABELS.items())
    assert _choices(dialog.provider) == list(PROVIDER_LABELS.items())


def test_points_pass_and_fail_update_live(qtbot: QtBot, demo_app: CalTrack) -> None:
    dialog = calibration_dialog(qtbot, demo_app, lambda *a: None)
    for col, text in enumerate(("20", "20.4", "20.6", "0.5", "°C")):
        item = dialog.points.item(0, col)
        assert item is not None
        item.setText(text)
    found, left = dialog.points.item(0, VERDICT_FOUND), dialog.points.item(0, VERDICT_LEFT)
    assert found is not None and left is not None
    assert (found.text(), left.text()) == ("Pass", "FAIL")
    assert "as left" in dialog.verdict.text()
    item = dialog.points.item(0, 2)
    assert item is not None
    item.setText("20.1")
    assert left.text() == "Pass"


def test_calibration_submits_input_and_due_override_needs_reason(
    qtbot: QtBot, demo_app: CalTrack
) -> None:
    sent: list[CalibrationInput] = []
    dialog = calibration_dialog(qtbot, demo_app, lambda data, ok, fail: sent.append(data))
    for col, text in enumerate(("100", "100.2", "", "0.5", "bar")):
        item = dialog.points.item(0, col)
        assert item is not None
        item.setText(text)
    dialog.override_due.setChecked(True)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert sent == []
    assert "reason" in dialog.after.rows["next_due"].error.text()
    dialog.due_reason.setText("heavy use")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    assert len(sent) == 1
    assert sent[0].points[0].nominal == 100.0 and sent[0].points[0].as_left is None
    assert sent[0].next_due_reason == "heavy use"


def test_reason_dialog_needs_a_reason(qtbot: QtBot) -> None:
    dialog = ReasonDialog("Void", "Why?")
    qtbot.addWidget(dialog)
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.text, "   ")
    assert not dialog.ok.isEnabled()
    qtbot.keyClicks(dialog.text, "wrong instrument")
    assert dialog.ok.isEnabled() and dialog.reason == "wrong instrument"


def test_conflict_dialog_lists_both_sides_and_defaults_to_cancel(qtbot: QtBot) -> None:
    conflict = ConflictError(
        "instrument",
        "TH-1",
        yours=ConflictSide(1, {"location": "Lab 2"}),
        theirs=ConflictSide(2, {"location": "Lab 3"}, "bob", "2026-11-23T10:42:00.000000Z"),
    )
    dialog = ConflictDialog(conflict, {"location": "Lab 2"})
    qtbot.addWidget(dialog)
    cells = [
        [dialog.table.item(r, c).text() for c in range(3)]  # type: ignore[union-attr]
        for r in range(dialog.table.rowCount())
    ]
    assert cells == [["Location", "Lab 2", "Lab 3"]]
    header = dialog.table.horizontalHeaderItem(2)
    assert header is not None and "bob at 10:42" in header.text()
    assert dialog.choice is ConflictChoice.CANCEL
    dialog.reapply.click()
    assert dialog.choice.value == ConflictChoice.REAPPLY_MINE.value


def test_lock_dialog_names_the_holder_and_defaults_to_read_only(qtbot: QtBot) -> None:
    holder = HolderInfo("alice", "LAB-PC-3", 1, "s", "0.1.0", "2026-11-23T09:12:00+00:00")
    dialog = LockInUseDialog(holder)
    qtbot.addWidget(dialog)
    text = " ".join(label.text() for label in dialog.findChildren(QLabel))
    assert "CalTrack database in use" in text
    assert "<b>alice</b> on <b>LAB-PC-3</b>" in text
    assert dialog.read_only.isDefault()
    assert dialog.take_over is None, "no take-over unless the heartbeat is known to be stale"
    dialog.notify.click()
    assert dialog.choice is LockChoice.NOTIFY


@pytest.mark.sqlite_only(
    "the form's own behaviour; the type rules it shows are tested on both backends "
    "(tests/unit/test_instrument_types.py)"
)
def test_instrument_dialog_changes_type_without_dropping_values(
    qtbot: QtBot, app: CalTrack
) -> None:
    probe = TypeInput(
        name="Thermometer",
        fields=(
            TypeFieldInput("Probe serial", "text", True),
            TypeFieldInput("Probe length mm", "number"),
            TypeFieldInput("Probe kind", "choice", False, ("Pt100", "Type K")),
        ),
    )
    gauge = TypeInput(
        name="Pressure gauge",
        default_interval_days=90,
        fields=(
            TypeFieldInput("Class", "choice", False, ("0.1", "0.25")),
            TypeFieldInput("Installed on", "date"),
        ),
    )
    app.types.add(probe)
    app.types.add(gauge)
    add_thermometer(app, "TH-1")
    app.instruments.edit(
        "TH-1",
        InstrumentChanges(),
        type_name="Thermometer",
        custom={"Probe serial": "PS-1", "Probe kind": "Type K"},
    )
    # The type drops a choice later: the instrument keeps its value (types never change
    # instruments), and so must a save of the form that did not touch it.
    app.types.edit(
        "Thermometer",
        TypeChanges(
            fields=(*probe.fields[:2], TypeFieldInput("Probe kind", "choice", False, ("Pt100",)))
        ),
    )
    # A new instrument shows the type's default interval until one is typed by hand.
    new = InstrumentDialog(
        submit=lambda *a: None, on_conflict=lambda e, m: None, types=app.types.list()
    )
    qtbot.addWidget(new)
    new.type_box.setCurrentIndex(new.type_box.findData("Pressure gauge"))
    assert (new.interval.value(), new.interval_from_type()) == (90, True)
    # A date with the app's date editor, "not given" until a date is chosen.
    installed = new.custom["Installed on"]
    assert isinstance(installed, QDateEdit)
    assert (installed.text(), new.custom_texts()["Installed on"]) == ("not given", "")
    installed.setDate(QDate(2026, 3, 1))
    assert new.type_choice() == ("Pressure gauge", {"Installed on": "2026-03-01"})
    new.interval.setValue(200)
    new.type_box.setCurrentIndex(new.type_box.findData("Thermometer"))
    assert (new.interval.value(), new.interval_from_type()) == (200, False)

    built: list[InstrumentDialog] = []

    def submit(
        data: InstrumentInput | InstrumentChanges, version: int | None, ok: Ok, fail: Fail
    ) -> None:  # the real service, called in place (no thread needed here)
        assert isinstance(data, InstrumentChanges)
        type_name, custom = built[0].type_choice()
        try:
            ok(
                app.instruments.edit(
                    "TH-1", data, expected_version=version, type_name=type_name, custom=custom
                )
            )
        except ValidationError as exc:
            fail(exc)

    dialog = InstrumentDialog(
        submit=submit,
        on_conflict=lambda e, m: None,
        detail=app.instruments.get("TH-1"),
        types=app.types.list(),
    )
    built.append(dialog)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.type_box.currentText() == "Thermometer"
    assert dialog.custom_texts() == {
        "Probe serial": "PS-1",
        "Probe length mm": "",
        "Probe kind": "Type K",
    }
    kind_box = dialog.custom["Probe kind"]
    assert isinstance(kind_box, QComboBox)
    assert kind_box.currentText() == "Type K (not one of the type's choices now)"
    assert dialog.type_choice() == (None, None), "nothing touched: nothing to send"
    # A number is checked by the service's rule as soon as the field is left.
    length = dialog.custom["Probe length mm"]
    assert isinstance(length, QLineEdit)
    qtbot.keyClicks(length, "15 cm")
    length.editingFinished.emit()
    error = dialog.form.rows[CUSTOM_ROW + "Probe length mm"].error
    assert "must be a number" in error.text()
    length.clear()

    # Another type: its field shows, and the value it has no field for stays, to be emptied.
    dialog.type_box.setCurrentIndex(dialog.type_box.findData("Pressure gauge"))
    assert list(dialog.custom) == ["Class", "Installed on", "Probe kind", "Probe serial"]
    assert dialog.interval.value() == 365, "an edit keeps its interval; only a new one takes 90"
    dialog.save_now()
    type_error = dialog.form.rows[TYPE_ROW].error
    assert type_error.isVisible() and "Probe serial" in type_error.text()
    assert "clear them first" in type_error.text()
    assert app.instruments.get("TH-1").type_name == "Thermometer", "nothing saved"

    # Emptied by the person: now the change goes through.
    serial = dialog.custom["Probe serial"]
    assert isinstance(serial, QLineEdit)
    serial.clear()
    held_kind = dialog.custom["Probe kind"]
    assert isinstance(held_kind, QLineEdit)
    held_kind.clear()
    dialog.save_now()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    saved = app.instruments.get("TH-1")
    assert (saved.type_name, saved.custom_fields) == ("Pressure gauge", {})
    # A conflict's "reapply mine" puts the person's type and value changes back onto the
    # newer version the form reloads (the rest of that flow: test_main_window).
    again = InstrumentDialog(
        submit=lambda *a: None,
        on_conflict=lambda e, m: None,
        detail=saved,
        types=app.types.list(),
    )
    qtbot.addWidget(again)
    again.reapply_type_choice("Thermometer", {"Probe serial": "PS-9", "Probe kind": "Pt100"})
    assert again.type_choice() == (
        "Thermometer",
        {"Probe serial": "PS-9", "Probe kind": "Pt100"},
    )


@pytest.mark.sqlite_only(
    "the form's own behaviour; the parse and checks it shows are the service's "
    "(tests/unit/test_standard_uncertainty.py) and the three columns are written and "
    "verified on both backends by test_migrations' 0013 test"
)
def test_instrument_dialog_takes_a_standards_stated_u_by_keyboard(
    qtbot: QtBot, app: CalTrack
) -> None:
    # Issue 14: the U stated on a standard, typed as `--stated-u` takes it (U:k:unit).
    # STD-7 is the PRT reference of test_standard_uncertainty: U = 0.02 °C at k = 2.
    add_thermometer(app, "STD-7")
    built: list[InstrumentDialog] = []
    sent: list[StatedUncertainty | Unchanged | None] = []

    def submit(
        data: InstrumentInput | InstrumentChanges, version: int | None, ok: Ok, fail: Fail
    ) -> None:  # the real service, called in place, as the window does off the GUI thread
        stated = built[-1].stated_choice()
        sent.append(stated)
        try:
            if isinstance(data, InstrumentInput):
                given = None if isinstance(stated, Unchanged) else stated
                ok(app.instruments.add(data, stated=given))
            else:
                ok(app.instruments.edit("STD-7", data, expected_version=version, stated=stated))
        except ValidationError as exc:
            fail(exc)

    def form(tag: str | None) -> tuple[InstrumentDialog, QLineEdit]:
        detail = app.instruments.get(tag) if tag else None
        dialog = InstrumentDialog(submit=submit, on_conflict=lambda e, m: None, detail=detail)
        built.append(dialog)
        qtbot.addWidget(dialog)
        dialog.show()
        dialog.activateWindow()
        dialog.stated.setFocus(Qt.FocusReason.ShortcutFocusReason)
        qtbot.waitUntil(dialog.stated.hasFocus, timeout=5_000)
        return dialog, dialog.stated

    def retype(field: QLineEdit, text: str) -> None:
        qtbot.keyClick(field, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        qtbot.keyClick(field, Qt.Key.Key_Backspace)
        qtbot.keyClicks(field, text)

    dialog, field = form("STD-7")
    error = dialog.form.rows[STATED_ROW].error
    assert field.text() == "" and "0.02:2:°C" in field.placeholderText()
    # Checked by the service's rule as soon as the field is left.
    qtbot.keyClicks(field, "0.02:0")
    qtbot.keyClick(field, Qt.Key.Key_Tab)
    qtbot.waitUntil(error.isVisible)
    assert error.text() == "k must be a finite number more than 0"
    # A unit after the number without the colons: Enter (Save) says how to write it, at
    # the field, and nothing is sent or stored.
    field.setFocus(Qt.FocusReason.ShortcutFocusReason)
    qtbot.waitUntil(field.hasFocus, timeout=5_000)
    retype(field, "0.02 °C")
    assert not error.isVisible(), "typing again takes the old message away"
    qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(error.isVisible)
    assert error.text() == "write it as VALUE[:K[:UNIT]] (numbers), not '0.02 °C'"
    assert (sent, dialog.isVisible()) == ([], True)
    assert app.instruments.get("STD-7").stated_uncertainty is None
    # Written right (a decimal comma is read too): saved.
    retype(field, "0,02:2:°C")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert app.instruments.get("STD-7").stated_uncertainty == StatedUncertainty(0.02, 2.0, "°C")

    # Opened again it shows what --stated-u takes; emptied, Save removes it.
    dialog, field = form("STD-7")
    assert field.text() == "0.02:2:°C"
    retype(field, "")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert app.instruments.get("STD-7").stated_uncertainty is None
    assert sent == [StatedUncertainty(0.02, 2.0, "°C"), None]

    # A new instrument takes one too: U with a unit and no k.
    dialog, field = form(None)
    qtbot.keyClicks(field, "5e-05::mm")
    qtbot.keyClicks(dialog.edits["asset_tag"], "GB-1")
    qtbot.keyClicks(dialog.edits["description"], "Gauge block set")
    qtbot.keyClick(dialog.edits["description"], Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert app.instruments.get("GB-1").stated_uncertainty == StatedUncertainty(5e-05, None, "mm")
