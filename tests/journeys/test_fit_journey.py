"""Journeys: at the default 1280x800 window the detail pane's tables show their
columns without a horizontal scroll bar (long text is elided, its tooltip has it)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from tests.journeys.person import Person


def test_history_and_audit_tables_do_not_scroll_sideways(
    qtbot: QtBot,
    person: Person,
    demo_window: MainWindow,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    window = demo_window
    assert (window.width(), window.height()) == (1280, 800)
    person.click_cell(window.table, 0, 0)
    qtbot.waitUntil(lambda: window.history is not None, timeout=10_000)
    detail = window.detail
    bar = detail.tabs.tabBar()
    person.click(bar, bar.tabRect(detail.cal_tab).center())
    qtbot.waitUntil(lambda: detail.calibrations.rowCount() > 0, timeout=10_000)
    table = detail.calibrations
    qtbot.waitUntil(lambda: table.horizontalHeader().length() <= table.viewport().width())
    QApplication.processEvents()
    assert not table.horizontalScrollBar().isVisible(), "the history scrolls sideways"
    screenshot(window, "detail-history-fits")
    header = table.horizontalHeader()
    assert header.length() <= table.viewport().width()
    audit_index = detail.tabs.indexOf(detail.audit)
    person.click(bar, bar.tabRect(audit_index).center())
    qtbot.waitUntil(lambda: detail.audit.rowCount() > 0, timeout=10_000)
    QApplication.processEvents()
    assert not detail.audit.horizontalScrollBar().isVisible(), "the audit trail scrolls sideways"
