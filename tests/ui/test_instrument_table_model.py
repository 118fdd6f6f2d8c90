"""The lazy instrument table model, on a real database, checked by qtmodeltester."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.ui.models.instrument_table import (
    COL_STATUS,
    COL_TAG,
    COLUMNS,
    ID_ROLE,
    LOADING,
    PAGE,
    InstrumentTableModel,
)


def loaded_model(app: CalTrack) -> InstrumentTableModel:
    model = InstrumentTableModel()
    model.set_ids(app.instruments.list_ids(sort="asset_tag"))
    model.rows_wanted.connect(lambda ids: model.set_rows(app.instruments.rows(ids)))
    return model


def test_model_passes_qtmodeltester(qtmodeltester: Any, demo_app: CalTrack) -> None:
    model = loaded_model(demo_app)
    qtmodeltester.check(model, force_py=True)
    assert model.rowCount() == 60


def test_rows_are_fetched_lazily_by_page(demo_app: CalTrack) -> None:
    model = InstrumentTableModel()
    ids = demo_app.instruments.list_ids(sort="asset_tag")
    model.set_ids(ids)
    wanted: list[list[int]] = []
    model.rows_wanted.connect(wanted.append)
    first = model.index(0, COL_TAG)
    assert model.data(first) == LOADING
    assert model.data(model.index(1, COL_TAG)) == LOADING
    assert len(wanted) == 1, "one request per page, not per cell"
    assert wanted[0] == ids[:PAGE]
    model.set_rows(demo_app.instruments.rows(wanted[0]))
    tags = [model.data(model.index(r, COL_TAG)) for r in range(3)]
    assert tags == sorted(tags) and LOADING not in tags
    assert model.data(first, ID_ROLE) == ids[0]


def test_status_has_text_icon_and_colour(demo_app: CalTrack) -> None:
    model = loaded_model(demo_app)
    overdue = demo_app.instruments.list(status="overdue", limit=1).rows[0]
    row = model.row_of(overdue.id)
    assert row is not None
    index = model.index(row, COL_STATUS)
    model.data(index)  # ask for the page
    assert model.data(index) == "Overdue"
    assert not model.data(index, Qt.ItemDataRole.DecorationRole).isNull()
    assert model.data(index, Qt.ItemDataRole.ForegroundRole).name() == "#c62828"
    assert "due" in model.data(index, Qt.ItemDataRole.ToolTipRole)


def test_next_check_shows_the_check_schedule(demo_app: CalTrack) -> None:
    """The demo's check schedules show in the register's Next check column (issue 15);
    an instrument without one shows nothing there."""
    model = loaded_model(demo_app)
    column = [key for key, _label, _sort in COLUMNS].index("next_check")
    due = dict(demo_app.schedules.due(["check"]))
    assert due, "the demo has checks due"
    for tag, view in due.items():
        row = model.row_of(demo_app.instruments.get(tag).id)
        assert row is not None
        index = model.index(row, column)
        model.data(index)  # ask for the page
        shown = "before use" if view.status == "before-use" else str(view.next_due)
        assert model.data(index) == shown, tag
    without = demo_app.instruments.list(status="retired", limit=1).rows[0]
    row = model.row_of(without.id)
    assert row is not None and model.data(model.index(row, column)) == ""


def test_header_click_asks_the_database_to_sort(qtbot: QtBot, demo_app: CalTrack) -> None:
    model = loaded_model(demo_app)
    with qtbot.waitSignal(model.sort_wanted) as blocker:
        model.sort(COL_TAG, Qt.SortOrder.DescendingOrder)
    assert blocker.args == ["asset_tag", True]
