"""The rows of an export: one per instrument, one per calibration record and one per
maintenance event, voided included.

The columns are ``transfer_mapping``'s catalogue, so an import reads back what an
export wrote. Readings go in one cell as ``NOMINAL:AS_FOUND:AS_LEFT:TOLERANCE[:UNIT[:U[:K]]]``
items separated by ``; `` (what ``parse_point`` reads; TOLERANCE as written when it was
written another way than ±), standards as asset tags
separated by ``; ``, an instrument's custom field values as ``NAME=VALUE`` items
separated by ``; `` (``custom_text``), a standard's stated uncertainty as
``VALUE[:K[:UNIT]]`` (``stated_input_text``, what ``--stated-u`` takes). Numbers are
written with every digit Python knows (``repr``), so reading them back gives the same
float.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

from app.db.models import (
    CalibrationRecord,
    Custody,
    Instrument,
    MaintenanceEvent,
    MeasurementPoint,
)
from app.services.snapshots import custom_values
from app.services.standard_uncertainty import stated_input_text, stated_of
from app.services.transfer_mapping import exported_columns
from app.storage.tables import Cell

INSTRUMENT_FIELDS = tuple(c.field for c in exported_columns("instruments"))
CALIBRATION_FIELDS = tuple(c.field for c in exported_columns("calibrations"))


def _number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def readings_text(points: Sequence[MeasurementPoint]) -> str:
    items = []
    for p in sorted(points, key=lambda p: p.seq):
        # A tolerance as written goes out as written (no written form has a colon, a
        # semicolon or a bar); its limits are resolved again on import.
        tolerance = p.tolerance_text or _number(p.tolerance)
        parts = [_number(p.nominal), _number(p.as_found), _number(p.as_left), tolerance]
        if p.unit or p.uncertainty is not None:
            parts.append(p.unit)
        if p.uncertainty is not None:
            parts.append(_number(p.uncertainty))
            if p.coverage_factor is not None:
                parts.append(_number(p.coverage_factor))
        items.append(":".join(parts))
    return "; ".join(items)


def custom_text(values: Mapping[str, str]) -> str:
    """Custom field values as one cell: ``NAME=VALUE; NAME=VALUE``, as ``--custom``
    takes each; a ";" inside a name or value is doubled (``parse_custom`` reads it)."""
    return "; ".join(
        f"{name.replace(';', ';;')}={value.replace(';', ';;')}" for name, value in values.items()
    )


def instrument_cells(obj: Instrument, type_names: Mapping[int, str]) -> tuple[Cell, ...]:
    special: dict[str, Cell] = {
        "type_name": type_names.get(obj.type_id, "") if obj.type_id is not None else "",
        "custom_fields": custom_text(custom_values(obj.custom_fields)),
        "stated_uncertainty": stated_input_text(stated_of(obj)),
    }
    return tuple(
        special[name] if name in special else getattr(obj, name) for name in INSTRUMENT_FIELDS
    )


def calibration_cells(record: CalibrationRecord, tags: Mapping[int, str]) -> tuple[Cell, ...]:
    special: dict[str, Cell] = {
        "record_id": record.id,
        "asset_tag": tags.get(record.instrument_id, f"#{record.instrument_id}"),
        "adjustment_made": "yes" if record.adjustment_made else "no",
        "points": readings_text(record.points),
        "standards": "; ".join(
            sorted(tags.get(s.standard_id, f"#{s.standard_id}") for s in record.standards)
        ),
        # The reason of a changed due date lives in the audit trail, not on the record.
        "next_due_reason": "",
    }
    return tuple(
        special[name] if name in special else getattr(record, name, None)
        for name in CALIBRATION_FIELDS
    )


# Custody (issue 15): every check-out, void ones too, in a sheet (a CSV file) of its
# own; its columns are the import's catalogue, so an import reads it back.
CUSTODY_COLUMNS: tuple[tuple[str, int], ...] = tuple(
    (c.label, c.width) for c in exported_columns("custody")
)


def custody_cells(obj: Custody, tags: Mapping[int, str]) -> tuple[Cell, ...]:
    return (
        obj.id,
        tags.get(obj.instrument_id, f"#{obj.instrument_id}"),
        obj.holder,
        obj.place,
        obj.out_at,
        obj.out_by,
        obj.due_back,
        obj.in_at,
        obj.in_by or "",
        obj.override_reason,
        obj.voided_at,
        obj.voided_by or "",
        obj.void_reason or "",
    )


# The maintenance log's sheet (issue 15): every event, voided included, as stored; its
# columns are the import's catalogue, so an import reads it back.
MAINTENANCE_COLUMNS: tuple[tuple[str, int], ...] = tuple(
    (c.label, c.width) for c in exported_columns("maintenance")
)


def maintenance_cells(event: MaintenanceEvent, tags: Mapping[int, str]) -> tuple[Cell, ...]:
    return (
        f"M-{event.id}",
        tags.get(event.instrument_id, f"#{event.instrument_id}"),
        event.kind,
        event.performed_on,
        event.performed_by,
        event.what_done,
        event.cost,
        event.currency,
        event.downtime_hours,
        "yes" if event.calibrate_before_use else "no",
        event.released_by_record_id,
        event.notes,
        event.voided_at,
        event.voided_by,
        event.void_reason,
        event.created_at,
    )


def csv_cell(value: Cell) -> str:
    """A typed cell as CSV text: ISO dates, exact numbers, yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
