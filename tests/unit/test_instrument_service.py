"""InstrumentService on a real database file: validation, due rules, conflicts, audit."""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Any

import pytest

from app.bootstrap import CalTrack
from app.errors import ConflictError, NotFoundError, ValidationError
from app.services.dto import InstrumentChanges, InstrumentInput
from app.services.validation import INSTRUMENT_FIELDS, instrument_changes, instrument_input
from tests.conftest import add_thermometer


def test_add_returns_detail_and_writes_one_audit_event(app: CalTrack) -> None:
    detail = app.instruments.add(
        InstrumentInput(
            asset_tag="TH-001", description="Thermometer", calibration_interval_days=180
        )
    )
    assert detail.asset_tag == "TH-001"
    assert detail.calibration_interval_days == 180
    assert detail.version == 1
    assert detail.due_status == "not-calibrated"  # not late, but not to be used yet
    events = app.audit.for_entity("instrument", detail.id)
    assert [e.action for e in events] == ["create"]
    assert events[0].user == "alice" and events[0].machine == "LAB-PC-3"
    assert events[0].changes["description"] == [None, "Thermometer"]


def test_interval_defaults_to_a_year(app: CalTrack) -> None:
    detail = app.instruments.add(InstrumentInput(asset_tag="X-1", description="Timer"))
    assert detail.calibration_interval_days == 365


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"asset_tag": "", "description": "d"}, "asset_tag"),
        ({"asset_tag": "A" * 300, "description": "d"}, "asset_tag"),
        ({"asset_tag": "A1", "description": ""}, "description"),
        (
            {"asset_tag": "A1", "description": "d", "calibration_interval_days": 0},
            "calibration_interval_days",
        ),
        (
            {"asset_tag": "A1", "description": "d", "calibration_interval_days": "x"},
            "calibration_interval_days",
        ),
        ({"asset_tag": "A1", "description": "d", "status": "broken"}, "status"),
        ({"asset_tag": "A\x001", "description": "d"}, "asset_tag"),
        ({"asset_tag": "A1", "description": "d", "colour": "red"}, "colour"),
    ],
)
def test_add_rejects_bad_fields(app: CalTrack, values: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        app.instruments.add(instrument_input(values))
    assert field in info.value.fields
    assert app.instruments.list().total == 0
    assert app.audit.recent(entity_type="instrument") == []


def test_raw_text_is_read_as_the_form_and_the_cli_give_it(app: CalTrack) -> None:
    data = instrument_input(
        {"asset_tag": " A1 ", "description": "d", "status": "Out-of service", "grace_days": "7"}
    )
    assert data == InstrumentInput(
        asset_tag="A1", description="d", status="out_of_service", grace_days=7
    )
    assert instrument_changes({"notes": None, "calibration_interval_days": " 90"}) == (
        InstrumentChanges(notes="", calibration_interval_days=90)
    )


@pytest.mark.parametrize(
    "values",
    [
        {"asset_tag": "", "description": "d"},
        {"asset_tag": "A" * 300, "description": "d"},
        {"asset_tag": "A1", "description": ""},
        {"asset_tag": "A1", "description": "d", "calibration_interval_days": 0},
        {"asset_tag": "A1", "description": "d", "grace_days": -1},
        {"asset_tag": "A\x001", "description": "d"},
        {"asset_tag": "A1", "description": "d", "notes": "x" * 5000},
    ],
)
def test_the_service_checks_a_typed_input_as_it_checks_raw_text(
    app: CalTrack, values: dict[str, Any]
) -> None:
    """A typed input built in code meets the same field rules, word for word."""
    with pytest.raises(ValidationError) as raw:
        instrument_input(values)
    with pytest.raises(ValidationError) as typed:
        app.instruments.add(InstrumentInput(**values))
    assert typed.value.fields == raw.value.fields
    add_thermometer(app)
    changes = {k: v for k, v in values.items() if v not in ("A1", "d")}  # only the bad one
    with pytest.raises(ValidationError) as raw:
        instrument_changes(changes)
    with pytest.raises(ValidationError) as typed:
        app.instruments.edit("TH-001", InstrumentChanges(**changes))
    assert typed.value.fields == raw.value.fields
    assert app.audit.recent(entity_type="instrument")[0].action == "create"


def test_asset_tag_is_unique_ignoring_case(app: CalTrack) -> None:
    add_thermometer(app, "TH-001")
    with pytest.raises(ValidationError) as info:
        add_thermometer(app, "th-001")
    assert "already used" in info.value.fields["asset_tag"]
    assert app.instruments.list().total == 1


def test_edit_with_current_version_saves_and_audits_fields(app: CalTrack) -> None:
    add_thermometer(app)
    loaded = app.instruments.get("th-001")
    saved = app.instruments.edit(
        "TH-001",
        InstrumentChanges(location="Lab 2", notes="moved"),
        expected_version=loaded.version,
        reason="relocation",
    )
    assert saved.version == loaded.version + 1
    assert saved.location == "Lab 2"
    update = app.audit.for_entity("instrument", saved.id)[-1]
    assert update.action == "update"
    assert update.changes == {"location": ["", "Lab 2"], "notes": ["", "moved"]}
    assert update.reason == "relocation"


def test_stale_edit_raises_conflict_with_both_sides(app: CalTrack) -> None:
    add_thermometer(app)
    v1 = app.instruments.get("TH-001").version
    app.instruments.edit("TH-001", InstrumentChanges(location="Lab 2"), expected_version=v1)
    with pytest.raises(ConflictError) as info:
        app.instruments.edit("TH-001", InstrumentChanges(location="Lab 9"), expected_version=v1)
    conflict = info.value
    assert conflict.yours.values == {"location": "Lab 9"}
    assert conflict.theirs.values["location"] == "Lab 2"
    assert conflict.theirs.changed_by == "alice"
    # Only what this edit saves: the stored description, serial… are not "changed".
    assert conflict.changed_fields == ["location"]
    assert app.instruments.get("TH-001").location == "Lab 2"


def test_edit_that_changes_nothing_writes_no_event(app: CalTrack) -> None:
    add_thermometer(app)
    before = len(app.audit.recent())
    detail = app.instruments.edit("TH-001", InstrumentChanges(manufacturer="Fluke"))
    assert detail.version == 1
    assert len(app.audit.recent()) == before


def test_changing_interval_moves_next_due(app: CalTrack) -> None:
    from app.services.dto import CalibrationInput

    add_thermometer(app)
    app.calibrations.add("TH-001", CalibrationInput(performed_on="2026-01-10", result="pass"))
    detail = app.instruments.edit("TH-001", InstrumentChanges(calibration_interval_days=30))
    assert str(detail.next_due) == "2026-02-09"


def test_unknown_tag_is_not_found(app: CalTrack) -> None:
    with pytest.raises(NotFoundError):
        app.instruments.get("NOPE")


def test_search_matches_every_word_across_fields(app: CalTrack) -> None:
    add_thermometer(app, "TH-001", manufacturer="Fluke", model="1524")
    add_thermometer(app, "TH-002", manufacturer="Testo", model="735", serial_number="50%_OFF")
    assert [r.asset_tag for r in app.instruments.list(search="fluke 1524").rows] == ["TH-001"]
    assert [r.asset_tag for r in app.instruments.list(search="50%").rows] == ["TH-002"]
    # LIKE wildcards in the search are literal characters.
    assert app.instruments.list(search="5_%").total == 0
    assert app.instruments.list(search="TH-00").total == 2


def test_status_filters_and_counts_agree(app: CalTrack) -> None:
    from app.services.dto import CalibrationInput

    add_thermometer(app, "OK-1")
    add_thermometer(app, "SOON-1")
    add_thermometer(app, "LATE-1")
    add_thermometer(app, "NEVER-1")
    add_thermometer(app, "OLD-1", status="retired")
    # The clock says 2026-11-23; the interval is 365 days.
    app.calibrations.add("OK-1", CalibrationInput(performed_on="2026-06-01", result="pass"))
    app.calibrations.add("SOON-1", CalibrationInput(performed_on="2025-12-10", result="pass"))
    app.calibrations.add("LATE-1", CalibrationInput(performed_on="2025-01-01", result="pass"))
    counts = app.instruments.status_counts()
    assert counts == {
        "ok": 1,
        "due-soon": 1,
        "overdue": 1,
        "not-calibrated": 1,  # NEVER-1: not late, its own filter
        "verify-before-use": 0,
        "not-required": 0,
        "out-of-service": 0,
        "retired": 1,
        "lost": 0,
        "to-review": 0,  # a mark across statuses, not a status
        # Issue 15: a check or maintenance due, across due statuses too.
        "check-due": 0,
        "maintenance-due": 0,
        "all": 5,
    }
    for status, n in counts.items():
        if status not in ("all", "to-review", "check-due", "maintenance-due"):
            page = app.instruments.list(status=status)
            assert page.total == n
            assert all(r.due_status == status for r in page.rows)


def test_list_sorts_in_the_database(app: CalTrack) -> None:
    for tag in ("B-2", "A-1", "C-3"):
        add_thermometer(app, tag)
    tags = [r.asset_tag for r in app.instruments.list(sort="asset_tag", descending=True).rows]
    assert tags == ["C-3", "B-2", "A-1"]
    page = app.instruments.list(sort="asset_tag", limit=1, offset=1)
    assert [r.asset_tag for r in page.rows] == ["B-2"] and page.total == 3


def test_bad_status_filter_is_a_validation_error(app: CalTrack) -> None:
    with pytest.raises(ValidationError):
        app.instruments.list(status="sideways")


def test_the_typed_inputs_name_every_field_the_rules_know() -> None:
    """InstrumentInput, InstrumentChanges and the field rules list the same fields."""
    assert [f.name for f in fields(InstrumentInput)] == list(INSTRUMENT_FIELDS)
    assert [f.name for f in fields(InstrumentChanges)] == list(INSTRUMENT_FIELDS)
    required = [f.name for f in fields(InstrumentInput) if f.default is MISSING]
    assert required == [name for name, spec in INSTRUMENT_FIELDS.items() if spec.required]
