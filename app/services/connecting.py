"""What the window needs to name and open a database server, without knowing URLs.

The window's "Open a database server…" dialog asks for a service name, or for host, port,
database and user; ``server_target`` turns that into what ``--db`` takes. No password is
asked: libpq reads it from ``~/.pgpass`` or the service file, so it is never typed into
CalTrack, never stored in its settings and never shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import URL

from app.db.engine import is_url, safe_url
from app.db.server import SERVICE_PREFIX, is_server_url, password_in, service_name
from app.errors import ValidationError


@dataclass(frozen=True)
class ServerChoice:
    """What the person filled in: a service name, or where the server is."""

    service: str = ""
    host: str = ""
    port: str = ""
    database: str = ""
    user: str = ""


def server_target(choice: ServerChoice) -> str:
    """The ``--db`` text for ``choice``: ``service=NAME`` or a ``postgresql+psycopg`` URL."""
    service = choice.service.strip()
    if service:
        target = f"{SERVICE_PREFIX}{service}"
        if service_name(target) is None:
            raise ValidationError(
                {"service": "a service name is letters, digits, '_', '.' and '-' only"}
            )
        return target
    fields: dict[str, str] = {}
    database = choice.database.strip()
    if not database:
        fields["database"] = "give the database's name (or a service name instead)"
    port = choice.port.strip()
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        fields["port"] = "a port is a number from 1 to 65535 (PostgreSQL's is 5432)"
    if fields:
        raise ValidationError(fields)
    host = choice.host.strip()
    query: dict[str, str] = {}
    url_host: str | None = host or None
    if host.startswith("/"):
        # A unix socket folder: libpq takes it as host=, which a URL cannot hold in place.
        query["host"], url_host = host, None
    url = URL.create(
        "postgresql+psycopg",
        username=choice.user.strip() or None,
        host=url_host,
        port=int(port) if port else None,
        database=database,
        query=query,
    )
    return url.render_as_string(hide_password=False)


def is_server(target: str) -> bool:
    """True when ``target`` (a ``--db`` text) names a database server, not a file."""
    return service_name(target) is not None or (is_url(target) and is_server_url(target))


def has_password(target: str) -> bool:
    """True when ``target`` carries a password (then it is not remembered anywhere)."""
    return is_url(target) and password_in(target)


def display_name(target: str) -> str:
    """``target`` fit to show: a file path as it is, a URL without its password."""
    if is_url(target):
        return safe_url(target)
    return target
