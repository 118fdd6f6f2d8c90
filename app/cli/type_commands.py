"""CLI commands: the instrument types register (``caltrack types ...``).

``types add`` and ``types edit`` take the test plan as repeated ``--point
NOMINAL:TOLERANCE[:UNIT]`` (the tolerance as written: ``±0.5``, ``-0.2/+0.3``,
``±0.1 %rdg``, ``±0.5 %FS``, ``±(0.05 % + 2 digits)`` — none of them holds a ``:``)
and the custom fields as repeated ``--field NAME:KIND[:required]`` (KIND text, number,
date, or ``choice=A|B|C``). On ``edit``, the points (or fields, or standard categories)
given replace the type's whole list; ``--no-points`` and the like empty it.
``types export`` / ``types import`` move the register as a JSON file, all types or none.

A type's default schedules: ``--check-every 6m`` (or ``--maintenance-every``) with
``--check-grace-days``, ``--check-soon-days`` and ``--check-before-use``; on ``edit``
the options given for a kind replace that default whole and ``--no-check`` removes it.
Editing a default changes no instrument: ``--apply-schedules`` gives the type's defaults
to its instruments that have no schedule of that kind (audited, one schedule each).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from app.cli.common import add_command, add_group, open_app, version_number, whole_number
from app.cli.output import print_fields, print_json, print_table
from app.errors import UsageError, ValidationError
from app.services.dto import (
    ScheduleDefault,
    TypeChanges,
    TypeFieldInput,
    TypeInput,
    TypePointInput,
    TypeView,
)
from app.services.schedules import ROW_KINDS
from app.services.validation import parse_float
from app.storage.atomic import atomic_write_text

POINT_FORMAT = "NOMINAL:TOLERANCE[:UNIT]"
FIELD_FORMAT = "NAME:KIND[:required]"


def parse_type_point(text: str, n: int) -> TypePointInput:
    """``--point NOMINAL:TOLERANCE[:UNIT]`` (the tolerance as written)."""
    parts = text.split(":", 2)
    where = f"--point {n}"
    if len(parts) < 2 or not parts[1].strip():
        raise ValidationError(
            {where: f"{text!r}: write it as {POINT_FORMAT}, e.g. 20:±0.5:°C or 100:±0.5 %FS"}
        )
    errors: dict[str, str] = {}
    nominal = parse_float(where, parts[0], errors)
    if nominal is None:
        errors.setdefault(where, f"{text!r}: the nominal is missing; write {POINT_FORMAT}")
    if errors:
        raise ValidationError(errors)
    return TypePointInput(float(nominal or 0), parts[1].strip(), (parts[2:] or [""])[0].strip())


def parse_type_field(text: str, n: int) -> TypeFieldInput:
    """``--field NAME:KIND[:required]``; KIND ``choice=A|B|C`` for a choice field."""
    parts = [p.strip() for p in text.split(":")]
    required = len(parts) == 3 and parts[2].lower() == "required"
    if len(parts) not in (2, 3) or (len(parts) == 3 and not required) or not parts[0]:
        raise ValidationError(
            {
                f"--field {n}": f"{text!r}: write it as {FIELD_FORMAT}, e.g. Probe:text:required "
                "or Probe:choice=Pt100|Type K"
            }
        )
    kind, _, choices = parts[1].partition("=")
    return TypeFieldInput(
        parts[0],
        kind.strip().lower(),
        required,
        tuple(c.strip() for c in choices.split("|") if c.strip()) if choices else (),
    )


def _points(args: argparse.Namespace) -> tuple[TypePointInput, ...] | None:
    if args.no_points:
        return ()
    if args.point is None:
        return None
    return tuple(parse_type_point(p, n) for n, p in enumerate(args.point, start=1))


def _fields(args: argparse.Namespace) -> tuple[TypeFieldInput, ...] | None:
    if args.no_fields:
        return ()
    if args.field is None:
        return None
    return tuple(parse_type_field(f, n) for n, f in enumerate(args.field, start=1))


def _categories(args: argparse.Namespace) -> tuple[str, ...] | None:
    if args.no_standard_categories:
        return ()
    return None if args.standard_category is None else tuple(args.standard_category)


def _default(args: argparse.Namespace, kind: str) -> ScheduleDefault | None:
    """The ``kind`` default the options give; None when none of its options is given.
    ``--no-KIND``: an empty default, which removes it."""
    if getattr(args, f"no_{kind}", False):
        return ScheduleDefault()
    every = getattr(args, f"{kind}_every")
    grace = getattr(args, f"{kind}_grace_days")
    soon = getattr(args, f"{kind}_soon_days")
    before_use = bool(getattr(args, f"{kind}_before_use"))
    if every is None and grace is None and soon is None and not before_use:
        return None
    if not (every or "").strip() and not before_use:
        # Named here, or a grace alone would read as "remove the default".
        raise ValidationError(
            {f"{kind}_every": "give an interval (as 30d or 6m), or before use, or both"}
        )
    return ScheduleDefault(every or "", soon, grace or 0, before_use)


def _default_text(value: ScheduleDefault | None) -> str:
    return value.text() if value is not None else "none"


def _print_type(v: TypeView) -> None:
    procedure = f"{v.procedure_id} rev {v.procedure_revision}".strip() if v.procedure_id else ""
    print_fields(
        [
            ("Type", v.name),
            ("Description", v.description),
            (
                "Default interval",
                f"{v.default_interval_days} days"
                if v.default_interval_days
                else "none (each instrument's own)",
            ),
            ("Decision rule", v.decision_rule_sentence or "the lab's default rule"),
            ("Procedure", procedure),
            ("Range", f"{v.range_low} … {v.range_high}" if v.range_low else ""),
            ("Resolution", v.resolution),
            ("Standards needed", ", ".join(v.standard_categories)),
            ("Check schedule", _default_text(v.check)),
            ("Maintenance schedule", _default_text(v.maintenance)),
            ("Instruments", v.instruments),
            ("Updated", f"{v.updated_at:%Y-%m-%d %H:%M} UTC by {v.updated_by}"),
            ("Version", v.version),
        ]
    )
    print("\nTest points")
    print_table(
        ("#", "NOMINAL", "TOLERANCE", "UNIT", "LIMITS"),
        [(p.seq, p.nominal, p.tolerance, p.unit, p.limits) for p in v.points],
    )
    print("\nCustom fields")
    print_table(
        ("#", "NAME", "KIND", "REQUIRED", "CHOICES"),
        [
            (f.seq, f.name, f.kind, "yes" if f.required else "no", " | ".join(f.choices))
            for f in v.fields
        ],
    )


# -- handlers --------------------------------------------------------------------------


def cmd_types_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        views = app.types.list()
    if args.json:
        print_json({"types": views})
        return 0
    print_table(
        ("TYPE", "POINTS", "INTERVAL", "DECISION RULE", "PROCEDURE", "INSTRUMENTS"),
        [
            (
                v.name,
                len(v.points),
                v.default_interval_days or "-",
                v.decision_rule or "lab default",
                f"{v.procedure_id} {v.procedure_revision}".strip(),
                v.instruments,
            )
            for v in views
        ],
    )
    print(f"{len(views)} types")
    return 0


def cmd_types_show(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        view = app.types.get(args.name)
    if args.json:
        print_json(view)
    else:
        _print_type(view)
    return 0


def cmd_types_add(args: argparse.Namespace) -> int:
    data = TypeInput(
        name=args.name,
        description=args.description or "",
        default_interval_days=args.interval_days,
        decision_rule=args.decision_rule,
        procedure_id=args.procedure or "",
        procedure_revision=args.procedure_revision or "",
        range_low=args.range_low or "",
        range_high=args.range_high or "",
        resolution=args.resolution or "",
        standard_categories=_categories(args) or (),
        points=_points(args) or (),
        fields=_fields(args) or (),
        check=_default(args, "check"),
        maintenance=_default(args, "maintenance"),
    )
    with open_app(args, edit=True) as app:
        view = app.types.add(data, reason=args.reason or "")
    if args.json:
        print_json(view)
    else:
        print(f"added type {view.name} (version {view.version}, {len(view.points)} points)")
    return 0


def cmd_types_edit(args: argparse.Namespace) -> int:
    changes = TypeChanges(
        name=args.rename,
        description=args.description,
        default_interval_days=args.interval_days,
        decision_rule=args.decision_rule,
        procedure_id=args.procedure,
        procedure_revision=args.procedure_revision,
        range_low=args.range_low,
        range_high=args.range_high,
        resolution=args.resolution,
        standard_categories=_categories(args),
        points=_points(args),
        fields=_fields(args),
        check=_default(args, "check"),
        maintenance=_default(args, "maintenance"),
    )
    reason = args.reason or ""
    if not changes.given() and not args.apply_schedules:
        raise ValidationError({"fields": "nothing to change"})
    with open_app(args, edit=True) as app:
        name = args.name
        view = None
        if changes.given():
            view = app.types.edit(
                name, changes, expected_version=args.expect_version, reason=reason
            )
            name = view.name
        # Given to instruments only when asked (--apply-schedules); else how many lack it.
        lacking = app.types.apply_defaults(name, dry_run=not args.apply_schedules, reason=reason)
        if view is None:
            view = app.types.get(name)
    if args.json:
        # The type as before; with --apply-schedules, and the schedules given.
        print_json({"type": view, "schedules_given": lacking} if args.apply_schedules else view)
        return 0
    if changes.given():
        print(f"saved type {view.name} (version {view.version})")
    for kind, tags in lacking.items():
        if args.apply_schedules and not tags:
            print(f"none of its instruments lacks a {kind} schedule: none given")
        elif args.apply_schedules:
            print(f"gave the default {kind} schedule to {len(tags)} instruments: {', '.join(tags)}")
        elif tags and (changes.check if kind == "check" else changes.maintenance) is not None:
            print(
                f"{len(tags)} instruments of this type have no {kind} schedule and were not "
                "changed; --apply-schedules gives them the default"
            )
    return 0


def cmd_types_plan(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        prefill = app.types.prefill(args.tag)
    if args.json:
        print_json(prefill)
        return 0
    print_fields(
        [
            ("Instrument", prefill.asset_tag),
            ("Type", prefill.type_name),
            ("Interval", f"{prefill.interval_days} days"),
            ("Decision rule", prefill.decision_rule or "the lab's default rule"),
            ("Procedure", prefill.procedure),
            ("Standards needed", ", ".join(prefill.standard_categories)),
        ]
    )
    print_table(
        ("#", "NOMINAL", "TOLERANCE", "UNIT", "LOWER", "UPPER"),
        [
            (p.seq, p.nominal, p.tolerance, p.unit, p.lower_limit, p.upper_limit)
            for p in prefill.points
        ],
    )
    return 0


def cmd_types_export(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        document = app.types.export_document()
    target = Path(args.output)
    atomic_write_text(target, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"exported {len(document['types'])} types to {target}")
    return 0


def cmd_types_import(args: argparse.Namespace) -> int:
    source = Path(args.file)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{source} is not a JSON file `types export` wrote ({exc})") from None
    with open_app(args, edit=not args.dry_run) as app:
        names = app.types.import_document(document, dry_run=args.dry_run, reason=args.reason or "")
    if args.json:
        print_json({"types": names, "dry_run": args.dry_run})
    else:
        verb = "would import" if args.dry_run else "imported"
        print(f"{verb} {len(names)} types: {', '.join(names)}")
    return 0


# -- parser ------------------------------------------------------------------------------


def _type_args(parser: argparse.ArgumentParser, *, adding: bool) -> None:
    parser.add_argument("--description", metavar="TEXT")
    parser.add_argument(
        "--interval-days",
        type=int,
        metavar="N",
        help="default calibration interval of its instruments"
        + ("" if adding else " (0: none, each instrument keeps its own)"),
    )
    parser.add_argument(
        "--decision-rule",
        metavar="RULE",
        help="simple, guard r=1 binary, guard r=1.5 conditional, pfa 2.5%% binary "
        + ("(default: the lab's default rule)" if adding else '("": the lab\'s default rule)'),
    )
    parser.add_argument("--procedure", metavar="DOC_ID", help="the procedure's document id")
    parser.add_argument("--procedure-revision", metavar="REV")
    parser.add_argument("--range-low", metavar="NUMBER", help="for tolerances in %%FS or %%span")
    parser.add_argument("--range-high", metavar="NUMBER")
    parser.add_argument(
        "--resolution", metavar="NUMBER", help='one digit\'s value, for "+ n digits" tolerances'
    )
    parser.add_argument(
        "--standard-category",
        action="append",
        metavar="CATEGORY",
        help="a category of reference standard a calibration needs; repeatable",
    )
    parser.add_argument(
        "--point",
        action="append",
        metavar=POINT_FORMAT,
        help="a test point, the tolerance as written (±0.5, -0.2/+0.3, ±0.1 %%rdg, ±0.5 %%FS, "
        "±(0.05 %% + 2 digits); no ':' in any); repeatable, in order",
    )
    parser.add_argument(
        "--field",
        action="append",
        metavar=FIELD_FORMAT,
        help="a custom field of its instruments; KIND text, number, date or choice=A|B|C; "
        "repeatable",
    )
    if not adding:
        for what in ("points", "fields", "standard-categories"):
            parser.add_argument(f"--no-{what}", action="store_true", help=f"remove every {what}")
    for kind in ROW_KINDS:
        _default_args(parser, kind, adding=adding)
    parser.add_argument("--reason", help="why (kept in the audit trail)")


def _default_args(parser: argparse.ArgumentParser, kind: str, *, adding: bool) -> None:
    """The options of a type's default ``kind`` schedule (as `schedules set` has them)."""
    what = "intermediate check" if kind == "check" else "maintenance"
    parser.add_argument(
        f"--{kind}-every",
        metavar="N(d|m)",
        help=f"default {what} schedule of its instruments: every N days (30d) or months (6m)"
        + ("" if adding else "; the options of a kind given replace its default whole"),
    )
    parser.add_argument(f"--{kind}-grace-days", type=whole_number, metavar="DAYS")
    parser.add_argument(
        f"--{kind}-soon-days",
        type=whole_number,
        metavar="DAYS",
        help="due-soon window (default: the lab's)",
    )
    parser.add_argument(
        f"--{kind}-before-use",
        action="store_true",
        help=f"the default {what} is due again each time an instrument goes out",
    )
    if not adding:
        parser.add_argument(
            f"--no-{kind}", action="store_true", help=f"remove the default {what} schedule"
        )


def register(sub: Any) -> None:
    """Add the `types` group to the top-level subparsers."""
    types = add_group(sub, "types", "instrument types: test plans, decision rules, custom fields")
    add_command(types, "list", cmd_types_list, "list instrument types", json=True)
    show = add_command(types, "show", cmd_types_show, "a type with its test plan", json=True)
    show.add_argument("name")
    add = add_command(types, "add", cmd_types_add, "add an instrument type (QA)", json=True)
    add.add_argument("--name", required=True, metavar="NAME")
    _type_args(add, adding=True)
    add.set_defaults(no_points=False, no_fields=False, no_standard_categories=False)
    edit = add_command(types, "edit", cmd_types_edit, "change an instrument type (QA)", json=True)
    edit.add_argument("name")
    edit.add_argument("--rename", metavar="NEW_NAME")
    _type_args(edit, adding=False)
    edit.add_argument(
        "--apply-schedules",
        action="store_true",
        help="give the type's default schedules to its instruments (not retired or lost) "
        "that have no schedule of that kind; audited, their own schedules are kept",
    )
    edit.add_argument(
        "--expect-version",
        type=version_number,
        metavar="V",
        help="refuse (exit 3) if the type changed since version V",
    )
    plan = add_command(
        types, "plan", cmd_types_plan, "what a new calibration of TAG starts from", json=True
    )
    plan.add_argument("tag")
    exp = add_command(types, "export", cmd_types_export, "write every type to a JSON file")
    exp.add_argument("-o", "--output", required=True, metavar="FILE.json")
    imp = add_command(
        types, "import", cmd_types_import, "add the types of a JSON file (all or none)", json=True
    )
    imp.add_argument("file", metavar="FILE.json")
    imp.add_argument("--dry-run", action="store_true", help="check every type, write nothing")
    imp.add_argument("--reason", help="why (kept in the audit trail)")
