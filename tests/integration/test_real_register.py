"""A real register imports as it comes: one dry run, one import, questionable rows flagged.

The register (tests/integration/real_register.py) is 200 rows in a lab's own words, with
service-only instruments and a few rows whose old history contradicts itself. Done when
the dry run names what needs the lab's decision (one line per value, not per row), the
import with those few decisions takes every row, the contradictory rows and only they
are flagged for QA, and an export gives the recorded dates back.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.integration.helpers import open_lab, run_cli
from tests.integration.real_register import UNGUESSED, write_register

DECISIONS = {
    "old-database": ("Status:EXTENDED=in_service", "Status:PR#33199=out_of_service"),
    "spreadsheet": ("Status:On loan=in_service",),
}


@pytest.mark.parametrize(
    ("vocabulary", "name"),
    [
        ("old-database", "register.csv"),
        ("spreadsheet", "register.csv"),
        ("old-database", "register.xlsx"),
    ],
)
def test_a_200_row_register_imports_in_one_dry_run_and_one_import(
    tmp_path: Path, vocabulary: str, name: str
) -> None:
    db = tmp_path / "lab.db"
    with open_lab(db, create=True) as app:
        today = app.clock.today()
    facts = write_register(tmp_path / name, today, vocabulary=vocabulary)

    dry = run_cli(db, "import", "instruments", name, "--dry-run", "--json")
    assert dry.returncode == 2, dry.stderr
    preview = json.loads(dry.stdout)
    unmapped = {
        (table["column"], value["value"])
        for table in preview["values"]
        for value in table["values"]
        if value["target"] is None
    }
    # What needs the lab's decision: its own words nothing can guess, and what a
    # frequency of 0 means. Nothing else; no row is refused for being old.
    assert unmapped == {("Status", w) for w in UNGUESSED[vocabulary]} | {
        ("Frequency (Months)", "0")
    }
    assert [e for e in preview["errors"] if not e["unmapped_value"]] == []

    decisions = [*DECISIONS[vocabulary], "Frequency (Months):0=not_required"]
    values = [a for d in decisions for a in ("--value", d)]
    done = run_cli(db, "import", "instruments", name, *values)
    assert done.returncode == 0, (done.stdout, done.stderr)

    with open_lab(db) as app:
        rows = app.instruments.list(limit=None).rows
        assert len(rows) == facts.rows
        assert {r.asset_tag: r.lifecycle for r in rows} == facts.statuses
        assert {r.asset_tag for r in rows if r.requirement == "not_required"} == (
            facts.service_only
        )
        flagged = {r.asset_tag for r in rows if r.review_reason}
        assert flagged == set(facts.contradictory)
        assert app.instruments.status_counts()["to-review"] == len(facts.contradictory)
        # Service-only instruments are never due and never overdue.
        overdue = {r.asset_tag for r in app.instruments.list(status="overdue", limit=None).rows}
        assert not overdue & facts.service_only
        exported = app.transfer.export("csv", tmp_path / "back")
    with open(exported.files[0], encoding="utf-8-sig", newline="") as f:
        written = {r["Asset tag"]: (r["Last calibrated"], r["Next due"]) for r in csv.DictReader(f)}
    assert written == facts.dates
