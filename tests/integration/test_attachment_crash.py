"""kill -9 while attaching: at most an orphan file, never a row without its file."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from app.clock import FixedClock
from app.identity import Identity
from tests.conftest import add_thermometer
from tests.integration.helpers import (
    CHILD_TIMEOUT_S,
    count,
    open_lab,
    popen_python,
    run_python,
    wait_for_file,
)

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="SIGKILL is POSIX; Windows has no kill -9"
)

TAG = "TH-001"

# Copies the file into the store the way AttachmentService.add does, then dies before the
# row commits: right after the copy, or with the row flushed in an open transaction.
DIE_BEFORE_COMMIT = """
import os, signal, sys
from pathlib import Path
from app.bootstrap import open_caltrack
from app.db.models import Attachment
from app.repositories.unit_of_work import UnitOfWorkFactory

db, source, report, stage = sys.argv[1:5]
app = open_caltrack(db)
instrument_id = app.instruments.get("TH-001").id
stored = app.attachments.store.ingest(Path(source))
Path(report).write_text(stored.stored_name)
if stage == "after-copy":
    os.kill(os.getpid(), signal.SIGKILL)

def write(uow):
    uow.attachments.add(Attachment(
        instrument_id=instrument_id, original_name=Path(source).name,
        stored_name=stored.stored_name, size_bytes=stored.size_bytes, sha256=stored.sha256,
        added_at=app.clock.now_utc().replace(tzinfo=None), added_by="killer",
    ))
    uow.flush()
    os.kill(os.getpid(), signal.SIGKILL)

UnitOfWorkFactory(app.database).write(write)
sys.exit("still alive after SIGKILL")
"""

# Attaches the same file over and over; says "ready" once the first attach committed.
ATTACH_FOREVER = """
import sys
from pathlib import Path
from app.bootstrap import open_caltrack

db, source, ready = sys.argv[1:4]
with open_caltrack(db) as app:
    app.attachments.add("TH-001", Path(source))
    Path(ready).touch()
    while True:
        app.attachments.add("TH-001", Path(source))
"""


def _new_db(folder: Path, clock: FixedClock, alice: Identity) -> Path:
    folder.mkdir()
    db = folder / "lab.db"
    with open_lab(db, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app, TAG)
    return db


def _sqlite_integrity(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def _check_after_crash(db: Path, clock: FixedClock, alice: Identity) -> tuple[int, list[str]]:
    """Every row has its file with the recorded hash; returns (rows, orphan files)."""
    assert _sqlite_integrity(db) == ["ok"]
    # Read-only: the lock file still names the killed editor; verify needs no lock.
    with open_lab(db, edit=False, identity=alice, clock=clock) as app:
        report = app.maintenance.verify(deep=True)
        assert report.problems == [], report.problems
        rows = app.attachments.list(TAG)
        folder = app.attachments.store.folder
        for view in rows:
            data = (folder / view.stored_name).read_bytes()
            assert len(data) == view.size_bytes
            assert hashlib.sha256(data).hexdigest() == view.sha256
    assert report.attachments_checked == len(rows) == count(db, "attachment")
    stored_names = {v.stored_name for v in rows}
    assert not stored_names & set(report.orphan_files)
    return len(rows), report.orphan_files


@pytest.mark.parametrize("stage", ["after-copy", "row-flushed-not-committed"])
def test_kill_between_copy_and_commit_leaves_only_an_orphan(
    stage: str, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    db = _new_db(tmp_path / "lab", clock, alice)
    source = tmp_path / "certificate.pdf"
    source.write_bytes(b"%PDF-1.7\n" + os.urandom(300_000))
    name_file = tmp_path / "stored-name.txt"

    result = run_python(
        DIE_BEFORE_COMMIT, str(db), str(source), str(name_file), stage, cwd=tmp_path
    )
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr)
    stored_name = name_file.read_text()

    rows, orphans = _check_after_crash(db, clock, alice)
    assert rows == 0
    # The copy was complete and durable before the (lost) commit: a whole orphan file.
    assert orphans == [stored_name]
    folder = db.with_name("lab.db-attachments")
    assert (folder / stored_name).read_bytes() == source.read_bytes()
    # The audit trail never saw the attach either.
    with open_lab(db, edit=False, identity=alice, clock=clock) as app:
        assert [e.action for e in app.audit.recent(entity_type="attachment")] == []
        assert [e.action for e in app.audit.recent(entity_type="instrument")] == ["create"]


def test_sigkill_at_random_moments_during_attach(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    source = tmp_path / "scan.tiff"
    source.write_bytes(os.urandom(2 * 1024 * 1024 + 123_457))  # a few copy chunks
    rng = random.Random(20261123)  # reproducible "random" moments
    total_rows = 0
    for attempt in range(10):
        run = tmp_path / f"run{attempt}"
        db = _new_db(run, clock, alice)
        ready = run / "ready"
        proc = popen_python(ATTACH_FOREVER, str(db), str(source), str(ready), cwd=run)
        try:
            wait_for_file(ready, proc)
            time.sleep(rng.uniform(0.0, 0.25))
            assert proc.poll() is None, proc.communicate()
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=CHILD_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL

        rows, orphans = _check_after_crash(db, clock, alice)
        assert rows >= 1  # "ready" means one attach had committed before the kill
        # At most the one attach in flight can have left a file behind.
        assert len(orphans) <= 1, orphans
        total_rows += rows
        shutil.rmtree(run)  # a few MB per run: keep the temp folder small
    assert total_rows >= 10
