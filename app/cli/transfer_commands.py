"""CLI commands: import and export of instruments, calibration history, and issue 15's
check and maintenance schedules, intermediate checks, maintenance log, providers, custody
and send-outs.

``import`` prints the preview (how the file was read, the mapping, every row's
problem with its line and column) and writes only when every row is fine: exit 2 and
nothing written otherwise. A mapping that was used for a successful import is
remembered for the next file with the same columns, with its value mapping (``--value
"COLUMN:VALUE=TARGET"``: what a lab's own word in a fixed-set column such as Status
becomes).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.cli.common import add_command, id_of, open_app
from app.cli.output import print_json, print_table
from app.errors import UsageError
from app.services.bounds import id_problem
from app.services.transfer import EXPORT_FORMATS, refusal
from app.services.transfer_dates import DATE_ORDERS
from app.services.transfer_mapping import INTERVAL_FIELDS, KINDS
from app.services.transfer_model import ImportOptions, ImportPreview, ValueMap
from app.settings.import_mappings import (
    remember_mapping,
    remembered_mapping,
    remembered_values,
)
from app.storage.tables import DELIMITER_NAMES, MAX_ROWS

MAX_ROWS_SHOWN = 200  # rows with notes listed in the human output (errors: all of them)


def _progress(phase: str, done: int, total: int) -> None:
    if sys.stderr.isatty():
        of = f"/{total:,}" if total else ""
        print(f"\r{phase} {done:,}{of} rows   ", end="", file=sys.stderr)


def _end_progress() -> None:
    if sys.stderr.isatty():
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr)


def _mapping_args(items: list[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in items or ():
        header, sep, field = item.rpartition("=")
        if not sep or not header.strip():
            raise UsageError(
                f'--map {item!r}: write it as "Column header=field" (field empty to leave '
                "the column out)"
            )
        mapping[header.strip()] = field.strip()
    return mapping


def _value_args(items: list[str] | None) -> dict[str, dict[str, str]]:
    """``--value "COLUMN:VALUE=TARGET"`` → column → (value → target).

    The column ends at the first ``:`` (a header rarely holds one), the target starts
    after the last ``=`` (a value may hold one). Whether the target is allowed is the
    import's to say: only the file tells which field the column is.
    """
    values: dict[str, dict[str, str]] = {}
    for item in items or ():
        column, colon, rest = item.partition(":")
        value, equals, target = rest.rpartition("=")
        if not colon or not equals or not column.strip() or not value.strip():
            raise UsageError(
                f'--value {item!r}: write it as "COLUMN:VALUE=TARGET", e.g. '
                '"Status:EXTENDED=in_service" (COLUMN the header as in the file)'
            )
        values.setdefault(column.strip(), {})[value.strip()] = target.strip()
    return values


def _lines(items: list[str] | None) -> frozenset[int]:
    lines: set[int] = set()
    for item in items or ():
        for part in item.split(","):
            text = part.strip()
            low, dash, high = text.partition("-")
            try:
                first, last = (int(low), int(high)) if dash else (int(text), int(text))
            except ValueError:
                if not text:
                    continue
                raise UsageError(
                    f"--exclude-line {item!r}: give line numbers such as 14, 14,20 or 14-20"
                ) from None
            problem = id_problem(first, "line number") or id_problem(last, "line number")
            if problem:
                raise UsageError(f"--exclude-line {item!r}: {problem}")
            # No file has more rows than MAX_ROWS: a wider range is a typo, and building
            # it would fill the memory before anything is read.
            if last - first + 1 + len(lines) > MAX_ROWS:
                raise UsageError(
                    f"--exclude-line {item!r}: at most {MAX_ROWS:,} lines can be left out "
                    "(a file has no more rows than that)"
                )
            lines.update(range(first, last + 1))
    return frozenset(lines)


def _describe_read(p: ImportPreview) -> str:
    if p.format == "xlsx":
        others = [s for s in p.sheets if s != p.sheet]
        more = f" (other sheets: {', '.join(others)}; choose with --sheet)" if others else ""
        how = f"XLSX, sheet {p.sheet!r}{more}"
    else:
        delimiter = DELIMITER_NAMES.get(p.delimiter, repr(p.delimiter))
        how = f"CSV, {p.encoding_note}, {delimiter} delimited"
    return how + (f", header on line {p.header_line}" if p.header_line else "")


def _value_row(v: ValueMap) -> tuple[str, int, str, str]:
    source = v.source or "not mapped"
    if v.source == "guessed" and v.guessed_from and v.guessed_from != v.value:
        source = f"guessed from {v.guessed_from!r}"
    return (v.value, v.count, v.target or "?", source)


def _print_preview(p: ImportPreview) -> None:
    print(f"{p.kind} from {p.source}: {_describe_read(p)}")
    print(f"dates: {p.date_order_note}")
    print_table(
        ("COLUMN", "IMPORTED AS", "FROM"),
        [
            (
                c.header or f"(column {c.index + 1})",
                c.describes,
                "-" if c.informational else c.source or "-",
            )
            for c in p.mapping.columns
        ],
    )
    if p.mapping.unmapped:
        print("not imported: " + ", ".join(p.mapping.unmapped))
    for c in p.mapping.columns:
        if c.samples:  # what a left-out column holds: --map it if it is wanted
            print(f"  column {c.header or c.index + 1!r} holds: {', '.join(c.samples)}")
    for table in p.values:
        # An interval's 0 and blank values become a requirement, not an interval.
        what = "calibration requirement" if table.field in INTERVAL_FIELDS else table.field
        print(f"values of column {table.column!r} ({what}: {', '.join(table.allowed)}):")
        print_table(("VALUE", "ROWS", "BECOMES", "FROM"), [_value_row(v) for v in table.values])
    for warning in p.warnings:
        print(f"warning: {warning}")
    counts = p.counts()
    parts = [f"{counts[a]} {a}" for a in ("add", "update", "unchanged", "error", "excluded")]
    parts += [f"{counts['not checked']} not checked"] if counts["not checked"] else []
    if counts["flagged"]:
        parts.append(f"{counts['flagged']} of them flagged for QA review")
    mode = "add or update" if p.update_existing else "add new only"
    print(f"rows: {counts['rows']} ({', '.join(parts)}); mode: {mode}")
    print(f"checked: {p.checked}")
    for problem in p.problems:
        print(f"PROBLEM: {problem}")
    for issue in p.value_issues:
        value = issue.unmapped_value
        print(f'ERROR: {issue} (--value "{issue.column}:{value}=TARGET")')
    for row in p.rows:
        for issue in row.issues if row.action == "error" else ():
            if not issue.unmapped_value:  # said once per value above
                print(f"ERROR: {issue}")
    noted = [r for r in p.rows if r.notes and r.action != "error"]
    for row in noted[:MAX_ROWS_SHOWN]:
        for note in row.notes:
            print(f"note: line {row.line} ({row.asset_tag}): {note}")
    if len(noted) > MAX_ROWS_SHOWN:
        print(f"note: … and {len(noted) - MAX_ROWS_SHOWN} more rows with notes (see --json)")


def cmd_import(args: argparse.Namespace) -> int:
    options = ImportOptions(
        kind=args.kind,
        mapping=_mapping_args(args.map),
        values=_value_args(args.value),
        date_order=args.date_order,
        encoding=args.encoding,
        delimiter=args.delimiter,
        sheet=args.sheet,
        header_line=args.header_line,
        update_existing=args.update_existing,
        keep_status=args.keep_status,
        inconsistent="leave_out" if args.inconsistent == "leave-out" else "flag",
        exclude_lines=_lines(args.exclude_line),
    )
    # A dry run is the save itself, rolled back: it wants the editor lock as well (and
    # checks the fields only when it cannot have it).
    with open_app(args, edit=True) as app:
        if not args.dry_run:
            app.database.check_writable()
        table = app.transfer.read(Path(args.file), options, _progress)
        headers, key = app.transfer.layout(table, options)
        options = replace(
            options, remembered=remembered_mapping(key), remembered_values=remembered_values(key)
        )
        result = app.transfer.import_table(table, options, dry_run=args.dry_run, progress=_progress)
        _end_progress()
        if result.committed:
            remember_mapping(
                key,
                options.kind,
                headers,
                result.mapping.as_remembered(),
                values=result.remembered_values(),
            )
    if args.json:
        print_json(result.as_json())
    else:
        _print_preview(result)
    if not result.ok:
        how = 'map each value with --value "COLUMN:VALUE=TARGET"'
        print(f"caltrack: {refusal(result, how)}", file=sys.stderr)
        return 2
    if not args.json:
        counts = result.counts()
        if result.committed:
            print(
                f"saved: {counts['add']} added, {counts['update']} updated, "
                f"{counts['unchanged']} unchanged; each audited as imported from "
                f"{result.source} with its line"
            )
            if counts["flagged"]:
                print(
                    f"{counts['flagged']} row(s) flagged for QA review: "
                    "`instruments list --status to-review` lists their instruments"
                )
        else:
            print("dry run: nothing was written")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        result = app.transfer.export(args.format, Path(args.output), progress=_progress)
        _end_progress()
    if args.json:
        print_json(result)
    else:
        print(
            f"exported {result.instruments:,} instruments and {result.calibrations:,} "
            "calibration records to " + ", ".join(result.files)
        )
    return 0


def register(sub: Any) -> None:
    """Add this module's commands to the top-level subparsers."""
    imp = add_command(
        sub,
        "import",
        cmd_import,
        "import instruments, calibration history, schedules, intermediate checks, the "
        "maintenance log, providers, custody or send-outs from CSV or XLSX (all rows or none)",
        json=True,
    )
    imp.add_argument("kind", choices=KINDS)
    imp.add_argument("file", help="a .csv or .xlsx file")
    imp.add_argument(
        "--map",
        action="append",
        metavar='"HEADER=FIELD"',
        help="read this column as this field (FIELD empty: leave the column out); repeatable",
    )
    imp.add_argument(
        "--value",
        action="append",
        metavar='"COLUMN:VALUE=TARGET"',
        help="read this value of this column (status, result, provider kind, schedule or "
        "event kind, approval) as TARGET, "
        'e.g. "Status:EXTENDED=in_service"; VALUE in any case; repeatable',
    )
    imp.add_argument(
        "--date-order",
        choices=DATE_ORDERS,
        default="auto",
        help="how dates like 03/04/2026 are read (auto: decided from the whole file)",
    )
    imp.add_argument("--encoding", metavar="E", help="e.g. utf-8, cp1252, utf-16 (default: detect)")
    imp.add_argument("--delimiter", metavar="D", help="; , | or tab (default: detect)")
    imp.add_argument(
        "--sheet",
        metavar="NAME",
        help="XLSX: the sheet to read (default: the one named like the kind, as an export "
        "writes it, else the first)",
    )
    imp.add_argument(
        "--header-line", type=id_of("line number"), metavar="N", help="the line of the column names"
    )
    imp.add_argument(
        "--update-existing",
        action="store_true",
        help="instruments: update those already registered (default: refuse them)",
    )
    imp.add_argument(
        "--keep-status",
        action="store_true",
        help="calibrations, checks, maintenance: history for instruments whose status is "
        "already registered; a failure in it (a calibration's opens its OOT case) does not "
        "take the instrument out of service",
    )
    imp.add_argument(
        "--inconsistent",
        choices=("flag", "leave-out"),
        default="flag",
        help="rows whose old dates contradict each other (next due on or before the last "
        "calibration, a date in the future, a 1970-01-01 or 1900-01-01 placeholder): flag = "
        "keep them as recorded and flag the instrument for QA review (default); leave-out = "
        "leave those rows out",
    )
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    imp.add_argument(
        "--exclude-line",
        action="append",
        metavar="N",
        help="leave out this line of the file (14, 14,20 or 14-20); repeatable",
    )
    exp = add_command(
        sub,
        "export",
        cmd_export,
        "export every instrument and calibration record to XLSX or CSV",
        json=True,
    )
    exp.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    exp.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PATH",
        help="xlsx: the workbook; csv: PATH-instruments.csv, PATH-calibrations.csv, "
        "PATH-custody.csv, PATH-maintenance.csv (and more when the lab has them)",
    )
