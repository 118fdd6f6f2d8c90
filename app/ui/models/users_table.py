"""The accounts of a database as a Qt table model: login, printed name, role, state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt

from app.services.accounts import ROLE_NAMES
from app.services.dto import UserView
from app.ui.look import status_color
from app.ui.models.list_model import ListTableModel

LOGIN_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2

COLUMNS: tuple[str, ...] = ("Login", "Printed name", "Role", "State", "Signing password")
COL_LOGIN, COL_NAME, COL_ROLE, COL_STATE, COL_PASSWORD = range(len(COLUMNS))


def _display(user: UserView, column: int) -> str:
    if column == COL_LOGIN:
        return user.login
    if column == COL_NAME:
        return user.display_name
    if column == COL_ROLE:
        return ROLE_NAMES.get(user.role, user.role)
    if column == COL_STATE:
        return "Active" if user.active else "Deactivated"
    if not user.has_signing_password:
        return "not set"
    when = f" {user.password_set_at:%Y-%m-%d}" if user.password_set_at else ""
    return f"set{when}"


class UsersTableModel(ListTableModel[UserView]):
    """One row per account, in the order the service gives (by login)."""

    COLUMNS = COLUMNS

    def set_users(self, users: Sequence[UserView]) -> None:
        self.set_items(users)

    def user_at(self, row: int) -> UserView | None:
        return self.item_at(row)

    def row_of(self, login: str) -> int | None:
        key = login.casefold()
        return next((r for r, u in enumerate(self._rows) if u.login.casefold() == key), None)

    def cell(self, user: UserView, column: int, role: int) -> Any:
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return _display(user, column)
        if role == LOGIN_ROLE:
            return user.login
        if role == SORT_ROLE:
            return _display(user, column).casefold()
        if role == Qt.ItemDataRole.ForegroundRole and column == COL_STATE and not user.active:
            return status_color("retired")
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{COLUMNS[column]}: {_display(user, column)}"
        return None
