"""Journeys: at the default 1280x800 window the detail pane's tables show their
columns without a horizontal scroll bar (long text is elided, its tooltip has it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QMessageBox,
    QScrollArea,
    QWidget,
)
from pytestqt.qtbot import QtBot

from app.ui.main_window import MainWindow
from tests.journeys.person import Person, gone, whole_headers


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
    assert whole_headers(table) == [], "column titles cut off"
    audit_index = detail.tabs.indexOf(detail.audit)
    person.click(bar, bar.tabRect(audit_index).center())
    qtbot.waitUntil(lambda: detail.audit.rowCount() > 0, timeout=10_000)
    QApplication.processEvents()
    assert not detail.audit.horizontalScrollBar().isVisible(), "the audit trail scrolls sideways"


MENU_DIALOGS = [
    ("Instrument", "New instrument…"),
    ("Instrument", "Edit instrument…"),
    ("Instrument", "New calibration…"),
    ("File", "Export everything…"),
    ("Reports", "Due list…"),
    ("Reports", "Instrument history…"),
    ("Reports", "Labels…"),
    ("Database", "Users and roles…"),
    ("Database", "Instrument types…"),
    ("File", "Preferences…"),
    ("QA", "My printed name…"),
    ("QA", "My signing password…"),
]


@pytest.mark.parametrize(("title", "entry"), MENU_DIALOGS)
def test_menu_dialogs_fit_a_laptop_screen(
    qtbot: QtBot, person: Person, demo_window: MainWindow, title: str, entry: str
) -> None:
    """Each dialog opened from a menu fits 1280x800 and shows its fields unscrolled."""
    window = demo_window
    person.click_cell(window.table, 0, 0)
    qtbot.waitUntil(lambda: window.history is not None, timeout=10_000)
    seen: list[str] = []

    def look(dialog: QDialog) -> None:
        QApplication.processEvents()
        size = dialog.frameGeometry().size()
        assert size.width() <= 1280 and size.height() <= 800, f"{entry} is {size}"
        for area in dialog.findChildren(QScrollArea):
            if area.isVisible():
                assert not area.verticalScrollBar().isVisible(), f"{entry} scrolls"
                assert not area.horizontalScrollBar().isVisible(), f"{entry} scrolls sideways"
        seen.append(dialog.windowTitle())
        person.press(Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)

    with person.answers(QDialog, look, where=lambda d: not isinstance(d, QMessageBox)):
        person.menu(window, title, entry)
    assert seen
