"""Journey: QA reviews an instrument's audit trail, in its tab and in the audit window.

REF-1 was calibrated twice; the second time it was found out of tolerance, which
opened a case. Its audit tab shows the instrument's events with those of its
calibrations and its case; the audit window, filtered by the tag a person types,
shows the same events, newest first, and reads an event's changes as lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.settings.user_settings import UserSettings
from app.ui.audit_window import AuditWindow
from app.ui.main_window import MainWindow
from tests.journeys.conftest import open_window
from tests.journeys.person import Person
from tests.ui.test_qa_dialogs import build_lab

WAIT_MS = 15_000


@pytest.fixture
def lab_window(qtbot: QtBot, app: CalTrack) -> Iterator[MainWindow]:
    """The window on REF-1 and two thermometers it calibrated; REF-1 has an open case."""
    build_lab(app)
    case = app.oot.list()[0]
    app.oot.assess(
        case.id,
        impact_assessment="Both thermometers were checked against REF-2: no impact.",
        disposition="no_impact",
    )
    win_iter = open_window(qtbot, app, UserSettings(reminders=False))
    win = next(win_iter)
    qtbot.waitUntil(lambda: win.model.rowCount() == 3, timeout=WAIT_MS)
    yield win
    next(win_iter, None)


def row_of_tag(window: MainWindow, tag: str) -> int:
    rows = [r for r in range(window.model.rowCount()) if window.model.index(r, 0).data() == tag]
    assert rows, f"{tag} is not in the register"
    return rows[0]


def tab_named(person: Person, window: MainWindow, name: str) -> None:
    """Clicks the detail pane's tab whose title reads ``name``."""
    tabs = window.detail.tabs
    titles = [tabs.tabText(i).replace("&", "") for i in range(tabs.count())]
    bar = tabs.tabBar()
    person.click(bar, bar.tabRect(titles.index(name)).center())


def tab_item(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    item = table.item(row, column)
    assert item is not None
    return item


def tab_event_ids(table: QTableWidget) -> list[int]:
    return [
        int(tab_item(table, r, 0).data(Qt.ItemDataRole.UserRole)) for r in range(table.rowCount())
    ]


def test_the_audit_window_shows_what_the_instrument_tab_shows(
    qtbot: QtBot,
    person: Person,
    lab_window: MainWindow,
    app: CalTrack,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    window = lab_window
    person.click_cell(window.table, row_of_tag(window, "REF-1"), 0)
    qtbot.waitUntil(
        lambda: window.history is not None and window.history.instrument.asset_tag == "REF-1",
        timeout=WAIT_MS,
    )
    tab_named(person, window, "Audit trail")
    audit_tab = window.detail.audit
    qtbot.waitUntil(lambda: audit_tab.isVisible() and audit_tab.rowCount() > 0, timeout=WAIT_MS)
    in_tab = tab_event_ids(audit_tab)
    subjects = {tab_item(audit_tab, r, 3).text() for r in range(audit_tab.rowCount())}
    assert "Out-of-tolerance case OOT-1 REF-1" in subjects, subjects

    person.menu(window, "View", "Audit trail…")
    trail = person.wait_for(AuditWindow)
    qtbot.waitUntil(lambda: not trail.searching and trail.model.rowCount() > 0, timeout=WAIT_MS)
    assert trail.count.styleSheet() == "", "nothing is wrong: no red note"
    everything = trail.shown_ids()
    assert everything == sorted(everything, reverse=True), "newest first"

    person.click(trail.entity)
    person.write("REF-1")
    qtbot.waitUntil(lambda: not trail.searching and trail.shown_ids() == in_tab, timeout=WAIT_MS)
    assert trail.shown_ids() == sorted(in_tab, reverse=True), "the same events, newest first"
    # Like the tab, from the beginning: the last 30 days would hide older events.
    assert trail.since.date() == QDate(2000, 1, 1)
    assert trail.count.text().startswith(f"{len(in_tab)} events up to 2026-11-23")
    kinds = {trail.model.event_at(r).entity_type for r in range(trail.model.rowCount())}  # type: ignore[union-attr]
    assert {"instrument", "calibration", "oot_case"} <= kinds

    # The case's assessment, newest of all: its details read as lines, not JSON.
    person.click_cell(trail.table, 0, 0)
    qtbot.waitUntil(lambda: trail.detail.toPlainText() != "", timeout=WAIT_MS)
    detail = trail.detail.toPlainText()
    assert detail.startswith(f"Event #{in_tab[0]} · ")
    assert "Out-of-tolerance case OOT-1 REF-1" in detail
    assert "Impact assessment: — → Both thermometers were checked" in detail, detail
    assert "Disposition: — → no impact" in detail
    assert "{" not in detail and '"' not in detail
    screenshot(trail, "audit-trail")

    # A calibration's readings read one per line too.
    rows = [
        r
        for r in range(trail.model.rowCount())
        if trail.model.event_at(r).entity_type == "calibration"  # type: ignore[union-attr]
        and trail.model.event_at(r).action == "create"  # type: ignore[union-attr]
    ]
    person.click_cell(trail.table, rows[0], 0)
    qtbot.waitUntil(lambda: "Reading 1: " in trail.detail.toPlainText(), timeout=WAIT_MS)
    assert "Reading 1: nominal 0 °C, as found 0.9, as left 0.1, ± 0.5" in trail.detail.toPlainText()
    person.press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not trail.isVisible(), timeout=WAIT_MS)
    QApplication.processEvents()
