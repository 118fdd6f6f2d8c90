"""CLI commands for schedules besides calibration and intermediate checks (issue 15).

``schedules list/set/clear/counts`` keep an instrument's check and maintenance
schedules (its calibration stays the first, kept by ``instruments edit``); ``checks
add/list/void`` record intermediate checks against a check standard or artefact.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.common import add_command, add_group, id_of, iso_day, open_app, whole_number
from app.cli.output import print_json, print_table
from app.services.checks import CheckInput, parse_reading
from app.services.dto import CheckView, ScheduleView
from app.services.schedules import ROW_KINDS, ScheduleInput


def _schedule_row(v: ScheduleView) -> tuple[Any, ...]:
    return (
        v.kind,
        v.interval or "-",
        "yes" if v.before_use else "-",
        v.grace_days,
        v.soon_days,
        v.last_done or "-",
        v.next_due or "-",
        v.status,
    )


_SCHEDULE_HEADERS = ("KIND", "EVERY", "BEFORE USE", "GRACE", "SOON", "LAST DONE", "NEXT DUE")


def cmd_schedules_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.schedules.list(args.tag)
    if args.json:
        print_json({"schedules": views})
        return 0
    print_table((*_SCHEDULE_HEADERS, "STATUS"), [_schedule_row(v) for v in views])
    return 0


def cmd_schedules_set(args: argparse.Namespace) -> int:
    data = ScheduleInput(
        kind=args.kind,
        every=args.every or "",
        grace_days=args.grace,
        soon_days=args.soon,
        before_use=args.before_use,
    )
    with open_app(args, edit=True) as app:
        view = app.schedules.set(args.tag, data, reason=args.reason or "")
    if args.json:
        print_json(view)
        return 0
    due = f"next due {view.next_due}" if view.next_due else "no date"
    before = ", and before each use" if view.before_use else ""
    print(f"{args.tag}: {view.kind} every {view.interval or '-'} ({due}){before}")
    return 0


def cmd_schedules_clear(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        app.schedules.clear(args.tag, args.kind, reason=args.reason)
    print(f"{args.tag}: {args.kind} schedule cleared")
    return 0


def cmd_schedules_counts(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        counts = app.schedules.counts()
    if args.json:
        print_json(counts)
        return 0
    print(counts.sentence("due_soon"))
    print(counts.sentence("overdue"))
    return 0


def cmd_schedules_due(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(ROW_KINDS)
    with open_app(args) as app:
        found = app.schedules.due(kinds)
    if args.json:
        print_json([{"asset_tag": tag, **vars(view)} for tag, view in found])
        return 0
    print_table(
        ("TAG", *_SCHEDULE_HEADERS, "STATUS"), [(tag, *_schedule_row(v)) for tag, v in found]
    )
    return 0


def _check_row(v: CheckView) -> tuple[Any, ...]:
    return (
        v.id,
        v.performed_on,
        v.performed_by,
        v.standard,
        " ".join(r.text() for r in v.readings) or "-",
        v.result,
        f"OOT-{v.oot_case_id}" if v.oot_case_id is not None else "-",
        f"VOID: {v.void_reason}" if v.voided_at else v.notes,
    )


def cmd_checks_add(args: argparse.Namespace) -> int:
    data = CheckInput(
        performed_on=args.date,
        readings=tuple(parse_reading(text) for text in args.value or ()),
        standard=args.standard,
        performed_by=args.by or "",
        notes=args.notes or "",
        result=args.result or "",
    )
    with open_app(args, edit=True) as app:
        view = app.checks.add(args.tag, data)
        status = app.instruments.get(args.tag).lifecycle if view.result == "fail" else ""
    if args.json:
        print_json(view)
        return 0
    print(f"check #{view.id} of {view.asset_tag} on {view.performed_on}: {view.result}")
    if view.oot_case_id is not None:
        print(
            f"opened out-of-tolerance case OOT-{view.oot_case_id} (`oot show {view.oot_case_id}`)"
        )
    if status:
        print(f"{view.asset_tag} is now {status.replace('_', ' ')}")
    return 0


def cmd_checks_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.checks.list(args.tag)
    if args.json:
        print_json({"checks": views})
        return 0
    print_table(
        ("ID", "DATE", "BY", "STANDARD", "NOMINAL:READING:LIMIT", "RESULT", "CASE", "NOTES"),
        [_check_row(v) for v in views],
    )
    return 0


def cmd_checks_void(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.checks.void(args.id, args.reason)
    print(f"check #{view.id} of {view.asset_tag} voided: {view.void_reason}")
    if view.oot_case_id is not None:
        # As for a voided calibration: the case is QA's to close, the status stays.
        print(f"its out-of-tolerance case OOT-{view.oot_case_id} stays open for QA to close")
    return 0


def register(sub: Any) -> None:
    """Add the `schedules` and `checks` groups to the top-level subparsers."""
    sched = add_group(sub, "schedules", "check and maintenance schedules of an instrument")
    lst = add_command(sched, "list", cmd_schedules_list, "an instrument's schedules", json=True)
    lst.add_argument("tag")
    st = add_command(sched, "set", cmd_schedules_set, "add or change a schedule", json=True)
    st.add_argument("tag")
    st.add_argument("--kind", required=True, choices=ROW_KINDS)
    st.add_argument("--every", metavar="N(d|m)", help="every N days (30d) or months (6m)")
    # Also under the names the service's messages use (--grace-days, --soon-days).
    st.add_argument("--grace", "--grace-days", type=whole_number, default=0, metavar="DAYS")
    st.add_argument(
        "--soon",
        "--soon-days",
        type=whole_number,
        metavar="DAYS",
        help="due-soon window (default: the lab's)",
    )
    st.add_argument(
        "--before-use", action="store_true", help="due again each time the instrument goes out"
    )
    st.add_argument("--reason", metavar="TEXT")
    clr = add_command(sched, "clear", cmd_schedules_clear, "stop a schedule (kept, audited)")
    clr.add_argument("tag")
    clr.add_argument("--kind", required=True, choices=ROW_KINDS)
    clr.add_argument("--reason", required=True, metavar="TEXT", help="why (kept in the trail)")
    add_command(sched, "counts", cmd_schedules_counts, "due soon and overdue per kind", json=True)
    due = add_command(
        sched, "due", cmd_schedules_due, "check and maintenance due soon or late", json=True
    )
    due.add_argument("--kind", choices=ROW_KINDS)

    checks = add_group(sub, "checks", "intermediate checks between calibrations")
    add = add_command(checks, "add", cmd_checks_add, "record an intermediate check", json=True)
    add.add_argument("tag")
    add.add_argument("--date", required=True, type=iso_day, metavar="YYYY-MM-DD")
    add.add_argument(
        "--value",
        action="append",
        metavar="NOMINAL:READING:LIMIT",
        help="a reading against its ± limit (repeat for several)",
    )
    add.add_argument(
        "--standard", required=True, metavar="TAG_OR_TEXT", help="check standard or artefact"
    )
    add.add_argument("--result", choices=("pass", "fail"), help="only without --value")
    add.add_argument("--by", metavar="NAME", help="who did it (default: you)")
    add.add_argument("--notes", metavar="TEXT")
    ls = add_command(checks, "list", cmd_checks_list, "an instrument's checks", json=True)
    ls.add_argument("tag")
    void = add_command(checks, "void", cmd_checks_void, "void a check (never deleted)")
    void.add_argument("id", type=id_of("check number"))
    void.add_argument("--reason", required=True, metavar="TEXT")
