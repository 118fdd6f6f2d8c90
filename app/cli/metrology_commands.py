"""The CLI's metrology commands (issue 14): `calibrations show` and `settings`.

`calibrations show` prints a record with each point's U, k, TUR, limits and verdicts
and its decision rule as a sentence; `settings show|set` reads and changes the shared
settings, among them the lab's decision rule and minimum TUR (QA only, audited).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from app.cli.common import add_command, add_group, id_of, open_app
from app.cli.output import print_fields, print_json, print_table
from app.services.decision_rules import ACCEPTED_CODES
from app.services.dto import CalibrationView, PointView
from app.services.settings import LabIdentity, LabMetrology, read_logo
from app.services.tolerance_spec import format_number


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.10g}"


def _verdict(p: PointView, which: str) -> str:
    verdict = p.as_found_verdict if which == "found" else p.as_left_verdict
    return "" if verdict is None else verdict.label


def _point_row(p: PointView) -> tuple[Any, ...]:
    limits = f"{_number(p.lower_limit)} … {_number(p.upper_limit)}"
    acceptance = f"{_number(p.acceptance_lower)} … {_number(p.acceptance_upper)}"
    return (
        p.seq,
        f"{_number(p.nominal)} {p.unit}".strip(),
        _number(p.as_found),
        _verdict(p, "found"),
        _number(p.as_left),
        _verdict(p, "left"),
        p.tolerance_text or f"±{_number(p.tolerance)}",
        limits,
        _number(p.uncertainty),
        _number(p.coverage_factor),
        p.tur_text,
        acceptance if acceptance != limits else "= tolerance",
    )


def print_calibration(c: CalibrationView, minimum_tur: str) -> None:
    """A record as `calibrations show` prints it."""
    print_fields(
        [
            ("Calibration", f"#{c.id} of {c.asset_tag}"),
            ("Performed", f"{c.performed_on} by {c.performed_by}"),
            ("Result", c.result + (f" (VOID: {c.void_reason})" if c.voided else "")),
            ("Next due", c.next_due),
            ("Certificate", c.certificate_number),
            ("Uncertainty", c.uncertainty),
            ("Decision rule", c.decision_rule_text),
            ("Standards", ", ".join(c.standards)),
            ("Standards justification", c.standards_justification),
            ("TUR justification", c.tur_justification),
            ("OOT case", f"OOT-{c.oot_case_id}" if c.oot_case_id is not None else ""),
            ("Signatures", "; ".join(s.manifestation for s in c.signatures)),
        ]
    )
    if not c.points:
        return
    print()
    print_table(
        (
            "#",
            "NOMINAL",
            "AS FOUND",
            "VERDICT",
            "AS LEFT",
            "VERDICT",
            "TOLERANCE",
            "LIMITS",
            "U",
            "K",
            "TUR",
            "ACCEPTANCE",
        ),
        [_point_row(p) for p in c.points],
    )
    # Flagged against the lab's minimum today (the record's justification, if any, was
    # asked for against the minimum in force when it was recorded).
    low = [p.seq for p in c.points if p.tur is not None and p.tur < float(minimum_tur)]
    if low:
        print(
            f"TUR below the lab's minimum of {minimum_tur}:1 at point(s) "
            + ", ".join(str(s) for s in low)
        )


def cmd_calibrations_show(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        view = app.calibrations.get(args.id)
        lab = app.settings.metrology()
    if args.json:
        print_json(view)
    else:
        print_calibration(view, format_number(lab.minimum_tur))
    return 0


def _settings_fields(
    lab: LabMetrology, due_soon: int, idle: int, identity: LabIdentity
) -> dict[str, Any]:
    return {
        "lab_name": identity.name,
        "lab_logo": f"{identity.logo_kind.upper()}, {len(identity.logo):,} bytes"
        if identity.logo
        else "",
        "due_soon_days": due_soon,
        "idle_release_minutes": idle,
        "decision_rule": lab.decision_rule.code,
        "decision_rule_text": lab.decision_rule.sentence,
        "minimum_tur": format_number(lab.minimum_tur),
        "indeterminate_opens_case": lab.indeterminate_opens_case,
    }


def _print_settings(values: dict[str, Any], json: bool) -> None:
    if json:
        print_json(values)
        return
    print_fields(
        [
            ("Lab name", values["lab_name"] or "not set"),
            ("Lab logo", values["lab_logo"] or "none"),
            ("Due soon within", f"{values['due_soon_days']} days"),
            ("Editor lock released after", f"{values['idle_release_minutes']} idle minutes"),
            ("Decision rule", f"{values['decision_rule']} — {values['decision_rule_text']}"),
            ("Minimum TUR", f"{values['minimum_tur']}:1"),
            (
                "Indeterminate as found",
                "opens an out-of-tolerance case"
                if values["indeterminate_opens_case"]
                else "does not open a case",
            ),
        ]
    )


def cmd_settings_show(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        due_soon, idle = app.settings.shared()
        lab = app.settings.metrology()
        identity = app.settings.lab()
    _print_settings(_settings_fields(lab, due_soon, idle, identity), args.json)
    return 0


def cmd_settings_set(args: argparse.Namespace) -> int:
    indeterminate = (
        None if args.indeterminate_opens_case is None else (args.indeterminate_opens_case == "yes")
    )
    policy = (args.decision_rule, args.minimum_tur, indeterminate)
    naming = args.lab_name is not None or args.lab_logo is not None
    # The logo is read and checked before the database is opened (one line if it is
    # not a PNG or JPEG, or too big); "" removes it.
    logo = None
    if args.lab_logo is not None:
        logo = read_logo(Path(args.lab_logo)) if args.lab_logo else b""
    with open_app(args, edit=True) as app:
        # The policy first: its values are checked before anything is written, and the
        # logo was checked above, so one bad value leaves every setting as it was.
        if any(v is not None for v in policy) or not naming:
            app.settings.set_metrology(
                decision_rule=args.decision_rule,
                minimum_tur=args.minimum_tur,
                indeterminate_opens_case=indeterminate,
            )
        if naming:
            app.settings.set_lab(name=args.lab_name, logo=logo)
        lab = app.settings.metrology()
        identity = app.settings.lab()
        due_soon, idle = app.settings.shared()
    _print_settings(_settings_fields(lab, due_soon, idle, identity), args.json)
    return 0


def register(sub: Any, *, calibrations: Any) -> None:
    """Add `calibrations show` and the `settings` group."""
    show = add_command(
        calibrations,
        "show",
        cmd_calibrations_show,
        "a record with each point's U, k, TUR, limits and verdicts",
        json=True,
    )
    show.add_argument("id", type=id_of("calibration id"))

    settings = add_group(sub, "settings", "the settings everyone using the database shares")
    add_command(settings, "show", cmd_settings_show, "the shared settings", json=True)
    change = add_command(
        settings,
        "set",
        cmd_settings_set,
        "change the lab's name, logo, decision rule, minimum TUR or OOT policy (QA; audited)",
        json=True,
    )
    change.add_argument(
        "--lab-name", metavar="NAME", help="the lab's name, printed on certificates"
    )
    change.add_argument(
        "--lab-logo",
        metavar="PATH",
        help="a PNG or JPEG file (at most 256 KiB) printed on certificates; '' removes it",
    )
    change.add_argument(
        "--decision-rule",
        metavar="RULE",
        # argparse reads % in a help text as a format ("pfa 2.5% binary").
        help="the rule new calibrations are judged by unless they name one: "
        + ACCEPTED_CODES.replace("%", "%%"),
    )
    change.add_argument(
        "--minimum-tur",
        metavar="N",
        help="the TUR below which a record needs a justification (4 means 4:1)",
    )
    change.add_argument(
        "--indeterminate-opens-case",
        choices=("yes", "no"),
        help="whether an as-found reading inside the tolerance but outside the acceptance "
        "limits opens an out-of-tolerance case",
    )
