"""Issue 14's fields under the audit trail and signatures: a signature on a record with
U and a guarded rule covers them, and `db verify` replays them; changing one behind
CalTrack's back (sqlite3 or psql, as the owner) is caught both ways."""

from __future__ import annotations

import pytest

from app.clock import FixedClock
from app.identity import Identity
from app.services.dto import CalibrationInput, PointInput
from tests.conftest import add_thermometer
from tests.integration.helpers import open_lab, tamper
from tests.unit.qa_helpers import PASSWORD


def _signed_guarded_record(db_url: str, clock: FixedClock, alice: Identity) -> int:
    with open_lab(db_url, create=True, identity=alice, clock=clock) as app:
        add_thermometer(app)
        app.accounts.set_signing_password(PASSWORD)  # alice created it: an admin signs
        record = app.calibrations.add(
            "TH-001",
            CalibrationInput(
                performed_on="2026-11-20",
                result="pass",
                decision_rule="guard r=1 binary",
                points=(PointInput(20.0, 20.3, 20.3, 0.5, "°C", 0.1, 2.0),),
            ),
        )
        app.signatures.sign_record(record.id, meaning="reviewed", password=PASSWORD)
        assert app.calibrations.get(record.id).signatures[0].intact
        assert app.maintenance.verify(deep=True).problems == []
        return record.id


@pytest.mark.parametrize(
    ("sql", "field"),
    [
        # U 0.1 → 0.05 would turn 20.45 from fail to pass: the guard band it sets is signed.
        ("UPDATE measurement_point SET uncertainty = 0.05", "points"),
        # Back to simple acceptance, the meaning NULL has on old records.
        ("UPDATE calibration_record SET decision_rule = NULL", "decision_rule"),
        ("UPDATE calibration_record SET tur_justification = 'none needed'", "tur_justification"),
    ],
)
def test_a_metrology_field_changed_outside_breaks_the_signature_and_verify(
    db_url: str, clock: FixedClock, alice: Identity, sql: str, field: str
) -> None:
    record_id = _signed_guarded_record(db_url, clock, alice)
    tamper(db_url, sql)
    with open_lab(db_url, identity=alice, clock=clock) as app:
        assert not app.calibrations.get(record_id).signatures[0].intact
        problems = app.maintenance.verify(deep=True).problems
    assert any(
        f"#{record_id}" in p and "differs from its audit trail" in p and field in p
        for p in problems
    ), problems
