"""User accounts: the roles and signing passwords of a database's people."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import UserAccount


def login_key(login: str) -> str:
    """One key per person: logins compare ignoring case (Windows logins do)."""
    return login.strip().casefold()


class AccountRepository:
    """The user_account table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, login: str) -> UserAccount | None:
        stmt = select(UserAccount).where(UserAccount.login_key == login_key(login))
        return self._session.execute(stmt).scalar_one_or_none()

    def add(self, account: UserAccount) -> UserAccount:
        self._session.add(account)
        self._session.flush()
        return account

    def flush(self) -> None:
        self._session.flush()

    def all(self) -> list[UserAccount]:
        stmt = select(UserAccount).order_by(UserAccount.login_key)
        return list(self._session.execute(stmt).scalars())

    def logins_with_role(self, role: str) -> list[str]:
        stmt = (
            select(UserAccount.login)
            .where(UserAccount.role == role, UserAccount.active.is_(True))
            .order_by(UserAccount.login_key)
        )
        return list(self._session.execute(stmt).scalars())

    def iter_all(self) -> Iterator[UserAccount]:
        stmt = select(UserAccount).order_by(UserAccount.id)
        yield from self._session.execute(stmt).scalars()
