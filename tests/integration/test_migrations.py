"""Alembic migrations against real files and server databases, and how CalTrack opens
databases it cannot own."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, make_url, text

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.engine import EngineOptions, build_engine, database_url
from app.db.migrate import SchemaStatus, downgrade, head_revision, schema_state, upgrade
from app.db.models import Base
from app.errors import DatabaseOpenError, ReadOnlyError, SchemaTooNewError
from app.identity import Identity
from app.services.checks import CheckInput
from app.services.decision_rules import Verdict
from app.services.dto import (
    CalibrationInput,
    InstrumentChanges,
    MaintenanceInput,
    PointInput,
    ScheduleDefault,
    StatedUncertainty,
    TypeChanges,
    TypeInput,
    TypePointInput,
)
from app.services.provider_views import ProviderInput
from app.services.schedules import ScheduleInput
from tests.conftest import add_thermometer, is_server
from tests.integration.helpers import (
    assert_one_error_line,
    fingerprint,
    home_for,
    open_lab,
    query,
    run_cli,
    scalar,
    tamper,
)
from tests.pg_server import PgServer
from tests.unit.impact_helpers import FLIPS, build_failed_standard
from tests.unit.qa_helpers import PASSWORD, QUINN, calibrate, make_qa, open_as, reading

CALTRACK_TABLES = {
    "alembic_version",
    "attachment",
    "attachment_blob",
    "attachment_chunk",
    "audit_event",
    "calibration_record",
    "calibration_standard",
    "custody",
    "instrument",
    "instrument_schedule",
    "instrument_type",
    "intermediate_check",
    "maintenance_event",
    "measurement_point",
    "meta",
    "oot_case",
    "provider",
    "sendout_batch",
    "sendout_item",
    "signature",
    "type_field",
    "type_point",
    "user_account",
}
UNKNOWN_REVISION = "ffff9999"


@pytest.fixture
def engine(db_url: str) -> Iterator[tuple[Engine, str]]:
    """A bare engine on an empty file or server database, built the way CalTrack builds it."""
    if not is_server(db_url):
        Path(db_url).touch()  # CalTrack creates a new database as an empty file first
    url = database_url(db_url)
    built, _ = build_engine(url, EngineOptions())
    yield built, url
    built.dispose()


def _tables(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(inspect(conn).get_table_names())


# -- the migrations themselves -------------------------------------------------------


def test_upgrade_head_matches_the_models(engine: tuple[Engine, str]) -> None:
    eng, url = engine
    upgrade(eng, url)
    with eng.connect() as conn:
        assert schema_state(conn).status is SchemaStatus.CURRENT
        context = MigrationContext.configure(
            connection=conn, opts={"compare_type": True, "render_as_batch": True}
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"
    assert _tables(eng) == CALTRACK_TABLES


def test_downgrade_to_base_and_upgrade_again_round_trips(
    engine: tuple[Engine, str], db_url: str, clock: FixedClock, alice: Identity
) -> None:
    eng, url = engine
    upgrade(eng, url)
    assert _tables(eng) == CALTRACK_TABLES

    downgrade(eng, url, "base")
    # Only alembic's own bookkeeping table may stay, and it names no revision.
    assert _tables(eng) <= {"alembic_version"}
    with eng.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is None

    upgrade(eng, url)
    assert _tables(eng) == CALTRACK_TABLES
    with eng.connect() as conn:
        state = schema_state(conn)
    assert (state.status, state.current) == (SchemaStatus.CURRENT, head_revision())
    eng.dispose()

    # The re-created schema takes real data through the services, audit chain included.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        add_thermometer(app, "RT-001")
        app.instruments.edit("RT-001", InstrumentChanges(location="Lab 2"), expected_version=1)
        assert app.instruments.get("RT-001").location == "Lab 2"
        report = app.maintenance.verify(deep=True)
        assert report.problems == []
        assert report.audit_events == 3  # the creator's account, the add, the edit


def test_on_a_server_upgrade_head_matches_the_models(pg_url: str) -> None:
    eng, _ = build_engine(pg_url, EngineOptions())
    try:
        upgrade(eng, pg_url)
        with eng.connect() as conn:
            context = MigrationContext.configure(connection=conn, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
            size_type = conn.execute(
                text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_name = 'attachment' AND column_name = 'size_bytes'"
                )
            ).scalar_one()
    finally:
        eng.dispose()
    assert differences == [], f"models and migrations disagree on the server: {differences}"
    assert size_type == "bigint"  # 2 GiB and more (revision 0008)


def test_on_a_server_0008_keeps_the_groups_rights_and_downgrades_while_sizes_fit(
    pg_server: PgServer, pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    database = str(make_url(pg_url).database)
    tech = f"caltrack_{database}_technician"
    rights = (
        f"SELECT has_table_privilege('{tech}', 'attachment', 'INSERT'), "
        f"has_table_privilege('{tech}', 'attachment', 'UPDATE'), "
        f"has_table_privilege('{tech}', 'attachment', 'DELETE')"
    )
    size_type = (
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'attachment' AND column_name = 'size_bytes'"
    )
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ) as app:
        add_thermometer(app, "RT-001")
    big = (
        "INSERT INTO attachment (instrument_id, original_name, stored_name, size_bytes, "
        "sha256, added_at, added_by) SELECT id, 'big.bin', 'big_0000abcd.bin', 3000000000, "
        "repeat('0', 64), now(), 'alice' FROM instrument"
    )
    pg_server.psql(big, database)
    assert pg_server.psql(rights, database).strip() == "t|t|f"
    eng, _ = build_engine(pg_url, EngineOptions())
    try:
        # A size over INTEGER's range cannot go back: refused, and nothing changed.
        with pytest.raises(RuntimeError, match="1 attachment\\(s\\) are 2 GiB or larger"):
            downgrade(eng, pg_url, "0007")
        assert pg_server.psql(size_type, database).strip() == "bigint"
        assert pg_server.psql("SELECT version_num FROM alembic_version", database).strip() == (
            head_revision()
        )
        pg_server.psql("UPDATE attachment SET size_bytes = 3000", database)
        downgrade(eng, pg_url, "0007")
        assert pg_server.psql(size_type, database).strip() == "integer"
        assert pg_server.psql(rights, database).strip() == "t|t|f"
        upgrade(eng, pg_url)
    finally:
        eng.dispose()
    assert pg_server.psql(size_type, database).strip() == "bigint"
    assert pg_server.psql(rights, database).strip() == "t|t|f"
    assert pg_server.psql("SELECT size_bytes FROM attachment", database).strip() == "3000"


def test_database_downgraded_to_base_can_be_initialised_again(
    engine: tuple[Engine, str], db_url: str, clock: FixedClock, alice: Identity
) -> None:
    eng, url = engine
    upgrade(eng, url)
    downgrade(eng, url, "base")
    eng.dispose()
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT


# -- a database written by a newer CalTrack ------------------------------------------


@pytest.fixture
def newer_db(db_url: str, clock: FixedClock, alice: Identity) -> str:
    """A real CalTrack database whose revision this CalTrack does not know."""
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app)
    tamper(db_url, f"UPDATE alembic_version SET version_num = '{UNKNOWN_REVISION}'")
    return db_url


def test_unknown_revision_opens_read_only(
    newer_db: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    before = fingerprint(newer_db)
    cert = tmp_path / "cert.pdf"
    cert.write_bytes(b"%PDF certificate")
    with open_lab(newer_db, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.NEWER
        assert app.schema.current == UNKNOWN_REVISION
        assert app.database.read_only_reason is not None
        assert UNKNOWN_REVISION in app.database.read_only_reason
        # Reading still works.
        assert app.instruments.get("TH-001").description == "Digital thermometer"
        with pytest.raises(ReadOnlyError) as raised:
            app.instruments.edit("TH-001", InstrumentChanges(description="changed"))
        assert isinstance(raised.value, SchemaTooNewError)
        with pytest.raises(ReadOnlyError):
            add_thermometer(app, "TH-002")
        with pytest.raises(ReadOnlyError):
            app.attachments.add("TH-001", cert)
    assert fingerprint(newer_db) == before
    # Never "upgraded" or downgraded behind the user's back.
    assert scalar(newer_db, "SELECT version_num FROM alembic_version") == UNKNOWN_REVISION
    assert not (home_for(newer_db) / "backups").exists()


def test_unknown_revision_cli_write_exits_5(newer_db: str) -> None:
    before = fingerprint(newer_db)
    result = run_cli(newer_db, "instruments", "edit", "TH-001", "--description", "changed")
    line = assert_one_error_line(result, 5)
    assert "newer" in line and UNKNOWN_REVISION in line
    assert fingerprint(newer_db) == before


def test_init_on_a_newer_database_refuses_instead_of_saying_ready(newer_db: str) -> None:
    """`init` must not print "ready ... schema ffff9999" and exit 0 on a file it cannot own."""
    before = fingerprint(newer_db)
    result = run_cli(newer_db, "init")
    line = assert_one_error_line(result, 5)
    assert "newer" in line and UNKNOWN_REVISION in line
    assert "ready" not in result.stdout
    assert fingerprint(newer_db) == before
    assert scalar(newer_db, "SELECT version_num FROM alembic_version") == UNKNOWN_REVISION


def _second_version_row(db: str, revision: str) -> None:
    tamper(db, f"INSERT INTO alembic_version (version_num) VALUES ('{revision}')")


@pytest.mark.parametrize("command", [("instruments", "list"), ("init",), ("db", "verify")])
def test_two_schema_revisions_are_refused_clearly(
    db_url: str, clock: FixedClock, alice: Identity, command: tuple[str, ...]
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app)
    _second_version_row(db_url, "0001")
    before = fingerprint(db_url)
    result = run_cli(db_url, *command)
    line = assert_one_error_line(result, 2)
    assert "alembic_version" in line and "0001" in line and head_revision() in line, line
    assert fingerprint(db_url) == before
    rows = {r[0] for r in query(db_url, "SELECT * FROM alembic_version")}
    assert rows == {"0001", head_revision()}
    with pytest.raises(DatabaseOpenError):
        open_lab(db_url, identity=alice, clock=clock)


def test_two_revisions_one_of_them_newer_open_read_only(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    """A newer CalTrack with branched migrations: read-only, as any newer schema."""
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app)
    _second_version_row(db_url, UNKNOWN_REVISION)
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.NEWER
        with pytest.raises(SchemaTooNewError):
            add_thermometer(app, "TH-002")
    result = run_cli(db_url, "init")
    assert UNKNOWN_REVISION in assert_one_error_line(result, 5)


# -- files that are not CalTrack databases -------------------------------------------


def test_non_sqlite_file_is_refused_and_untouched(tmp_path: Path) -> None:
    target = tmp_path / "notes.db"
    content = os.urandom(2048).hex().encode("ascii")  # random text
    target.write_bytes(content)
    result = run_cli(target, "instruments", "add", "--asset-tag", "X-1", "--description", "x")
    line = assert_one_error_line(result, 2)
    assert "not a SQLite database" in line and str(target) in line
    assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.glob("notes*")) == ["notes.db"]


def _foreign_db(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("CREATE TABLE customer (id INTEGER PRIMARY KEY, name TEXT)")
            conn.execute("INSERT INTO customer (name) VALUES ('ACME')")
    finally:
        conn.close()
    return path.read_bytes()


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "crm.db"
    _foreign_db(target)
    result = run_cli(target, "instruments", "list")
    line = assert_one_error_line(result, 2)
    assert "not a CalTrack" in line and str(target) in line
    with pytest.raises(DatabaseOpenError):
        open_lab(target, create=True)
    conn = sqlite3.connect(target)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert tables == {"customer"}, "CalTrack created tables in a foreign database"


def test_foreign_sqlite_file_bytes_are_untouched(tmp_path: Path) -> None:
    target = tmp_path / "crm.db"
    content = _foreign_db(target)
    result = run_cli(target, "instruments", "list")
    assert result.returncode == 2
    # Not even switched to WAL (header bytes 18-19) before CalTrack saw it is not its own.
    assert target.read_bytes() == content
    assert sorted(p.name for p in tmp_path.glob("crm*")) == ["crm.db"]


def test_missing_path_exits_2_and_suggests_init(tmp_path: Path) -> None:
    target = tmp_path / "nowhere.db"
    result = run_cli(target, "instruments", "list")
    line = assert_one_error_line(result, 2)
    assert "init" in line and str(target) in line
    assert not target.exists()
    assert list(tmp_path.glob("nowhere*")) == []


# -- 0001 → 0002 with data: accounts replace the admin list ---------------------------


def test_a_populated_database_goes_down_to_0001_and_up_again(
    db_path: Path, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_path, create=True, identity=alice, clock=clock) as app:
        _fill_like_0001(app, clock)
        before = app.instruments.list(limit=None)
        records = {r.asset_tag: app.calibrations.history(r.asset_tag) for r in before.rows}
    engine, _ = build_engine(database_url(str(db_path)), EngineOptions())
    try:
        downgrade(engine, database_url(str(db_path)), "0001")
    finally:
        engine.dispose()
    assert "user_account" not in _tables_of(db_path)
    # What a database of CalTrack 0.1 looked like: admins listed in meta.
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('admins', ?)", ('["alice", "carol"]',)
            )
    finally:
        conn.close()

    with open_lab(db_path, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert any("upgraded the schema from 0001" in n for n in app.notices)
        assert sorted(app.locks.admins()) == ["alice", "carol"]
        assert app.instruments.list(limit=None) == before
        assert {r.asset_tag: app.calibrations.history(r.asset_tag) for r in before.rows} == records
        assert any(rec.standards for rec in records["TH-001"])
        report = app.maintenance.verify(deep=True)
        assert report.problems == []
    assert scalar(db_path, "SELECT count(*) FROM meta WHERE key = 'admins'") == 0
    assert list((db_path.parent / "backups").glob("lab_*_before-upgrade-0001.db"))


def _fill_like_0001(app: CalTrack, clock: FixedClock) -> None:
    """Data a CalTrack 0.1 database could hold: instruments, calibrations with points
    and standards, an edit, a void. No out-of-tolerance case (0.1 had none: the demo's
    failed calibrations open one, and a downgrade drops them with their table)."""
    today = clock.today()
    add_thermometer(app, "REF-1", description="Reference thermometer")
    app.calibrations.add(
        "REF-1",
        CalibrationInput(performed_on=today - timedelta(days=100), result="pass"),
    )
    for n in range(1, 6):
        tag = f"TH-{n:03d}"
        add_thermometer(app, tag, location=f"Room {n}")
        for days, result in ((60, "pass"), (10, "adjusted")):
            app.calibrations.add(
                tag,
                CalibrationInput(
                    performed_on=today - timedelta(days=days),
                    result=result,
                    certificate_number=f"C-{n}-{days}",
                    points=(PointInput(20, 20.1, 20.0, 0.5, "°C"),),
                    standards=("REF-1",),
                ),
            )
    app.instruments.edit("TH-002", InstrumentChanges(location="Cold room"), reason="moved")
    wrong = app.calibrations.add(
        "TH-003", CalibrationInput(performed_on=today - timedelta(days=5), result="pass")
    )
    app.calibrations.void(wrong.id, "entered on the wrong instrument")


def _tables_of(db: Path) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


# -- 0009 → 0010: metrology on the points and records --------------------------------


def test_0010_gives_old_points_no_u_and_leaves_their_verdicts_as_they_were(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    """A record as revision 0009 held it (made now, then taken down to 0009, which drops
    every issue-14 column) comes back from 0010 with no U, no TUR, a ± tolerance and
    simple acceptance: the same view, the same verdicts, its case, its signature still
    intact, a clean verify."""
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app, "TH-001")
        # ±0.5 at 20 °C: 20.4 found passes (inside 19.5 … 20.5); at 50 °C 50.6 fails.
        old = app.calibrations.add(
            "TH-001",
            CalibrationInput(
                performed_on=clock.today() - timedelta(days=3),
                result="adjusted",
                points=(PointInput(20, 20.4, 20.0, 0.5, "°C"), PointInput(50, 50.6, 50.1, 0.5)),
            ),
        )
        # Signed before the upgrade: the signature must still check after it.
        app.accounts.set_signing_password("correct horse battery")
        app.signatures.sign_record(old.id, meaning="reviewed", password="correct horse battery")
        before = app.calibrations.history("TH-001")
    url = database_url(str(db_url))
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0009")
        with eng.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("measurement_point")}
        assert "uncertainty" not in columns and "tur" not in columns
        upgrade(eng, url)
    finally:
        eng.dispose()
    points = query(
        db_url,
        "SELECT uncertainty, coverage_factor, tolerance_text, tolerance_lower, "
        "tolerance_upper, tur FROM measurement_point ORDER BY seq",
    )
    assert points == [(None,) * 6, (None,) * 6]
    assert query(db_url, "SELECT decision_rule, tur_justification FROM calibration_record") == [
        (None, "")
    ]
    with open_lab(db_url, identity=alice, clock=clock) as app:
        after = app.calibrations.history("TH-001")
        assert after == before
        view = after[0]
        assert view.decision_rule == "simple" and view.oot_case_id == old.oot_case_id
        assert [s.intact for s in view.signatures] == [True]
        assert [(p.as_found_verdict, p.as_left_verdict) for p in view.points] == [
            (Verdict.PASS, Verdict.PASS),
            (Verdict.FAIL, Verdict.PASS),
        ]
        assert [(p.uncertainty, p.tur, p.tur_text) for p in view.points] == [(None, None, "")] * 2
        assert [(p.tolerance_text, p.lower_limit) for p in view.points] == [("", 19.5), ("", 49.5)]
        assert app.maintenance.verify(deep=True).problems == []


# -- 0002 → 0003: tag keys after NFKC and case folding --------------------------------


def test_0003_rekeys_tags_and_keeps_twins_already_stored(
    db_path: Path, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_path, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app, "CAL-\u00c9-1")  # precomposed
        add_thermometer(app, "TH-001")
    url = database_url(str(db_path))
    eng, _ = build_engine(url, EngineOptions())
    downgrade(eng, url, "0002")
    eng.dispose()
    conn = sqlite3.connect(db_path)
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(instrument)") if r[1] != "id"]
        copied = ", ".join({"asset_tag": "?", "asset_tag_key": "?"}.get(c, c) for c in columns)
        with conn:
            # A twin stored by the old rule: the decomposed É (its own upper-case key).
            conn.execute(
                f"INSERT INTO instrument ({', '.join(columns)}) SELECT {copied} "
                "FROM instrument WHERE asset_tag = ?",
                ("CAL-E\u0301-1", "CAL-E\u0301-1".upper(), "CAL-\u00c9-1"),
            )
        assert conn.execute("SELECT asset_tag_key FROM instrument ORDER BY id").fetchall() == [
            ("CAL-\u00c9-1",),
            ("TH-001",),
            ("CAL-E\u0301-1",),
        ]
    finally:
        conn.close()
    with open_lab(db_path, identity=alice, clock=clock) as app:
        assert app.schema.current == head_revision()
        # Both spellings find the older instrument; the twin is kept, not lost.
        assert app.instruments.get("CAL-E\u0301-1").asset_tag == "CAL-\u00c9-1"
        assert app.instruments.get("\uff34\uff28-001").asset_tag == "TH-001"
    keys = [
        r[0]
        for r in sqlite3.connect(db_path).execute(
            "SELECT asset_tag_key FROM instrument ORDER BY id"
        )
    ]
    assert keys == ["CAL-\u00c9-1", "TH-001", "CAL-\u00c9-1#3"]


# -- 0011: instrument types ------------------------------------------------------------


def _columns(eng: Engine, table: str) -> set[str]:
    with eng.connect() as conn:
        return {c["name"] for c in inspect(conn).get_columns(table)}


def test_0011_types_come_to_a_populated_database_and_go_again(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        _fill_like_0001(app, clock)
        before = app.instruments.list(limit=None)
        records = {r.asset_tag: app.calibrations.history(r.asset_tag) for r in before.rows}
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0010")
        assert not {"instrument_type", "type_point", "type_field"} & _tables(eng)
        assert not {"type_id", "custom_fields"} & _columns(eng, "instrument")
    finally:
        eng.dispose()

    # A database of 0010 comes up to the head: its instruments untyped, nothing else changed.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.instruments.list(limit=None) == before
        assert {r.asset_tag: app.calibrations.history(r.asset_tag) for r in before.rows} == records
        detail = app.instruments.get("TH-001")
        assert (detail.type_name, detail.custom_fields) == ("", {})
        assert app.types.list() == []
        assert app.maintenance.verify(deep=True).problems == []
        app.types.add(TypeInput(name="Thermometer", points=(TypePointInput(20, "±0.5", "°C"),)))
        app.instruments.edit("TH-001", InstrumentChanges(), type_name="Thermometer")
        assert app.types.prefill("TH-001").points[0].upper_limit == "20.5"
        assert app.maintenance.verify(deep=True).problems == []


# -- 0012: the OOT impact ------------------------------------------------------------------


def test_0012_cases_come_up_with_no_stored_impact_and_get_it_computed(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        build_failed_standard(app)
        (case,) = app.oot.list(status="open")
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0011")
        assert not {"impact_snapshot", "origin_case_id"} & _columns(eng, "oot_case")
    finally:
        eng.dispose()

    # A case of 0011 comes up unchanged: nothing frozen, no origin, its list computed.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.oot.list(status="open") == [case]
        impact = app.oot.impact(case.id)
        assert not impact.frozen
        assert {(r.asset_tag, r.seq, r.reading) for r in impact.flipped} == FLIPS
        assert app.maintenance.verify(deep=True).problems == []


# -- 0013: an uncertainty stated on a standard ---------------------------------------------


def test_0013_old_instruments_state_no_uncertainty_and_db_verify_stays_clean(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        _fill_like_0001(app, clock)
        before = app.instruments.list(limit=None)
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0012")
        stated = {"stated_uncertainty", "stated_coverage_factor", "stated_uncertainty_unit"}
        assert not stated & _columns(eng, "instrument")
    finally:
        eng.dispose()

    # A database of 0012 comes up to the head: no instrument states a U, none is offered.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.instruments.list(limit=None) == before
        tags = [r.asset_tag for r in before.rows]
        assert {app.instruments.get(t).stated_uncertainty for t in tags} == {None}
        offers = app.calibrations.standard_uncertainties(tags, clock.today())
        assert [o.stated for o in offers] == [None] * len(tags)
        assert app.maintenance.verify(deep=True).problems == []
        app.instruments.edit(tags[0], InstrumentChanges(), stated=StatedUncertainty(0.1, 2, "°C"))
        assert app.maintenance.verify(deep=True).problems == []


# -- 0016: the maintenance log -------------------------------------------------------------


def test_0016_the_log_comes_to_a_populated_database_and_goes_again(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        _fill_like_0001(app, clock)
        before = app.instruments.list(limit=None)
        assert app.maintenance.verify(deep=True).problems == []
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0014")
        assert "maintenance_event" not in _tables(eng)
    finally:
        eng.dispose()

    # A database of 0014 comes up to the head: an empty log, nothing else changed.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.instruments.list(limit=None) == before
        assert app.upkeep.history("TH-001") == []
        assert app.maintenance.verify(deep=True).problems == []
        app.upkeep.add(
            "TH-001",
            MaintenanceInput(
                kind="damage found",
                performed_on=clock.today(),
                what_done="Dropped; the display flickers",
                calibrate_before_use=True,
            ),
        )
        assert app.instruments.get("TH-001").lifecycle == "out_of_service"
        assert app.maintenance.verify(deep=True).problems == []


def test_on_a_server_0011_grants_types_to_qa_and_reading_to_technicians(
    pg_server: PgServer, pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ):
        pass
    database = str(make_url(pg_url).database)
    groups = {role: f"caltrack_{database}_{role}" for role in ("technician", "qa")}

    def rights(group: str, table: str) -> str:
        checks = ", ".join(
            f"has_table_privilege('{group}', '{table}', '{p}')"
            for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
        )
        return pg_server.psql(f"SELECT {checks}", database).strip()

    # SELECT, INSERT, UPDATE, DELETE. QA holds the technician group, so reads too.
    assert rights(groups["technician"], "instrument_type") == "t|f|f|f"
    assert rights(groups["technician"], "type_point") == "t|f|f|f"
    assert rights(groups["qa"], "instrument_type") == "t|t|t|f"  # types are never deleted
    assert rights(groups["qa"], "type_point") == "t|t|t|t"  # a plan is replaced whole
    assert rights(groups["qa"], "type_field") == "t|t|t|t"
    sequence = pg_server.psql(
        f"SELECT has_sequence_privilege('{groups['qa']}', 'instrument_type_id_seq', 'USAGE')",
        database,
    )
    assert sequence.strip() == "t"


# -- 0015: custody -----------------------------------------------------------------------


def test_0015_custody_comes_to_a_populated_database_and_goes_again(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        _fill_like_0001(app, clock)
        tag = app.instruments.list(limit=None).rows[0].asset_tag
        assert app.maintenance.verify(deep=True).problems == []
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0014")
        assert "custody" not in _tables(eng)
    finally:
        eng.dispose()
    # A database of 0014 comes up to the head: clean, and check-outs work at once.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.maintenance.verify(deep=True).problems == []
        # The demo-like fill may leave it overdue: alice (an admin) overrides then.
        refused = app.custody.check(tag).refusal
        app.custody.check_out(tag, holder="Dana", override_reason="0015 test" if refused else "")
        assert app.custody.check(tag).current is not None
        assert app.maintenance.verify(deep=True).problems == []


def test_on_a_server_0015_lets_technicians_check_out_and_in(
    pg_server: PgServer, pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ):
        pass
    database = str(make_url(pg_url).database)
    group = f"caltrack_{database}_technician"
    checks = ", ".join(
        f"has_table_privilege('{group}', 'custody', '{p}')"
        for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
    )
    # Never deleted: voided with a reason.
    assert pg_server.psql(f"SELECT {checks}", database).strip() == "t|t|t|f"
    sequence = pg_server.psql(
        f"SELECT has_sequence_privilege('{group}', 'custody_id_seq', 'USAGE')", database
    )
    assert sequence.strip() == "t"


# -- 0017: providers and send-out batches -------------------------------------------------


def test_0017_providers_come_to_a_populated_database_and_go_again(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        _fill_like_0001(app, clock)
        before = app.instruments.list(limit=None)
        tags = [r.asset_tag for r in before.rows]
        records = {t: app.calibrations.history(t) for t in tags}
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0014")
        assert not {"provider", "sendout_batch", "sendout_item"} & _tables(eng)
    finally:
        eng.dispose()

    # A database of 0014 comes up to the head: nothing else changed, verify clean.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.instruments.list(limit=None) == before
        assert {t: app.calibrations.history(t) for t in tags} == records
        assert app.providers.list() == [] and app.sendouts.list() == []
        assert app.maintenance.verify(deep=True).problems == []
        app.providers.add(ProviderInput(name="Other Lab"))
        batch = app.sendouts.create("Other Lab", tags[:2])
        app.sendouts.receive(batch.id)
        assert app.maintenance.verify(deep=True).problems == []


def test_on_a_server_0017_grants_providers_to_qa_and_send_outs_to_technicians(
    pg_server: PgServer, pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> None:
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ):
        pass
    database = str(make_url(pg_url).database)
    groups = {role: f"caltrack_{database}_{role}" for role in ("technician", "qa")}

    def rights(group: str, table: str) -> str:
        checks = ", ".join(
            f"has_table_privilege('{group}', '{table}', '{p}')"
            for p in ("SELECT", "INSERT", "UPDATE", "DELETE")
        )
        return pg_server.psql(f"SELECT {checks}", database).strip()

    # SELECT, INSERT, UPDATE, DELETE; nothing is ever deleted.
    assert rights(groups["technician"], "provider") == "t|f|f|f"
    assert rights(groups["qa"], "provider") == "t|t|t|f"
    for table in ("sendout_batch", "sendout_item"):
        assert rights(groups["technician"], table) == "t|t|t|f"


# -- 0018: several schedules per instrument, intermediate checks -----------------------


def test_0018_keeps_the_calibration_schedule_first_and_db_verify_clean(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        _fill_like_0001(app, clock)
        before = app.instruments.list(limit=None)
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0014")
        assert not {"instrument_schedule", "intermediate_check"} & _tables(eng)
    finally:
        eng.dispose()

    # A database of 0014 comes up: each instrument's calibration is its first (and only)
    # schedule, with the interval, grace and next due it had; verify clean before and after.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.maintenance.verify(deep=True).problems == []
        assert app.instruments.list(limit=None) == before
        for row in before.rows:
            (only,) = app.schedules.list(row.asset_tag)
            detail = app.instruments.get(row.asset_tag)
            assert (only.kind, only.next_due, only.grace_days) == (
                "calibration",
                detail.next_due,
                detail.grace_days,
            )
            assert only.interval == f"{detail.calibration_interval_days}d"
        tag = before.rows[0].asset_tag
        app.schedules.set(tag, ScheduleInput("check", every="3m"))
        app.checks.add(tag, CheckInput(clock.today(), result="pass", standard="artefact A"))
        assert app.maintenance.verify(deep=True).problems == []


# -- 0019: a failing intermediate check opens an out-of-tolerance case -------------------


def test_0019_cases_of_0018_come_up_intact_and_checks_open_cases_after(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    # An open case and a closed one with its signature (the SQLite rebuild of oot_case
    # sets the closing signatures aside and puts them back).
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        build_failed_standard(app)
        calibrate(app, "TH-A", "2026-11-01", "fail", points=(reading(0, 0.9),))
        first, second = sorted(app.oot.list(), key=lambda c: c.id)
        make_qa(app, db_url, clock)
    with open_as(db_url, QUINN, clock) as qa:
        qa.oot.assess(first.id, impact_assessment="Re-assessed", disposition="no_impact")
        qa.oot.close(first.id, password=PASSWORD)
        before = sorted(qa.oot.list(), key=lambda c: c.id)
        assert qa.maintenance.verify(deep=True).problems == []
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0018")
        assert "check_id" not in _columns(eng, "oot_case")
    finally:
        eng.dispose()

    with open_as(db_url, QUINN, clock) as qa:
        assert qa.schema.status is SchemaStatus.CURRENT
        after = sorted(qa.oot.list(), key=lambda c: c.id)
        assert after == before  # ids, record ids, signatures (intact), all alike
        assert [c.record_id for c in after] == [first.record_id, second.record_id]
        assert {c.check_id for c in after} == {None}
        assert after[0].signatures[0].intact
        assert qa.maintenance.verify(deep=True).problems == []
        failed = qa.checks.add(
            "TH-B", CheckInput(clock.today(), result="fail", standard="artefact A")
        )
        assert failed.oot_case_id is not None
        assert qa.oot.get(failed.oot_case_id).check_id == failed.id
        assert qa.maintenance.verify(deep=True).problems == []
    # A case a check opened has no place in 0018: the downgrade refuses and changes nothing.
    eng, _ = build_engine(url, EngineOptions())
    try:
        with pytest.raises(RuntimeError, match="opened by an intermediate check"):
            downgrade(eng, url, "0018")
        assert "check_id" in _columns(eng, "oot_case")
    finally:
        eng.dispose()


# -- 0020: default schedules of a type ----------------------------------------------------


def test_0020_types_come_up_without_default_schedules_and_db_verify_clean(
    db_url: str, clock: FixedClock, alice: Identity
) -> None:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        _fill_like_0001(app, clock)
        app.types.add(TypeInput(name="Thermometer", default_interval_days=180))
        tag = app.instruments.list(limit=None).rows[0].asset_tag
        app.instruments.edit(tag, InstrumentChanges(), type_name="Thermometer")
        app.schedules.set(tag, ScheduleInput("maintenance", every="6m"))
        before = app.instruments.list(limit=None)
        types_before = app.types.list()
    url = database_url(db_url)
    eng, _ = build_engine(url, EngineOptions())
    try:
        downgrade(eng, url, "0018")
        assert not {c for c in _columns(eng, "instrument_type") if c.startswith("check_")}
        assert "maintenance_every" not in _columns(eng, "instrument_type")
    finally:
        eng.dispose()

    # A database of 0018 comes up: its types give no schedule, nothing else changed; the
    # old trail (events without the new fields) replays clean.
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.maintenance.verify(deep=True).problems == []
        assert app.instruments.list(limit=None) == before
        assert app.types.list() == types_before
        assert (types_before[0].check, types_before[0].maintenance) == (None, None)
        app.types.edit("Thermometer", TypeChanges(check=ScheduleDefault("1m")))
        assert app.types.apply_defaults("Thermometer") == {"check": [tag]}
        assert [s.kind for s in app.schedules.list(tag)] == ["calibration", "check", "maintenance"]
        assert app.maintenance.verify(deep=True).problems == []
