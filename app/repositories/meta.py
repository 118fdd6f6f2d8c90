"""Key/value facts stored in the database's ``meta`` table."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Meta
from app.db.sidefiles import KNOWN_PATHS_KEEP, KNOWN_PATHS_KEY, parse_known_paths


class MetaRepository:
    """Read and write ``meta`` rows."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str, default: str | None = None) -> str | None:
        row = self._session.get(Meta, key)
        return row.value if row is not None else default

    def get_for_update(self, key: str) -> str | None:
        # FOR UPDATE serialises writers on PostgreSQL; SQLite is serialised by
        # BEGIN IMMEDIATE and ignores the clause.
        stmt = select(Meta.value).where(Meta.key == key).with_for_update()
        return self._session.execute(stmt).scalar_one_or_none()

    def set(self, key: str, value: str) -> None:
        row = self._session.get(Meta, key)
        if row is None:
            self._session.add(Meta(key=key, value=value))
        else:
            row.value = value
        self._session.flush()

    def delete(self, key: str) -> None:
        row = self._session.get(Meta, key)
        if row is not None:
            self._session.delete(row)
            self._session.flush()

    def increment(self, key: str) -> int:
        """Add one to an integer value (0 when absent) and return the new value."""
        raw = self.get_for_update(key)
        try:
            value = int(raw) + 1 if raw is not None else 1
        except ValueError:
            value = 1
        self.set(key, str(value))
        return value

    def all(self) -> dict[str, str]:
        return {k: v for k, v in self._session.execute(select(Meta.key, Meta.value))}

    def known_paths(self) -> list[str]:
        """The absolute paths this database was written under, oldest first."""
        return parse_known_paths(self.get(KNOWN_PATHS_KEY))

    def remember_path(self, path: str) -> bool:
        """Add ``path`` as the latest name of the database (bounded list); True if changed.

        A journal or WAL left under an earlier name is found through this list when the
        database is opened under its new one.
        """
        paths = self.known_paths()
        if paths and paths[-1] == path:
            return False
        paths = [p for p in paths if p != path] + [path]
        self.set(KNOWN_PATHS_KEY, json.dumps(paths[-KNOWN_PATHS_KEEP:]))
        return True
