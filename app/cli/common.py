"""What the CLI's command modules share: opening the database, building the parser, argument types.

Every ``*_commands`` module imports from here (and from ``output``), never from another
command module, so ``app/cli`` has no import cycle.
"""

from __future__ import annotations

import argparse
import re
import sys
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

from app.bootstrap import CalTrack, open_caltrack
from app.db.engine import EngineOptions, database_url
from app.db.server import password_in, password_warning
from app.errors import UsageError
from app.services.bounds import count_problem, day_problem, id_problem, seconds_problem
from app.services.calibrations import parse_point
from app.services.decision_rules import ACCEPTED_CODES
from app.services.dto import CalibrationInput, number_text
from app.services.editing import EditingOptions
from app.services.standard_uncertainty import fill_offered
from app.settings.paths import default_database_path

Handler = Callable[[argparse.Namespace], int]


def open_app(
    args: argparse.Namespace, *, create: bool = False, edit: bool = False, verifying: bool = False
) -> CalTrack:
    """Open the database; a command that writes tries to become the editor first.

    ``verifying``: the command reports the database's problems itself (`db verify`), and
    says the opening's problems it does not find (see `cmd_db_verify` in ``commands``).
    """
    target = args.db or str(default_database_path())
    if args.db and password_in(database_url(args.db)):
        print(f"caltrack: note: {password_warning()}", file=sys.stderr)
    if not args.db and create:
        default_database_path().parent.mkdir(parents=True, exist_ok=True)
    options = EngineOptions(busy_timeout_s=args.busy_timeout, journal=args.journal)
    editing = EditingOptions(
        edit=edit, wait_s=args.wait, heartbeat_s=args.heartbeat, stale_after_s=args.stale_after
    )
    app = open_caltrack(target, create=create, options=options, editing=editing)
    damage = app.database.damage or []
    for line in [] if verifying else app.problems:
        # Said by the command's own error line (or `db verify`): the damage, and the
        # reason a write is refused.
        if line not in damage and not (edit and line == app.database.read_only_reason):
            print(f"caltrack: PROBLEM: {line}", file=sys.stderr)
    for line in app.notices:
        print(f"caltrack: note: {line}", file=sys.stderr)
    return app


# -- the parser ----------------------------------------------------------------------


def add_group(sub: Any, name: str, help_text: str) -> Any:
    """A command group such as `instruments`; returns where its actions are added."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    parser.set_defaults(group_prog=parser.prog, group_actions=actions)
    return actions


def add_command(
    sub: Any, name: str, handler: Handler, help_text: str, *, json: bool = False
) -> Any:
    """A command run by ``handler``; with ``json`` it takes `--json`. Returns its parser."""
    parser = sub.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    if json:
        parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    return parser


# -- argument types ------------------------------------------------------------------


def whole_number(text: str) -> int:
    """argparse type: any whole number."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def iso_day(text: str) -> date:
    """argparse type: a calendar date written YYYY-MM-DD."""
    if _ISO_DATE.fullmatch(text.strip()):
        try:
            day = date.fromisoformat(text.strip())
        except ValueError:
            pass
        else:
            problem = day_problem(day)
            if problem:
                raise argparse.ArgumentTypeError(problem)
            return day
    raise argparse.ArgumentTypeError(f"{text!r} is not a date; write it as YYYY-MM-DD")


def positive_int(text: str) -> int:
    """argparse type: a count, limit or offset (0 .. SQLite's largest integer)."""
    value = whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    problem = count_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


def id_of(what: str) -> Callable[[str], int]:
    """argparse type: the id of a ``what`` (1 .. SQLite's largest integer)."""

    def parse(text: str) -> int:
        problem = id_problem(whole_number(text), what)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return int(text)

    parse.__name__ = what.replace(" ", "_")  # argparse names the type in some errors
    return parse


version_number = id_of("version number")


def seconds(text: str) -> float:
    """argparse type: seconds to wait or watch, finite and at most a day."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    problem = seconds_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return value


# -- a calibration's options (`calibrations add` and `supersede`) ---------------------


def calibration_args(parser: argparse.ArgumentParser) -> None:
    """The options describing a calibration (`calibrations add` and `supersede`)."""
    parser.add_argument("--performed-on", required=True, metavar="YYYY-MM-DD")
    parser.add_argument("--result", required=True, choices=("pass", "fail", "adjusted"))
    parser.add_argument("--certificate", metavar="NUMBER")
    parser.add_argument(
        "--point",
        action="append",
        metavar="NOMINAL:AS_FOUND:AS_LEFT:TOLERANCE[:UNIT[:U[:K]]]",
        help="a reading (repeat for each); TOLERANCE is a number (±) or as written: "
        "-0.02/+0.05, ±0.1 %%rdg, ±0.5 %%FS, ±0.5 %%span, ±(0.05 %% + 2 digits) (none "
        "contains a colon or a comma; quote it for the shell), %%FS and digits taken "
        "with the instrument's range and resolution; U the expanded uncertainty, K its "
        "coverage factor; leave a reading empty (100::100.1:0.5)",
    )
    parser.add_argument(
        "--decision-rule",
        metavar="RULE",
        # argparse reads % in a help text as a format ("pfa 2.5% binary").
        help=f"how the readings are judged: {ACCEPTED_CODES.replace('%', '%%')} (default: "
        "the lab's, see `settings show`)",
    )
    parser.add_argument(
        "--tur-justification",
        metavar="TEXT",
        help="why a point whose TUR is below the lab's minimum is accepted anyway",
    )
    parser.add_argument("--standard", action="append", metavar="TAG", help="reference used")
    parser.add_argument(
        "--standard-justification",
        metavar="TEXT",
        help="why a standard that was overdue or out of service on the day (or none of "
        "the categories the instrument's type requires) was used",
    )
    parser.add_argument(
        "--u-from-standards",
        action="store_true",
        help="give each --point without U and k the U (and k) its --standard offers: from "
        "the standard's latest valid calibration's point nearest the nominal (within the "
        "span of its points, same unit), else the U stated on it; the largest u = U/k of "
        "several standards. Each point filled is listed",
    )
    parser.add_argument("--performed-by", metavar="NAME")
    parser.add_argument(
        "--provider-name", metavar="LAB", help="external provider (if not in-house)"
    )
    parser.add_argument("--temperature", metavar="°C")
    parser.add_argument("--humidity", metavar="%RH")
    parser.add_argument("--uncertainty")
    parser.add_argument("--next-due", metavar="YYYY-MM-DD", help="override the computed due date")
    parser.add_argument("--next-due-reason", metavar="TEXT")
    parser.add_argument("--notes")
    parser.add_argument(
        "--entry-key",
        metavar="KEY",
        help="a key of your own for this entry (e.g. a uuid), the same on every retry: a "
        "retry after a lost answer then reports the record the first try made instead of "
        "recording it twice (default: a new key each run)",
    )


def with_offered_u(
    app: CalTrack, args: argparse.Namespace, data: CalibrationInput
) -> tuple[CalibrationInput, list[str]]:
    """``data`` with its points' U filled from its standards when ``--u-from-standards``
    asks (``app.services.standard_uncertainty``), and a line for each point saying
    where its U came from (or that none was offered), to print once it is saved."""
    if not args.u_from_standards:
        return data, []
    if not data.standards:
        raise UsageError("--u-from-standards needs the standards used (--standard TAG)")
    offers = app.calibrations.standard_uncertainties(data.standards, data.performed_on)
    points, filled = fill_offered(data.points, offers)
    notes = []
    for number, offer in filled:
        k = f" (k = {number_text(offer.coverage_factor)})" if offer.coverage_factor else ""
        notes.append(f"point {number}: U = {number_text(offer.uncertainty)}{k}, {offer.source}")
    unfilled = [
        str(n)
        for n, p in enumerate(points, start=1)
        if p.uncertainty is None and p.coverage_factor is None
    ]
    if unfilled:
        notes.append(
            f"point {', '.join(unfilled)}: no U offered by {', '.join(data.standards)} (no "
            "calibrated point of theirs spans the nominal in its unit, no U stated on them)"
        )
    return replace(data, points=points), notes


def print_notes(notes: list[str], as_json: bool) -> None:
    """Notes about what was saved: on stdout, or on stderr beside a ``--json`` answer."""
    for note in notes:
        print(note, file=sys.stderr if as_json else sys.stdout)


def calibration_input(args: argparse.Namespace) -> CalibrationInput:
    """A new calibration from the options of `calibrations add` (and `supersede`)."""
    points = tuple(parse_point(p) for p in args.point or ())
    return CalibrationInput(
        performed_on=args.performed_on,
        result=args.result,
        performed_by=args.performed_by or "",
        provider_kind="external" if args.provider_name else "in_house",
        provider_name=args.provider_name or "",
        certificate_number=args.certificate or "",
        temperature_c=args.temperature,
        humidity_pct=args.humidity,
        uncertainty=args.uncertainty or "",
        next_due=args.next_due,
        next_due_reason=args.next_due_reason or "",
        notes=args.notes or "",
        points=points,
        standards=tuple(args.standard or ()),
        standards_justification=args.standard_justification or "",
        decision_rule=args.decision_rule or "",
        tur_justification=args.tur_justification or "",
        entry_key=args.entry_key or str(uuid.uuid4()),
    )
