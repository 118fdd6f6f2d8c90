"""Attachments: safe names, streaming copy, export, void, and failure clean-up."""

from __future__ import annotations

import hashlib
import os
import tracemalloc
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import NotFoundError, ReadOnlyError, UsageError, ValidationError
from app.identity import Identity
from app.storage.attachments import AttachmentStore
from app.storage.filenames import display_name, safe_parts, stored_name
from tests.conftest import add_thermometer
from tests.integration.process_helpers import open_to_everyone, other_user, shared_folder


@pytest.mark.parametrize(
    ("name", "stem", "suffix"),
    [
        ("certificate.pdf", "certificate", ".pdf"),
        ("..\\..\\windows\\system32\\evil.dll", "evil", ".dll"),
        ("../../etc/passwd", "passwd", ""),
        ("CON.txt", "_CON", ".txt"),
        ("lpt1", "_lpt1", ""),
        ("a\x00b\x1fc.pdf", "abc", ".pdf"),
        ("re:port<1>?.pdf", "re_port_1__", ".pdf"),
        ("..", "attachment", ""),
        ("   ", "attachment", ""),
        ("x" * 300 + ".pdf", "x" * 80, ".pdf"),
        ("trailing. ", "trailing", ""),
    ],
)
def test_safe_parts(name: str, stem: str, suffix: str) -> None:
    assert safe_parts(name) == (stem, suffix)


def test_stored_name_is_stem_uuid8_suffix() -> None:
    assert stored_name("Cert 2026.pdf", token="abcd1234") == "Cert 2026_abcd1234.pdf"
    assert len(stored_name("a.pdf").split("_")[-1]) == len("12345678.pdf")
    assert display_name("C:\\scans\\cert.pdf") == "cert.pdf"


@pytest.mark.sqlite_only(
    "the attachments folder beside the file; a server keeps content in the database "
    "(tests/integration/test_server_attachments.py)"
)
def test_attach_list_export_void(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app)
    source = tmp_path / "cal cert.pdf"
    source.write_bytes(b"%PDF-1.7 certificate")
    view = app.attachments.add("TH-001", source)
    assert view.original_name == "cal cert.pdf"
    assert view.stored_name.startswith("cal cert_") and view.stored_name.endswith(".pdf")
    assert view.sha256 == hashlib.sha256(b"%PDF-1.7 certificate").hexdigest()
    stored = app.attachments.store.folder / view.stored_name
    assert stored.read_bytes() == source.read_bytes()
    assert stored.parent.name == "lab.db-attachments"

    out = tmp_path / "out"
    out.mkdir()
    exported = app.attachments.export(view.id, out)
    assert exported == out / "cal cert.pdf" and exported.read_bytes() == source.read_bytes()
    with pytest.raises(UsageError, match="already exists"):
        app.attachments.export(view.id, out)

    voided = app.attachments.void(view.id, "scanned the wrong page")
    assert voided.voided
    assert stored.exists(), "voiding never deletes the file"
    assert [a.voided for a in app.attachments.list("TH-001")] == [True]
    events = app.audit.for_entity("attachment", view.id)
    assert [e.action for e in events] == ["attach", "void"]


def test_attach_missing_or_unreadable_file(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app)
    with pytest.raises(UsageError, match="no file"):
        app.attachments.add("TH-001", tmp_path / "nope.pdf")
    with pytest.raises(UsageError, match="not a regular file"):
        app.attachments.add("TH-001", tmp_path)
    with pytest.raises(NotFoundError):
        app.attachments.add("NOPE", tmp_path)
    assert app.attachments.list("TH-001") == []


def test_attach_a_file_the_user_may_not_read(
    app: CalTrack, tmp_path: Path, clock: FixedClock, alice: Identity
) -> None:
    """Root reads every file, so as root (CI) the attempt is made by ``nobody``."""
    add_thermometer(app)
    if os.geteuid() != 0:
        locked = tmp_path / "locked.pdf"
        locked.write_bytes(b"x")
        locked.chmod(0)
        with pytest.raises(UsageError, match="permission denied"):
            app.attachments.add("TH-001", locked)
        assert app.attachments.list("TH-001") == []
        return
    with shared_folder(0o777) as folder, other_user() as nobody:
        db = folder / "lab.db"
        state = folder / "state"
        with open_caltrack(
            str(db), create=True, identity=alice, clock=clock, state_dir=state
        ) as own:
            add_thermometer(own)
        open_to_everyone(folder)  # nobody may write the database, just not read the file
        locked = folder / "locked.pdf"
        locked.write_bytes(b"x")
        locked.chmod(0)
        result = nobody.cli(db, "attachments", "add", "TH-001", str(locked))
        assert result.returncode == UsageError.exit_code, (result.stdout, result.stderr)
        assert f"cannot read {locked}: permission denied" in result.stderr
        with open_caltrack(str(db), identity=alice, clock=clock, state_dir=state) as own:
            assert own.attachments.list("TH-001") == []


@pytest.mark.sqlite_only(
    "the attachments folder beside the file; a server keeps content in the database "
    "(tests/integration/test_server_attachments.py)"
)
def test_failed_commit_removes_the_copied_file(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app)
    source = tmp_path / "cert.pdf"
    source.write_bytes(b"data")
    # The write is refused after the copy: the file must not stay behind.
    app.database.set_read_only(None)
    with pytest.raises(NotFoundError):
        app.attachments.add("TH-001", source, record_id=999)
    app.database.set_read_only("locked by bob")
    with pytest.raises(ReadOnlyError, match="locked by bob"):
        app.attachments.add("TH-001", source)
    assert list(app.attachments.store.iter_names()) == []


def test_void_needs_reason(app: CalTrack, tmp_path: Path) -> None:
    add_thermometer(app)
    source = tmp_path / "a.txt"
    source.write_text("a")
    view = app.attachments.add("TH-001", source)
    with pytest.raises(ValidationError):
        app.attachments.void(view.id, "")


@pytest.mark.slow  # reads 2 GiB through the store: the slowest of the unit tier
def test_large_file_streams_in_constant_memory(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    size = 2 * 1024**3  # 2 GiB, sparse: no disk cost to create
    with big.open("wb") as handle:
        handle.truncate(size)
    store = AttachmentStore(tmp_path / "store")
    tracemalloc.start()
    try:
        stored = store.ingest(big)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size_bytes == size
    assert peak < 16 * 1024**2, f"peak Python memory {peak} bytes for a 2 GiB copy"
    expected = hashlib.sha256()
    chunk = bytes(1024 * 1024)
    for _ in range(size // len(chunk)):
        expected.update(chunk)
    assert stored.sha256 == expected.hexdigest()
    (store.folder / stored.stored_name).unlink()
