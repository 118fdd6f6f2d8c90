"""``db copy``: a lab moved from a file to this run's PostgreSQL server and back.

Real processes, the real private server (tests/pg_server.py), real files: the round
trip keeps every row, the audit head and the signatures; a non-empty target, a source
at an older schema and an unreachable server are refused with one clear line; a copy
killed with SIGKILL part-way leaves the target empty, and the same command then works.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db import copying
from app.db.engine import database_url
from app.db.migrate import downgrade
from app.errors import StorageError
from app.identity import Identity
from app.services.copying import copy_database
from app.services.dto import InstrumentChanges, TypeFieldInput, TypeInput, TypePointInput
from app.services.editing import EditingOptions
from tests.conftest import add_thermometer
from tests.integration.helpers import (
    CHILD_TIMEOUT_S,
    assert_one_error_line,
    child_env,
    fingerprint,
    open_lab,
    popen_python,
    scalar,
    wait_for_file,
)
from tests.pg_server import PgServer

PASSWORD = "correct horse battery"


def _lab(db: Path, clock: FixedClock, alice: Identity, *, attachment: bool = False) -> int:
    """A lab with demo data, a signed calibration (and a file); the signed record's id."""
    with open_lab(db, create=True, identity=alice, clock=clock) as app:
        app.demo.generate(30, seed=3)
        tag = app.instruments.list().rows[0].asset_tag
        record = app.calibrations.history(tag)[0]
        app.accounts.set_display_name("Alice A. Admin")
        app.accounts.set_signing_password(PASSWORD)
        app.signatures.sign_record(record.id, meaning="approved", password=PASSWORD)
        # An instrument type with its plan and custom fields, assigned (revision 0011).
        app.types.add(
            TypeInput(
                name="Copied type",
                points=(TypePointInput(20, "±0.5", "°C"), TypePointInput(50, "-0.1/+0.2", "°C")),
                fields=(TypeFieldInput("Probe", "text", True),),
            )
        )
        app.instruments.edit(
            tag, InstrumentChanges(), type_name="Copied type", custom={"Probe": "A"}
        )
        if attachment:
            cert = db.parent / "certificate.pdf"
            cert.write_bytes(b"%PDF-1.4 certificate " * 5000)
            app.attachments.add(tag, cert)
        return record.id


def _counts(target: str) -> dict[str, int]:
    engine = create_engine(database_url(target))
    try:
        with engine.connect() as conn:
            return copying.row_counts(conn)
    finally:
        engine.dispose()


def _head(target: str) -> str:
    engine = create_engine(database_url(target))
    try:
        with engine.connect() as conn:
            return str(
                conn.execute(text("SELECT hash FROM audit_event ORDER BY id DESC LIMIT 1")).one()[0]
            )
    finally:
        engine.dispose()


def run_cli(
    db: Path | str, *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m app --db DB ARGS...`` in its own process; DB a file or a server URL.

    A URL has no folder: the caller names the test's own (its logs and per-PC state go
    there, never into the folder the tests were started from).
    """
    work = cwd or (db.parent if isinstance(db, Path) else None)
    if work is None:
        raise ValueError(f"run_cli({db!r}): give cwd, a folder of the test's own")
    return subprocess.run(
        [sys.executable, "-m", "app", "--db", str(db), *args],
        cwd=work,
        env=child_env(work),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def _open(target: str, state: Path, clock: FixedClock, alice: Identity, *, edit: bool) -> CalTrack:
    return open_caltrack(
        target, identity=alice, clock=clock, editing=EditingOptions(edit=edit), state_dir=state
    )


def _signature_intact(
    target: str, record_id: int, state: Path, clock: FixedClock, alice: Identity
) -> bool:
    with _open(target, state, clock, alice, edit=False) as app:
        [sig] = app.signatures.for_record(record_id)
        return sig.intact and sig.meaning == "approved"


def test_a_lab_goes_to_the_server_and_back_unchanged(
    tmp_path: Path, pg_url: str, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    signed = _lab(lab, clock, alice)
    head = _head(str(lab))

    there = _ok(run_cli(lab, "db", "copy", "--to", pg_url))
    assert "verified" in there and "clean" in there
    back = tmp_path / "archive.db"
    _ok(run_cli(pg_url, "db", "copy", "--to", str(back), cwd=tmp_path))

    source_counts = _counts(str(lab))
    # The meta rows about the source *file* (lock epoch, names it had) stay behind.
    for counts in (_counts(pg_url), _counts(str(back))):
        assert {k: v for k, v in counts.items() if k != "meta"} == {
            k: v for k, v in source_counts.items() if k != "meta"
        }
        assert counts["audit_event"] > 30 and counts["signature"] == 1
    assert _head(pg_url) == _head(str(back)) == head
    for target in (pg_url, str(back)):
        verified = run_cli(target, "db", "verify", "--deep", cwd=tmp_path)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert _signature_intact(target, signed, tmp_path / "state", clock, alice)
    # New rows on the server get new ids (the sequences were moved past the copied ids).
    with _open(pg_url, tmp_path / "state", clock, alice, edit=True) as app:
        before = app.instruments.list().total
        add_thermometer(app, "NEW-1")
        assert app.instruments.list().total == before + 1
        assert app.types.get("copied type").instruments == 1
        added = app.types.add(TypeInput(name="New type", points=(TypePointInput(1, "±0.1"),)))
        assert added.id == 2
    _ok(run_cli(pg_url, "db", "verify", cwd=tmp_path))


def test_attachments_are_copied_between_files_with_their_hashes(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    _lab(lab, clock, alice, attachment=True)
    copy = tmp_path / "moved" / "lab.db"
    copy.parent.mkdir()
    out = _ok(run_cli(lab, "db", "copy", "--to", str(copy)))
    assert "1 attachment file(s) copied" in out
    [stored] = list((tmp_path / "lab.db-attachments").iterdir())
    moved = copy.parent / "lab.db-attachments" / stored.name
    assert moved.read_bytes() == stored.read_bytes()
    verified = run_cli(copy, "db", "verify", "--deep")
    assert verified.returncode == 0 and "1 attachments with hashes" in verified.stdout


def test_attachments_go_to_a_server_and_back_byte_for_byte(
    tmp_path: Path, pg_server: PgServer, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    _lab(lab, clock, alice, attachment=True)
    with open_lab(lab, identity=alice, clock=clock) as app:
        tag = app.instruments.list().rows[1].asset_tag
        scan = tmp_path / "scan.tif"
        scan.write_bytes(os.urandom(2 * 1024 * 1024 + 123))  # three chunks on a server
        app.attachments.add(tag, scan)
        app.attachments.add(tag, scan)  # the same content twice: one blob on a server
    server = pg_server.new_database()
    try:
        assert "3 attachment file(s) copied" in _ok(run_cli(lab, "db", "copy", "--to", server))
        counts = _counts(server)
        assert (counts["attachment"], counts["attachment_blob"], counts["attachment_chunk"]) == (
            3,
            2,
            1 + 3,
        )
        assert run_cli(server, "db", "verify", "--deep", cwd=tmp_path).returncode == 0
        # Server to server: the content tables go across as rows.
        again = pg_server.new_database()
        try:
            _ok(run_cli(server, "db", "copy", "--to", again, cwd=tmp_path))
            assert _counts(again) == counts
            # And back to a file: every stored file byte for byte under its stored name.
            back = tmp_path / "back" / "lab.db"
            back.parent.mkdir()
            out = _ok(run_cli(again, "db", "copy", "--to", str(back), cwd=tmp_path))
            assert "3 attachment file(s) copied" in out
        finally:
            pg_server.drop_database(again)
    finally:
        pg_server.drop_database(server)
    originals = sorted((tmp_path / "lab.db-attachments").iterdir())
    assert len(originals) == 3
    for stored in originals:
        assert (back.parent / "lab.db-attachments" / stored.name).read_bytes() == (
            stored.read_bytes()
        )
    verified = run_cli(back, "db", "verify", "--deep")
    assert verified.returncode == 0 and "3 attachments with hashes" in verified.stdout


def _counts_or_none(url: str) -> dict[str, int] | None:
    """Row counts, or None when the database has no CalTrack tables at all."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar_one()
            return copying.row_counts(conn) if tables else None
    finally:
        engine.dispose()


def test_a_target_with_data_is_refused_and_left_as_it_was(
    tmp_path: Path, pg_url: str, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    _lab(lab, clock, alice)
    # A server database someone already started, and a file that is another lab.
    other = tmp_path / "other.db"
    with open_lab(other, create=True, identity=alice, clock=clock) as app:
        app.demo.generate(3, seed=9)
    _ok(run_cli(other, "db", "copy", "--to", pg_url))
    server_before = _counts(pg_url)
    other_before = fingerprint(other)
    for target in (pg_url, str(other)):
        line = assert_one_error_line(run_cli(lab, "db", "copy", "--to", target), 2)
        assert "not empty: copy into a new, empty database" in line
    assert _counts(pg_url) == server_before
    assert fingerprint(other) == other_before


def test_a_source_at_an_older_schema_is_refused_and_not_upgraded(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    with open_lab(lab, create=True, identity=alice, clock=clock) as app:
        app.demo.generate(3, seed=1)
    engine = create_engine(database_url(str(lab)))
    try:
        downgrade(engine, database_url(str(lab)), "0003")
    finally:
        engine.dispose()
    target = tmp_path / "copy.db"
    line = assert_one_error_line(run_cli(lab, "db", "copy", "--to", str(target)), 2)
    assert "older schema (0003" in line and "init" in line
    assert scalar(lab, "SELECT version_num FROM alembic_version") == "0003"
    assert not target.exists()


def test_an_unreachable_server_or_a_missing_database_is_one_clear_line(
    tmp_path: Path, pg_server: PgServer, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    _lab(lab, clock, alice)
    for target in (
        pg_server.url("no_such_database"),
        f"postgresql+psycopg://nobody@/lab?host={tmp_path / 'no-server-here'}",
    ):
        line = assert_one_error_line(run_cli(lab, "db", "copy", "--to", target), 2)
        assert line.startswith("caltrack: cannot connect to postgresql+psycopg://"), line
        assert "nothing was copied" in line


# The child copies and, once part of the calibrations are in the target's transaction,
# says so and waits to be killed.
KILLED_COPY = """
import sys, time
from pathlib import Path
from app.bootstrap import open_caltrack
from app.services.copying import copy_database
from app.services.editing import EditingOptions

source, target, marker = sys.argv[1:4]

def progress(what, done, total):
    if what == "measurement_point" and done > 0:
        Path(marker).write_text("mid-way")
        time.sleep(600)

with open_caltrack(source, editing=EditingOptions(edit=False),
                   state_dir=Path(source).parent / "state") as app:
    copy_database(app.database, target, progress=progress)
print("finished without being killed")
"""


@pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL of a child process")
@pytest.mark.parametrize("backend", ["server", "file"])
def test_a_copy_killed_mid_way_leaves_an_empty_target_and_runs_again(
    tmp_path: Path, backend: str, pg_server: PgServer, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    signed = _lab(lab, clock, alice, attachment=backend == "file")
    target = pg_server.new_database() if backend == "server" else str(tmp_path / "copy.db")
    marker = tmp_path / "mid-way"
    child = popen_python(KILLED_COPY, str(lab), target, str(marker), cwd=tmp_path)
    try:
        wait_for_file(marker, child)
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL

    if backend == "server":
        assert _counts_or_none(target) is None  # the schema went with the rows
    else:
        # Opened for writing, as the next run does: SQLite rolls the killed copy back.
        conn = sqlite3.connect(target)
        try:
            assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        finally:
            conn.close()
    again = _ok(run_cli(lab, "db", "copy", "--to", target))
    assert "verified" in again
    assert _head(target) == _head(str(lab))
    assert _signature_intact(target, signed, tmp_path / "state", clock, alice)


def test_a_copy_that_does_not_verify_says_so_and_fails(
    tmp_path: Path, pg_url: str, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    _lab(lab, clock, alice)
    # Changed outside CalTrack: copied as it is (the evidence goes along), and refused.
    conn = sqlite3.connect(lab)
    try:
        conn.execute("UPDATE instrument SET description = 'forged' WHERE id = 1")
        conn.commit()
    finally:
        conn.close()
    result = run_cli(lab, "db", "copy", "--to", pg_url)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "PROBLEM: instrument" in result.stdout and "description" in result.stdout
    assert "does not verify" in result.stderr and "Traceback" not in result.stderr


def test_a_server_that_drops_the_copy_mid_way_is_exit_6_and_keeps_nothing(
    tmp_path: Path, pg_server: PgServer, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    _lab(lab, clock, alice)
    target = pg_server.new_database()
    name = make_url(target).database

    def drop_the_connection(what: str, done: int, _total: int) -> None:
        if what == "measurement_point" and done > 0:
            ended = pg_server.psql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
            assert ended.strip() == "1", ended

    with _open(str(lab), tmp_path / "state", clock, alice, edit=False) as app:
        with pytest.raises(StorageError) as failed:
            copy_database(app.database, target, progress=drop_the_connection)
        assert failed.value.exit_code == 6
        assert "failed while copying oot_case" in str(failed.value)  # the next table
        assert "nothing was kept there" in str(failed.value)
        assert _counts_or_none(target) is None
        result = copy_database(app.database, target)
    assert result.audit_head == _head(target) == _head(str(lab))


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX pseudo-terminal")
def test_a_copy_on_a_terminal_shows_each_table_and_the_verifying(
    tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    lab = tmp_path / "lab.db"
    _lab(lab, clock, alice)
    master, slave = os.openpty()
    shown: list[bytes] = []

    def read_terminal() -> None:
        # Read while the child writes: a full pseudo-terminal would block it.
        with contextlib.suppress(OSError):  # EIO once the child's side is closed
            while chunk := os.read(master, 4096):
                shown.append(chunk)

    reader = threading.Thread(target=read_terminal)
    reader.start()
    try:
        copied = subprocess.run(
            [sys.executable, "-m", "app", "--db", str(lab), "db", "copy", "--to", "copy.db"],
            cwd=tmp_path,
            env=child_env(tmp_path),
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=CHILD_TIMEOUT_S)
        os.close(master)
    terminal = b"".join(shown).decode()
    assert copied.returncode == 0, (copied.stdout, terminal)
    assert "verified" in copied.stdout
    assert "copying instrument: 30/30" in terminal
    # The check of the target takes minutes on a big lab: it says so meanwhile.
    assert "verifying the copy (as db verify --deep)" in terminal
