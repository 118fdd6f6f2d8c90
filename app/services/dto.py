"""Plain, frozen values the services hand to the GUI and the CLI."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any

from app.services.decision_rules import Verdict
from app.vocabulary import (
    CaseState,
    CustodyState,
    Lifecycle,
    MaintenanceKind,
    ProviderKind,
    Requirement,
    Result,
    Role,
)


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
    lifecycle: Lifecycle
    due_status: str
    interval_days: int
    last_calibrated: date | None
    next_due: date | None
    version: int
    requirement: Requirement
    review_reason: str  # why QA is to review its data; "" when nothing is to review
    holder: str | None = None  # who has it now (its open check-out); None: nobody
    # When its next intermediate check is due (its active check schedule), and whether
    # that check is due before the next use; None, None: no check schedule.
    next_check: date | None = None
    check_before_use: bool | None = None


@dataclass(frozen=True)
class InstrumentPage:
    """A page of the list with the total that matches the filter."""

    rows: list[InstrumentRow]
    total: int


def number_text(value: float) -> str:
    """A stored number as typed, no digit lost ("100", "0.05"; ``:g`` rounds to six)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class StatedUncertainty:
    """An expanded uncertainty stated on a standard as a whole: U, its k, its unit."""

    value: float
    coverage_factor: float | None = None
    unit: str = ""

    @property
    def text(self) -> str:
        """As people write it: "0.02 °C (k = 2)"."""
        k = f" (k = {number_text(self.coverage_factor)})" if self.coverage_factor else ""
        unit = f" {self.unit}" if self.unit else ""
        return f"{number_text(self.value)}{unit}{k}"


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
    lifecycle: Lifecycle
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
    calibration_requirement: Requirement = "periodic"
    requirement_reason: str = ""
    review_reason: str = ""
    # Its instrument type ("" when it has none) and its custom field values by name.
    type_name: str = ""
    custom_fields: dict[str, str] = field(default_factory=dict)
    # The expanded uncertainty stated on it as a standard (None: none stated).
    stated_uncertainty: StatedUncertainty | None = None


# The interval a new instrument gets when none is given.
DEFAULT_INTERVAL_DAYS = 365


@dataclass(frozen=True)
class InstrumentInput:
    """A new instrument as entered (the command line, the form, an imported line).

    Typed, but not yet checked: the service checks every field (lengths, characters,
    ranges) and names each problem, so a dialog and the CLI show the same messages.
    ``validation.instrument_input`` builds one from raw text, checking it on the way.
    """

    asset_tag: str
    description: str
    manufacturer: str = ""
    model: str = ""
    serial_number: str = ""
    firmware_version: str = ""
    category: str = ""
    location: str = ""
    owner: str = ""
    status: Lifecycle = "in_service"
    calibration_interval_days: int = DEFAULT_INTERVAL_DAYS
    grace_days: int = 0
    range_text: str = ""
    resolution_text: str = ""
    accuracy_text: str = ""
    notes: str = ""
    calibration_requirement: Requirement = "periodic"
    requirement_reason: str = ""

    def field_values(self) -> dict[str, Any]:
        """Every field by name (what the field rules check)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class InstrumentChanges:
    """An edit of an instrument: only the fields given (not ``None``) change.

    An empty text is a value (it clears the field); ``None`` leaves the field alone.
    ``validation.instrument_changes`` builds one from raw text, checking it on the way.
    """

    asset_tag: str | None = None
    description: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    category: str | None = None
    location: str | None = None
    owner: str | None = None
    status: Lifecycle | None = None
    calibration_interval_days: int | None = None
    grace_days: int | None = None
    range_text: str | None = None
    resolution_text: str | None = None
    accuracy_text: str | None = None
    notes: str | None = None
    calibration_requirement: Requirement | None = None
    requirement_reason: str | None = None

    def field_values(self) -> dict[str, Any]:
        """The fields to change, by name, in declaration order."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class PointInput:
    """A measurement point as entered.

    ``tolerance`` is the ± half-width, as it has always been. ``tolerance_text``, when
    given, is the tolerance as written ("-0.02/+0.05", "±(0.05 % + 2 digits)") and
    wins: the service resolves it to limits at the nominal (``tolerance`` is then not
    read; :meth:`written` passes 0). ``uncertainty`` is the expanded uncertainty U and
    ``coverage_factor`` its k, in the point's unit (None: not stated).
    """

    nominal: float
    as_found: float | None
    as_left: float | None
    tolerance: float
    unit: str = ""
    uncertainty: float | None = None
    coverage_factor: float | None = None
    tolerance_text: str = ""

    @classmethod
    def written(
        cls,
        nominal: float,
        as_found: float | None,
        as_left: float | None,
        tolerance_text: str,
        unit: str = "",
        uncertainty: float | None = None,
        coverage_factor: float | None = None,
    ) -> PointInput:
        """A point whose tolerance is given as written."""
        return cls(
            nominal, as_found, as_left, 0.0, unit, uncertainty, coverage_factor, tolerance_text
        )


@dataclass(frozen=True)
class PointView:
    """A measurement point with its computed verdicts."""

    seq: int
    nominal: float
    as_found: float | None
    as_left: float | None
    tolerance: float
    unit: str
    # Whether each reading lies within its tolerance limits, as before issue 14; None: no
    # reading. The verdict under the record's decision rule is ``as_found_verdict``.
    as_found_pass: bool | None
    as_left_pass: bool | None
    # Issue 14: the tolerance as written ("" for a plain ± tolerance), its limits at the
    # nominal,
    # U and k, the acceptance limits the record's rule sets, the TUR and the verdicts.
    tolerance_text: str = ""
    lower_limit: float | None = None
    upper_limit: float | None = None
    uncertainty: float | None = None
    coverage_factor: float | None = None
    acceptance_lower: float | None = None
    acceptance_upper: float | None = None
    guard_band: float | None = None
    tur: float | None = None
    tur_text: str = ""
    as_found_verdict: Verdict | None = None
    as_left_verdict: Verdict | None = None


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
    # Why a standard that was overdue or out of service on the day was used anyway.
    standards_justification: str = ""
    # One key per entry (a uuid4), the same on every save of it: a save repeated after
    # its answer was lost returns the record the first one made instead of a second one.
    entry_key: str | None = None
    # The decision rule's code ("guard r=1 binary"); empty: the lab's default.
    decision_rule: str = ""
    # Why a point whose TUR is below the lab's minimum is accepted anyway.
    tur_justification: str = ""


@dataclass(frozen=True)
class SignatureView:
    """An electronic signature as shown on screen and printed (21 CFR 11.50)."""

    id: int
    subject: str  # "calibration" or "oot_case"
    subject_id: int
    meaning: str  # reviewed, approved, closed
    signer: str  # OS login
    printed_name: str
    signed_at: datetime  # naive UTC
    comment: str
    content_hash: str
    # False when the signed content no longer hashes to content_hash (changed outside).
    intact: bool = True

    @property
    def manifestation(self) -> str:
        """One line: printed name, login, meaning and UTC time, as printed on reports."""
        return (
            f"{self.meaning.capitalize()} by {self.printed_name} ({self.signer}) "
            f"on {self.signed_at:%Y-%m-%d %H:%M:%S} UTC"
        )


@dataclass(frozen=True)
class CalibrationView:
    """A calibration record as QA reviews it."""

    id: int
    instrument_id: int
    asset_tag: str
    performed_on: date
    performed_by: str
    provider_kind: ProviderKind
    provider_name: str
    certificate_number: str
    temperature_c: float | None
    humidity_pct: float | None
    result: Result
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
    signatures: list[SignatureView] = field(default_factory=list)
    standards_justification: str = ""
    supersedes_id: int | None = None
    superseded_by_id: int | None = None
    oot_case_id: int | None = None
    # This save found its entry recorded by an earlier save of it (whose answer was
    # lost) and wrote nothing: the record shown is that earlier one.
    already_saved: bool = False
    # The decision rule the record was judged by (its code and its sentence; records
    # before issue 14 were judged by simple acceptance), and why a point below the
    # lab's minimum TUR was accepted.
    decision_rule: str = "simple"
    decision_rule_text: str = ""
    tur_justification: str = ""

    @property
    def signed(self) -> bool:
        return bool(self.signatures)

    @property
    def as_found_failed(self) -> bool:
        """True when any as-found reading was outside its tolerance."""
        return any(p.as_found_pass is False for p in self.points)


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
class CheckReading:
    """One value of a check: the nominal, what was read, and the ± limit around it."""

    nominal: float
    reading: float
    limit: float

    @property
    def passed(self) -> bool:
        return abs(self.reading - self.nominal) <= self.limit

    def text(self) -> str:
        """ "20:20.3:0.5" as `checks add --value` takes it."""
        return f"{self.nominal:.10g}:{self.reading:.10g}:{self.limit:.10g}"


@dataclass(frozen=True)
class ScheduleView:
    """One schedule of an instrument as the register, the CLI and reports show it."""

    kind: str  # calibration, check or maintenance
    interval: str  # "365d", "6m"; "" for a before-use-only schedule
    soon_days: int  # the window in force (the lab's when the schedule sets none)
    grace_days: int
    before_use: bool
    last_done: date | None
    next_due: date | None
    status: str  # due_status for calibration, schedule_status for the others
    version: int  # 0 for calibration (its version is the instrument's)


@dataclass(frozen=True)
class CheckView:
    """A check as the detail pane, the CLI and the history report show it."""

    id: int
    asset_tag: str
    performed_on: date
    performed_by: str
    standard: str  # the standard's asset tag, or the free text
    readings: tuple[CheckReading, ...]
    result: str
    notes: str
    voided_at: datetime | None
    void_reason: str
    version: int
    oot_case_id: int | None = None  # the out-of-tolerance case a failing check opened


@dataclass(frozen=True)
class InstrumentHistory:
    """An instrument with its calibrations, attachments, maintenance log and audit trail."""

    instrument: InstrumentDetail
    calibrations: list[CalibrationView]
    attachments: list[AttachmentView]
    audit: list[AuditView] = field(default_factory=list)
    custody: list[CustodyView] = field(default_factory=list)  # newest first
    # Its maintenance, damage and repair log, newest first (issue 15).
    maintenance: list[MaintenanceView] = field(default_factory=list)
    # Issue 15: its schedules (calibration first) and intermediate checks, newest first.
    schedules: list[ScheduleView] = field(default_factory=list)
    checks: list[CheckView] = field(default_factory=list)


REQUIREMENT_TEXT = {
    "periodic": "periodic",
    "verify_before_use": "verify before use",
    "not_required": "calibration not required",
}


def requirement_text(requirement: str, reason: str) -> str:
    """How an instrument is calibrated, as people read it: "not required (kept for parts)"."""
    text = REQUIREMENT_TEXT.get(requirement, requirement)
    return f"{text} ({reason})" if reason else text


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
        ("Calibration", requirement_text(d.calibration_requirement, d.requirement_reason)),
        (
            "Interval",
            f"{d.calibration_interval_days} days (grace {d.grace_days})"
            if d.calibration_requirement == "periodic"
            else f"{d.calibration_interval_days} days, not used while not periodic",
        ),
        ("Range", d.range_text),
        ("Resolution", d.resolution_text),
        ("Accuracy", d.accuracy_text),
        ("Last calibrated", d.last_calibrated),
        ("Next due", d.next_due),
        ("Notes", d.notes),
        # Only for a typed instrument: an untyped one reads as before types existed.
        *([("Type", d.type_name)] if d.type_name else []),
        *d.custom_fields.items(),
        *([("Stated U", d.stated_uncertainty.text)] if d.stated_uncertainty else []),
        ("Created", f"{d.created_at:%Y-%m-%d %H:%M} UTC by {d.created_by}"),
        ("Updated", f"{d.updated_at:%Y-%m-%d %H:%M} UTC by {d.updated_by}"),
    ]


@dataclass(frozen=True)
class UserView:
    """A person known to the database: login, role, printed name."""

    login: str
    display_name: str
    role: Role
    active: bool
    has_signing_password: bool
    password_set_at: datetime | None
    known: bool  # False: no account, working with the default role
    version: int = 0

    @property
    def may_sign(self) -> bool:
        return self.active and self.role in ("qa", "admin")


@dataclass(frozen=True)
class AffectedCalibration:
    """A calibration in which a suspect standard served (reverse traceability)."""

    record_id: int
    instrument_id: int
    asset_tag: str
    description: str
    performed_on: date
    result: str
    certificate_number: str
    instrument_lifecycle: str


@dataclass(frozen=True)
class OotCaseView:
    """An out-of-tolerance case with what it may have affected."""

    id: int
    instrument_id: int
    asset_tag: str
    description: str
    record_id: int | None  # the calibration that found it; None when a check did
    status: CaseState
    found_on: date
    last_good_on: date | None
    summary: str
    failing_points: list[PointView]
    impact_assessment: str
    disposition: str  # "", no_impact, results_reassessed, results_recalled, other
    affected: list[AffectedCalibration]
    returned_to_service: bool
    opened_at: datetime
    opened_by: str
    closed_at: datetime | None
    closed_by: str | None
    updated_at: datetime
    updated_by: str
    version: int
    signatures: list[SignatureView] = field(default_factory=list)
    # Whether closing may put the instrument back in service now, and why (not).
    may_return_to_service: bool = False
    return_to_service_note: str = ""
    # A follow-up case: the case whose impact list it was opened from (revision 0012).
    origin_case_id: int | None = None
    # Issue 15: the failing intermediate check that found it (else ``record_id``), and
    # where it came from in words: "calibration #12" or "intermediate check #5 on 2026-03-02".
    check_id: int | None = None
    found_by: str = ""

    @property
    def found_text(self) -> str:
        """ "2026-03-02 by calibration #12", or "intermediate check #5 on 2026-03-02"."""
        if self.check_id is not None:
            return self.found_by
        return f"{self.found_on} by {self.found_by}"

    @property
    def affected_instruments(self) -> list[str]:
        """Asset tags of the instruments the affected calibrations were for, sorted."""
        return sorted({a.asset_tag for a in self.affected})


@dataclass(frozen=True)
class TraceLink:
    """One calibration linking an instrument and a standard."""

    record_id: int
    performed_on: date
    instrument_tag: str
    standard_tag: str
    result: str
    voided: bool


@dataclass(frozen=True)
class Traceability:
    """Both directions: the standards behind an instrument, and what it calibrated."""

    asset_tag: str
    standards_used: list[TraceLink]  # this instrument was calibrated with these
    used_as_standard: list[TraceLink]  # this instrument served in these calibrations


# -- instrument types (app.services.types) ----------------------------------------------


@dataclass(frozen=True)
class TypePointInput:
    """A test point of a type as entered: nominal, tolerance as written, unit."""

    nominal: float
    tolerance: str
    unit: str = ""


@dataclass(frozen=True)
class TypeFieldInput:
    """A custom field of a type as entered; ``choices`` only for kind "choice"."""

    name: str
    kind: str
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScheduleDefault:
    """A default check or maintenance schedule a type gives its instruments (issue 15).

    ``every`` as ``schedules.parse_interval`` reads it ("30d", "6m"; "" with before use
    only); ``soon_days`` None: the lab's due-soon window. Neither an interval nor before
    use: no default (how an edit removes one).
    """

    every: str = ""
    soon_days: int | None = None
    grace_days: int = 0
    before_use: bool = False

    def is_set(self) -> bool:
        """True when this is a schedule (an interval, or before use)."""
        return bool(self.every.strip()) or self.before_use

    def text(self) -> str:
        """ "every 6m, grace 3 d, due-soon 10 d, before use" ("none" when not set)."""
        if not self.is_set():
            return "none"
        parts = [f"every {self.every}"] if self.every else []
        if self.grace_days:
            parts.append(f"grace {self.grace_days} d")
        if self.soon_days is not None:
            parts.append(f"due-soon {self.soon_days} d")
        if self.before_use:
            parts.append("before use")
        return ", ".join(parts)


@dataclass(frozen=True)
class TypeInput:
    """A new instrument type as entered (the CLI, an imported file, later the dialog).

    ``decision_rule`` is a code ``decision_rules.parse_rule`` reads, or None for the
    lab's default rule; ``default_interval_days`` None keeps each instrument's own.
    """

    name: str
    description: str = ""
    default_interval_days: int | None = None
    decision_rule: str | None = None
    procedure_id: str = ""
    procedure_revision: str = ""
    range_low: str = ""
    range_high: str = ""
    resolution: str = ""
    standard_categories: tuple[str, ...] = ()
    points: tuple[TypePointInput, ...] = ()
    fields: tuple[TypeFieldInput, ...] = ()
    # Default schedules given to its instruments (None: none of that kind).
    check: ScheduleDefault | None = None
    maintenance: ScheduleDefault | None = None


@dataclass(frozen=True)
class TypeChanges:
    """An edit of a type: only what is given (not None) changes.

    An empty ``decision_rule`` returns to the lab default; ``default_interval_days`` 0
    removes the default interval. ``points`` and ``fields``, when given, replace the
    type's whole list (an empty tuple removes them all). ``check`` and ``maintenance``,
    when given, replace that default schedule (an empty ``ScheduleDefault()`` removes it).
    """

    name: str | None = None
    description: str | None = None
    default_interval_days: int | None = None
    decision_rule: str | None = None
    procedure_id: str | None = None
    procedure_revision: str | None = None
    range_low: str | None = None
    range_high: str | None = None
    resolution: str | None = None
    standard_categories: tuple[str, ...] | None = None
    points: tuple[TypePointInput, ...] | None = None
    fields: tuple[TypeFieldInput, ...] | None = None
    check: ScheduleDefault | None = None
    maintenance: ScheduleDefault | None = None

    def given(self) -> dict[str, Any]:
        """The fields to change, by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class TypePointView:
    """A test point of a type with its tolerance limits at the nominal."""

    seq: int
    nominal: float
    tolerance: str
    unit: str
    limits: str  # "19.5 … 20.5": what the tolerance gives at the nominal


@dataclass(frozen=True)
class TypeFieldView:
    """A custom field of a type."""

    seq: int
    name: str
    kind: str
    required: bool
    choices: tuple[str, ...]


@dataclass(frozen=True)
class TypeView:
    """An instrument type with its plan, custom fields and how many instruments use it."""

    id: int
    name: str
    description: str
    default_interval_days: int | None
    decision_rule: str | None  # the code; None: the lab's default rule
    decision_rule_sentence: str  # "" for the lab default
    procedure_id: str
    procedure_revision: str
    range_low: str
    range_high: str
    resolution: str
    standard_categories: tuple[str, ...]
    points: tuple[TypePointView, ...]
    fields: tuple[TypeFieldView, ...]
    # Default schedules given to its instruments (None: none of that kind).
    check: ScheduleDefault | None
    maintenance: ScheduleDefault | None
    instruments: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    version: int


@dataclass(frozen=True)
class PrefillPoint:
    """A point a new calibration starts with, from the instrument's type.

    ``tolerance`` is as written on the type; ``half_width`` the ± it gives at the
    nominal when it is symmetric (None for an asymmetric tolerance), which is what
    today's ``PointInput.tolerance`` holds.
    """

    seq: int
    nominal: float
    tolerance: str
    unit: str
    lower_limit: str
    upper_limit: str
    half_width: float | None


@dataclass(frozen=True)
class CalibrationPrefill:
    """What a new calibration of a typed instrument starts from (the grid's prefill)."""

    asset_tag: str
    type_name: str
    interval_days: int  # the type's default interval, else the instrument's own
    decision_rule: str | None  # the type's rule code; None: the lab's default rule
    procedure: str  # "WI-12 rev C" ("" when the type names none)
    standard_categories: tuple[str, ...]
    points: tuple[PrefillPoint, ...]

    def point_inputs(self) -> tuple[PointInput, ...]:
        """The points as today's ``PointInput`` (readings empty, ± tolerance).

        An asymmetric tolerance has no ± form: such a point is left out here, and a
        caller that needs it reads ``points`` (the tolerance as written).
        """
        return tuple(
            PointInput(p.nominal, None, None, p.half_width, p.unit)
            for p in self.points
            if p.half_width is not None
        )


@dataclass(frozen=True)
class CustodyView:
    """One check-out of an instrument: to whom, where, until when, and its check-in."""

    id: int
    instrument_id: int
    asset_tag: str
    description: str
    holder: str
    place: str
    due_back: date | None
    override_reason: str  # why QA let it out although it was refused ("" when not)
    out_at: datetime
    out_by: str
    in_at: datetime | None
    in_by: str | None
    voided_at: datetime | None
    voided_by: str | None
    void_reason: str | None
    version: int
    state: CustodyState
    late: bool  # still out after the day it was due back


@dataclass(frozen=True)
class CustodyCheck:
    """What a scanned or typed tag offers: check it out, or check it in.

    ``refusal`` says why the check-out rules refuse it ("" when they do not);
    ``may_override``: the user is QA and may let it out anyway with a reason.
    """

    instrument_id: int
    asset_tag: str
    description: str
    due_status: str
    current: CustodyView | None  # the open check-out, when it is out
    refusal: str
    may_override: bool


@dataclass(frozen=True)
class MaintenanceInput:
    """A maintenance, damage or repair event as typed (issue 15); the service checks it.

    ``cost`` is decimal text ("1250", "1250.50"); ``downtime`` is hours, or days with a
    "d" after the number ("4", "4h", "1.5d"); "" for either when not given.
    """

    kind: str
    performed_on: str | date
    what_done: str
    cost: str = ""
    currency: str = ""
    downtime: str = ""
    notes: str = ""
    calibrate_before_use: bool = False


@dataclass(frozen=True)
class MaintenanceView:
    """One event of an instrument's maintenance log, as the window and the CLI show it."""

    id: int
    asset_tag: str
    kind: MaintenanceKind
    performed_on: date
    performed_by: str
    what_done: str
    cost: str  # exact decimal text, "" when none
    currency: str
    downtime_hours: float | None
    notes: str
    calibrate_before_use: bool
    # The calibration that satisfied "calibrate before use"; None while it is awaited.
    released_by_record_id: int | None
    voided_at: datetime | None
    voided_by: str | None
    void_reason: str | None
    created_at: datetime
    version: int

    @property
    def awaiting_calibration(self) -> bool:
        """It asked for a calibration before use, none has satisfied it, and it counts."""
        return (
            self.calibrate_before_use
            and self.released_by_record_id is None
            and self.voided_at is None
        )
