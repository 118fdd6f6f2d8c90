"""CLI commands for the maintenance, damage and repair log (issue 15).

`caltrack maintenance add TAG ...`, `maintenance list TAG`, `maintenance void ID`.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.cli.common import add_command, add_group, id_of, open_app, version_number
from app.cli.output import print_json, print_table
from app.services.dto import MaintenanceInput, MaintenanceView, to_jsonable
from app.services.upkeep import KIND_LABELS, calibration_text, cost_text
from app.vocabulary import MAINTENANCE_KINDS

_EVENT_ID = id_of("maintenance event id")


def event_id(text: str) -> int:
    """argparse type: an event's id as `list` shows it ("M-3") or the bare number."""
    bare = text.strip()
    if bare[:2].upper() == "M-":
        bare = bare[2:]
    return _EVENT_ID(bare)


event_id.__name__ = "maintenance_event_id"


def _hours(v: MaintenanceView) -> str:
    return "" if v.downtime_hours is None else f"{v.downtime_hours:g}"


def cmd_maintenance_add(args: argparse.Namespace) -> int:
    data = MaintenanceInput(
        kind=args.kind,
        performed_on=args.date,
        what_done=args.what,
        cost=args.cost or "",
        currency=args.currency or "",
        downtime=args.downtime or "",
        notes=args.notes or "",
        calibrate_before_use=args.calibrate_before_use,
    )
    with open_app(args, edit=True) as app:
        view = app.upkeep.add(args.tag, data)
        detail = app.instruments.get(args.tag) if view.calibrate_before_use else None
    if args.json:
        print_json(_jsonable(view))
        return 0
    print(f"logged M-{view.id}: {KIND_LABELS[view.kind].lower()} of {view.asset_tag}")
    if detail is not None:
        print(
            f"{detail.asset_tag} is {detail.lifecycle.replace('_', ' ')}, calibration due "
            f"{detail.next_due or 'before use'}: record a calibration to use it again"
        )
    return 0


def _jsonable(view: MaintenanceView) -> Any:
    return {**to_jsonable(view), "awaiting_calibration": view.awaiting_calibration}


def cmd_maintenance_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.upkeep.history(args.tag)
    if args.json:
        print_json([_jsonable(v) for v in views])
        return 0
    print_table(
        ("ID", "DATE", "KIND", "WHAT WAS DONE", "BY", "COST", "DOWNTIME (H)", "CALIBRATION"),
        [
            (
                f"M-{v.id}",
                v.performed_on,
                KIND_LABELS[v.kind],
                v.what_done,
                v.performed_by,
                cost_text(v),
                _hours(v),
                calibration_text(v),
            )
            for v in views
        ],
    )
    return 0


def cmd_maintenance_void(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.upkeep.void(args.id, args.reason, expected_version=args.expect_version)
    print(f"voided M-{view.id} of {view.asset_tag}")
    return 0


def register(sub: Any) -> None:
    """Add the `maintenance` group to the top-level subparsers."""
    group = add_group(sub, "maintenance", "the maintenance, damage and repair log")
    kinds = ", ".join(k.replace("_", "-") for k in MAINTENANCE_KINDS)
    add = add_command(
        group, "add", cmd_maintenance_add, "log maintenance, damage or a repair", json=True
    )
    add.add_argument("tag")
    add.add_argument("--kind", required=True, metavar="KIND", help=kinds)
    add.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="when it was done")
    add.add_argument("--what", required=True, metavar="TEXT", help="what was done or found")
    add.add_argument("--cost", metavar="AMOUNT", help="for example 180.50")
    add.add_argument("--currency", metavar="CODE", help="for example EUR (with --cost)")
    add.add_argument(
        "--downtime", metavar="DURATION", help="hours the instrument was unusable: 8, 8h or 2d"
    )
    add.add_argument(
        "--calibrate-before-use",
        action="store_true",
        help="due now and out of service until a calibration after it",
    )
    add.add_argument("--notes", metavar="TEXT")
    lst = add_command(group, "list", cmd_maintenance_list, "an instrument's log", json=True)
    lst.add_argument("tag")
    void = add_command(group, "void", cmd_maintenance_void, "void an event (kept, with why)")
    void.add_argument("id", type=event_id, metavar="ID", help="M-3 or 3")
    void.add_argument("--reason", required=True)
    void.add_argument("--expect-version", type=version_number, metavar="V")
