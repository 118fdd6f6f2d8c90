"""Instrument types give default check and maintenance schedules (issue 15).

An instrument that gets a type (created with it, edited or imported into it) gets each
default schedule of a kind it has none of, audited in the same transaction; its own
schedules are never overwritten; a changed default reaches existing instruments only
through the explicit ``apply_defaults``. Both backends (``app`` / ``db_url``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.bootstrap import CalTrack
from app.errors import ConflictError, ValidationError
from app.services.dto import InstrumentChanges, ScheduleDefault, TypeChanges, TypeInput
from app.services.schedules import ScheduleInput
from app.services.transfer_model import ImportOptions
from app.services.types import type_document
from app.services.validation import instrument_input
from tests.conftest import add_thermometer
from tests.integration.helpers import tamper

TODAY = date(2026, 11, 23)  # the fixture clock's day
CHECKED = TypeInput(
    name="Balance",
    check=ScheduleDefault("1M", grace_days=3),
    maintenance=ScheduleDefault("", soon_days=5, before_use=True),
)


def _add(app: CalTrack, tag: str, type_name: str, **extra: object) -> None:
    values: dict[str, object] = {"asset_tag": tag, "description": "Balance", **extra}
    app.instruments.add(instrument_input(values), type_name=type_name)


def _schedules(app: CalTrack, tag: str) -> dict[str, tuple[str, int, bool, date | None]]:
    return {
        s.kind: (s.interval, s.grace_days, s.before_use, s.next_due)
        for s in app.schedules.list(tag)
        if s.kind != "calibration"
    }


def test_a_type_keeps_its_defaults_canonical_and_audited(app: CalTrack) -> None:
    view = app.types.add(CHECKED)
    assert view.check == ScheduleDefault("1m", None, 3, False)  # "1M" as parse_interval says
    assert view.maintenance == ScheduleDefault("", 5, 0, True)
    created = next(e for e in app.audit.recent(limit=5) if e.entity_type == "instrument_type")
    assert created.action == "create"
    edited = app.types.edit("Balance", TypeChanges(check=ScheduleDefault("6m")))
    assert (edited.check, edited.version) == (ScheduleDefault("6m"), 2)
    removed = app.types.edit("Balance", TypeChanges(maintenance=ScheduleDefault()))
    assert removed.maintenance is None and removed.check == ScheduleDefault("6m")
    with pytest.raises(ConflictError):
        app.types.edit("Balance", TypeChanges(check=ScheduleDefault("2m")), expected_version=1)
    # The export carries them; an import reads them back.
    document = type_document([app.types.get("Balance")])
    assert document["types"][0]["check"] == {
        "every": "6m",
        "soon_days": None,
        "grace_days": 0,
        "before_use": False,
    }
    assert "maintenance" not in document["types"][0]
    document["types"][0]["name"] = "Balance 2"
    assert app.types.import_document(document) == ["Balance 2"]
    assert app.types.get("Balance 2").check == ScheduleDefault("6m")
    assert app.maintenance.verify(deep=True).problems == []


def test_bad_defaults_are_refused_by_the_schedule_rule(app: CalTrack) -> None:
    bad = TypeInput(
        name="X",
        check=ScheduleDefault("3w"),
        maintenance=ScheduleDefault("1m", grace_days=-1, soon_days=99999),
    )
    with pytest.raises(ValidationError) as refused:
        app.types.add(bad)
    assert set(refused.value.fields) == {
        "check_every",
        "maintenance_grace_days",
        "maintenance_soon_days",
    }
    assert "not an interval" in refused.value.fields["check_every"]
    with pytest.raises(ValidationError) as huge:
        app.types.add(TypeInput(name="X", check=ScheduleDefault("99999999999999d")))
    assert "between 1 and 36500 days" in huge.value.fields["check_every"]
    assert app.types.list() == []
    document = type_document([])
    document["types"] = [{"name": "Y", "check": {"every": 30}}]
    with pytest.raises(ValidationError) as wrong:
        app.types.import_document(document)
    assert "Y: check is" in next(iter(wrong.value.fields.values()))


def test_a_new_instrument_of_a_type_gets_its_default_schedules(app: CalTrack) -> None:
    app.types.add(CHECKED)
    _add(app, "BAL-1", "Balance")
    # Set today: the check is due one month on, the maintenance before the first use.
    assert _schedules(app, "BAL-1") == {
        "check": ("1m", 3, False, date(2026, 12, 23)),
        "maintenance": ("", 0, True, None),
    }
    assert app.schedules.due_before_use("BAL-1") == ["maintenance"]
    trail = [e for e in app.audit.recent(limit=10) if e.entity_type == "schedule"]
    assert {(e.action, e.reason) for e in trail} == {("create", "default schedule of type Balance")}
    add_thermometer(app, "TH-1")  # no type: no schedules
    assert _schedules(app, "TH-1") == {}
    assert app.maintenance.verify(deep=True).problems == []


def test_setting_or_changing_the_type_keeps_the_instruments_own_schedules(
    app: CalTrack,
) -> None:
    app.types.add(CHECKED)
    app.types.add(TypeInput(name="Scale", check=ScheduleDefault("2m")))
    add_thermometer(app, "BAL-1")
    app.schedules.set("BAL-1", ScheduleInput("check", every="10d"))
    app.instruments.edit("BAL-1", InstrumentChanges(), type_name="Balance")
    # Its own check stays; the maintenance it had none of comes from the type.
    assert _schedules(app, "BAL-1") == {
        "check": ("10d", 0, False, date(2026, 12, 3)),
        "maintenance": ("", 0, True, None),
    }
    # A cleared schedule is the instrument's own choice: a new type does not restart it.
    app.schedules.clear("BAL-1", "check", reason="checked at each calibration instead")
    app.instruments.edit("BAL-1", InstrumentChanges(), type_name="Scale")
    assert set(_schedules(app, "BAL-1")) == {"maintenance"}
    # An edit that keeps the type gives nothing again.
    app.instruments.edit("BAL-1", InstrumentChanges(description="Lab balance"))
    assert set(_schedules(app, "BAL-1")) == {"maintenance"}
    assert app.maintenance.verify(deep=True).problems == []


def test_a_changed_default_reaches_instruments_only_when_asked(app: CalTrack) -> None:
    app.types.add(TypeInput(name="Balance"))
    _add(app, "BAL-1", "Balance")
    _add(app, "BAL-2", "Balance")
    _add(app, "BAL-3", "Balance", status="retired")
    app.schedules.set("BAL-2", ScheduleInput("check", every="10d"))
    app.types.edit("Balance", TypeChanges(check=ScheduleDefault("3m", grace_days=2)))
    assert _schedules(app, "BAL-1") == {}  # not rewritten by the edit
    assert app.types.apply_defaults("Balance", dry_run=True) == {"check": ["BAL-1"]}
    assert _schedules(app, "BAL-1") == {}
    given = app.types.apply_defaults("Balance", reason="new check plan")
    assert given == {"check": ["BAL-1"]}
    assert _schedules(app, "BAL-1") == {"check": ("3m", 2, False, date(2027, 2, 23))}
    assert _schedules(app, "BAL-2")["check"][0] == "10d"  # its own, kept
    assert _schedules(app, "BAL-3") == {}  # retired: left out
    event = next(e for e in app.audit.recent(limit=5) if e.entity_type == "schedule")
    assert event.reason == "default schedule of type Balance; new check plan"
    assert app.types.apply_defaults("Balance") == {"check": []}  # nothing left to give
    assert app.maintenance.verify(deep=True).problems == []


def test_an_import_into_a_type_gives_its_defaults(app: CalTrack, tmp_path: Path) -> None:
    app.types.add(CHECKED)
    path = tmp_path / "balances.csv"
    path.write_text("Tag,Description,Instrument type\nBAL-7,Balance,balance\n", "utf-8")
    result = app.transfer.import_file(path, ImportOptions(kind="instruments"))
    assert result.committed, result.issues
    assert set(_schedules(app, "BAL-7")) == {"check", "maintenance"}
    assert app.maintenance.verify(deep=True).problems == []


def test_verify_notices_a_default_changed_behind_caltracks_back(app: CalTrack, db_url: str) -> None:
    app.types.add(CHECKED)
    assert app.maintenance.verify().problems == []
    tamper(db_url, "UPDATE instrument_type SET check_every = '12m'")
    problems = app.maintenance.verify().problems
    assert any("instrument_type Balance" in p and "check_every" in p for p in problems), problems
