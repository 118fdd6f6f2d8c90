"""Roles and accounts: the creator administers, admins give roles, each sets a password."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import NotAllowedError, ReadOnlyError, ValidationError
from app.identity import Identity
from tests.conftest import add_thermometer, is_server
from tests.integration.helpers import query, scalar, tamper
from tests.unit.qa_helpers import BOB, PASSWORD, QUINN, open_as


def test_the_creator_is_the_first_admin_and_others_are_technicians(
    app: CalTrack, db_url: str, clock: FixedClock
) -> None:
    me = app.accounts.me()
    assert (me.login, me.role, me.known, me.active) == ("alice", "admin", True, True)
    assert app.locks.admins() == ["alice"]
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        view = bob.accounts.me()
        assert (view.role, view.known) == ("technician", False)
        # A technician works normally...
        add_thermometer(bob, "TH-100")
        # ...but may not hand out roles.
        with pytest.raises(NotAllowedError, match="only Admins may change roles"):
            bob.accounts.set_role("bob", "admin")
        assert bob.accounts.me().role == "technician"


def test_admin_gives_roles_and_every_change_is_audited(app: CalTrack, db_url: str) -> None:
    # On a file the account keeps the login as first typed; on a server it is the
    # server's login as the server spells it (its role names are case-sensitive).
    spelled = "quinn" if is_server(db_url) else "Quinn"
    view = app.accounts.set_role("Quinn", "qa", display_name="Quinn Q. Reviewer")
    assert (view.login, view.role, view.display_name) == (spelled, "qa", "Quinn Q. Reviewer")
    # One person, one account: logins compare ignoring case.
    again = app.accounts.set_role("QUINN", "admin")
    assert (again.login, again.role) == (spelled, "admin")
    assert sorted(app.locks.admins(), key=str.casefold) == ["alice", spelled]
    events = app.audit.recent(entity_type="user_account")
    assert [e.action for e in reversed(events)] == ["create", "create", "update"]
    assert events[0].changes == {"role": ["qa", "admin"]}
    assert app.maintenance.verify().problems == []


def test_the_last_admin_stays(app: CalTrack) -> None:
    with pytest.raises(ValidationError, match="last admin"):
        app.accounts.set_role("alice", "qa")
    with pytest.raises(ValidationError, match="last admin"):
        app.accounts.set_active("alice", False)
    assert app.accounts.me().role == "admin"


def test_bad_role_and_login_are_refused(app: CalTrack) -> None:
    with pytest.raises(ValidationError) as info:
        app.accounts.set_role("bob", "superuser")
    assert "role" in info.value.fields
    with pytest.raises(ValidationError) as info:
        app.accounts.set_role("x" * 300, "qa")
    assert "login" in info.value.fields
    assert [u.login for u in app.accounts.list()] == ["alice"]


def test_a_deactivated_account_opens_read_only(
    app: CalTrack, db_url: str, clock: FixedClock
) -> None:
    app.accounts.set_role("bob", "technician")
    app.accounts.set_active("bob", False)
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        assert bob.database.read_only_reason is not None
        assert "deactivated" in bob.database.read_only_reason
        with pytest.raises(ReadOnlyError):
            add_thermometer(bob, "TH-200")


def test_signing_password_rules_and_storage(app: CalTrack, db_url: str, clock: FixedClock) -> None:
    with pytest.raises(ValidationError, match="at least 8"):
        app.accounts.set_signing_password("short")
    with pytest.raises(ValidationError, match="login"):
        app.accounts.set_signing_password("alice   ")
    view = app.accounts.set_signing_password(PASSWORD)
    assert view.has_signing_password and view.password_set_at is not None
    # Changing it needs the current one.
    with pytest.raises(ValidationError) as info:
        app.accounts.set_signing_password("another long one")
    assert "current_password" in info.value.fields
    with pytest.raises(ValidationError):
        app.accounts.set_signing_password("another long one", current="wrong password")
    app.accounts.set_signing_password("another long one", current=PASSWORD)
    app.close()
    stored = str(scalar(db_url, "SELECT signing_hash FROM user_account WHERE login = 'alice'"))
    trail = " ".join(str(r[0]) for r in query(db_url, "SELECT changes FROM audit_event"))
    # Only a salted scrypt hash is kept, and not even that reaches the audit trail.
    assert stored.startswith("scrypt$16384$8$1$")
    assert "another long one" not in stored and PASSWORD not in trail
    assert stored not in trail


def test_admin_resets_a_password(app: CalTrack, db_url: str, clock: FixedClock) -> None:
    app.accounts.set_role("quinn", "qa")
    app.close()
    with open_as(db_url, QUINN, clock) as qa:
        qa.accounts.set_signing_password(PASSWORD)
        with pytest.raises(NotAllowedError):
            qa.accounts.reset_signing_password("quinn")
    with open_as(db_url, Identity("alice", "LAB-PC-3"), clock) as admin:
        view = admin.accounts.reset_signing_password("quinn")
        assert not view.has_signing_password
    with open_as(db_url, QUINN, clock) as qa:
        # After a reset no current password is asked for.
        assert qa.accounts.set_signing_password("a brand new phrase").has_signing_password
        assert qa.maintenance.verify().problems == []


@pytest.mark.sqlite_only(
    "a backup is a copy of the file; server backups (pg_dump) are another part of issue 13"
)
def test_only_admins_restore(app: CalTrack, db_url: str, clock: FixedClock) -> None:
    add_thermometer(app, "TH-001")
    backup = app.maintenance.backup("before")
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        add_thermometer(bob, "TH-002")
        with pytest.raises(NotAllowedError, match="only Admins may restore the database"):
            bob.maintenance.restore(backup)
        assert bob.instruments.list().total == 2


def test_emptied_accounts_table_makes_nobody_admin(
    app: CalTrack, db_url: str, clock: FixedClock
) -> None:
    add_thermometer(app, "TH-001")
    app.close()
    tamper(db_url, "DELETE FROM user_account")  # behind CalTrack's back
    with open_as(db_url, BOB, clock) as bob:
        # The next writer is not made the admin of a database with history...
        assert bob.accounts.list() == []
        assert any("no user accounts although its audit trail" in p for p in bob.problems)
        with pytest.raises(NotAllowedError):
            bob.accounts.set_role("bob", "admin")
        # ...and verify says what was deleted.
        assert any("user_account" in p for p in bob.maintenance.verify().problems)
    with open_as(db_url, BOB, clock) as bob:
        assert bob.accounts.list() == []


def test_a_new_database_makes_its_creator_admin(tmp_path: Path, clock: FixedClock) -> None:
    db = tmp_path / "fresh.db"
    with open_caltrack(str(db), create=True, identity=BOB, clock=clock, state_dir=tmp_path) as app:
        assert [(u.login, u.role) for u in app.accounts.list()] == [("bob", "admin")]
        assert app.problems == []
