"""A cut audit trail is found: in the file (head row) and against what this PC saw before.

Tampering is done with the real tools (sqlite3 on a file, psql on a server database),
CalTrack runs as separate processes with their own user state folder, as on a lab PC.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.models import AuditEvent
from app.identity import Identity
from app.services.audit import event_hash
from app.services.copying import copy_database
from tests.conftest import NOW, add_thermometer, is_server, state_for
from tests.integration.helpers import home_for, query, run_cli, scalar
from tests.integration.test_tamper import outside_caltrack, problems_of
from tests.unit.qa_helpers import PASSWORD, QUINN, calibrate, make_qa, open_as


@dataclass(frozen=True)
class SignedLab:
    db: str
    outside: Callable[[str], None]  # runs SQL with the real tool, past CalTrack


@pytest.fixture
def signed_lab(
    db_url: str, clock: FixedClock, alice: Identity, request: pytest.FixtureRequest
) -> SignedLab:
    """Two calibrations; the last thing that happened is a QA signature on the second."""
    app = open_caltrack(
        db_url, create=True, identity=alice, clock=clock, state_dir=state_for(db_url)
    )
    add_thermometer(app, "TH-001")
    calibrate(app, "TH-001", "2026-06-01")
    record = calibrate(app, "TH-001", "2026-11-20")
    make_qa(app, db_url, clock)  # closes app
    with open_as(db_url, QUINN, clock) as qa:
        qa.signatures.sign_record(record, meaning="reviewed", password=PASSWORD)
    return SignedLab(db_url, outside_caltrack(db_url, request))


def anchor_files(db: str) -> list[Path]:
    """The anchors the CLI processes (XDG_STATE_HOME under the test's folder) keep."""
    return sorted((home_for(db) / "xdg-state").rglob("anchors/*.json"))


def columns(db: str, table: str) -> list[str]:
    """The names of ``table``'s columns in their stored order."""
    if is_server(db):
        found = query(
            db,
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "ORDER BY ordinal_position",
            (table,),
        )
        return [str(r[0]) for r in found]
    return [str(r[1]) for r in query(db, f"PRAGMA table_info({table})")]


def seen_by_this_pc(db: str) -> None:
    result = run_cli(db, "db", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert problems_of(result) == []


def test_deleted_head_row_is_a_finding(signed_lab: SignedLab) -> None:
    db = signed_lab.db
    signed_lab.outside("DELETE FROM meta WHERE key = 'audit_head'")

    verify = run_cli(db, "db", "verify")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert any("audit chain head is missing" in p for p in problems_of(verify)), verify.stdout

    # The next write does not quietly make a new head: the trail records what it found,
    # and verify keeps reporting it.
    added = run_cli(db, "instruments", "add", "--asset-tag", "TH-009", "--description", "x")
    assert added.returncode == 0, added.stdout + added.stderr
    assert "audit chain head is missing" in added.stderr
    again = run_cli(db, "db", "verify")
    assert again.returncode == 1, again.stdout + again.stderr
    assert any("head was missing" in p for p in problems_of(again)), again.stdout
    opened = run_cli(db, "instruments", "list")
    assert "records that the audit chain head was missing" in opened.stderr


def test_rolled_back_trail_with_its_signature_is_noticed(signed_lab: SignedLab) -> None:
    db = signed_lab.db
    seen_by_this_pc(db)
    [anchor] = anchor_files(db)
    kept = json.loads(anchor.read_text(encoding="utf-8"))
    assert kept["events"] == scalar(db, "SELECT COUNT(*) FROM audit_event")
    assert not list(anchor.parent.glob("*.tmp"))  # written whole, by rename

    # Remove the signature and every event from its signing on, and move the head back:
    # the file alone still verifies.
    first = scalar(db, "SELECT MIN(id) FROM audit_event WHERE action = 'sign'")
    signed_lab.outside(
        "BEGIN; DELETE FROM signature; "
        f"DELETE FROM audit_event WHERE id >= {first}; "
        "UPDATE meta SET value = (SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1) "
        "WHERE key = 'audit_head'; COMMIT;",
    )

    verify = run_cli(db, "db", "verify")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    found = [p for p in problems_of(verify) if "no longer extends what this PC saw" in p]
    assert found and "shorter" in found[0] and f"{kept['events']:,} events then" in found[0]
    said = (verify.stdout + verify.stderr).count("no longer extends what this PC saw")
    assert said == 1, "said once, not once by opening and again by the check"

    # Opening says it too, and keeps saying it: the anchor does not follow the cut trail.
    for _ in range(2):
        opened = run_cli(db, "instruments", "list")
        assert opened.returncode == 0, opened.stderr
        assert "no longer extends what this PC saw" in opened.stderr
    assert json.loads(anchor.read_text(encoding="utf-8")) == kept


def test_rewritten_trail_of_the_same_length_is_noticed(signed_lab: SignedLab) -> None:
    db = signed_lab.db
    seen_by_this_pc(db)
    # A forger rewrites the newest event (the signature's comment) and recomputes its hash
    # and the head, as anyone with the sqlite3 tool and the published algorithm can: the
    # chain in the file verifies, only this PC's memory differs.
    last = scalar(db, "SELECT MAX(id) FROM audit_event")
    row = query(db, f"SELECT * FROM audit_event WHERE id = {last}")[0]
    names = columns(db, "audit_event")
    event = AuditEvent(**{str(k): v for k, v in zip(names, row, strict=True)})
    event.occurred_at = datetime.fromisoformat(str(event.occurred_at))
    event.reason = "forged"
    forged = event_hash(event)
    signed_lab.outside(
        f"BEGIN; UPDATE audit_event SET reason = 'forged', hash = '{forged}' "
        f"WHERE id = {last}; UPDATE meta SET value = '{forged}' WHERE key = 'audit_head'; "
        "COMMIT;",
    )
    verify = run_cli(db, "db", "verify")
    assert verify.returncode == 1, verify.stdout
    found = problems_of(verify)
    assert len(found) == 1 and "rewritten outside CalTrack" in found[0], found


def test_writes_extend_the_anchor_and_a_restore_is_explained(
    signed_lab: SignedLab, clock: FixedClock, alice: Identity
) -> None:
    db = signed_lab.db

    def other_pc() -> CalTrack:
        return open_caltrack(db, identity=alice, clock=clock, state_dir=home_for(db) / "pc2")

    with open_as(db, alice, clock) as app:
        backup_file = app.maintenance.backup("before")
        add_thermometer(app, "TH-002")
    with other_pc() as app:
        assert app.problems == [] and app.notices == []
    with open_as(db, alice, clock) as app:
        # This PC's own writes extend what it saw: nothing to say.
        assert app.problems == [] and app.notices == []
        assert app.maintenance.verify().clean
        # A restore of the older backup is an audited act: the other PC says it once,
        # then follows the restored trail.
        app.maintenance.restore(backup_file)
    with open_as(db, alice, clock) as app:
        assert app.problems == [] and app.notices == []
    with other_pc() as app:
        assert app.problems == []
        assert any("restored the database from a backup" in n for n in app.notices)
        report = app.maintenance.verify()
        assert report.clean, report.problems
    with other_pc() as app:
        assert app.problems == [] and app.notices == []


def test_unreadable_anchor_is_said_and_replaced(signed_lab: SignedLab) -> None:
    db = signed_lab.db
    seen_by_this_pc(db)
    [anchor] = anchor_files(db)
    anchor.write_text("{not json", encoding="utf-8")
    verify = run_cli(db, "db", "verify")
    assert verify.returncode == 1
    assert any("cannot be read" in p for p in problems_of(verify)), verify.stdout
    seen_by_this_pc(db)


def test_reports_print_the_audit_head(signed_lab: SignedLab, tmp_path: Path) -> None:
    db = signed_lab.db
    last = scalar(db, "SELECT MAX(id) FROM audit_event")
    digest = scalar(db, f"SELECT hash FROM audit_event WHERE id = {last}")
    out = tmp_path / "due.csv"
    made = run_cli(db, "report", "due", "-o", str(out))
    assert made.returncode == 0, made.stdout + made.stderr
    assert f"#{last} {str(digest)[:12]}…" in out.read_text(encoding="utf-8")


# --- Restores that set the trail to one longer than this PC saw (both backends) ---------


def _at(minute: int) -> FixedClock:
    """A clock ``minute`` minutes after the tests' NOW: backups are named by the minute."""
    return FixedClock(NOW + timedelta(minutes=minute))


def _pc(db_url: str, pc: Path, minute: int, alice: Identity) -> CalTrack:
    return open_caltrack(db_url, identity=alice, clock=_at(minute), state_dir=pc)


def _saves(app: CalTrack, first: int, count: int) -> None:
    for n in range(first, first + count):
        add_thermometer(app, f"TH-{n:03}")


@pytest.fixture
def user_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's backups go to the user's data folder: this test's, not the home's."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


@pytest.mark.usefixtures("user_folders")
def test_a_backup_taken_after_this_pc_looked_restores_without_an_alarm(
    db_url: str, tmp_path: Path, alice: Identity
) -> None:
    pc1, pc2 = tmp_path / "pc1", tmp_path / "pc2"
    with open_caltrack(db_url, create=True, identity=alice, clock=_at(0), state_dir=pc1) as app:
        _saves(app, 1, 2)
    with _pc(db_url, pc2, 1, alice) as app:
        seen = app.anchors.head() if app.anchors else None
        assert app.problems == []
    # After this PC last looked: five saves, a backup, fifteen more, then the restore.
    with _pc(db_url, pc1, 2, alice) as app:
        _saves(app, 10, 5)
        backup = app.maintenance.backup("after-pc2")
        _saves(app, 20, 15)
    with _pc(db_url, pc1, 3, alice) as app:
        app.maintenance.restore(backup)
    with _pc(db_url, pc2, 4, alice) as app:
        assert app.problems == [], app.problems
        assert seen is not None and app.anchors is not None
        assert app.anchors.head()[0] > seen[0] + 2  # the restored trail is longer


@pytest.mark.usefixtures("user_folders")
def test_undoing_a_restore_this_pc_saw_is_no_alarm(
    db_url: str, tmp_path: Path, alice: Identity
) -> None:
    """An admin restores the wrong backup, people work on, the admin puts back the trail
    that restore replaced (its before-restore copy): the restored trail is longer than
    what the other PC saw and does not extend it, and all of it went through CalTrack."""
    pc1, pc2 = tmp_path / "pc1", tmp_path / "pc2"
    with open_caltrack(db_url, create=True, identity=alice, clock=_at(0), state_dir=pc1) as app:
        backup = app.maintenance.backup("early")
        _saves(app, 1, 6)
    with _pc(db_url, pc1, 1, alice) as app:
        replaced = app.maintenance.restore(backup)  # the wrong one
        _saves(app, 10, 2)
    with _pc(db_url, pc2, 2, alice) as app:
        assert app.problems == []
    with _pc(db_url, pc1, 3, alice) as app:
        app.maintenance.restore(replaced)  # undone: the six saves are back
    with _pc(db_url, pc2, 4, alice) as app:
        assert app.problems == [], app.problems
        assert any("restored the database from a backup" in n for n in app.notices)
        report = app.maintenance.verify()
        assert report.clean, report.problems
    with _pc(db_url, pc2, 5, alice) as app:
        assert app.problems == [] and app.notices == []


# --- A forger who writes restore events with the sqlite3 tool ----------------------------


def _event_at(db: str, event_id: int) -> AuditEvent:
    row = query(db, f"SELECT * FROM audit_event WHERE id = {event_id}")[0]
    names = columns(db, "audit_event")
    event = AuditEvent(**{str(k): v for k, v in zip(names, row, strict=True)})
    event.occurred_at = datetime.fromisoformat(str(event.occurred_at))
    return event


def _sql_text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _forged_appends(
    db: str, after: AuditEvent, actions: list[tuple[str, dict[str, object]]]
) -> str:
    """SQL appending events after ``after`` with hashes as CalTrack computes them."""
    stamp = scalar(db, f"SELECT occurred_at FROM audit_event WHERE id = {after.id}")
    statements = []
    previous = after
    for action, changes in actions:
        event = AuditEvent(
            id=previous.id + 1,
            occurred_at=previous.occurred_at,
            user="alice",
            machine="LAB-PC-3",
            entity_type="database",
            entity_id=0,
            entity_label="lab.db",
            action=action,
            changes=json.dumps(changes, sort_keys=True, separators=(",", ":")),
            reason="restored from a backup",
            prev_hash=previous.hash,
        )
        event.hash = event_hash(event)
        statements.append(
            'INSERT INTO audit_event (id, occurred_at, "user", machine, entity_type, entity_id, '
            "entity_label, action, changes, reason, prev_hash, hash) VALUES ("
            + ", ".join(
                _sql_text(v)
                for v in (
                    event.id,
                    stamp,
                    event.user,
                    event.machine,
                    event.entity_type,
                    event.entity_id,
                    event.entity_label,
                    event.action,
                    event.changes,
                    event.reason,
                    event.prev_hash,
                    event.hash,
                )
            )
            + ");"
        )
        previous = event
    statements.append(f"UPDATE meta SET value = '{previous.hash}' WHERE key = 'audit_head';")
    return " ".join(statements)


def _rewrite_last(db: str) -> tuple[AuditEvent, str]:
    """The newest event with its reason rewritten and its hash recomputed, and the SQL."""
    event = _event_at(db, int(str(scalar(db, "SELECT MAX(id) FROM audit_event"))))
    event.reason = "forged"
    event.hash = event_hash(event)
    sql = f"UPDATE audit_event SET reason = 'forged', hash = '{event.hash}' WHERE id = {event.id};"
    return event, sql


def _restore_claim(db: str, replaced: str) -> dict[str, object]:
    """What a restore event of this database records, as a forger would copy it."""
    database_id = scalar(db, "SELECT value FROM meta WHERE key = 'database_id'")
    return {
        "database_id": [database_id, database_id],
        "replaced_head": [replaced, replaced],
        "restored_from": [None, "backups/lab_weekly.db"],
        "replaced_copy": [None, "backups/lab_before-restore.db"],
    }


def test_a_forged_restore_after_a_rewrite_is_still_a_rewrite(signed_lab: SignedLab) -> None:
    db = signed_lab.db
    seen_by_this_pc(db)
    head = str(scalar(db, "SELECT value FROM meta WHERE key = 'audit_head'"))
    # The forger rewrites the newest event, adds an event and a restore that claims to
    # come from this database and to replace exactly what this PC saw.
    last, rewrite = _rewrite_last(db)
    appends = _forged_appends(
        db, last, [("update", {"note": [None, "x"]}), ("restore", _restore_claim(db, head))]
    )
    signed_lab.outside(f"BEGIN; {rewrite} {appends} COMMIT;")
    verify = run_cli(db, "db", "verify")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    found = problems_of(verify)
    assert len(found) == 1 and "rewritten outside CalTrack" in found[0], found


def test_a_restore_this_pc_saw_does_not_explain_a_later_rewrite(
    signed_lab: SignedLab, clock: FixedClock, alice: Identity
) -> None:
    db = signed_lab.db
    with open_as(db, alice, clock) as app:
        backup = app.maintenance.backup("weekly")
        add_thermometer(app, "TH-002")
        app.maintenance.restore(backup)
        add_thermometer(app, "TH-003")
    seen_by_this_pc(db)
    # After the restore this PC saw, the forger rewrites the newest event (and the head):
    # the old restore is still in the chain, at a place this PC already saw.
    _, rewrite = _rewrite_last(db)
    forged = str(scalar(db, "SELECT MAX(id) FROM audit_event"))
    signed_lab.outside(
        f"BEGIN; {rewrite} UPDATE meta SET value = (SELECT hash FROM audit_event "
        f"WHERE id = {forged}) WHERE key = 'audit_head'; COMMIT;",
    )
    verify = run_cli(db, "db", "verify")
    assert verify.returncode == 1, verify.stdout + verify.stderr
    found = problems_of(verify)
    assert len(found) == 1 and "rewritten outside CalTrack" in found[0], found
    assert "restored the database" not in verify.stdout + verify.stderr


@pytest.mark.usefixtures("user_folders")
def test_a_copy_and_its_source_go_on_without_an_alarm(
    db_url: str, tmp_path: Path, alice: Identity
) -> None:
    """A lab copies its database (`db copy`), works on the copy, and later opens the old
    one (an archive): two trails that parted, each extending what this PC saw of it."""
    pc = tmp_path / "pc"
    with open_caltrack(db_url, create=True, identity=alice, clock=_at(0), state_dir=pc) as app:
        _saves(app, 1, 2)
        copy_database(app.database, str(tmp_path / "moved.db"))
        source_id = app.maintenance.stats().database_id
    with _pc(str(tmp_path / "moved.db"), pc, 1, alice) as moved:
        assert moved.problems == []
        assert moved.maintenance.stats().database_id not in (None, source_id)
        _saves(moved, 10, 3)
    with _pc(db_url, pc, 2, alice) as app:
        assert app.problems == [], app.problems
        _saves(app, 20, 1)
    with _pc(str(tmp_path / "moved.db"), pc, 3, alice) as moved:
        assert moved.problems == [], moved.problems
        assert moved.maintenance.verify().clean
