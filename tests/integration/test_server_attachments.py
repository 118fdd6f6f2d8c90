"""Attachments on a server database: content in ``attachment_chunk``, never a folder.

Everything runs on this run's private PostgreSQL server (``pg_url``): the service, the
CLI in its own processes, ``psql`` to damage a chunk the way someone with database access
could, and ``kill -9`` of a client in the middle of an upload.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import make_url

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import UsageError
from app.identity import Identity
from app.storage.attachments import CHUNK
from tests.conftest import add_thermometer
from tests.integration.helpers import CHILD_TIMEOUT_S, child_env, popen_python, run_python
from tests.integration.proof import FULL_PROOF
from tests.pg_server import PgServer

TAG = "TH-001"
# ``{stem}_{uuid8}{suffix}``, as in the folder beside a database file.
STORED_NAME = re.compile(r"^(?P<stem>.+)_[0-9a-f]{8}(?P<suffix>\.[A-Za-z0-9]+)?$")


def _database(url: str) -> str:
    name = make_url(url).database
    assert name
    return name


def _sql(pg_server: PgServer, url: str, sql: str) -> str:
    return pg_server.psql(sql, _database(url)).strip()


def _counts(pg_server: PgServer, url: str) -> tuple[int, int, int]:
    """(attachment rows, blobs, chunks) as the server sees them, committed only."""
    row = _sql(
        pg_server,
        url,
        "SELECT (SELECT count(*) FROM attachment), (SELECT count(*) FROM attachment_blob), "
        "(SELECT count(*) FROM attachment_chunk)",
    )
    rows, blobs, chunks = (int(v) for v in row.split("|"))
    return rows, blobs, chunks


@pytest.fixture
def lab(pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path) -> Iterator[CalTrack]:
    with open_caltrack(
        pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "state"
    ) as app:
        add_thermometer(app, TAG)
        yield app


def _random_file(path: Path, size: int, seed: int) -> Path:
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def test_a_multi_chunk_file_round_trips_byte_identical(
    lab: CalTrack, pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    source = _random_file(tmp_path / "Certificate 2026.pdf", 2 * CHUNK + 12_345, seed=1)
    seen: list[tuple[int, int]] = []
    view = lab.attachments.add(TAG, source, progress=lambda done, total: seen.append((done, total)))

    assert view.original_name == source.name
    match = STORED_NAME.match(view.stored_name)
    assert match and match["stem"] == "Certificate 2026" and match["suffix"] == ".pdf"
    assert view.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert view.size_bytes == source.stat().st_size
    assert _counts(pg_server, pg_url) == (1, 1, 3)
    # The bar moves forward only and ends full.
    assert [d / t for d, t in seen] == sorted(d / t for d, t in seen)
    assert seen[-1][0] == seen[-1][1]

    [listed] = lab.attachments.list(TAG)
    assert (listed.id, listed.original_name) == (view.id, source.name)

    out = tmp_path / "out"
    out.mkdir()
    opened = lab.attachments.export(view.id, out)  # "open": into a folder, original name
    assert opened == out / source.name
    assert opened.read_bytes() == source.read_bytes()
    saved = lab.attachments.export(view.id, tmp_path / "saved as.pdf")
    assert saved.read_bytes() == source.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        lab.attachments.export(view.id, saved)

    report = lab.maintenance.verify(deep=True)
    assert report.problems == [] and report.attachments_checked == 1
    assert report.orphan_files == []
    # A server has no folder beside it: asking for one says where the files are.
    with pytest.raises(UsageError, match="the database"):
        _ = lab.attachments.store


def test_an_empty_file_and_a_missing_one(lab: CalTrack, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    view = lab.attachments.add(TAG, empty)
    assert lab.attachments.export(view.id, tmp_path / "copy.txt").read_bytes() == b""
    with pytest.raises(UsageError, match="no file at"):
        lab.attachments.add(TAG, tmp_path / "nowhere.pdf")
    assert lab.maintenance.verify(deep=True).problems == []


def test_the_same_content_twice_is_stored_once(
    lab: CalTrack, pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    first = _random_file(tmp_path / "scan.tiff", CHUNK + 1, seed=2)
    second = tmp_path / "scan again.tiff"
    second.write_bytes(first.read_bytes())
    a = lab.attachments.add(TAG, first)
    b = lab.attachments.add(TAG, second)
    assert a.sha256 == b.sha256 and a.stored_name != b.stored_name
    assert _counts(pg_server, pg_url) == (2, 1, 2)
    for view in (a, b):
        target = lab.attachments.export(view.id, tmp_path / f"copy-{view.id}.tiff")
        assert target.read_bytes() == first.read_bytes()
    assert lab.maintenance.verify(deep=True).problems == []


def test_a_changed_chunk_is_found_by_deep_verify_and_never_exported(
    lab: CalTrack, pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    source = _random_file(tmp_path / "report.pdf", 2 * CHUNK + 7, seed=3)
    view = lab.attachments.add(TAG, source)
    # Same length, other bytes: only the hash can tell.
    _sql(
        pg_server,
        pg_url,
        "UPDATE attachment_chunk SET data = overlay(data placing '\\x00ff'::bytea from 10) "
        f"WHERE sha256 = '{view.sha256}' AND seq = 1",
    )
    assert lab.maintenance.verify().problems == []  # plain verify: everything is there
    deep = lab.maintenance.verify(deep=True).problems
    assert len(deep) == 1 and "does not match its recorded sha256" in deep[0], deep
    assert f"#{view.id} (report.pdf)" in deep[0]
    target = tmp_path / "copy.pdf"
    with pytest.raises(UsageError, match="does not match its recorded hash"):
        lab.attachments.export(view.id, target)
    assert not target.exists()

    # A missing chunk is found without hashing.
    _sql(pg_server, pg_url, "DELETE FROM attachment_chunk WHERE seq = 1")
    plain = lab.maintenance.verify().problems
    assert len(plain) == 1 and "missing 1 of its 3 chunks" in plain[0], plain
    # And a missing blob.
    _sql(pg_server, pg_url, "DELETE FROM attachment_chunk; DELETE FROM attachment_blob")
    plain = lab.maintenance.verify().problems
    assert len(plain) == 1 and "missing from the database" in plain[0], plain
    with pytest.raises(UsageError, match="missing from the database"):
        lab.attachments.export(view.id, target)


def test_a_large_file_is_streamed_not_held_in_memory(lab: CalTrack, tmp_path: Path) -> None:
    """32 MiB in and out with Python's own allocations peaking at a few chunks."""
    source = _random_file(tmp_path / "video.bin", 32 * CHUNK, seed=6)
    tracemalloc.start()
    try:
        view = lab.attachments.add(TAG, source)
        copy = lab.attachments.export(view.id, tmp_path / "copy.bin")
        assert lab.maintenance.verify(deep=True).problems == []
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * CHUNK, f"peak {peak / CHUNK:.1f} MiB for a 32 MiB file"
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == view.sha256


# Attaches a file and kills itself mid-upload: once the progress bar is past the hash
# pass and a few chunks went into the open transaction.
DIE_MID_UPLOAD = """
import os, signal, sys
from pathlib import Path
from app.bootstrap import open_caltrack

url, source, state = sys.argv[1:4]
app = open_caltrack(url, state_dir=Path(state))

def progress(done, total):
    if done > total * 0.75:
        os.kill(os.getpid(), signal.SIGKILL)

app.attachments.add("TH-001", Path(source), progress=progress)
sys.exit("still alive after SIGKILL")
"""

# Attaches new content over and over; says "ready" once the first attach committed.
ATTACH_FOREVER = """
import os, sys
from pathlib import Path
from app.bootstrap import open_caltrack

url, folder, ready = sys.argv[1:4]
with open_caltrack(url, state_dir=Path(folder) / "state") as app:
    n = 0
    while True:
        source = Path(folder) / f"scan-{n}.bin"
        source.write_bytes(os.urandom(3 * 1024 * 1024 + 1 + n))
        app.attachments.add("TH-001", source)
        source.unlink()
        Path(ready).touch()
        n += 1
"""


def _check_whole(lab_url: str, clock: FixedClock, alice: Identity, tmp_path: Path) -> int:
    """Every row's content is there and hashes right; returns the number of rows."""
    with open_caltrack(lab_url, identity=alice, clock=clock, state_dir=tmp_path / "state") as app:
        report = app.maintenance.verify(deep=True)
        assert report.problems == [], report.problems
        return report.attachments_checked


def test_a_client_killed_mid_upload_leaves_nothing(
    lab: CalTrack,
    pg_server: PgServer,
    pg_url: str,
    tmp_path: Path,
    clock: FixedClock,
    alice: Identity,
) -> None:
    source = _random_file(tmp_path / "big.bin", 6 * CHUNK, seed=4)
    result = run_python(DIE_MID_UPLOAD, pg_url, str(source), str(tmp_path / "kid"), cwd=tmp_path)
    assert result.returncode == -signal.SIGKILL, (result.returncode, result.stderr)
    assert _counts(pg_server, pg_url) == (0, 0, 0)
    assert [e.action for e in lab.audit.recent(entity_type="attachment")] == []
    # The same content attaches whole afterwards (the dead client's claim is gone).
    view = lab.attachments.add(TAG, source)
    assert _counts(pg_server, pg_url) == (1, 1, 6)
    assert lab.attachments.export(view.id, tmp_path / "copy").read_bytes() == source.read_bytes()
    assert _check_whole(pg_url, clock, alice, tmp_path) == 1


def test_sigkill_at_random_moments_during_uploads(
    lab: CalTrack,
    pg_server: PgServer,
    pg_url: str,
    tmp_path: Path,
    clock: FixedClock,
    alice: Identity,
) -> None:
    rng = random.Random(20261207)  # reproducible "random" moments
    committed = 0
    for attempt in range(10 if FULL_PROOF else 3):
        run = tmp_path / f"run{attempt}"
        run.mkdir()
        ready = run / "ready"
        proc = popen_python(ATTACH_FOREVER, pg_url, str(run), str(ready), cwd=run)
        try:
            deadline = time.monotonic() + CHILD_TIMEOUT_S
            while not ready.exists():
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the child never attached a file"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.4))
            assert proc.poll() is None, proc.communicate()
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=CHILD_TIMEOUT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL
        rows, blobs, chunks = _counts(pg_server, pg_url)
        assert rows > committed  # "ready" means at least one more attach committed
        committed = rows
        # Each file is new content: one blob per row, 4 chunks per blob, none left over.
        assert (blobs, chunks) == (rows, 4 * rows)
        assert _check_whole(pg_url, clock, alice, tmp_path) == rows


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


def test_cli_attachments_add_list_export_and_verify_on_a_server(
    lab: CalTrack, pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    lab.close()  # the CLI processes open it themselves
    source = _random_file(tmp_path / "Calibration certificate.pdf", CHUNK + 99, seed=5)

    added = _cli(pg_url, tmp_path, "attachments", "add", TAG, str(source), "--json")
    assert added.returncode == 0, added.stderr
    view = json.loads(added.stdout)
    assert view["original_name"] == source.name
    assert view["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()

    listed = _cli(pg_url, tmp_path, "attachments", "list", TAG, "--json")
    assert listed.returncode == 0, listed.stderr
    assert [(a["id"], a["original_name"]) for a in json.loads(listed.stdout)] == [
        (view["id"], source.name)
    ]

    out = tmp_path / "out"
    out.mkdir()
    exported = _cli(pg_url, tmp_path, "attachments", "export", str(view["id"]), str(out))
    assert exported.returncode == 0, exported.stderr
    assert (out / source.name).read_bytes() == source.read_bytes()

    # Two clients attach the same new content at once: both rows, one blob.
    twin = _random_file(tmp_path / "twin.pdf", CHUNK + 5, seed=7)
    with ThreadPoolExecutor(max_workers=2) as pool:
        both = list(
            pool.map(lambda _: _cli(pg_url, tmp_path, "attachments", "add", TAG, str(twin)), [1, 2])
        )
    assert [r.returncode for r in both] == [0, 0], [r.stderr for r in both]
    assert _counts(pg_server, pg_url) == (3, 2, 4)

    clean = _cli(pg_url, tmp_path, "db", "verify", "--deep")
    assert clean.returncode == 0, (clean.stdout, clean.stderr)
    _sql(pg_server, pg_url, "UPDATE attachment_chunk SET data = 'x'::bytea || data WHERE seq = 0")
    damaged = _cli(pg_url, tmp_path, "db", "verify", "--deep")
    assert damaged.returncode != 0
    assert "PROBLEM: attachment #" in damaged.stdout and source.name in damaged.stdout


@pytest.mark.slow  # 2 GiB hashed on the way in and read back by the deep verify
def test_a_file_of_2_gib_and_more_attaches_and_verifies(
    lab: CalTrack, pg_server: PgServer, pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL's INTEGER is 32-bit: the size column must hold more (revision 0008)."""
    size = 2**31 + 4096
    big = tmp_path / "scan archive.bin"
    with big.open("wb") as handle:
        handle.truncate(size)  # sparse: no disk cost to create
    expected = hashlib.sha256()
    zeros = bytes(CHUNK)
    for _ in range(size // CHUNK):
        expected.update(zeros)
    expected.update(bytes(size % CHUNK))
    tracemalloc.start()
    try:
        view = lab.attachments.add(TAG, big)
        report = lab.maintenance.verify(deep=True)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (view.size_bytes, view.sha256) == (size, expected.hexdigest())
    assert report.problems == []
    assert peak < 8 * CHUNK, f"peak {peak / CHUNK:.1f} MiB for a 2 GiB file"
    [listed] = lab.attachments.list(TAG)
    assert (listed.size_bytes, listed.sha256) == (size, expected.hexdigest())
    row = _sql(
        pg_server,
        pg_url,
        "SELECT a.size_bytes, b.size_bytes, (SELECT count(*) FROM attachment_chunk) "
        f"FROM attachment a JOIN attachment_blob b USING (sha256) WHERE a.id = {view.id}",
    )
    assert row == f"{size}|{size}|{-(-size // CHUNK)}"
