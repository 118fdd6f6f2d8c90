"""The impact list's table model alone, on rows as the service builds them (no window,
no database): each kind of row in words, flipped rows marked by text and by colour."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont

from app.services.oot_impact import COMPARED, NO_READING, NOT_COMPARABLE, ImpactRow
from app.ui.models.impact_table import (
    COL_CHANGE,
    COL_POINT,
    COL_RECORD,
    COL_STORED,
    COL_VERDICT,
    ImpactTableModel,
    verdict_words,
)


def row(
    status: str = COMPARED, *, before: str = "pass", after: str = "pass", **kw: object
) -> ImpactRow:
    fields: dict[str, object] = {
        "record_id": 12,
        "instrument_id": 3,
        "asset_tag": "TH-A",
        "performed_on": date(2026, 3, 1),
        "seq": 1,
        "nominal": 100.0,
        "unit": "°C",
        "reading": "as_found",
        "status": status,
        "stored": 100.1,
        "error": "+0.3" if status == COMPARED else "",
        "shifted": "100.4" if status == COMPARED else "",
        "before": before if status == COMPARED else "",
        "after": after if status == COMPARED else "",
        "flips": status == COMPARED and before != after,
        "note": "",
    }
    fields.update(kw)
    return ImpactRow(**fields)  # type: ignore[arg-type]


def test_each_kind_of_row_in_words_and_only_flips_stand_out() -> None:
    model = ImpactTableModel()
    model.set_items(
        [
            row(after="fail"),  # tests/unit/impact_helpers.py: TH-A, guarded, 100.1 → 100.4
            row(before="conditional_pass", after="conditional_pass", reading="as_left"),
            row(NOT_COMPARABLE, note="not comparable: no as-found reading in °F"),
            row(NO_READING, stored=None, seq=0, note="the record holds no readings to re-evaluate"),
        ]
    )
    texts = [
        [
            model.index(r, c).data()
            for c in (COL_RECORD, COL_POINT, COL_STORED, COL_VERDICT, COL_CHANGE)
        ]
        for r in range(4)
    ]
    assert texts == [
        ["#12", "1", "100.1", "pass → fail", "Would change"],
        ["#12", "1", "100.1", "conditional pass → conditional pass", "unchanged"],
        ["#12", "1", "100.1", "", "not comparable: no as-found reading in °F"],
        ["#12", "—", "", "", "the record holds no readings to re-evaluate"],
    ]
    assert model.flipped_rows() == [0]
    bold = [model.index(r, 0).data(Qt.ItemDataRole.FontRole) for r in range(4)]
    assert isinstance(bold[0], QFont) and bold[0].bold() and bold[1:] == [None] * 3
    colour = [model.index(r, 0).data(Qt.ItemDataRole.ForegroundRole) for r in range(4)]
    assert colour[0] is not None and colour[1:] == [None] * 3
    tip = model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == (
        "TH-A #12 point 1 as found: pass → fail (100.1 → 100.4 °C, error +0.3); "
        "calibrated 2026-03-01"
    )


def test_a_verdict_word_this_version_lacks_is_shown_as_stored() -> None:
    assert verdict_words("conditional_fail") == "conditional fail"
    assert verdict_words("") == "—"
    assert verdict_words("shared_risk_pass") == "shared risk pass"
