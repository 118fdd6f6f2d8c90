"""One way of writing a report cell as text, shared by the PDF and CSV renderers."""

from __future__ import annotations

from datetime import date, datetime

from app.services.report_model import Cell


def cell_text(value: Cell, *, empty: str = "") -> str:
    """Dates as ISO (2026-11-23), times as "2026-11-23 09:30:00" (UTC in every report),
    numbers without a float's noise (0.1, not 0.1000000000000001), booleans as yes/no."""
    if value is None:
        return empty
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, float):
        return format(value, ".12g")
    if isinstance(value, int):
        return str(value)
    return value
