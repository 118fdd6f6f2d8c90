"""Journey: a register that speaks the lab's own status words, imported with the wizard.

The Values page lists each status word of the file with its rows and what it becomes:
the guesses marked as guesses, PR#33199 NOT MAPPED and holding Next. The person picks
"retired" for it in the combo by keyboard, imports, and finds the statuses stored as
chosen; a second file with the same columns shows the choice as remembered.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QWidget, QWizard
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.ui.dialogs.import_values_page import ValuesView
from app.ui.dialogs.import_wizard import (
    PAGE_DONE,
    PAGE_MAPPING,
    PAGE_PREVIEW,
    PAGE_READING,
    PAGE_VALUES,
    ImportWizard,
)
from app.ui.main_window import MainWindow
from app.ui.models.import_values_table import COL_ROWS, COL_SOURCE, COL_TARGET, COL_VALUE
from tests.journeys.person import Person, whole_headers

HEADER = "Asset tag,Description,Interval (days),Status\n"
REGISTER = HEADER + (
    "G-001,Caliper 150 mm,365,ACTIVE\n"
    "G-002,Caliper 300 mm,365,ACTIVE\n"
    "G-003,Torque wrench,180,IN-ACTIVE\n"
    "G-004,Oscilloscope,730,FOR REPAIR\n"
    "G-005,Thermocouple type K,365,SCRAP\n"
    "G-006,Balance 220 g,365,MISSING\n"
    "G-007,Hygrometer,365,PR#33199\n"
)
SECOND = HEADER + ("H-001,Stopwatch,730,PR#33199\nH-002,Multimeter,365,ACTIVE\n")
WAIT_MS = 20_000


def wizard_button(wizard: QWizard, which: QWizard.WizardButton) -> QWidget:
    button = wizard.button(which)
    assert button is not None
    return button


def hidden(widget: QWidget) -> Callable[[], bool]:
    return lambda: not widget.isVisible()


def shown_rows(view: ValuesView) -> dict[str, tuple[str, str, str]]:
    """value → (rows, becomes, because) as the table shows them."""
    model = view.model()
    return {
        str(model.index(r, COL_VALUE).data()): (
            str(model.index(r, COL_ROWS).data()),
            str(model.index(r, COL_TARGET).data()),
            str(model.index(r, COL_SOURCE).data()),
        )
        for r in range(model.rowCount())
    }


def to_values_page(
    qtbot: QtBot, person: Person, window: MainWindow, path: Path
) -> tuple[ImportWizard, ValuesView]:
    person.menu(window, "File", "Import instruments…")
    wizard = person.wait_for(ImportWizard)
    person.press(Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)  # &File:
    person.write(str(path))
    next_ = wizard_button(wizard, QWizard.WizardButton.NextButton)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_READING, timeout=WAIT_MS)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_MAPPING, timeout=WAIT_MS)
    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_VALUES, timeout=WAIT_MS)
    view = wizard.values_page.view_for("Status")
    assert view is not None
    qtbot.waitUntil(view.isVisible, timeout=WAIT_MS)
    return wizard, view


def test_the_labs_own_status_words_are_mapped_on_the_values_page(
    qtbot: QtBot,
    person: Person,
    window: MainWindow,
    app: CalTrack,
    tmp_path: Path,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    path = tmp_path / "register.csv"
    path.write_text(REGISTER, encoding="utf-8")
    wizard, view = to_values_page(qtbot, person, window, path)
    page = wizard.values_page
    next_ = wizard_button(wizard, QWizard.WizardButton.NextButton)

    # Each word once, with its rows; the guesses say what they rest on.
    assert shown_rows(view) == {
        "ACTIVE": ("2", "in service", "guessed from 'ACTIVE'"),
        "IN-ACTIVE": ("1", "retired", "guessed from 'IN-ACTIVE'"),
        "FOR REPAIR": ("1", "out of service", "guessed from 'FOR REPAIR'"),
        "SCRAP": ("1", "retired", "guessed from 'SCRAP'"),
        "MISSING": ("1", "lost", "guessed from 'MISSING'"),
        "PR#33199": ("1", "(not mapped)", "NOT MAPPED: choose what it means"),
    }
    # Not mapped: a word, an icon and a colour, and a count line above the table.
    assert page.count.isVisible()
    assert "1 value not mapped: choose what it means" in page.count.text()
    assert "<img" in page.count.text()
    pr = view.model().index(5, COL_SOURCE)
    assert pr.data(Qt.ItemDataRole.DecorationRole) is not None
    assert not next_.isEnabled(), "Next waits until PR#33199 has a meaning"
    assert whole_headers(view) == [], "column titles cut off"
    screenshot(wizard, "import-values")

    # The keyboard starts on the value to choose; Tab leaves the table and comes back.
    qtbot.waitUntil(lambda: person.focused() is view, timeout=WAIT_MS)
    assert view.currentIndex().row() == 5
    person.press(Qt.Key.Key_Backtab)
    assert person.focused() is page.leave_out
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is view

    # Enter opens the combo with its list; typing jumps to "retired", Enter takes it.
    person.press(Qt.Key.Key_Return)
    combo = view.findChild(QComboBox)
    assert combo is not None
    qtbot.waitUntil(lambda: combo.view().isVisible(), timeout=WAIT_MS)
    assert [combo.itemText(i) for i in range(combo.count())] == [
        "in service",
        "out of service",
        "retired",
        "lost",
        "(not mapped)",
    ]
    person.write("retired")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.state() == QAbstractItemView.State.NoState, timeout=WAIT_MS)
    qtbot.waitUntil(next_.isEnabled, timeout=WAIT_MS)  # checked again with the choice
    assert shown_rows(view)["PR#33199"] == ("1", "retired", "your choice")
    assert not page.count.isVisible()

    person.click(next_)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_PREVIEW, timeout=WAIT_MS)
    preview = wizard.preview_page
    qtbot.waitUntil(
        lambda: preview.counts.text() == "7 to add · 0 to update · 0 with errors", timeout=WAIT_MS
    )
    assert preview.flag.isChecked(), "old history is kept and flagged by default"
    commit = wizard_button(wizard, QWizard.WizardButton.CommitButton)
    qtbot.waitUntil(commit.isEnabled, timeout=WAIT_MS)
    person.click(commit)
    qtbot.waitUntil(lambda: wizard.currentId() == PAGE_DONE, timeout=WAIT_MS)
    stored = {f"G-00{n}": app.instruments.get(f"G-00{n}").lifecycle for n in range(1, 8)}
    assert stored == {
        "G-001": "in_service",
        "G-002": "in_service",
        "G-003": "retired",
        "G-004": "out_of_service",
        "G-005": "retired",
        "G-006": "lost",
        "G-007": "retired",
    }
    person.click(wizard_button(wizard, QWizard.WizardButton.FinishButton))
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=WAIT_MS)

    # The next file with the same columns: the choice is remembered, nothing to choose.
    second = tmp_path / "register-2.csv"
    second.write_text(SECOND, encoding="utf-8")
    wizard, view = to_values_page(qtbot, person, window, second)
    rows = shown_rows(view)
    assert rows["PR#33199"] == (
        "1",
        "retired",
        "remembered (confirmed for these columns before)",
    )
    assert rows["ACTIVE"][1:] == ("in service", "remembered (confirmed for these columns before)")
    next_ = wizard_button(wizard, QWizard.WizardButton.NextButton)
    qtbot.waitUntil(next_.isEnabled, timeout=WAIT_MS)
    assert not wizard.values_page.count.isVisible()
    # Space and F2 open the choice as Enter does; Escape leaves it as it was.
    qtbot.waitUntil(lambda: person.focused() is view, timeout=WAIT_MS)
    for key in (Qt.Key.Key_Space, Qt.Key.Key_F2):
        person.press(key)
        qtbot.waitUntil(
            lambda: view.state() == QAbstractItemView.State.EditingState, timeout=WAIT_MS
        )
        editor = view.indexWidget(view.currentIndex())
        assert isinstance(editor, QComboBox)
        popup = editor.view()
        qtbot.waitUntil(popup.isVisible, timeout=WAIT_MS)
        person.press(Qt.Key.Key_Escape)  # the list closes
        qtbot.waitUntil(hidden(popup), timeout=WAIT_MS)
        person.press(Qt.Key.Key_Escape)  # the editor closes
        qtbot.waitUntil(lambda: view.state() == QAbstractItemView.State.NoState, timeout=WAIT_MS)
    assert wizard.isVisible() and wizard.currentId() == PAGE_VALUES
    assert shown_rows(view)["PR#33199"][1] == "retired"
    person.click_button("Cancel", wizard)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=WAIT_MS)
    assert app.instruments.status_counts()["all"] == 7
