"""Plain values of imports and exports: options, the mapping, the preview, the result.

The import wizard of the GUI and the CLI both work from these: the preview says how
the file was read (format, encoding, delimiter, sheet, header line, date order), which
column became which field, and for every row what would happen or what is wrong with
it, naming the file's line and the column's header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from app.services.dto import to_jsonable
from app.storage.tables import MAX_FILE_BYTES, MAX_ROWS, RawTable

ACTIONS = ("add", "update", "unchanged", "error", "excluded", "not checked")


@dataclass(frozen=True)
class ImportOptions:
    """What the caller decided; everything else is detected and shown in the preview."""

    kind: str  # one of transfer_mapping.KINDS
    # header -> field ("" or "-" leaves the column out); wins over memory and guess
    mapping: Mapping[str, str] = field(default_factory=dict)
    # what this user confirmed earlier for the same layout (app.settings.import_mappings)
    remembered: Mapping[str, str] | None = None
    # header -> (value as written -> canonical value) for fixed-set columns; wins over
    # memory and guess (transfer_values)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    remembered_values: Mapping[str, Mapping[str, str]] | None = None
    date_order: str = "auto"  # auto, dmy, mdy, ymd
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_line: int | None = None  # the file's line (CSV) or row (XLSX) of the header
    update_existing: bool = False  # instruments: existing tags are updated, not refused
    # calibrations and checks: history whose register already says each instrument's
    # status; a failure found in it (a calibration's opens its case) does not take the
    # instrument out of service
    keep_status: bool = False
    # rows whose old history contradicts itself (a next due before the last calibration,
    # a calibration in the future, a 1970-01-01 placeholder): "flag" keeps them as
    # recorded and marks the instrument for QA review; "leave_out" leaves them out
    inconsistent: Literal["flag", "leave_out"] = "flag"
    exclude_lines: frozenset[int] = frozenset()
    max_bytes: int = MAX_FILE_BYTES
    max_rows: int = MAX_ROWS


@dataclass(frozen=True)
class ColumnMap:
    """One column of the file and the field it feeds (None: not imported)."""

    index: int
    header: str
    field: str | None
    describes: str  # what the preview shows: "asset tag", "calibration interval (months...)"
    source: str  # "given", "remembered", "guessed" or "" (not imported)
    informational: bool = False  # an export's bookkeeping column, knowingly skipped
    # a column not imported: its first distinct values ("…" when there are more), so
    # the user can see what it holds and choose a field for it
    samples: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportMapping:
    """Which column holds which field, and which required fields have no column."""

    kind: str
    columns: tuple[ColumnMap, ...]
    missing: tuple[str, ...]

    @property
    def unmapped(self) -> tuple[str, ...]:
        """Headers of columns nothing is read from (bookkeeping columns not counted)."""
        return tuple(
            c.header or f"(column {c.index + 1})"
            for c in self.columns
            if c.field is None and not c.informational
        )

    @property
    def mapped(self) -> tuple[ColumnMap, ...]:
        return tuple(c for c in self.columns if c.field is not None and not c.informational)

    def header_of(self, field_name: str) -> str | None:
        for c in self.columns:
            if c.field == field_name:
                return c.header
        return None

    def index_of(self, field_name: str) -> int | None:
        for c in self.columns:
            if c.field == field_name and not c.informational:
                return c.index
        return None

    def as_remembered(self) -> dict[str, str]:
        """header -> field ("" for left out): what is stored when the user confirms it."""
        return {c.header: (c.field or "") for c in self.columns if c.header}


def value_key(text: str) -> str:
    """How a value is matched against another spelling of it: trimmed, one space, any case."""
    return " ".join(text.split()).casefold()


# What each fixed-set field's value is called in messages.
VALUE_NAMES = {
    "status": "status",
    "result": "result",
    "provider_kind": "provider kind",
    "kind": "kind",
    "approval": "provider approval",
    "calibration_requirement": "calibration requirement",
    "calibration_interval_days": "calibration requirement for a 0 or blank interval",
}


@dataclass(frozen=True)
class ValueMap:
    """One distinct value of a fixed-set column and what it becomes."""

    value: str  # as first written in the file (trimmed)
    count: int  # rows taken in that hold it
    target: str | None  # the canonical value; None: not mapped (an error)
    source: str  # "exact", "given", "remembered", "guessed" or "" (not mapped)
    guessed_from: str = ""  # for "guessed": the word or phrase it rests on
    lines: tuple[int, ...] = ()  # the first lines that hold it (LINES_SHOWN of them)


@dataclass(frozen=True)
class ColumnValues:
    """The value table of one fixed-set column: every distinct value, first seen first."""

    column: str  # the header as written in the file
    field: str
    allowed: tuple[str, ...]
    values: tuple[ValueMap, ...]

    @property
    def unmapped(self) -> tuple[ValueMap, ...]:
        return tuple(v for v in self.values if v.target is None)

    @cached_property
    def _targets(self) -> dict[str, str | None]:
        # Looked up once per row: a dict, not a scan (a file may hold many values).
        return {value_key(v.value): v.target for v in self.values}

    def target_of(self, text: str) -> str | None:
        """What ``text`` becomes (None: not mapped, or not in the table)."""
        return self._targets.get(value_key(text))

    def as_remembered(self) -> dict[str, str]:
        """value → target for every value that needed mapping (exact ones need none)."""
        return {v.value: v.target for v in self.values if v.target and v.source != "exact"}


def unmapped_message(column: ColumnValues, value: ValueMap) -> str:
    """One line for a value nothing maps: the value, its rows, the values it may become."""
    name = VALUE_NAMES.get(column.field, column.field)
    rows = f"{value.count} row{'s' if value.count != 1 else ''}"
    lines = ", ".join(str(n) for n in value.lines)
    more = " …" if value.count > len(value.lines) else ""
    if column.field == "calibration_interval_days":
        return (
            f"an interval of {value.value!r} ({rows}: line{'s' if value.count != 1 else ''} "
            f"{lines}{more}) is no calibration interval: say what these instruments are, map "
            f"it to one of {', '.join(column.allowed)} (periodic: the default interval), or "
            "leave those lines out"
        )
    return (
        f"{value.value!r} ({rows}: line{'s' if value.count != 1 else ''} {lines}{more}) is not "
        f"a {name} CalTrack knows; map it to one of {', '.join(column.allowed)}, or leave "
        "those lines out"
    )


@dataclass(frozen=True)
class RowIssue:
    """Something wrong with a row (or, without a line, with the file or the mapping)."""

    line: int | None
    column: str | None  # the header as written in the file
    field: str | None
    message: str
    # a row's value that no value mapping covers: reported once per value in the
    # preview's ``value_issues``, so not again per row in ``issues``
    unmapped_value: str = ""

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line is not None else []
        if self.column:
            where.append(f"column {self.column!r}")
        return (", ".join(where) + ": " if where else "") + self.message


@dataclass(frozen=True)
class PreviewRow:
    """What the import does with one row of the file."""

    line: int
    action: str  # one of ACTIONS
    asset_tag: str
    summary: str  # "Digital thermometer", "calibration on 2026-03-01: pass", changed fields
    issues: tuple[RowIssue, ...] = ()
    notes: tuple[str, ...] = ()  # effects worth knowing: "takes TH-1 out of service"
    # dates that contradict each other, kept as recorded and flagged for QA review
    # (ImportOptions.inconsistent == "flag"): the sentence naming each problem
    review: str = ""


@dataclass(frozen=True)
class ImportPreview:
    """The dry run of an import: every row parsed and checked as the real save does it.

    ``committed`` is True only in the result of a commit. ``checked`` says how far the
    rows were checked: against the database (the save was tried and rolled back), or
    only against the field rules when the database is read-only.
    """

    kind: str
    source: str  # the file's name
    format: str
    encoding: str
    encoding_note: str
    delimiter: str
    sheet: str
    sheets: tuple[str, ...]
    header_line: int | None
    date_order: str
    date_order_note: str
    mapping: ImportMapping
    rows: tuple[PreviewRow, ...]
    problems: tuple[RowIssue, ...]  # about the file or the mapping (no row checked then)
    warnings: tuple[str, ...]
    update_existing: bool
    excluded_lines: tuple[int, ...]
    checked: str
    committed: bool = False
    # every fixed-set column's distinct values and what they become (transfer_values)
    values: tuple[ColumnValues, ...] = ()
    options: ImportOptions | None = field(default=None, repr=False, compare=False)
    table: RawTable | None = field(default=None, repr=False, compare=False)

    @property
    def value_issues(self) -> tuple[RowIssue, ...]:
        """One problem per distinct value no mapping covers (not one per row)."""
        return tuple(
            RowIssue(None, c.column, c.field, unmapped_message(c, v), v.value)
            for c in self.values
            for v in c.unmapped
        )

    @property
    def issues(self) -> tuple[RowIssue, ...]:
        """Every problem that stops a commit: the file's, each unmapped value, then each
        row's in line order (an unmapped value once, not again for every row holding it)."""
        rows = tuple(
            i for r in self.rows if r.action == "error" for i in r.issues if not i.unmapped_value
        )
        return self.problems + self.value_issues + rows

    def remembered_values(self) -> dict[str, dict[str, str]]:
        """header -> (value -> target): what is stored with the column mapping."""
        return {c.column: c.as_remembered() for c in self.values if c.as_remembered()}

    @property
    def ok(self) -> bool:
        return not self.issues

    @property
    def error_lines(self) -> tuple[int, ...]:
        return tuple(r.line for r in self.rows if r.action == "error")

    def counts(self) -> dict[str, int]:
        result = {a: 0 for a in ACTIONS}
        for r in self.rows:
            result[r.action] += 1
        result["rows"] = len(self.rows)
        # not an action: rows added or updated AND flagged for QA review
        result["flagged"] = len(self.flagged)
        return result

    @property
    def flagged(self) -> tuple[PreviewRow, ...]:
        """Rows kept as recorded and flagged for QA review (their dates contradict)."""
        return tuple(r for r in self.rows if r.review and r.action != "error")

    def as_json(self) -> dict[str, Any]:
        """Everything but the raw table, as JSON-ready values (for ``--json``)."""
        return {
            "kind": self.kind,
            "source": self.source,
            "format": self.format,
            "encoding": self.encoding,
            "encoding_note": self.encoding_note,
            "delimiter": self.delimiter,
            "sheet": self.sheet,
            "header_line": self.header_line,
            "date_order": self.date_order,
            "date_order_note": self.date_order_note,
            "mapping": [to_jsonable(c) for c in self.mapping.columns],
            "missing_fields": list(self.mapping.missing),
            "unmapped": list(self.mapping.unmapped),
            "counts": self.counts(),
            "problems": [str(p) for p in self.problems],
            "warnings": list(self.warnings),
            "values": [to_jsonable(c) for c in self.values],
            "errors": [to_jsonable(i) for i in self.issues],
            "rows": [to_jsonable(r) for r in self.rows],
            "update_existing": self.update_existing,
            "inconsistent": self.options.inconsistent if self.options else "flag",
            "excluded_lines": list(self.excluded_lines),
            "checked": self.checked,
            "committed": self.committed,
        }


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    format: str
    files: tuple[str, ...]
    instruments: int
    calibrations: int
    custody: int = 0  # custody entries (check-outs), void ones included
    # Maintenance events (issue 15) on the Maintenance sheet or in -maintenance.csv.
    maintenance_events: int = 0
