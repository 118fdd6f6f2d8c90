"""Checking a database's audit chain against what this PC saw of it before.

The chain inside the file proves that no event was changed, but someone who cuts the
newest events off and moves the head back leaves a chain that verifies. Every PC that
opens a database remembers (``app.storage.anchors``) how many events it saw and the
newest one's hash; when the chain no longer extends that, CalTrack says so at open and
in ``db verify``, and keeps saying so (the anchor does not move) until it extends again.

A restore done through CalTrack is audited, and it explains a chain that no longer
extends the anchor once (said as a notice); the anchor then follows the restored chain.
Anyone with the sqlite3 tool can write an event that looks like a restore, so the rule
leans on what only this PC holds — the anchor, and the restores it saw inside it (their
hashes and the heads of the trails they replaced) — and on hashes read from the chain
itself, never on what a restore event says of itself. A restore event explains the
divergence when it is not one this PC already saw (an old restore cannot explain a
change made after it) and either

- it sits at most one event past what this PC saw: the restored backup was no longer
  than the trail this PC saw (it set the trail back), or
- the events before it are exactly the trail that a restore this PC saw replaced (the
  chain's hash just before it equals that restore's recorded replaced head): the
  earlier restore was undone from its before-restore copy. Reproducing that hash takes
  the genuine replaced trail, which CalTrack really had, not a rewritten one.

A restored backup that is longer than this PC saw and does not contain it is otherwise
not explained (the restore event's word that it came from this database is not proof),
and is said to be a rewrite.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from app.clock import Clock
from app.errors import CalTrackError
from app.locking.running import spoken_moment
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit import GENESIS_HASH, HEAD_KEY, HEAD_MISSING_ACTION
from app.storage.anchors import Anchor, AnchorStore, AnchorUnreadableError, SeenRestore

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
    hash: str
    replaced_head: str | None  # as the event recorded it
    restored_head: str  # the chain's hash just before the event (the backup's head)


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
        seen = tuple(SeenRestore(r.hash, r.replaced_head) for r in chain.restores)
        if remember and move and (anchor is None or _moved(chain, anchor, seen)):
            try:
                self._store.save(
                    Anchor(
                        database_id=database_id,
                        events=chain.events,
                        head=chain.last_hash,
                        seen_at=self._clock.now_utc().isoformat(timespec="seconds"),
                        path=str(self._uow.database.path or ""),
                        restores=seen,
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
            position = uow.audit.position_of(event.id)
            restores.append(
                _Restore(
                    event_id=event.id,
                    position=position,
                    user=event.user,
                    at=event.occurred_at,
                    hash=event.hash,
                    replaced_head=_replaced_head(event.changes),
                    restored_head=uow.audit.hash_at(position - 1) or GENESIS_HASH,
                )
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


def _replaced_head(changes: str) -> str | None:
    """The head of the trail a restore replaced, as its event recorded it."""
    try:
        value = json.loads(changes)["replaced_head"][0]
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return value if isinstance(value, str) else None


def _moved(chain: _Chain, anchor: Anchor, seen: tuple[SeenRestore, ...]) -> bool:
    return (chain.events, chain.last_hash, seen) != (anchor.events, anchor.head, anchor.restores)


def _explaining_restore(chain: _Chain, anchor: Anchor) -> _Restore | None:
    """The restore that explains why the chain no longer extends the anchor, or None.

    The rule is the module's: a restore this PC did not see already, at most one event
    past the anchor or restoring exactly a trail that a restore this PC saw replaced.
    An anchor written before the restores were kept counts every restore as unseen.
    """
    seen = anchor.restores or ()
    seen_hashes = {r.hash for r in seen}
    replaced = {r.replaced_head for r in seen if r.replaced_head}
    fitting = [
        r
        for r in chain.restores
        if r.hash not in seen_hashes
        and (r.position <= anchor.events + 1 or r.restored_head in replaced)
    ]
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
