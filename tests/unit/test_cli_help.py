"""Every command's --help prints (argparse formats each help text with %: a bare % in
one, such as the decision rule "pfa 2.5% binary", was a traceback instead of help)."""

from __future__ import annotations

import argparse

from app.cli.main import build_parser


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
