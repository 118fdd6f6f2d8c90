"""The speed paths: each is used only while it agrees with the rule it shortcuts.

A failed check falls back to the slow path (the list, the audit payload) or writes the
demo chunk the general way with a warning; none of them raises.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

import pytest

import app.repositories.instruments as instrument_repo
import app.services.audit as audit
import app.services.demo_json as demo_json
import app.services.instruments as instruments
from app.repositories.instruments import ListRow
from app.services.audit_payload_fast import fast_payload, fast_payload_agrees
from app.services.dto import InstrumentRow
from app.services.instrument_rows_fast import fast_rows_agree

EVENT = (3, "2026-02-01T09:30:00.000000Z", "bob", "PC", "instrument", 7, "Ω-1", "create", "{}", "")


def test_the_fast_paths_are_in_use_while_they_agree() -> None:
    assert instruments._FAST_ROWS
    assert audit._FAST_PAYLOAD


def test_the_list_rows_check_refuses_a_fast_path_that_differs() -> None:
    def other(r: ListRow, today: date, soon_days: int) -> InstrumentRow:
        row = instruments.row_of(r, today, soon_days)
        return dataclasses.replace(row, location="elsewhere")

    assert fast_rows_agree(instruments.row_of)
    assert not fast_rows_agree(other)


def test_the_hand_written_payload_is_the_general_ones_or_none() -> None:
    assert fast_payload(*EVENT) == audit.event_payload(
        event_id=3,
        occurred_at=datetime(2026, 2, 1, 9, 30),
        user="bob",
        machine="PC",
        entity_type="instrument",
        entity_id=7,
        entity_label="Ω-1",
        action="create",
        changes="{}",
        reason="",
    )
    # A bool is an int to isinstance, not to the json module's output: the general way.
    assert fast_payload(True, *EVENT[1:]) is None
    assert not fast_payload_agrees(lambda *values: b"{}")


def _chunk() -> tuple[list[dict[str, Any]], ...]:
    instruments = [{"id": 1, "asset_tag": "TH-1", "description": "Thermometer µ"}]
    records = [{"id": 5, "instrument_id": 1, "performed_on": date(2026, 1, 2), "result": "pass"}]
    points = [
        {
            "record_id": 5,
            "seq": 1,
            "nominal": 20.0,
            "as_found": 20.1,
            "as_left": None,
            "tolerance": 0.5,
            "unit": "°C",
        }
    ]
    return instruments, records, points


def test_demo_json_is_the_general_way_byte_for_byte() -> None:
    instruments, records, points = _chunk()
    fast = demo_json.chunk_json(instruments, records, points, [1], [[2]])
    assert fast == demo_json.general_json(instruments, records, points, [[2]])


def test_demo_json_that_differs_falls_back_to_the_general_way(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    instruments, records, points = _chunk()
    wrong = demo_json.JsonRows(demo_json.POINT_FIELDS, "[%s,%s,%s,%s,%s, %s]")
    monkeypatch.setattr(demo_json, "POINT_JSON", wrong)
    with caplog.at_level(logging.WARNING, logger=demo_json.__name__):
        written = demo_json.chunk_json(instruments, records, points, [1], [[2]])
    assert written == demo_json.general_json(instruments, records, points, [[2]])
    assert "written the general way" in caplog.text


def test_list_rows_come_the_fast_way_while_the_columns_match() -> None:
    assert instrument_repo._list_row is not instrument_repo._row_by_name
    row = instrument_repo._row_by_name(
        SimpleNamespace(_mapping={name: None for name in ListRow._fields} | {"id": 4})
    )
    assert row.id == 4 and row.review_reason is None
