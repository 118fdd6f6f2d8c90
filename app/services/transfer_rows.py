"""From a file's raw cells to what the services take: instrument values, CalibrationInput.

Only the conversions a file needs and a form does not are done here — dates in the
file's order, an interval in months, readings and standards packed in one cell,
yes/no cells, Excel numbers in text fields. Every field rule stays with the services
(``validate_instrument_fields``, ``CalibrationService.add_in``): the import hands them
the values and reports what they refuse.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.errors import ValidationError
from app.plain_text import control_problem, tag_key, tag_problem
from app.services.calibrations import parse_point
from app.services.checks import CheckInput, parse_reading
from app.services.custody import ImportedCheckout, custody_key
from app.services.dto import (
    CalibrationInput,
    CheckReading,
    MaintenanceInput,
    PointInput,
    StatedUncertainty,
)
from app.services.provider_views import ProviderInput
from app.services.schedules import RecordedState, ScheduleInput
from app.services.standard_uncertainty import parse_stated
from app.services.transfer_dates import DateProblem, in_calendar, parse_day, parse_moment
from app.services.transfer_mapping import spec_of
from app.services.transfer_model import VALUE_NAMES, ColumnValues, ImportMapping, RowIssue
from app.storage.tables import Cell, RawRow

TRUE_WORDS = frozenset({"yes", "y", "true", "1", "x", "ja", "j", "oui", "si", "wahr"})
FALSE_WORDS = frozenset({"no", "n", "false", "0", "nein", "non", "falsch"})
_ITEM_SPLIT = re.compile(r"[;|]")
_TAG_SPLIT = re.compile(r"[;,|]")
# Between a check's readings: spaces (as the export writes them), ";" or "|".
_READING_SPLIT = re.compile(r"[\s;|]+")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


@dataclass
class PlannedRow:
    """One data row of the file, converted; ``issues`` are the conversion's problems."""

    line: int
    tag: str
    issues: list[RowIssue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # instruments
    values: dict[str, Any] = field(default_factory=dict)
    due: dict[str, date] = field(default_factory=dict)
    type_name: str | None = None  # None: no type given (an update leaves it)
    custom: dict[str, str] = field(default_factory=dict)
    # A standard's stated uncertainty (None: not given; an update leaves it)
    stated: StatedUncertainty | None = None
    # calibrations
    calibration: CalibrationInput | None = None
    performed_on: date | None = None
    void_reason: str = ""
    voided_at: datetime | None = None
    voided_by: str = ""
    duplicate_key: tuple[Any, ...] = ()
    summary: str = ""
    # schedules (issue 15): the settings, and the state a new schedule keeps as recorded
    schedule: ScheduleInput | None = None
    schedule_state: RecordedState | None = None
    active: bool = True
    # intermediate checks (issue 15)
    check: CheckInput | None = None
    # providers (issue 15): its fields; the name is the row's ``tag``, a retirement
    # its ``voided_at`` and ``void_reason``
    provider: ProviderInput | None = None
    # maintenance events (issue 15); who logged it ("" : the importing user)
    event: MaintenanceInput | None = None
    performed_by: str = ""
    # custody (issue 15): the check-out; its void in the void fields
    custody: ImportedCheckout | None = None
    # send-outs (issue 15): the row's batch (``batch_fields``, equal on each row of one
    # batch; the file's batch key in ``duplicate_key[0]``) and the day its instrument
    # came back
    batch_fields: tuple[Any, ...] = ()
    cost: float | str | None = None
    received_on: date | None = None


def cell_text(value: Cell) -> str:
    """A cell as text: Excel's 1001.0 is "1001", a date cell is ISO."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


# An interval of 0 (or less) says the instrument is not calibrated periodically: which of
# these it is, the user says (never guessed: a 0 may as well be a typing slip). A blank
# interval is in the same table, guessed as periodic with the default interval (what a
# blank always meant), so a register whose blanks mean "not calibrated" can say so.
INTERVAL_FIELDS = (
    "calibration_interval_days",
    "calibration_interval_months",
    "calibration_interval_years",
)
NON_PERIODIC = ("not_required", "verify_before_use")
# What a 0 or a blank interval may become ("periodic": the default interval).
INTERVAL_TARGETS = ("periodic", *NON_PERIODIC)
# How a blank interval cell is named in the value table and in --value.
BLANK_INTERVAL = "(blank)"


def non_positive(text: str) -> bool:
    """An interval cell that says 0 or less ("0", "0.0", "-1")."""
    try:
        return float(text.strip().replace(",", ".")) <= 0
    except ValueError:
        return False


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


class _Row:
    """Reads one raw row through the mapping, collecting problems with their headers."""

    def __init__(
        self,
        raw: RawRow,
        mapping: ImportMapping,
        order: str,
        width: int,
        choices: Mapping[str, ColumnValues],
    ) -> None:
        self.raw = raw
        self.mapping = mapping
        self.order = order
        self.choices = choices
        self.issues: list[RowIssue] = []
        extra = [c for c in raw.cells[width:] if not _blank(c)]
        if extra:
            self.issues.append(
                RowIssue(
                    raw.line,
                    None,
                    None,
                    f"has {width + len(extra)} values but the header has {width} columns "
                    "(a delimiter inside a value that is not quoted?)",
                )
            )

    def issue(self, field_name: str, message: str) -> None:
        self.issues.append(
            RowIssue(self.raw.line, self.mapping.header_of(field_name), field_name, message)
        )

    def cell(self, field_name: str) -> Cell:
        index = self.mapping.index_of(field_name)
        if index is None or index >= len(self.raw.cells):
            return None
        return self.raw.cells[index]

    def text(self, field_name: str) -> str:
        return cell_text(self.cell(field_name))

    def choice(self, field_name: str) -> str:
        """A fixed-set field's canonical value through the value mapping ("" if blank or
        not mapped — the latter an issue that names the value, counted once per value)."""
        text = self.text(field_name)
        table = self.choices.get(field_name)
        if not text or table is None:
            return text
        target = table.target_of(text)
        if target is None:
            name = VALUE_NAMES.get(field_name, field_name)
            self.issues.append(
                RowIssue(
                    self.raw.line,
                    self.mapping.header_of(field_name),
                    field_name,
                    f"{' '.join(text.split())!r} is not a {name} CalTrack knows "
                    f"({', '.join(table.allowed)}) and no value mapping says which it is",
                    unmapped_value=text,
                )
            )
            return ""
        return target

    def day(self, field_name: str) -> date | None:
        value = self.cell(field_name)
        if _blank(value):
            return None
        try:
            if isinstance(value, datetime):
                return in_calendar(value.date())
            if isinstance(value, date):
                return in_calendar(value)
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.issue(field_name, f"{cell_text(value)!r} is a number, not a date")
                return None
            return parse_day(str(value), self.order)
        except DateProblem as exc:
            self.issue(field_name, str(exc))
            return None

    def moment(self, field_name: str) -> datetime | None:
        value = self.cell(field_name)
        if _blank(value):
            return None
        try:
            if isinstance(value, datetime):
                in_calendar(value.date())
                return value
            if isinstance(value, date):
                return datetime.combine(in_calendar(value), datetime.min.time())
            moment = parse_moment(str(value), self.order)
            in_calendar(moment.date())
            return moment
        except DateProblem as exc:
            self.issue(field_name, str(exc))
            return None

    def number(self, field_name: str) -> float | str | None:
        """A float from a number cell; text goes to the service, which checks it."""
        value = self.cell(field_name)
        if _blank(value):
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return cell_text(value)

    def whole(self, field_name: str) -> int | str | None:
        value = self.cell(field_name)
        if _blank(value):
            return None
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return cell_text(value)

    def flag(self, field_name: str) -> bool:
        value = self.cell(field_name)
        if isinstance(value, bool):
            return value
        text = cell_text(value).casefold()
        if text in TRUE_WORDS:
            return True
        if not text or text in FALSE_WORDS:
            return False
        self.issue(field_name, f"{text!r} is neither yes nor no")
        return False


def _interval_days(row: _Row, field_name: str, per_unit: float, unit: str) -> int | None:
    value = row.cell(field_name)
    if _blank(value):
        return None
    text = cell_text(value).replace(",", ".")
    try:
        amount = float(text)
    except ValueError:
        row.issue(field_name, f"must be a number of {unit} (got {text!r})")
        return None
    if amount <= 0:
        row.issue(field_name, f"must be more than 0 {unit}")
        return None
    # Half a day rounds up: 6 months are 183 days.
    return int(amount * per_unit + 0.5)


def parse_custom(text: str) -> tuple[dict[str, str], str]:
    """A custom fields cell (``custom_text``'s form) as names to values, and what is
    wrong with it ("" when nothing). ``;;`` is a ";" inside a name or value."""
    items: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == ";" and text[i + 1 : i + 2] == ";":
            current.append(";")
            i += 2
            continue
        if char == ";":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    items.append("".join(current))
    values: dict[str, str] = {}
    for item in items:
        if not item.strip():
            continue
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            return {}, (
                f"{item.strip()!r}: write each value as NAME=VALUE, separated by '; ' "
                "(Probe serial=PS-778; Probe kind=Pt100)"
            )
        values[" ".join(name.split())] = value.strip()
    return values, ""


def instrument_row(
    raw: RawRow,
    mapping: ImportMapping,
    order: str,
    width: int,
    choices: Mapping[str, ColumnValues] | None = None,
) -> PlannedRow:
    """The values for ``InstrumentService.add_in`` / ``edit_in``; blank cells are left out.

    ``choices``: the value tables of the fixed-set columns (``transfer_values``).
    """
    row = _Row(raw, mapping, order, width, choices or {})
    planned = PlannedRow(line=raw.line, tag=row.text("asset_tag"))
    noted: list[str] = []  # columns kept as lines of the notes
    zero_interval = ""  # an interval of 0 that made the row not periodic
    for column in mapping.mapped:
        name = column.field
        if name is None:  # never: a mapped column has a field
            continue
        spec = spec_of("instruments", name)
        if _blank(row.cell(name)):
            if name in INTERVAL_FIELDS and not row.text("calibration_requirement"):
                zero_interval = _blank_interval(row, planned, zero_interval)
            continue
        if name in INTERVAL_FIELDS and non_positive(row.text(name)):
            skip, zero_interval = _zero_interval(row, planned, name, zero_interval)
            if skip:
                continue
        if spec.kind == "date":
            day = row.day(name)
            if day is not None:
                planned.due[name] = day
        elif spec.kind == "months":
            days = _interval_days(row, name, 365 / 12, "months")
            if days is not None:
                planned.values["calibration_interval_days"] = days
        elif spec.kind == "years":
            days = _interval_days(row, name, 365, "years")
            if days is not None:
                planned.values["calibration_interval_days"] = days
        elif spec.kind == "int":
            planned.values[name] = row.whole(name)
        elif spec.kind == "note":
            noted.append(f"{spec.label}: {' '.join(row.text(name).split())}")
        elif spec.kind == "custom":
            planned.custom, problem = parse_custom(row.text(name))
            if problem:
                row.issue(name, problem)
        elif spec.kind == "stated":
            # The service's own parser and checks (the CLI's and the form's too).
            try:
                planned.stated = parse_stated(row.text(name))
            except ValidationError as exc:
                row.issue(name, "; ".join(exc.fields.values()))
        elif name == "type_name":
            planned.type_name = " ".join(row.text(name).split())
        elif name in row.choices:
            value = row.choice(name)
            if value:
                planned.values[name] = value
        else:
            planned.values[name] = row.text(name)
    if noted:
        notes = str(planned.values.get("notes") or "")
        planned.values["notes"] = "\n".join([notes, *noted] if notes else noted)
    requirement = planned.values.get("calibration_requirement")
    if requirement in NON_PERIODIC and not planned.values.get("requirement_reason"):
        # Not required must say why; the register's own word is the why we have.
        if zero_interval == BLANK_INTERVAL:
            planned.values["requirement_reason"] = "no interval in the imported register"
        elif zero_interval:
            planned.values["requirement_reason"] = (
                f"interval {zero_interval} in the imported register"
            )
        elif requirement == "not_required":
            said = " ".join(row.text("calibration_requirement").split())
            planned.values["requirement_reason"] = f"{said!r} in the imported register"
    planned.issues = row.issues
    planned.summary = cell_text(row.cell("description"))
    return planned


def _zero_interval(row: _Row, planned: PlannedRow, name: str, seen: str) -> tuple[bool, str]:
    """An interval of 0 (or less): (leave the cell out?, the interval that made the row
    not periodic). A requirement column's word wins; else the interval's value mapping
    says which requirement a 0 means; else it stays the error it always was.
    """
    text = " ".join(row.text(name).split())
    said = row.text("calibration_requirement")
    if said:
        table = row.choices.get("calibration_requirement")
        target = table.target_of(said) if table is not None else None
        # Not periodic: the interval is not used (the default is kept); periodic or not
        # mapped: the interval is read as ever (and refused), the requirement's issue
        # named by its own column.
        return target in NON_PERIODIC, seen
    table = row.choices.get("calibration_interval_days")
    target = table.target_of(text) if table is not None else None
    if target is None:
        row.issues.append(
            RowIssue(
                row.raw.line,
                row.mapping.header_of(name),
                name,
                f"an interval of {text!r} is no calibration interval; map it to "
                f"{' or '.join(NON_PERIODIC)} (an instrument not calibrated periodically) "
                "or periodic (the default interval), or give the interval",
                unmapped_value=text,
            )
        )
        return True, seen
    if target == "periodic":
        return True, seen  # the default interval, as for a blank cell
    planned.values["calibration_requirement"] = target
    return True, text


def _blank_interval(row: _Row, planned: PlannedRow, seen: str) -> str:
    """A blank interval cell: what the interval's value table says a blank means
    (periodic with the default interval unless the user said otherwise)."""
    table = row.choices.get("calibration_interval_days")
    target = table.target_of(BLANK_INTERVAL) if table is not None else None
    if target in NON_PERIODIC:
        planned.values["calibration_requirement"] = target
        return BLANK_INTERVAL
    return seen


def _points(row: _Row) -> tuple[PointInput, ...]:
    text = row.text("points")
    points: list[PointInput] = []
    items = [item.strip() for item in _ITEM_SPLIT.split(text) if item.strip()]
    for n, item in enumerate(items, start=1):
        try:
            points.append(parse_point(item))
        except ValidationError as exc:
            detail = "; ".join(exc.fields.values())
            row.issue("points", f"reading {n} of {len(items)}: {detail}")
    return tuple(points)


def _provider_kind(row: _Row, provider_name: str) -> str:
    text = row.text("provider_kind")
    if text and "provider_kind" in row.choices:
        return row.choice("provider_kind")  # "" when not mapped: the row's issue says so
    if not text:
        # As the CLI does: a named provider is an external one.
        return "external" if provider_name else "in_house"
    return text.lower().replace(" ", "_").replace("-", "_")


def calibration_row(
    raw: RawRow,
    mapping: ImportMapping,
    order: str,
    width: int,
    choices: Mapping[str, ColumnValues] | None = None,
) -> PlannedRow:
    """The ``CalibrationInput`` of one row, plus what voiding it needs."""
    row = _Row(raw, mapping, order, width, choices or {})
    tag = row.text("asset_tag")
    if problem := tag_problem(tag):
        row.issue("asset_tag", problem)
    performed_on = row.day("performed_on")
    if performed_on is None and not any(i.field == "performed_on" for i in row.issues):
        row.issue("performed_on", "required: the date of the calibration")
    provider_name = row.text("provider_name")
    written = row.text("result")
    result = row.choice("result") if "result" in row.choices else written
    data = CalibrationInput(
        performed_on=performed_on or "",
        result=result,
        performed_by=row.text("performed_by"),
        provider_kind=_provider_kind(row, provider_name),
        provider_name=provider_name,
        certificate_number=row.text("certificate_number"),
        temperature_c=row.number("temperature_c"),
        humidity_pct=row.number("humidity_pct"),
        adjustment_made=row.flag("adjustment_made"),
        uncertainty=row.text("uncertainty"),
        next_due=row.day("next_due"),
        next_due_reason=row.text("next_due_reason"),
        notes=cell_text(row.cell("notes")),
        points=_points(row),
        standards=tuple(t.strip() for t in _TAG_SPLIT.split(row.text("standards")) if t.strip()),
        standards_justification=row.text("standards_justification"),
        decision_rule=row.text("decision_rule"),
        tur_justification=row.text("tur_justification"),
    )
    planned = PlannedRow(line=raw.line, tag=tag, calibration=data, performed_on=performed_on)
    _void_columns(row, planned)
    planned.duplicate_key = (
        tag_key(tag),
        performed_on,
        data.certificate_number.casefold(),
        result.lower(),
        data.points,
    )
    when = performed_on.isoformat() if performed_on else "?"
    planned.summary = f"calibration on {when}: {result or written or '?'}" + (
        " (voided)" if planned.void_reason else ""
    )
    planned.issues = row.issues
    return planned


def _days(row: _Row, field_name: str) -> int | None:
    """A whole number of days (None: blank); anything else is the row's issue."""
    value = row.whole(field_name)
    if value is None or isinstance(value, int):
        return value
    text = " ".join(value.split())
    if re.fullmatch(r"[+-]?\d+", text, re.ASCII):
        # Digits as text: the service's window rule says whether the number is sensible
        # (a run of digits too long to be days is simply too many).
        return int(text) if len(text.lstrip("+-")) <= 9 else 10**9
    row.issue(field_name, f"{text[:40]!r} is not a whole number of days")
    return None


def _flag_or(row: _Row, field_name: str, blank: bool) -> bool:
    """A yes/no cell; ``blank`` when the cell is empty (or the column not there)."""
    return blank if _blank(row.cell(field_name)) else row.flag(field_name)


def schedule_row(
    raw: RawRow,
    mapping: ImportMapping,
    order: str,
    width: int,
    choices: Mapping[str, ColumnValues] | None = None,
) -> PlannedRow:
    """The ``ScheduleInput`` of one row, and the state it keeps as recorded (issue 15)."""
    row = _Row(raw, mapping, order, width, choices or {})
    tag = row.text("asset_tag")
    if problem := tag_problem(tag):
        row.issue("asset_tag", problem)
    written = row.text("kind")
    kind = row.choice("kind") if "kind" in row.choices else written.casefold()
    if not written:
        row.issue("kind", "required: which schedule (check or maintenance)")
    before_use = _flag_or(row, "before_use", False)
    data = ScheduleInput(
        kind=kind,
        every=" ".join(row.text("every").split()),
        grace_days=_days(row, "grace_days") or 0,
        soon_days=_days(row, "soon_days"),
        before_use=before_use,
    )
    planned = PlannedRow(line=raw.line, tag=tag, schedule=data)
    last_done, next_due = row.day("last_done"), row.day("next_due")
    planned.active = _flag_or(row, "active", True)
    state_given = any(
        not _blank(row.cell(name)) for name in ("last_done", "next_due", "due_before_use", "active")
    )
    if state_given:
        planned.schedule_state = RecordedState(
            last_done=last_done,
            next_due=next_due,
            due_before_use=_flag_or(row, "due_before_use", before_use) and planned.active,
            active=planned.active,
        )
    planned.duplicate_key = (tag_key(tag), kind or written.casefold())
    every = data.every or ("before use" if before_use else "?")
    planned.summary = f"{kind or written or '?'} schedule: {every}" + (
        "" if planned.active else " (not active)"
    )
    planned.issues = row.issues
    return planned


def _check_readings(row: _Row) -> tuple[CheckReading, ...]:
    items = [item for item in _READING_SPLIT.split(row.text("readings")) if item]
    readings: list[CheckReading] = []
    for n, item in enumerate(items, start=1):
        try:
            readings.append(parse_reading(item))
        except ValidationError as exc:
            detail = "; ".join(exc.fields.values())
            row.issue("readings", f"reading {n} of {len(items)}: {detail}")
    return tuple(readings)


def check_row(
    raw: RawRow,
    mapping: ImportMapping,
    order: str,
    width: int,
    choices: Mapping[str, ColumnValues] | None = None,
) -> PlannedRow:
    """The ``CheckInput`` of one row (issue 15), plus what voiding it needs."""
    row = _Row(raw, mapping, order, width, choices or {})
    tag = row.text("asset_tag")
    if problem := tag_problem(tag):
        row.issue("asset_tag", problem)
    performed_on = row.day("performed_on")
    if performed_on is None and not any(i.field == "performed_on" for i in row.issues):
        row.issue("performed_on", "required: the date of the check")
    written = row.text("result")
    result = row.choice("result") if "result" in row.choices else written.casefold()
    readings = _check_readings(row)
    standard = " ".join(row.text("standard").split())
    planned = PlannedRow(line=raw.line, tag=tag, performed_on=performed_on)
    if performed_on is not None:
        planned.check = CheckInput(
            performed_on=performed_on,
            readings=readings,
            standard=standard,
            performed_by=row.text("performed_by"),
            notes=cell_text(row.cell("notes")),
            result=result,
        )
    _void_columns(row, planned)
    planned.duplicate_key = check_key(tag, performed_on, standard, readings, result)
    when = performed_on.isoformat() if performed_on else "?"
    planned.summary = (
        f"check on {when} against {standard or '?'}: "
        + (result or ("computed from the readings" if readings else "?"))
        + (" (voided)" if planned.void_reason else "")
    )
    planned.issues = row.issues
    return planned


def maintenance_row(
    raw: RawRow,
    mapping: ImportMapping,
    order: str,
    width: int,
    choices: Mapping[str, ColumnValues] | None = None,
) -> PlannedRow:
    """The ``MaintenanceInput`` of one row (issue 15), plus who logged it and its void."""
    row = _Row(raw, mapping, order, width, choices or {})
    tag = row.text("asset_tag")
    if problem := tag_problem(tag):
        row.issue("asset_tag", problem)
    performed_on = row.day("performed_on")
    if performed_on is None and not any(i.field == "performed_on" for i in row.issues):
        row.issue("performed_on", "required: the date of the event")
    written = row.text("kind")
    kind = row.choice("kind") if "kind" in row.choices else written
    if not written:
        row.issue("kind", "required: what kind of event (maintenance, repair, ...)")
    what = cell_text(row.cell("what"))
    planned = PlannedRow(line=raw.line, tag=tag, performed_on=performed_on)
    if performed_on is not None:
        planned.event = MaintenanceInput(
            kind=kind,
            performed_on=performed_on,
            what_done=what,
            cost=row.text("cost"),
            currency=row.text("currency"),
            downtime=row.text("downtime"),
            notes=cell_text(row.cell("notes")),
            calibrate_before_use=row.flag("calibrate_before_use"),
        )
    planned.performed_by = " ".join(row.text("performed_by").split())
    if problem := control_problem(planned.performed_by):
        row.issue("performed_by", problem)
    _void_columns(row, planned)
    planned.duplicate_key = maintenance_key(tag, performed_on, kind, what)
    when = performed_on.isoformat() if performed_on else "?"
    planned.summary = f"{(kind or written or '?').replace('_', ' ')} on {when}" + (
        " (voided)" if planned.void_reason else ""
    )
    planned.issues = row.issues
    return planned


def provider_row(
    raw: RawRow,
    mapping: ImportMapping,
    order: str,
    width: int,
    choices: Mapping[str, ColumnValues] | None = None,
) -> PlannedRow:
    """The ``ProviderInput`` of one row (issue 15), plus its retirement."""
    row = _Row(raw, mapping, order, width, choices or {})
    name = " ".join(row.text("name").split())
    written = row.text("approval")
    approval = row.choice("approval") if "approval" in row.choices else written
    planned = PlannedRow(line=raw.line, tag=name)
    planned.provider = ProviderInput(
        name=name,
        contact=cell_text(row.cell("contact")),
        accreditation_body=row.text("accreditation_body"),
        accreditation_number=row.text("accreditation_number"),
        scope=cell_text(row.cell("scope")),
        approval=approval or "approved",
        review_date=row.day("review_date"),
    )
    planned.void_reason = row.text("retire_reason")
    planned.voided_at = row.moment("retired_at")
    if problem := control_problem(planned.void_reason):
        row.issue("retire_reason", problem)
    if planned.voided_at and not planned.void_reason:
        row.issue("retire_reason", "the provider is marked retired but has no retire reason")
    planned.duplicate_key = (tag_key(name),)
    planned.summary = f"provider {name or '?'}: {(approval or 'approved').replace('_', ' ')}" + (
        " (retired)" if planned.void_reason else ""
    )
    planned.issues = row.issues
    return planned


def custody_row(
    raw: RawRow,
    mapping: ImportMapping,
    order: str,
    width: int,
    choices: Mapping[str, ColumnValues] | None = None,
) -> PlannedRow:
    """The ``ImportedCheckout`` of one row (issue 15), its void included."""
    row = _Row(raw, mapping, order, width, choices or {})
    tag = row.text("asset_tag")
    if problem := tag_problem(tag):
        row.issue("asset_tag", problem)
    out_at = row.moment("out_at")
    if out_at is None and not any(i.field == "out_at" for i in row.issues):
        row.issue("out_at", "required: when it was checked out")
    holder = " ".join(row.text("holder").split())
    in_at = row.moment("in_at")
    planned = PlannedRow(line=raw.line, tag=tag, performed_on=out_at.date() if out_at else None)
    _void_columns(row, planned)
    if out_at is not None:
        planned.custody = ImportedCheckout(
            holder=holder,
            out_at=out_at,
            place=" ".join(row.text("place").split()),
            out_by=row.text("out_by"),
            due_back=row.day("due_back"),
            in_at=in_at,
            in_by=row.text("in_by"),
            override_reason=row.text("override_reason"),
            voided_at=planned.voided_at,
            voided_by=planned.voided_by,
            void_reason=planned.void_reason,
        )
    planned.duplicate_key = custody_key(tag, out_at)
    when = out_at.isoformat(sep=" ", timespec="minutes") if out_at else "?"
    state = (
        " (voided)"
        if planned.void_reason
        else f", back {in_at.date().isoformat()}"
        if in_at
        else " (still out)"
    )
    planned.summary = f"out to {holder or '?'} on {when}{state}"
    planned.issues = row.issues
    return planned


def sendout_row(
    raw: RawRow,
    mapping: ImportMapping,
    order: str,
    width: int,
    choices: Mapping[str, ColumnValues] | None = None,
) -> PlannedRow:
    """One instrument of a send-out batch (issue 15) and its batch's fields."""
    row = _Row(raw, mapping, order, width, choices or {})
    tag = row.text("asset_tag")
    if problem := tag_problem(tag):
        row.issue("asset_tag", problem)
    elif not tag:
        row.issue("asset_tag", "required: the asset tag of the instrument sent")
    provider = " ".join(row.text("provider_name").split())
    if not provider:
        row.issue("provider_name", "required: the provider the batch went to")
    sent_on = row.day("sent_on")
    if sent_on is None and not any(i.field == "sent_on" for i in row.issues):
        row.issue("sent_on", "required: the day the batch was sent")
    po = row.text("po_number")
    planned = PlannedRow(line=raw.line, tag=tag, performed_on=sent_on)
    planned.batch_fields = (
        tag_key(provider),
        sent_on,
        row.day("expected_return"),
        po,
        row.text("approval_reason"),
    )
    planned.cost = row.number("cost")
    planned.received_on = row.day("received_on")
    planned.values["provider"] = provider
    # Rows of one Batch value are one batch; without one, of one provider, day and PO.
    batch = " ".join(row.text("batch").split()).casefold()
    group = ("batch", batch) if batch else ("sent", tag_key(provider), sent_on, po.casefold())
    planned.duplicate_key = (group, tag_key(tag))
    back = planned.received_on
    planned.summary = f"sent to {provider or '?'} on {sent_on or '?'}" + (
        f", back {back}" if back else " (still out)"
    )
    planned.issues = row.issues
    return planned


def maintenance_key(tag: str, performed_on: date | None, kind: str, what: str) -> tuple[Any, ...]:
    """How an event is recognised as already logged: instrument, day, kind, what was done."""
    return (tag_key(tag), performed_on, kind, " ".join(what.split()).casefold())


def check_key(
    tag: str,
    performed_on: date | None,
    standard: str,
    readings: tuple[CheckReading, ...],
    result: str,
) -> tuple[Any, ...]:
    """How a check is recognised as already recorded: its instrument, day, standard and
    readings (the readings decide the result; without readings, the result)."""
    values = tuple((r.nominal, r.reading, r.limit) for r in readings)
    return (tag_key(tag), performed_on, standard.casefold(), values, "" if readings else result)


def _void_columns(row: _Row, planned: PlannedRow) -> None:
    """A row that arrives voided: its reason, time and voider (one rule for all kinds)."""
    planned.void_reason = row.text("void_reason")
    planned.voided_at = row.moment("voided_at")
    planned.voided_by = row.text("voided_by")
    # Stored as they are and printed as lines: the one rule for such text applies.
    for name in ("voided_by", "void_reason"):
        if problem := control_problem(row.text(name)):
            row.issue(name, problem)
    if not planned.void_reason and (planned.voided_at or planned.voided_by):
        row.issue(
            "void_reason",
            "the record is marked voided but has no void reason; a voided record needs one",
        )


def date_samples(
    rows: Sequence[RawRow], mapping: ImportMapping, date_fields: Sequence[str]
) -> list[tuple[int, str]]:
    """(line, text) of every date written as text, for choosing the file's date order."""
    indexes = [i for i in (mapping.index_of(f) for f in date_fields) if i is not None]
    samples: list[tuple[int, str]] = []
    for raw in rows:
        for i in indexes:
            if i < len(raw.cells) and isinstance(raw.cells[i], str) and raw.cells[i]:
                samples.append((raw.line, str(raw.cells[i])))
    return samples


def interval_looks_like_months(rows: Sequence[RawRow], mapping: ImportMapping) -> str | None:
    """A warning when an "Interval" column in days holds only numbers like 6, 12, 24."""
    header = mapping.header_of("calibration_interval_days")
    index = mapping.index_of("calibration_interval_days")
    if header is None or index is None or "day" in header.lower():
        return None
    numbers = []
    for raw in rows:
        text = cell_text(raw.cells[index]) if index < len(raw.cells) else ""
        if _NUMBER.match(text):
            numbers.append(float(text.replace(",", ".")))
    if numbers and max(numbers) <= 60:
        return (
            f"column {header!r} is read as days, but its values are at most "
            f"{max(numbers):g}: if they are months, map it to calibration_interval_months"
        )
    return None
