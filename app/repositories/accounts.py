"""User accounts: the roles and signing passwords of a database's people.

On a database server an account's login is the server login (PostgreSQL role) of the
person, and its CalTrack role is also membership of one of the database's group roles
(migration 0006): :meth:`AccountRepository.grant_server_role` keeps the two in step
inside the same transaction as the account change.

The signing password hash is read here only: on a server past migration 0007 the
groups may not SELECT it, and ``caltrack_signing_hash(id)`` gives each login its own
hash and everyone else's as a non-secret stand-in (see app.services.passwords).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, undefer
from sqlalchemy.orm.attributes import set_committed_value

from app.db.models import UserAccount
from app.db.transactions import sqlstate
from app.errors import NotAllowedError, ValidationError
from app.vocabulary import ROLES

# PostgreSQL's insufficient_privilege.
_PG_NOT_ALLOWED = "42501"
# Set on a pooled connection once its database has the function (it never goes away
# but by the owner's downgrade).
_WITHHOLDS_KEY = "caltrack_withholds_hashes"


def login_key(login: str) -> str:
    """One key per person: logins compare ignoring case (Windows logins do)."""
    return login.strip().casefold()


class AccountRepository:
    """The user_account table."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, login: str) -> UserAccount | None:
        stmt = select(UserAccount).where(UserAccount.login_key == login_key(login))
        found = self._load(stmt)
        return found[0] if found else None

    def add(self, account: UserAccount) -> UserAccount:
        self._session.add(account)
        self._session.flush()
        return account

    def flush(self) -> None:
        self._session.flush()

    def all(self) -> list[UserAccount]:
        return self._load(select(UserAccount).order_by(UserAccount.login_key))

    def logins_with_role(self, role: str) -> list[str]:
        stmt = (
            select(UserAccount.login)
            .where(UserAccount.role == role, UserAccount.active.is_(True))
            .order_by(UserAccount.login_key)
        )
        return list(self._session.execute(stmt).scalars())

    def iter_all(self) -> Iterator[UserAccount]:
        # Accounts are few (people, not records): loaded at once, hashes with them.
        yield from self._load(select(UserAccount).order_by(UserAccount.id))

    def _load(self, stmt: Select[UserAccount]) -> list[UserAccount]:
        """The accounts ``stmt`` selects, each with its signing hash as this login may see it."""
        if not self._withholds_hashes():
            return list(
                self._session.execute(stmt.options(undefer(UserAccount.signing_hash))).scalars()
            )
        rows: Any = self._session.execute(
            stmt.add_columns(func.caltrack_signing_hash(UserAccount.id))
        ).all()
        accounts: list[UserAccount] = []
        for account, stored in rows:
            # A hash set in this transaction and not yet flushed is not overwritten.
            if not inspect(account).attrs.signing_hash.history.has_changes():
                set_committed_value(account, "signing_hash", stored)
            accounts.append(account)
        return accounts

    def _withholds_hashes(self) -> bool:
        """Whether the hash column is read through ``caltrack_signing_hash`` (server, 0007)."""
        if not self.on_server():
            return False
        info = self._session.connection().info
        if not info.get(_WITHHOLDS_KEY):
            # Asked again until true: the owner may upgrade the database meanwhile.
            info[_WITHHOLDS_KEY] = bool(
                self._session.execute(
                    text("SELECT to_regprocedure('caltrack_signing_hash(integer)') IS NOT NULL")
                ).scalar_one()
            )
        return bool(info[_WITHHOLDS_KEY])

    # -- the server's group roles (PostgreSQL only) ------------------------------------

    def on_server(self) -> bool:
        """True when the database is a PostgreSQL server (roles are then enforced)."""
        return self._session.get_bind().dialect.name == "postgresql"

    def server_login(self, login: str) -> str:
        """The server login ``login`` names, spelled as the server spells it.

        CalTrack keeps one account per person with logins compared ignoring case, but the
        server's role names are case-sensitive and its guard triggers compare the exact
        connected login. So ``users set Bob`` finds the login ``bob``; when the server
        holds several logins that differ only in case, CalTrack cannot tell which person
        is meant and refuses rather than guess. The name as given on a database file.
        """
        if not self.on_server():
            return login
        key = login_key(login)
        # Compared here, not with SQL lower(): casefold() knows every alphabet, whatever
        # the server's locale.
        names = self._session.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'")
        ).scalars()
        found = sorted(str(name) for name in names if login_key(str(name)) == key)
        if not found:
            raise ValidationError(
                {
                    "login": f"there is no login {login!r} on the database server; the "
                    f'server\'s administrator creates it first (CREATE ROLE "{login}" '
                    "LOGIN PASSWORD '...'), then run this again"
                }
            )
        if len(found) > 1:
            raise ValidationError(
                {
                    "login": "the database server has logins that differ only in case ("
                    + ", ".join(found)
                    + "); CalTrack keeps one account per person and compares logins "
                    "ignoring case, so it cannot tell which is meant — the server's "
                    "administrator renames or drops all but one (ALTER ROLE ... RENAME TO "
                    "...), then run this again"
                }
            )
        return found[0]

    def grant_server_role(self, login: str, role: str | None) -> str:
        """Make ``login`` a member of ``role``'s group only (None: of no group).

        The login itself must exist on the server: creating logins, with their
        passwords, is the server administrator's job (``CREATE ROLE name LOGIN``).
        Runs in the caller's transaction, so the account row and the membership change
        together or not at all. Returns the login as the server spells it
        (:meth:`server_login`); the name as given on a database file.
        """
        if not self.on_server():
            return login
        login = self.server_login(login)
        groups: dict[str, str] = {
            r: str(self._session.execute(text("SELECT caltrack_group(:r)"), {"r": r}).scalar_one())
            for r in ROLES
        }
        wanted = groups[role] if role is not None else None
        statements = [
            f"REVOKE {_quote(group)} FROM {_quote(login)}"
            for group in groups.values()
            if group != wanted and self._is_member(login, group)
        ]
        if wanted is not None and not self._is_member(login, wanted):
            statements.append(f"GRANT {_quote(wanted)} TO {_quote(login)}")
        for statement in statements:
            try:
                self._session.execute(text(statement))
            except DBAPIError as exc:
                if sqlstate(exc) == _PG_NOT_ALLOWED:
                    raise NotAllowedError(
                        f"the database server refused to change {login}'s group role: your "
                        "server login may not grant it (only the database owner makes or "
                        "unmakes admins; admins grant the technician and QA groups); "
                        "nothing was changed — ask the database owner"
                    ) from exc
                raise
        return login

    def _is_member(self, login: str, group: str) -> bool:
        """Whether ``login`` is directly a member of ``group``."""
        return bool(
            self._session.execute(
                text(
                    "SELECT count(*) FROM pg_auth_members m "
                    "JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member "
                    "WHERE g.rolname = :group AND u.rolname = :login"
                ),
                {"group": group, "login": login},
            ).scalar_one()
        )


def _quote(name: str) -> str:
    """A PostgreSQL identifier, quoted (logins may hold any character)."""
    return '"' + name.replace('"', '""') + '"'
