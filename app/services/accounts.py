"""People and roles: technician, QA, admin per database, mapped from the OS login.

A login without an account works as a technician. Admins manage roles; everybody sets
their own signing password. On a shared file all of this guards against mistakes, not
attackers: anyone who can write the folder can change the file (see the README).

On a database server the login is the server login (the PostgreSQL role one connects
as), and a role is also membership of the database's group role (migration 0006), which
the server enforces: ``set_role`` grants it, deactivating revokes every group. Logins
still compare ignoring case there, and an account takes the login's spelling on the
server (``users set Bob`` gives the login ``bob`` its role, as ``bob``); a server with
two logins that differ only in case is refused rather than guessed at.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from app.clock import Clock
from app.db.models import UserAccount
from app.errors import NotAllowedError, NotFoundError, ValidationError
from app.identity import Identity
from app.limits import SHORT_LEN, USER_LEN
from app.plain_text import control_problem
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit import AuditChainWriter
from app.services.dto import UserView
from app.services.passwords import (
    PASSWORD_SET_ACTION,
    REFUSED_ACTION,
    SIGNING_STREAM,
    hash_password,
    password_problem,
    verify_password,
)
from app.services.snapshots import account_snapshot, created, diff
from app.services.validation import clean_text
from app.vocabulary import ROLES, Role

DEFAULT_ROLE: Role = "technician"
ROLE_RANK = {"technician": 0, "qa": 1, "admin": 2}
ROLE_NAMES = {"technician": "Technician", "qa": "QA reviewer", "admin": "Admin"}
# The admin list of databases made before accounts existed (schema 0001).
LEGACY_ADMINS_KEY = "admins"
MAX_WRONG_ATTEMPTS = 5
LOCKED_MESSAGE = (
    f"your signing password is locked after {MAX_WRONG_ATTEMPTS} wrong attempts; "
    "ask an admin to reset it, then set a new one"
)


def wrong_signing_attempts(uow: UnitOfWork, account: UserAccount) -> int:
    """Wrong passwords in a row since the last good signature or password change."""
    count = 0
    for event in reversed(uow.audit.for_entity(SIGNING_STREAM, account.id)):
        if event.action != REFUSED_ACTION:
            break
        count += 1
    return count


def attempts_hint(attempts: int) -> str:
    """What a user is told after their ``attempts``-th wrong password in a row."""
    left = MAX_WRONG_ATTEMPTS - attempts
    if left > 0:
        then = f"{left} more wrong attempt(s) lock it until an admin resets it"
    else:
        then = "it is now locked: ask an admin to reset your signing password"
    return f"(the attempt was recorded); {then}"


def user_view(account: UserAccount | None, login: str) -> UserView:
    if account is None:
        return UserView(
            login=login,
            display_name=login,
            role=DEFAULT_ROLE,
            active=True,
            has_signing_password=False,
            password_set_at=None,
            known=False,
        )
    return UserView(
        login=account.login,
        display_name=account.display_name or account.login,
        role=cast(Role, account.role),  # the schema's CHECK allows only these
        active=account.active,
        has_signing_password=bool(account.signing_hash),
        password_set_at=account.password_set_at,
        known=True,
        version=account.version,
    )


def admins_in(uow: UnitOfWork) -> list[str]:
    """Logins of the active admins."""
    return uow.accounts.logins_with_role("admin")


def require_role(uow: UnitOfWork, identity: Identity, minimum: str, what: str) -> UserView:
    """The user's view, or NotAllowedError when their role is below ``minimum``."""
    account = uow.accounts.get(identity.user)
    view = user_view(account, identity.user)
    if not view.active:
        raise NotAllowedError(
            f"your CalTrack account ({identity.user}) is deactivated, so you may not {what}; "
            "ask an admin"
        )
    if ROLE_RANK[view.role] < ROLE_RANK[minimum]:
        holders = ", ".join(
            login
            for role in ROLES
            if ROLE_RANK[role] >= ROLE_RANK[minimum]
            for login in uow.accounts.logins_with_role(role)
        )
        raise NotAllowedError(
            f"only {ROLE_NAMES[minimum]}s may {what}; you ({identity.user}) are a "
            f"{ROLE_NAMES[view.role].lower()} — ask one of: {holders or 'nobody yet'}"
        )
    return view


def _clean_login(login: str) -> str:
    text = login.strip()
    problem = control_problem(text)
    if problem:
        raise ValidationError({"login": f"{text!r} {problem}; give the OS login name"})
    if not text or len(text) > USER_LEN:
        raise ValidationError({"login": f"give the OS login name (1 to {USER_LEN} characters)"})
    return text


def _clean_role(role: str) -> str:
    value = role.strip().lower().replace("-", "").replace(" ", "")
    value = {"technician": "technician", "tech": "technician", "qa": "qa", "admin": "admin"}.get(
        value, value
    )
    if value not in ROLES:
        raise ValidationError({"role": "must be one of " + ", ".join(ROLES)})
    return value


def _clean_name(name: str) -> str:
    errors: dict[str, str] = {}
    text = clean_text("display_name", name, SHORT_LEN, errors)
    if errors:
        raise ValidationError(errors)
    return text


@dataclass(frozen=True)
class _Change:
    """What one account change did, for its audit line."""

    account: UserAccount
    action: str
    changes: dict[str, list[object]]


Changer = Callable[[UnitOfWork, AuditChainWriter], _Change]


class AccountService:
    """Accounts and roles (admins), printed names and signing passwords (each user)."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    # -- reads -----------------------------------------------------------------------

    def me(self) -> UserView:
        """The current user, with the role they work with here."""
        return self.get(self._identity.user)

    def get(self, login: str) -> UserView:
        return self._uow.read(lambda uow: user_view(uow.accounts.get(login), login.strip()))

    def list(self) -> list[UserView]:
        return self._uow.read(lambda uow: [user_view(a, a.login) for a in uow.accounts.all()])

    def admins(self) -> builtins.list[str]:
        return self._uow.read(admins_in)

    # -- admin tasks -----------------------------------------------------------------

    def set_role(
        self, login: str, role: str, *, display_name: str | None = None, reason: str = ""
    ) -> UserView:
        """Give a login a role (admins only); creates the account when there is none."""
        login = _clean_login(login)
        role = _clean_role(role)
        name = _clean_name(display_name) if display_name is not None else None

        def change(uow: UnitOfWork, audit: AuditChainWriter) -> _Change:
            require_role(uow, self._identity, "admin", "change roles")
            account = uow.accounts.get(login)
            spelled = account.login if account else login
            if account is None or account.active:
                spelled = uow.accounts.grant_server_role(spelled, role)
            if account is None:
                account = new_account(uow, audit, self._identity, spelled, role, name or spelled)
                return _Change(account, "create", created(account_snapshot(account)))
            before = account_snapshot(account)
            if account.role == "admin" and role != "admin":
                self._keep_an_admin(uow, account)
            account.role = role
            # On a server the account is the login as the server spells it (its triggers
            # compare the connected login exactly): an account copied from a file as
            # "Quinn" becomes "quinn", audited.
            account.login = spelled
            if name is not None:
                account.display_name = name
            return _Change(account, "update", diff(before, account_snapshot(account)))

        return self._write(change, reason or f"role set to {role}", "set role")

    def set_active(self, login: str, active: bool, *, reason: str = "") -> UserView:
        """Deactivate (or reactivate) an account (admins only); its history stays."""
        login = _clean_login(login)

        def change(uow: UnitOfWork, audit: AuditChainWriter) -> _Change:
            require_role(uow, self._identity, "admin", "deactivate or reactivate accounts")
            account = self._require(uow, login)
            before = account_snapshot(account)
            if not active and account.role == "admin":
                self._keep_an_admin(uow, account)
            if active != account.active:
                # A deactivated login keeps no group: the server refuses it everything.
                account.login = uow.accounts.grant_server_role(
                    account.login, account.role if active else None
                )
            account.active = active
            return _Change(account, "update", diff(before, account_snapshot(account)))

        default = "account reactivated" if active else "account deactivated"
        return self._write(change, reason or default, "account status")

    def reset_signing_password(self, login: str, *, reason: str = "") -> UserView:
        """Clear someone's signing password (admins only): they must set a new one."""
        login = _clean_login(login)

        def change(uow: UnitOfWork, audit: AuditChainWriter) -> _Change:
            require_role(uow, self._identity, "admin", "reset signing passwords")
            account = self._require(uow, login)
            before = account_snapshot(account)
            account.signing_hash = None
            account.password_set_at = None
            return _Change(account, "update", diff(before, account_snapshot(account)))

        return self._write(change, reason or "signing password reset by an admin", "reset")

    # -- each user's own -------------------------------------------------------------

    def set_display_name(self, name: str, *, login: str | None = None) -> UserView:
        """The printed name on signatures: one's own, or anyone's for an admin."""
        target = _clean_login(login or self._identity.user)
        clean = _clean_name(name)
        if not clean:
            raise ValidationError({"display_name": "required (it is printed on signatures)"})

        def change(uow: UnitOfWork, audit: AuditChainWriter) -> _Change:
            if target.casefold() != self._identity.user.casefold():
                require_role(uow, self._identity, "admin", "change other people's names")
            else:
                require_role(uow, self._identity, DEFAULT_ROLE, "change your name")
            account = uow.accounts.get(target)
            if account is None:
                account = new_account(uow, audit, self._identity, target, DEFAULT_ROLE, clean)
                return _Change(account, "create", created(account_snapshot(account)))
            before = account_snapshot(account)
            account.display_name = clean
            return _Change(account, "update", diff(before, account_snapshot(account)))

        return self._write(change, "printed name changed", "set name")

    def set_signing_password(self, new: str, *, current: str | None = None) -> UserView:
        """Set one's own signing password; changing one needs the current one.

        A wrong current password counts as a wrong signing attempt, and a locked password
        stays locked here too: only an admin's reset unlocks it.
        """
        login = self._identity.user
        problem = password_problem(new, login)
        if problem:
            raise ValidationError({"password": problem})

        def state(uow: UnitOfWork) -> str | None:
            account = uow.accounts.get(login)
            if account is not None and account.signing_hash:
                if wrong_signing_attempts(uow, account) >= MAX_WRONG_ATTEMPTS:
                    raise NotAllowedError(LOCKED_MESSAGE)
                return account.signing_hash
            return None

        stored = self._uow.read(state)
        if stored is not None and not current:
            raise ValidationError(
                {"current_password": "give your current signing password to change it"}
            )
        if stored is not None and not verify_password(current or "", stored):
            attempts = self._refused(login, stored)
            raise ValidationError(
                {
                    "current_password": "the current signing password is wrong "
                    + attempts_hint(attempts)
                }
            )
        new_hash = hash_password(new)  # slow on purpose: outside the write transaction

        def change(uow: UnitOfWork, audit: AuditChainWriter) -> _Change:
            require_role(uow, self._identity, DEFAULT_ROLE, "set a signing password")
            account = uow.accounts.get(login)
            if account is None:
                account = new_account(uow, audit, self._identity, login, DEFAULT_ROLE, login)
                account.signing_hash = new_hash
                account.password_set_at = audit.now
                return _Change(account, "create", created(account_snapshot(account)))
            if (account.signing_hash or None) != stored:
                raise ValidationError(
                    {"password": "your signing password was changed meanwhile; try again"}
                )
            if stored is not None and wrong_signing_attempts(uow, account) >= MAX_WRONG_ATTEMPTS:
                raise NotAllowedError(LOCKED_MESSAGE)
            before = account_snapshot(account)
            account.signing_hash = new_hash
            account.password_set_at = audit.now
            return _Change(account, "update", diff(before, account_snapshot(account)))

        return self._write(change, "signing password set", "set password")

    def _refused(self, login: str, stored: str) -> int:
        """Record a wrong current password; how many wrong ones in a row now."""

        def write(uow: UnitOfWork) -> int:
            account = uow.accounts.get(login)
            if account is None or account.signing_hash != stored:
                raise ValidationError(
                    {"password": "your signing password was changed meanwhile; try again"}
                )
            earlier = wrong_signing_attempts(uow, account)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            audit.record(
                SIGNING_STREAM,
                account.id,
                account.login,
                REFUSED_ACTION,
                {},
                "wrong current signing password while changing it",
            )
            audit.flush()
            return earlier + 1

        return self._uow.write(write, label="wrong signing password")

    # -- helpers ---------------------------------------------------------------------

    def _write(self, change: Changer, reason: str, label: str) -> UserView:
        def write(uow: UnitOfWork) -> UserView:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            done = change(uow, audit)
            account = done.account
            if done.changes:
                account.updated_at = audit.now
                account.updated_by = self._identity.user
                uow.accounts.flush()
                audit.record(
                    "user_account", account.id, account.login, done.action, done.changes, reason
                )
                before, after = done.changes.get("signing_password", [None, None])
                if before != after:
                    # A new (or cleared) password ends any run of wrong attempts.
                    audit.record(
                        SIGNING_STREAM, account.id, account.login, PASSWORD_SET_ACTION, {}, reason
                    )
                audit.flush()
            return user_view(account, account.login)

        return self._uow.write(write, label=label)

    @staticmethod
    def _require(uow: UnitOfWork, login: str) -> UserAccount:
        account = uow.accounts.get(login)
        if account is None:
            raise NotFoundError(
                f"no account for {login!r}; `users list` shows the accounts of this database"
            )
        return account

    @staticmethod
    def _keep_an_admin(uow: UnitOfWork, leaving: UserAccount) -> None:
        others = [a for a in admins_in(uow) if a.casefold() != leaving.login.casefold()]
        if not others:
            raise ValidationError(
                {"role": f"{leaving.login} is the last admin; make someone else admin first"}
            )


def new_account(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    login: str,
    role: str,
    name: str,
) -> UserAccount:
    """Add an account inside the caller's transaction (its audit line is the caller's)."""
    account = UserAccount(
        login=login,
        login_key=login.casefold(),
        display_name=name,
        role=role,
        active=True,
        signing_hash=None,
        password_set_at=None,
        created_at=audit.now,
        created_by=identity.user,
        updated_at=audit.now,
        updated_by=identity.user,
    )
    return uow.accounts.add(account)


def accounts_missing_problem(uow: UnitOfWork) -> str | None:
    """What to say when a database with history has no accounts at all, else None."""
    if uow.accounts.all() or uow.audit.last() is None:
        return None
    return (
        f"this database has no user accounts although its audit trail has "
        f"{uow.audit.total():,} events: they were deleted outside CalTrack. Nobody was made "
        "an admin for it; everyone works as a technician until an admin restores a backup "
        "(`db verify` lists what is missing)"
    )


def seed_accounts(uow: UnitOfWork, identity: Identity, clock: Clock) -> None:
    """After creating or upgrading a database: the creator, or the old admin list, as admins.

    The creator is seeded only into a database with no audit events: accounts missing
    from one with history were deleted outside CalTrack (``accounts_missing_problem``).

    Databases made before accounts existed kept their admins in ``meta``; they become
    admin accounts (audited), and the old list goes.
    """
    raw = uow.meta.get(LEGACY_ADMINS_KEY)
    try:
        legacy = [str(x) for x in json.loads(raw)] if raw else []
    except ValueError:
        legacy = []
    if raw is None and uow.accounts.all():
        return
    if not legacy and not uow.accounts.all() and uow.audit.last() is not None:
        # A database with history whose accounts are all gone was emptied behind
        # CalTrack's back: whoever writes next must not become its admin by that.
        return
    wanted = legacy or ([identity.user] if not uow.accounts.all() else [])
    audit = AuditChainWriter(uow, identity, clock)
    for login in wanted:
        if not login.strip() or uow.accounts.get(login) is not None:
            continue
        account = new_account(uow, audit, identity, login.strip(), "admin", login.strip())
        why = (
            "carried over from the admin list of an older CalTrack"
            if legacy
            else "the creator of a database administers it"
        )
        audit.record(
            "user_account",
            account.id,
            account.login,
            "create",
            created(account_snapshot(account)),
            why,
        )
    if raw is not None:
        uow.meta.delete(LEGACY_ADMINS_KEY)
    audit.flush()
