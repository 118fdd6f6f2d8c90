"""Every command's --help prints (argparse formats each help text with %: a bare % in
one, such as the decision rule "pfa 2.5% binary", was a traceback instead of help)."""

from __future__ import annotations

import argparse

from app.cli.commands import describe_validation
from app.cli.main import build_parser
from app.errors import ValidationError


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """The parser and every sub-command's parser under it."""
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found.extend(_parsers(child))
    return found


def test_every_commands_help_formats() -> None:
    parsers = _parsers(build_parser())
    assert len(parsers) > 40  # the walk reached the sub-commands
    helps = {p.prog: p.format_help() for p in parsers}
    assert "pfa 2.5% binary" in helps["caltrack settings set"]
    assert "RECORD_ID" in helps["caltrack report certificate"]


def test_the_options_an_error_names_exist() -> None:
    """A refusal names the service's field as an option (--grace-days, --po-number): the
    commands answer to those names too, and a positional argument is named in words."""
    parser = build_parser()
    schedule = parser.parse_args(
        ["schedules", "set", "TH-1", "--kind", "check", "--grace-days", "3", "--soon-days", "5"]
    )
    assert (schedule.grace, schedule.soon) == (3, 5)
    words = "sendout create --provider P TH-1 --po-number PO-1 --expected-return 2026-12-01"
    sendout = parser.parse_args(words.split())
    assert (sendout.po, sendout.expected) == ("PO-1", "2026-12-01")
    problems = ValidationError({"batch": "b", "event": "e", "instrument": "i"})
    assert describe_validation(problems) == "send-out batch: b; maintenance event: e; asset tag: i"
