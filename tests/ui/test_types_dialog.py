"""The Types dialog on its own: who may change types, and a concurrent edit.

SQLite only: what is tested is the dialog's handling of the service's answers (a role
refusal, a ConflictError), which the service gives alike on both backends (its own tests
run on both: tests/unit/test_instrument_types.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.services.dto import TypeChanges, TypeInput, TypePointInput
from app.ui import messages
from app.ui.dialogs.conflict_dialog import ConflictDialog
from app.ui.dialogs.types_dialog import TypesDialog
from app.ui.models.types_table import COL_TOLERANCE
from app.ui.tasks import TaskRunner
from tests.ui.conftest import Shown
from tests.ui.opened import opened
from tests.unit.qa_helpers import BOB, open_as

pytestmark = pytest.mark.sqlite_only(
    "the dialog's handling of the service's answers; the service is tested on both backends"
)

NAME = "Digital thermometer"


def add_type(app: CalTrack) -> None:
    app.types.add(
        TypeInput(
            name=NAME,
            default_interval_days=365,
            points=(TypePointInput(0, "±0.3", "°C"), TypePointInput(50, "±0.3", "°C")),
        )
    )


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.wait()


def open_dialog(qtbot: QtBot, app: CalTrack, runner: TaskRunner, *, editing: bool) -> TypesDialog:
    dialog = TypesDialog(app=app, runner=runner, editing=editing)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.me is not None and dialog.current is not None, timeout=10_000)
    return dialog


def test_a_technician_and_a_read_only_window_see_types_without_changing_them(
    qtbot: QtBot, app: CalTrack, db_url: str, clock: FixedClock, runner: TaskRunner
) -> None:
    add_type(app)
    dialog = open_dialog(qtbot, app, runner, editing=False)
    assert dialog.note.text().startswith("Read-only: another session edits this database")
    assert not dialog.may_edit() and not dialog.save_button.isEnabled()
    dialog.close()
    app.close()

    with open_as(db_url, BOB, clock) as bob:  # no account: a technician
        dialog = open_dialog(qtbot, bob, runner, editing=True)
        assert dialog.note.text().startswith("Read-only: you (bob) are a technician.")
        assert "QA reviewers and admins keep them" in dialog.note.text()
        assert dialog.edits["name"].isReadOnly() and not dialog.rule.isEnabled()
        flags = dialog.points.flags(dialog.points.index(0, COL_TOLERANCE))
        assert not flags & Qt.ItemFlag.ItemIsEditable
        for button in (dialog.new_button, dialog.save_button, dialog.revert_button):
            assert not button.isEnabled()
        # What is shown is the stored plan, with the service's limits.
        assert dialog.points.limits(0) == "-0.3 … 0.3"
        dialog.save()  # Ctrl+S does nothing here
        assert bob.types.get(NAME).version == 1
        dialog.close()


def test_a_concurrent_edit_is_told_and_mine_is_reapplied_on_theirs(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner, shown: Shown
) -> None:
    add_type(app)
    dialog = open_dialog(qtbot, app, runner, editing=True)
    dialog.points.setData(dialog.points.index(1, COL_TOLERANCE), "±0.4")
    # Someone else changes the interval meanwhile (another window, the CLI).
    app.types.edit(NAME, TypeChanges(default_interval_days=180))
    dialog.save()
    conflict = opened(qtbot, ConflictDialog)
    intro = conflict.findChildren(QLabel)[0].text()
    assert "<b>alice</b>" in intro and "Your changes are not lost" in intro
    rows = range(conflict.table.rowCount())
    told = [[conflict.table.item(r, c).text() for c in range(3)] for r in rows]  # type: ignore[union-attr]
    assert told == [
        ["Default interval days", "365 (not changed by you)", "180"],
        ["Points", "0 ±0.3 °C; 50 ±0.4 °C", "0 ±0.3 °C; 50 ±0.3 °C"],
    ]
    conflict.reject()  # back to my dialog: nothing saved, nothing lost
    qtbot.waitUntil(dialog.banner.isVisible, timeout=10_000)
    assert "changed by someone else" in dialog.banner.text()
    assert dialog.points.rows[1][COL_TOLERANCE] == "±0.4"
    assert app.types.get(NAME).points[1].tolerance == "±0.3"

    dialog.save()
    opened(qtbot, ConflictDialog).reapply.click()
    qtbot.waitUntil(lambda: app.types.get(NAME).points[1].tolerance == "±0.4", timeout=10_000)
    stored = app.types.get(NAME)
    assert stored.default_interval_days == 180, "their change is kept, mine put on top"
    qtbot.waitUntil(lambda: dialog.saved is not None and not dialog.dirty(), timeout=10_000)
    assert dialog.interval.value() == 180 and dialog.points.limits(1) == "49.6 … 50.4"
    assert shown.boxes == []


def test_closing_or_starting_anew_with_unsaved_changes_asks_first(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_type(app)
    dialog = open_dialog(qtbot, app, runner, editing=True)
    asked: list[str] = []
    answer = messages.Button.Cancel

    def asker(*args: object) -> messages.Button:
        asked.append(str(args[3]))
        return answer

    monkeypatch.setattr(messages, "asker", asker)
    dialog.reject()  # nothing typed: closes without asking
    assert asked == [] and not dialog.isVisible()
    dialog = open_dialog(qtbot, app, runner, editing=True)
    dialog.edits["procedure_id"].setText("WI-99")
    dialog.reject()
    assert asked == [f"What you typed for {NAME} is not saved. Drop it and close?"]
    assert dialog.isVisible() and dialog.edits["procedure_id"].text() == "WI-99"
    dialog.new_type()
    assert len(asked) == 2 and dialog.current is not None, "Cancel keeps the type shown"
    answer = messages.Button.Discard
    dialog.new_type()
    assert dialog.heading.text() == "New type" and dialog.edits["procedure_id"].text() == ""
    assert app.types.get(NAME).procedure_id == "", "nothing stored"
    dialog.list.selectRow(0)  # the type shown before New, chosen again
    assert dialog.current is not None and dialog.current.name == NAME


def test_problems_are_named_at_their_rows_and_a_long_list_is_cut(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner, shown: Shown
) -> None:
    add_type(app)
    dialog = open_dialog(qtbot, app, runner, editing=True)
    dialog.points.set_rows([[f"{n}x", "±0.1", "°C"] for n in range(10)])
    dialog.save()  # refused before the service: a nominal that is not a number
    assert dialog.banner.text().splitlines() == [
        "Not saved — 10 problems to fix:",
        *(f"• point {n + 1}: the nominal must be a number (got '{n}x')" for n in range(8)),
        "… and 2 more",
    ]
    assert dialog.points.limits(0) == "the nominal must be a number (got '0x')"
    dialog.points.set_rows([["20", "±0.1", "°C"]])
    dialog.edits["range_low"].setText("10")  # no high end: the service says so
    dialog.save()
    qtbot.waitUntil(lambda: "range_high" in dialog.banner.text(), timeout=10_000)
    assert dialog.form.rows["range_high"].error.text() == (
        "give both ends of the range (low and high), or neither"
    )
    assert app.types.get(NAME).points[0].nominal == 0, "nothing stored"
    assert shown.boxes == []
    dialog.revert()  # closing asks about unsaved changes otherwise
    assert not dialog.dirty()
