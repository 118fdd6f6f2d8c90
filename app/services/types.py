"""Instrument types: the register of test plans, and assigning a type to an instrument.

A type ("Digital thermometer, 0-150 °C") holds a default interval, a decision rule
(``decision_rules.parse_rule``'s code; none: the lab's default), the procedure it is
calibrated by (document id and revision), the range and resolution its tolerances need,
the standard categories a calibration of it needs, its test points (nominal, tolerance
as written, read by ``tolerance_spec.parse_tolerance``, unit), the custom fields its
instruments carry (text, number, date or choice; required or not) and its default check
and maintenance schedules (issue 15; ``app.services.schedules`` gives them to an
instrument that gets the type and has no schedule of that kind).

Who keeps types: QA (and admins, who rank above). A type states how the lab calibrates
and judges a kind of instrument — the documented method and decision rule ISO/IEC
17025:2017 7.2 and 7.8.6 ask for — which is QA's to approve, as QA alone signs
records, clears review flags and assesses out-of-tolerance cases. Technicians read
types and assign them to instruments (an instrument edit, like any other field). On a
server the same split is enforced by the grants of revision 0011.

Every add and edit is audited as entity ``instrument_type`` with the whole plan in its
snapshot, and ``db verify`` replays it against the table. Editing a type never changes
a calibration already recorded, nor an instrument's stored custom values or schedules:
it changes only what the next calibration starts from (``prefill``) and what an
instrument gets when it is given the type. Giving a changed default schedule to the
instruments of a type that have none of that kind is an explicit action of its own
(``apply_defaults``), audited per schedule.
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from app.clock import Clock
from app.db.models import Instrument, InstrumentType, TypeField, TypePoint
from app.errors import ConflictError, ConflictSide, NotFoundError, ValidationError
from app.identity import Identity
from app.limits import NOTES_LEN, SHORT_LEN, TEXT_LEN, UNIT_LEN
from app.plain_text import control_problem, tag_key, tag_problem
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter
from app.services.decision_rules import parse_rule
from app.services.dto import (
    CalibrationPrefill,
    PrefillPoint,
    ScheduleDefault,
    TypeChanges,
    TypeFieldInput,
    TypeFieldView,
    TypeInput,
    TypePointInput,
    TypePointView,
    TypeView,
    to_jsonable,
)
from app.services.lookups import require_instrument
from app.services.point_entry import read_number
from app.services.schedules import (
    ROW_KINDS,
    checked_default,
    give_type_defaults_in,
    set_type_default,
    type_default,
)
from app.services.snapshots import (
    TYPE_AUDITED,
    TYPE_SCHEDULE_FIELDS,
    created,
    custom_values,
    diff,
    stored_list,
    type_snapshot,
)
from app.services.tolerance_spec import (
    MeasuringRange,
    ToleranceSpec,
    as_decimal,
    format_limit,
    format_number,
    parse_tolerance,
)
from app.services.validation import MAX_INTERVAL_DAYS
from app.vocabulary import FIELD_KINDS

ENTITY = "instrument_type"
# The JSON file ``types export`` writes and ``types import`` reads.
DOCUMENT_FORMAT = "caltrack-instrument-types"
DOCUMENT_VERSION = 1
KEEPER_ROLE = "qa"  # who adds and edits types (see the module's notes)
MAX_POINTS = 200
MAX_FIELDS = 50
MAX_CATEGORIES = 20
# Instruments ``apply_defaults`` gives schedules to: not retired or lost ones.
APPLY_STATUSES = ("in_service", "out_of_service")


def canonical(value: Any) -> str:
    """The stored JSON of a list or mapping: sorted keys, no spaces, text as typed."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- checking what was typed -----------------------------------------------------------


def _text(
    name: str, value: Any, limit: int, errors: dict[str, str], *, multiline: bool = False
) -> str:
    raw = "" if value is None else str(value)
    # One line: runs of spaces become one. Multiline text (a description) keeps its lines.
    text = raw.strip() if multiline else " ".join(raw.split())
    if len(text) > limit:
        errors[name] = f"at most {limit} characters (got {len(text)})"
    elif problem := control_problem(text, multiline=multiline):
        errors[name] = problem
    return text


def _decimal_text(name: str, value: str, errors: dict[str, str]) -> Decimal | None:
    text = value.strip()
    if not text:
        return None
    try:
        return as_decimal(text.replace("\u2212", "-"), name)
    except ValidationError:
        errors[name] = f"must be a number written with a point, such as 0.01 (got {text!r})"
        return None


def _interval(value: int | None, errors: dict[str, str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not 0 < value <= MAX_INTERVAL_DAYS:
        errors["default_interval_days"] = f"must be between 1 and {MAX_INTERVAL_DAYS} days"
        return None
    return value


def _rule(code: str | None, errors: dict[str, str]) -> str | None:
    """The canonical code of a rule, or None for the lab default (None or "")."""
    if code is None or not code.strip():
        return None
    try:
        return parse_rule(code).code
    except ValidationError as exc:
        errors["decision_rule"] = next(iter(exc.fields.values()))
        return None


def _range_and_resolution(
    low: str, high: str, resolution: str, errors: dict[str, str]
) -> tuple[MeasuringRange | None, Decimal | None]:
    low_n = _decimal_text("range_low", low, errors)
    high_n = _decimal_text("range_high", high, errors)
    step = _decimal_text("resolution", resolution, errors)
    measuring: MeasuringRange | None = None
    if (low_n is None) != (high_n is None) and not {"range_low", "range_high"} & set(errors):
        errors["range_low" if low_n is None else "range_high"] = (
            "give both ends of the range (low and high), or neither"
        )
    elif low_n is not None and high_n is not None:
        try:
            measuring = MeasuringRange(low_n, high_n)
        except ValidationError as exc:
            errors["range_high"] = next(iter(exc.fields.values()))
    if step is not None and step <= 0:
        errors["resolution"] = f"must be more than 0 (got {format_number(step)})"
        step = None
    return measuring, step


def _categories(values: Sequence[str], errors: dict[str, str]) -> list[str]:
    seen: dict[str, str] = {}
    for n, value in enumerate(values, start=1):
        text = _text(f"standard category {n}", value, SHORT_LEN, errors)
        if text and text.casefold() not in seen:
            seen[text.casefold()] = text
    if len(seen) > MAX_CATEGORIES:
        errors["standard_categories"] = f"at most {MAX_CATEGORIES} categories"
    return list(seen.values())


def _points(
    points: Sequence[TypePointInput],
    measuring: MeasuringRange | None,
    step: Decimal | None,
    errors: dict[str, str],
) -> list[tuple[float, str, str]]:
    if len(points) > MAX_POINTS:
        errors["points"] = f"at most {MAX_POINTS} test points (got {len(points)})"
        return []
    clean: list[tuple[float, str, str]] = []
    for n, point in enumerate(points, start=1):
        where = f"point {n}"
        nominal = point.nominal
        if isinstance(nominal, bool) or not isinstance(nominal, int | float):
            errors[where] = f"the nominal must be a number (got {nominal!r})"
            continue
        if not math.isfinite(nominal):
            errors[where] = f"the nominal must be a finite number (got {nominal})"
            continue
        unit = _text(where, point.unit, UNIT_LEN, errors)
        written = _text(where, point.tolerance, SHORT_LEN, errors)
        if where in errors:
            continue
        try:
            spec = parse_tolerance(written, measuring_range=measuring, resolution=step)
            spec.limits(nominal)  # a % of reading at a nominal of 0 has no width
        except ValidationError as exc:
            errors[where] = "; ".join(exc.fields.values())
            continue
        clean.append((float(nominal), str(spec), unit))
    return clean


def _fields(fields: Sequence[TypeFieldInput], errors: dict[str, str]) -> list[TypeFieldInput]:
    if len(fields) > MAX_FIELDS:
        errors["fields"] = f"at most {MAX_FIELDS} custom fields (got {len(fields)})"
        return []
    clean: list[TypeFieldInput] = []
    names: set[str] = set()
    for n, item in enumerate(fields, start=1):
        where = f"field {n}"
        name = _text(where, item.name, SHORT_LEN, errors)
        if where in errors:
            continue
        kind = str(item.kind).strip().lower()
        if not name:
            errors[where] = "give the field a name"
        elif name.casefold() in names:
            errors[where] = f"{name!r} is named twice"
        elif kind not in FIELD_KINDS:
            errors[where] = f"{name}: the kind {item.kind!r} is not one of {', '.join(FIELD_KINDS)}"
        elif kind == "choice" and not item.choices:
            errors[where] = f"{name}: a choice field needs its choices (choice=A|B|C)"
        elif kind != "choice" and item.choices:
            errors[where] = f"{name}: only a choice field has choices"
        if where in errors:
            continue
        choices: list[str] = []
        for choice in item.choices:
            text = _text(where, choice, SHORT_LEN, errors)
            if text and text.casefold() not in {c.casefold() for c in choices}:
                choices.append(text)
        names.add(name.casefold())
        clean.append(TypeFieldInput(name, kind, bool(item.required), tuple(choices)))
    return clean


def _name(value: str, errors: dict[str, str]) -> str:
    name = _text("name", value, TEXT_LEN, errors)
    if "name" not in errors:
        if not name:
            errors["name"] = "required: give the type a name"
        elif problem := tag_problem(name):
            errors["name"] = problem
    return name


def checked_type(data: TypeInput) -> dict[str, Any]:
    """Every field of a type checked and made canonical; ValidationError names each problem."""
    errors: dict[str, str] = {}
    measuring, step = _range_and_resolution(
        data.range_low, data.range_high, data.resolution, errors
    )
    clean: dict[str, Any] = {
        "name": _name(data.name, errors),
        "description": _text("description", data.description, NOTES_LEN, errors, multiline=True),
        "default_interval_days": _interval(data.default_interval_days, errors),
        "decision_rule": _rule(data.decision_rule, errors),
        "procedure_id": _text("procedure_id", data.procedure_id, SHORT_LEN, errors),
        "procedure_revision": _text(
            "procedure_revision", data.procedure_revision, SHORT_LEN, errors
        ),
        "range_low": format_number(measuring.low) if measuring else "",
        "range_high": format_number(measuring.high) if measuring else "",
        "resolution": format_number(step) if step is not None else "",
        "standard_categories": _categories(data.standard_categories, errors),
        "points": _points(data.points, measuring, step, errors),
        "fields": _fields(data.fields, errors),
    }
    for kind in ROW_KINDS:
        try:
            clean[kind] = checked_default(kind, getattr(data, kind))
        except ValidationError as exc:
            errors.update(exc.fields)
    if errors:
        raise ValidationError(errors)
    return clean


# -- custom field values ---------------------------------------------------------------


def custom_value(
    kind: str, name: str, choices: Sequence[str], raw: str
) -> tuple[str | None, str | None]:
    """(the value as stored, None) or (None, what is wrong with it), for a field of
    ``kind`` (text, number, date, choice); the one check of a custom value, which the
    instrument form also runs as a value is typed."""
    text = " ".join(str(raw).split())
    if problem := control_problem(text):
        return None, problem
    if kind == "text":
        if len(text) > TEXT_LEN:
            return None, f"at most {TEXT_LEN} characters"
        return text, None
    if kind == "number":
        try:
            number = as_decimal(text.replace("\u2212", "-"), name)
        except ValidationError:
            return None, f"must be a number written with a point (got {text!r})"
        return format_number(number), None
    if kind == "date":
        try:
            return date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, f"must be a date as YYYY-MM-DD (got {text!r})"
    for choice in choices:
        if str(choice).casefold() == text.casefold():
            return str(choice), None
    return None, f"must be one of {', '.join(map(str, choices))} (got {text!r})"


def custom_fields_for(
    kind: InstrumentType | None,
    current: Mapping[str, str],
    given: Mapping[str, str],
    *,
    type_changed: bool,
) -> dict[str, str]:
    """An instrument's custom values after an edit; ValidationError names each problem.

    ``given`` maps field names (any case) to values; an empty value clears one. A
    value is for a field of the instrument's type; every required field of the type
    must then have one. When the type changes, values of fields the new type lacks are
    refused instead of dropped (clear them with NAME=, so nothing is lost unasked).
    """
    errors: dict[str, str] = {}
    fields = {f.name.casefold(): f for f in (kind.fields if kind is not None else [])}
    values = dict(current)
    for raw_name, raw_value in given.items():
        name = " ".join(str(raw_name).split())
        key = name.casefold()
        stored = next((k for k in values if k.casefold() == key), None)
        if not str(raw_value).strip():
            if stored is not None:
                del values[stored]
            continue
        if key not in fields:
            known = ", ".join(f.name for f in fields.values()) or "none"
            where = f"type {kind.name}" if kind is not None else "an instrument without a type"
            errors[f"custom field {name}"] = f"not a field of {where} (its fields: {known})"
            continue
        field = fields[key]
        value, problem = custom_value(field.kind, field.name, stored_list(field.choices), raw_value)
        if problem:
            errors[f"custom field {field.name}"] = problem
            continue
        if stored is not None:
            del values[stored]
        values[field.name] = str(value)
    if type_changed:
        stray = sorted(k for k in values if k.casefold() not in fields)
        if stray:
            errors["custom_fields"] = (
                f"the instrument holds values for {', '.join(stray)}, which "
                f"{'type ' + kind.name if kind is not None else 'no type'} does not have; "
                "clear them first (empty each value; --custom NAME= on the command line) "
                "so no value is lost unasked"
            )
    # A required field must have its value when the type is assigned, and cannot be
    # cleared; a field a type gained later is asked for at the instrument's next type
    # change (editing a type never changes instruments).
    named = {" ".join(str(n).split()).casefold() for n in given}
    for field in fields.values():
        key = field.name.casefold()
        missing = not any(k.casefold() == key for k in values)
        if field.required and missing and (type_changed or key in named):
            errors[f"custom field {field.name}"] = (
                f"required by type {kind.name if kind else ''}: give it a value (--custom "
                f"{field.name}=VALUE on the command line)"
            )
    if errors:
        raise ValidationError(errors)
    return values


def apply_type(
    uow: UnitOfWork,
    obj: Instrument,
    type_name: str | None,
    custom: Mapping[str, str] | None,
) -> InstrumentType | None:
    """Set an instrument's type (None: unchanged, "": none) and custom values.

    Inside the caller's transaction and before its audit snapshot, so the instrument's
    create or update event carries them.
    """
    current_kind = uow.types.get(obj.type_id) if obj.type_id is not None else None
    kind = current_kind
    if type_name is not None:
        kind = require_type(uow, type_name) if type_name.strip() else None
    changed = (kind.id if kind else None) != obj.type_id
    if not changed and not custom:
        return kind
    values = custom_fields_for(
        kind, custom_values(obj.custom_fields), custom or {}, type_changed=changed
    )
    obj.type_id = kind.id if kind is not None else None
    obj.custom_fields = canonical(values)
    return kind


def require_type(uow: UnitOfWork, name: str) -> InstrumentType:
    """The type of this name (ignoring case and look-alike characters) or a clear error."""
    found = uow.types.get_by_name(name)
    if found is None:
        known = ", ".join(t.name for t in uow.types.list_all()[:20]) or "none yet"
        raise NotFoundError(
            f"no instrument type named {name.strip()!r} (types: {known}); `types list` shows them"
        )
    return found


# -- views ----------------------------------------------------------------------------------


def _spec_of(kind: InstrumentType, tolerance: str) -> ToleranceSpec:
    measuring = (
        MeasuringRange.of(kind.range_low, kind.range_high)
        if kind.range_low and kind.range_high
        else None
    )
    return parse_tolerance(tolerance, measuring_range=measuring, resolution=kind.resolution or None)


def _limits_text(kind: InstrumentType, point: TypePoint) -> tuple[str, str]:
    try:
        limits = _spec_of(kind, point.tolerance).limits(point.nominal)
    except ValidationError:
        return "?", "?"  # stored by hand outside CalTrack; verify reports the row
    return format_limit(limits.lower), format_limit(limits.upper)


def limits_preview(
    nominal: str,
    tolerance: str,
    *,
    range_low: str = "",
    range_high: str = "",
    resolution: str = "",
) -> str:
    """What a test point being typed resolves to ("19.5 … 20.5", as ``TypeView`` shows a
    stored point), or in words what is wrong with it ("" while it is still empty).

    The window's types dialog shows it per row as the person types: the same reading of
    the tolerance (with the type's range and resolution) that saving checks.
    """
    if not nominal.strip() and not tolerance.strip():
        return ""
    try:
        value = read_number(nominal)
    except ValueError:
        return f"the nominal must be a number (got {nominal.strip()!r})"
    if value is None:
        return "give the nominal"
    if not tolerance.strip():
        return "give the tolerance"
    errors: dict[str, str] = {}
    measuring, step = _range_and_resolution(range_low, range_high, resolution, errors)
    try:
        spec = parse_tolerance(
            " ".join(tolerance.split()), measuring_range=measuring, resolution=step
        )
        limits = spec.limits(value)
    except ValidationError as exc:
        return "; ".join(exc.fields.values())
    return f"{format_limit(limits.lower)} … {format_limit(limits.upper)}"


def _rule_sentence(code: str | None) -> str:
    if not code:
        return ""
    try:
        return parse_rule(code).sentence
    except ValidationError:
        return f"(unreadable rule {code!r}: changed outside CalTrack; db verify reports it)"


def type_view(kind: InstrumentType, instruments: int) -> TypeView:
    rule = kind.decision_rule
    return TypeView(
        id=kind.id,
        name=kind.name,
        description=kind.description,
        default_interval_days=kind.default_interval_days,
        decision_rule=rule,
        decision_rule_sentence=_rule_sentence(rule),
        procedure_id=kind.procedure_id,
        procedure_revision=kind.procedure_revision,
        range_low=kind.range_low,
        range_high=kind.range_high,
        resolution=kind.resolution,
        standard_categories=tuple(stored_list(kind.standard_categories)),
        points=tuple(
            TypePointView(p.seq, p.nominal, p.tolerance, p.unit, " … ".join(_limits_text(kind, p)))
            for p in kind.points
        ),
        fields=tuple(
            TypeFieldView(f.seq, f.name, f.kind, bool(f.required), tuple(stored_list(f.choices)))
            for f in kind.fields
        ),
        check=type_default(kind, "check"),
        maintenance=type_default(kind, "maintenance"),
        instruments=instruments,
        created_at=kind.created_at,
        created_by=kind.created_by,
        updated_at=kind.updated_at,
        updated_by=kind.updated_by,
        version=kind.version,
    )


def procedure_text(kind: InstrumentType) -> str:
    """ "WI-12 rev C", "WI-12", or "" when the type names no procedure."""
    if not kind.procedure_id:
        return ""
    return (
        f"{kind.procedure_id} rev {kind.procedure_revision}"
        if kind.procedure_revision
        else (kind.procedure_id)
    )


# -- import and export ----------------------------------------------------------------


def _default_entries(view: TypeView) -> dict[str, Any]:
    """A type's default schedules in the document: written only when it has one, so a
    file of types without any stays the file an older CalTrack reads."""
    entries: dict[str, Any] = {}
    for kind in ROW_KINDS:
        value: ScheduleDefault | None = getattr(view, kind)
        if value is not None:
            entries[kind] = {
                "every": value.every,
                "soon_days": value.soon_days,
                "grace_days": value.grace_days,
                "before_use": value.before_use,
            }
    return entries


def _default_entry(name: str, kind: str, raw: Any) -> ScheduleDefault | None:
    """A default schedule of an imported type (null: none); its values are checked with
    the type's other fields."""
    if raw is None:
        return None
    shape = (
        f'{name}: {kind} is {{"every": "30d" or "6m" or "", "soon_days": days or null, '
        '"grace_days": days, "before_use": true or false}'
    )
    if not isinstance(raw, dict) or set(raw) - {"every", "soon_days", "grace_days", "before_use"}:
        raise ValidationError({"file": shape})
    every, soon = raw.get("every") or "", raw.get("soon_days")
    grace, before = raw.get("grace_days") or 0, raw.get("before_use", False)
    if not (
        isinstance(every, str)
        and (soon is None or (isinstance(soon, int) and not isinstance(soon, bool)))
        and isinstance(grace, int)
        and not isinstance(grace, bool)
        and isinstance(before, bool)
    ):
        raise ValidationError({"file": shape})
    return ScheduleDefault(every, soon, grace, before)


def type_document(views: Sequence[TypeView]) -> dict[str, Any]:
    """Types as the JSON document ``types export`` writes: every field, as stored."""
    return {
        "format": DOCUMENT_FORMAT,
        "version": DOCUMENT_VERSION,
        "types": [
            {
                "name": v.name,
                "description": v.description,
                "default_interval_days": v.default_interval_days,
                "decision_rule": v.decision_rule,
                "procedure_id": v.procedure_id,
                "procedure_revision": v.procedure_revision,
                "range_low": v.range_low,
                "range_high": v.range_high,
                "resolution": v.resolution,
                "standard_categories": list(v.standard_categories),
                "points": [
                    {"nominal": p.nominal, "tolerance": p.tolerance, "unit": p.unit}
                    for p in v.points
                ],
                "fields": [
                    {
                        "name": f.name,
                        "kind": f.kind,
                        "required": f.required,
                        "choices": list(f.choices),
                    }
                    for f in v.fields
                ],
                **_default_entries(v),
            }
            for v in views
        ],
    }


_TEXT_KEYS = (
    "description",
    "procedure_id",
    "procedure_revision",
    "range_low",
    "range_high",
    "resolution",
)


def _entry(n: int, raw: Any) -> TypeInput:
    """One type of an imported document; ValidationError says what is wrong where."""
    where = f"type {n}"

    def wrong(message: str) -> ValidationError:
        return ValidationError({where: message})

    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise wrong('each type is an object with at least a text "name"')
    unknown = sorted(
        set(raw)
        - {
            "name",
            "default_interval_days",
            "decision_rule",
            "standard_categories",
            "points",
            "fields",
            *ROW_KINDS,
            *_TEXT_KEYS,
        }
    )
    if unknown:
        raise wrong(f"{raw['name']}: unknown keys {', '.join(unknown)}")
    given = {k: raw.get(k) if raw.get(k) is not None else "" for k in _TEXT_KEYS}
    if not all(isinstance(v, str) for v in given.values()):
        raise wrong(f"{raw['name']}: {', '.join(_TEXT_KEYS)} are texts")
    texts: dict[str, str] = {k: str(v) for k, v in given.items()}
    interval = raw.get("default_interval_days")
    rule = raw.get("decision_rule")
    categories = raw.get("standard_categories") or []
    points = raw.get("points") or []
    fields = raw.get("fields") or []
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, int)):
        raise wrong(f"{raw['name']}: default_interval_days is a whole number or null")
    if rule is not None and not isinstance(rule, str):
        raise wrong(f"{raw['name']}: decision_rule is a text or null")
    if not (isinstance(categories, list) and all(isinstance(c, str) for c in categories)):
        raise wrong(f"{raw['name']}: standard_categories is a list of texts")
    if not (isinstance(points, list) and isinstance(fields, list)):
        raise wrong(f"{raw['name']}: points and fields are lists")
    point_inputs = []
    for p in points:
        if not (
            isinstance(p, dict)
            and isinstance(p.get("nominal"), int | float)
            and not isinstance(p.get("nominal"), bool)
            and isinstance(p.get("tolerance"), str)
            and isinstance(p.get("unit", ""), str)
        ):
            raise wrong(f"{raw['name']}: each point is {{nominal: number, tolerance: text, unit}}")
        point_inputs.append(TypePointInput(p["nominal"], p["tolerance"], p.get("unit", "")))
    field_inputs = []
    for f in fields:
        choices = f.get("choices", []) if isinstance(f, dict) else None
        if not (
            isinstance(f, dict)
            and isinstance(f.get("name"), str)
            and isinstance(f.get("kind"), str)
            and isinstance(f.get("required", False), bool)
            and isinstance(choices, list)
            and all(isinstance(c, str) for c in choices)
        ):
            raise wrong(
                f"{raw['name']}: each field is {{name: text, kind: text, required: true or "
                "false, choices: list of texts}}"
            )
        field_inputs.append(
            TypeFieldInput(f["name"], f["kind"], f.get("required", False), tuple(choices))
        )
    try:
        check = _default_entry(raw["name"], "check", raw.get("check"))
        maintenance = _default_entry(raw["name"], "maintenance", raw.get("maintenance"))
    except ValidationError as exc:
        raise wrong(next(iter(exc.fields.values()))) from None
    return TypeInput(
        name=raw["name"],
        description=texts["description"],
        default_interval_days=interval,
        decision_rule=rule,
        procedure_id=texts["procedure_id"],
        procedure_revision=texts["procedure_revision"],
        range_low=texts["range_low"],
        range_high=texts["range_high"],
        resolution=texts["resolution"],
        standard_categories=tuple(categories),
        points=tuple(point_inputs),
        fields=tuple(field_inputs),
        check=check,
        maintenance=maintenance,
    )


def inputs_from_document(document: Any) -> list[TypeInput]:
    """The types of a document ``types export`` wrote; ValidationError for any other."""
    if not (
        isinstance(document, dict)
        and document.get("format") == DOCUMENT_FORMAT
        and isinstance(document.get("types"), list)
    ):
        raise ValidationError(
            {
                "file": f'not a CalTrack instrument types file (a JSON object with "format": '
                f'"{DOCUMENT_FORMAT}" and a "types" list, as `types export` writes)'
            }
        )
    if document.get("version") != DOCUMENT_VERSION:
        raise ValidationError(
            {
                "file": f"version {document.get('version')!r} of the types file is not one this "
                f"CalTrack reads (it reads version {DOCUMENT_VERSION})"
            }
        )
    inputs = [_entry(n, raw) for n, raw in enumerate(document["types"], start=1)]
    seen: dict[str, str] = {}
    for item in inputs:
        key = tag_key(item.name)
        if key in seen:
            raise ValidationError(
                {"name": f"{item.name!r} and {seen[key]!r} are one type name, twice in the file"}
            )
        seen[key] = item.name
    return inputs


class TypeService:
    """Add, edit, list and show instrument types; the prefill of a new calibration."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    # -- reads ---------------------------------------------------------------------

    def list(self) -> list[TypeView]:
        """Every type by name."""

        def read(uow: UnitOfWork) -> list[TypeView]:
            counts = uow.types.instrument_counts()
            return [type_view(k, counts.get(k.id, 0)) for k in uow.types.list_all()]

        return self._uow.read(read)

    def get(self, name: str) -> TypeView:
        def read(uow: UnitOfWork) -> TypeView:
            kind = require_type(uow, name)
            return type_view(kind, uow.types.instrument_counts().get(kind.id, 0))

        return self._uow.read(read)

    def prefill(self, tag: str) -> CalibrationPrefill:
        """What a new calibration of this instrument starts from, by its type.

        The points with their tolerance as written and the limits at each nominal, the
        interval (the type's default, else the instrument's own) and the decision rule.
        NotFoundError names an instrument without a type.
        """

        def read(uow: UnitOfWork) -> CalibrationPrefill:
            obj = require_instrument(uow, tag)
            kind = uow.types.get(obj.type_id) if obj.type_id is not None else None
            if kind is None:
                raise NotFoundError(
                    f"{obj.asset_tag} has no instrument type, so there is no test plan to "
                    "start from; give it one (instruments edit --type NAME)"
                )
            points = []
            for p in kind.points:
                spec = _spec_of(kind, p.tolerance)
                limits = spec.limits(p.nominal)
                n = as_decimal(p.nominal)
                symmetric = limits.upper - n == n - limits.lower
                points.append(
                    PrefillPoint(
                        seq=p.seq,
                        nominal=p.nominal,
                        tolerance=p.tolerance,
                        unit=p.unit,
                        lower_limit=format_limit(limits.lower),
                        upper_limit=format_limit(limits.upper),
                        half_width=float(limits.upper - n) if symmetric else None,
                    )
                )
            return CalibrationPrefill(
                asset_tag=obj.asset_tag,
                type_name=kind.name,
                interval_days=kind.default_interval_days or obj.calibration_interval_days,
                decision_rule=kind.decision_rule,
                procedure=procedure_text(kind),
                standard_categories=tuple(stored_list(kind.standard_categories)),
                points=tuple(points),
            )

        return self._uow.read(read)

    # -- writes --------------------------------------------------------------------

    def add(self, data: TypeInput, *, reason: str = "") -> TypeView:
        """Register a new type (QA)."""
        checked_type(data)  # fail before any transaction

        def write(uow: UnitOfWork) -> TypeView:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            kind = self.add_in(uow, audit, data, reason=reason)
            audit.flush()
            return type_view(kind, 0)

        return self._uow.write(write, label="add instrument type")

    def add_in(
        self, uow: UnitOfWork, audit: AuditChainWriter, data: TypeInput, *, reason: str = ""
    ) -> InstrumentType:
        """Register a type inside the caller's transaction (an import adds many)."""
        clean = checked_type(data)
        require_role(uow, self._identity, KEEPER_ROLE, "add instrument types")
        self._check_name_free(uow, clean["name"], None)
        kind = InstrumentType(
            name_key=tag_key(clean["name"]),
            created_at=audit.now,
            created_by=self._identity.user,
            updated_at=audit.now,
            updated_by=self._identity.user,
        )
        self._set(kind, clean)
        self._flush_unique(uow, lambda: uow.types.add(kind), clean["name"])
        audit.record(ENTITY, kind.id, kind.name, "create", created(type_snapshot(kind)), reason)
        return kind

    def edit(
        self,
        name: str,
        changes: TypeChanges,
        *,
        expected_version: int | None = None,
        reason: str = "",
    ) -> TypeView:
        """Change a type loaded at ``expected_version`` (QA). Records stay as they are."""
        given = changes.given()
        if not given:
            raise ValidationError({"fields": "nothing to change"})

        def write(uow: UnitOfWork) -> TypeView:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            require_role(uow, self._identity, KEEPER_ROLE, "edit instrument types")
            kind = require_type(uow, name)
            if expected_version is not None and kind.version != expected_version:
                raise self._conflict(kind, given, expected_version)
            merged = self._merged(kind, changes)
            clean = checked_type(merged)
            if clean["name"] != kind.name:
                self._check_name_free(uow, clean["name"], kind.id)
            before = type_snapshot(kind)
            self._set(kind, clean)
            changed = diff(before, type_snapshot(kind))
            if changed:
                kind.name_key = tag_key(kind.name)
                kind.updated_at = audit.now
                kind.updated_by = self._identity.user
                uow.types.touch(kind)
                self._flush_unique(uow, uow.types.flush, kind.name)
                audit.record(ENTITY, kind.id, kind.name, "update", changed, reason)
            audit.flush()
            return type_view(kind, uow.types.instrument_counts().get(kind.id, 0))

        try:
            return self._uow.write(write, label="edit instrument type")
        except StaleDataError:
            current = self.get(name)
            raise ConflictError(
                ENTITY,
                name,
                yours=ConflictSide(expected_version or 0, to_jsonable(given)),
                theirs=ConflictSide(
                    current.version, {}, current.updated_by, to_jsonable(current.updated_at)
                ),
            ) from None

    def apply_defaults(
        self, name: str, *, dry_run: bool = False, reason: str = ""
    ) -> dict[str, builtins.list[str]]:
        """Give the type's default schedules to its instruments that have no schedule
        of that kind (none at all: a cleared one stays cleared), leaving out retired and
        lost ones. Asked for explicitly (editing a type never rewrites instruments);
        each schedule given is audited. The asset tags given (or, with ``dry_run``, that
        would be), by kind; a kind the type gives no default of is not named.
        """

        def work(uow: UnitOfWork) -> dict[str, builtins.list[str]]:
            kind = require_type(uow, name)
            lacking = {
                row_kind: uow.schedules.lacking(kind.id, row_kind, APPLY_STATUSES)
                for row_kind in ROW_KINDS
                if type_default(kind, row_kind) is not None
            }
            found: dict[str, builtins.list[str]] = {
                k: [i.asset_tag for i in objs] for k, objs in lacking.items()
            }
            if dry_run or not any(found.values()):
                return found
            audit = AuditChainWriter(uow, self._identity, self._clock)
            today = self._clock.today()
            for kind_name, instruments in lacking.items():
                for instrument in instruments:
                    give_type_defaults_in(
                        uow,
                        audit,
                        self._identity,
                        instrument,
                        kind,
                        today,
                        reason,
                        kinds=(kind_name,),
                    )
            audit.flush()
            return found

        if dry_run:
            return self._uow.read(work)
        return self._uow.write(work, label="give instruments their type's schedules")

    def export_document(self) -> dict[str, Any]:
        """Every type as the JSON document ``types export`` writes."""
        return type_document(self.list())

    def import_document(
        self, document: Any, *, dry_run: bool = False, reason: str = ""
    ) -> builtins.list[str]:
        """Add every type of an exported document, all or none (QA).

        A type whose name is already registered is refused (nothing is written), as is
        any bad value, named with the type it belongs to. Returns the names added (or,
        with ``dry_run``, that would be).
        """
        inputs = inputs_from_document(document)
        errors: dict[str, str] = {}
        for item in inputs:
            try:
                checked_type(item)
            except ValidationError as exc:
                for name, message in exc.fields.items():
                    errors[f"type {item.name.strip()!r} {name}"] = message
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> builtins.list[str]:
            require_role(uow, self._identity, KEEPER_ROLE, "import instrument types")
            taken = [i.name for i in inputs if uow.types.get_by_name(i.name) is not None]
            if taken:
                raise ValidationError(
                    {
                        "name": f"already registered: {', '.join(taken)}; nothing was imported "
                        "(change those with `types edit`)"
                    }
                )
            if dry_run:
                return [i.name for i in inputs]
            audit = AuditChainWriter(uow, self._identity, self._clock)
            added = [self.add_in(uow, audit, item, reason=reason).name for item in inputs]
            audit.flush()
            return added

        if dry_run:
            return self._uow.read(write)
        return self._uow.write(write, label="import instrument types")

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _merged(kind: InstrumentType, changes: TypeChanges) -> TypeInput:
        """The type as it would be after ``changes``, as an input to check whole."""
        current = TypeInput(
            name=kind.name,
            description=kind.description,
            default_interval_days=kind.default_interval_days,
            decision_rule=kind.decision_rule,
            procedure_id=kind.procedure_id,
            procedure_revision=kind.procedure_revision,
            range_low=kind.range_low,
            range_high=kind.range_high,
            resolution=kind.resolution,
            standard_categories=tuple(stored_list(kind.standard_categories)),
            points=tuple(TypePointInput(p.nominal, p.tolerance, p.unit) for p in kind.points),
            fields=tuple(
                TypeFieldInput(f.name, f.kind, bool(f.required), tuple(stored_list(f.choices)))
                for f in kind.fields
            ),
            check=type_default(kind, "check"),
            maintenance=type_default(kind, "maintenance"),
        )
        given = changes.given()
        if given.get("default_interval_days") == 0:
            given["default_interval_days"] = None  # 0: no default interval
        if "decision_rule" in given and not str(given["decision_rule"]).strip():
            given["decision_rule"] = None  # "": the lab default
        merged: TypeInput = replace(current, **given)
        return merged

    @staticmethod
    def _set(kind: InstrumentType, clean: Mapping[str, Any]) -> None:
        for name in TYPE_AUDITED:
            if name not in TYPE_SCHEDULE_FIELDS:
                setattr(kind, name, clean[name])
        for row_kind in ROW_KINDS:
            set_type_default(kind, row_kind, clean[row_kind])
        kind.standard_categories = canonical(clean["standard_categories"])
        points = [(p.nominal, p.tolerance, p.unit) for p in kind.points]
        if points != clean["points"]:
            # Replaced whole, as a record's readings are: the plan is one list.
            kind.points = [
                TypePoint(seq=n, nominal=nominal, tolerance=tolerance, unit=unit)
                for n, (nominal, tolerance, unit) in enumerate(clean["points"], start=1)
            ]
        fields = [
            TypeFieldInput(f.name, f.kind, bool(f.required), tuple(stored_list(f.choices)))
            for f in kind.fields
        ]
        if fields != clean["fields"]:
            kind.fields = [
                TypeField(
                    seq=n,
                    name=f.name,
                    kind=f.kind,
                    required=f.required,
                    choices=canonical(list(f.choices)),
                )
                for n, f in enumerate(clean["fields"], start=1)
            ]

    @staticmethod
    def _check_name_free(uow: UnitOfWork, name: str, own_id: int | None) -> None:
        existing = uow.types.get_by_name(name)
        if existing is not None and existing.id != own_id:
            raise ValidationError(
                {
                    "name": f"{name!r} is already the type {existing.name!r}; type names are "
                    "unique ignoring case and look-alike characters"
                }
            )

    @staticmethod
    def _flush_unique(uow: UnitOfWork, flush: Any, name: str) -> None:
        try:
            flush()
        except IntegrityError as exc:
            if "name_key" in str(exc.orig).lower():
                raise ValidationError({"name": f"{name!r} is already a type"}) from None
            raise

    @staticmethod
    def _conflict(kind: InstrumentType, given: Mapping[str, Any], expected: int) -> ConflictError:
        return ConflictError(
            ENTITY,
            kind.name,
            yours=ConflictSide(expected, to_jsonable(dict(given))),
            theirs=ConflictSide(
                kind.version, type_snapshot(kind), kind.updated_by, to_jsonable(kind.updated_at)
            ),
        )
