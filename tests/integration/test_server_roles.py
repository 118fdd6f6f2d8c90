"""Access control the server enforces (migration 0006), on this run's private server.

The owner (the superuser ``caltrack`` the tests connect as) initialises the database;
the logins ``tech``/``qa`` are made by psql as a DBA would, given roles with
``users set``, and then connect as themselves: through CalTrack, and with raw SQL
(psycopg), which is what someone with ``psql`` could do.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.engine import EngineOptions, build_engine
from app.db.migrate import SchemaStatus, downgrade, upgrade
from app.errors import NotAllowedError, ReadOnlyError, ValidationError
from app.services.checks import CheckInput, parse_reading
from app.services.decision_rules import Verdict
from app.services.dto import (
    CalibrationInput,
    InstrumentChanges,
    MaintenanceInput,
    PointInput,
    ScheduleDefault,
    TypeChanges,
    TypeFieldInput,
    TypeInput,
    TypePointInput,
)
from app.services.passwords import WITHHELD_PREFIX, fingerprint
from app.services.provider_views import ProviderChanges, ProviderInput
from tests.conftest import add_thermometer
from tests.integration.helpers import CHILD_TIMEOUT_S, assert_one_error_line, child_env
from tests.pg_server import PgServer
from tests.unit.qa_helpers import PASSWORD, calibrate, png, reading

# The revision's own naming (a migration module's name starts with a digit).
group_names = importlib.import_module("app.migrations.versions.0006_server_roles").group_names


@dataclass(frozen=True)
class Lab:
    """A server database with a technician and a QA login, and one signed calibration."""

    server: PgServer
    url: str  # the owner's
    database: str
    tech: str
    qa: str
    signed_id: int
    state: Path

    def url_as(self, login: str) -> str:
        return make_url(self.url).set(username=login).render_as_string(hide_password=False)

    def open_as(self, login: str | None, clock: FixedClock) -> CalTrack:
        """CalTrack on this database as ``login`` (None: the owner); who acts is the login."""
        url = self.url if login is None else self.url_as(login)
        return open_caltrack(url, clock=clock, state_dir=self.state)

    def raw(self, login: str) -> psycopg.Connection[tuple[object, ...]]:
        """A plain psycopg connection as ``login``: what ``psql`` would do."""
        return psycopg.connect(
            dbname=self.database, user=login, host=str(self.server.socket_dir), autocommit=True
        )

    def groups_of(self, login: str) -> list[str]:
        out = self.server.psql(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
            f"JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = '{login}' ORDER BY 1"
        )
        return out.split()


@pytest.fixture
def lab(pg_server: PgServer, pg_url: str, clock: FixedClock, tmp_path: Path) -> Lab:
    database = str(make_url(pg_url).database)
    tech, qa = f"tech_{database}", f"qa_{database}"
    for login in (tech, qa):
        pg_server.psql(f'CREATE ROLE "{login}" LOGIN')
    state = tmp_path / "state"
    with open_caltrack(pg_url, create=True, clock=clock, state_dir=state) as owner:
        assert owner.identity.user == "caltrack"  # the server login, not the OS login
        owner.accounts.set_role(tech, "technician")
        owner.accounts.set_role(qa, "qa", display_name="Quinn Q. Reviewer")
    partial = Lab(pg_server, pg_url, database, tech, qa, 0, state)
    with partial.open_as(qa, clock) as app:
        app.accounts.set_signing_password(PASSWORD)
    with partial.open_as(tech, clock) as app:
        add_thermometer(app)
        record = calibrate(app, "TH-001", "2026-11-01", points=(reading(20.0, 20.1),))
    with partial.open_as(qa, clock) as app:
        app.signatures.sign_record(record, meaning="reviewed", password=PASSWORD)
    return Lab(pg_server, pg_url, database, tech, qa, record, state)


def test_init_creates_the_groups_and_users_set_grants_one_of_them(lab: Lab) -> None:
    prefix = f"caltrack_{lab.database}_"
    assert lab.groups_of(lab.tech) == [prefix + "technician"]
    assert lab.groups_of(lab.qa) == [prefix + "qa"]
    logins = lab.server.psql(
        f"SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE '{prefix}%' ORDER BY 1"
    ).split()
    assert logins == [f"{prefix}admin|f", f"{prefix}qa|f", f"{prefix}technician|f"]


def test_a_technician_works_through_caltrack_under_their_server_login(
    lab: Lab, clock: FixedClock, tmp_path: Path
) -> None:
    certificate = tmp_path / "cert.pdf"
    certificate.write_bytes(b"%PDF-1.4 certificate")
    with lab.open_as(lab.tech, clock) as app:
        assert app.accounts.me().role == "technician"
        add_thermometer(app, "TH-002")
        calibrate(app, "TH-002", "2026-11-02")
        app.attachments.add("TH-002", certificate)
        assert app.maintenance.verify().clean
    with lab.raw(lab.tech) as conn:
        writers = conn.execute(
            "SELECT DISTINCT \"user\" FROM audit_event WHERE entity_label LIKE 'TH-002%'"
        ).fetchall()
    assert writers == [(lab.tech,)]


def test_qa_keeps_the_types_and_a_technician_assigns_them_under_their_logins(
    lab: Lab, clock: FixedClock
) -> None:
    """Revision 0011: the QA group writes the type tables, the technician group reads them;
    revision 0020's default schedules are columns of the type, under the same grants, and
    the schedules they give are written under the technician's own rights (0018)."""
    plan = TypeInput(
        name="Thermometer",
        points=(TypePointInput(20, "±0.5", "°C"),),
        fields=(TypeFieldInput("Probe", "text", True),),
    )
    with (
        lab.open_as(lab.tech, clock) as app,
        pytest.raises(NotAllowedError, match="add instrument types"),
    ):
        app.types.add(plan)
    with lab.open_as(lab.qa, clock) as app:
        app.types.add(plan)
        app.types.edit("Thermometer", TypeChanges(points=(TypePointInput(25, "±0.2", "°C"),)))
        app.types.edit("Thermometer", TypeChanges(check=ScheduleDefault("3m")))
    with lab.open_as(lab.tech, clock) as app:
        app.instruments.edit(
            "TH-001", InstrumentChanges(), type_name="thermometer", custom={"Probe": "Pt100"}
        )
        assert app.types.prefill("TH-001").points[0].nominal == 25.0
        assert [s.interval for s in app.schedules.list("TH-001")][1:] == ["3m"]
        assert app.maintenance.verify().clean
    with lab.open_as(lab.qa, clock) as app:
        app.types.edit("Thermometer", TypeChanges(maintenance=ScheduleDefault("1m")))
        assert app.types.apply_defaults("Thermometer") == {
            "check": [],
            "maintenance": ["TH-001"],
        }
        assert app.maintenance.verify().clean
    with lab.raw(lab.tech) as conn:
        for sql in (
            "UPDATE instrument_type SET decision_rule = 'simple'",
            "UPDATE instrument_type SET check_every = '1d'",
            "DELETE FROM type_point",
            "INSERT INTO type_field (type_id, seq, name, kind, required, choices) "
            "SELECT id, 9, 'x', 'text', false, '[]' FROM instrument_type",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.encode())


def test_qa_keeps_the_providers_and_a_technician_sends_out_under_their_logins(
    lab: Lab, clock: FixedClock
) -> None:
    """Revision 0017: QA writes the provider register; technicians read it and record
    send-outs, their receipt and the certificates."""
    with (
        lab.open_as(lab.tech, clock) as app,
        pytest.raises(NotAllowedError, match="add providers"),
    ):
        app.providers.add(ProviderInput(name="CalCo Labs"))
    with lab.open_as(lab.qa, clock) as app:
        app.providers.add(ProviderInput(name="CalCo Labs"))
        app.providers.edit("CalCo Labs", ProviderChanges(approval="conditionally approved"))
    with lab.open_as(lab.tech, clock) as app:
        batch = app.sendouts.create("calco labs", ["TH-001"], sent_on="2026-11-10", cost=90)
        app.sendouts.receive(batch.id)
        compare = app.sendouts.record_certificate(
            batch.id,
            "TH-001",
            "pass",
            CalibrationInput(performed_on="2026-11-12", result="pass", points=(reading(20, 20.1),)),
        )
        assert not compare.disagrees
        assert app.maintenance.verify().clean
    with lab.raw(lab.tech) as conn:
        for sql in (
            "UPDATE provider SET approval = 'approved'",
            "INSERT INTO provider (name, name_key, contact, accreditation_body, "
            "accreditation_number, scope, approval, created_at, created_by, updated_at, "
            "updated_by, version) VALUES ('X', 'X', '', '', '', '', 'approved', now(), 'x', "
            "now(), 'x', 1)",
            "DELETE FROM sendout_item",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.encode())


def test_a_technician_saving_one_entry_twice_records_it_once(lab: Lab, clock: FixedClock) -> None:
    """The entry key (0009) is written by the technician group like every other column."""
    data = CalibrationInput(performed_on="2026-11-03", result="pass", entry_key="tech-entry-1")
    with lab.open_as(lab.tech, clock) as app:
        first = app.calibrations.add("TH-001", data)
        again = app.calibrations.add("TH-001", data)
        assert (again.id, again.already_saved) == (first.id, True)
        assert app.maintenance.verify().clean
    with lab.raw(lab.tech) as conn:
        keys = conn.execute("SELECT entry_key FROM calibration_record WHERE entry_key IS NOT NULL")
        assert keys.fetchall() == [("tech-entry-1",)]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_event SET reason = 'forged'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
        "UPDATE calibration_record SET notes = 'changed' WHERE id = {signed}",
        "UPDATE calibration_record SET entry_key = 'another' WHERE id = {signed}",
        "UPDATE calibration_record SET voided_at = now(), void_reason = 'x' WHERE id = {signed}",
        "DELETE FROM calibration_record WHERE id = {signed}",
        "UPDATE measurement_point SET as_found = 20.0 WHERE record_id = {signed}",
        "DELETE FROM measurement_point WHERE record_id = {signed}",
        "INSERT INTO measurement_point (record_id, seq, nominal, tolerance, unit) "
        "VALUES ({signed}, 9, 1, 1, '')",
        "INSERT INTO signature (record_id, meaning, signer, printed_name, signed_at, comment, "
        "content_hash) VALUES ({signed}, 'approved', '{login}', 'x', now(), '', 'x')",
        "DELETE FROM signature",
        "DELETE FROM attachment_chunk",
        "UPDATE user_account SET role = 'admin' WHERE login = '{login}'",
        'INSERT INTO audit_event (occurred_at, "user", machine, entity_type, entity_id, '
        "entity_label, action, changes, reason, prev_hash, hash) VALUES (now(), 'somebody', "
        "'m', 'x', 1, '', 'x', '{{}}', '', 'x', 'forged')",
    ],
)
def test_a_technician_with_psql_cannot_rewrite_history(lab: Lab, sql: str) -> None:
    with lab.raw(lab.tech) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.format(signed=lab.signed_id, login=lab.tech).encode())


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE calibration_record SET notes = 'changed' WHERE id = {signed}",
        "DELETE FROM calibration_record WHERE id = {signed}",
        "UPDATE signature SET comment = 'changed'",
        "UPDATE audit_event SET reason = 'forged'",
        "UPDATE user_account SET role = 'admin' WHERE login = '{login}'",
    ],
)
def test_qa_with_psql_cannot_edit_a_signed_record_nor_the_trail(lab: Lab, sql: str) -> None:
    with lab.raw(lab.qa) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.format(signed=lab.signed_id, login=lab.qa).encode())


@pytest.mark.parametrize("who", ["tech", "qa"])
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT signing_hash FROM user_account",
        "SELECT * FROM user_account",
        "SELECT login FROM user_account WHERE signing_hash LIKE 'scrypt$%'",
        "UPDATE user_account SET display_name = display_name RETURNING signing_hash",
    ],
)
def test_no_group_login_reads_a_signing_password_hash(lab: Lab, who: str, sql: str) -> None:
    login = lab.tech if who == "tech" else lab.qa
    with lab.raw(login) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql.encode())


def test_the_hash_function_gives_a_login_its_own_hash_and_others_a_fingerprint(lab: Lab) -> None:
    ask = "SELECT caltrack_signing_hash(id) FROM user_account WHERE login = %s"
    with lab.raw("caltrack") as conn:
        [[stored]] = conn.execute(f"SELECT signing_hash FROM user_account WHERE login = '{lab.qa}'")
    assert isinstance(stored, str) and stored.startswith("scrypt$")
    with lab.raw(lab.qa) as conn:
        assert conn.execute(ask, (lab.qa,)).fetchall() == [(stored,)]
    with lab.raw(lab.tech) as conn:
        assert conn.execute(ask, (lab.qa,)).fetchall() == [
            (f"{WITHHELD_PREFIX}{fingerprint(stored)}",)
        ]
        # Its search_path is fixed: a login's own objects do not stand in for the table.
        [[path]] = conn.execute(
            "SELECT proconfig FROM pg_proc WHERE proname = 'caltrack_signing_hash'"
        )
    assert path == ["search_path=pg_catalog, pg_temp"]


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE meta SET value = 'forged' WHERE key = 'database_id'",
        "INSERT INTO meta (key, value) VALUES ('lock_epoch', '99')",
        "UPDATE meta SET value = 'forged' WHERE key = 'audit_head'",
        "UPDATE meta SET key = 'lock_epoch' WHERE key = 'due_soon_days'",
        "DELETE FROM meta",
    ],
)
def test_a_technician_with_psql_writes_no_fact_of_the_database(lab: Lab, sql: str) -> None:
    with lab.raw(lab.tech) as conn:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('due_soon_days', '30') "
            "ON CONFLICT (key) DO NOTHING"
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.encode())


def test_what_others_see_of_a_signing_password_stays_true_through_caltrack(
    lab: Lab, clock: FixedClock
) -> None:
    with lab.open_as(lab.tech, clock) as app:
        assert app.accounts.get(lab.qa).has_signing_password
        app.settings.set_shared(14, 30)  # the shared settings stay a technician's to change
        assert app.settings.shared() == (14, 30)
    with lab.open_as(None, clock) as owner:
        owner.accounts.set_role(lab.tech, "admin")
    with lab.open_as(lab.tech, clock) as admin:
        # The admin resets a hash it cannot read; the trail's fingerprints still replay.
        assert not admin.accounts.reset_signing_password(lab.qa).has_signing_password
        assert admin.maintenance.verify().clean
    with lab.open_as(lab.qa, clock) as app:
        app.accounts.set_signing_password(PASSWORD + "2")
        assert app.accounts.me().has_signing_password
    with lab.open_as(lab.tech, clock) as app:
        assert app.accounts.get(lab.qa).has_signing_password
        assert app.maintenance.verify().clean


def test_qa_signs_and_voids_a_signed_record_through_caltrack(lab: Lab, clock: FixedClock) -> None:
    with lab.open_as(lab.tech, clock) as app:
        record = calibrate(app, "TH-001", "2026-11-03")
    with lab.open_as(lab.qa, clock) as app:
        signature = app.signatures.sign_record(record, meaning="approved", password=PASSWORD)
        assert signature.signer == lab.qa
        voided = app.calibrations.void(lab.signed_id, "wrong instrument")
        assert voided.voided
        successor = app.calibrations.supersede(
            record,
            CalibrationInput(performed_on="2026-11-03", result="pass", certificate_number="C2"),
            reason="certificate number was wrong",
        )
        assert successor.id != record
        assert app.maintenance.verify().clean


def test_a_technician_logs_and_voids_maintenance_under_their_login(
    lab: Lab, clock: FixedClock
) -> None:
    # Revision 0016's grants: the technician group inserts and updates the log (and so
    # QA, its member), and the instrument changes the event forces go with it.
    with lab.open_as(lab.tech, clock) as app:
        event = app.upkeep.add(
            "TH-001",
            MaintenanceInput(
                kind="repair",
                performed_on="2026-11-20",
                what_done="New probe",
                calibrate_before_use=True,
            ),
        )
        assert app.instruments.get("TH-001").lifecycle == "out_of_service"
    with lab.open_as(lab.qa, clock) as app:
        app.upkeep.void(event.id, "logged twice")
        assert app.instruments.get("TH-001").lifecycle == "in_service"
        assert app.maintenance.verify().clean
    with lab.raw(lab.tech) as conn:
        writers = conn.execute(
            "SELECT DISTINCT \"user\" FROM audit_event WHERE entity_type = 'maintenance_event'"
        ).fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM maintenance_event")
    assert sorted(writers) == sorted([(lab.tech,), (lab.qa,)])


def test_the_owner_may_still_do_everything(lab: Lab) -> None:
    with lab.raw("caltrack") as conn, conn.transaction(force_rollback=True):
        conn.execute("UPDATE audit_event SET reason = reason || ''")
        conn.execute(b"UPDATE calibration_record SET notes = 'x' WHERE id = %d" % lab.signed_id)
        conn.execute("DELETE FROM signature")
        conn.execute("TRUNCATE audit_event")


def test_the_server_refusal_is_a_not_allowed_message(lab: Lab, clock: FixedClock) -> None:
    # The account says QA, but the DBA took the group away: CalTrack's own check passes
    # and the server refuses; the person reads why, not a traceback.
    lab.server.psql(f'REVOKE "caltrack_{lab.database}_qa" FROM "{lab.qa}"')
    lab.server.psql(f'GRANT "caltrack_{lab.database}_technician" TO "{lab.qa}"')
    with lab.open_as(lab.tech, clock) as app:
        record = calibrate(app, "TH-001", "2026-11-04")
    with (
        lab.open_as(lab.qa, clock) as app,
        pytest.raises(NotAllowedError, match="refused: permission denied for table signature"),
    ):
        app.signatures.sign_record(record, meaning="approved", password=PASSWORD)


def test_users_set_needs_an_existing_login_and_the_owner_to_make_admins(
    lab: Lab, clock: FixedClock
) -> None:
    with lab.open_as(None, clock) as owner:
        with pytest.raises(ValidationError, match="CREATE ROLE"):
            owner.accounts.set_role(f"nobody_{lab.database}", "technician")
        owner.accounts.set_role(lab.qa, "admin")
    assert lab.groups_of(lab.qa) == [f"caltrack_{lab.database}_admin"]
    with lab.open_as(lab.qa, clock) as admin:
        # An admin grants the technician and QA groups ...
        admin.accounts.set_role(lab.tech, "qa")
        assert lab.groups_of(lab.tech) == [f"caltrack_{lab.database}_qa"]
        # ... but only the owner makes admins, and nothing is half-done.
        with pytest.raises(NotAllowedError, match="database owner"):
            admin.accounts.set_role(lab.tech, "admin")
        assert admin.accounts.get(lab.tech).role == "qa"
    assert lab.groups_of(lab.tech) == [f"caltrack_{lab.database}_qa"]


def test_deactivating_takes_every_group_away(lab: Lab, clock: FixedClock) -> None:
    with lab.open_as(None, clock) as owner:
        owner.accounts.set_active(lab.tech, False)
        assert lab.groups_of(lab.tech) == []
        owner.accounts.set_active(lab.tech, True)
    assert lab.groups_of(lab.tech) == [f"caltrack_{lab.database}_technician"]


def _cli(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "--db", url, *args],
        cwd=cwd,
        env=child_env(cwd),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )


def test_the_cli_says_not_allowed_in_one_line(lab: Lab, tmp_path: Path) -> None:
    lab.server.psql(f'REVOKE "caltrack_{lab.database}_technician" FROM "{lab.tech}"')
    args = ("instruments", "add", "--asset-tag", "TH-009", "--description", "Probe")
    line = assert_one_error_line(_cli(lab.url_as(lab.tech), tmp_path, *args), 8)
    assert "the database server refused: permission denied for table" in line


def test_users_set_on_the_cli_grants_or_says_why_not(lab: Lab, tmp_path: Path) -> None:
    missing = _cli(lab.url, tmp_path, "users", "set", "ghost", "--role", "qa")
    assert "there is no login 'ghost'" in assert_one_error_line(missing, 2)
    done = _cli(lab.url, tmp_path, "users", "set", lab.qa, "--role", "admin")
    assert done.returncode == 0, done.stderr
    assert lab.groups_of(lab.qa) == [f"caltrack_{lab.database}_admin"]
    refused = _cli(lab.url_as(lab.qa), tmp_path, "users", "set", lab.tech, "--role", "admin")
    assert "ask the database owner" in assert_one_error_line(refused, 8)
    assert lab.groups_of(lab.tech) == [f"caltrack_{lab.database}_technician"]


def test_users_set_finds_the_login_whatever_its_case_and_keeps_the_servers_spelling(
    lab: Lab, tmp_path: Path, clock: FixedClock
) -> None:
    newcomer = f"new_{lab.database}"
    lab.server.psql(f'CREATE ROLE "{newcomer}" LOGIN')
    done = _cli(lab.url, tmp_path, "users", "set", newcomer.upper(), "--role", "qa")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{newcomer}: qa ({newcomer})"  # the login that exists
    assert lab.groups_of(newcomer) == [f"caltrack_{lab.database}_qa"]
    # An account written with another spelling (moved from a file, where it was typed
    # so) takes the server's spelling at its next role change, audited.
    lab.server.psql(
        f"UPDATE user_account SET login = upper(login) WHERE login = '{newcomer}'", lab.database
    )
    with lab.open_as(None, clock) as owner:
        view = owner.accounts.set_role(newcomer, "technician")
        assert (view.login, view.role) == (newcomer, "technician")
        [event, *_] = owner.audit.recent(entity_type="user_account")
        assert event.changes["login"] == [newcomer.upper(), newcomer]
    assert lab.groups_of(newcomer) == [f"caltrack_{lab.database}_technician"]
    # The login works under its own spelling, with the role given.
    with lab.open_as(newcomer, clock) as app:
        assert (app.accounts.me().login, app.accounts.me().role) == (newcomer, "technician")
        add_thermometer(app, "TH-010")


def test_users_set_refuses_logins_that_differ_only_in_case(
    lab: Lab, tmp_path: Path, clock: FixedClock
) -> None:
    twins = (f"Twin_{lab.database}", f"twin_{lab.database}")
    for login in twins:
        lab.server.psql(f'CREATE ROLE "{login}" LOGIN')
    with lab.open_as(None, clock) as owner:
        before = len(owner.audit.recent(entity_type="user_account"))
        with pytest.raises(ValidationError) as info:
            owner.accounts.set_role(twins[1], "qa")
        assert f"differ only in case ({twins[0]}, {twins[1]})" in info.value.fields["login"]
        assert "ALTER ROLE" in info.value.fields["login"]
        assert len(owner.audit.recent(entity_type="user_account")) == before
        assert [a.login for a in owner.accounts.list() if a.login.casefold() == twins[1]] == []
    assert lab.groups_of(twins[0]) == lab.groups_of(twins[1]) == []
    refused = _cli(lab.url, tmp_path, "users", "set", twins[0], "--role", "qa")
    assert "differ only in case" in assert_one_error_line(refused, 2)


def test_a_technicians_failing_check_opens_a_case_under_their_login(
    lab: Lab, clock: FixedClock
) -> None:
    # Revision 0019: a case a check opened is an oot_case row like any other; the
    # technician group inserts it, and only QA voids the check while it is open.
    with lab.open_as(lab.tech, clock) as app:
        failed = app.checks.add(
            "TH-001",
            CheckInput(date(2026, 11, 20), (parse_reading("20:21:0.5"),), standard="Ice cell"),
        )
        assert failed.oot_case_id is not None
        assert app.oot.get(failed.oot_case_id).check_id == failed.id
        with pytest.raises(NotAllowedError):
            app.checks.void(failed.id, "wrong instrument")
    with lab.open_as(lab.qa, clock) as app:
        app.checks.void(failed.id, "wrong instrument")
        assert app.oot.get(failed.oot_case_id).status == "open"
        assert app.maintenance.verify().clean


def test_the_roles_revision_downgrades_and_upgrades_again(pg_server: PgServer, pg_url: str) -> None:
    database = str(make_url(pg_url).database)
    engine, _ = build_engine(pg_url, EngineOptions())
    try:
        upgrade(engine, pg_url)
        triggers = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'caltrack_%'"
        groups = f"SELECT count(*) FROM pg_roles WHERE rolname LIKE 'caltrack_{database}_%'"
        assert pg_server.psql(triggers, database).strip() == "9"
        assert pg_server.psql(groups).strip() == "3"
        downgrade(engine, pg_url, "0005")
        assert pg_server.psql(triggers, database).strip() == "0"
        assert pg_server.psql(groups).strip() == "0"
        upgrade(engine, pg_url)
        assert pg_server.psql(triggers, database).strip() == "9"
        assert pg_server.psql(groups).strip() == "3"
    finally:
        engine.dispose()


def test_two_databases_on_one_server_have_groups_of_their_own() -> None:
    names = group_names("lab")
    assert names["qa"] == "caltrack_lab_qa"
    odd = group_names("Lab-North")
    assert odd["qa"] != group_names("lab_north")["qa"]  # cleaned alike, still apart
    long = group_names("x" * 63)
    assert all(len(name.encode()) <= 63 for name in long.values())


def test_a_technician_opening_an_older_schema_reads_and_waits_for_the_owner(
    lab: Lab, clock: FixedClock
) -> None:
    lab.server.psql("UPDATE alembic_version SET version_num = '0005'", lab.database)
    with lab.open_as(lab.tech, clock) as app:
        assert app.schema.status is SchemaStatus.BEHIND
        [row] = app.instruments.list().rows
        assert row.asset_tag == "TH-001"
        with pytest.raises(ReadOnlyError, match="only its owner"):
            add_thermometer(app, "TH-003")


def test_a_login_without_a_group_is_told_whom_to_ask(lab: Lab, tmp_path: Path) -> None:
    stranger = f"new_{lab.database}"
    lab.server.psql(f'CREATE ROLE "{stranger}" LOGIN')
    done = _cli(lab.url_as(stranger), tmp_path, "instruments", "list")
    line = assert_one_error_line(done, 8)
    assert "not a member of this database's CalTrack groups" in line
    assert "users set" in line


def test_the_groups_outlive_a_dropped_database_until_a_dba_drops_them(lab: Lab) -> None:
    # What the README tells a DBA to run after DROP DATABASE.
    prefix = f"caltrack_{lab.database}_"
    listed = f"SELECT count(*) FROM pg_roles WHERE rolname LIKE '{prefix}%'"
    lab.server.drop_database(lab.url)
    assert lab.server.psql(listed).strip() == "3"
    lab.server.psql(f"DROP ROLE {prefix}technician, {prefix}qa, {prefix}admin")
    assert lab.server.psql(listed).strip() == "0"
    assert lab.groups_of(lab.qa) == []  # the login stays; only its membership went
    assert (
        lab.server.psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{lab.qa}'").strip() == "1"
    )


def test_qa_sets_the_labs_decision_rule_and_a_technician_records_by_it(
    lab: Lab, clock: FixedClock
) -> None:
    # Revision 0010 lets the groups write the metrology settings' meta keys.
    with lab.open_as(lab.tech, clock) as app, pytest.raises(NotAllowedError):
        app.settings.set_metrology(minimum_tur="3")  # QA's to change, not a technician's
    with lab.open_as(lab.qa, clock) as app:
        lab_rule = app.settings.set_metrology(
            decision_rule="guard r=1 conditional", minimum_tur="3", indeterminate_opens_case=True
        )
        assert (lab_rule.decision_rule.code, str(lab_rule.minimum_tur)) == (
            "guard r=1 conditional",
            "3",
        )
        # Revision 0014: the lab's name and logo (printed on certificates) too.
        named = app.settings.set_lab(name="Acme Metrology", logo=png())
        assert (named.name, named.logo_kind) == ("Acme Metrology", "png")
    with lab.open_as(lab.tech, clock) as app:
        # ±0.5 at 20 °C with U = 0.1: acceptance limits 19.6 … 20.4; 20.45 found is a
        # conditional pass (indeterminate), which by the lab's setting opens a case.
        view = app.calibrations.add(
            "TH-001",
            CalibrationInput(
                performed_on="2026-11-04",
                result="adjusted",
                points=(PointInput(20.0, 20.45, 20.0, 0.5, "°C", 0.1, 2.0),),
            ),
        )
        assert view.decision_rule == "guard r=1 conditional"
        assert view.points[0].as_found_verdict is Verdict.CONDITIONAL_PASS
        assert view.oot_case_id is not None
        assert app.maintenance.verify().clean
