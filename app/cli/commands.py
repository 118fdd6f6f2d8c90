"""The CLI's commands: each parses its arguments, calls services, prints the result."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.cli import (
    custody_commands,
    metrology_commands,
    provider_commands,
    qa_commands,
    report_commands,
    schedule_commands,
    transfer_commands,
    type_commands,
    upkeep_commands,
)
from app.cli.common import (
    add_command,
    add_group,
    calibration_args,
    calibration_input,
    id_of,
    open_app,
    positive_int,
    print_notes,
    seconds,
    version_number,
    whole_number,
    with_offered_u,
)
from app.cli.output import human_size, print_fields, print_json, print_table
from app.db.engine import database_url, sqlite_path
from app.errors import UsageError, ValidationError
from app.identity import get_current_user_id
from app.services.copying import check_source, copy_database
from app.services.dto import (
    CalibrationView,
    InstrumentDetail,
    instrument_fields,
)
from app.services.due import DUE_STATUSES
from app.services.instruments import UNCHANGED
from app.services.maintenance import ORPHAN_MIN_AGE_S, salvage_database
from app.services.recovery import recover_left_saves
from app.services.standard_uncertainty import STATED_FORMAT, parse_stated
from app.services.validation import instrument_changes, instrument_input
from app.settings.paths import default_database_path

# `instruments list --status`: a due status, or "to-review" (data flagged for QA review,
# across statuses)
STATUSES = (*DUE_STATUSES, "to-review", "check-due", "maintenance-due")

# CLI option -> instrument field, shared by `instruments add` and `instruments edit`.
INSTRUMENT_OPTIONS: dict[str, str] = {
    "asset-tag": "asset_tag",
    "description": "description",
    "manufacturer": "manufacturer",
    "model": "model",
    "serial-number": "serial_number",
    "firmware-version": "firmware_version",
    "category": "category",
    "location": "location",
    "owner": "owner",
    "status": "status",
    "interval-days": "calibration_interval_days",
    "grace-days": "grace_days",
    "range": "range_text",
    "resolution": "resolution_text",
    "accuracy": "accuracy_text",
    "notes": "notes",
    "requirement": "calibration_requirement",
    "requirement-reason": "requirement_reason",
}


def _instrument_values(args: argparse.Namespace) -> dict[str, Any]:
    return {
        field: getattr(args, option.replace("-", "_"))
        for option, field in INSTRUMENT_OPTIONS.items()
        if getattr(args, option.replace("-", "_"), None) is not None
    }


def _print_detail(d: InstrumentDetail) -> None:
    print_fields(
        [
            ("Asset tag", d.asset_tag),
            ("Description", d.description),
            ("Due status", d.due_status),
            *instrument_fields(d),
            ("Version", d.version),
        ]
    )
    if d.review_reason:  # its own line, as the window's banner: QA is to look at it
        print(f"Data to review: {d.review_reason}")


def record_state(c: CalibrationView) -> str:
    """Result, voided, signed and OOT marks of a record, in a few words."""
    if c.voided:
        return f"VOID: {c.void_reason}"
    marks: list[str] = [c.result]
    if c.signatures:
        marks.append("signed: " + ", ".join(s.meaning for s in c.signatures))
    if c.oot_case_id is not None:
        marks.append(f"OOT-{c.oot_case_id}")
    return "; ".join(marks)


def _point_summary(c: CalibrationView) -> str:
    if not c.points:
        return "-"
    failed = sum(1 for p in c.points if p.as_found_pass is False)
    left_failed = sum(1 for p in c.points if p.as_left_pass is False)
    return f"{len(c.points)} pts, {failed} out as found, {left_failed} out as left"


# -- handlers ----------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    with open_app(args, create=True, edit=True) as app:
        # A database this CalTrack cannot upgrade or write (a newer schema, a read-only
        # folder) is not "ready": say why and fail, as every write would.
        app.database.check_writable()
        stats = app.maintenance.stats()
        print(f"CalTrack database ready at {stats.path or stats.url}")
        print(
            f"schema {stats.schema_revision}, journal {stats.journal_mode} ({stats.journal_reason})"
        )
        for notice in app.notices:
            print(notice)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:

        def progress(done: int, total: int) -> None:
            if sys.stderr.isatty():
                print(f"\rgenerating {done:,}/{total:,} instruments", end="", file=sys.stderr)

        counts = app.demo.generate(args.instruments, seed=args.seed, progress=progress)
        if sys.stderr.isatty():
            print(file=sys.stderr)
        print(
            f"added {counts['instruments']:,} instruments, {counts['calibrations']:,} "
            f"calibrations, {counts['points']:,} measurement points, "
            f"{counts.get('oot_cases', 0):,} open out-of-tolerance cases"
        )
        if counts.get("providers"):
            print(
                f"and between calibrations: {counts['schedules']} check and maintenance "
                f"schedules, {counts['checks']} checks, {counts['maintenance']} maintenance "
                f"events, {counts['providers']} providers, {counts['sendouts']} send-outs, "
                f"{counts['check_outs']} check-outs"
            )
    return 0


def cmd_instruments_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        page = app.instruments.list(
            status=args.status,
            search=args.search or "",
            sort=args.sort,
            descending=args.desc,
            limit=None if args.limit == 0 else args.limit,
            offset=args.offset,
        )
    if args.json:
        print_json({"total": page.total, "instruments": page.rows})
        return 0
    print_table(
        ("TAG", "STATUS", "NEXT DUE", "DESCRIPTION", "MANUFACTURER", "MODEL", "LOCATION", "WITH"),
        [
            (
                r.asset_tag,
                r.due_status,
                r.next_due or ("never calibrated" if r.requirement == "periodic" else "none"),
                r.description,
                r.manufacturer,
                r.model,
                r.location,
                r.holder or "",
            )
            for r in page.rows
        ],
    )
    print(f"{len(page.rows)} of {page.total} shown")
    return 0


def cmd_instruments_counts(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        counts = app.instruments.status_counts()
    if args.json:
        print_json(counts)
    else:
        print_fields(list(counts.items()))
    return 0


def _custom_values(items: list[str] | None) -> dict[str, str] | None:
    """``--custom NAME=VALUE`` (repeatable; an empty VALUE clears the field)."""
    values: dict[str, str] = {}
    for item in items or ():
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise UsageError(
                f"--custom {item!r}: write it as NAME=VALUE (NAME a custom field of the "
                "instrument's type; VALUE empty to clear it)"
            )
        values[name.strip()] = value
    return values or None


def cmd_instruments_add(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        data = instrument_input(_instrument_values(args))
        detail = app.instruments.add(
            data,
            reason=args.reason or "",
            type_name=args.type,
            custom=_custom_values(args.custom),
            interval_from_type=args.interval_days is None,
            stated=parse_stated(args.stated_u or ""),
        )
    if args.json:
        print_json(detail)
    else:
        print(f"added {detail.asset_tag} (version {detail.version})")
    return 0


def cmd_instruments_edit(args: argparse.Namespace) -> int:
    changes = _instrument_values(args)
    with open_app(args, edit=True) as app:
        detail = app.instruments.edit(
            args.tag,
            instrument_changes(changes),
            expected_version=args.expect_version,
            reason=args.reason or "",
            type_name=args.type,
            custom=_custom_values(args.custom),
            stated=UNCHANGED if args.stated_u is None else parse_stated(args.stated_u),
        )
    if args.json:
        print_json(detail)
    else:
        print(f"saved {detail.asset_tag} (version {detail.version})")
    return 0


def cmd_instruments_show(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        history = app.instruments.history(args.tag)
    if args.json:
        print_json(history)
        return 0
    _print_detail(history.instrument)
    print("\nCalibration history")
    print_table(
        ("ID", "DATE", "RESULT", "READINGS", "BY", "CERTIFICATE", "STANDARDS", "NEXT DUE"),
        [
            (
                c.id,
                c.performed_on,
                record_state(c),
                _point_summary(c),
                c.performed_by,
                c.certificate_number,
                ", ".join(c.standards),
                c.next_due,
            )
            for c in history.calibrations
        ],
    )
    if history.attachments:
        print("\nAttachments")
        _print_attachments(history.attachments)
    print("\nAudit trail")
    print_table(
        ("WHEN (UTC)", "USER", "ACTION", "CHANGES", "REASON"),
        [
            (
                f"{e.occurred_at:%Y-%m-%d %H:%M}",
                e.user,
                e.action,
                ", ".join(e.changes) if e.action != "create" else "created",
                e.reason,
            )
            for e in history.audit
        ],
    )
    return 0


def cmd_instruments_clear_review(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        detail = app.instruments.clear_review(
            args.tag, args.reason or "", expected_version=args.expect_version
        )
    if args.json:
        print_json(detail)
    else:
        print(f"cleared the review flag of {detail.asset_tag} (version {detail.version})")
    return 0


def cmd_instruments_flag_review(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        detail = app.instruments.flag_for_review(
            args.tag, args.reason or "", expected_version=args.expect_version
        )
    if args.json:
        print_json(detail)
    else:
        print(f"flagged {detail.asset_tag} for QA review: {detail.review_reason}")
    return 0


def cmd_calibrations_add(args: argparse.Namespace) -> int:
    typed = calibration_input(args)
    with open_app(args, edit=True) as app:
        data, notes = with_offered_u(app, args, typed)
        view = app.calibrations.add(args.tag, data)
    print_notes(notes, args.json)
    if args.json:
        print_json(view)
    elif view.already_saved:
        print(
            f"already recorded: calibration #{view.id} of {view.asset_tag} (an earlier run "
            "with this entry key saved it); nothing was written"
        )
    else:
        print(
            f"recorded calibration #{view.id} of {view.asset_tag}: {view.result}, "
            f"next due {view.next_due}"
        )
        if view.oot_case_id is not None:
            print(
                f"found out of tolerance: case OOT-{view.oot_case_id} opened and "
                f"{view.asset_tag} taken out of service (`oot show {view.oot_case_id}`)"
            )
    return 0


def cmd_calibrations_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.calibrations.history(args.tag)
    if args.json:
        print_json(views)
        return 0
    print_table(
        ("ID", "DATE", "RESULT", "READINGS", "BY", "CERTIFICATE", "NEXT DUE"),
        [
            (
                c.id,
                c.performed_on,
                record_state(c),
                _point_summary(c),
                c.performed_by,
                c.certificate_number,
                c.next_due,
            )
            for c in views
        ],
    )
    return 0


def cmd_calibrations_void(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.calibrations.void(args.id, args.reason, expected_version=args.expect_version)
    print(f"voided calibration #{view.id} of {view.asset_tag}")
    return 0


def _print_attachments(rows: Any) -> None:
    print_table(
        ("ID", "NAME", "SIZE", "OWNER", "ADDED (UTC)", "BY", "STATE"),
        [
            (
                a.id,
                a.original_name,
                human_size(a.size_bytes),
                a.owner,
                f"{a.added_at:%Y-%m-%d %H:%M}",
                a.added_by,
                f"void: {a.void_reason}" if a.voided else "",
            )
            for a in rows
        ],
    )


def cmd_attachments_add(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.attachments.add(args.tag, Path(args.file), record_id=args.record)
    if args.json:
        print_json(view)
    else:
        print(f"attached {view.original_name} as #{view.id} ({human_size(view.size_bytes)})")
    return 0


def cmd_attachments_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        rows = app.attachments.list(args.tag)
    if args.json:
        print_json(rows)
    else:
        _print_attachments(rows)
    return 0


def cmd_attachments_export(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        path = app.attachments.export(args.id, Path(args.dest))
    print(f"saved a copy to {path}")
    return 0


def cmd_attachments_void(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.attachments.void(args.id, args.reason)
    print(f"voided attachment #{view.id} ({view.original_name})")
    return 0


def cmd_audit_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        events = app.audit.recent(entity_type=args.entity_type, user=args.user, limit=args.limit)
    if args.json:
        print_json(events)
        return 0
    print_table(
        ("ID", "WHEN (UTC)", "USER", "MACHINE", "ENTITY", "ACTION", "CHANGES", "REASON"),
        [
            (
                e.id,
                f"{e.occurred_at:%Y-%m-%d %H:%M:%S}",
                e.user,
                e.machine,
                f"{e.entity_type} {e.entity_label}",
                e.action,
                "created" if e.action == "create" else ", ".join(e.changes),
                e.reason,
            )
            for e in events
        ],
    )
    return 0


def cmd_db_stats(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        stats = app.maintenance.stats()
    if args.json:
        print_json(stats)
        return 0
    server = stats.server
    fields: list[tuple[str, Any]] = [
        ("Database", stats.path or stats.url),
        ("Database id", stats.database_id),
        ("Schema", f"{stats.schema_revision} (this CalTrack: {stats.schema_head})"),
        ("Journal mode", f"{stats.journal_mode} — {stats.journal_reason}"),
    ]
    if server is None:
        fields += [
            ("File size", human_size(stats.file_size_bytes)),
            ("WAL size", human_size(stats.wal_size_bytes)),
        ]
    else:
        fields += [
            ("Server version", f"PostgreSQL {server.server_version}"),
            ("Database size", human_size(server.database_size_bytes)),
            ("Connections", f"{server.connections} to this database (this one included)"),
            ("Attachments", f"{human_size(server.attachments_bytes)} (distinct content)"),
        ]
    fields.append(("Read-only", stats.read_only_reason or "no"))
    print_fields(fields)
    print()
    if server is None:
        print_table(
            ("TABLE", "ROWS", "INDEXES"),
            [(t.name, f"{t.rows:,}", ", ".join(t.indexes)) for t in stats.tables],
        )
        return 0
    # Largest first: on a server the question is where the room went.
    tables = sorted(stats.tables, key=lambda t: (-server.table_sizes.get(t.name, 0), t.name))
    print_table(
        ("TABLE", "ROWS", "SIZE", "INDEXES"),
        [
            (
                t.name,
                f"{t.rows:,}",
                human_size(server.table_sizes.get(t.name)),
                # A unique constraint is also its index on a server: named once.
                ", ".join(dict.fromkeys(t.indexes)),
            )
            for t in tables
        ],
    )
    return 0


def cmd_db_verify(args: argparse.Namespace) -> int:
    with open_app(args, edit=args.clean_orphans, verifying=True) as app:
        report = app.maintenance.verify(deep=args.deep)
        removed = app.maintenance.clean_orphans() if args.clean_orphans else []
    damage = app.database.damage or []
    for line in app.problems:
        # What opening found and the check did not say (each said once, not twice).
        if line not in report.problems and line not in damage:
            print(f"caltrack: PROBLEM: {line}", file=sys.stderr)
    if args.json:
        print_json({**vars(report), "clean": report.clean, "removed_orphans": removed})
        return 0 if report.clean else 1
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    for note in report.notes:
        print(f"note: {note}")
    folder = app.maintenance.quarantine_folder()
    for name in report.orphan_files:
        if name in removed:
            state = f"moved to {folder} (`db quarantine` lists and restores it)"
        elif args.clean_orphans:
            # Said, so the user does not think the cleanup failed or missed it.
            state = (
                "orphan file (no row refers to it), kept: it is less than "
                f"{ORPHAN_MIN_AGE_S // 60} minutes old and may belong to an attachment still "
                "being saved; run `db verify --clean-orphans` again later"
            )
        else:
            state = "orphan file (no row refers to it)"
        print(f"note: {name}: {state}")
    verdict = "clean" if report.clean else f"{len(report.problems)} problem(s)"
    print(
        f"{verdict}: integrity and foreign keys checked, {report.audit_events:,} audit events, "
        f"{report.attachments_checked:,} attachments{' with hashes' if report.deep else ''}"
    )
    return 0 if report.clean else 1


def cmd_db_backup(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        folder = Path(args.to) if args.to else None
        path = app.maintenance.backup(args.label, folder=folder)
        head = app.maintenance.backup_head(path)
    print(f"backup written to {path} (audit head {head})")
    return 0


def cmd_db_restore(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        safety = app.maintenance.restore(Path(args.file), other_database=args.other_database)
        # On a server the tables were rewritten by psql: checked before anyone relies on them.
        report = app.maintenance.verify() if app.database.path is None else None
    print(f"restored from {args.file}; the replaced database was kept at {safety}")
    if report is None:
        return 0
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    verdict = "clean" if report.clean else f"{len(report.problems)} problem(s)"
    print(
        f"verified: {verdict}, {report.audit_events:,} audit events, "
        f"{report.attachments_checked:,} attachments"
    )
    return 0 if report.clean else 1


def cmd_db_copy(args: argparse.Namespace) -> int:
    source = args.db or str(default_database_path())
    # Before opening: opening would upgrade an older schema, and a copy changes nothing.
    check_source(source)

    def progress(what: str, done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rcopying {what}: {done:,}/{total:,}" + " " * 10, end="", file=sys.stderr)

    try:
        with open_app(args) as app:
            result = copy_database(app.database, args.to, progress=progress)
    finally:
        if sys.stderr.isatty():
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
    rows = ", ".join(f"{t.name} {t.rows:,}" for t in result.tables if t.rows)
    print(f"copied into {result.target}: {rows}")
    if result.attachment_files:
        print(f"{result.attachment_files:,} attachment file(s) copied and their sha256 checked")
    print(f"audit head {result.audit_head or '(no events)'}")
    # The target checked as `db verify --deep` would: the chain re-hashed, the tables
    # replayed against it, the signatures, the foreign keys, the attachment hashes.
    target_args = argparse.Namespace(**{**vars(args), "db": args.to, "wait": 0.0})
    # Minutes at 100k instruments (about 3 of a 13-minute copy): say what is going on.
    if sys.stderr.isatty():
        print("verifying the copy (as db verify --deep) …", end="\r", file=sys.stderr)
    try:
        with open_app(target_args, verifying=True) as target:
            report = target.maintenance.verify(deep=True)
    finally:
        if sys.stderr.isatty():
            print(" " * 60, end="\r", file=sys.stderr)
    for problem in report.problems:
        print(f"PROBLEM: {problem}")
    if not report.clean:
        print(
            f"caltrack: the copy in {result.target} does not verify ({len(report.problems)} "
            "problem(s) above); do not use it — check the source with `db verify --deep`",
            file=sys.stderr,
        )
        return 1
    print(
        f"verified {result.target}: clean, {report.audit_events:,} audit events, "
        f"{report.attachments_checked:,} attachments with hashes"
    )
    return 0


def cmd_db_quarantine(args: argparse.Namespace) -> int:
    with open_app(args, edit=bool(args.restore)) as app:
        if args.restore:
            path = app.maintenance.unquarantine(args.restore)
            print(f"{args.restore} is back at {path}")
            return 0
        files = app.maintenance.quarantined()
        folder = app.maintenance.quarantine_folder()
    if args.json:
        print_json([{"name": n, "size_bytes": size, "modified": when} for n, size, when in files])
        return 0
    print_table(
        ("FILE", "SIZE", "LAST MODIFIED"),
        [
            (n, human_size(size), datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC"))
            for n, size, when in files
        ],
    )
    print(f"{len(files)} file(s) in {folder}")
    return 0


def cmd_db_salvage(args: argparse.Namespace) -> int:
    target = args.db or str(default_database_path())
    path = sqlite_path(database_url(target))
    if path is None:
        raise UsageError("salvage applies to SQLite database files")
    result = salvage_database(path, Path(args.output))
    rows = ", ".join(f"{name} {count:,}" for name, count in result.tables.items())
    print(f"salvaged into {result.output}: {rows}")
    for finding in result.findings:
        print(f"note: {finding}")
    if result.lost_and_found:
        print(
            f"note: {result.lost_and_found:,} row(s) whose table could not be told are in its "
            "lost_and_found table"
        )
    print(
        f"the damaged file {path} was left as it is; check the new one with "
        f"`caltrack --db {result.output} db verify` before using it"
    )
    return 0


def cmd_db_recover_journal(args: argparse.Namespace) -> int:
    target = args.db or str(default_database_path())
    path = sqlite_path(database_url(target))
    if path is None:
        raise UsageError("recover-journal applies to SQLite database files")
    if not path.is_file():
        raise UsageError(f"no database file at {path}")
    result = recover_left_saves(path, get_current_user_id())
    if not result.moved:
        print(f"nothing to recover: no journal or WAL of {path} lies under an earlier name")
        return 0
    for side, target_file in result.moved:
        print(f"moved {side} to {target_file}; SQLite has applied it")
    if result.findings:
        for finding in result.findings[:10]:
            print(f"caltrack: PROBLEM: {finding}", file=sys.stderr)
        print(
            f"caltrack: {path} still fails SQLite's check; `db salvage -o NEW.db` or a backup",
            file=sys.stderr,
        )
        return 1
    print(f"{path} passes SQLite's integrity check; it can be opened and edited again")
    return 0


def cmd_db_checkpoint(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        busy, wal, moved = app.maintenance.checkpoint()
    if busy:
        print(f"checkpoint partly done: others are reading ({moved}/{wal} pages moved)")
        return 4
    print(f"checkpoint done ({moved} pages moved, WAL truncated)")
    return 0


def cmd_lock_status(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        status = app.locks.status(
            watch_s=args.watch, progress=lambda line: print(line, file=sys.stderr)
        )
    holder = status.holder if status.held else None
    data = {
        "held": status.held,
        "user": holder.user if holder else None,
        "machine": holder.machine if holder else None,
        "pid": holder.pid if holder else None,
        "since": holder.since if holder else None,
        "session_id": holder.session_id if holder else None,
        "epoch": holder.epoch if holder else None,
        "heartbeat": holder.heartbeat if holder else None,
        "heartbeat_age_s": round(status.heartbeat_age_s, 1)
        if status.held and args.watch > 0 and status.heartbeat_age_s is not None
        else None,
        "watched_s": args.watch,
        "stale": status.stale,
        "write_lock_held": status.write_lock_held if status.held else None,
        "process_state": status.process_state if status.held else None,
        "frozen_in_write": status.frozen_in_write is not None,
        "frozen_message": status.frozen_in_write,
    }
    if args.json:
        print_json(data)
        return 0
    if not status.held:
        last = status.holder
        print("not held" + (f" (last editor: {last.describe()})" if last else ""))
        return 0
    if holder is None:
        # The OS lock is held but its holder file is missing or damaged: say so rather
        # than print "None on None".
        print_fields(
            [
                (
                    "Held by",
                    "a session that cannot be named (the database's .lock.json file, "
                    "which names the editor, is missing or damaged)",
                ),
                ("Heartbeat", "unknown (no readable holder file)"),
                ("Stale", "cannot be judged without a heartbeat"),
            ]
        )
        return 0
    age = data["heartbeat_age_s"]
    print_fields(
        [
            ("Held by", f"{data['user']} on {data['machine']} (pid {data['pid']})"),
            ("Since", holder.since_local() if holder else ""),
            ("Heartbeat", f"{data['heartbeat']} beats"),
            (
                "Heartbeat age",
                f"{age} s (watched {args.watch:g} s here)"
                if age is not None
                else "not observed (use --watch SECONDS)",
            ),
            (
                "Stale",
                "frozen inside a write (below)"
                if status.frozen_in_write
                else "yes"
                if status.stale
                else "no",
            ),
        ]
    )
    if status.frozen_in_write:
        print()
        print(f"The editor lock is {status.frozen_in_write}.")
        if status.process_state is not None:
            print(
                "It runs on this PC: an admin can end it with "
                "`caltrack lock release --force --end-process`."
            )
        else:
            print(f"It cannot be ended from here: end it on {holder.machine}, or restart that PC.")
    return 0


def cmd_lock_release(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        result = app.locks.release(
            force=args.force,
            end_process=args.end_process,
            progress=lambda line: print(line, file=sys.stderr),
        )
    print(result.message)
    return 0


def cmd_admins_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        admins = app.locks.admins()
    if args.json:
        print_json(admins)
    else:
        print("\n".join(admins) if admins else "no admins")
    return 0


def cmd_admins_change(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        admins = app.locks.set_admin(args.user, admin=args.action == "add")
    print("admins: " + ", ".join(admins))
    return 0


# -- parser ------------------------------------------------------------------------


def _instrument_args(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    for option, field in INSTRUMENT_OPTIONS.items():
        required = adding and field in ("asset_tag", "description")
        if field == "calibration_requirement":
            # The service takes - or _ (and spaces): verify-before-use = verify_before_use.
            parser.add_argument(
                f"--{option}",
                metavar="periodic|verify-before-use|not-required",
                help="how it is calibrated: on a schedule, checked before each use, or not "
                "at all (not-required needs --requirement-reason)",
            )
            continue
        parser.add_argument(f"--{option}", required=required, metavar=option.split("-")[-1].upper())
    parser.add_argument(
        "--type",
        metavar="NAME",
        help="its instrument type (`types list`)"
        + (
            "; without --interval-days it takes the type's default interval"
            if adding
            else '; "" removes it'
        ),
    )
    parser.add_argument(
        "--custom",
        action="append",
        metavar="NAME=VALUE",
        help="a custom field of its type (empty VALUE clears it); repeatable",
    )
    parser.add_argument(
        "--stated-u",
        metavar=STATED_FORMAT,
        help="as a standard: the expanded uncertainty U stated for it (certificate or maker), "
        "its k and unit, offered as a calibration's starting U where its own calibration "
        "has no point near the nominal" + ("" if adding else '; "" clears it'),
    )
    parser.add_argument("--reason", help="why (kept in the audit trail)")


def register(sub: Any) -> None:
    add_command(sub, "init", cmd_init, "create a database, or upgrade an existing one")
    demo = add_command(sub, "demo", cmd_demo, "add realistic demo instruments and calibrations")
    demo.add_argument("--instruments", type=positive_int, required=True, metavar="N")
    demo.add_argument("--seed", type=whole_number, default=1)

    inst = add_group(sub, "instruments", "the instrument register")
    lst = add_command(inst, "list", cmd_instruments_list, "list instruments", json=True)
    lst.add_argument("--status", choices=STATUSES)
    lst.add_argument("--search", metavar="TEXT", help="tag, description, serial, maker, model")
    lst.add_argument(
        "--sort",
        default="next_due",
        choices=(
            "asset_tag",
            "description",
            "manufacturer",
            "model",
            "serial_number",
            "location",
            "status",
            "last_calibrated",
            "next_due",
            "holder",
        ),
    )
    lst.add_argument("--desc", action="store_true", help="sort descending")
    lst.add_argument("--limit", type=positive_int, default=100, help="0 for all (default 100)")
    lst.add_argument("--offset", type=positive_int, default=0)
    add_command(
        inst, "counts", cmd_instruments_counts, "how many instruments per status", json=True
    )
    add = add_command(inst, "add", cmd_instruments_add, "register an instrument", json=True)
    _instrument_args(add, adding=True)
    show = add_command(
        inst, "show", cmd_instruments_show, "an instrument with its history", json=True
    )
    show.add_argument("tag")
    edit = add_command(
        inst, "edit", cmd_instruments_edit, "change fields of an instrument", json=True
    )
    edit.add_argument("tag")
    _instrument_args(edit, adding=False)
    edit.add_argument(
        "--expect-version",
        type=version_number,
        metavar="V",
        help="refuse (exit 3) if the instrument changed since version V",
    )

    for name, handler, help_text, reason_help in (
        (
            "clear-review",
            cmd_instruments_clear_review,
            "QA: clear an instrument's data-to-review flag (QA only)",
            "why the data is fine now (kept in the audit trail)",
        ),
        (
            "flag-review",
            cmd_instruments_flag_review,
            "flag an instrument's data for QA review",
            "what QA is to review (added to what is already flagged)",
        ),
    ):
        review = add_command(inst, name, handler, help_text, json=True)
        review.add_argument("tag")
        review.add_argument("--reason", required=True, metavar="TEXT", help=reason_help)
        review.add_argument(
            "--expect-version",
            type=version_number,
            metavar="V",
            help="refuse (exit 3) if the instrument changed since version V",
        )

    cal = add_group(sub, "calibrations", "calibration records")
    cadd = add_command(cal, "add", cmd_calibrations_add, "record a calibration", json=True)
    cadd.add_argument("tag")
    calibration_args(cadd)
    clist = add_command(
        cal, "list", cmd_calibrations_list, "an instrument's calibrations", json=True
    )
    clist.add_argument("tag")
    cvoid = add_command(cal, "void", cmd_calibrations_void, "void a calibration record")
    cvoid.add_argument("id", type=id_of("calibration id"))
    cvoid.add_argument("--reason", required=True)
    cvoid.add_argument("--expect-version", type=version_number, metavar="V")

    att = add_group(sub, "attachments", "certificates and other files")
    aadd = add_command(att, "add", cmd_attachments_add, "attach a file to an instrument", json=True)
    aadd.add_argument("tag")
    aadd.add_argument("file")
    aadd.add_argument(
        "--record", type=id_of("calibration id"), metavar="ID", help="attach to this calibration"
    )
    alist = add_command(att, "list", cmd_attachments_list, "an instrument's files", json=True)
    alist.add_argument("tag")
    aexp = add_command(att, "export", cmd_attachments_export, "save a copy of an attachment")
    aexp.add_argument("id", type=id_of("attachment id"))
    aexp.add_argument("dest", help="file or folder")
    avoid = add_command(att, "void", cmd_attachments_void, "void an attachment")
    avoid.add_argument("id", type=id_of("attachment id"))
    avoid.add_argument("--reason", required=True)

    aud = add_group(sub, "audit", "the audit trail")
    alst = add_command(aud, "list", cmd_audit_list, "recent audit events", json=True)
    alst.add_argument(
        "--entity-type",
        choices=(
            "instrument",
            "instrument_type",
            "calibration",
            "attachment",
            "user_account",
            "signature",
            "oot_case",
            "provider",
            "sendout_batch",
            "custody",
            "maintenance_event",
            "signing",
            "settings",
            "database",
        ),
    )
    alst.add_argument("--user")
    alst.add_argument("--limit", type=positive_int, default=50)

    lock = add_group(sub, "lock", "the editor lock of a shared database")
    lst_lock = add_command(
        lock, "status", cmd_lock_status, "who edits, since when, stale or not", json=True
    )
    lst_lock.add_argument(
        "--watch",
        type=seconds,
        default=0.0,
        metavar="SECONDS",
        help="watch the heartbeat this long to judge its age",
    )
    rel = add_command(lock, "release", cmd_lock_release, "release a lock left behind (admins only)")
    rel.add_argument(
        "--force",
        action="store_true",
        help="fence off a holder whose heartbeat stopped (stale lock only)",
    )
    rel.add_argument(
        "--end-process",
        action="store_true",
        help="with --force: end a holder frozen inside a write on this PC (its process is "
        "checked to be this database's editor first), then release",
    )

    adm = add_group(sub, "admins", "who may administer this database")
    add_command(adm, "list", cmd_admins_list, "the admins", json=True)
    for action in ("add", "remove"):
        change = add_command(adm, action, cmd_admins_change, f"{action} an admin (admins only)")
        change.add_argument("user", help="OS login name")

    db = add_group(sub, "db", "database administration")
    add_command(db, "stats", cmd_db_stats, "schema, tables, indexes, size, journal mode", json=True)
    ver = add_command(db, "verify", cmd_db_verify, "check integrity, audit chain, files", json=True)
    ver.add_argument("--deep", action="store_true", help="also hash every attachment")
    ver.add_argument(
        "--clean-orphans",
        action="store_true",
        help="move attachment files no row refers to (older than an hour) into quarantine",
    )
    bak = add_command(
        db, "backup", cmd_db_backup, "online backup into backups/ (pg_dump on a server)"
    )
    bak.add_argument("label", nargs="?", default="manual")
    bak.add_argument("--to", metavar="FOLDER", help="write the backup into FOLDER instead")
    res = add_command(db, "restore", cmd_db_restore, "replace the database with a checked backup")
    res.add_argument("file")
    res.add_argument(
        "--other-database",
        action="store_true",
        help="accept a backup of another database (another database id) on purpose",
    )
    add_command(db, "checkpoint", cmd_db_checkpoint, "move the WAL into the database file")
    add_command(
        db,
        "recover-journal",
        cmd_db_recover_journal,
        "bring back a save left under an earlier name of the file (renamed during a save)",
    )
    cop = add_command(
        db,
        "copy",
        cmd_db_copy,
        "copy the database into a new, empty one: a file to a server or a server to a file",
    )
    cop.add_argument(
        "--to",
        required=True,
        metavar="PATH_OR_URL",
        help="a new database file, or an empty server database (postgresql+psycopg://…)",
    )
    qua = add_command(
        db,
        "quarantine",
        cmd_db_quarantine,
        "attachment files a cleanup moved aside (never deleted)",
        json=True,
    )
    qua.add_argument("--restore", metavar="FILE", help="move FILE back among the attachments")
    salv = add_command(
        db, "salvage", cmd_db_salvage, "copy what can be read from a damaged file into a new one"
    )
    salv.add_argument("-o", "--output", required=True, metavar="NEW.db", help="the new file")

    qa_commands.register(sub, calibrations=cal, instruments=inst)
    metrology_commands.register(sub, calibrations=cal)
    report_commands.register(sub)
    transfer_commands.register(sub)
    type_commands.register(sub)
    provider_commands.register(sub)
    custody_commands.register(sub)
    upkeep_commands.register(sub)
    schedule_commands.register(sub)


_OPTION_OF_FIELD = {field: option for option, field in INSTRUMENT_OPTIONS.items()} | {
    "certificate_number": "certificate",
    "temperature_c": "temperature",
    "humidity_pct": "humidity",
    "provider_name": "provider-name",
    "standards_justification": "standard-justification",
    "impact_assessment": "assessment",
    "display_name": "name",
    "default_interval_days": "interval-days",
    "procedure_id": "procedure",
    "custom_fields": "custom",
    "stated_uncertainty": "stated-u",
    "standard_categories": "standard-category",
    # Custody (checkout, checkin, custody void): the options, and what was refused.
    "holder": "to",
    "due_back": "until",
    "override_reason": "reason",
    "scanned_tag": "asset tag",
    "check_out": "check-out refused",
    "check_in": "check-in refused",
    "void": "void refused",
    # Send-outs and the maintenance log: what a positional argument named.
    "instrument": "asset tag",
    "batch": "send-out batch",
    "event": "maintenance event",
}


def describe_validation(error: ValidationError) -> str:
    """The problems in terms of this CLI's options (--interval-days, not the column)."""
    parts = []
    for name, message in error.fields.items():
        option = _OPTION_OF_FIELD.get(name, name.replace("_", "-"))
        label = f"--{option}" if " " not in option else option
        parts.append(f"{label}: {message}")
    return "; ".join(parts)
