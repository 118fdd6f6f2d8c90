"""The Providers dialog on its own: who may change the register, who may send out, and a
refusal shown at its field.

SQLite only: what is tested is the dialog's handling of the service's answers (a role,
a ValidationError), which the service gives alike on both backends (its own tests run on
both: tests/unit/test_providers.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.services.provider_views import ProviderChanges, ProviderInput
from app.ui import messages
from app.ui.dialogs.providers_dialog import ProvidersDialog
from app.ui.tasks import TaskRunner
from tests.conftest import add_thermometer
from tests.unit.qa_helpers import BOB, open_as

pytestmark = pytest.mark.sqlite_only(
    "the dialog's handling of the service's answers; the service is tested on both backends"
)


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.wait()


def open_dialog(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner, *, editing: bool
) -> ProvidersDialog:
    dialog = ProvidersDialog(app=app, runner=runner, editing=editing)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.me is not None and dialog.current is not None, timeout=10_000)
    return dialog


def test_technicians_read_the_register_and_send_out_a_read_only_window_does_neither(
    qtbot: QtBot, app: CalTrack, db_url: str, clock: FixedClock, runner: TaskRunner
) -> None:
    app.providers.add(ProviderInput(name="Cheap Cal", approval="not approved"))
    add_thermometer(app)
    dialog = open_dialog(qtbot, app, runner, editing=False)
    assert dialog.note.text().startswith("Read-only: another session edits this database")
    assert not dialog.may_edit() and not dialog.save_button.isEnabled()
    assert not dialog.send_button.isEnabled() and not dialog.receive_all.isEnabled()
    dialog.close()
    app.close()

    with open_as(db_url, BOB, clock) as bob:  # no account: a technician
        dialog = open_dialog(qtbot, bob, runner, editing=True)
        assert "read-only for you (bob, a technician)" in dialog.note.text()
        assert dialog.name.isReadOnly() and not dialog.approval.isEnabled()
        for button in (dialog.new_button, dialog.save_button, dialog.retire_button):
            assert not button.isEnabled()
        assert dialog.send_button.isEnabled()
        # Sending to a provider that is not approved without a reason: said at the field.
        dialog.tabs.setCurrentIndex(1)
        dialog.send_tags.setText("TH-001")
        dialog.send_button.click()
        reason_row = dialog.send_form.rows["reason"]
        qtbot.waitUntil(lambda: reason_row.error.isVisibleTo(dialog), timeout=10_000)
        assert "Cheap Cal is not an approved provider" in reason_row.error.text()
        assert bob.sendouts.list() == []
        dialog.send_reason.setText("the only lab with a 1000 °C furnace")
        dialog.send_button.click()
        qtbot.waitUntil(lambda: len(dialog.batches) == 1, timeout=10_000)
        assert bob.sendouts.get(1).approval_reason == "the only lab with a 1000 °C furnace"
        dialog.close()


def test_a_provider_changed_meanwhile_keeps_what_was_typed_and_a_second_save_applies_it(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner
) -> None:
    app.providers.add(ProviderInput(name="CalCo Labs"))
    dialog = open_dialog(qtbot, app, runner, editing=True)
    assert dialog.may_edit() and dialog.current is not None and dialog.current.version == 1
    app.providers.edit("CalCo Labs", ProviderChanges(contact="someone else's"))  # version 2
    dialog.number.setText("0123")
    dialog.save_provider()
    qtbot.waitUntil(lambda: "Not saved: CalCo Labs was changed" in dialog.banner.text())
    assert dialog.number.text() == "0123"  # kept
    assert app.providers.get("CalCo Labs").accreditation_number == ""
    qtbot.waitUntil(lambda: dialog.current is not None and dialog.current.version == 2)
    dialog.save_provider()
    qtbot.waitUntil(lambda: app.providers.get("CalCo Labs").version == 3, timeout=10_000)
    stored = app.providers.get("CalCo Labs")
    assert (stored.accreditation_number, stored.contact) == ("0123", "someone else's")


def test_what_is_typed_is_not_dropped_without_asking(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.providers.add(ProviderInput(name="Alpha Cal"))
    app.providers.add(ProviderInput(name="Beta Cal"))
    dialog = open_dialog(qtbot, app, runner, editing=True)
    assert dialog.name.text() == "Alpha Cal"
    asked: list[str] = []
    answer = messages.Button.Cancel

    def asker(*args: object) -> messages.Button:
        asked.append(str(args[3]))
        return answer

    monkeypatch.setattr(messages, "asker", asker)
    dialog.number.setText("0123")
    dialog.provider_list.selectRow(1)  # another provider chosen: asked, Cancel keeps mine
    assert asked == [
        "What you typed for Alpha Cal is not saved. Drop it and open another provider?"
    ]
    assert dialog.name.text() == "Alpha Cal" and dialog.number.text() == "0123"
    assert dialog.provider_list.currentRow() == 0
    dialog.reject()
    assert len(asked) == 2 and dialog.isVisible()
    answer = messages.Button.Discard
    dialog.provider_list.selectRow(1)
    assert dialog.name.text() == "Beta Cal" and dialog.number.text() == ""
    assert app.providers.get("Alpha Cal").accreditation_number == "", "nothing stored"


def test_a_review_date_passed_is_pointed_out_and_a_retired_provider_is_only_reinstated(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner
) -> None:
    app.providers.add(ProviderInput(name="Late Review Cal", review_date="2026-01-31"))
    app.providers.add(ProviderInput(name="Old Cal"))
    app.providers.retire("Old Cal", reason="closed down")
    dialog = open_dialog(qtbot, app, runner, editing=True)
    table = dialog.provider_list
    cells = [[table.item(r, c) for c in (0, 3)] for r in range(table.rowCount())]
    states = {name.text(): state.text() for name, state in cells if name and state}
    assert states == {"Late Review Cal": "review overdue", "Old Cal": "retired"}
    table.selectRow(0)
    assert dialog.current is not None and dialog.current.name == "Late Review Cal"
    warning = "Warning: the review of Late Review Cal was due on 2026-01-31"
    assert warning in dialog.heading.text()
    # Choosing it to send out to says so too.
    dialog.tabs.setCurrentIndex(1)
    assert dialog.send_provider.currentData() == "Late Review Cal"
    assert dialog.send_warning.isVisibleTo(dialog) and warning in dialog.send_warning.text()
    dialog.tabs.setCurrentIndex(0)
    # A retired provider cannot be edited: only reinstated.
    table.selectRow(1)
    assert dialog.current is not None and dialog.current.name == "Old Cal"
    assert dialog.name.isReadOnly() and not dialog.approval.isEnabled()
    assert not dialog.save_button.isEnabled() and not dialog.retire_button.isVisibleTo(dialog)
    assert dialog.reinstate_button.isVisibleTo(dialog) and dialog.reinstate_button.isEnabled()
    assert "Reinstate it to change it" in dialog.heading.text()
    table.selectRow(0)
    assert not dialog.name.isReadOnly() and dialog.retire_button.isVisibleTo(dialog)
    assert not dialog.reinstate_button.isVisibleTo(dialog)
    dialog.close()
