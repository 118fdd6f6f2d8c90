"""A cut audit trail is found: in the file (head row) and against what this PC saw before.

Tampering is done with the real tools (sqlite3 on a file, psql on a server database),
CalTrack runs as separate processes with their own user state folder, as on a lab PC.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.models import AuditEvent
from app.identity import Identity
from app.services.audit import event_hash
from tests.conftest import add_thermometer, is_server, state_for
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
