"""A calibration entry saved again (its first save's answer was lost) is recorded once.

The dialog and ``calibrations add`` send one entry key per entry; the service returns
the record an earlier save of the same entry made, writes nothing, and refuses the key
with other content. Two saves of one entry racing end the same way (server only: SQLite
has one writer at a time, so the second always sees the first).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.db.models import CalibrationRecord
from app.errors import EntryKeyTakenError, ValidationError
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork
from app.services.dto import CalibrationInput, CalibrationView, PointInput
from tests.conftest import add_thermometer

KEY = "4f1c2a9e-7d1b-4c55-9e0a-0123456789ab"


def entry(key: str | None = KEY, **changes: Any) -> CalibrationInput:
    data = CalibrationInput(
        performed_on="2026-03-01",
        result="pass",
        certificate_number="C-1",
        temperature_c="21.5",
        standards_justification="STD-1 checked against the lab's reference the same day",
        points=(PointInput(20.0, 20.1, 20.1, 0.5, "°C"), PointInput(50.0, None, 50.2, 0.5)),
        entry_key=key,
    )
    return replace(data, **changes)


def audit_count(app: CalTrack) -> int:
    return len(app.audit.search(limit=None))


def test_the_same_entry_saved_twice_is_recorded_once(app: CalTrack) -> None:
    add_thermometer(app)
    add_thermometer(app, "STD-1")
    first = app.calibrations.add("TH-001", entry(standards=("STD-1",)))
    events = audit_count(app)
    again = app.calibrations.add("TH-001", entry(standards=("STD-1",)))
    assert (first.already_saved, again.already_saved) == (False, True)
    assert again.id == first.id and again.version == first.version
    assert [r.id for r in app.calibrations.history("TH-001")] == [first.id]
    assert audit_count(app) == events  # nothing written, not even an audit event


def test_two_entries_with_the_same_content_are_two_records(app: CalTrack) -> None:
    add_thermometer(app)
    one = app.calibrations.add("TH-001", entry(key="key-one"))
    two = app.calibrations.add("TH-001", entry(key="key-two"))
    no_key = app.calibrations.add("TH-001", entry(key=None))
    assert len({one.id, two.id, no_key.id}) == 3
    assert not any(v.already_saved for v in (one, two, no_key))
    assert len(app.calibrations.history("TH-001")) == 3


@pytest.mark.parametrize(
    "changes",
    [
        {"certificate_number": "C-2"},
        {"temperature_c": "21.6"},
        {"points": (PointInput(20.0, 20.1, 20.1, 0.5, "°C"),)},
        {"standards": ("STD-1",)},
        {"result": "adjusted"},
    ],
)
def test_the_same_key_with_other_content_is_refused_and_nothing_is_overwritten(
    app: CalTrack, changes: dict[str, Any]
) -> None:
    add_thermometer(app)
    add_thermometer(app, "STD-1")
    first = app.calibrations.add("TH-001", entry())
    events = audit_count(app)
    with pytest.raises(ValidationError) as refused:
        app.calibrations.add("TH-001", entry(**changes))
    assert f"already saved as calibration #{first.id}" in refused.value.fields["entry_key"]
    assert app.calibrations.history("TH-001") == [first]
    assert audit_count(app) == events


def test_the_same_key_on_another_instrument_is_refused(app: CalTrack) -> None:
    add_thermometer(app)
    add_thermometer(app, "TH-002")
    app.calibrations.add("TH-001", entry())
    with pytest.raises(ValidationError) as refused:
        app.calibrations.add("TH-002", entry())
    assert "other content" in refused.value.fields["entry_key"]
    assert app.calibrations.history("TH-002") == []


def test_an_entry_key_is_checked(app: CalTrack) -> None:
    add_thermometer(app)
    for bad in ("", "x" * 37, "tab\tkey"):
        with pytest.raises(ValidationError) as refused:
            app.calibrations.add("TH-001", entry(key=bad))
        assert "entry_key" in refused.value.fields
    assert app.calibrations.history("TH-001") == []


def test_a_supersede_saved_twice_replaces_the_record_once(app: CalTrack) -> None:
    add_thermometer(app)
    old = app.calibrations.add("TH-001", entry(key=None))
    fixed = entry(certificate_number="C-1-corrected")
    new = app.calibrations.supersede(old.id, fixed, reason="typo", expected_version=old.version)
    events = audit_count(app)
    again = app.calibrations.supersede(old.id, fixed, reason="typo", expected_version=old.version)
    assert (again.id, again.already_saved, again.supersedes_id) == (new.id, True, old.id)
    assert sorted(r.id for r in app.calibrations.history("TH-001")) == [old.id, new.id]
    assert audit_count(app) == events
    # The key names that supersede: recording it as a new calibration is another entry.
    with pytest.raises(ValidationError):
        app.calibrations.add("TH-001", fixed)


def test_a_second_insert_of_a_key_is_told_apart_from_other_integrity_errors(
    app: CalTrack,
) -> None:
    """The repository's translation, met when the service's look-up could not see the
    first record (the race below): EntryKeyTakenError, and the transaction undone."""
    add_thermometer(app)
    first = app.calibrations.add("TH-001", entry())

    def insert_again(uow: UnitOfWork) -> None:
        record = uow.calibrations.get(first.id)
        if record is None:
            raise AssertionError("the first record is gone")
        copy = CalibrationRecord(
            **{
                c.key: getattr(record, c.key)
                for c in CalibrationRecord.__table__.columns
                if c.key not in ("id", "version")
            }
        )
        uow.calibrations.add(copy)

    with pytest.raises(EntryKeyTakenError):
        app.uow.write(insert_again)
    assert len(app.calibrations.history("TH-001")) == 1


@pytest.fixture
def two_programs(
    pg_url: str, clock: FixedClock, alice: Identity, tmp_path: Path
) -> Iterator[tuple[CalTrack, CalTrack]]:
    """One login's two programs on one server database (two PCs, or a retry beside)."""
    state = tmp_path / "state"
    with (
        open_caltrack(pg_url, create=True, identity=alice, clock=clock, state_dir=state) as one,
        open_caltrack(pg_url, identity=alice, clock=clock, state_dir=state) as two,
    ):
        yield one, two


def test_two_saves_of_one_entry_racing_on_a_server_record_it_once(
    two_programs: tuple[CalTrack, CalTrack],
) -> None:
    """The late save passes its look-up before the early one commits, then inserts after
    it: the unique index refuses it, and it ends as "already saved", not a traceback.

    Server only: SQLite has one writer at a time, so a second save always sees the first.
    """
    app, second_app = two_programs
    add_thermometer(app)
    looked: list[str] = []
    looked_up = threading.Event()
    early_done = threading.Event()
    late_thread: list[threading.Thread] = []

    def pause_after_look_up(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if threading.current_thread() in late_thread and "entry_key =" in statement:
            looked.append(statement)
            if len(looked) == 1:  # the first look-up only, not the one after the retry
                looked_up.set()
                early_done.wait(timeout=60)

    def late_save() -> CalibrationView:
        late_thread.append(threading.current_thread())
        return second_app.calibrations.add("TH-001", entry())

    event.listen(Engine, "after_cursor_execute", pause_after_look_up)
    try:
        with ThreadPoolExecutor(1, thread_name_prefix="late-save") as pool:
            late = pool.submit(late_save)
            assert looked_up.wait(timeout=60)
            early = app.calibrations.add("TH-001", entry())
            early_done.set()
            result = late.result(timeout=60)
    finally:
        early_done.set()
        event.remove(Engine, "after_cursor_execute", pause_after_look_up)
    assert len(looked) == 2  # looked, was refused by the index, looked again
    assert (result.id, result.already_saved, early.already_saved) == (early.id, True, False)
    assert [r.id for r in app.calibrations.history("TH-001")] == [early.id]
