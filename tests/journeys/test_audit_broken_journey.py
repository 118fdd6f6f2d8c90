"""Journey: someone changed an audit event past CalTrack (a sqlite3 shell on the file, psql
on the server); QA opens the audit trail and sees it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.settings.user_settings import UserSettings
from app.ui.audit_window import AuditWindow
from app.ui.look import apply_theme
from app.ui.main_window import MainWindow
from tests.conftest import state_for
from tests.integration.helpers import query, tamper
from tests.journeys.conftest import open_window
from tests.journeys.person import Person

WAIT_MS = 15_000


@pytest.fixture
def forged(demo_db: str) -> int:
    """Rewrites one creation event behind CalTrack's back, as an outsider with a sqlite3
    shell on the file or psql on the server would."""
    [(event_id, changes)] = query(
        demo_db,
        "SELECT id, changes FROM audit_event WHERE action = 'create' "
        "AND entity_type = 'instrument' ORDER BY id LIMIT 1 OFFSET 3",
    )
    forged = json.loads(str(changes))
    forged["description"] = [None, "Forged description"]
    literal = json.dumps(forged, sort_keys=True, separators=(",", ":")).replace("'", "''")
    tamper(demo_db, f"UPDATE audit_event SET changes = '{literal}' WHERE id = {event_id}")
    return int(str(event_id))


@pytest.fixture
def dark_window(
    qtbot: QtBot, demo_db: str, forged: int, clock: FixedClock, alice: Identity, tmp_path: Path
) -> Iterator[MainWindow]:
    qapp = QApplication.instance()
    assert isinstance(qapp, QApplication)
    apply_theme(qapp, "dark")
    with open_caltrack(demo_db, identity=alice, clock=clock, state_dir=state_for(demo_db)) as app:
        yield from open_window(qtbot, app, UserSettings(reminders=False, theme="dark"))
    apply_theme(qapp, "light")


def test_a_forged_event_shows_as_a_broken_chain(
    qtbot: QtBot,
    person: Person,
    dark_window: MainWindow,
    forged: int,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    person.menu(dark_window, "View", "Audit trail…")
    trail = person.wait_for(AuditWindow)
    qtbot.waitUntil(lambda: trail.report is not None, timeout=60_000)
    assert trail.chain.text().startswith(f"Audit chain BROKEN at event #{forged}:")
    assert "changed outside CalTrack" in trail.chain.text()
    assert trail.jump_button.isVisible()
    person.click(trail.jump_button)

    def selected() -> int | None:
        current = trail.table.selectionModel().currentIndex()
        event = trail.model.event_at(current.row()) if current.isValid() else None
        return event.id if event is not None else None

    # Wait for the selection, not for the row: the window's first search may still be on
    # its way when the button is clicked, and it can show the event before the jump
    # (which then selects it) has finished.
    qtbot.waitUntil(lambda: selected() == forged, timeout=WAIT_MS)
    screenshot(trail, "audit-broken-dark")
    trail.close()
