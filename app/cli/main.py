"""``caltrack``: argument parsing, dispatch and the mapping of errors to exit codes.

Exit codes: 0 ok, 1 problems found, 2 usage or validation error, 3 conflict,
4 busy or locked, 5 read-only, 6 storage failure (disk full, I/O error, damaged file, file
moved, a save left under an earlier name), 7 the
window cannot open (app/ui/platform_check.py), 70 bug.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from sqlalchemy.exc import DBAPIError

from app import __version__
from app.cli import commands, common
from app.db.engine import is_url, safe_url
from app.db.server import password_in
from app.db.transactions import is_busy_error, translate_storage_error
from app.errors import CalTrackError, ValidationError
from app.settings.logs import setup_logging

EXIT_INTERNAL = 70
log = logging.getLogger("app.cli")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, as every other CalTrack error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"caltrack: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="caltrack",
        description="CalTrack: calibration tracker for laboratories.",
        epilog="Exit codes: 0 ok, 1 problems found, 2 usage or validation error, 3 conflict, "
        "4 busy or locked, 5 read-only, 6 storage failure, 7 the window cannot open.",
    )
    parser.add_argument("--version", action="version", version=f"CalTrack {__version__}")
    parser.add_argument(
        "--db",
        metavar="PATH_OR_URL",
        default=os.environ.get("CALTRACK_DB"),
        help="database file, SQLAlchemy URL or service=NAME (pg_service.conf) "
        "(default: $CALTRACK_DB, else your default database)",
    )
    parser.add_argument(
        "--journal",
        choices=("auto", "wal", "truncate", "delete"),
        default="auto",
        help="SQLite journal: auto picks WAL on local disk, rollback (truncate) on shares",
    )
    parser.add_argument(
        "--busy-timeout",
        type=common.seconds,
        default=5.0,
        metavar="SECONDS",
        help="how long SQLite waits for a lock before each retry (default 5)",
    )
    parser.add_argument(
        "--wait",
        type=common.seconds,
        default=0.0,
        metavar="SECONDS",
        help="a command that writes waits this long for another editor to finish (default 0)",
    )
    parser.add_argument(
        "--heartbeat",
        type=common.seconds,
        default=30.0,
        metavar="SECONDS",
        help=argparse.SUPPRESS,
    )
    parser.add_argument(
        "--stale-after",
        type=common.seconds,
        default=300.0,
        metavar="SECONDS",
        help=argparse.SUPPRESS,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.register(sub)
    return parser


def _hide_password(word: str) -> str:
    """``word`` with the password of a database URL in it hidden."""
    prefix, eq, value = word.partition("=") if word.startswith("--") else ("", "", word)
    if is_url(value) and password_in(value):
        return f"{prefix}{eq}{safe_url(value)}"
    return word


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        if args.command:  # a group such as `instruments` without its action
            print(
                f"caltrack: {args.group_prog} needs an action: "
                f"{', '.join(args.group_actions.choices)} (see `{args.group_prog} --help`)",
                file=sys.stderr,
            )
            return 2
        # No command: the desktop window (Qt is imported only here).
        from app.ui.app import run_gui

        return run_gui(args.db)
    log_file = setup_logging()
    words = sys.argv[1:] if argv is None else argv
    # A password written in a --db URL never reaches the log file.
    log.info("caltrack %s", " ".join(_hide_password(word) for word in words))
    # SIGTERM (logout, kill) unwinds like Ctrl+C: the editor lock is released on the way.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(handler(args) or 0)
    except ValidationError as exc:
        print(f"caltrack: {commands.describe_validation(exc)}", file=sys.stderr)
        return exc.exit_code
    except CalTrackError as exc:
        log.warning("%s: %s", type(exc).__name__, exc)
        print(f"caltrack: {exc}", file=sys.stderr)
        return exc.exit_code
    except DBAPIError as exc:
        db = getattr(args, "db", None)
        # A file path (not a URL) lets a disk I/O error say whether that disk is full.
        translated = translate_storage_error(exc, Path(db) if db and "://" not in db else None)
        if translated is None and is_busy_error(exc):
            print("caltrack: the database is busy; try again in a moment", file=sys.stderr)
            return 4
        if isinstance(translated, CalTrackError):
            print(f"caltrack: {translated}", file=sys.stderr)
            return translated.exit_code
        log.error("database error", exc_info=exc)
        print(f"caltrack: database error: {exc.orig}", file=sys.stderr)
        return EXIT_INTERNAL
    except BrokenPipeError:
        # Output piped into `head`: not an error worth a traceback.
        sys.stderr.close()
        return 0
    except OSError as exc:
        # The folder or share went away, or the disk failed, outside a database call.
        where = f" {exc.filename}" if exc.filename else ""
        print(
            f"caltrack: cannot access{where}: {exc.strerror or exc}; check that the folder "
            "or network share is reachable and try again",
            file=sys.stderr,
        )
        return 6
    except Exception as exc:  # a bug: one line here, the traceback in the log file
        log.exception("internal error")
        print(
            f"caltrack: internal error: {type(exc).__name__}: {exc} "
            f"(details in {log_file or 'the log'}); please report it",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        print("caltrack: interrupted; a change not finished was not saved", file=sys.stderr)
        return 130
