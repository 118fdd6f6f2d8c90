"""The multi-user proofs again with the database on a real SMB share.

``scripts/smb-share up`` serves a folder with samba on loopback and mounts it through
smbnetfs (FUSE): reads, writes, renames, fsync and the rollback journal really go
through SMB. (File locks on a FUSE mount are kept by this kernel, so locking between
processes of this machine behaves as on a local disk.) On the share CalTrack must pick
a rollback journal (``truncate``: deleting the journal at each commit fails on SMB while
any handle to it is open); on local disk WAL — and a file once opened over the network
stays in rollback mode even when its host opens it from its own disk.

Each run serves its own share: samba's state, the folder and the mount under the run's
temp folder, samba on a free port (two runs on one machine do not meet).
Needs root and /dev/fuse (the script installs samba and smbnetfs if missing); skipped
otherwise. Files on the share are never opened with O_APPEND ("a" mode): smbnetfs
answers it with EIO and then fails every call on the mount.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.errors import StorageError
from app.services.dto import InstrumentChanges
from tests.integration.helpers import run_cli, wait_for_file
from tests.integration.proof import (
    ROOT,
    check_edit_run,
    check_kill_run,
    finish,
    new_lab,
    open_db,
    report,
    run_edit_workers,
    run_kill_loop,
    sizes,
    start_workload,
)

SCRIPT = ROOT / "scripts" / "smb-share"
TAGS = ["TH-001", "TH-002", "PG-010"]

SCANNER_SAVES = 40


def _skip_reason() -> str | None:
    if sys.platform != "linux":
        return "the SMB loopback share (samba + smbnetfs) is set up on Linux only"
    if os.geteuid() != 0:
        return "SMB tests need root: scripts/smb-share runs samba and mounts FUSE"
    if not Path("/dev/fuse").exists():
        return "SMB tests need /dev/fuse to mount the share through smbnetfs"
    return None


pytestmark = [
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
    # The first test may wait for apt to install samba and smbnetfs.
    pytest.mark.timeout(1200),
]


@dataclass(frozen=True)
class SmbShare:
    """Where one run's share lives: samba's state, the served folder, the mount, the port."""

    state: Path
    share_dir: Path
    mount: Path
    port: int

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CALTRACK_SMB_STATE": str(self.state),
            "CALTRACK_SMB_SHARE_DIR": str(self.share_dir),
            "CALTRACK_SMB_MOUNT": str(self.mount),
            "CALTRACK_SMB_PORT": str(self.port),
        }

    @property
    def folder(self) -> Path:
        """The share as mounted: the port is part of smbnetfs's path (host:port)."""
        return self.mount / f"127.0.0.1:{self.port}" / "caltrack"

    def mounted(self) -> bool:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8").splitlines()
        except OSError:
            return False
        return any(
            len(parts) > 2 and parts[1] == str(self.mount) and parts[2] == "fuse.smbnetfs"
            for parts in (line.split() for line in mounts)
        )

    def script(self, action: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(SCRIPT), action],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env(),
            check=False,
        )


def _free_port() -> int:
    """A TCP port nobody listens on, on both loopback addresses samba binds (lo)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as v4:
            v4.bind(("127.0.0.1", 0))
            port = int(v4.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as v6:
                    v6.bind(("::1", port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    continue  # taken on ::1: another one
                # No IPv6 loopback here: samba listens on 127.0.0.1 only.
            return port


def _run_share(tmp_path_factory: pytest.TempPathFactory) -> SmbShare:
    """This run's own share: state under its temp folder and a free port, so that two
    runs on one machine (two worktrees, CI jobs) never share a samba or a mount.
    CALTRACK_SMB_STATE (and CALTRACK_SMB_PORT, default 445) name a share of one's own."""
    fixed = os.environ.get("CALTRACK_SMB_STATE")
    state = Path(fixed) if fixed else tmp_path_factory.mktemp("smb")
    port = int(os.environ.get("CALTRACK_SMB_PORT", "445")) if fixed else _free_port()
    return SmbShare(
        state=state,
        share_dir=Path(os.environ.get("CALTRACK_SMB_SHARE_DIR", str(state / "share"))),
        mount=Path(os.environ.get("CALTRACK_SMB_MOUNT", str(state / "mnt"))),
        port=port,
    )


@pytest.fixture(scope="module")
def smb_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmbShare]:
    """This run's share, mounted; taken down afterwards only if this module brought it up."""
    share = _run_share(tmp_path_factory)
    was_up = share.mounted()
    up = share.script("up", timeout=1100)
    assert up.returncode == 0, f"scripts/smb-share up failed:\n{up.stdout}\n{up.stderr}"
    folder = Path(up.stdout.strip().splitlines()[-1])
    assert folder == share.folder and folder.is_dir(), folder
    try:
        yield share
    finally:
        if not was_up:
            share.script("down", timeout=120)


@pytest.fixture(scope="module")
def smb_share(smb_run: SmbShare) -> Path:
    """The mounted share folder (files there go through samba)."""
    return smb_run.folder


@pytest.fixture
def smb_dir(smb_share: Path) -> Iterator[Path]:
    """A fresh folder on the share for one test (the share may be used by others)."""
    folder = smb_share / f"pytest-{uuid.uuid4().hex[:12]}"
    folder.mkdir()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stats(db: Path, cwd: Path) -> dict[str, object]:
    result = run_cli(db, "db", "stats", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_journal_is_rollback_on_the_share_and_wal_locally(
    smb_dir: Path, smb_run: SmbShare, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    share_db = smb_dir / "lab.db"
    new_lab(share_db, state, TAGS[:1])
    with open_db(share_db, state) as app:
        location = app.database.location
        assert location is not None and location.is_network
        assert location.fs_type == "fuse.smbnetfs"
        assert app.session.editing
        assert app.database.journal_mode() == "truncate"
    assert _stats(share_db, tmp_path)["journal_mode"] == "truncate"
    assert not share_db.with_name("lab.db-wal").exists()

    local = tmp_path / "local"
    local.mkdir()
    local_db = local / "lab.db"
    new_lab(local_db, state, TAGS[:1])
    with open_db(local_db, state) as app:
        assert app.database.location is not None and not app.database.location.is_network
        assert app.database.journal_mode() == "wal"
    assert _stats(local_db, tmp_path)["journal_mode"] == "wal"

    # The PC hosting the share opens the very same file from its own disk: the file was
    # used over the network, so it stays in rollback mode (no WAL under the share users).
    host_db = smb_run.share_dir / smb_dir.name / "lab.db"
    assert host_db.is_file(), f"{host_db}: is CALTRACK_SMB_SHARE_DIR right?"
    with open_db(host_db, state) as app:
        assert app.database.location is not None and not app.database.location.is_network
        assert app.session.editing
        assert app.database.journal_mode() == "truncate"
    stats = _stats(host_db, tmp_path)
    assert stats["journal_mode"] == "truncate"
    assert "network share" in str(stats["journal_reason"])


@sizes((3, 8), (8, 25))
def test_many_editors_on_the_share(size: tuple[int, int], smb_dir: Path, tmp_path: Path) -> None:
    workers, edits = size
    db, state = smb_dir / "lab.db", tmp_path / "state"
    new_lab(db, state, TAGS)

    run = run_edit_workers(db, tmp_path, workers=workers, edits=edits, tags=TAGS, seed=23)

    check_edit_run(db, run, state, workers=workers, edits=edits, tags=TAGS)
    # Workers do not retry storage errors here: not one save may fail on the share.
    assert run.storage_errors == []
    with open_db(db, state, edit=False) as app:
        assert app.database.journal_mode() == "truncate"
    assert not db.with_name("lab.db-wal").exists()
    report(
        "edits on SMB",
        workers=workers,
        edits_each=edits,
        saved=len(run.saved),
        conflicts_refused=len(run.conflicts),
        storage_errors_retried=len(run.storage_errors),
        seconds=round(run.seconds, 1),
    )


@sizes(4, 15)
def test_kill9_of_the_editor_on_the_share(size: int, smb_dir: Path, tmp_path: Path) -> None:
    kills = size
    db, state = smb_dir / "lab.db", tmp_path / "state"
    new_lab(db, state, TAGS[:2])

    run = run_kill_loop(db, tmp_path, kills=kills, tags=TAGS[:2], seed=29)

    # Every takeover found the share database in rollback-journal mode.
    assert run.journal_modes == {"truncate"}
    check_kill_run(db, run, state)
    assert run.storage_errors == 0
    report(
        "kill -9 on SMB",
        kills=kills,
        committed=len(run.committed),
        hot_journals_left=run.hot_journals,
        storage_errors_retried=run.storage_errors,
        orphan_files=len(run.orphans),
        seconds=round(run.seconds, 1),
    )


def test_saves_on_the_share_survive_a_program_reading_the_journal(
    smb_dir: Path, tmp_path: Path
) -> None:
    """A backup agent, virus scanner or indexer opening files on the share (here: a
    process that opens ``<db>-journal`` for 50 ms whenever it exists) must not make saves
    fail."""
    db, state = smb_dir / "lab.db", tmp_path / "state"
    new_lab(db, state, TAGS[:1])
    stop, seen = tmp_path / "stop-scanner", tmp_path / "scanner.json"
    ready = tmp_path / "scanner-ready"
    failed: list[tuple[int, str]] = []
    with open_db(db, state) as app:
        assert app.database.journal_mode() == "truncate"
        scanner = start_workload(
            tmp_path,
            "scanner",
            *("--file", str(db.with_name("lab.db-journal")), "--stop", str(stop)),
            *("--report", str(seen), "--ready", str(ready)),
        )
        try:
            wait_for_file(ready, scanner)
            for i in range(SCANNER_SAVES):
                try:
                    app.instruments.edit(TAGS[0], InstrumentChanges(notes=f"save {i}"))
                except StorageError as exc:
                    failed.append((i, str(exc)))
        finally:
            stop.touch()
            out, err = finish(scanner)
    assert scanner.returncode == 0, (out, err)
    # The scanner did get hold of the journal during the run...
    assert json.loads(seen.read_text())["held"] >= 1
    # ...and still every save went through.
    assert failed == []


def test_rename_and_kill_on_the_share(smb_dir: Path, tmp_path: Path) -> None:
    """A rename-and-kill round of test_rename_kill with the database on the share.

    Samba refuses to rename a file that a client holds open (EBUSY: SMB opens without
    FILE_SHARE_DELETE), so on this share the rename never lands under a running save;
    should a share allow it, the whole round of test_rename_kill runs instead."""
    from tests.integration.test_rename_kill import Child, integrity, one_round, tags_in

    db, moved = smb_dir / "lab.db", smb_dir / "moved.db"
    new_lab(db, tmp_path / "state", TAGS[:1])
    child = Child(db, "truncate", tmp_path / "state")
    try:
        child.wait_lines(5)
        try:
            os.rename(db, moved)
        except OSError as exc:
            refused: OSError | None = exc
        else:
            refused = None
        child.kill()
    finally:
        child.kill()
    if refused is None:  # this share lets it happen: the full check
        os.rename(moved, db)
        outcome = one_round(smb_dir / "round", "truncate", 0)
    else:
        assert not moved.exists()
        assert integrity(db) == ["ok"]
        assert child.saved() <= tags_in(db)
        outcome = f"rename refused by the share ({refused.strerror})"
    report("rename and kill on the share", outcome=outcome)
