"""The detail pane's Maintenance tab on its own: what it lists, and what it offers when
(issue 15). Events come from the real service on a real database."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.dto import MaintenanceInput
from app.ui.detail_pane import DetailPane
from app.ui.maintenance_tab import CALIBRATION_COLUMN, READ_ONLY
from tests.conftest import add_thermometer


def test_the_tab_lists_the_log_and_offers_void_only_where_it_applies(
    qtbot: QtBot, app: CalTrack
) -> None:
    add_thermometer(app)
    repair = app.upkeep.add(
        "TH-001",
        MaintenanceInput(
            kind="repair",
            performed_on="2026-11-20",
            what_done="New probe\nand cable",
            calibrate_before_use=True,
        ),
    )
    cleaning = app.upkeep.add(
        "TH-001",
        MaintenanceInput(kind="cleaning", performed_on="2026-11-21", what_done="Wiped"),
    )
    app.upkeep.void(cleaning.id, "not this one")
    pane = DetailPane()
    qtbot.addWidget(pane)
    pane.show_history(app.instruments.history("TH-001"))
    tab = pane.maintenance
    table = tab.table
    rows = [
        [table.item(r, c).text() for c in range(table.columnCount())]  # type: ignore[union-attr]
        for r in range(table.rowCount())
    ]
    assert [row[:3] for row in rows] == [
        ["2026-11-21", "Cleaning", "VOID — not this one"],
        ["2026-11-20", "Repair", "needed before use"],
    ]
    assert rows[1][3] == "New probe and cable"  # one line in the table
    assert not tab.void_button.isEnabled()  # nothing selected
    table.selectRow(0)
    assert not tab.void_button.isEnabled() and "void already" in tab.void_button.toolTip()
    table.selectRow(1)
    assert tab.void_button.isEnabled()
    assert f"M-{repair.id}" in tab.notes.text()
    with qtbot.waitSignal(tab.void_requested) as asked:
        tab.void_button.click()
    assert asked.args == [repair.id, repair.version]
    assert table.item(1, CALIBRATION_COLUMN) is not None

    pane.set_editing(False)
    assert not tab.log_button.isEnabled() and tab.log_button.toolTip() == READ_ONLY
    assert not tab.void_button.isEnabled() and tab.void_button.toolTip() == READ_ONLY
    pane.show_history(None)
    assert table.rowCount() == 0
