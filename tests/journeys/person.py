"""How a journey acts: only what a person at the screen can do.

A person clicks widgets they can see (visible and enabled, at their centre), presses
keys into the widget that has the keyboard focus, opens menus by clicking the menu bar
and then the entry, and answers a dialog once it is on screen. Nothing here calls a slot
or a dialog method in place of a click. Asserting what is shown and stored is the
test's own business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import shiboken6
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTableView,
    QWidget,
)
from pytestqt.qtbot import QtBot

W = TypeVar("W", bound=QWidget)
WAIT_MS = 15_000


def gone(widget: QWidget) -> bool:
    """The dialog (or window) is off screen: hidden, or already deleted by Qt (a dialog
    opened with ``open_modal`` is deleted right after it finished)."""
    return not shiboken6.isValid(widget) or not widget.isVisible()


def _plain(text: str) -> str:
    return text.replace("&", "").replace("…", "").replace("...", "").strip()


def whole_headers(table: QAbstractItemView) -> list[str]:
    """The column titles that are cut off (narrower than their text needs)."""
    assert isinstance(table, QTableView)
    header = table.horizontalHeader()
    model = table.model()
    return [
        str(model.headerData(c, Qt.Orientation.Horizontal))
        for c in range(header.count())
        if header.sectionSize(c) < header.sectionSizeHint(c)
    ]


class Person:
    """Drives the window through clicks and key presses, the way a person does."""

    def __init__(self, qtbot: QtBot) -> None:
        self.qtbot = qtbot

    # -- seeing ------------------------------------------------------------------

    def top(self) -> QWidget:
        """The window the person is looking at: the active modal dialog, else the active one."""
        modal = QApplication.activeModalWidget()
        if modal is not None:
            return modal
        active = QApplication.activeWindow()
        assert active is not None, "no window is active"
        return active

    def wait_for(self, kind: type[W], *, where: Callable[[W], bool] | None = None) -> W:
        """Waits until a visible top-level window of ``kind`` is on screen, then returns it."""
        found: list[W] = []

        def shown() -> bool:
            for widget in QApplication.topLevelWidgets():
                if not isinstance(widget, kind) or not widget.isVisible():
                    continue
                if where is None or where(widget):
                    found[:] = [widget]
                    return True
            return False

        self.qtbot.waitUntil(shown, timeout=WAIT_MS)
        widget = found[0]
        self.qtbot.waitUntil(
            lambda: widget.isActiveWindow() or not widget.isModal(), timeout=WAIT_MS
        )
        return widget

    def wait_for_box(self, containing: str = "") -> QMessageBox:
        """Waits for a message box whose text contains ``containing``."""
        return self.wait_for(
            QMessageBox,
            where=lambda box: containing in box.text() or containing in box.informativeText(),
        )

    def button(self, text: str, within: QWidget | None = None) -> QAbstractButton:
        """The visible button labelled ``text`` (ampersands and ellipses ignored)."""
        root = within if within is not None else self.top()
        wanted = _plain(text)
        matches = [
            b
            for b in root.findChildren(QAbstractButton)
            if b.isVisible() and _plain(b.text()) == wanted
        ]
        assert matches, f"no visible button {text!r} in {root.windowTitle()!r}: " + ", ".join(
            repr(b.text()) for b in root.findChildren(QAbstractButton) if b.isVisible()
        )
        assert len(matches) == 1, f"{len(matches)} buttons labelled {text!r}"
        return matches[0]

    # -- acting ------------------------------------------------------------------

    def click(self, widget: QWidget, at: QPoint | None = None) -> None:
        """A left click on a visible, enabled widget (at its centre unless told)."""
        self.qtbot.waitUntil(widget.isVisible, timeout=WAIT_MS)
        assert widget.isEnabled(), f"{widget!r} is disabled: {widget.toolTip()}"
        QTest.mouseClick(
            widget,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            at or widget.rect().center(),
        )

    def click_button(self, text: str, within: QWidget | None = None) -> None:
        self.click(self.button(text, within))

    def click_cell(
        self, view: QAbstractItemView, row: int, column: int, *, double: bool = False
    ) -> None:
        """Clicks (or double-clicks) a cell of a table or list the person can see."""
        index = view.model().index(row, column)
        view.scrollTo(index)
        rect = view.visualRect(index)
        assert rect.isValid(), f"cell {row},{column} is not visible"
        where = rect.center()
        QTest.mouseClick(
            view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where
        )
        if double:
            QTest.mouseDClick(
                view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where
            )

    def focused(self) -> QWidget:
        widget = QApplication.focusWidget()
        assert widget is not None, "no widget has the keyboard focus"
        return widget

    def write(self, text: str) -> None:
        """Types into the widget that has the keyboard focus.

        Key by key, each to the widget focused at that moment, as a keyboard does: the
        first key may open an editor (a table cell) that takes the rest.
        """
        for char in text:
            QTest.keyClicks(self.focused(), char)

    def press(
        self, key: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
    ) -> None:
        """Presses one key (with modifiers) into the focused widget, or the active window."""
        target = QApplication.focusWidget() or self.top()
        QTest.keyClick(target, key, modifiers)

    def shortcut(self, sequence: str) -> None:
        """Presses a shortcut such as "Ctrl+N" into the focused widget."""
        target = QApplication.focusWidget() or self.top()
        QTest.keySequence(target, QKeySequence(sequence))

    def clear_and_type(self, text: str) -> None:
        """Selects all in the focused field and types over it (Ctrl+A, then the text)."""
        self.press(Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        self.write(text)

    def menu(self, window: QMainWindow, *path: str) -> None:
        """Clicks a menu title in the menu bar, then each entry along ``path``."""
        bar = window.menuBar()
        title, *entries = path
        actions = [a for a in bar.actions() if _plain(a.text()) == _plain(title)]
        assert actions, f"no menu {title!r}"
        QTest.mouseClick(
            bar,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
            bar.actionGeometry(actions[0]).center(),
        )
        menu = actions[0].menu()
        assert isinstance(menu, QMenu)
        for i, entry in enumerate(entries):
            self.qtbot.waitUntil(menu.isVisible, timeout=WAIT_MS)
            found = [a for a in menu.actions() if _plain(a.text()) == _plain(entry)]
            assert found, f"no entry {entry!r} in menu {title!r}: " + ", ".join(
                repr(a.text()) for a in menu.actions() if a.text()
            )
            action: QAction = found[0]
            assert action.isEnabled(), f"menu entry {entry!r} is disabled"
            rect = menu.actionGeometry(action)
            # The last click may open a modal dialog: answer it with ``answers``.
            QTest.mouseClick(
                menu, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
            )
            if i + 1 < len(entries):
                sub = action.menu()
                assert isinstance(sub, QMenu)
                menu = sub

    @contextmanager
    def answers(
        self,
        kind: type[W],
        handler: Callable[[W], object],
        *,
        where: Callable[[W], bool] | None = None,
    ) -> Iterator[None]:
        """Answers the dialog of ``kind`` that the actions inside the block open.

        For a dialog that blocks (``exec()``: message boxes, file pickers, the start-up
        questions) the person's answer has to be given from inside its event loop: the
        handler runs once the dialog is on screen and active, and the block ends only
        after it ran (its failure is raised here). A dialog opened with ``open_modal``
        does not block: the journey finds it with :meth:`wait_for` and goes on.
        """
        done: list[bool] = []
        failures: list[BaseException] = []
        timer = QTimer()
        timer.setInterval(20)

        def look() -> None:
            for widget in QApplication.topLevelWidgets():
                if not isinstance(widget, kind) or not widget.isVisible():
                    continue
                if not widget.isActiveWindow() or (where is not None and not where(widget)):
                    continue
                timer.stop()
                try:
                    handler(widget)
                except BaseException as exc:  # noqa: BLE001 - raised in the test below
                    failures.append(exc)
                    if shiboken6.isValid(widget):
                        widget.close()
                done.append(True)
                return

        timer.timeout.connect(look)
        timer.start()
        try:
            yield
            self.qtbot.waitUntil(lambda: bool(done), timeout=WAIT_MS)
        finally:
            timer.stop()
            # The timer and its slot form a cycle: let Qt delete it here, in the GUI
            # thread, rather than the garbage collector wherever it next runs.
            timer.deleteLater()
        if failures:
            raise failures[0]

    def grab(self, widget: QWidget, path: str) -> None:
        """Saves what the person sees of ``widget`` (for docs/screenshots)."""
        QApplication.processEvents()
        assert widget.grab().save(path), f"could not save {path}"
