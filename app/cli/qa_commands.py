"""CLI commands for QA: accounts and roles, signatures, corrections, OOT cases, traceability."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from app.cli.common import (
    add_command,
    add_group,
    calibration_args,
    calibration_input,
    id_of,
    open_app,
    print_notes,
    version_number,
    with_offered_u,
)
from app.cli.output import print_fields, print_json, print_table
from app.errors import UsageError
from app.services.bounds import id_problem
from app.services.dto import OotCaseView, UserView
from app.services.oot import DISPOSITION_LABELS
from app.services.oot_impact import COMPARED, CaseImpact, ImpactRow
from app.vocabulary import CASE_STATES

ROLE_CHOICES = ("technician", "qa", "admin")


# -- passwords -----------------------------------------------------------------------


def _read_secrets(args: argparse.Namespace, prompts: list[str]) -> list[str]:
    """One secret per prompt: from the terminal (not echoed) or, with --password-stdin,
    one per line of standard input (for scripts; never on the command line)."""
    if args.password_stdin:
        lines = sys.stdin.read().splitlines()
        if len(lines) < len(prompts):
            raise UsageError(
                f"--password-stdin expects {len(prompts)} line(s) on standard input: "
                + ", then ".join(p.lower().rstrip(": ") for p in prompts)
            )
        return lines[: len(prompts)]
    if not sys.stdin.isatty():
        raise UsageError("no terminal to ask for the password; pipe it in with --password-stdin")
    return [getpass.getpass(p) for p in prompts]


# -- users ---------------------------------------------------------------------------


def _user_row(u: UserView) -> tuple[Any, ...]:
    return (
        u.login,
        u.display_name,
        u.role,
        "active" if u.active else "deactivated",
        "set" if u.has_signing_password else "-",
    )


def cmd_users_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        users = app.accounts.list()
    if args.json:
        print_json(users)
        return 0
    print_table(
        ("LOGIN", "PRINTED NAME", "ROLE", "STATE", "SIGNING PASSWORD"),
        [_user_row(u) for u in users],
    )
    print("logins without an account work as technicians")
    return 0


def cmd_users_whoami(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        me = app.accounts.me()
    if args.json:
        print_json(me)
        return 0
    print_fields(
        [
            ("Login", me.login),
            ("Printed name", me.display_name),
            ("Role", me.role + ("" if me.known else " (no account: the default)")),
            ("State", "active" if me.active else "deactivated"),
            ("Signing password", "set" if me.has_signing_password else "not set"),
        ]
    )
    return 0


def cmd_users_set(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.accounts.set_role(
            args.login, args.role, display_name=args.name, reason=args.reason or ""
        )
    print(f"{view.login}: {view.role} ({view.display_name})")
    return 0


def cmd_users_active(args: argparse.Namespace) -> int:
    active = args.action == "activate"
    with open_app(args, edit=True) as app:
        view = app.accounts.set_active(args.login, active, reason=args.reason or "")
    print(f"{view.login}: {'active' if view.active else 'deactivated'}")
    return 0


def cmd_users_set_name(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.accounts.set_display_name(args.name, login=args.login)
    print(f"{view.login}: printed name {view.display_name!r}")
    return 0


def cmd_users_set_password(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        has_one = app.accounts.me().has_signing_password
        prompts = ["Current signing password: "] if has_one else []
        prompts += ["New signing password: "]
        if not args.password_stdin:
            prompts.append("Repeat the new password: ")
        secrets = _read_secrets(args, prompts)
        current = secrets[0] if has_one else None
        new = secrets[1 if has_one else 0]
        if not args.password_stdin and secrets[-1] != new:
            raise UsageError("the two new passwords differ; nothing was changed")
        app.accounts.set_signing_password(new, current=current)
    print("signing password set")
    return 0


def cmd_users_reset_password(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        view = app.accounts.reset_signing_password(args.login, reason=args.reason or "")
    print(f"{view.login}: signing password cleared; they set a new one before signing")
    return 0


# -- signatures and corrections ------------------------------------------------------


def cmd_calibrations_sign(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        (password,) = _read_secrets(args, ["Signing password: "])
        sig = app.signatures.sign_record(
            args.id,
            meaning=args.meaning,
            password=password,
            comment=args.comment or "",
            expected_version=args.expect_version,
        )
    if args.json:
        print_json(sig)
    else:
        print(f"calibration #{args.id}: {sig.manifestation}")
    return 0


def cmd_calibrations_signatures(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        sigs = app.signatures.for_record(args.id)
    if args.json:
        print_json(sigs)
        return 0
    if not sigs:
        print(f"calibration #{args.id} is not signed")
    for s in sigs:
        state = "" if s.intact else "  [BROKEN: the record changed after signing]"
        comment = f" — {s.comment}" if s.comment else ""
        print(f"{s.manifestation}{comment}{state}")
    return 0


EDIT_OPTIONS = {
    "certificate": "certificate_number",
    "performed_by": "performed_by",
    "provider_kind": "provider_kind",
    "provider_name": "provider_name",
    "temperature": "temperature_c",
    "humidity": "humidity_pct",
    "uncertainty": "uncertainty",
    "notes": "notes",
}


def cmd_calibrations_edit(args: argparse.Namespace) -> int:
    changes: dict[str, object] = {
        field: getattr(args, option)
        for option, field in EDIT_OPTIONS.items()
        if getattr(args, option) is not None
    }
    with open_app(args, edit=True) as app:
        view = app.calibrations.edit(
            args.id, changes, reason=args.reason, expected_version=args.expect_version
        )
    if args.json:
        print_json(view)
    else:
        print(f"saved calibration #{view.id} of {view.asset_tag} (version {view.version})")
    return 0


def cmd_calibrations_supersede(args: argparse.Namespace) -> int:
    typed = calibration_input(args)
    with open_app(args, edit=True) as app:
        data, notes = with_offered_u(app, args, typed)
        view = app.calibrations.supersede(
            args.id, data, reason=args.reason, expected_version=args.expect_version
        )
    print_notes(notes, args.json)
    if args.json:
        print_json(view)
    else:
        already = " — already recorded by an earlier run with this entry key" * view.already_saved
        print(
            f"calibration #{view.id} of {view.asset_tag} supersedes #{args.id} (now voided)"
            + already
        )
    return 0


# -- out-of-tolerance cases ----------------------------------------------------------


def _print_case(case: OotCaseView) -> None:
    print_fields(
        [
            ("Case", f"OOT-{case.id} ({case.status})"),
            ("Instrument", f"{case.asset_tag} — {case.description}"),
            ("Found on", case.found_text),
            ("Last good", case.last_good_on or "none recorded: everything before is suspect"),
            ("Summary", case.summary),
            ("Follows", f"OOT-{case.origin_case_id}" if case.origin_case_id else "-"),
            ("Assessment", case.impact_assessment or "-"),
            ("Disposition", DISPOSITION_LABELS.get(case.disposition, "-")),
            ("Opened", f"{case.opened_at:%Y-%m-%d %H:%M} UTC by {case.opened_by}"),
            (
                "Closed",
                f"{case.closed_at:%Y-%m-%d %H:%M} UTC by {case.closed_by}"
                + (", returned to service" if case.returned_to_service else "")
                if case.closed_at
                else "-",
            ),
            ("Version", case.version),
        ]
    )
    for s in case.signatures:
        print(f"Signature   {s.manifestation}" + ("" if s.intact else "  [BROKEN]"))
    print(f"\nMay have affected ({len(case.affected)} calibrations since the last good one)")
    print_table(
        ("RECORD", "DATE", "INSTRUMENT", "DESCRIPTION", "RESULT", "CERTIFICATE", "NOW"),
        [
            (
                a.record_id,
                a.performed_on,
                a.asset_tag,
                a.description,
                a.result,
                a.certificate_number,
                a.instrument_lifecycle.replace("_", " "),
            )
            for a in case.affected
        ],
    )


def _verdict_cell(row: ImpactRow) -> str:
    if row.status != COMPARED:
        return row.note
    before, after = (v.replace("_", " ") or "-" for v in (row.before, row.after))
    return f"{before} → {after}" if row.flips else before


def _print_impact(impact: CaseImpact) -> None:
    when = "as frozen when the case closed" if impact.frozen else "computed now"
    print(f"\nImpact of {impact.standard_tag}'s as-found error ({when})")
    errors = "; ".join(f"{e.nominal} {e.unit}".strip() + f": {e.error}" for e in impact.errors)
    print_fields(
        [
            ("Method", impact.method),
            ("Errors", f"{errors or 'none readable'} ({impact.error_source})"),
            ("Summary", impact.summary),
        ]
    )
    if impact.rows:
        print()
        print_table(
            (
                "RECORD",
                "DATE",
                "INSTRUMENT",
                "POINT",
                "NOMINAL",
                "READING",
                "STORED",
                "SHIFTED",
                "VERDICT",
            ),
            [
                (
                    r.record_id,
                    r.performed_on,
                    r.asset_tag,
                    r.seq or "-",
                    f"{r.nominal:.10g} {r.unit}".strip() if r.seq else "-",
                    r.reading.replace("_", " ") or "-",
                    "-" if r.stored is None else f"{r.stored:.10g}",
                    r.shifted or "-",
                    _verdict_cell(r),
                )
                for r in impact.rows
            ],
        )
    if impact.flipped:
        print(f"\nVerdicts that would change ({len(impact.flipped)})")
        for r in impact.flipped:
            print(f"  {r.line}")


def cmd_oot_impact(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        impact = app.oot.impact(args.id)
    if args.json:
        print_json(impact)
    else:
        print(f"OOT-{impact.case_id}", end="")
        _print_impact(impact)
    return 0


def cmd_oot_follow_up(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        done = app.oot.follow_up(args.id, tags=args.tag or (), all_flipped=args.all_flipped)
    for case in done.opened:
        print(
            f"OOT-{case.id} opened for {case.asset_tag} (calibration #{case.record_id}), "
            f"following OOT-{args.id}"
        )
    for note in done.skipped:
        print(f"skipped {note}")
    if not done.opened and not done.skipped:
        print(f"no verdict on OOT-{args.id}'s impact list would change; nothing opened")
    return 0


def cmd_oot_list(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        cases = app.oot.list(status=args.status, tag=args.tag)
    if args.json:
        print_json(cases)
        return 0
    print_table(
        (
            "CASE",
            "STATUS",
            "INSTRUMENT",
            "FOUND",
            "FOUND BY",
            "LAST GOOD",
            "AFFECTED",
            "DISPOSITION",
        ),
        [
            (
                f"OOT-{c.id}",
                c.status,
                c.asset_tag,
                c.found_on,
                c.found_by,
                c.last_good_on or "-",
                len(c.affected),
                DISPOSITION_LABELS.get(c.disposition, "-"),
            )
            for c in cases
        ],
    )
    return 0


def _case_id(text: str) -> int:
    value = text.strip().upper().removeprefix("OOT-")
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a case number (OOT-12 or 12)") from None
    problem = id_problem(number, "case number")
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return number


def cmd_oot_show(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        case = app.oot.get(args.id)
        impact = None if args.json else app.oot.impact(args.id)
    if impact is None:
        print_json(case)  # the impact list: `oot impact --json`
    else:
        _print_case(case)
        _print_impact(impact)
    return 0


def cmd_oot_assess(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        case = app.oot.assess(
            args.id,
            impact_assessment=args.assessment,
            disposition=args.disposition,
            expected_version=args.expect_version,
        )
    print(f"OOT-{case.id}: assessment saved (version {case.version}); close it with `oot close`")
    return 0


def cmd_oot_close(args: argparse.Namespace) -> int:
    with open_app(args, edit=True) as app:
        (password,) = _read_secrets(args, ["Signing password: "])
        case = app.oot.close(
            args.id,
            password=password,
            comment=args.comment or "",
            return_to_service=args.return_to_service,
            expected_version=args.expect_version,
        )
    extra = f"; {case.asset_tag} is back in service" if case.returned_to_service else ""
    print(f"OOT-{case.id} closed: {case.signatures[-1].manifestation}{extra}")
    return 0


# -- traceability --------------------------------------------------------------------


def cmd_instruments_trace(args: argparse.Namespace) -> int:
    with open_app(args) as app:
        trace = app.calibrations.traceability(args.tag)
    if args.json:
        print_json(trace)
        return 0
    print(f"Standards used to calibrate {trace.asset_tag}")
    print_table(
        ("RECORD", "DATE", "STANDARD", "RESULT"),
        [
            (t.record_id, t.performed_on, t.standard_tag, "VOID" if t.voided else t.result)
            for t in trace.standards_used
        ],
    )
    print(f"\nCalibrations in which {trace.asset_tag} served as a standard")
    print_table(
        ("RECORD", "DATE", "INSTRUMENT", "RESULT"),
        [
            (t.record_id, t.performed_on, t.instrument_tag, "VOID" if t.voided else t.result)
            for t in trace.used_as_standard
        ],
    )
    return 0


# -- parser --------------------------------------------------------------------------


def _password_stdin(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password(s) from standard input, one per line (for scripts)",
    )


def register(sub: Any, *, calibrations: Any, instruments: Any) -> None:
    """Add the QA commands: `users`, `oot`, and more actions on existing groups."""
    users = add_group(sub, "users", "people, roles (technician, qa, admin) and signing passwords")
    add_command(users, "list", cmd_users_list, "the accounts of this database", json=True)
    add_command(users, "whoami", cmd_users_whoami, "your login, role and printed name", json=True)
    uset = add_command(users, "set", cmd_users_set, "give a login a role (admins only)")
    uset.add_argument("login", help="OS login name (on a database server: the server login)")
    uset.add_argument("--role", required=True, choices=ROLE_CHOICES)
    uset.add_argument("--name", help="printed name on signatures")
    uset.add_argument("--reason")
    for action, text in (("deactivate", "deactivate"), ("activate", "reactivate")):
        act = add_command(users, action, cmd_users_active, f"{text} an account (admins only)")
        act.add_argument("login")
        act.add_argument("--reason")
    name = add_command(users, "set-name", cmd_users_set_name, "the printed name on signatures")
    name.add_argument("name")
    name.add_argument("--login", help="someone else's (admins only)")
    pw = add_command(users, "set-password", cmd_users_set_password, "set your own signing password")
    _password_stdin(pw)
    reset = add_command(
        users, "reset-password", cmd_users_reset_password, "clear someone's signing password"
    )
    reset.add_argument("login")
    reset.add_argument("--reason")

    sign = add_command(calibrations, "sign", cmd_calibrations_sign, "sign a record (QA)", json=True)
    sign.add_argument("id", type=id_of("calibration id"))
    sign.add_argument("--meaning", required=True, choices=("reviewed", "approved"))
    sign.add_argument("--comment")
    sign.add_argument("--expect-version", type=version_number, metavar="V")
    _password_stdin(sign)
    sigs = add_command(
        calibrations, "signatures", cmd_calibrations_signatures, "a record's signatures", json=True
    )
    sigs.add_argument("id", type=id_of("calibration id"))
    edit = add_command(
        calibrations, "edit", cmd_calibrations_edit, "correct an unsigned record", json=True
    )
    edit.add_argument("id", type=id_of("calibration id"))
    edit.add_argument("--certificate", metavar="NUMBER")
    edit.add_argument("--performed-by", metavar="NAME")
    edit.add_argument("--provider-kind", choices=("in_house", "external"))
    edit.add_argument("--provider-name", metavar="LAB")
    edit.add_argument("--temperature", metavar="°C")
    edit.add_argument("--humidity", metavar="%RH")
    edit.add_argument("--uncertainty")
    edit.add_argument("--notes")
    edit.add_argument("--reason", required=True, help="why it is corrected")
    edit.add_argument("--expect-version", type=version_number, metavar="V")
    sup = add_command(
        calibrations,
        "supersede",
        cmd_calibrations_supersede,
        "replace a record by a corrected one (the old one is voided)",
        json=True,
    )
    sup.add_argument("id", type=id_of("calibration id"))
    calibration_args(sup)
    sup.add_argument("--reason", required=True, help="why it is superseded")
    sup.add_argument("--expect-version", type=version_number, metavar="V")

    oot = add_group(sub, "oot", "out-of-tolerance cases")
    olist = add_command(oot, "list", cmd_oot_list, "cases, newest first", json=True)
    olist.add_argument("--status", choices=CASE_STATES)
    olist.add_argument("--tag", help="only this instrument's cases")
    oshow = add_command(
        oot, "show", cmd_oot_show, "a case with what it may have affected", json=True
    )
    oshow.add_argument("id", type=_case_id, help="OOT-12 or 12")
    oimpact = add_command(
        oot,
        "impact",
        cmd_oot_impact,
        "the verdicts the standard's as-found error would change",
        json=True,
    )
    oimpact.add_argument("id", type=_case_id, help="OOT-12 or 12")
    ofollow = add_command(
        oot,
        "follow-up",
        cmd_oot_follow_up,
        "open cases for instruments on a case's impact list (QA)",
    )
    ofollow.add_argument("id", type=_case_id, help="OOT-12 or 12")
    which = ofollow.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--tag", action="append", metavar="TAG", help="an instrument on the list (repeatable)"
    )
    which.add_argument(
        "--all-flipped", action="store_true", help="every instrument with a verdict that flips"
    )
    oassess = add_command(oot, "assess", cmd_oot_assess, "record the impact assessment (QA)")
    oassess.add_argument("id", type=_case_id)
    oassess.add_argument("--assessment", required=True, metavar="TEXT")
    oassess.add_argument("--disposition", required=True, choices=tuple(DISPOSITION_LABELS))
    oassess.add_argument("--expect-version", type=version_number, metavar="V")
    oclose = add_command(
        oot, "close", cmd_oot_close, "close an assessed case with your signature (QA)"
    )
    oclose.add_argument("id", type=_case_id)
    oclose.add_argument("--comment")
    oclose.add_argument(
        "--return-to-service",
        action="store_true",
        help="put the instrument back in service (its latest calibration must pass)",
    )
    oclose.add_argument("--expect-version", type=version_number, metavar="V")
    _password_stdin(oclose)

    trace = add_command(
        instruments,
        "trace",
        cmd_instruments_trace,
        "standards used, and what it calibrated",
        json=True,
    )
    trace.add_argument("tag")
