"""Journey (issue 14): QA keeps the register of instrument types in the window.

The person opens Database → Instrument types… by clicks, closes it with Esc, opens it
again with Ctrl+T, and types a new type "Digital thermometer" — interval, procedure,
range and resolution, rule, three test points (a row added by mistake is taken away
with Delete) and a required custom field — then saves with Ctrl+S and sees it listed.
They change one point's tolerance and save again; the stored type (read through the
service) holds exactly what was typed. A tolerance the
service cannot read shows the service's words (in the row's limits and in the notice)
and stores nothing; Revert brings back the stored plan.

Worked numbers (by hand; ``app.services.tolerance_spec``): with the range 0 … 150 and a
resolution of 0.01,
- 0 ± 0.3 gives -0.3 … 0.3;
- 50 ± 0.5 %FS is ± 0.75 (0.5 % of the 150 span): 49.25 … 50.75;
- 100 ± (0.1 % + 2 digits) is ± (0.1 + 0.02): 99.88 … 100.12;
- after the edit 50 ± 0.4 gives 49.6 … 50.4.

SQLite only: the dialog writes through ``TypeService``, whose behaviour on both backends
tests/unit/test_instrument_types.py and tests/integration/test_types_cli.py check; what
is proven here is what the person can do with the window.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.dto import ScheduleDefault, TypeInput
from app.services.types import limits_preview
from app.services.validation import instrument_input
from app.ui.dialogs.instrument_dialog import InstrumentDialog
from app.ui.dialogs.types_dialog import TypesDialog
from app.ui.main_window import MainWindow
from app.ui.models.types_table import COL_LIMITS, COL_TOLERANCE, COL_TYPE_NAME
from tests.journeys.person import WAIT_MS, Person, gone

pytestmark = pytest.mark.sqlite_only(
    "the dialog writes through TypeService, tested on both backends in the unit and "
    "integration tiers; the window's part does not depend on the backend"
)

NAME = "Digital thermometer"
Screenshot = Callable[[QWidget, str], None]


def limits(dialog: TypesDialog) -> list[str]:
    return [str(dialog.points.index(r, COL_LIMITS).data()) for r in range(dialog.points.rowCount())]


def type_point(person: Person, dialog: TypesDialog, nominal: str, tolerance: str) -> None:
    """Insert a row below the current one and type it: nominal, Tab, tolerance, Tab, unit."""
    person.press(Qt.Key.Key_Insert)
    person.write(nominal)
    person.press(Qt.Key.Key_Tab)
    person.write(tolerance)
    person.press(Qt.Key.Key_Tab)
    person.write("°C")
    person.press(Qt.Key.Key_Return)
    person.qtbot.waitUntil(lambda: person.focused() is dialog.points_table)


def test_qa_types_a_type_edits_a_tolerance_and_a_bad_one_stores_nothing(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack, screenshot: Screenshot
) -> None:
    person.menu(window, "Database", "Instrument types…")
    dialog = person.wait_for(TypesDialog)
    qtbot.waitUntil(dialog.may_edit, timeout=10_000)
    assert dialog.model.rowCount() == 0
    person.press(Qt.Key.Key_Escape)  # nothing typed: it closes without asking
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(window.isActiveWindow, timeout=10_000)

    person.shortcut("Ctrl+T")
    dialog = person.wait_for(TypesDialog)
    qtbot.waitUntil(dialog.may_edit, timeout=10_000)
    person.shortcut("Ctrl+N")
    assert person.focused() is dialog.edits["name"]
    for text in (NAME, "365", "WI-12", "C", "0", "150", "0.01", "PRT, bath"):
        person.write(text)
        person.press(Qt.Key.Key_Tab)
    # The default schedules come next (left empty here: none), then the rule.
    assert person.focused() is dialog.defaults["check"].every
    for _field in range(8):
        person.press(Qt.Key.Key_Tab)
    assert person.focused() is dialog.rule
    person.write("G")  # the first "Guarded acceptance …": w = U, binary
    assert dialog.rule_code() == "guard r=1 binary"
    person.press(Qt.Key.Key_Tab)
    person.write("Handheld probe thermometers")
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is dialog.points_table
    type_point(person, dialog, "0", "±0.3")
    type_point(person, dialog, "50", "0.5 %FS")
    type_point(person, dialog, "100", "±(0.1 % + 2 digits)")
    assert limits(dialog) == ["-0.3 … 0.3", "49.25 … 50.75", "99.88 … 100.12"]
    person.press(Qt.Key.Key_Insert)  # one row too many: Delete takes it away again
    assert dialog.points.rowCount() == 4
    person.press(Qt.Key.Key_Delete)
    assert dialog.points.rowCount() == 3
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is dialog.fields_table
    person.press(Qt.Key.Key_Insert)
    person.write("Probe serial")
    person.press(Qt.Key.Key_Tab)  # the kind: text, as offered
    person.press(Qt.Key.Key_Tab)  # no choices
    person.press(Qt.Key.Key_Tab)  # onto Required
    person.press(Qt.Key.Key_Space)
    assert dialog.fields.rows == [["Probe serial", "text", "", True]]
    person.shortcut("Ctrl+S")
    qtbot.waitUntil(lambda: dialog.model.row_of(NAME) is not None, timeout=10_000)
    qtbot.waitUntil(lambda: dialog.current is not None, timeout=10_000)
    assert not dialog.banner.isVisible(), dialog.banner.text()
    row = dialog.model.row_of(NAME)
    assert row is not None
    assert dialog.model.index(row, COL_TYPE_NAME).data() == NAME

    stored = app.types.get(NAME)
    assert (stored.default_interval_days, stored.decision_rule) == (365, "guard r=1 binary")
    assert (stored.procedure_id, stored.procedure_revision) == ("WI-12", "C")
    assert (stored.range_low, stored.range_high, stored.resolution) == ("0", "150", "0.01")
    assert stored.standard_categories == ("PRT", "bath")
    assert stored.description == "Handheld probe thermometers"
    assert [(p.nominal, p.tolerance, p.unit) for p in stored.points] == [
        (0, "±0.3", "°C"),
        (50, "0.5 %FS", "°C"),
        (100, "±(0.1 % + 2 digits)", "°C"),
    ]
    assert [(f.name, f.kind, f.required, f.choices) for f in stored.fields] == [
        ("Probe serial", "text", True, ())
    ]

    # The second point's tolerance, typed over.
    person.click_cell(dialog.points_table, 1, COL_TOLERANCE)
    person.write("±0.4")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: person.focused() is dialog.points_table, timeout=10_000)
    assert dialog.points.rows[1] == ["50", "±0.4", "°C"], dialog.points.rows
    assert limits(dialog)[1] == "49.6 … 50.4"
    person.shortcut("Ctrl+S")
    qtbot.waitUntil(lambda: app.types.get(NAME).points != stored.points, timeout=10_000)
    edited = app.types.get(NAME)
    assert [(p.nominal, p.tolerance) for p in edited.points] == [
        (0, "±0.3"),
        (50, "±0.4"),
        (100, "±(0.1 % + 2 digits)"),
    ]
    assert edited.fields == stored.fields and edited.resolution == "0.01"
    qtbot.waitUntil(lambda: not dialog.dirty(), timeout=10_000)
    screenshot(dialog, "types")

    # A tolerance the service cannot read: its words in the row and in the notice.
    person.click_cell(dialog.points_table, 2, COL_TOLERANCE)
    person.write("about a tenth")
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: person.focused() is dialog.points_table, timeout=10_000)
    said = limits_preview("100", "about a tenth", range_low="0", range_high="150")
    assert said.startswith("cannot read 'about a tenth'; write one of ±0.05")
    assert limits(dialog)[2] == said
    person.shortcut("Ctrl+S")
    qtbot.waitUntil(dialog.banner.isVisible, timeout=10_000)
    assert f"point 3: {said}" in dialog.banner.text()
    assert "cannot read 'about a tenth'" in dialog.points_row.error.text()
    assert app.types.get(NAME) == edited, "nothing stored"
    person.click_button("Revert", dialog)
    assert limits(dialog)[2] == "99.88 … 100.12"
    person.press(Qt.Key.Key_Escape)  # reverted: nothing to ask about
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)


def test_a_types_check_interval_reaches_a_new_instrument_of_that_type(
    qtbot: QtBot, person: Person, window: MainWindow, app: CalTrack, screenshot: Screenshot
) -> None:
    """QA gives a type a check every 3 months by keyboard; an instrument created with
    the type has that check schedule in its detail pane. The Apply button offers the
    default to the type's instrument that existed before and had none."""
    app.types.add(TypeInput(name="Balance"))
    app.instruments.add(
        instrument_input({"asset_tag": "BAL-OLD", "description": "Balance"}),
        type_name="Balance",
    )
    person.shortcut("Ctrl+T")
    dialog = person.wait_for(TypesDialog)
    qtbot.waitUntil(dialog.may_edit, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: dialog.current is not None, timeout=WAIT_MS)
    assert not dialog.apply_button.isEnabled()  # no defaults yet: nothing to give
    person.shortcut("Alt+K")  # Chec&k every
    check = dialog.defaults["check"]
    assert person.focused() is check.every
    person.write("3 weeks")
    person.shortcut("Ctrl+S")
    row = dialog.form.rows["check_every"]
    qtbot.waitUntil(row.error.isVisible, timeout=WAIT_MS)
    assert "not an interval" in row.error.text()
    assert app.types.get("Balance").check is None, "nothing stored"
    person.shortcut("Alt+K")
    person.clear_and_type("3m")
    person.press(Qt.Key.Key_Tab)
    assert person.focused() is check.grace
    person.shortcut("Ctrl+S")
    qtbot.waitUntil(lambda: app.types.get("Balance").check is not None, timeout=WAIT_MS)
    assert app.types.get("Balance").check == ScheduleDefault("3m")
    # Saving the default changed no instrument; the button offers it to the one lacking it.
    assert [s.kind for s in app.schedules.list("BAL-OLD")] == ["calibration"]
    qtbot.waitUntil(dialog.apply_button.isEnabled, timeout=WAIT_MS)
    assert dialog.apply_button.text().replace("&", "") == "Apply default schedules to 1 instrument"
    screenshot(dialog, "type-schedules")
    person.shortcut("Alt+A")
    qtbot.waitUntil(lambda: "check to BAL-OLD" in dialog.banner.text(), timeout=WAIT_MS)
    assert [s.kind for s in app.schedules.list("BAL-OLD")] == ["calibration", "check"]
    qtbot.waitUntil(lambda: not dialog.apply_button.isEnabled(), timeout=WAIT_MS)
    person.press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(dialog), timeout=WAIT_MS)

    # A new instrument of the type, on the form, by keyboard.
    person.menu(window, "Instrument", "New instrument…")
    form = person.wait_for(InstrumentDialog)
    person.write("BAL-0001")
    person.press(Qt.Key.Key_Tab)
    person.write("Analytical balance")
    person.shortcut("Alt+Y")
    assert person.focused() is form.type_box
    person.press(Qt.Key.Key_Down)
    assert form.type_box.currentText() == "Balance"
    person.press(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: gone(form), timeout=WAIT_MS)
    (stored,) = [s for s in app.schedules.list("BAL-0001") if s.kind == "check"]
    assert (stored.interval, stored.next_due) == ("3m", date(2027, 2, 23))  # Nov 23 + 3 months

    # What the person sees: the check schedule in the detail pane's Log → Checks page.
    def rows() -> list[int]:
        model = window.model
        return [r for r in range(model.rowCount()) if model.index(r, 0).data() == "BAL-0001"]

    qtbot.waitUntil(lambda: bool(rows()), timeout=WAIT_MS)
    person.click_cell(window.table, rows()[0], 0)
    qtbot.waitUntil(
        lambda: window.history is not None and window.history.instrument.asset_tag == "BAL-0001",
        timeout=WAIT_MS,
    )
    tabs = window.detail.tabs
    titles = [tabs.tabText(i).replace("&", "") for i in range(tabs.count())]
    bar = tabs.tabBar()
    person.click(bar, bar.tabRect(titles.index("Log")).center())
    inner = window.detail.log_tabs.tabBar()
    person.click(inner, inner.tabRect(window.detail.checks_tab).center())
    table = window.detail.schedules
    qtbot.waitUntil(lambda: table.isVisible() and table.rowCount() == 2, timeout=WAIT_MS)
    cells = [table.item(1, c).text() for c in range(table.columnCount())]  # type: ignore[union-attr]
    assert cells[0] == "Check" and "2027-02-23" in cells, cells
