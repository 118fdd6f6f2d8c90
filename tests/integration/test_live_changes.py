"""Live updates on a server: each committed write is announced to the other sessions.

Two sessions on one database of this run's private PostgreSQL server: a write in one
reaches the other's listener (waited for, no sleeps), naming what it changed; a
session's own writes do not come back to it; a rolled-back write announces nothing.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.notify import MAX_PAYLOAD_BYTES, ChangeNotice, decode_notice, encode_notice
from app.identity import Identity
from app.services.changes import LiveChanges
from tests.conftest import add_thermometer
from tests.integration.helpers import end_listening_connections

WAIT_S = 5.0


@pytest.fixture
def bob() -> Identity:
    return Identity(user="bob", machine="LAB-PC-7")


@pytest.fixture
def two(
    pg_url: str, clock: FixedClock, alice: Identity, bob: Identity, tmp_path: Path
) -> Iterator[tuple[CalTrack, CalTrack]]:
    with (
        open_caltrack(
            pg_url, create=True, identity=alice, clock=clock, state_dir=tmp_path / "a"
        ) as first,
        open_caltrack(pg_url, identity=bob, clock=clock, state_dir=tmp_path / "b") as second,
    ):
        yield first, second


def listen(app: CalTrack) -> tuple[LiveChanges, queue.Queue[ChangeNotice]]:
    arrived: queue.Queue[ChangeNotice] = queue.Queue()
    live = app.live_changes(arrived.put)
    assert live is not None
    assert live.wait_listening(WAIT_S)
    return live, arrived


def test_a_write_in_one_session_arrives_at_the_other_with_its_ids(
    two: tuple[CalTrack, CalTrack],
) -> None:
    first, second = two
    _live, arrived = listen(second)
    add_thermometer(first, "TH-001")
    notice = arrived.get(timeout=WAIT_S)
    [instrument_id] = [r.id for r in second.instruments.list().rows]
    assert notice.changed["instrument"] == frozenset({instrument_id})
    assert not notice.many
    # The head it names is the chain head the write left.
    assert notice.head == second.uow.read(lambda uow: uow.meta.get("audit_head"))


def test_a_sessions_own_write_does_not_come_back_to_it(
    two: tuple[CalTrack, CalTrack],
) -> None:
    first, second = two
    _mine, own = listen(first)
    _theirs, others = listen(second)
    add_thermometer(first, "TH-001")
    # Once the other session heard the write, the writer's listener has had it too
    # (one server, one commit): nothing may be waiting there.
    others.get(timeout=WAIT_S)
    add_thermometer(second, "TH-002")  # a later notice both listeners receive in order
    notice = own.get(timeout=WAIT_S)
    assert "instrument" in notice.changed
    [tag] = [
        r.asset_tag for r in first.instruments.list().rows if r.id in notice.changed["instrument"]
    ]
    assert tag == "TH-002"
    assert own.empty()


def test_each_committed_write_is_one_notice_and_a_failed_one_none(
    two: tuple[CalTrack, CalTrack],
) -> None:
    first, second = two
    _live, arrived = listen(second)
    add_thermometer(first, "TH-001")
    with pytest.raises(Exception):  # noqa: B017 - whatever the duplicate raises, it rolls back
        add_thermometer(first, "TH-001")
    add_thermometer(first, "TH-003")
    one, two_ = arrived.get(timeout=WAIT_S), arrived.get(timeout=WAIT_S)
    tags = {r.id: r.asset_tag for r in second.instruments.list().rows}
    assert [tags[i] for n in (one, two_) for i in n.changed["instrument"]] == ["TH-001", "TH-003"]
    assert arrived.empty()


def test_only_a_server_database_has_a_listener(app: CalTrack, backend: str) -> None:
    live = app.live_changes(lambda _n: None)
    assert (live is not None) == (backend == "postgresql")


def test_a_notice_too_big_for_the_server_says_many_changed() -> None:
    payload = encode_notice("ab" * 32, {"instrument": range(5000), "calibration": [1]})
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
    notice = decode_notice(payload)
    assert notice.many
    assert notice.kinds() == {"instrument", "calibration"}
    small = decode_notice(encode_notice("cd" * 32, {"calibration": [3, 1]}))
    assert small == ChangeNotice(head="cd" * 32, changed={"calibration": frozenset({1, 3})})
    assert decode_notice("not json").many


def test_the_listener_says_when_the_server_is_gone_and_when_it_is_back(
    two: tuple[CalTrack, CalTrack],
) -> None:
    first, second = two
    states: queue.Queue[bool] = queue.Queue()
    arrived: queue.Queue[ChangeNotice] = queue.Queue()
    live = second.live_changes(arrived.put, states.put)
    assert live is not None
    assert states.get(timeout=WAIT_S) is True
    # The server ends the listening connection (as a restart does).
    assert end_listening_connections(first) == 1
    assert states.get(timeout=WAIT_S) is False
    assert states.get(timeout=WAIT_S) is True
    # Notices sent while it was away are lost: it asks for a full reload instead.
    missed = arrived.get(timeout=WAIT_S)
    assert missed.many and missed.missed
    add_thermometer(first, "TH-001")
    assert "instrument" in arrived.get(timeout=WAIT_S).changed
