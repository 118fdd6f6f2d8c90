"""Make a full-size lab database file for the move to a server (``db copy``), by hand.

Run from the project folder (not in CI; about 2 to 4 minutes at 100k on a loaded 2-CPU VM)::

    .venv/bin/python bench/make_lab.py /tmp/move/lab.db                  # 100k, 1,500 files
    .venv/bin/python bench/make_lab.py /tmp/move/lab.db --instruments 5000 --files 50

It builds what a lab that outgrew its shared folder holds: the demo's instruments and
calibration records (one hash-chained audit event each), a few signed records, and
attachments of varied sizes (most tens of kilobytes, some megabytes, a few tens of
megabytes; some on calibration records, some voided, some with the same original name,
some with non-ASCII names), each added through the service as the window adds it. Then
``caltrack --db lab.db db copy --to postgresql+psycopg://…`` and ``db verify --deep`` on
the target are the proof (bench/README.md, "Moving a 100k lab").
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from app.bootstrap import open_caltrack
from app.clock import FixedClock
from app.identity import Identity

NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)
ADMIN = Identity(user="alice", machine="lab-pc-1")
PASSWORD = "correct horse battery"
NAMES = ("certificate.pdf", "Kalibrierschein Prüfmittel.pdf", "photo.jpg", "raw data.xlsx")


def file_size(rng: random.Random, index: int) -> int:
    """Mostly small (scans), some large (photos, raw data), every 300th very large."""
    if index % 300 == 299:
        return rng.randint(20, 48) * 1024 * 1024
    if index % 20 == 19:
        return rng.randint(1, 8) * 1024 * 1024 + rng.randint(0, 4095)
    return rng.randint(2_000, 250_000)


def make(db: Path, instruments: int, files: int, seed: int) -> None:
    rng = random.Random(seed)
    clock = FixedClock(NOW)
    started = time.perf_counter()
    with open_caltrack(str(db), create=True, identity=ADMIN, clock=clock) as app:
        counts = app.demo.generate(instruments, seed=seed)
        print(f"demo: {counts} in {time.perf_counter() - started:.0f} s", flush=True)
        tags = [row.asset_tag for row in app.instruments.list(limit=2000).rows]
        app.accounts.set_display_name("Alice A. Admin")
        app.accounts.set_signing_password(PASSWORD)
        for tag in tags[:10]:
            record = app.calibrations.history(tag)[0]
            app.signatures.sign_record(record.id, meaning="approved", password=PASSWORD)
        total = 0
        with tempfile.TemporaryDirectory() as scratch:
            for index in range(files):
                size = file_size(rng, index)
                name = NAMES[index % len(NAMES)]
                source = Path(scratch) / name
                # Incompressible content, as a scanned PDF or a JPEG is.
                source.write_bytes(rng.randbytes(size))
                tag = tags[index % len(tags)]
                record_id = None
                if index % 3 == 1:
                    record_id = app.calibrations.history(tag)[0].id
                view = app.attachments.add(tag, source, record_id=record_id)
                if index % 97 == 5:
                    app.attachments.void(view.id, "attached to the wrong instrument")
                total += size
                if index % 250 == 0:
                    print(
                        f"attachments: {index + 1:,}/{files:,}, {total / 2**20:,.0f} MB, "
                        f"{time.perf_counter() - started:.0f} s",
                        flush=True,
                    )
    print(
        f"done: {instruments:,} instruments, {files:,} attachments ({total / 2**20:,.0f} MB) "
        f"in {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db", type=Path, help="the new database file")
    parser.add_argument("--instruments", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=1_500, help="attachments")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)
    if args.db.exists():
        print(f"{args.db} exists; give a new file", file=sys.stderr)
        return 2
    make(args.db, args.instruments, args.files, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
