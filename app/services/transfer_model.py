"""Plain values of imports and exports: options, the mapping, the preview, the result.

The import wizard of the GUI and the CLI both work from these: the preview says how
the file was read (format, encoding, delimiter, sheet, header line, date order), which
column became which field, and for every row what would happen or what is wrong with
it, naming the file's line and the column's header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.services.dto import to_jsonable
from app.storage.tables import MAX_FILE_BYTES, MAX_ROWS, RawTable

ACTIONS = ("add", "update", "unchanged", "error", "excluded", "not checked")


@dataclass(frozen=True)
class ImportOptions:
    """What the caller decided; everything else is detected and shown in the preview."""

    kind: str  # "instruments" or "calibrations"
    # header -> field ("" or "-" leaves the column out); wins over memory and guess
    mapping: Mapping[str, str] = field(default_factory=dict)
    # what this user confirmed earlier for the same layout (app.settings.import_mappings)
    remembered: Mapping[str, str] | None = None
    date_order: str = "auto"  # auto, dmy, mdy, ymd
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    header_line: int | None = None  # the file's line (CSV) or row (XLSX) of the header
    update_existing: bool = False  # instruments: existing tags are updated, not refused
    # calibrations: history whose register already says each instrument's status; a
    # failure found in it opens its case but does not take the instrument out of service
    keep_status: bool = False
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


@dataclass(frozen=True)
class RowIssue:
    """Something wrong with a row (or, without a line, with the file or the mapping)."""

    line: int | None
    column: str | None  # the header as written in the file
    field: str | None
    message: str

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
    options: ImportOptions | None = field(default=None, repr=False, compare=False)
    table: RawTable | None = field(default=None, repr=False, compare=False)

    @property
    def issues(self) -> tuple[RowIssue, ...]:
        """Every problem that stops a commit: the file's, then each row's in line order."""
        rows = tuple(i for r in self.rows if r.action == "error" for i in r.issues)
        return self.problems + rows

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
        return result

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
            "errors": [to_jsonable(i) for i in self.issues],
            "rows": [to_jsonable(r) for r in self.rows],
            "update_existing": self.update_existing,
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
