"""The database server restarted under an open CalTrack: it reconnects, and a save the
crash interrupted is either wholly there or wholly absent, and said so.

The server is this run's private one, crashed (``pg_ctl -m immediate``) and started again
on the same socket; the windows' side of the same story is in tests/ui/test_live_updates.py
and tests/journeys/test_server_restart_journey.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import ServerLostError
from app.identity import Identity
from app.services.dto import InstrumentChanges
from tests.conftest import add_thermometer
from tests.pg_server import PgServer


@pytest.fixture
def lab(pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path) -> Iterator[CalTrack]:
    with open_caltrack(pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path) as app:
        add_thermometer(app, "TH-001")
        yield app


def events(app: CalTrack) -> int:
    """Events in the audit trail, checked whole (chain, and its replay against the tables)."""
    report = app.audit.verify()
    assert report.problems == []
    return report.events


def test_the_first_read_and_save_after_a_restart_reconnect(
    pg_server: PgServer, lab: CalTrack
) -> None:
    with pg_server.down():
        pass  # nothing asked meanwhile: every pooled connection died unnoticed
    assert [r.asset_tag for r in lab.instruments.list().rows] == ["TH-001"]
    with pg_server.down():
        pass
    add_thermometer(lab, "TH-002")
    assert [r.asset_tag for r in lab.instruments.list().rows] == ["TH-001", "TH-002"]


def test_a_crash_in_the_middle_of_a_save_leaves_none_of_it_and_says_to_look(
    pg_server: PgServer, lab: CalTrack
) -> None:
    before = events(lab)
    version = lab.instruments.get("TH-001").version
    crashed: list[bool] = []

    def crash_after_the_first_statements(session: Session, _context: Any) -> None:
        # The change is on the server, inside its transaction, not yet committed.
        if not crashed:
            crashed.append(True)
            pg_server.psql("CHECKPOINT")
            pg_server.halt()

    event.listen(Session, "after_flush", crash_after_the_first_statements)
    try:
        with pytest.raises(ServerLostError) as lost:
            lab.instruments.edit(
                "TH-001", InstrumentChanges(location="Lab 9"), expected_version=version
            )
    finally:
        event.remove(Session, "after_flush", crash_after_the_first_statements)
        if crashed:
            pg_server.start()
    assert crashed == [True]
    # Dropped part way: CalTrack cannot know whether the server committed, and says so.
    said = str(lost.value)
    assert "lost during the save; your entry is kept" in said
    assert "refresh to see whether the change is there" in said
    assert "Traceback" not in said
    # It had not committed: none of it is there (the row, its event, the chain's head).
    stored = lab.instruments.get("TH-001")
    assert stored.location != "Lab 9"
    assert stored.version == version
    assert events(lab) == before
    # Saved again against the version it was typed on: accepted, once.
    lab.instruments.edit("TH-001", InstrumentChanges(location="Lab 9"), expected_version=version)
    assert lab.instruments.get("TH-001").location == "Lab 9"
    assert events(lab) == before + 1
