"""Checking a database's audit chain against what this PC saw of it before.

The chain inside the file proves that no event was changed, but someone who cuts the
newest events off and moves the head back leaves a chain that verifies. Every PC that
opens a database remembers (``app.storage.anchors``) how many events it saw and the
newest one's hash; when the chain no longer extends that, CalTrack says so at open and
in ``db verify``, and keeps saying so (the anchor does not move) until it extends again.
A restore from an older backup, done through CalTrack, is audited: it explains a shorter
chain once, and the anchor follows the restored chain.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from app.clock import Clock
from app.errors import CalTrackError
from app.locking.running import spoken_moment
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit import GENESIS_HASH, HEAD_KEY, HEAD_MISSING_ACTION
from app.storage.anchors import Anchor, AnchorStore, AnchorUnreadableError

RESTORE_ACTION = "restore"


@dataclass
class AnchorCheck:
    """What comparing the chain with this PC's anchor found."""

    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Restore:
    event_id: int
    position: int
    user: str
    at: datetime


@dataclass(frozen=True)
class _Chain:
    """The facts about the chain one read transaction saw."""

    database_id: str | None
    head_row: str | None
    events: int
    last_hash: str
    hash_at_anchor: str | None
    restores: tuple[_Restore, ...]
    head_missing_events: tuple[int, ...]


def short(digest: str) -> str:
    """The first 12 hex digits of a hash, as CalTrack prints one."""
    return f"{digest[:12]}…"


class ChainAnchorService:
    """Compares the audit chain with this PC's anchor and moves the anchor forward."""

    def __init__(self, uow: UnitOfWorkFactory, store: AnchorStore | None, clock: Clock) -> None:
        self._uow = uow
        self._store = store
        self._clock = clock
        # What this session found about the anchor (an unreadable one is rewritten once
        # found, so a later ``db verify`` in the session must still say it).
        self.found: list[str] = []

    def head(self) -> tuple[int, str]:
        """(number of events, newest hash) as the chain stands now."""

        def read(uow: UnitOfWork) -> tuple[int, str]:
            last = uow.audit.last()
            return uow.audit.total(), last[1] if last else GENESIS_HASH

        return self._uow.read(read)

    def check(self, *, remember: bool = True, chain_findings: bool = True) -> AnchorCheck:
        """Say whether the chain extends what this PC saw; remember it when it does.

        ``chain_findings`` adds what the file itself shows of a cut chain (a missing head
        row, a writer that found it missing): ``db verify`` reports those in its own words.
        """
        found = AnchorCheck()
        database_id = self._uow.read(lambda uow: uow.meta.get("database_id"))
        anchor: Anchor | None = None
        if self._store is not None and database_id:
            try:
                anchor = self._store.load(database_id)
            except AnchorUnreadableError as exc:
                self._say(
                    found,
                    f"this PC's record of the audit trail it saw cannot be read ({exc}); it "
                    "is written anew, so a trail cut before now cannot be noticed here",
                )
        chain = self._uow.read(lambda uow: _read_chain(uow, anchor))
        if chain_findings:
            if chain.head_row is None and chain.events:
                found.problems.append(
                    f"the recorded audit chain head is missing although {chain.events:,} audit "
                    "events exist: it was deleted outside CalTrack, and the newest events may "
                    "have gone with it — run `db verify` and ask your admin"
                )
            for event_id in chain.head_missing_events:
                found.problems.append(
                    f"audit event #{event_id} records that the audit chain head was missing: "
                    "events may have been deleted outside CalTrack — run `db verify` and ask "
                    "your admin"
                )
        if self._store is None or not database_id:
            return found
        move = anchor is None or _extends(chain, anchor)
        if anchor is not None and not move:
            restore = _explaining_restore(chain, anchor)
            if restore is None:
                self._say(found, _cut_message(chain, anchor))
            else:
                move = True
                found.notices.append(
                    f"this PC last saw {anchor.events:,} audit events (newest "
                    f"{short(anchor.head)}) {spoken_moment(anchor.seen_at)}; {restore.user} "
                    f"restored the database from a backup on {restore.at:%Y-%m-%d %H:%M} UTC "
                    f"(audit event #{restore.event_id}), which replaced them. The trail is "
                    "followed from the restored one on"
                )
        if remember and move and (anchor is None or _moved(chain, anchor)):
            try:
                self._store.save(
                    Anchor(
                        database_id=database_id,
                        events=chain.events,
                        head=chain.last_hash,
                        seen_at=self._clock.now_utc().isoformat(timespec="seconds"),
                        path=str(self._uow.database.path or ""),
                    )
                )
            except OSError as exc:
                self._say(
                    found,
                    f"cannot keep this PC's record of the audit trail in {self._store.folder}: "
                    f"{exc}",
                )
        return found

    def _say(self, found: AnchorCheck, problem: str) -> None:
        found.problems.append(problem)
        if problem not in self.found:
            self.found.append(problem)

    def remember(self) -> None:
        """Move the anchor to the chain as it stands (closing); quiet about what it finds."""
        # Closing never fails for this; the next open checks again.
        with contextlib.suppress(OSError, CalTrackError, SQLAlchemyError):
            self.check(remember=True, chain_findings=False)


def _read_chain(uow: UnitOfWork, anchor: Anchor | None) -> _Chain:
    last = uow.audit.last()
    restores = []
    missing = []
    for event in uow.audit.for_entity("database", 0):
        if event.action == RESTORE_ACTION:
            restores.append(
                _Restore(event.id, uow.audit.position_of(event.id), event.user, event.occurred_at)
            )
        elif event.action == HEAD_MISSING_ACTION:
            missing.append(event.id)
    return _Chain(
        database_id=uow.meta.get("database_id"),
        head_row=uow.meta.get(HEAD_KEY),
        events=uow.audit.total(),
        last_hash=last[1] if last else GENESIS_HASH,
        hash_at_anchor=uow.audit.hash_at(anchor.events) if anchor and anchor.events else None,
        restores=tuple(restores),
        head_missing_events=tuple(missing),
    )


def _extends(chain: _Chain, anchor: Anchor) -> bool:
    if chain.events < anchor.events:
        return False
    if anchor.events == 0:
        return True
    return chain.hash_at_anchor == anchor.head


def _moved(chain: _Chain, anchor: Anchor) -> bool:
    return (chain.events, chain.last_hash) != (anchor.events, anchor.head)


def _explaining_restore(chain: _Chain, anchor: Anchor) -> _Restore | None:
    """A restore written at or before the anchored position: the trail this PC saw was
    replaced by an older one, through CalTrack and audited."""
    fitting = [r for r in chain.restores if r.position <= anchor.events + 1]
    return max(fitting, key=lambda r: r.position) if fitting else None


def _cut_message(chain: _Chain, anchor: Anchor) -> str:
    when = spoken_moment(anchor.seen_at)
    if chain.events < anchor.events:
        what = (
            f"it is shorter than this PC saw it {when}: {anchor.events:,} events then (newest "
            f"{short(anchor.head)}), {chain.events:,} now. Events were deleted outside "
            "CalTrack, and with them whatever they recorded (signatures, calibrations, changes)"
        )
    else:
        now = short(chain.hash_at_anchor) if chain.hash_at_anchor else "none"
        what = (
            f"event {anchor.events:,} had hash {short(anchor.head)} when this PC saw it {when}, "
            f"and has {now} now. The trail was rewritten outside CalTrack"
        )
    return (
        f"the audit trail no longer extends what this PC saw: {what}. Restore a backup that "
        "has the events (db restore) or ask your admin; this PC keeps saying so until the "
        "trail extends what it saw again"
    )
