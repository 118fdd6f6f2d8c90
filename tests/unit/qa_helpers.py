"""Helpers for the QA tests: several people taking turns on one real database.

``db`` is the SQLite file's path or a server database's URL (the ``db_url`` fixture).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from app.bootstrap import CalTrack, open_caltrack
from app.clock import Clock
from app.identity import Identity
from app.services.dto import CalibrationInput, PointInput
from tests.conftest import state_for

ALICE = Identity(user="alice", machine="LAB-PC-3")  # the creator: admin
BOB = Identity(user="bob", machine="LAB-PC-4")  # a technician (no account)
QUINN = Identity(user="quinn", machine="QA-PC-1")  # QA
PASSWORD = "correct horse battery"


def open_as(db: Path | str, identity: Identity, clock: Clock) -> CalTrack:
    """Open the database as someone else (the previous session must be closed)."""
    return open_caltrack(str(db), identity=identity, clock=clock, state_dir=state_for(db))


def make_qa(app: CalTrack, db: Path | str, clock: Clock, who: Identity = QUINN) -> None:
    """The admin (``app``'s user) makes ``who`` QA; ``who`` sets a signing password."""
    app.accounts.set_role(who.user, "qa", display_name="Quinn Q. Reviewer")
    app.close()
    with open_as(db, who, clock) as qa:
        qa.accounts.set_signing_password(PASSWORD)


def reading(
    nominal: float, found: float, left: float | None = None, tol: float = 0.5
) -> PointInput:
    return PointInput(nominal, found, found if left is None else left, tol, "°C")


def calibrate(
    app: CalTrack,
    tag: str,
    on: str,
    result: str = "pass",
    *,
    points: tuple[PointInput, ...] = (),
    standards: tuple[str, ...] = (),
    justification: str = "",
) -> int:
    view = app.calibrations.add(
        tag,
        CalibrationInput(
            performed_on=on,
            result=result,
            certificate_number=f"C-{tag}-{on}",
            points=points,
            standards=standards,
            standards_justification=justification,
        ),
    )
    return view.id


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (grey pixels), made by hand: signature, IHDR, IDAT, IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )
