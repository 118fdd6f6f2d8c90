"""Proof of many editors at once on a database server: real processes, real SIGKILL.

The same drivers and checkers as the shared-file proof (tests/integration/proof.py),
pointed at a database on this run's private PostgreSQL server:

- N processes × M overlapping saves on shared instruments, all at once (no editor
  lock): no lost update, every conflict reported to its writer, the audit chain intact
  and its replay equal to the tables.
- kill -9 of a client mid-transaction, again and again: nothing half-written (the
  tables equal their trail, every save a writer saw committed is there, ``db verify``
  clean after each kill).

Sizes: reduced by default; ``CALTRACK_FULL_PROOF=1`` adds 16 × 300 edits and 50 kills.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.integration.process_helpers import wait_until
from tests.integration.proof import (
    check_edit_run,
    check_server_kill_run,
    new_lab,
    report,
    require_notes_fit,
    rows,
    run_edit_workers,
    run_server_kill_loop,
    sizes,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

TAGS = ["TH-001", "TH-002", "PG-010", "DMM-7"]
# Every save appends its token to the notes, which hold at most NOTES_LEN characters: the
# full size's 4,800 saves on 4 instruments would need about 8,000 each (the first full run
# failed that way, half-way). On 12 instruments it is about 400 saves each, still made by
# all 16 writers at once.
FULL_TAGS = TAGS + [f"XT-{n:02d}" for n in range(1, 9)]


def test_the_full_size_fits_in_the_instruments_notes() -> None:
    require_notes_fit(workers=16, edits=300, tags=FULL_TAGS)
    with pytest.raises(ValueError, match="use more instruments"):
        require_notes_fit(workers=16, edits=300, tags=TAGS)


@sizes((3, 25, TAGS), (16, 300, FULL_TAGS))
def test_many_editors_on_a_server_lose_no_update(
    size: tuple[int, int, list[str]], pg_url: str, tmp_path: Path
) -> None:
    workers, edits, tags = size
    state = tmp_path / "state"
    new_lab(pg_url, state, tags)

    run = run_edit_workers(pg_url, tmp_path, workers=workers, edits=edits, tags=tags, seed=13)

    check_edit_run(pg_url, run, state, workers=workers, edits=edits, tags=tags)
    # Nobody waited for a lock: every writer edited at once (no epochs), and saves from
    # data another writer had meanwhile changed were refused and reported.
    assert {r["epoch"] for r in run.saved} == {0}
    assert run.conflicts
    report(
        "server edits",
        workers=workers,
        edits_each=edits,
        saved=len(run.saved),
        conflicts_refused=len(run.conflicts),
        seconds=round(run.seconds, 1),
    )


def _open_transactions(url: str) -> int:
    """Other backends of this database still inside a transaction."""
    [(n,)] = rows(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL",
    )
    return int(n)


@sizes(5, 50)
def test_kill9_of_a_server_client_mid_write(size: int, pg_url: str, tmp_path: Path) -> None:
    kills = size
    state = tmp_path / "state"
    new_lab(pg_url, state, TAGS[:2])

    run = run_server_kill_loop(pg_url, tmp_path, kills=kills, tags=TAGS[:2], seed=7)

    # The server rolled back what each killed client left open.
    wait_until(lambda: _open_transactions(pg_url) == 0, "the killed clients' transactions end")
    check_server_kill_run(pg_url, run, state)
    edits = sum(1 for c in run.committed if c["op"] == "edit")
    report(
        "server kill -9",
        kills=kills,
        committed_edits=edits,
        committed_calibrations=len(run.committed) - edits,
        seconds=round(run.seconds, 1),
    )
