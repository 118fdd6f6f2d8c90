"""CLI commands: reports and labels (registered by app.cli.commands).

``report KIND ... -o FILE`` writes a due list, an overdue list, an instrument history,
the OOT log, what is checked out (custody) or the audit trail as PDF, CSV or XLSX, and
a record's calibration certificate as PDF; ``labels`` writes printable instrument
labels as PDF. Both only read, so they work while someone else edits.
Everything a user can get wrong (the file name, its folder, a date, a tag) is refused
with one line before any file is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO, Any

from app.cli.common import add_command, add_group, id_of, iso_day, open_app, positive_int
from app.cli.output import print_table
from app.errors import UsageError
from app.reports.output import FORMATS, check_output_path, format_for, write_atomically
from app.reports.output import write_report as write_report_file
from app.services.report_model import Report
from app.services.reports import LABEL_STATUSES
from app.vocabulary import CASE_STATES


def _prepare_output(args: argparse.Namespace) -> tuple[Path, str]:
    """The output file and format, checked before the database is even opened."""
    path = check_output_path(Path(args.output))
    return path, format_for(path, args.format)


def _write(report: Report, path: Path, fmt: str) -> int:
    written = write_report_file(report, path, fmt)
    rows = report.row_count
    print(
        f"wrote {written} ({report.title}, {fmt.upper()}, {rows:,} row{'' if rows == 1 else 's'})"
    )
    return 0


# -- handlers ----------------------------------------------------------------------------


def cmd_report_due(args: argparse.Namespace) -> int:
    path, fmt = _prepare_output(args)
    with open_app(args) as app:
        report = app.reports.due(args.days)
    return _write(report, path, fmt)


def cmd_report_overdue(args: argparse.Namespace) -> int:
    path, fmt = _prepare_output(args)
    with open_app(args) as app:
        report = app.reports.overdue()
    return _write(report, path, fmt)


def cmd_report_history(args: argparse.Namespace) -> int:
    path, fmt = _prepare_output(args)
    with open_app(args) as app:
        report = app.reports.history(args.tag)
    return _write(report, path, fmt)


def cmd_report_certificate(args: argparse.Namespace) -> int:
    path = check_output_path(Path(args.output))
    if path.suffix.lower() != ".pdf":
        raise UsageError(f"a certificate is written as PDF: name the file {path.stem}.pdf")
    with open_app(args) as app:
        report = app.reports.certificate(args.id)
    written = write_report_file(report, path, "pdf")
    status = dict(report.parameters)["Status"]
    print(f"wrote {written} (calibration #{args.id}: {status})")
    return 0


def cmd_report_oot(args: argparse.Namespace) -> int:
    path, fmt = _prepare_output(args)
    with open_app(args) as app:
        cases = app.oot.list(status=args.status)
        # The impact lists cost a few queries per case: only when asked for.
        impacts = [app.oot.impact(c.id) for c in cases] if args.impact else []
        report = app.reports.oot_log(
            cases,
            status=args.status,
            found_from=args.date_from,
            found_to=args.date_to,
            impacts=impacts,
        )
    return _write(report, path, fmt)


def cmd_report_providers(args: argparse.Namespace) -> int:
    path, fmt = _prepare_output(args)
    with open_app(args) as app:
        lines = app.sendouts.turnaround(since=args.date_from)
        report = app.reports.providers(lines, since=args.date_from)
    return _write(report, path, fmt)


def cmd_report_custody(args: argparse.Namespace) -> int:
    path, fmt = _prepare_output(args)
    with open_app(args) as app:
        report = app.reports.custody()
    return _write(report, path, fmt)


def cmd_report_audit(args: argparse.Namespace) -> int:
    path, fmt = _prepare_output(args)
    with open_app(args) as app:
        report = app.reports.audit_trail(
            since=args.date_from,
            until=args.date_to,
            user=args.user,
            entity_type=args.entity_type,
            entity=args.entity,
        )
    return _write(report, path, fmt)


def cmd_labels(args: argparse.Namespace) -> int:
    # Imported here: Qt loads only for the commands that paint.
    from app.reports.labels import describe_sizes, label_size, labels_pdf

    if args.list_sizes:
        print_table(("SIZE", "LABEL"), describe_sizes())
        return 0
    if not args.size:
        raise UsageError("choose a label size with --size (`labels --list-sizes` lists them)")
    if not args.output:
        raise UsageError("name the PDF to write with -o FILE.pdf")
    size = label_size(args.size)
    target = check_output_path(Path(args.output))
    if target.suffix.lower() != ".pdf":
        raise UsageError(f"labels are written as PDF: name the file {target.stem}.pdf")
    chosen = sum((bool(args.tags), args.status is not None, args.all))
    if chosen != 1:
        raise UsageError("name asset tags, or choose --status S, or --all (one of them)")
    with open_app(args) as app:
        # The head first: the labels show at least what it covers.
        head = app.reports.stamp().audit_head
        labels = app.reports.labels(tags=args.tags, status=args.status, everything=args.all)
    data = labels_pdf(labels, size, skip=args.skip, audit_head=head)
    write_atomically(target, lambda handle: _write_bytes(handle, data))
    pages = size.pages_for(len(labels), args.skip if size.sheet is not None else 0)
    print(
        f"wrote {len(labels):,} label{'s' if len(labels) != 1 else ''} ({size.key}) "
        f"on {pages:,} page{'s' if pages != 1 else ''} to {target} (audit head {head})"
    )
    return 0


def _write_bytes(handle: IO[bytes], data: bytes) -> None:
    handle.write(data)


# -- parser ----------------------------------------------------------------------------


def _output_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="pdf, csv or xlsx (default: from the file name's extension)",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="the file to write (.pdf, .csv, .xlsx)",
    )


def _period_args(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--from", dest="date_from", type=iso_day, metavar="YYYY-MM-DD", help=f"{what} on or after"
    )
    parser.add_argument(
        "--to", dest="date_to", type=iso_day, metavar="YYYY-MM-DD", help=f"{what} on or before"
    )


def register(sub: Any) -> None:
    """Add this module's commands to the top-level subparsers."""
    rep = add_group(sub, "report", "printable reports for QA and audits (PDF, CSV, XLSX)")
    due = add_command(rep, "due", cmd_report_due, "instruments in service falling due soon")
    due.add_argument(
        "--days", type=positive_int, default=30, metavar="N", help="days ahead (default 30)"
    )
    _output_args(due)
    overdue = add_command(
        rep, "overdue", cmd_report_overdue, "instruments past due or never calibrated"
    )
    _output_args(overdue)
    history = add_command(
        rep, "history", cmd_report_history, "an instrument's record, certificate-like"
    )
    history.add_argument("tag", help="asset tag")
    _output_args(history)
    certificate = add_command(
        rep, "certificate", cmd_report_certificate, "a calibration record's certificate (PDF)"
    )
    certificate.add_argument("id", type=id_of("calibration id"), metavar="RECORD_ID")
    certificate.add_argument(
        "-o", "--output", required=True, metavar="FILE.pdf", help="the PDF to write"
    )
    oot = add_command(rep, "oot", cmd_report_oot, "the out-of-tolerance log")
    oot.add_argument("--status", choices=CASE_STATES)
    oot.add_argument(
        "--impact",
        action="store_true",
        help="add the verdicts each case's standard error would change (oot impact)",
    )
    _period_args(oot, "cases found")
    _output_args(oot)
    providers = add_command(
        rep, "providers", cmd_report_providers, "turnaround and cost per external provider"
    )
    providers.add_argument(
        "--from", dest="date_from", type=iso_day, metavar="YYYY-MM-DD", help="sent on or after"
    )
    _output_args(providers)
    custody = add_command(
        rep, "custody", cmd_report_custody, "what is out, with whom, since when; late back"
    )
    _output_args(custody)
    audit = add_command(rep, "audit", cmd_report_audit, "the audit trail of a period (UTC days)")
    _period_args(audit, "events")
    audit.add_argument("--user", help="one user's events (OS login)")
    audit.add_argument(
        "--entity-type", metavar="TYPE", help="instrument, calibration, attachment, oot_case, ..."
    )
    audit.add_argument(
        "--entity", metavar="LABEL", help="an asset tag (with its calibrations and files) or label"
    )
    _output_args(audit)

    labels = add_command(
        sub, "labels", cmd_labels, "printable instrument labels with a QR code (PDF)"
    )
    labels.add_argument("tags", nargs="*", metavar="TAG", help="asset tags, in print order")
    labels.add_argument("--status", choices=LABEL_STATUSES, help="every instrument in this state")
    labels.add_argument("--all", action="store_true", help="every instrument")
    labels.add_argument("--size", metavar="SIZE", help="label size (see --list-sizes)")
    labels.add_argument("-o", "--output", metavar="FILE.pdf", help="the PDF to write")
    labels.add_argument(
        "--skip",
        type=positive_int,
        default=0,
        metavar="N",
        help="on sheets: leave the first N labels of the first sheet empty (already used)",
    )
    labels.add_argument("--list-sizes", action="store_true", help="list the label sizes")
