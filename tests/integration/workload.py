"""Child-process programs for the multi-user proof tests.

Each subcommand is one CalTrack instance, as a user on a shared PC would run it:
``python -m tests.integration.workload SUBCOMMAND ...`` (the repository root on
``PYTHONPATH``). They talk to the parent only through files: JSON lines in a log (one
line per committed change, written *after* the commit) and a JSON report. Logs and
reports belong in a local folder; only the database may be on a share.

- ``edit-loop``: load an instrument read-only, become the editor (waiting for others),
  save with the loaded version (reloading on a conflict), release; again and again.
- ``race``: race the other processes for the editor lock, do one fenced write inside,
  give the lock back; again and again.
- ``kill-writer``: take over the editor role, report what the takeover found (notices,
  checks), then write forever (edits, calibrations, attachments) until killed.
- ``frozen-editor``: become the editor, wait for "go", then try to save once.
- ``scanner``: another program that opens a file on the share whenever it exists.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any, TypeVar

from app.bootstrap import CalTrack, open_caltrack
from app.db.engine import is_url
from app.errors import CalTrackError, ConflictError, StorageError
from app.identity import Identity
from app.locking.holder import holder_path, read_holder
from app.services.dto import CalibrationInput, InstrumentChanges, PointInput
from app.services.editing import EditingOptions

T = TypeVar("T")

# Every process of a run plays a different user on the same PC.
MACHINE = "LAB-PC-1"
# How long a child waits for the editor lock before it gives up (a hang, not a result).
LOCK_WAIT_S = 300.0
# With --retry-storage-errors: how often one step is tried before the child gives up.
STORAGE_ATTEMPTS = 20


def write_json_atomic(path: Path, data: Any) -> None:
    """Whole file or nothing (the parent polls for it)."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


class JsonLog:
    """One JSON object per line, flushed at once (survives a SIGKILL of this process).

    Opened with "w", never "a": O_APPEND breaks smbnetfs mounts.
    """

    def __init__(self, path: Path) -> None:
        self._handle: IO[str] = path.open("w", encoding="utf-8")

    def write(self, **record: Any) -> None:
        self._handle.write(json.dumps(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """The complete lines of a JSON-lines log (a line cut by a kill is ignored)."""
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def patiently(step: Callable[[], T], log: JsonLog | None, stage: str, *, retry: bool) -> T:
    """Run ``step``; with ``retry``, do what the message asks on a StorageError: try again.

    StorageError promises "the change was rolled back"; the parent's checks find out
    whether that held (a repeated save that had in fact committed would show twice).
    Every such failure is logged as ``kind="storage_error"``.
    """
    for attempt in range(1, STORAGE_ATTEMPTS + 1):
        try:
            return step()
        except StorageError as exc:
            if not retry or attempt == STORAGE_ATTEMPTS:
                raise
            if log is not None:
                log.write(kind="storage_error", stage=stage, message=str(exc))
            time.sleep(0.05)
    raise AssertionError("unreachable")


def open_db(
    db: str,
    state: Path,
    user: str,
    *,
    edit: bool,
    wait_s: float = 0.0,
    stale_after_s: float | None = None,
) -> CalTrack:
    options = EditingOptions(edit=edit, wait_s=wait_s)
    if stale_after_s is not None:
        options = EditingOptions(edit=edit, wait_s=wait_s, stale_after_s=stale_after_s)
    return open_caltrack(
        db,
        editing=options,
        identity=Identity(user=user, machine=MACHINE),
        state_dir=state,
    )


def become_editor(app: CalTrack) -> int:
    """Wait for the editor lock; the fencing epoch this session now writes under.

    On a server there is no lock and no epoch (0): every session edits at once.
    """
    app.session.become_editor(wait_s=LOCK_WAIT_S)
    lockless = app.session.lock is None
    if not app.session.editing or (app.session.epoch is None and not lockless):
        raise SystemExit(f"could not become the editor: {app.session.read_only_reason}")
    return app.session.epoch or 0


# -- edit-loop ---------------------------------------------------------------------


def edit_loop(args: argparse.Namespace) -> int:
    """Append a unique token to the notes of random instruments, one save at a time.

    The notes of an instrument end up as the concatenation of every token saved on it:
    a save based on stale notes that was not refused would drop a token.
    """
    rng = random.Random(args.seed)
    tags: list[str] = args.tags.split(",")
    log = JsonLog(Path(args.log))
    worker = args.worker
    conflicts = saved = 0
    retry = args.retry_storage_errors

    def step(fn: Callable[[], T], stage: str) -> T:
        return patiently(fn, log, stage, retry=retry)

    with step(
        lambda: open_db(args.db, Path(args.state), f"user{worker}", edit=False), "open"
    ) as app:
        edit = 0
        while edit < args.edits:
            # As a user does: look at the instrument, then ask to edit it.
            tag = rng.choice(tags)
            loaded = step(partial(app.instruments.get, tag), "load")
            epoch = step(lambda: become_editor(app), "become editor")
            for _ in range(rng.randint(1, args.hold_max)):
                if edit >= args.edits:
                    break
                token = f"{worker}.{edit};"
                failures = 0
                while True:
                    try:
                        result = app.instruments.edit(
                            tag,
                            InstrumentChanges(
                                notes=loaded.notes + token, location=f"bench {worker}"
                            ),
                            expected_version=loaded.version,
                            reason=f"worker {worker} edit {edit}",
                        )
                        break
                    except ConflictError as exc:
                        # Somebody saved since we loaded: reload and apply again.
                        conflicts += 1
                        log.write(
                            kind="conflict",
                            worker=worker,
                            tag=tag,
                            loaded=loaded.version,
                            stored=exc.theirs.version,
                        )
                    except StorageError as exc:
                        # "rolled back — try again": reload and apply again.
                        failures += 1
                        if not retry or failures == STORAGE_ATTEMPTS:
                            raise
                        log.write(kind="storage_error", stage="save", message=str(exc))
                    loaded = step(partial(app.instruments.get, tag), "reload")
                saved += 1
                log.write(
                    kind="saved",
                    worker=worker,
                    edit=edit,
                    tag=tag,
                    token=token,
                    version=result.version,
                    epoch=epoch,
                )
                edit += 1
                tag = rng.choice(tags)
                loaded = step(partial(app.instruments.get, tag), "load")  # we edit: fresh
            app.session.release()
            time.sleep(rng.uniform(0.0, args.think_s))  # the user reads the screen
    log.close()
    print(json.dumps({"worker": worker, "saved": saved, "conflicts": conflicts}))
    return 0


# -- race --------------------------------------------------------------------------


def race(args: argparse.Namespace) -> int:
    """Grab the lock as often as possible; inside, prove to be alone and write once.

    Inside the lock: create ``inside`` with O_EXCL (fails if another holder is inside),
    bump a plain counter file by read-modify-write (two holders at once would lose a
    bump), read the holder file, save once with the epoch in the audit reason.
    """
    rng = random.Random(args.seed)
    arena = Path(args.arena)
    inside = arena / "inside"
    counter = arena / "counter"
    log = JsonLog(Path(args.log))
    worker = args.worker
    tries = 0
    db = Path(args.db)
    with open_db(args.db, Path(args.state), f"racer{worker}", edit=False) as app:
        (arena / f"ready-{worker}").touch()
        while not (arena / "go").exists():
            time.sleep(0.002)
        for round_no in range(args.rounds):
            deadline = time.monotonic() + LOCK_WAIT_S
            while True:
                tries += 1
                app.session.become_editor(0.0)  # no waiting: a tight race
                if app.session.editing:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit("never won the lock")
                time.sleep(rng.uniform(0.001, 0.01))
            epoch = app.session.epoch
            alone = True
            try:
                fd = os.open(inside, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                os.close(fd)
            except FileExistsError:
                alone = False
            try:
                seq = int(counter.read_text(encoding="utf-8"))
            except ValueError:
                seq, alone = -1, False
            counter.write_text(str(seq + 1), encoding="utf-8")
            holder = read_holder(holder_path(db))
            holder_says_me = (
                holder is not None
                and app.session.lock is not None
                and holder.session_id == app.session.lock.session_id
                and holder.epoch == epoch
                and not holder.released
            )
            app.instruments.edit(
                args.tag,
                InstrumentChanges(notes=f"epoch {epoch}"),
                reason=f"epoch={epoch} worker={worker} seq={seq}",
            )
            if alone:
                inside.unlink()
            app.session.release()
            log.write(
                worker=worker,
                round=round_no,
                seq=seq,
                epoch=epoch,
                alone=alone,
                holder_says_me=holder_says_me,
            )
    log.close()
    print(json.dumps({"worker": worker, "rounds": args.rounds, "tries": tries}))
    return 0


# -- kill-writer -------------------------------------------------------------------


def raw_checks(db: Path, *, retry: bool = False) -> tuple[list[str], list[list[Any]]]:
    """integrity_check and foreign_key_check through a plain sqlite3 connection.

    With ``retry``, a "disk I/O error" is tried again (on smbnetfs, deleting the journal
    after rolling back a hot one can fail the same way a commit does).
    """
    for attempt in range(1, STORAGE_ATTEMPTS + 1):
        conn = sqlite3.connect(db, timeout=30)
        try:
            integrity = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
            foreign = [list(r) for r in conn.execute("PRAGMA foreign_key_check")]
            return integrity, foreign
        except sqlite3.OperationalError as exc:
            if not retry or "disk I/O error" not in str(exc) or attempt == STORAGE_ATTEMPTS:
                raise
        finally:
            conn.close()
        time.sleep(0.05)
    raise AssertionError("unreachable")


def kill_writer(args: argparse.Namespace) -> int:
    """Take over, say what the takeover found, then write until killed (or told to stop)."""
    rng = random.Random(args.seed)
    server = is_url(args.db)  # a server keeps its own pages: no file to check
    stop = Path(args.stop)
    sources = sorted(Path(args.sources).iterdir())
    tags: list[str] = args.tags.split(",")
    ops: list[str] = args.ops.split(",")
    retry = args.retry_storage_errors
    open_attempts = 0

    def takeover() -> CalTrack:
        nonlocal open_attempts
        open_attempts += 1
        return open_db(args.db, Path(args.state), args.user, edit=True, wait_s=LOCK_WAIT_S)

    app = patiently(takeover, None, "open", retry=retry)
    try:
        integrity, foreign = (["ok"], []) if server else raw_checks(Path(args.db), retry=retry)
        verify = patiently(lambda: app.maintenance.verify(deep=True), None, "verify", retry=retry)
        write_json_atomic(
            Path(args.report),
            {
                "pid": os.getpid(),
                "open_attempts": open_attempts,
                "editing": app.session.editing,
                "epoch": app.session.epoch,
                "notices": app.notices,
                "problems": app.problems,
                "journal_mode": app.database.journal_mode(),
                "integrity": integrity,
                "foreign_keys": foreign,
                "verify_problems": verify.problems,
                "orphans": verify.orphan_files,
                "attachments_checked": verify.attachments_checked,
                "audit_events": verify.audit_events,
            },
        )
        log = JsonLog(Path(args.log))
        n = 0
        today = app.clock.today()
        while not stop.exists():
            n += 1
            tag = rng.choice(tags)
            op = rng.choice(ops)
            try:
                if op == "edit":
                    token = f"{args.user}.{n}"
                    result = app.instruments.edit(tag, InstrumentChanges(notes=token))
                    log.write(op=op, tag=tag, token=token, version=result.version)
                elif op == "calibration":
                    view = app.calibrations.add(
                        tag,
                        CalibrationInput(
                            performed_on=today - timedelta(days=rng.randint(0, 30)),
                            result="pass",
                            performed_by=args.user,
                            certificate_number=f"{args.user}-{n}",
                            points=(
                                PointInput(
                                    nominal=20.0, as_found=20.01, as_left=20.0, tolerance=0.1
                                ),
                            ),
                        ),
                    )
                    log.write(op=op, tag=tag, id=view.id, certificate=f"{args.user}-{n}")
                else:
                    att = app.attachments.add(tag, rng.choice(sources))
                    log.write(op=op, tag=tag, id=att.id, stored=att.stored_name, sha256=att.sha256)
            except StorageError as exc:
                # "rolled back — try again": the next round does another change.
                if not retry:
                    raise
                log.write(op="storage_error", stage=op, message=str(exc))
        log.close()
    finally:
        # Reached only when told to stop (or on an error): a clean close.
        app.close()
    return 0


# -- frozen-editor -----------------------------------------------------------------


def frozen_editor(args: argparse.Namespace) -> int:
    """Become the editor, say so, wait for "go" (the parent freezes us meanwhile), save."""
    folder = Path(args.folder)
    with open_db(args.db, Path(args.state), args.user, edit=True) as app:
        if not app.session.editing:
            raise SystemExit(f"not the editor: {app.session.read_only_reason}")
        write_json_atomic(folder / "ready.json", {"epoch": app.session.epoch, "pid": os.getpid()})
        while not (folder / "go").exists():
            time.sleep(0.01)
        try:
            app.instruments.edit(
                args.tag, InstrumentChanges(description="written by a fenced-off editor")
            )
        except CalTrackError as exc:
            write_json_atomic(
                folder / "outcome.json",
                {"outcome": type(exc).__name__, "message": str(exc)},
            )
            return 0
        write_json_atomic(folder / "outcome.json", {"outcome": "saved", "message": ""})
    return 0


# -- scanner ---------------------------------------------------------------------


def scanner(args: argparse.Namespace) -> int:
    """Another program on the share (backup agent, virus scanner, indexer): whenever
    ``--file`` exists, open it read-only and hold it for ``--hold-s``, until ``--stop``."""
    target, stop = Path(args.file), Path(args.stop)
    held = 0
    Path(args.ready).touch()
    while not stop.exists():
        try:
            fd = os.open(target, os.O_RDONLY)
        except OSError:
            time.sleep(0.001)
            continue
        held += 1
        time.sleep(args.hold_s)
        os.close(fd)
    write_json_atomic(Path(args.report), {"held": held})
    return 0


# -- entry point -------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.workload")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("edit-loop")
    p.add_argument("--db", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--worker", type=int, required=True)
    p.add_argument("--edits", type=int, required=True)
    p.add_argument("--tags", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hold-max", type=int, default=3)
    p.add_argument("--think-s", type=float, default=0.03)
    p.add_argument("--retry-storage-errors", action="store_true")
    p.set_defaults(run=edit_loop)

    p = sub.add_parser("race")
    p.add_argument("--db", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--arena", required=True)
    p.add_argument("--worker", type=int, required=True)
    p.add_argument("--rounds", type=int, required=True)
    p.add_argument("--tag", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=race)

    p = sub.add_parser("kill-writer")
    p.add_argument("--db", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--sources", required=True, help="folder of files to attach")
    p.add_argument("--user", required=True)
    p.add_argument("--tags", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ops", default="edit,edit,calibration,attach", help="drawn at random")
    p.add_argument("--retry-storage-errors", action="store_true")
    p.set_defaults(run=kill_writer)

    p = sub.add_parser("frozen-editor")
    p.add_argument("--db", required=True)
    p.add_argument("--state", required=True)
    p.add_argument("--folder", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--tag", required=True)
    p.set_defaults(run=frozen_editor)

    p = sub.add_parser("scanner")
    p.add_argument("--file", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--report", required=True)
    p.add_argument("--ready", required=True)
    p.add_argument("--hold-s", type=float, default=0.05)
    p.set_defaults(run=scanner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
