"""CLI commands for custody (issue 15): who has an instrument.

``checkout TAG --to PERSON`` and ``checkin TAG`` move an instrument out and back;
``custody list`` says what is out now, ``custody history TAG`` every check-out of one
instrument, and ``custody void ID --reason R`` voids a wrong entry. The rules (what may
not go out, one holder at a time) are the custody service's; a refusal is one line and
exit 2.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.common import add_command, add_group, id_of, open_app, version_number
from app.cli.output import print_json, print_table
from app.services.dto import CustodyView


def _when(v: CustodyView) -> str:
    return f"{v.out_at:%Y-%m-%d %H:%M} UTC"


def _row(v: CustodyView) -> tuple[Any, ...]:
    state = "LATE" if v.late else v.state
    return (
        v.id,
        v.asset_tag,
        v.holder,
        v.place,
        _when(v),
        v.due_back or "",
        state,
        f"{v.in_at:%Y-%m-%d %H:%M}" if v.in_at else "",
        v.void_reason or v.override_reason,
    )


HEADERS = ("ENTRY", "TAG", "WITH", "PLACE", "OUT SINCE", "DUE BACK", "STATE", "BACK", "REASON")


def cmd_checkout(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.custody.check_out(
            args.tag,
            holder=args.to,
            place=args.place or "",
            due_back=args.until,
            override_reason=args.reason or "",
        )
    if args.json:
        print_json(view)
        return 0
    until = f" until {view.due_back}" if view.due_back else ""
    place = f" at {view.place}" if view.place else ""
    override = f" (QA override: {view.override_reason})" if view.override_reason else ""
    print(f"{view.asset_tag} checked out to {view.holder}{place}{until}{override}")
    return 0


def cmd_checkin(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.custody.check_in(args.tag)
    if args.json:
        print_json(view)
        return 0
    print(f"{view.asset_tag} checked in from {view.holder}")
    return 0


def cmd_custody_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.custody.out_now()
    if args.json:
        print_json(views)
        return 0
    print_table(HEADERS, [_row(v) for v in views])
    late = sum(1 for v in views if v.late)
    print(f"{len(views):,} out, {late:,} late back")
    return 0


def cmd_custody_history(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.custody.history(args.tag)
    if args.json:
        print_json(views)
        return 0
    print_table(HEADERS, [_row(v) for v in views])
    return 0


def cmd_custody_void(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.custody.void(args.id, reason=args.reason, expected_version=args.expect_version)
    print(f"custody entry #{view.id} ({view.asset_tag}, {view.holder}) voided")
    return 0


def register(sub: Any) -> None:
    """Add this module's commands to the top-level subparsers."""
    out = add_command(
        sub, "checkout", cmd_checkout, "check an instrument out to a person", json=True
    )
    out.add_argument("tag", help="asset tag (as typed or scanned)")
    out.add_argument("--to", required=True, metavar="PERSON", help="who takes it")
    out.add_argument("--place", metavar="PLACE", help="where it goes")
    out.add_argument("--until", metavar="YYYY-MM-DD", help="the day it is due back")
    out.add_argument(
        "--reason",
        metavar="TEXT",
        help="QA only: why it may go out although it is refused (overdue, out of service ...)",
    )
    back = add_command(sub, "checkin", cmd_checkin, "check an instrument back in", json=True)
    back.add_argument("tag", help="asset tag (as typed or scanned)")

    grp = add_group(sub, "custody", "who has which instrument")
    add_command(grp, "list", cmd_custody_list, "what is out now, with whom", json=True)
    hist = add_command(
        grp, "history", cmd_custody_history, "every check-out of an instrument", json=True
    )
    hist.add_argument("tag")
    void = add_command(grp, "void", cmd_custody_void, "void a custody entry made by mistake")
    void.add_argument("id", type=id_of("custody entry id"))
    void.add_argument("--reason", required=True, metavar="TEXT")
    void.add_argument("--expect-version", type=version_number, metavar="V")
