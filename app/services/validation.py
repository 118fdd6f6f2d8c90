"""Field rules and coercion of user input (text from a CLI or a line edit).

Every checker collects all problems before raising, so a dialog can show each next
to its field and the CLI can name them all in one line.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from app.errors import ValidationError
from app.limits import CURRENCY_LEN, NOTES_LEN, SHORT_LEN, TAG_LEN, TEXT_LEN
from app.plain_text import control_problem, tag_problem
from app.services.bounds import day_problem
from app.services.dto import InstrumentChanges, InstrumentInput
from app.vocabulary import LIFECYCLES, REQUIREMENTS

MAX_INTERVAL_DAYS = 3650 * 2
MAX_GRACE_DAYS = 365
# The one cap on a cost (maintenance, repairs, send-outs): above it is a typing slip,
# not an invoice, and it stays exact as a float and in the cost column's 40 characters.
MAX_COST = Decimal("1000000000")
_ISO_CURRENCY = re.compile(r"^[A-Z]{3}$", re.ASCII)


@dataclass(frozen=True)
class FieldSpec:
    """One instrument field: its kind, limits and whether it is required."""

    kind: str  # "text", "int", "date", "choice"
    max_len: int = 0
    required: bool = False
    label: str = ""


INSTRUMENT_FIELDS: dict[str, FieldSpec] = {
    "asset_tag": FieldSpec("text", TAG_LEN, True, "asset tag"),
    "description": FieldSpec("text", TEXT_LEN, True, "description"),
    "manufacturer": FieldSpec("text", SHORT_LEN),
    "model": FieldSpec("text", SHORT_LEN),
    "serial_number": FieldSpec("text", SHORT_LEN),
    "firmware_version": FieldSpec("text", SHORT_LEN),
    "category": FieldSpec("text", SHORT_LEN),
    "location": FieldSpec("text", SHORT_LEN),
    "owner": FieldSpec("text", SHORT_LEN),
    "status": FieldSpec("choice"),
    "calibration_interval_days": FieldSpec("int", label="calibration interval"),
    "grace_days": FieldSpec("int"),
    "range_text": FieldSpec("text", SHORT_LEN),
    "resolution_text": FieldSpec("text", SHORT_LEN),
    "accuracy_text": FieldSpec("text", SHORT_LEN),
    "notes": FieldSpec("text", NOTES_LEN),
    "calibration_requirement": FieldSpec("choice", label="calibration requirement"),
    "requirement_reason": FieldSpec("text", TEXT_LEN, label="requirement reason"),
}
# The choices of each "choice" field; the user may write them with - or spaces for _.
CHOICES: dict[str, tuple[str, ...]] = {
    "status": LIFECYCLES,
    "calibration_requirement": REQUIREMENTS,
}


def clean_text(
    name: str, value: Any, max_len: int, errors: dict[str, str], *, multiline: bool = False
) -> str:
    text = "" if value is None else str(value).strip()
    if len(text) > max_len:
        errors[name] = f"at most {max_len} characters (got {len(text)})"
    elif problem := control_problem(text, multiline=multiline):
        errors[name] = problem
    return text


def cost_problem(value: Decimal) -> str | None:
    """Why an amount cannot be a cost (negative, not a number, above ``MAX_COST``)."""
    if not value.is_finite() or not 0 <= value <= MAX_COST:
        return f"must be an amount from 0 to {MAX_COST:,}"
    return None


def clean_currency(value: Any, errors: dict[str, str]) -> str:
    """An ISO 4217 code in capitals ("eur" → "EUR") or a currency sign ("€"); "" when
    none is given. Letters of other alphabets that look like Latin ones ("ЕUR") and
    anything else are refused under ``currency``."""
    text = clean_text("currency", value, CURRENCY_LEN, errors).upper()
    if not text or "currency" in errors:
        return text
    if _ISO_CURRENCY.match(text) or all(unicodedata.category(c) == "Sc" for c in text):
        return text
    errors["currency"] = f"must be a currency code such as EUR, or a sign such as € (got {text!r})"
    return text


def parse_int(name: str, value: Any, errors: dict[str, str]) -> int | None:
    if isinstance(value, bool):
        errors[name] = "must be a whole number"
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        errors[name] = f"must be a whole number (got {text!r})"
        return None


def parse_float(name: str, value: Any, errors: dict[str, str]) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = (
            float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
        )
    except (TypeError, ValueError):
        errors[name] = f"must be a number (got {value!r})"
        return None
    if not math.isfinite(number):
        errors[name] = "must be a finite number"
        return None
    return number


def parse_date(name: str, value: Any, errors: dict[str, str]) -> date | None:
    """A calendar day from text or a date; outside EARLIEST_DAY..LATEST_DAY is an error."""
    if value is None:
        return None
    if isinstance(value, date):
        day = value
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            errors[name] = f"must be a date as YYYY-MM-DD (got {text!r})"
            return None
    problem = day_problem(day)
    if problem:
        errors[name] = problem
        return None
    return day


def validate_instrument_fields(values: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """Check and coerce instrument fields; raise ValidationError listing every problem."""
    errors: dict[str, str] = {}
    unknown = sorted(set(values) - set(INSTRUMENT_FIELDS))
    for name in unknown:
        errors[name] = "unknown field; known: " + ", ".join(INSTRUMENT_FIELDS)
    clean: dict[str, Any] = {}
    for name, spec in INSTRUMENT_FIELDS.items():
        if name not in values:
            if spec.required and not partial:
                errors[name] = "required"
            continue
        raw = values[name]
        if spec.kind == "text":
            text = clean_text(name, raw, spec.max_len, errors, multiline=name == "notes")
            if spec.required and not text and name not in errors:
                errors[name] = "required"
            if name == "asset_tag" and name not in errors and (problem := tag_problem(text)):
                errors[name] = problem
            clean[name] = text
        elif spec.kind == "int":
            number = parse_int(name, raw, errors)
            if number is not None:
                if name == "calibration_interval_days" and not 0 < number <= MAX_INTERVAL_DAYS:
                    errors[name] = f"must be between 1 and {MAX_INTERVAL_DAYS} days"
                elif name == "grace_days" and not 0 <= number <= MAX_GRACE_DAYS:
                    errors[name] = f"must be between 0 and {MAX_GRACE_DAYS} days"
                clean[name] = number
        elif spec.kind == "choice":
            choice = str(raw).strip().lower().replace("-", "_").replace(" ", "_")
            if choice not in CHOICES[name]:
                errors[name] = "must be one of " + ", ".join(CHOICES[name])
            clean[name] = choice
    if errors:
        raise ValidationError(errors)
    return clean


def instrument_input(values: Mapping[str, Any]) -> InstrumentInput:
    """A new instrument from raw values (text from a command line or a file's cells).

    Raises the ValidationError ``InstrumentService.add`` would, listing every problem.
    """
    return InstrumentInput(**validate_instrument_fields(values, partial=False))


def instrument_changes(values: Mapping[str, Any]) -> InstrumentChanges:
    """An edit from raw values; raises the ValidationError ``InstrumentService.edit`` would."""
    return InstrumentChanges(**validate_instrument_fields(values, partial=True))
