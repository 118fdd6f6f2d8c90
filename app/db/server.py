"""Connecting to a database server: the forms of ``--db``, and libpq's refusals in plain words.

A libpq service name is written ``service=NAME`` (as ``psql "service=NAME"`` takes it) and
becomes ``postgresql+psycopg:///?service=NAME``: libpq itself then reads host, port,
database and user from ``pg_service.conf`` (or ``$PGSERVICEFILE``) and the password from
the service file or ``~/.pgpass`` (``$PGPASSFILE``), so no password is ever typed on a
command line.

Every failure to reach or log in to the server is mapped here, and only here, to one
sentence saying what to do, with libpq's own text kept on a second line for IT. libpq
reports connection failures without a SQLSTATE (there is no server result yet), so the
mapping reads libpq's and the server's (English) messages; one it does not know still
gets a plain first line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from app.errors import ServerConnectError, ServerLostError

SERVICE_PREFIX = "service="
# What pg_service.conf accepts as a section name, and nothing path-like ("/", "\").
_SERVICE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")
# libpq waits for ever on a host that drops packets; the window must not hang on it.
CONNECT_TIMEOUT_S = 10

PGPASS_ADVICE = "put the password in ~/.pgpass (or the service file), not in the URL"


def service_name(text: str) -> str | None:
    """The service in ``service=NAME``, None for anything else (a path, a URL)."""
    if not text.startswith(SERVICE_PREFIX):
        return None
    name = text[len(SERVICE_PREFIX) :]
    return name if _SERVICE_NAME.fullmatch(name) else None


def service_url(name: str) -> str:
    """The SQLAlchemy URL that lets libpq resolve service ``name`` itself."""
    return f"postgresql+psycopg:///?service={name}"


def is_server_url(url: str) -> bool:
    """True for a PostgreSQL URL (a database server), false for SQLite."""
    return make_url(url).get_backend_name() == "postgresql"


def password_in(url: str) -> bool:
    """True when a URL carries its password (visible in shell history and process lists)."""
    try:
        return make_url(url).password is not None
    except ArgumentError:  # not a URL at all: nothing to warn about
        return False


def password_warning() -> str:
    """The one note for a password written in ``--db`` (never the password itself)."""
    return (
        "the --db URL contains a password, which stays in your shell history and is "
        f"visible to other users of this PC; {PGPASS_ADVICE} (see README, Connecting)"
    )


def connect_args(url: str) -> dict[str, object]:
    """psycopg's connect arguments for a server URL: a connect timeout unless one is given."""
    if "connect_timeout" in make_url(url).query:
        return {}
    return {"connect_timeout": CONNECT_TIMEOUT_S}


@dataclass(frozen=True)
class _Rule:
    """libpq or server text that identifies one kind of failure, and what to tell."""

    any_of: tuple[str, ...]
    sentence: str
    exit_code: int
    all_of: tuple[str, ...] = ()

    def matches(self, text: str) -> bool:
        return any(n in text for n in self.any_of) and all(n in text for n in self.all_of)


def _rules(where: str) -> tuple[_Rule, ...]:
    return (
        _Rule(
            ("password authentication failed", "28p01"),
            f"the database server refused the password for {where}; check the password "
            "in ~/.pgpass or the service file (host:port:database:user:password)",
            8,
        ),
        _Rule(
            ("no password supplied", "fe_sendauth"),
            f"the database server asks for a password for {where} and none was found; "
            "put it in ~/.pgpass (host:port:database:user:password, mode 0600) or the "
            "service file",
            8,
        ),
        _Rule(
            ("no pg_hba.conf entry", "28000"),
            f"the database server does not let this user connect from here ({where}); "
            "ask its administrator to allow it (pg_hba.conf)",
            8,
        ),
        _Rule(
            ('role "',),
            f"the database server has no user by that name ({where}); check the user "
            "name, or ask the administrator to create it",
            2,
            ("does not exist",),
        ),
        _Rule(
            ('database "', "3d000"),
            f"there is no such database on the server ({where}); ask the administrator "
            "to create it, or run `caltrack --db URL init` as its owner",
            2,
            ("does not exist",),
        ),
        _Rule(
            ("definition of service",),
            f"there is no database service by that name ({where}) in pg_service.conf "
            "(~/.pg_service.conf, or $PGSERVICEFILE); check the name or ask IT for the "
            "service file",
            2,
        ),
        _Rule(
            ("too many clients", "too many connections", "remaining connection slots", "53300"),
            f"the database server ({where}) has no free connections right now; wait a "
            "moment and try again, or ask the administrator to raise max_connections",
            4,
        ),
        _Rule(
            ("failed to resolve host", "could not translate host name"),
            f"the database server's name cannot be found ({where}); check the host name "
            "and the network connection",
            2,
        ),
        _Rule(
            ("timeout expired", "timed out"),
            f"the database server ({where}) did not answer within {CONNECT_TIMEOUT_S} s; "
            "check the network connection and that the server is running, then try again",
            6,
        ),
        _Rule(
            (
                "no such file or directory",
                "connection refused",
                "could not connect",
                "server closed the connection",
                "terminating connection",
                "the database system is",  # starting up / shutting down / in recovery
                "connection is bad",
                "connection is lost",
                "connection is closed",
                "network is unreachable",
                "no route to host",
                "57p01",
            ),
            f"the database server cannot be reached ({where}); check that it is running "
            "and that the network connection works, then try again",
            6,
        ),
    )


def _detail(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return " ".join(str(orig).split())


def _texts(exc: BaseException) -> str:
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    code = getattr(orig, "sqlstate", None)
    return f"{orig} {code or ''}".lower()


def connection_failure(exc: BaseException, where: str) -> ServerConnectError | None:
    """The plain error for a failure to reach or log in to a server, None for others.

    ``where`` names the database with its password hidden (``safe_url``).
    """
    text = _texts(exc)
    for rule in _rules(where):
        if rule.matches(text):
            return ServerConnectError(rule.sentence, _detail(exc), rule.exit_code)
    return None


def is_connection_lost(exc: BaseException) -> bool:
    """True when the server could not be reached or dropped the connection (not a refusal)."""
    failure = connection_failure(exc, "")
    return failure is not None and failure.exit_code == 6


def open_failure(exc: BaseException, where: str) -> ServerConnectError:
    """Any failure while opening a server database, said plainly (libpq's text below it)."""
    return connection_failure(exc, where) or ServerConnectError(
        f"cannot open the database on the server ({where}); the server's answer is below — "
        "show it to your administrator",
        _detail(exc),
        2,
    )


# libpq's words for a connection that could not even be made: nothing reached the server.
_NEVER_CONNECTED = (
    "connection failed",
    "connection is bad",
    "failed to resolve",
    "timeout expired",
)


def lost_server_error(exc: BaseException, *, writing: bool) -> ServerLostError | None:
    """The server went away under a read or a save: what happened to the change, or None.

    A connection that could not be made (the pool's pre-ping found the server gone and
    reconnecting failed) sent nothing: nothing was saved. A connection dropped part way
    may have dropped during COMMIT, where only the server knows whether it committed.
    """
    if not is_connection_lost(exc):
        return None
    text = _texts(exc)
    detail = _detail(exc)
    if not writing:
        return ServerLostError(
            "the database server cannot be reached; nothing was changed — check that it is "
            f"running and the network connection works, then try again\n  server said: {detail}"
        )
    if any(text.startswith(words) for words in _NEVER_CONNECTED):
        return ServerLostError(
            "the database server cannot be reached — nothing was saved; your entry is kept, "
            f"try again when the server is back\n  server said: {detail}"
        )
    return ServerLostError(
        "the connection to the database server was lost during the save; your entry is "
        "kept — when the server is back, refresh to see whether the change is there before "
        f"saving it again\n  server said: {detail}"
    )
