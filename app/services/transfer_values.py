"""Value mapping: a lab's own words for fields that take a fixed set of values.

A register written by people over years says ACTIVE, IN-ACTIVE, FOR REPAIR or SCRAP where
CalTrack stores ``in_service``, ``retired`` or ``out_of_service``. For every column whose
field takes a fixed set (an instrument's status, a calibration's result and provider
kind), the import lists each distinct value with its count and the value it becomes:

- ``exact``: the value is a canonical one however it is written ("In service",
  "OUT-OF-SERVICE"); nothing to confirm.
- ``given``: the caller said so (``--value "Status:EXTENDED=in_service"``, the wizard).
- ``remembered``: confirmed for a file with the same columns before.
- ``guessed``: a known word or synonym ("active", "scrap", "oot"), named in
  ``guessed_from`` so the preview can show what the guess rests on.
- unmapped (``target`` None): the import refuses until it is mapped or its rows are
  left out — one problem per distinct value, not one per row.

The guess is deliberately narrow: the whole value (case, spaces and punctuation ignored)
must be a known word, or a known word or phrase must stand in it as whole words, all
pointing to one target, with no negation ("not in use" is not guessed as in use).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.services.transfer_mapping import normalise
from app.services.transfer_model import (
    VALUE_NAMES,
    ColumnValues,
    ImportMapping,
    ValueMap,
    value_key,
)
from app.services.transfer_rows import (
    BLANK_INTERVAL,
    INTERVAL_FIELDS,
    INTERVAL_TARGETS,
    cell_text,
    non_positive,
)
from app.storage.tables import RawRow
from app.vocabulary import (
    APPROVALS,
    CHECK_RESULTS,
    LIFECYCLES,
    MAINTENANCE_KINDS,
    PROVIDER_KINDS,
    REQUIREMENTS,
    RESULTS,
    SCHEDULE_ROW_KINDS,
)

# (kind, field) → the values it takes, in the order the services list them.
FIXED_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("instruments", "status"): LIFECYCLES,
    ("calibrations", "result"): RESULTS,
    ("calibrations", "provider_kind"): PROVIDER_KINDS,
    ("instruments", "calibration_requirement"): REQUIREMENTS,
    ("schedules", "kind"): SCHEDULE_ROW_KINDS,
    ("checks", "result"): CHECK_RESULTS,
    ("maintenance", "kind"): MAINTENANCE_KINDS,
    ("providers", "approval"): APPROVALS,
}


# target → words and phrases that mean it; compared after ``normalise``.
SYNONYMS: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("instruments", "status"): {
        "in_service": (
            "active",
            "in use",
            "inuse",
            "in service",
            "ok",
            "available",
            "operational",
            "current",
            "valid",
            "released",
            "aktiv",
            "in betrieb",
            "en service",
        ),
        "out_of_service": (
            "out of service",
            "oos",
            "defective",
            "defect",
            "for repair",
            "repair",
            "under repair",
            "in repair",
            "broken",
            "service",
            "faulty",
            "damaged",
            "inoperative",
            "quarantine",
            "quarantined",
            "on hold",
            "blocked",
            "locked out",
            "tagged out",
            "defekt",
            "gesperrt",
        ),
        "retired": (
            "retired",
            "inactive",
            "in active",
            "scrap",
            "scrapped",
            "disposed",
            "disposal",
            "obsolete",
            "decommissioned",
            "discarded",
            "written off",
            "write off",
            "sold",
            "withdrawn",
            "archived",
            "ausgemustert",
            "verschrottet",
        ),
        "lost": ("lost", "missing", "stolen", "not found", "cannot locate", "verloren"),
    },
    ("calibrations", "result"): {
        "pass": (
            "pass",
            "passed",
            "ok",
            "in tol",
            "in tolerance",
            "within tolerance",
            "within tol",
            "conform",
            "conforms",
            "conforming",
            "compliant",
            "good",
            "accept",
            "accepted",
            "p",
            "bestanden",
            "io",
        ),
        "fail": (
            "fail",
            "failed",
            "failure",
            "oot",
            "out of tolerance",
            "out of tol",
            "nonconforming",
            "non conforming",
            "not ok",
            "nok",
            "nio",
            "reject",
            "rejected",
            "f",
            "nicht bestanden",
        ),
        "adjusted": (
            "adjusted",
            "adj",
            "adjust",
            "adjustment",
            "pass after adjustment",
            "passed after adjustment",
            "adjusted pass",
            "justiert",
        ),
    },
    ("instruments", "calibration_requirement"): {
        "periodic": ("periodic", "yes", "y", "required", "calibrate", "scheduled"),
        "verify_before_use": (
            "verify before use",
            "vbu",
            "check before use",
            "verify",
            "functional check",
        ),
        "not_required": (
            "not required",
            "cnr",
            "ncr",
            "no",
            "n",
            "n/a",
            "none",
            "calibration not required",
            "reference only",
            "for parts",
        ),
    },
    ("calibrations", "provider_kind"): {
        "in_house": ("in house", "inhouse", "internal", "intern", "own", "self", "own lab"),
        "external": (
            "external",
            "extern",
            "vendor",
            "supplier",
            "outside",
            "third party",
            "subcontracted",
            "outsourced",
            "accredited lab",
        ),
    },
    ("schedules", "kind"): {
        "check": ("intermediate check", "interim check", "verification", "functional check"),
        "maintenance": ("preventive maintenance", "service", "servicing", "pm", "wartung"),
    },
    ("maintenance", "kind"): {
        "maintenance": ("preventive maintenance", "pm", "service", "servicing", "wartung"),
        "cleaning": ("clean", "cleaned", "reinigung"),
        "damage_found": ("damage", "damaged", "dropped"),
        "malfunction": ("fault", "faulty", "defect", "broken"),
        "repair": ("repaired", "fixed", "reparatur"),
        "modification": ("modified", "change", "upgrade"),
        "firmware_update": ("firmware", "software update", "update"),
    },
    ("providers", "approval"): {
        "approved": ("qualified", "accepted", "preferred", "freigegeben"),
        "conditionally_approved": ("conditional", "conditionally", "provisional", "on probation"),
        "not_approved": ("rejected", "disqualified", "blocked", "gesperrt"),
    },
    ("checks", "result"): {
        "pass": ("passed", "ok", "in tolerance", "good", "accept", "bestanden"),
        "fail": ("failed", "nok", "not ok", "out of tolerance", "oot", "reject"),
    },
}

# A value holding one of these words says the opposite of what its other words say.
NEGATIONS = frozenset({"not", "no", "non", "never", "nicht", "kein", "keine", "un"})
_WORD = re.compile(r"[^\W_]+")
MAX_PHRASE_WORDS = 3
MIN_PART_LETTERS = 3
# Words too common to mean a status inside a longer value ("valid until 2019", "own
# risk"): they count only as the whole value.
WHOLE_ONLY = frozenset(
    normalise(w) for w in ("current", "valid", "good", "own", "self", "accept", "adjust")
)
LINES_SHOWN = 5
# A header that asks the opposite question ("CNR": calibration not required?) turns yes
# and no around: such a column's yes/no is left for the user to say, never guessed.
NEGATED_HEADERS = frozenset({"cnr", "ncr", "calibrationnotrequired", "notrequired"})
YES_NO = frozenset({"y", "yes", "n", "no"})


def fixed_values(kind: str, field: str) -> tuple[str, ...] | None:
    """The values ``field`` takes, or None when it takes any text."""
    return FIXED_VALUES.get((kind, field))


def _phrases(kind: str, field: str) -> dict[str, set[str]]:
    """normalised word or phrase → the targets it means (canonical values included)."""
    table: dict[str, set[str]] = {}
    for target, words in SYNONYMS.get((kind, field), {}).items():
        for word in words:
            table.setdefault(normalise(word), set()).add(target)
    return table


@dataclass(frozen=True)
class Guess:
    """What a value becomes by itself: ``source`` "exact" or "guessed", or no target."""

    target: str | None
    source: str  # "exact", "guessed" or ""
    guessed_from: str = ""  # the word or phrase of the value the guess rests on


def guess_value(kind: str, field: str, text: str) -> Guess:
    """The canonical value ``text`` means, by itself (no mapping given or remembered)."""
    allowed = FIXED_VALUES[(kind, field)]
    key = normalise(text)
    if not key:
        return Guess(None, "")
    for value in allowed:
        if key == normalise(value):
            return Guess(value, "exact")
    table = _phrases(kind, field)
    whole = table.get(key, set())
    if len(whole) == 1:
        return Guess(next(iter(whole)), "guessed", text.strip())
    words = _WORD.findall(text)
    if len(words) < 2 or any(w.casefold() in NEGATIONS for w in words):
        return Guess(None, "")
    # The longest known phrase(s) standing in the value as whole words decide.
    for size in range(min(MAX_PHRASE_WORDS, len(words)), 0, -1):
        found: dict[str, str] = {}
        for start in range(len(words) - size + 1):
            phrase = words[start : start + size]
            key = normalise("".join(phrase))
            if len(key) < MIN_PART_LETTERS or key in WHOLE_ONLY:
                continue  # "P", "F", "ok" mean something alone, not inside other words
            for target in table.get(key, ()):
                found.setdefault(target, " ".join(phrase))
        if len(found) == 1:
            target, phrase_text = next(iter(found.items()))
            return Guess(target, "guessed", phrase_text)
        if found:
            return Guess(None, "")  # words for two targets: the user decides
    return Guess(None, "")


def find_given(given: Mapping[str, Mapping[str, str]], header: str) -> Mapping[str, str]:
    if header in given:
        return given[header]
    key = normalise(header)
    for name, values in given.items():
        if normalise(name) == key:
            return values
    return {}


def value_table(
    kind: str,
    field: str,
    header: str,
    cells: Sequence[tuple[int, str]],
    *,
    given: Mapping[str, str],
    remembered: Mapping[str, str],
) -> ColumnValues:
    """The value table of one column from its (line, text) cells (blanks skipped)."""
    allowed = FIXED_VALUES[(kind, field)]
    given_keys = {value_key(v): t for v, t in given.items()}
    remembered_keys = {value_key(v): t for v, t in remembered.items() if t in allowed}
    seen: dict[str, tuple[str, list[int]]] = {}
    for line, text in cells:
        key = value_key(text)
        if not key:
            continue
        seen.setdefault(key, (" ".join(text.split()), []))[1].append(line)
    values: list[ValueMap] = []
    for key, (text, lines) in seen.items():
        shown = tuple(lines[:LINES_SHOWN])
        guess = guess_value(kind, field, text)
        if normalise(header) in NEGATED_HEADERS and normalise(text) in YES_NO:
            guess = Guess(None, "")
        if key in given_keys:
            values.append(ValueMap(text, len(lines), given_keys[key], "given", lines=shown))
        elif guess.source == "exact":
            values.append(ValueMap(text, len(lines), guess.target, "exact", lines=shown))
        elif key in remembered_keys:
            target = remembered_keys[key]
            values.append(ValueMap(text, len(lines), target, "remembered", lines=shown))
        else:
            values.append(
                ValueMap(text, len(lines), guess.target, guess.source, guess.guessed_from, shown)
            )
    return ColumnValues(header, field, allowed, tuple(values))


def given_problems(
    kind: str,
    headers: Sequence[str],
    fields_by_header: Mapping[str, str | None],
    given: Mapping[str, Mapping[str, str]],
) -> list[str]:
    """What is wrong with the value mappings the caller gave (unknown column, bad target)."""
    problems: list[str] = []
    for header, values in given.items():
        match = next((h for h in headers if h == header), None)
        if match is None:
            match = next((h for h in headers if normalise(h) == normalise(header)), None)
        if match is None:
            listed = ", ".join(repr(h) for h in headers if h)
            problems.append(f"value mapping of {header!r}: the file has no such column ({listed})")
            continue
        field = fields_by_header.get(match)
        allowed = fixed_values(kind, field) if field else None
        if kind == "instruments" and field in INTERVAL_FIELDS:
            allowed = INTERVAL_TARGETS
        fixed = ", ".join(sorted({f for (k, f) in FIXED_VALUES if k == kind}))
        if kind == "instruments":
            fixed += " and the interval's 0 and blank values"
        if field is None:
            problems.append(
                f"value mapping of {header!r}: the column is left out, so none of its values "
                f"is read; map it to a field first (value mappings are for {fixed})"
            )
            continue
        if allowed is None:
            problems.append(
                f"value mapping of {header!r}: the column is read as {field}, which takes no "
                f"fixed set of values; map values only of {fixed}"
            )
            continue
        name = VALUE_NAMES.get(field or "", field)
        for value, target in values.items():
            if target not in allowed:
                problems.append(
                    f"value mapping {header}:{value}={target}: {target!r} is not a {name}; "
                    f"one of {', '.join(allowed)}"
                )
    return problems


def value_tables(
    kind: str,
    mapping: ImportMapping,
    rows: Sequence[RawRow],
    *,
    given: Mapping[str, Mapping[str, str]],
    remembered: Mapping[str, Mapping[str, str]] | None,
) -> tuple[tuple[ColumnValues, ...], list[str], list[str]]:
    """The value table of every mapped fixed-set column of ``rows`` (the rows taken in),
    the problems with the mappings given, and warnings (a given value no row holds)."""
    headers = [c.header for c in mapping.columns]
    fields_by_header = {c.header: c.field for c in mapping.columns if not c.informational}
    problems = given_problems(kind, headers, fields_by_header, given)
    warnings: list[str] = []
    tables: list[ColumnValues] = []
    for column in mapping.mapped:
        field = column.field
        if field is None or fixed_values(kind, field) is None:
            continue
        cells = [
            (raw.line, cell_text(raw.cells[column.index]))
            for raw in rows
            if column.index < len(raw.cells)
        ]
        mine = find_given(given, column.header)
        table = value_table(
            kind,
            field,
            column.header,
            cells,
            given=mine,
            remembered=find_given(remembered or {}, column.header),
        )
        present = {value_key(v.value) for v in table.values}
        for value in mine:
            if value_key(value) not in present:
                warnings.append(
                    f"value mapping of {value!r} in column {column.header!r}: no row taken in "
                    "holds it"
                )
        tables.append(table)
    if kind == "instruments":
        tables += _interval_tables(mapping, rows, given, remembered or {}, warnings)
    return tuple(tables), problems, warnings


def _interval_tables(
    mapping: ImportMapping,
    rows: Sequence[RawRow],
    given: Mapping[str, Mapping[str, str]],
    remembered: Mapping[str, Mapping[str, str]],
    warnings: list[str],
) -> list[ColumnValues]:
    """The value table of the interval column's 0 (or less) values, of the rows whose
    requirement is not given by a requirement column (there the row's own word wins)."""
    requirement = next((c for c in mapping.mapped if c.field == "calibration_requirement"), None)
    found: list[ColumnValues] = []
    for column in mapping.mapped:
        if column.field not in INTERVAL_FIELDS:
            continue
        cells = []
        for raw in rows:
            said = (
                cell_text(raw.cells[requirement.index])
                if requirement is not None and requirement.index < len(raw.cells)
                else ""
            )
            text = cell_text(raw.cells[column.index]) if column.index < len(raw.cells) else ""
            if not said and not text:
                cells.append((raw.line, BLANK_INTERVAL))
            elif not said and non_positive(text):
                cells.append((raw.line, text))
        if not cells:
            continue
        mine = find_given(given, column.header)
        table = _unguessed_table(column.header, cells, mine, find_given(remembered, column.header))
        present = {value_key(v.value) for v in table.values}
        for value in mine:
            if value_key(value) not in present:
                warnings.append(
                    f"value mapping of {value!r} in column {column.header!r}: no row taken in "
                    "holds it"
                )
        found.append(table)
    return found


def _unguessed_table(
    header: str,
    cells: Sequence[tuple[int, str]],
    given: Mapping[str, str],
    remembered: Mapping[str, str],
) -> ColumnValues:
    """An interval column's table of 0 and blank values: a 0 is mapped only when the user
    says so; a blank is guessed as periodic (the default interval), as it always was read."""
    given_keys = {value_key(v): t for v, t in given.items()}
    remembered_keys = {value_key(v): t for v, t in remembered.items() if t in INTERVAL_TARGETS}
    seen: dict[str, tuple[str, list[int]]] = {}
    for line, text in cells:
        seen.setdefault(value_key(text), (" ".join(text.split()), []))[1].append(line)
    values: list[ValueMap] = []
    for key, (text, lines) in seen.items():
        shown = tuple(lines[:LINES_SHOWN])
        if key in given_keys:
            values.append(ValueMap(text, len(lines), given_keys[key], "given", lines=shown))
        elif key in remembered_keys:
            values.append(
                ValueMap(text, len(lines), remembered_keys[key], "remembered", lines=shown)
            )
        elif text == BLANK_INTERVAL:
            values.append(
                ValueMap(
                    text,
                    len(lines),
                    "periodic",
                    "guessed",
                    guessed_from="a blank interval: the default",
                    lines=shown,
                )
            )
        else:
            values.append(ValueMap(text, len(lines), None, "", lines=shown))
    return ColumnValues(header, "calibration_interval_days", INTERVAL_TARGETS, tuple(values))
