"""Import and export of instruments and calibration history (CSV and XLSX), and
issue 15's check and maintenance schedules, intermediate checks, maintenance log,
providers, custody (``transfer_upkeep``) and send-out batches (``transfer_sendouts``).

An import reads the file (``app.storage.tables``), finds the header and maps its
columns (``transfer_mapping``), converts each row (``transfer_rows``), then hands the
rows to the same in-transaction service methods a form uses —
``InstrumentService.add_in`` / ``edit_in`` and ``CalibrationService.add_in`` — inside
ONE write transaction with one audit writer. The dry run is that very save, rolled
back at the end: the preview applies exactly the rules a commit applies, including the
ones that depend on the rows before (a standard's own calibration earlier in the same
file). A commit that meets any error rolls everything back: all rows or none.

Calibration rows are applied in date order (then file order), so that each standard's
history is in place before a calibration that used it. A row that arrives voided is
recorded, then voided with its reason, voider and time from the file; it changes
nothing on its instrument.

An export reads everything in one read transaction (a consistent snapshot) and
streams it: openpyxl's write-only mode for XLSX, one CSV file per kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError, PendingRollbackError

from app.clock import Clock
from app.db.models import Instrument, MeasurementPoint
from app.errors import (
    ConflictError,
    NotAllowedError,
    NotFoundError,
    UsageError,
    ValidationError,
)
from app.identity import Identity
from app.plain_text import tag_key
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit import AuditChainWriter
from app.services.calibrations import CalibrationService
from app.services.checks import check_views
from app.services.dto import PointInput
from app.services.due import next_due_from
from app.services.instruments import UNCHANGED, InstrumentService
from app.services.provider_export import (
    PROVIDER_HEADER,
    SENDOUT_HEADER,
    provider_rows,
    sendout_rows,
)
from app.services.provider_export import SHEETS as PROVIDER_SHEETS
from app.services.review import instrument_problems, record_problems, sentence
from app.services.sendouts import recorded_batches
from app.services.settings import lab_metrology
from app.services.snapshots import diff, instrument_snapshot
from app.services.tolerance import opens_case
from app.services.transfer_dates import DATE_ORDERS, DateOrder, detect_order
from app.services.transfer_export import (
    CUSTODY_COLUMNS,
    MAINTENANCE_COLUMNS,
    calibration_cells,
    csv_cell,
    custody_cells,
    instrument_cells,
    maintenance_cells,
)
from app.services.transfer_mapping import (
    COLUMNS,
    KINDS,
    build_mapping,
    exported_columns,
    find_header,
    header_text,
    layout_key,
    looks_like_other_kind,
    spec_of,
)
from app.services.transfer_model import (
    ColumnValues,
    ExportResult,
    ImportMapping,
    ImportOptions,
    ImportPreview,
    PreviewRow,
    RowIssue,
)
from app.services.transfer_rows import (
    PlannedRow,
    calibration_row,
    cell_text,
    check_row,
    custody_row,
    date_samples,
    instrument_row,
    interval_looks_like_months,
    maintenance_row,
    provider_row,
    schedule_row,
    sendout_row,
)
from app.services.transfer_sendouts import SendoutRows, batches_of
from app.services.transfer_upkeep import (
    UPKEEP_KINDS,
    UpkeepRows,
    recorded_checks,
    recorded_custody,
    recorded_events,
)
from app.services.transfer_values import value_tables
from app.services.validation import (
    instrument_changes,
    instrument_input,
    validate_instrument_fields,
)
from app.services.voiding import ImportedVoid, void_in
from app.storage.tables import RawRow, RawTable, ReadOptions, SheetSpec, read_table
from app.storage.tables import write_csv as write_csv_file
from app.storage.tables import write_xlsx as write_xlsx_file

# phase ("reading", "checking", "saving", "exporting"), done, total (0: unknown)
Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 500
TAG_BATCH = 500
EXPORT_FORMATS = ("csv", "xlsx")
# What to do with rows whose old dates contradict each other (ImportOptions.inconsistent).
INCONSISTENT = ("flag", "leave_out")
FLAG_NOTE = "flagged for QA review: "
LEFT_OUT_NOTE = "left out (its dates contradict each other): "
# The sheet an import of each kind reads from a workbook (unless --sheet names one):
# the sheet an export writes for it.
SHEET_NAMES = {
    "instruments": "Instruments",
    "calibrations": "Calibrations",
    "schedules": "Schedules",
    "checks": "Checks",
    "maintenance": "Maintenance",
    "providers": "Providers",
    "custody": "Custody",
    "sendouts": "Send-outs",
}
# Instrument fields the preview names by their column label.
_LABELLED = frozenset(c.field for c in COLUMNS["instruments"])
DATE_FIELDS = {
    "instruments": ("last_calibrated", "next_due"),
    "calibrations": ("performed_on", "next_due", "voided_at"),
    "schedules": ("last_done", "next_due"),
    "checks": ("performed_on", "voided_at"),
    "maintenance": ("performed_on", "voided_at"),
    "providers": ("review_date", "retired_at"),
    "custody": ("out_at", "due_back", "in_at", "voided_at"),
    "sendouts": ("sent_on", "expected_return", "received_on"),
}
# How each kind's rows are converted (transfer_rows).
CONVERTERS = {
    "instruments": instrument_row,
    "calibrations": calibration_row,
    "schedules": schedule_row,
    "checks": check_row,
    "maintenance": maintenance_row,
    "providers": provider_row,
    "custody": custody_row,
    "sendouts": sendout_row,
}
# What the duplicate of a row in the same file repeats: (its column's field, sentence).
DUPLICATE_OF = {
    "calibrations": (
        "performed_on",
        "repeats the calibration on line {line} (same tag, date, certificate, result and readings)",
    ),
    "schedules": ("kind", "repeats the schedule on line {line} (same tag and schedule)"),
    "checks": (
        "performed_on",
        "repeats the check on line {line} (same tag, date, standard and readings)",
    ),
    "maintenance": (
        "performed_on",
        "repeats the event on line {line} (same tag, date, kind and what was done)",
    ),
    "providers": ("name", "repeats the provider on line {line} (the same name)"),
    "custody": (
        "out_at",
        "repeats the check-out on line {line} (same tag and time out)",
    ),
    "sendouts": ("asset_tag", "names the instrument of line {line} again in the same batch"),
}


@dataclass
class _Plan:
    """A file read through its mapping: the rows to apply and what stops them."""

    table: RawTable
    options: ImportOptions
    header_line: int | None
    mapping: ImportMapping
    order: DateOrder
    rows: list[PlannedRow]
    problems: list[RowIssue] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    values: tuple[ColumnValues, ...] = ()

    @property
    def excluded(self) -> frozenset[int]:
        return self.options.exclude_lines


@dataclass
class _Outcome:
    rows: dict[int, PreviewRow] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return any(r.action == "error" for r in self.rows.values())


class _RolledBack(Exception):
    """Leaves the write transaction without committing (a dry run, or a failed row)."""

    def __init__(self, outcome: _Outcome) -> None:
        super().__init__("rolled back")
        self.outcome = outcome


def _check_options(options: ImportOptions) -> None:
    if options.kind not in KINDS:
        raise UsageError(f"import what? {options.kind!r}; one of {', '.join(KINDS)}")
    if options.inconsistent not in INCONSISTENT:
        raise UsageError(
            f"rows with contradictory dates: {options.inconsistent!r}; one of "
            + ", ".join(INCONSISTENT)
        )
    if options.date_order not in DATE_ORDERS:
        raise UsageError(f"date order {options.date_order!r}: one of {', '.join(DATE_ORDERS)}")


def refusal(preview: ImportPreview, how_to_map: str = "map each value") -> str:
    """One line that says why nothing was written and what to do (``how_to_map``: how
    this caller maps a value, for the CLI its option)."""
    lines = preview.error_lines
    if preview.problems:
        return f"{preview.source}: {preview.problems[0]}; nothing was written"
    unmapped = [(c, v) for c in preview.values for v in c.unmapped]
    if unmapped:
        # Lines with an error besides their unmapped value.
        others = [
            r.line
            for r in preview.rows
            if r.action == "error" and any(not i.unmapped_value for i in r.issues)
        ]
        listed = "; ".join(
            f"column {c.column!r}: {v.value!r} ({v.count} row{'s' if v.count != 1 else ''})"
            for c, v in unmapped[:5]
        ) + (" …" if len(unmapped) > 5 else "")
        more = f"; {len(others)} other line(s) have errors" if others else ""
        return (
            f"{preview.source}: {len(unmapped)} value(s) have no mapping ({listed}){more}; "
            f"nothing was written — {how_to_map}, or leave its lines out"
        )
    shown = ", ".join(str(n) for n in lines[:10]) + (" …" if len(lines) > 10 else "")
    return (
        f"{preview.source}: {len(lines)} line(s) have errors ({shown}); nothing was written — "
        "fix them, or leave those lines out of the import"
    )


SAMPLES_SHOWN = 3


def _with_samples(mapping: ImportMapping, rows: Sequence[RawRow]) -> ImportMapping:
    """The mapping with what each left-out column holds (its first distinct values)."""
    columns = []
    for column in mapping.columns:
        if column.field is not None or column.informational:
            columns.append(column)
            continue
        seen: dict[str, None] = {}
        for raw in rows:
            text = cell_text(raw.cells[column.index]) if column.index < len(raw.cells) else ""
            if text and text not in seen:
                seen[text] = None
                if len(seen) > SAMPLES_SHOWN:
                    break
        samples = list(seen)[:SAMPLES_SHOWN] + (["…"] if len(seen) > SAMPLES_SHOWN else [])
        columns.append(replace(column, samples=tuple(samples)))
    return replace(mapping, columns=tuple(columns))


class TransferService:
    """Reads messy files into a dry-run preview, then commits all rows or none."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        identity: Identity,
        clock: Clock,
        instruments: InstrumentService,
        calibrations: CalibrationService,
    ) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._instruments = instruments
        self._calibrations = calibrations

    # -- import ----------------------------------------------------------------------

    def read(
        self, path: Path, options: ImportOptions, progress: Progress | None = None
    ) -> RawTable:
        """The file as raw rows (CSV or XLSX, detected from its content)."""
        _check_options(options)
        read_options = ReadOptions(
            encoding=options.encoding,
            delimiter=options.delimiter,
            sheet=options.sheet,
            preferred_sheets=(SHEET_NAMES[options.kind], options.kind),
            max_bytes=options.max_bytes,
            max_rows=options.max_rows,
        )
        report = (lambda done, total: progress("reading", done, total)) if progress else None
        return read_table(path, read_options, report)

    def preview(
        self, path: Path, options: ImportOptions, progress: Progress | None = None
    ) -> ImportPreview:
        """The dry run: every row checked as the save would check it; nothing is written."""
        return self.preview_table(self.read(path, options, progress), options, progress)

    def preview_table(
        self, table: RawTable, options: ImportOptions, progress: Progress | None = None
    ) -> ImportPreview:
        """The dry run again with other options (mapping, exclusions) without re-reading."""
        _check_options(options)
        return self._run(table, options, commit=False, progress=progress)

    def commit(self, preview: ImportPreview, progress: Progress | None = None) -> ImportPreview:
        """Save what a clean preview showed, in one transaction; refused if it had errors."""
        if preview.table is None or preview.options is None:
            raise UsageError("this preview holds no file; preview the file again")
        if not preview.ok:
            raise ValidationError({"import": refusal(preview)}, refusal(preview))
        result = self._run(preview.table, preview.options, commit=True, progress=progress)
        if not result.committed:
            # The database changed since the preview (someone else saved in between).
            raise ValidationError({"import": refusal(result)}, refusal(result))
        return result

    def import_file(
        self,
        path: Path,
        options: ImportOptions,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ImportPreview:
        """Preview and, if every row is fine and not ``dry_run``, commit — in one pass.

        The result's ``committed`` says whether anything was written.
        """
        if not dry_run:
            self._uow.database.check_writable()  # read-only: say so before reading a big file
        return self.import_table(
            self.read(path, options, progress), options, dry_run=dry_run, progress=progress
        )

    def import_table(
        self,
        table: RawTable,
        options: ImportOptions,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
    ) -> ImportPreview:
        """``import_file`` for a file already read (its layout's mapping looked up)."""
        _check_options(options)
        if not dry_run:
            self._uow.database.check_writable()
        return self._run(table, options, commit=not dry_run, progress=progress)

    # -- the run ---------------------------------------------------------------------

    def _run(
        self, table: RawTable, options: ImportOptions, *, commit: bool, progress: Progress | None
    ) -> ImportPreview:
        plan = self._plan(table, options)
        if plan.problems:
            rows = {r.line: PreviewRow(r.line, "not checked", r.tag, r.summary) for r in plan.rows}
            return self._preview(plan, _Outcome(rows), "not checked: fix the problems first")
        database = self._uow.database
        if database.read_only_reason:
            if commit:
                database.check_writable()
            outcome = self._uow.read(lambda uow: self._check_read_only(uow, plan))
            return self._preview(
                plan,
                outcome,
                f"fields only — the database is read-only ({database.read_only_reason}); "
                "existing tags, standards and due rules were not checked",
            )
        apply = {
            "instruments": self._apply_instruments,
            "calibrations": self._apply_records,
            "providers": self._apply_providers,
            "sendouts": self._apply_sendouts,
        }.get(options.kind, self._apply_upkeep)

        def write(uow: UnitOfWork) -> _Outcome:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            outcome = apply(uow, audit, plan, progress)
            if not commit or outcome.failed:
                raise _RolledBack(outcome)
            audit.flush()
            return outcome

        try:
            outcome = self._uow.write(write, label=f"import {options.kind}")
        except _RolledBack as rolled:
            checked = "against the database (the save was tried, then rolled back)"
            return self._preview(plan, rolled.outcome, checked)
        return self._preview(plan, outcome, "against the database, and saved", committed=True)

    def _preview(
        self, plan: _Plan, outcome: _Outcome, checked: str, *, committed: bool = False
    ) -> ImportPreview:
        rows = dict(outcome.rows)
        for r in plan.rows:
            if r.line in plan.excluded:
                rows[r.line] = PreviewRow(r.line, "excluded", r.tag, r.summary)
            elif r.line not in rows:
                rows[r.line] = PreviewRow(r.line, "not checked", r.tag, r.summary)
        table = plan.table
        return ImportPreview(
            kind=plan.options.kind,
            source=table.name,
            format=table.format,
            encoding=table.encoding,
            encoding_note=table.encoding_note,
            delimiter=table.delimiter,
            sheet=table.sheet,
            sheets=table.sheets,
            header_line=plan.header_line,
            date_order=plan.order.order,
            date_order_note=plan.order.note,
            mapping=plan.mapping,
            rows=tuple(rows[n] for n in sorted(rows)),
            problems=tuple(plan.problems),
            warnings=tuple(plan.warnings),
            update_existing=plan.options.update_existing,
            excluded_lines=tuple(sorted(plan.excluded)),
            checked=checked,
            committed=committed,
            values=plan.values,
            options=plan.options,
            table=table,
        )

    def _plan(self, table: RawTable, options: ImportOptions) -> _Plan:
        kind = options.kind
        rows = list(table.rows)
        problems: list[RowIssue] = []
        warnings: list[str] = []
        start, headers = self._header(table, options)
        header_row = rows[start]
        if start:
            skipped = ", ".join(repr(header_text(c)) for r in rows[:start] for c in r.cells if c)
            warnings.append(
                f"the header is on line {header_row.line}; the line(s) above it were skipped "
                f"({skipped[:120]})"
            )
        if table.hidden_sheets and not options.sheet:
            hidden = ", ".join(repr(h) for h in table.hidden_sheets)
            warnings.append(
                f"read the visible sheet {table.sheet!r}; hidden sheet(s) {hidden} were not "
                "read (name one with --sheet to read it)"
            )
        data = rows[start + 1 :]
        mapping, mapping_problems = build_mapping(
            kind, headers, given=options.mapping, remembered=options.remembered
        )
        problems += [RowIssue(None, None, None, p) for p in mapping_problems]
        for name in mapping.missing:
            spec = spec_of(kind, name)
            hint = ""
            other = looks_like_other_kind(kind, headers)
            if other:
                hint = f" — this looks like a file of {other}: import it as {other}"
            problems.append(
                RowIssue(
                    None,
                    None,
                    name,
                    f"no column gives the {spec.label.lower()} (required); map the column "
                    f"that holds it to {name}{hint}",
                )
            )
        lines = {r.line for r in data}
        for line in sorted(options.exclude_lines - lines):
            problems.append(
                RowIssue(line, None, None, "left out, but there is no data row on this line")
            )
        if not data:
            problems.append(RowIssue(None, None, None, "the file has a header but no data rows"))
        kept = [r for r in data if r.line not in options.exclude_lines]
        order = detect_order(date_samples(kept, mapping, DATE_FIELDS[kind]), options.date_order)
        if order.conflict:
            problems.append(RowIssue(None, None, None, order.conflict))
        if order.warning:
            warnings.append(order.warning)
        mapping = _with_samples(mapping, kept)
        tables, value_problems, value_warnings = value_tables(
            kind, mapping, kept, given=options.values, remembered=options.remembered_values
        )
        problems += [RowIssue(None, None, None, p) for p in value_problems]
        warnings += value_warnings
        choices = {t.field: t for t in tables}
        convert = CONVERTERS[kind]
        planned = [convert(r, mapping, order.order, len(headers), choices) for r in data]
        self._mark_duplicates(
            [p for p in planned if p.line not in options.exclude_lines], kind, mapping
        )
        if kind == "instruments":
            months = interval_looks_like_months(kept, mapping)
            if months:
                warnings.append(months)
        elif kind == "calibrations":
            nobody = [
                p.line
                for p in planned
                if p.line not in options.exclude_lines
                and p.calibration is not None
                and not p.calibration.performed_by
            ]
            if nobody:
                warnings.append(
                    f"{len(nobody)} row(s) name nobody who performed the calibration (first: "
                    f"line {nobody[0]}); they are recorded as performed by "
                    f"{self._identity.user}, who imports them"
                )
        return _Plan(
            table=table,
            options=options,
            header_line=header_row.line,
            mapping=mapping,
            order=order,
            rows=planned,
            problems=problems,
            warnings=warnings,
            values=tables,
        )

    @staticmethod
    def _header(table: RawTable, options: ImportOptions) -> tuple[int, list[str]]:
        """Where the header is (index into the rows) and its column names."""
        rows = table.rows
        if options.header_line is not None:
            found = [i for i, r in enumerate(rows) if r.line == options.header_line]
            if not found:
                raise UsageError(
                    f"{table.name} has no row on line {options.header_line} for the header "
                    "(blank?); give the line of the column names"
                )
            start = found[0]
        else:
            start = find_header([r.cells for r in rows], options.kind)
        headers = [header_text(c) for c in rows[start].cells]
        while headers and not headers[-1]:
            headers.pop()  # trailing empty columns (Excel leaves them)
        return start, headers

    def layout(self, table: RawTable, options: ImportOptions) -> tuple[list[str], str]:
        """The file's column names and the key its confirmed mapping is remembered under."""
        _check_options(options)
        _, headers = self._header(table, options)
        return headers, layout_key(options.kind, headers)

    @staticmethod
    def _mark_duplicates(rows: Sequence[PlannedRow], kind: str, mapping: ImportMapping) -> None:
        first: dict[Any, int] = {}
        for row in rows:
            if kind == "instruments":
                key: Any = tag_key(row.tag)
                what = f"asset tag {row.tag!r} is already on line {{line}} of this file"
                field_name = "asset_tag"
            else:
                dated = kind in ("schedules", "providers") or row.performed_on is not None
                key = row.duplicate_key if dated and row.tag else None
                field_name, what = DUPLICATE_OF[kind]
            if not key:
                continue
            if key in first:
                row.issues.append(
                    RowIssue(
                        row.line,
                        mapping.header_of(field_name),
                        field_name,
                        what.format(line=first[key])
                        + "; keep one of them and leave the other line out",
                    )
                )
            else:
                first[key] = row.line

    # -- applying instruments ----------------------------------------------------------

    @staticmethod
    def _existing(uow: UnitOfWork, tags: Sequence[str]) -> dict[str, Instrument]:
        keys = sorted({tag_key(t) for t in tags if t.strip()})
        found: dict[str, Instrument] = {}
        for start in range(0, len(keys), TAG_BATCH):
            found.update(uow.instruments.get_many_by_tags(keys[start : start + TAG_BATCH]))
        return found

    def _reason(self, plan: _Plan, row: PlannedRow) -> str:
        return f"imported from {plan.table.name} line {row.line}"

    @staticmethod
    def _issues_of(
        plan: _Plan, row: PlannedRow, exc: Exception, known: Sequence[RowIssue] = ()
    ) -> tuple[RowIssue, ...]:
        flagged = {i.field for i in known}
        if isinstance(exc, ValidationError):
            return tuple(known) + tuple(
                RowIssue(row.line, plan.mapping.header_of(_column_of(name)), name, message)
                for name, message in exc.fields.items()
                if name not in flagged
            )
        return (*known, RowIssue(row.line, None, None, str(exc)))

    def _apply_instruments(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        plan: _Plan,
        progress: Progress | None,
    ) -> _Outcome:
        outcome = _Outcome()
        rows = [r for r in plan.rows if r.line not in plan.excluded]
        existing = self._existing(uow, [r.tag for r in rows])
        for n, row in enumerate(rows, start=1):
            if progress and n % PROGRESS_EVERY == 0:
                progress("saving", n, len(rows))
            current = existing.get(tag_key(row.tag))
            if row.issues:
                outcome.rows[row.line] = self._failed_instrument(plan, row, current)
                continue
            apply = partial(self._instrument_row, uow, audit, plan, row, current)
            if not self._applied(outcome, plan, row, apply):
                break
        return outcome

    def _instrument_row(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        plan: _Plan,
        row: PlannedRow,
        current: Instrument | None,
    ) -> PreviewRow:
        kind = uow.types.get_by_name(row.type_name) if row.type_name else None
        if row.type_name and kind is None:
            known = ", ".join(t.name for t in uow.types.list_all()[:20]) or "none yet"
            return self._error(
                plan,
                row,
                "type_name",
                f"no instrument type named {row.type_name!r} in this database (types: "
                f"{known}); import the lab's types first (`types import`) or correct the name",
            )
        if current is None:
            review = self._inconsistent(plan, row)
            if review and plan.options.inconsistent == "leave_out":
                return self._left_out(row, review)
            obj = self._instruments.add_in(
                uow,
                audit,
                instrument_input(row.values),
                reason=self._reason(plan, row),
                last_calibrated=row.due.get("last_calibrated"),
                next_due=row.due.get("next_due"),
                flag_inconsistent=plan.options.inconsistent == "flag",
                type_name=row.type_name or None,
                custom=row.custom or None,
                stated=row.stated,
                # The one rule for a typed instrument without an interval (add_in's).
                interval_from_type="calibration_interval_days" not in row.values,
            )
            notes: tuple[str, ...] = ()
            requirement = str(row.values.get("calibration_requirement") or "periodic")
            if requirement != "periodic":
                notes = (f"not calibrated periodically: {requirement.replace('_', ' ')}",)
            elif "calibration_interval_days" not in row.values:
                days = obj.calibration_interval_days
                source = f"type {kind.name}'s" if kind and kind.default_interval_days else ""
                notes = (f"no interval given: {source + ' ' if source else ''}{days} days",)
            if obj.review_reason:
                notes += (FLAG_NOTE + obj.review_reason,)
            return PreviewRow(
                row.line, "add", row.tag, row.summary, notes=notes, review=obj.review_reason
            )
        if not plan.options.update_existing:
            return self._error(
                plan,
                row,
                "asset_tag",
                f"{current.asset_tag} is already in the database ({current.description});"
                " leave the line out, or choose to update existing instruments",
            )
        return self._update(uow, audit, plan, row, current)

    def _inconsistent(self, plan: _Plan, row: PlannedRow) -> str:
        """The row's contradictory dates as one sentence ("" when they agree)."""
        today = self._clock.today()
        if plan.options.kind in UPKEEP_KINDS:
            return ""  # their dates are checked by their services' rules
        if plan.options.kind == "instruments":
            return sentence(
                instrument_problems(row.due.get("last_calibrated"), row.due.get("next_due"), today)
            )
        next_due = row.calibration.next_due if row.calibration else None
        if row.performed_on is None or not (next_due is None or isinstance(next_due, date)):
            return ""
        return sentence(record_problems(row.performed_on, next_due, today))

    @staticmethod
    def _left_out(row: PlannedRow, review: str) -> PreviewRow:
        return PreviewRow(
            row.line, "excluded", row.tag, row.summary, notes=(LEFT_OUT_NOTE + review,)
        )

    def _applied(
        self, outcome: _Outcome, plan: _Plan, row: PlannedRow, apply: Callable[[], PreviewRow]
    ) -> bool:
        """Run one row's write into ``outcome``; False once the transaction is spoiled."""
        try:
            outcome.rows[row.line] = apply()
        except (ValidationError, NotFoundError, ConflictError, NotAllowedError) as exc:
            outcome.rows[row.line] = PreviewRow(
                row.line, "error", row.tag, row.summary, self._issues_of(plan, row, exc)
            )
        except (IntegrityError, PendingRollbackError) as exc:
            # Report this row and leave the rest unchecked: nothing after it would count.
            outcome.rows[row.line] = self._error(
                plan, row, None, f"the database refused the row ({exc})"
            )
            return False
        return True

    def _failed_instrument(
        self, plan: _Plan, row: PlannedRow, current: Instrument | None
    ) -> PreviewRow:
        """A row with conversion problems, plus what the field rules say about the rest."""
        updating = current is not None and plan.options.update_existing
        values = {k: v for k, v in row.values.items() if not (updating and k == "asset_tag")}
        issues: tuple[RowIssue, ...] = tuple(row.issues)
        try:
            validate_instrument_fields(values, partial=updating)
        except ValidationError as exc:
            issues = self._issues_of(plan, row, exc, issues)
        return PreviewRow(row.line, "error", row.tag, row.summary, issues)

    def _error(
        self, plan: _Plan, row: PlannedRow, field_name: str | None, message: str
    ) -> PreviewRow:
        header = plan.mapping.header_of(field_name) if field_name else None
        issue = RowIssue(row.line, header, field_name, message)
        return PreviewRow(row.line, "error", row.tag, row.summary, (issue,))

    def _update(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        plan: _Plan,
        row: PlannedRow,
        current: Instrument,
    ) -> PreviewRow:
        notes: list[str] = []
        for name, day in row.due.items():
            stored = getattr(current, name)
            if stored != day:
                notes.append(
                    f"{spec_of('instruments', name).label.lower()} {day} in the file differs "
                    f"from the stored {stored or 'none'}; the stored one was kept (it follows "
                    "the calibration history)"
                )
        # The tag is the key: an update never renames (not even its case).
        changes = {k: v for k, v in row.values.items() if k != "asset_tag"}
        before = instrument_snapshot(current)
        if changes or row.type_name or row.custom or row.stated is not None:
            self._instruments.edit_in(
                uow,
                audit,
                current.asset_tag,
                instrument_changes(changes),
                reason=self._reason(plan, row),
                # A blank type cell leaves the type as it is (as a blank cell does).
                type_name=row.type_name or None,
                custom=row.custom or None,
                # A blank cell leaves the stated uncertainty too (there is no "clear").
                stated=UNCHANGED if row.stated is None else row.stated,
            )
        changed = diff(before, instrument_snapshot(current))
        # Only the first letter lowered: "stated U", not "stated u".
        labels = [
            c.label[:1].lower() + c.label[1:] for c in COLUMNS["instruments"] if c.field in changed
        ]
        labels += [k.replace("_", " ") for k in changed if k not in _LABELLED]
        if not changed:
            return PreviewRow(
                row.line, "unchanged", current.asset_tag, "no change", notes=tuple(notes)
            )
        return PreviewRow(
            row.line,
            "update",
            current.asset_tag,
            "changes " + ", ".join(labels),
            notes=tuple(notes),
        )

    # -- applying calibration records ------------------------------------------------

    @staticmethod
    def _recorded(
        uow: UnitOfWork, instruments: dict[str, Instrument]
    ) -> dict[tuple[Any, ...], int]:
        """Duplicate keys of the records already stored for these instruments → record id."""
        if not instruments or uow.calibrations.total() == 0:
            return {}
        keys: dict[tuple[Any, ...], int] = {}
        for key, instrument in instruments.items():
            for r in uow.calibrations.history(instrument.id):
                points = tuple(_point_key(p) for p in r.points)
                keys[(key, r.performed_on, r.certificate_number.casefold(), r.result, points)] = (
                    r.id
                )
        return keys

    def _apply_records(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        plan: _Plan,
        progress: Progress | None,
    ) -> _Outcome:
        outcome = _Outcome()
        rows = [r for r in plan.rows if r.line not in plan.excluded]
        instruments = self._existing(uow, [r.tag for r in rows])
        recorded = self._recorded(uow, instruments)
        # Date order, so each standard's own history is in place before it is used.
        rows.sort(key=lambda r: (r.performed_on or date.max, r.line))
        for n, row in enumerate(rows, start=1):
            if progress and n % PROGRESS_EVERY == 0:
                progress("saving", n, len(rows))
            if row.issues:
                outcome.rows[row.line] = PreviewRow(
                    row.line, "error", row.tag, row.summary, tuple(row.issues)
                )
                continue
            instrument = instruments.get(tag_key(row.tag))
            if instrument is None:
                outcome.rows[row.line] = self._error(
                    plan,
                    row,
                    "asset_tag",
                    f"no instrument {row.tag!r} in the database; import the instruments first "
                    "or correct the tag"
                    if row.tag
                    else "required: the asset tag of the calibrated instrument",
                )
                continue
            key = self._stored_key(row)
            if key in recorded:
                outcome.rows[row.line] = self._error(
                    plan,
                    row,
                    "performed_on",
                    f"already recorded as calibration #{recorded[key]} of {instrument.asset_tag} "
                    "(same date, certificate, result and readings); leave the line out",
                )
                continue
            apply = partial(self._record, uow, audit, plan, row, instrument)
            if not self._applied(outcome, plan, row, apply):
                break
        return outcome

    @staticmethod
    def _stored_key(row: PlannedRow) -> tuple[Any, ...]:
        tag, performed_on, certificate, result, points = row.duplicate_key
        return (
            tag,
            performed_on,
            certificate,
            result,
            tuple(_point_key(p) for p in points),
        )

    def _record(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        plan: _Plan,
        row: PlannedRow,
        instrument: Instrument,
    ) -> PreviewRow:
        data = row.calibration
        if data is None or row.performed_on is None:  # a row without issues has both
            raise ValidationError({"performed_on": "required: the day of the calibration"})
        review = self._inconsistent(plan, row)
        if review and plan.options.inconsistent == "leave_out":
            return self._left_out(row, review)
        reason = self._reason(plan, row)
        if data.next_due is not None and not data.next_due_reason:
            computed = next_due_from(row.performed_on, instrument.calibration_interval_days)
            if data.next_due != computed:
                # History keeps its own due dates (the interval may have changed since).
                data = replace(data, next_due_reason=f"next due as recorded in {plan.table.name}")
        before = (instrument.last_calibrated, instrument.next_due, instrument.status)
        record = self._calibrations.add_in(
            uow,
            audit,
            instrument.asset_tag,
            data,
            reason=reason,
            keep_status=plan.options.keep_status,
            flag_inconsistent=plan.options.inconsistent == "flag",
        )
        notes: list[str] = [FLAG_NOTE + review] if review else []
        if row.void_reason:
            imported = ImportedVoid(row.voided_at, row.voided_by, reason, before)
            void_in(
                uow, audit, self._identity, record, instrument, row.void_reason, imported=imported
            )
        else:
            if opens_case(record, indeterminate=lab_metrology(uow).indeterminate_opens_case):
                notes.append("found out of tolerance: opens an out-of-tolerance case")
            if instrument.status != before[2]:
                notes.append(f"takes {instrument.asset_tag} {instrument.status.replace('_', ' ')}")
        return PreviewRow(
            row.line, "add", instrument.asset_tag, row.summary, notes=tuple(notes), review=review
        )

    # -- applying schedules and checks (issue 15) -------------------------------------

    def _apply_upkeep(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        plan: _Plan,
        progress: Progress | None,
    ) -> _Outcome:
        outcome = _Outcome()
        kind = plan.options.kind
        rows = [r for r in plan.rows if r.line not in plan.excluded]
        instruments = self._existing(uow, [r.tag for r in rows])
        recorded = {
            "checks": recorded_checks,
            "maintenance": recorded_events,
            "custody": recorded_custody,
        }.get(kind, lambda _uow, _found: {})(uow, instruments)
        if kind != "schedules":
            # Date order: each check or maintenance moves its schedule on from the one
            # before, and an event after a calibration finds it.
            rows.sort(key=lambda r: (r.performed_on or date.max, r.line))
        writer = UpkeepRows(
            uow, audit, self._identity, self._clock.today(), plan.options.keep_status
        )
        for n, row in enumerate(rows, start=1):
            if progress and n % PROGRESS_EVERY == 0:
                progress("saving", n, len(rows))
            if row.issues:
                outcome.rows[row.line] = PreviewRow(
                    row.line, "error", row.tag, row.summary, tuple(row.issues)
                )
                continue
            instrument = instruments.get(tag_key(row.tag))
            if instrument is None:
                outcome.rows[row.line] = self._error(
                    plan,
                    row,
                    "asset_tag",
                    f"no instrument {row.tag!r} in the database; import the instruments first "
                    "or correct the tag",
                )
                continue
            if row.duplicate_key in recorded:
                outcome.rows[row.line] = PreviewRow(
                    row.line,
                    "unchanged",
                    instrument.asset_tag,
                    f"already recorded as {recorded[row.duplicate_key]}",
                )
                continue
            write = {
                "checks": writer.check,
                "maintenance": writer.event,
                "custody": writer.custody,
            }.get(kind, writer.schedule)
            apply = partial(write, row, instrument, self._reason(plan, row))
            if not self._applied(outcome, plan, row, apply):
                break
        return outcome

    def _apply_providers(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        plan: _Plan,
        progress: Progress | None,
    ) -> _Outcome:
        outcome = _Outcome()
        writer = UpkeepRows(
            uow, audit, self._identity, self._clock.today(), plan.options.keep_status
        )
        for row in (r for r in plan.rows if r.line not in plan.excluded):
            if row.issues:
                outcome.rows[row.line] = PreviewRow(
                    row.line, "error", row.tag, row.summary, tuple(row.issues)
                )
                continue
            apply = partial(writer.provider, row, self._reason(plan, row))
            if not self._applied(outcome, plan, row, apply):
                break
        return outcome

    def _apply_sendouts(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        plan: _Plan,
        progress: Progress | None,
    ) -> _Outcome:
        outcome = _Outcome()
        rows = [r for r in plan.rows if r.line not in plan.excluded]
        instruments = self._existing(uow, [r.tag for r in rows])
        writer = SendoutRows(
            uow,
            audit,
            self._identity,
            self._clock.today(),
            plan.mapping.header_of,
            recorded_batches(uow),
        )
        done = 0
        for batch in batches_of(rows):
            done += len(batch)
            if progress:
                progress("saving", done, len(rows))
            found, usable = writer.batch(batch, instruments, self._reason(plan, batch[0]))
            outcome.rows.update(found)
            if not usable:
                break
        return outcome

    # -- read-only preview -----------------------------------------------------------

    def _check_read_only(self, uow: UnitOfWork, plan: _Plan) -> _Outcome:
        """Without write access: the field rules and the tags, not the save itself."""
        outcome = _Outcome()
        rows = [r for r in plan.rows if r.line not in plan.excluded]
        existing = self._existing(uow, [r.tag for r in rows])
        for row in rows:
            current = existing.get(tag_key(row.tag))
            if plan.options.kind == "providers":
                outcome.rows[row.line] = PreviewRow(
                    row.line, "error" if row.issues else "add", row.tag, row.summary,
                    tuple(row.issues),
                )  # fmt: skip
            elif plan.options.kind == "instruments":
                if row.issues:
                    outcome.rows[row.line] = self._failed_instrument(plan, row, current)
                elif current is not None and not plan.options.update_existing:
                    outcome.rows[row.line] = self._error(
                        plan, row, "asset_tag", f"{current.asset_tag} is already in the database"
                    )
                else:
                    failed = self._failed_instrument(plan, row, current)
                    action = "update" if current is not None else "add"
                    review = self._inconsistent(plan, row) if current is None else ""
                    outcome.rows[row.line] = (
                        failed if failed.issues else self._read_only_row(plan, row, action, review)
                    )
            elif row.issues:
                outcome.rows[row.line] = PreviewRow(
                    row.line, "error", row.tag, row.summary, tuple(row.issues)
                )
            elif current is None:
                outcome.rows[row.line] = self._error(
                    plan, row, "asset_tag", f"no instrument {row.tag!r} in the database"
                )
            else:
                review = self._inconsistent(plan, row)
                outcome.rows[row.line] = self._read_only_row(plan, row, "add", review)
        return outcome

    def _read_only_row(self, plan: _Plan, row: PlannedRow, action: str, review: str) -> PreviewRow:
        if review and plan.options.inconsistent == "leave_out":
            return self._left_out(row, review)
        notes = (FLAG_NOTE + review,) if review else ()
        return PreviewRow(row.line, action, row.tag, row.summary, notes=notes, review=review)

    # -- export ----------------------------------------------------------------------

    def export(self, fmt: str, target: Path, *, progress: Progress | None = None) -> ExportResult:
        """Every instrument, calibration record, custody entry and maintenance event
        (voided included) to XLSX or CSV.

        XLSX: one workbook, a sheet per kind (an import reads each back). CSV:
        ``<name>-instruments.csv``, ``<name>-calibrations.csv``, ``<name>-custody.csv`` and
        ``<name>-maintenance.csv`` (UTF-8 with BOM, for Excel). ``target`` may be a
        folder (files named ``caltrack-export...``). Read in one transaction: the files
        agree with each other.
        """
        fmt = fmt.lower()
        if fmt not in EXPORT_FORMATS:
            raise UsageError(f"export format {fmt!r}: one of {', '.join(EXPORT_FORMATS)}")
        files = export_paths(fmt, target)
        for path in files:
            if not path.parent.is_dir():
                raise UsageError(f"folder {path.parent} does not exist; create it first")

        extra: list[Path] = []

        def read(uow: UnitOfWork) -> tuple[int, int, int, int]:
            # Issue 15's providers, send-outs, schedules (besides calibration) and
            # intermediate checks: a sheet (or CSV file) each, only when the lab has any.
            # (sheet name, file name's kind, header, rows)
            optional: list[tuple[str, str, Sequence[str], list[tuple[Any, ...]]]] = [
                (PROVIDER_SHEETS[kind], kind, header, rows)
                for kind, header, rows in (
                    ("providers", PROVIDER_HEADER, provider_rows(uow)),
                    ("sendouts", SENDOUT_HEADER, sendout_rows(uow)),
                )
                if rows
            ]
            optional += [
                (name, name.lower(), header, rows)
                for name, header, rows in _schedule_and_check_rows(uow)
            ]
            tags: dict[int, str] = {}
            type_names = {kind.id: kind.name for kind in uow.types.list_all()}
            counts = [0, 0, 0, 0]

            def instruments() -> Iterator[tuple[Any, ...]]:
                for obj in uow.instruments.iter_all():
                    tags[obj.id] = obj.asset_tag
                    counts[0] += 1
                    if progress and counts[0] % PROGRESS_EVERY == 0:
                        progress("exporting", counts[0], 0)
                    yield instrument_cells(obj, type_names)

            def records() -> Iterator[tuple[Any, ...]]:
                for record in uow.calibrations.iter_all():
                    counts[1] += 1
                    if progress and counts[1] % PROGRESS_EVERY == 0:
                        progress("exporting", counts[0] + counts[1], 0)
                    yield calibration_cells(record, tags)

            def custody() -> Iterator[tuple[Any, ...]]:
                for entry in uow.custody.iter_all():
                    counts[2] += 1
                    yield custody_cells(entry, tags)

            def events() -> Iterator[tuple[Any, ...]]:
                for event in uow.maintenance_events.iter_all():
                    counts[3] += 1
                    yield maintenance_cells(event, tags)

            custody_header = [label for label, _width in CUSTODY_COLUMNS]
            events_header = [label for label, _width in MAINTENANCE_COLUMNS]
            if fmt == "xlsx":
                write_xlsx_file(
                    files[0],
                    [
                        self._sheet("instruments", instruments()),
                        self._sheet("calibrations", records()),
                        SheetSpec(
                            "Custody",
                            custody_header,
                            custody(),
                            [width for _label, width in CUSTODY_COLUMNS],
                        ),
                        SheetSpec(
                            MAINTENANCE_SHEET,
                            events_header,
                            events(),
                            [width for _label, width in MAINTENANCE_COLUMNS],
                        ),
                        *(SheetSpec(name, header, rows) for name, _kind, header, rows in optional),
                    ],
                )
            else:
                for path, header, rows in (
                    (files[0], self._export_header("instruments"), instruments()),
                    (files[1], self._export_header("calibrations"), records()),
                    (files[2], custody_header, custody()),
                    (files[3], events_header, events()),
                ):
                    write_csv_file(path, header, ([csv_cell(v) for v in r] for r in rows))
                base = files[0].name.removesuffix("-instruments.csv")
                for _name, kind, titles, table in optional:
                    path = files[0].with_name(f"{base}-{kind}.csv")
                    write_csv_file(path, list(titles), ([csv_cell(v) for v in r] for r in table))
                    extra.append(path)
            return counts[0], counts[1], counts[2], counts[3]

        instruments_n, records_n, custody_n, events_n = self._uow.read(read)
        return ExportResult(
            format=fmt,
            files=tuple(str(p) for p in (*files, *extra)),
            instruments=instruments_n,
            calibrations=records_n,
            custody=custody_n,
            maintenance_events=events_n,
        )

    @staticmethod
    def _export_header(kind: str) -> list[str]:
        return [c.label for c in exported_columns(kind)]

    @staticmethod
    def _sheet(kind: str, rows: Iterator[tuple[Any, ...]]) -> SheetSpec:
        columns = exported_columns(kind)
        return SheetSpec(
            SHEET_NAMES[kind], [c.label for c in columns], rows, [c.width for c in columns]
        )


EXPORT_BASE_NAME = "caltrack-export"
MAINTENANCE_SHEET = "Maintenance"

# One catalogue for both directions (transfer_mapping): what is written is read back.
SCHEDULE_EXPORT_HEADER = tuple(c.label for c in exported_columns("schedules"))
CHECK_EXPORT_HEADER = tuple(c.label for c in exported_columns("checks"))


def _schedule_and_check_rows(
    uow: UnitOfWork,
) -> list[tuple[str, Sequence[str], list[tuple[Any, ...]]]]:
    """(sheet name, header, rows) of the schedules and the checks that exist."""
    schedules = list(uow.schedules.iter_all())
    checks = list(uow.checks.iter_all())
    ids = {s.instrument_id for s in schedules} | {c.instrument_id for c in checks}
    ids |= {c.standard_id for c in checks if c.standard_id is not None}
    tags = uow.instruments.tags_by_id(sorted(ids))
    found: list[tuple[str, Sequence[str], list[tuple[Any, ...]]]] = []
    if schedules:
        schedule_rows: list[tuple[Any, ...]] = [
            (tags.get(s.instrument_id, "?"), s.kind,
             f"{s.interval_count}{s.interval_unit}" if s.interval_count else "",
             s.grace_days, s.soon_days, s.before_use, s.due_before_use, s.last_done,
             s.next_due, s.active)
            for s in schedules
        ]  # fmt: skip
        found.append(("Schedules", SCHEDULE_EXPORT_HEADER, schedule_rows))
    if checks:
        views = {v.id: v for v in check_views(uow, checks)}
        check_rows: list[tuple[Any, ...]] = [
            (c.id, tags.get(c.instrument_id, "?"), c.performed_on, c.performed_by,
             views[c.id].standard, " ".join(r.text() for r in views[c.id].readings), c.result,
             c.notes, c.voided_at, c.voided_by or "", c.void_reason or "",
             f"OOT-{views[c.id].oot_case_id}" if views[c.id].oot_case_id is not None else "")
            for c in checks
        ]  # fmt: skip
        found.append(("Checks", CHECK_EXPORT_HEADER, check_rows))
    return found


def _column_of(name: str) -> str:
    """The import column a service's problem is about: the type service names a custom
    field's problem "custom field NAME" (or "custom_fields"); all come from one cell."""
    return "custom_fields" if name.startswith("custom field") else name


def _point_key(p: MeasurementPoint | PointInput) -> tuple[Any, ...]:
    """A reading as duplicates are compared: a written tolerance as written (its ±
    column is derived from it)."""
    return (
        p.nominal,
        p.as_found,
        p.as_left,
        p.tolerance_text or p.tolerance,
        p.unit,
        p.uncertainty,
        p.coverage_factor,
    )


def export_paths(fmt: str, target: Path) -> list[Path]:
    """The files an export to ``target`` writes: a folder gets ``caltrack-export…``; XLSX is
    one workbook, CSV ``<name>-instruments.csv``, ``<name>-calibrations.csv``,
    ``<name>-custody.csv`` and ``<name>-maintenance.csv``."""
    target = target.absolute()  # the result names the files wherever it is shown
    if target.is_dir():
        base = target / EXPORT_BASE_NAME
    else:
        base = target.with_suffix("") if target.suffix.lower() in (".csv", ".xlsx") else target
    if fmt == "xlsx":
        return [base.with_name(base.name + ".xlsx")]
    kinds = ("instruments", "calibrations", "custody", "maintenance")
    return [base.with_name(f"{base.name}-{kind}.csv") for kind in kinds]
