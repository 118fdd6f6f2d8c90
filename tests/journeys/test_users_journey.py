"""Journey: the admin adds an account, changes its role and deactivates it, each with a reason.

Database → Users and roles…, Add… (login, printed name, role, reason typed), then the
new row selected, Change role…, and Deactivate… with a reason; each change is shown in
the list and stored with its reason in the audit trail.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.dialogs.users_dialog import AccountDialog, UsersDialog
from app.ui.main_window import MainWindow
from app.ui.models.users_table import COL_LOGIN, COL_ROLE, COL_STATE
from tests.journeys.person import Person, gone


def cell(dialog: UsersDialog, login: str, column: int) -> str:
    row = dialog.model.row_of(login)
    assert row is not None, f"{login} is not listed"
    return str(dialog.model.index(row, column).data())


def test_admin_adds_changes_and_deactivates_an_account(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack
) -> None:
    person.menu(window, "Database", "Users and roles…")
    users = person.wait_for(UsersDialog)
    qtbot.waitUntil(lambda: users.model.rowCount() == 1, timeout=10_000)
    assert "You are an admin" in users.note.text()
    person.click(users.add_button)
    account = person.wait_for(AccountDialog)
    assert account.windowTitle() == "Add an account"
    assert person.focused() is account.login
    person.write("quinn")
    person.press(Qt.Key.Key_Tab)
    person.write("Quinn Q. Reviewer")
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is account.role
    person.write("Q")  # "QA reviewer — …"
    assert account.role.currentData() == "qa"
    person.press(Qt.Key.Key_Tab)
    person.write("joined the QA team")
    person.click_button("Save", account)
    qtbot.waitUntil(lambda: gone(account), timeout=10_000)
    qtbot.waitUntil(lambda: users.model.row_of("quinn") is not None, timeout=10_000)
    assert cell(users, "quinn", COL_ROLE) == "QA reviewer"

    row = users.model.row_of("quinn")
    assert row is not None
    person.click_cell(users.table, row, COL_LOGIN)
    person.click(users.role_button)
    account = person.wait_for(AccountDialog)
    assert account.windowTitle() == "Change quinn"
    person.press(Qt.Key.Key_R, Qt.KeyboardModifier.AltModifier)  # &Role:
    assert person.focused() is account.role
    person.write("T")  # "Technician — …"
    assert account.role.currentData() == "technician"
    person.press(Qt.Key.Key_E, Qt.KeyboardModifier.AltModifier)  # R&eason:
    person.write("moved to the workshop")
    person.click_button("Save", account)
    qtbot.waitUntil(lambda: gone(account), timeout=10_000)
    qtbot.waitUntil(lambda: cell(users, "quinn", COL_ROLE) == "Technician", timeout=10_000)

    row = users.model.row_of("quinn")
    assert row is not None
    person.click_cell(users.table, row, COL_LOGIN)
    assert users.active_button.text() == "&Deactivate…"
    person.click(users.active_button)
    reason = person.wait_for(ReasonDialog)
    assert reason.windowTitle() == "Deactivate quinn"
    assert person.focused() is reason.text
    person.write("left the company")
    person.click(reason.ok)
    qtbot.waitUntil(lambda: gone(reason), timeout=10_000)
    qtbot.waitUntil(lambda: cell(users, "quinn", COL_STATE) == "Deactivated", timeout=10_000)
    assert users.active_button.text() == "Re&activate…", "quinn is still selected"
    person.click_button("Close", users)
    qtbot.waitUntil(lambda: gone(users), timeout=10_000)

    quinn = app.accounts.get("quinn")
    assert (quinn.role, quinn.active, quinn.display_name) == (
        "technician",
        False,
        "Quinn Q. Reviewer",
    )
    reasons = [e.reason for e in app.audit.recent(entity_type="user_account") if e.reason]
    for said in ("joined the QA team", "moved to the workshop", "left the company"):
        assert said in reasons
