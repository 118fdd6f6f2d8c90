"""The audit trail window on a real trail written by two people over two months: the
filters, the limit said honestly, the model, the detail of an event, export of what
is shown, and the chain's state — intact, and broken by an edit made with sqlite3."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDateTimeEdit, QMenu
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.identity import Identity
from app.services.dto import InstrumentChanges
from app.settings.user_settings import UserSettings
from app.ui import audit_window
from app.ui.audit_window import EXPORT_HEADER, AuditWindow, day_of_event
from app.ui.look import status_color
from app.ui.main_window import MainWindow
from app.ui.models.audit_table import (
    COL_CHANGES,
    COL_ENTITY,
    COL_USER,
    AuditTableModel,
    change_summary,
)
from app.ui.tasks import TaskRunner
from tests.conftest import NOW, add_thermometer
from tests.ui.conftest import Shown
from tests.unit.qa_helpers import BOB, calibrate, open_as

WAIT_MS = 20_000
EARLY = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)  # before the default 30 days


@dataclass(frozen=True)
class Trail:
    db: Path
    old_event: int  # OLD-1 added on 2026-09-01
    th2_created: int  # TH-002 added today by alice
    bob_event: int  # bob moved TH-002 today


def _last_event(app: CalTrack) -> int:
    return app.audit.recent(limit=1)[0].id


@pytest.fixture
def trail(tmp_path: Path, alice: Identity, clock: FixedClock) -> Trail:
    db = tmp_path / "lab.db"
    with open_caltrack(
        str(db), create=True, identity=alice, clock=FixedClock(EARLY), state_dir=tmp_path / "state"
    ) as early:
        add_thermometer(early, "OLD-1", description="Old thermometer")
        old = _last_event(early)
    with open_as(db, alice, clock) as app:
        add_thermometer(app, "TH-001")
        calibrate(app, "TH-001", "2026-11-20")
        add_thermometer(app, "TH-002", location="Lab 1")
        th2 = _last_event(app)
    with open_as(db, BOB, clock) as app:
        app.instruments.edit("TH-002", InstrumentChanges(location="Lab 2"))
        bob = _last_event(app)
    return Trail(db, old, th2, bob)


@pytest.fixture
def lab(trail: Trail, alice: Identity, clock: FixedClock) -> Iterator[CalTrack]:
    with open_as(trail.db, alice, clock) as app:
        yield app


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.wait()


def open_window(qtbot: QtBot, app: CalTrack, runner: TaskRunner) -> AuditWindow:
    window = AuditWindow(app=app, runner=runner)
    qtbot.addWidget(window)
    with qtbot.waitSignals([window.verified, window.searched], timeout=WAIT_MS):
        window.show()
    return window


def search(qtbot: QtBot, window: AuditWindow, change: Any) -> None:
    """Change a filter and wait for the (debounced) search it starts."""
    with qtbot.waitSignal(window.searched, timeout=WAIT_MS):
        change()


def truncated(window: AuditWindow) -> bool:
    return window.truncated


def shown_entities(window: AuditWindow) -> list[str]:
    model = window.model
    return [str(model.index(r, COL_ENTITY).data()) for r in range(model.rowCount())]


def test_the_model_passes_qtmodeltester(qtmodeltester: Any, lab: CalTrack) -> None:
    model = AuditTableModel()
    model.set_events(lab.audit.search(limit=None))
    assert model.rowCount() >= 5
    qtmodeltester.check(model, force_py=True)


def test_filters_by_days_entity_type_user_and_entity(
    qtbot: QtBot, lab: CalTrack, trail: Trail, runner: TaskRunner, shown: Shown
) -> None:
    window = open_window(qtbot, lab, runner)
    # The last 30 days by default: OLD-1's creation in September is not among them.
    assert window.since.date() == QDate(2026, 10, 24) and window.until.date() == QDate(2026, 11, 23)
    assert trail.old_event not in window.shown_ids()
    assert trail.th2_created in window.shown_ids() and trail.bob_event in window.shown_ids()
    assert window.count.text().endswith("from 2026-10-24 to 2026-11-23 (UTC days, both included).")
    search(qtbot, window, lambda: window.since.setDate(QDate(2026, 9, 1)))
    assert trail.old_event in window.shown_ids()
    assert window.shown_ids() == sorted(window.shown_ids(), reverse=True), "newest first"

    calibrations = window.entity_type.findData("calibration")
    search(qtbot, window, lambda: window.entity_type.setCurrentIndex(calibrations))
    assert shown_entities(window) == ["Calibration TH-001 #1"]
    search(qtbot, window, lambda: window.entity_type.setCurrentIndex(0))

    # Users seen are offered; a user's own events only.
    users = [window.user.itemText(i) for i in range(window.user.count())]
    assert "alice" in users and "bob" in users
    search(qtbot, window, lambda: window.user.setCurrentText("bob"))
    assert window.shown_ids() == [trail.bob_event]
    row_user = window.model.index(0, COL_USER).data()
    assert row_user == "bob"
    assert window.model.index(0, COL_CHANGES).data() == "location: Lab 1 → Lab 2"
    search(qtbot, window, lambda: window.user.setCurrentText(""))

    # An asset tag takes its calibrations along, not other instruments.
    search(qtbot, window, lambda: window.entity.setText("th-001"))
    assert set(shown_entities(window)) == {"Instrument TH-001", "Calibration TH-001 #1"}
    search(qtbot, window, lambda: window.entity.setText("NOPE-1"))
    assert window.model.rowCount() == 0
    assert window.count.text() == "No audit event matches these filters."
    assert not window.export_button.isEnabled()

    # A period that ends before it starts is said, not searched.
    window.since.setDate(QDate(2026, 12, 1))
    window.search()
    assert window.count.text() == "The From day is after the To day: nothing to show."
    assert not shown.boxes


def test_the_limit_is_said_when_it_is_reached(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_window, "LIMITS", (3, 50))
    window = open_window(qtbot, lab, runner)
    assert window.model.rowCount() == 3 and truncated(window)
    assert window.count.text().startswith("The newest 3 events from 2026-10-24 to 2026-11-23")
    assert window.count.styleSheet() == "", "the limit is a choice, said quietly (not red)"
    search(qtbot, window, lambda: window.limit.setCurrentIndex(1))
    assert not truncated(window)
    assert window.model.rowCount() == len(
        lab.audit.search(since=datetime(2026, 10, 24, tzinfo=UTC))
    )


def test_the_selected_event_shows_everything_recorded(
    qtbot: QtBot, lab: CalTrack, trail: Trail, runner: TaskRunner
) -> None:
    window = open_window(qtbot, lab, runner)
    window.show_event(trail.bob_event)
    text = window.detail.toPlainText()
    assert text.startswith(f"Event #{trail.bob_event} · 2026-11-23 09:30:00 UTC · bob on LAB-PC-4")
    assert "\nLocation: Lab 1 → Lab 2\n" in text, "a readable line, not JSON"
    (event,) = [e for e in window.model.events() if e.id == trail.bob_event]
    assert f"Hash: {event.hash}" in text
    row = window.model.row_of(trail.bob_event)
    assert row is not None
    tip = window.model.index(row, COL_CHANGES).data(Qt.ItemDataRole.ToolTipRole)
    assert json.loads(tip) == {"location": ["Lab 1", "Lab 2"]}


def test_a_clean_chain_is_shown_intact(qtbot: QtBot, lab: CalTrack, runner: TaskRunner) -> None:
    window = open_window(qtbot, lab, runner)
    total = len(lab.audit.search(limit=None))
    assert window.chain.text() == f"Audit chain intact: {total:,} events checked"
    assert status_color("ok").name() in window.chain.styleSheet()
    assert not window.problems.isVisible() and not window.jump_button.isVisible()


def test_a_tampered_event_breaks_the_chain_and_is_shown(
    qtbot: QtBot, trail: Trail, alice: Identity, clock: FixedClock, runner: TaskRunner
) -> None:
    with sqlite3.connect(trail.db) as con:
        (changes,) = con.execute(
            "SELECT changes FROM audit_event WHERE id = ?", (trail.th2_created,)
        ).fetchone()
        forged = json.loads(changes)
        forged["description"] = [None, "Forged thermometer"]
        con.execute(
            "UPDATE audit_event SET changes = ? WHERE id = ?",
            (json.dumps(forged, sort_keys=True, separators=(",", ":")), trail.th2_created),
        )
    with open_as(trail.db, alice, clock) as app:
        window = open_window(qtbot, app, runner)
        bad = trail.th2_created
        assert window.chain.text() == (
            f"Audit chain BROKEN at event #{bad}: audit event #{bad} (create instrument "
            "TH-002) was changed outside CalTrack: its hash does not match"
        )
        assert status_color("overdue").name() in window.chain.styleSheet()
        assert window.report is not None and window.report.first_bad_event == bad
        # The rest of what verify found is listed: the table no longer matches its trail.
        assert window.problems.isVisible()
        assert "instrument TH-002" in window.problems.toPlainText()
        assert "differs from its audit trail in description" in window.problems.toPlainText()
        # Filtered away from it, the button brings it back and selects it.
        search(qtbot, window, lambda: window.entity.setText("OLD-1"))
        assert bad not in window.shown_ids()
        assert window.jump_button.isVisible() and window.jump_button.text() == f"&Show event #{bad}"
        with qtbot.waitSignal(window.searched, timeout=WAIT_MS):
            window.jump_button.click()
        assert window.entity.text() == "" and window.since.date() == QDate(2026, 11, 23)
        index = window.table.selectionModel().currentIndex()
        assert window.model.event_at(index.row()) is not None
        selected = window.model.event_at(index.row())
        assert selected is not None and selected.id == bad
        assert "Forged thermometer" in window.detail.toPlainText()
        # The row is marked, and the count says how the filters changed to show it.
        mark = window.model.index(index.row(), 0)
        assert window.model.data(mark) == f"#{bad}"
        assert not window.model.data(mark, Qt.ItemDataRole.DecorationRole).isNull()
        assert "chain breaks here" in window.model.data(mark, Qt.ItemDataRole.ToolTipRole)
        assert window.count.text().startswith(f"To show event #{bad}, the filters now show")


def test_day_of_event_finds_the_day_with_a_few_searches(lab: CalTrack, trail: Trail) -> None:
    assert day_of_event(lab.audit, trail.old_event) == date(2026, 9, 1)
    assert day_of_event(lab.audit, trail.bob_event) == NOW.date()
    assert day_of_event(lab.audit, 10_000) is None


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_what_is_shown_exports_and_reads_back(
    qtbot: QtBot,
    lab: CalTrack,
    runner: TaskRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    suffix: str,
) -> None:
    window = open_window(qtbot, lab, runner)
    search(qtbot, window, lambda: window.entity.setText("TH-002"))
    events = window.model.events()
    assert len(events) == 2
    target = tmp_path / f"trail{suffix}"
    offered: list[str] = []

    def choose(parent: object, suggested: str) -> str:
        offered.append(suggested)
        return str(target)

    monkeypatch.setattr(audit_window, "choose_export_file", choose)
    window.export_button.click()
    qtbot.waitUntil(lambda: window.count.text().startswith("Saved"), timeout=WAIT_MS)
    assert offered == ["audit-trail-to-2026-11-23.xlsx"]  # a tag typed: from the beginning
    assert window.count.text() == f"Saved trail{suffix} (2 events) in {tmp_path}."
    if suffix == ".csv":
        with target.open(encoding="utf-8-sig", newline="") as handle:
            table = list(csv.reader(handle))
        assert tuple(table[0]) == EXPORT_HEADER
        assert [r[0] for r in table[1:]] == [str(e.id) for e in events]
        # Newest first: bob's move of TH-002 leads.
        assert table[1][1] == "2026-11-23 09:30:00"
        assert table[1][7] == change_summary(events[0]) == "location: Lab 1 → Lab 2"
        assert json.loads(table[1][8]) == {"location": ["Lab 1", "Lab 2"]}
    else:
        sheet = openpyxl.load_workbook(target)["Audit trail"]
        values = [[c.value for c in r] for r in sheet.iter_rows()]
        assert tuple(values[0]) == EXPORT_HEADER
        assert [r[0] for r in values[1:]] == [e.id for e in events]
        assert values[1][2] == "bob" and values[1][7] == "location: Lab 1 → Lab 2"
    assert not list(tmp_path.glob("*.tmp*")), "written through a temp file, renamed"


def test_from_the_window_menu_and_the_instruments_audit_tab(
    qtbot: QtBot, lab: CalTrack, trail: Trail, shown: Shown
) -> None:
    runner = TaskRunner()
    win = MainWindow(app=lab, runner=runner, settings=UserSettings(reminders=False))
    qtbot.addWidget(win)
    win.show()
    try:
        action = win.transfer.act_audit
        assert action.shortcut().toString() == "Ctrl+Shift+T"
        view_menu = next(m for m in win.menuBar().actions() if m.text() == "&View").menu()
        assert isinstance(view_menu, QMenu) and action in view_menu.actions()
        win.qa.select_instrument("TH-002")
        qtbot.waitUntil(
            lambda: win.history is not None and win.history.instrument.asset_tag == "TH-002",
            timeout=WAIT_MS,
        )
        item = win.detail.audit.item(0, 0)  # newest first: bob's move
        assert item is not None
        win.detail.audit.itemDoubleClicked.emit(item)
        window = win.transfer.audit_window
        assert window is not None and window.isVisible()
        qtbot.waitUntil(lambda: trail.bob_event in window.shown_ids(), timeout=WAIT_MS)
        assert window.entity.text() == "TH-002" and window.since.date() == QDate(2000, 1, 1)
        qtbot.waitUntil(
            lambda: window.detail.toPlainText().startswith(f"Event #{trail.bob_event}"),
            timeout=WAIT_MS,
        )
        assert not shown.boxes
    finally:
        win.close()
        runner.wait()


def test_until_cannot_be_typed_past_the_calendar_caltrack_keeps(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner, shown: Shown
) -> None:
    """Typing the year 9999 used to search "until 9999-12-31 + 1 day": OverflowError."""
    window = open_window(qtbot, lab, runner)
    window.until.setFocus()
    window.until.setSelectedSection(QDateTimeEdit.Section.YearSection)
    QTest.keyClicks(window.until, "9999")
    QTest.keyClick(window.until, Qt.Key.Key_Return)
    assert window.until.date() <= QDate(2200, 12, 31)
    qtbot.waitUntil(lambda: not window.searching, timeout=WAIT_MS)
    assert shown.boxes == []
