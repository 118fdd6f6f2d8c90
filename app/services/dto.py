"""Plain, frozen values the services hand to the GUI and the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Dates as ISO text, dataclasses as dicts: for ``--json`` and audit lines."""
    if isinstance(value, datetime):
        return (
            value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value.tzinfo is None else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


@dataclass(frozen=True, slots=True)
class InstrumentRow:
    """One line of the instrument list."""

    id: int
    asset_tag: str
    description: str
    manufacturer: str
    model: str
    serial_number: str
    location: str
    lifecycle: str
    due_status: str
    interval_days: int
    last_calibrated: date | None
    next_due: date | None
    version: int


@dataclass(frozen=True)
class InstrumentPage:
    """A page of the list with the total that matches the filter."""

    rows: list[InstrumentRow]
    total: int


@dataclass(frozen=True)
class InstrumentDetail:
    """Every field of one instrument."""

    id: int
    asset_tag: str
    description: str
    manufacturer: str
    model: str
    serial_number: str
    firmware_version: str
    category: str
    location: str
    owner: str
    lifecycle: str
    due_status: str
    calibration_interval_days: int
    grace_days: int
    range_text: str
    resolution_text: str
    accuracy_text: str
    last_calibrated: date | None
    next_due: date | None
    notes: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    version: int


@dataclass(frozen=True)
class PointInput:
    """A measurement point as entered."""

    nominal: float
    as_found: float | None
    as_left: float | None
    tolerance: float
    unit: str = ""


@dataclass(frozen=True)
class PointView:
    """A measurement point with its computed verdicts."""

    seq: int
    nominal: float
    as_found: float | None
    as_left: float | None
    tolerance: float
    unit: str
    as_found_pass: bool | None
    as_left_pass: bool | None


@dataclass(frozen=True)
class CalibrationInput:
    """A new calibration as entered."""

    performed_on: date | str
    result: str
    performed_by: str = ""
    provider_kind: str = "in_house"
    provider_name: str = ""
    certificate_number: str = ""
    temperature_c: float | str | None = None
    humidity_pct: float | str | None = None
    adjustment_made: bool = False
    uncertainty: str = ""
    next_due: date | str | None = None
    next_due_reason: str = ""
    notes: str = ""
    points: tuple[PointInput, ...] = ()
    standards: tuple[str, ...] = ()


@dataclass(frozen=True)
class CalibrationView:
    """A calibration record as QA reviews it."""

    id: int
    instrument_id: int
    asset_tag: str
    performed_on: date
    performed_by: str
    provider_kind: str
    provider_name: str
    certificate_number: str
    temperature_c: float | None
    humidity_pct: float | None
    result: str
    adjustment_made: bool
    uncertainty: str
    next_due: date | None
    notes: str
    points: list[PointView]
    standards: list[str]
    voided: bool
    void_reason: str | None
    created_at: datetime
    created_by: str
    version: int


@dataclass(frozen=True)
class AttachmentView:
    """An attachment as users see it."""

    id: int
    owner: str  # "instrument TAG" or "calibration #N of TAG"
    original_name: str
    stored_name: str
    size_bytes: int
    sha256: str
    added_at: datetime
    added_by: str
    voided: bool
    void_reason: str | None


@dataclass(frozen=True)
class AuditView:
    """One audit event, decoded."""

    id: int
    occurred_at: datetime
    user: str
    machine: str
    entity_type: str
    entity_id: int
    entity_label: str
    action: str
    changes: dict[str, list[Any]]
    reason: str
    hash: str


@dataclass(frozen=True)
class InstrumentHistory:
    """An instrument with its calibrations, attachments and audit trail."""

    instrument: InstrumentDetail
    calibrations: list[CalibrationView]
    attachments: list[AttachmentView]
    audit: list[AuditView] = field(default_factory=list)


def instrument_fields(d: InstrumentDetail) -> list[tuple[str, Any]]:
    """The instrument's fields as people read them: (label, value), in display order."""
    return [
        ("Manufacturer", d.manufacturer),
        ("Model", d.model),
        ("Serial number", d.serial_number),
        ("Firmware", d.firmware_version),
        ("Category", d.category),
        ("Location", d.location),
        ("Owner", d.owner),
        ("Status", d.lifecycle.replace("_", " ")),
        ("Interval", f"{d.calibration_interval_days} days (grace {d.grace_days})"),
        ("Range", d.range_text),
        ("Resolution", d.resolution_text),
        ("Accuracy", d.accuracy_text),
        ("Last calibrated", d.last_calibrated),
        ("Next due", d.next_due),
        ("Notes", d.notes),
        ("Created", f"{d.created_at:%Y-%m-%d %H:%M} UTC by {d.created_by}"),
        ("Updated", f"{d.updated_at:%Y-%m-%d %H:%M} UTC by {d.updated_by}"),
    ]
