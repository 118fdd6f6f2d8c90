"""Domain errors shared by every layer.

The UI maps each error to one clear dialog; the CLI maps each to one line on stderr
and a distinct exit code (``exit_code``). Messages are written for the person at the
keyboard: what happened and what to do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class CalTrackError(Exception):
    """Base of all errors a user can cause or meet; never a programming error."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(CalTrackError):
    """Input that breaks a rule; ``fields`` maps field name to a message."""

    exit_code = 2

    def __init__(self, fields: Mapping[str, str], message: str | None = None) -> None:
        self.fields: dict[str, str] = dict(fields)
        text = message or "; ".join(f"{name}: {msg}" for name, msg in self.fields.items())
        super().__init__(text)


class NotFoundError(CalTrackError):
    """An instrument, record or attachment named by the user does not exist."""

    exit_code = 2


class UsageError(CalTrackError):
    """The command or its arguments are wrong (bad path, unreadable file...)."""

    exit_code = 2


class EntryKeyTakenError(CalTrackError):
    """Another save of the same calibration entry inserted its record first (a race on
    the entry key); the service answers it by looking at that record."""

    exit_code = 2

    def __init__(self, entry_key: str) -> None:
        super().__init__(
            f"this calibration entry (key {entry_key}) was saved by another save at the same "
            "time; refresh to see the record"
        )
        self.entry_key = entry_key


@dataclass(frozen=True)
class ConflictSide:
    """One side of a conflict: field values plus who changed it last and when."""

    version: int
    values: Mapping[str, Any]
    changed_by: str | None = None
    changed_at: str | None = None


class ConflictError(CalTrackError):
    """A save based on stale data; carries the user's values and the stored ones."""

    exit_code = 3

    def __init__(
        self, entity: str, label: str, *, yours: ConflictSide, theirs: ConflictSide
    ) -> None:
        self.entity = entity
        self.label = label
        self.yours = yours
        self.theirs = theirs
        who = f" by {theirs.changed_by}" if theirs.changed_by else ""
        when = f" at {theirs.changed_at}" if theirs.changed_at else ""
        super().__init__(
            f"{entity} {label} was changed{who}{when} since you loaded it "
            f"(your version {yours.version}, stored version {theirs.version}); "
            "reload it and apply your change again"
        )

    @property
    def changed_fields(self) -> list[str]:
        """Fields whose stored value differs from what the user wants to save (only the
        fields the user saves: an edit of one field says nothing about the others)."""
        return sorted(
            n for n in self.yours.values if self.yours.values[n] != self.theirs.values.get(n)
        )


class DatabaseBusyError(CalTrackError):
    """Another program kept the database locked past every retry."""

    exit_code = 4


@dataclass(frozen=True)
class LockHolder:
    """Who holds the editor lock, as written in the holder file."""

    user: str
    machine: str
    pid: int
    session_id: str
    since: str
    app_version: str = ""
    heartbeat: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)


class LockHeldError(CalTrackError):
    """Another session holds the editor lock."""

    exit_code = 4

    def __init__(self, message: str, holder: LockHolder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


class FrozenWriterError(LockHeldError):
    """The editor is frozen inside a write: SQLite's write lock stays held until it ends.

    No fencing helps (the fence is itself a write); only ending that process, or
    restarting its PC, frees the file.
    """


class ReadOnlyError(CalTrackError):
    """The database is open read-only; the message says why."""

    exit_code = 5


class NotAllowedError(CalTrackError):
    """The user's role does not allow this (a technician signing, a non-admin managing
    accounts). On a shared file this guards against mistakes, not attackers.

    Its own exit code (8), not read-only's 5: a script must tell "ask someone with the
    role" from "wait for the editor lock"."""

    exit_code = 8


class LeaseLostError(ReadOnlyError):
    """This session's editor lock was taken over; it may no longer write."""

    exit_code = 5


class SchemaTooNewError(ReadOnlyError):
    """The database was written by a newer CalTrack; it opens read-only."""

    exit_code = 5


class DatabaseDamagedError(ReadOnlyError):
    """The database file failed SQLite's check: it is open read-only, nothing is written.

    A storage failure (exit 6) rather than a plain read-only state: the file itself is
    damaged, and the way out is salvage or a backup, not write access.
    """

    exit_code = 6

    def __init__(self, message: str, findings: list[str] | None = None) -> None:
        super().__init__(message)
        self.findings: list[str] = list(findings or [])


class MovedError(ReadOnlyError):
    """The database file was moved or renamed while open: this session writes no more.

    A storage failure (exit 6), like the disk going away: the way out is opening the
    file from its new place, not write access.
    """

    exit_code = 6


class UnfinishedSaveError(ReadOnlyError):
    """A journal or WAL of an unfinished save lies under a name the database had before.

    Exit 6 (a file problem): writing before that save is brought back could lose it or
    damage the file; the message names the file and the way to recover it.
    """

    exit_code = 6


class DatabaseOpenError(CalTrackError):
    """The path is missing, not a SQLite file, or not a CalTrack database."""

    exit_code = 2


class ServerConnectError(DatabaseOpenError):
    """The database server cannot be reached, or refused the login (app/db/server.py).

    ``message`` is one sentence saying what to do; ``detail`` is libpq's own text, kept
    for IT on a second line. The exit code follows the kind: 2 the name is wrong (no
    such database, user, service or host), 4 no free connection, 6 the server cannot be
    reached, 8 the password or the server's rules refused the login.
    """

    def __init__(self, message: str, detail: str, exit_code: int) -> None:
        super().__init__(message)
        self.detail = detail
        self.exit_code = exit_code

    def __str__(self) -> str:
        return f"{self.message}\n  server said: {self.detail}" if self.detail else self.message


class StorageError(CalTrackError):
    """The disk or share failed under a write: full, I/O error, file gone."""

    exit_code = 6


class ServerLostError(StorageError):
    """The database server went away under a read or a save (app/db/server.py).

    The message says whether the change was surely not saved or may have been (the
    connection dropped during COMMIT); libpq's text follows on a second line.
    """


class IntegrityProblem(CalTrackError):
    """A check found damage: corrupt pages, a broken audit chain, a missing file."""

    exit_code = 1
