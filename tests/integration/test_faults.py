"""Faults a shared folder meets, on real files with real processes.

Read-only access (as another OS user), a full disk (a small tmpfs), the database file
renamed away under a running session, and an upgrade in progress in another process.
Each test checks what the user is told and that nothing committed is lost.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.bootstrap import MIGRATION_WAIT_S, CalTrack, migrating_marker, open_caltrack
from app.clock import Clock, FixedClock
from app.db.engine import EngineOptions, JournalChoice, sqlite_header_mode
from app.db.migrate import SchemaStatus
from app.errors import CalTrackError, StorageError
from app.identity import Identity
from app.locking.holder import HolderInfo, read_holder, write_holder
from app.services.dto import CalibrationInput
from app.services.editing import EditingOptions
from tests.conftest import NOW, add_thermometer
from tests.integration.helpers import (
    CHILD_TIMEOUT_S,
    assert_one_error_line,
    child_env,
    cli_command,
    count,
    fingerprint,
    popen_python,
    query,
    run_cli,
    side_by_side,
    wait_for_file,
)
from tests.integration.process_helpers import (
    NOBODY,
    OtherUser,
    free_bytes,
    other_user,
    shared_folder,
    small_tmpfs,
)

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="uses Linux permissions, tmpfs mounts and signals"
)

TAG = "TH-001"
CERT_NUMBER = "CERT-2026-117"


def make_lab(
    db: Path, clock: Clock, identity: Identity, state: Path, *, journal: JournalChoice = "auto"
) -> None:
    """A database with one instrument, one calibration and one attached certificate."""
    source = state / "certificate.pdf"
    state.mkdir(parents=True, exist_ok=True)
    source.write_bytes(b"%PDF-1.7 calibration certificate\n" + bytes(range(256)) * 40)
    with open_caltrack(
        str(db),
        create=True,
        options=EngineOptions(journal=journal),
        identity=identity,
        clock=clock,
        state_dir=state,
    ) as app:
        add_thermometer(app, TAG)
        record = app.calibrations.add(
            TAG,
            CalibrationInput(
                performed_on="2026-11-20", result="pass", certificate_number=CERT_NUMBER
            ),
        )
        app.attachments.add(TAG, source, record_id=record.id)


def integrity(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


# -- 1. read-only access --------------------------------------------------------------

# Run as the other user: open in-process, read, then try every kind of write.
READ_ONLY_USER = r"""
import json, sys
from pathlib import Path
from app.bootstrap import open_caltrack
from app.errors import CalTrackError
from app.services.dto import CalibrationInput, InstrumentChanges, InstrumentInput

db, certificate = sys.argv[1:3]
with open_caltrack(db) as app:
    record = app.calibrations.history("TH-001")[0]
    seen = {
        "editing": app.session.editing,
        "reason": app.session.read_only_reason,
        "tags": [row.asset_tag for row in app.instruments.list().rows],
        "certificates": [c.certificate_number for c in app.calibrations.history("TH-001")],
        "attachments": [a.original_name for a in app.attachments.list("TH-001")],
    }
    attempts = {
        "add instrument": lambda: app.instruments.add(
            InstrumentInput(asset_tag="NEW-1", description="x")
        ),
        "edit instrument": lambda: app.instruments.edit(
            "TH-001", InstrumentChanges(location="Lab 9")
        ),
        "record calibration": lambda: app.calibrations.add(
            "TH-001", CalibrationInput(performed_on="2026-11-21", result="pass")
        ),
        "void calibration": lambda: app.calibrations.void(record.id, "entered twice"),
        "attach file": lambda: app.attachments.add("TH-001", Path(certificate)),
        "demo data": lambda: app.demo.generate(1),
    }
    errors = {}
    for name, attempt in attempts.items():
        try:
            attempt()
        except CalTrackError as exc:
            errors[name] = [type(exc).__name__, exc.exit_code, str(exc)]
        else:
            errors[name] = None
    seen["errors"] = errors
print(json.dumps(seen))
"""


def _as_reader(user: OtherUser, db: Path) -> list[subprocess.CompletedProcess[str]]:
    """The other user's in-process session, a CLI listing and a CLI write, side by side."""
    certificate = user.home / "new-certificate.pdf"
    certificate.write_bytes(b"%PDF-1.7 another certificate")
    certificate.chmod(0o644)
    jobs: list[list[str]] = [
        [sys.executable, "-c", READ_ONLY_USER, str(db), str(certificate)],
        [sys.executable, "-m", "app", "--db", str(db), "instruments", "list", "--json"],
        [
            *(sys.executable, "-m", "app", "--db", str(db)),
            *("calibrations", "add", TAG, "--performed-on", "2026-11-21", "--result", "pass"),
        ],
    ]
    return side_by_side(user.run, jobs)


@pytest.mark.parametrize("case", ["read-only folder", "read-only file"])
def test_read_only_access_shows_the_data_and_refuses_every_write(
    case: str, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    """A user without write access reads everything; each write says why and what to do.

    The read-only folder case uses the rollback journal, as every database on a network
    share does (a WAL database in a read-only folder: see the xfail test below).
    """
    journal: JournalChoice = "delete" if case == "read-only folder" else "auto"
    with shared_folder(0o755) as folder, other_user() as nobody:
        db = folder / "lab.db"
        make_lab(db, clock, alice, tmp_path / "state", journal=journal)
        if case == "read-only folder":
            db.chmod(0o666)  # the file could be written: only the folder stops SQLite
            expected = f"the folder {folder} is read-only for you"
        else:
            folder.chmod(0o777)
            db.chmod(0o644)
            expected = f"the database file {db} is read-only for you"
        before = fingerprint(db)
        content = sha256(db)
        files = listing(folder)
        attached = listing(db.with_name("lab.db-attachments"))

        session, listed, cli_write = _as_reader(nobody, db)

        assert session.returncode == 0, session.stderr
        seen = json.loads(session.stdout)
        assert seen["editing"] is False
        assert expected in seen["reason"]
        assert seen["tags"] == [TAG]
        assert seen["certificates"] == [CERT_NUMBER]
        assert seen["attachments"] == ["certificate.pdf"]
        for name, error in seen["errors"].items():
            assert error is not None, f"{name} was allowed for a read-only user"
            kind, code, message = error
            assert (kind, code) == ("ReadOnlyError", 5), (name, error)
            assert expected in message and "ask an admin for write access" in message

        assert (listed.returncode, listed.stderr) == (0, "")
        assert [r["asset_tag"] for r in json.loads(listed.stdout)["instruments"]] == [TAG]
        line = assert_one_error_line(cli_write, 5)
        assert expected in line and "ask an admin" in line

        # Nothing lost, nothing changed, nothing half-stored.
        assert fingerprint(db) == before
        assert sha256(db) == content
        assert listing(db.with_name("lab.db-attachments")) == attached
        if case == "read-only folder":
            assert listing(folder) == files
        assert integrity(db) == ["ok"]


def test_wal_database_in_a_read_only_folder_can_still_be_read(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    with shared_folder(0o755) as folder, other_user() as nobody:
        db = folder / "lab.db"
        make_lab(db, clock, alice, tmp_path / "state")  # local disk: WAL
        assert sqlite_header_mode(db) == "wal"
        db.chmod(0o666)
        listed = nobody.cli(db, "instruments", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [r["asset_tag"] for r in json.loads(listed.stdout)["instruments"]] == [TAG]


def test_a_reader_without_write_access_does_not_lock_out_the_owner(
    tmp_path: Path, clock: FixedClock
) -> None:
    with (
        shared_folder(0o777) as folder,
        other_user(NOBODY, "nobody") as owner,
        other_user(4242, "reader") as reader,
    ):
        db = folder / "lab.db"
        make_lab(db, clock, Identity("nobody", "LAB-PC-1"), tmp_path / "state")
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, NOBODY, NOBODY)
        db.chmod(0o644)  # the owner may write it; the reader may not
        listed = reader.cli(db, "instruments", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        added = owner.cli(db, "instruments", "add", "--asset-tag", "TH-002", "--description", "x")
        assert added.returncode == 0, (added.stderr, listing(folder))
        assert count(db, "instrument") == 2


# -- 2. a full disk --------------------------------------------------------------------


@dataclass
class FullDisk:
    """What happened on a 4 MB disk, recorded before it was unmounted."""

    committed: tuple[int, int, int, int, str | None]
    files: list[str]
    demo: subprocess.CompletedProcess[str]
    after_demo: tuple[int, int, int, int, str | None]
    integrity_after_demo: list[str]
    files_after_demo: list[str]
    next_write: subprocess.CompletedProcess[str]
    committed_2: tuple[int, int, int, int, str | None]
    attach: subprocess.CompletedProcess[str]
    after_attach: tuple[int, int, int, int, str | None]
    files_after_attach: list[str]
    commit_error: BaseException | None
    files_after_commit_error: list[str]
    rows_after_commit_error: int
    saved_after_space_freed: bool
    final: tuple[int, int, int, int, str | None]
    final_integrity: list[str]
    verify_problems: list[str]
    attachments_checked: int
    rows_with_files: list[bool]


def _attach_with_room_for_the_file_only(app: CalTrack, disk: Path, source: Path) -> None:
    """Fill the disk (another program's file) so that the file fits but its row does not."""
    page = os.statvfs(disk).f_frsize
    room = -(-source.stat().st_size // page) * page
    filler = disk / "someone-elses-big-file.bin"
    with filler.open("wb") as handle:
        handle.write(b"\0" * (free_bytes(disk) - room))
    try:
        app.attachments.add(TAG, source)
    finally:
        filler.unlink()


@pytest.fixture(scope="module")
def full_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullDisk]:
    home = tmp_path_factory.mktemp("full-disk-home")
    disk = tmp_path_factory.mktemp("full-disk")
    clock = FixedClock(NOW)
    me = Identity("alice", "LAB-PC-3")
    big = home / "scan-5mb.tiff"
    big.write_bytes(os.urandom(5 * 1024 * 1024))
    medium = home / "scan-200k.tiff"
    medium.write_bytes(os.urandom(200_000))
    with small_tmpfs(disk, "4m"):
        db = disk / "lab.db"
        store = db.with_name("lab.db-attachments")
        make_lab(db, clock, me, home / "state")
        committed, files = fingerprint(db), listing(store)

        demo = run_cli(db, "demo", "--instruments", "2000", cwd=home)
        after_demo, integrity_after_demo = fingerprint(db), integrity(db)
        files_after_demo = listing(store)
        next_write = run_cli(
            db, "instruments", "add", "--asset-tag", "TH-003", "--description", "x", cwd=home
        )
        committed_2 = fingerprint(db)

        attach = run_cli(db, "attachments", "add", TAG, str(big), cwd=home)
        after_attach, files_after_attach = fingerprint(db), listing(store)

        commit_error: BaseException | None = None
        with open_caltrack(str(db), identity=me, clock=clock, state_dir=home / "state") as app:
            try:
                _attach_with_room_for_the_file_only(app, disk, medium)
            except CalTrackError as exc:
                commit_error = exc
            files_after_commit_error = listing(store)
            rows_after_commit_error = len(app.attachments.list(TAG))
            add_thermometer(app, "TH-002")  # the space is free again: the session goes on
            saved = app.instruments.get("TH-002").asset_tag == "TH-002"
            report = app.maintenance.verify(deep=True)
            rows_with_files = [(store / a.stored_name).is_file() for a in app.attachments.list(TAG)]
        final, final_integrity = fingerprint(db), integrity(db)
    yield FullDisk(
        committed=committed,
        files=files,
        demo=demo,
        after_demo=after_demo,
        integrity_after_demo=integrity_after_demo,
        files_after_demo=files_after_demo,
        next_write=next_write,
        committed_2=committed_2,
        attach=attach,
        after_attach=after_attach,
        files_after_attach=files_after_attach,
        commit_error=commit_error,
        files_after_commit_error=files_after_commit_error,
        rows_after_commit_error=rows_after_commit_error,
        saved_after_space_freed=saved,
        final=final,
        final_integrity=final_integrity,
        verify_problems=report.problems,
        attachments_checked=report.attachments_checked,
        rows_with_files=rows_with_files,
    )


def test_full_disk_during_a_big_write_says_so_and_loses_nothing(full_disk: FullDisk) -> None:
    line = assert_one_error_line(full_disk.demo, 6)
    assert "disk" in line and "full" in line and "nothing was saved" in line
    assert full_disk.integrity_after_demo == ["ok"]
    assert full_disk.after_demo == full_disk.committed
    assert full_disk.files_after_demo == full_disk.files
    # Once the failed transaction is gone, the next session writes normally.
    assert full_disk.next_write.returncode == 0, full_disk.next_write.stderr
    assert full_disk.committed_2[0] == full_disk.committed[0] + 1


def test_full_disk_while_storing_an_attachment_leaves_no_trace(full_disk: FullDisk) -> None:
    # The file does not fit: refused while copying (exit 2 today; 6 would fit better).
    assert full_disk.attach.returncode in (2, 6)
    line = assert_one_error_line(full_disk.attach, full_disk.attach.returncode)
    assert "No space left on device" in line or "full" in line
    assert "nothing was attached" in line or "nothing was saved" in line
    assert full_disk.after_attach == full_disk.committed_2
    assert full_disk.files_after_attach == full_disk.files  # no temp file left behind


def test_full_disk_at_commit_discards_the_stored_file(full_disk: FullDisk) -> None:
    # The file fitted, its row did not: the file is removed again, no row without a file.
    assert isinstance(full_disk.commit_error, StorageError), full_disk.commit_error
    assert full_disk.commit_error.exit_code == 6
    assert "full" in str(full_disk.commit_error)
    assert full_disk.files_after_commit_error == full_disk.files
    assert full_disk.rows_after_commit_error == 1
    assert full_disk.saved_after_space_freed
    assert full_disk.final_integrity == ["ok"]
    assert full_disk.final[0] == full_disk.committed_2[0] + 1
    assert full_disk.final[2] == full_disk.committed[2] == 1  # attachments: the first one only
    assert full_disk.verify_problems == []
    assert full_disk.attachments_checked == 1
    assert full_disk.rows_with_files == [True]


def test_full_disk_failure_is_not_reported_as_an_unclean_end(full_disk: FullDisk) -> None:
    assert full_disk.demo.returncode == 6
    assert "ended without closing" not in full_disk.next_write.stderr


def test_error_is_one_line_when_the_log_folder_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "profile-is-a-file"
    blocker.write_text("not a folder")
    env = child_env(tmp_path)
    env["XDG_STATE_HOME"] = str(blocker / "state")  # logs and run markers cannot go there
    missing = tmp_path / "missing.db"
    result = subprocess.run(
        cli_command(missing, "instruments", "list"),
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    line = assert_one_error_line(result, 2)
    assert "no CalTrack database" in line


# -- 3. the database file renamed away under a running session -------------------------

RENAMED_WAL_BUG = (
    "BUG: in WAL mode a write after the file was renamed away is accepted (it goes to "
    "lab.db-wal at the old name) and, on close, SQLite does not checkpoint a moved "
    "database: the renamed file lacks rows committed before and after the rename"
)


def _open_and_fill(db: Path, journal: JournalChoice, clock: Clock, alice: Identity) -> CalTrack:
    app = open_caltrack(
        str(db),
        create=True,
        options=EngineOptions(journal=journal),
        identity=alice,
        clock=clock,
        state_dir=db.parent / "state",
    )
    add_thermometer(app, TAG)
    app.calibrations.add(
        TAG,
        CalibrationInput(performed_on="2026-11-20", result="pass", certificate_number=CERT_NUMBER),
    )
    return app


@pytest.mark.parametrize(
    "journal",
    ["delete", "wal"],
)
def test_database_renamed_away_refuses_the_next_write_and_keeps_every_commit(
    journal: JournalChoice, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    db = tmp_path / "lab.db"
    renamed = tmp_path / "lab (old).db"
    app = _open_and_fill(db, journal, clock, alice)
    refused: CalTrackError | None = None
    try:
        os.rename(db, renamed)  # someone renames it in the file manager
        try:
            add_thermometer(app, "TH-002")
        except CalTrackError as exc:
            refused = exc
    finally:
        app.close()
    assert not db.exists(), "a fresh database appeared at the old path"
    # Everything committed before the rename is in the renamed file, and nothing after.
    assert integrity(renamed) == ["ok"]
    assert query(renamed, "SELECT asset_tag FROM instrument") == [(TAG,)]
    assert query(renamed, "SELECT certificate_number FROM calibration_record") == [(CERT_NUMBER,)]
    assert refused is not None, "the write after the rename was accepted"
    assert refused.exit_code in (5, 6)
    assert "nothing was saved" in str(refused)
    # The old path is not silently turned into a new, empty database.
    listed = run_cli(db, "instruments", "list")
    line = assert_one_error_line(listed, 2)
    assert "no CalTrack database" in line and str(db) in line
    assert not db.exists()


def test_renamed_database_error_says_the_file_moved(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    db = tmp_path / "lab.db"
    app = _open_and_fill(db, "delete", clock, alice)
    try:
        os.rename(db, tmp_path / "renamed.db")
        with pytest.raises(CalTrackError) as refused:
            add_thermometer(app, "TH-002")
    finally:
        app.close()
    message = str(refused.value)
    assert "moved" in message or "renamed" in message, message


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_renamed_database_is_not_recreated_by_a_new_connection(
    journal: JournalChoice, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    db = tmp_path / "lab.db"
    renamed = tmp_path / "renamed.db"
    app = _open_and_fill(db, journal, clock, alice)
    error: BaseException | None = None
    try:
        os.rename(db, renamed)
        # A worker of this window is reading: the next task needs a new connection.
        with app.database.engine.connect():
            try:
                app.instruments.list()
            except Exception as exc:  # noqa: BLE001 - what is raised is what we check
                error = exc
    finally:
        app.close()
    assert not db.exists(), f"a fresh {db.stat().st_size}-byte file appeared at {db}"
    assert isinstance(error, StorageError), repr(error)
    assert query(renamed, "SELECT asset_tag FROM instrument") == [(TAG,)]


# -- 4. migrations under the editor lock -------------------------------------------------

# Holds the editor lock of a database it is "upgrading" and writes the .migrating marker.
UPGRADER = r"""
import sys, time
from pathlib import Path
from app.identity import Identity
from app.locking.editor_lock import EditorLock
from app.locking.holder import write_holder

db, ready = Path(sys.argv[1]), Path(sys.argv[2])
lock = EditorLock(db, Identity("ursula", "UPGRADE-PC"), heartbeat_s=0.2)
lock.acquire()
write_holder(db.with_name(db.name + ".migrating"), lock.info)
ready.touch()
time.sleep(600)
"""


@dataclass
class UpgradeRun:
    db: Path
    init: subprocess.CompletedProcess[str]
    init_s: float
    listing: subprocess.CompletedProcess[str]
    marker: HolderInfo | None
    size_after: int


@pytest.fixture(scope="module")
def upgrade_in_progress(tmp_path_factory: pytest.TempPathFactory) -> UpgradeRun:
    """``init`` and ``instruments list`` while another process upgrades an empty file."""
    folder = tmp_path_factory.mktemp("upgrading")
    db = folder / "lab.db"
    db.touch()  # a database that needs the initial migration
    proc = popen_python(UPGRADER, str(db), str(folder / "ready"), cwd=folder)
    try:
        wait_for_file(folder / "ready", proc)

        def timed(args: tuple[str, ...]) -> tuple[subprocess.CompletedProcess[str], float]:
            start = time.monotonic()
            result = run_cli(db, *args)
            return result, time.monotonic() - start

        (init, init_s), (listed, _) = side_by_side(timed, [("init",), ("instruments", "list")])
        marker = read_holder(migrating_marker(db))
        size_after = db.stat().st_size
    finally:
        proc.kill()
        proc.communicate()
    return UpgradeRun(db, init, init_s, listed, marker, size_after)


def test_opening_during_another_upgrade_fails_naming_the_upgrader(
    upgrade_in_progress: UpgradeRun,
) -> None:
    run = upgrade_in_progress
    line = assert_one_error_line(run.init, 4)
    assert "ursula on UPGRADE-PC" in line
    assert run.init_s >= MIGRATION_WAIT_S  # it gave the upgrade time to finish first
    assert run.size_after == 0, "something was written under the upgrading session"
    # The marker belongs to the upgrader: a waiting opener must not remove it.
    assert run.marker is not None and (run.marker.user, run.marker.machine) == (
        "ursula",
        "UPGRADE-PC",
    )
    assert run.listing.returncode != 0
    assert "Traceback" not in run.listing.stderr


def test_opening_during_another_upgrade_says_it_is_being_upgraded(
    upgrade_in_progress: UpgradeRun,
) -> None:
    for result in (upgrade_in_progress.init, upgrade_in_progress.listing):
        line = result.stderr.strip().splitlines()[-1]
        assert "upgrad" in line and "ursula" in line, line


def _stale_marker(db: Path) -> Path:
    marker = migrating_marker(db)
    write_holder(
        marker,
        HolderInfo(
            user="ursula",
            machine="UPGRADE-PC",
            pid=dead_pid(),
            session_id="crashed-upgrade",
            app_version="0.1.0",
            since="2026-11-23T08:00:00+00:00",
        ),
    )
    return marker


def test_stale_marker_with_the_lock_free_is_upgraded_and_removed(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    db = tmp_path / "lab.db"
    db.touch()
    marker = _stale_marker(db)
    with open_caltrack(
        str(db),
        create=True,
        identity=alice,
        clock=clock,
        editing=EditingOptions(),
        state_dir=tmp_path / "state",
    ) as app:
        assert app.schema.status is SchemaStatus.CURRENT
        assert app.session.editing
        add_thermometer(app, TAG)
    assert not marker.exists()
    assert count(db, "instrument") == 1
    assert integrity(db) == ["ok"]


def test_stale_marker_beside_a_current_database_is_removed(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    db = tmp_path / "lab.db"
    make_lab(db, clock, alice, tmp_path / "state")
    marker = _stale_marker(db)
    with open_caltrack(str(db), identity=alice, clock=clock, state_dir=tmp_path / "state") as app:
        assert app.session.editing
    assert not marker.exists()
