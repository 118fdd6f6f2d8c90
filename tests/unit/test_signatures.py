"""QA signs calibration records: password, meaning, manifestation, and what signing locks."""

from __future__ import annotations

import pytest

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.errors import ConflictError, NotAllowedError, ValidationError
from app.services.dto import CalibrationInput
from tests.conftest import add_thermometer
from tests.integration.helpers import tamper
from tests.unit.qa_helpers import ALICE, BOB, PASSWORD, QUINN, calibrate, make_qa, open_as


@pytest.fixture
def recorded(app: CalTrack, db_url: str, clock: FixedClock) -> int:
    """TH-001 with one calibration (by alice), quinn is QA with a password; app closed."""
    add_thermometer(app)
    record_id = calibrate(app, "TH-001", "2026-11-20")
    make_qa(app, db_url, clock)
    return record_id


def test_qa_signs_and_the_signature_shows_who_what_when(
    recorded: int, db_url: str, clock: FixedClock
) -> None:
    with open_as(db_url, QUINN, clock) as qa:
        sig = qa.signatures.sign_record(
            recorded, meaning="reviewed", password=PASSWORD, comment="readings checked"
        )
        assert (sig.signer, sig.printed_name, sig.meaning) == (
            "quinn",
            "Quinn Q. Reviewer",
            "reviewed",
        )
        assert sig.manifestation == (
            "Reviewed by Quinn Q. Reviewer (quinn) on 2026-11-23 09:30:00 UTC"
        )
        (view,) = qa.calibrations.history("TH-001")
        assert view.signed and view.signatures[0].intact
        assert view.signatures[0].comment == "readings checked"
        # The same person does not sign the same meaning twice; approving is another one.
        with pytest.raises(ValidationError, match="already signed"):
            qa.signatures.sign_record(recorded, meaning="reviewed", password=PASSWORD)
        qa.signatures.sign_record(recorded, meaning="approved", password=PASSWORD)
        assert [s.meaning for s in qa.signatures.for_record(recorded)] == ["reviewed", "approved"]
        assert qa.maintenance.verify().problems == []


def test_a_wrong_password_is_refused_recorded_and_locks_after_five(
    recorded: int, db_url: str, clock: FixedClock
) -> None:
    with open_as(db_url, QUINN, clock) as qa:
        for _attempt in range(5):
            with pytest.raises(ValidationError, match="wrong signing password") as info:
                qa.signatures.sign_record(recorded, meaning="reviewed", password="guess")
            assert "recorded" in info.value.fields["password"]
        assert qa.signatures.for_record(recorded) == []
        # Newest first: five refusals since quinn set the password.
        attempts = [e.action for e in qa.audit.recent(entity_type="signing")]
        assert attempts == ["signature_refused"] * 5 + ["password_set"]
        # Locked now, even with the right password.
        with pytest.raises(NotAllowedError, match="locked"):
            qa.signatures.sign_record(recorded, meaning="reviewed", password=PASSWORD)
    with open_as(db_url, ALICE, clock) as admin:
        admin.accounts.reset_signing_password("quinn")
    with open_as(db_url, QUINN, clock) as qa:
        qa.accounts.set_signing_password("a brand new phrase")
        sig = qa.signatures.sign_record(recorded, meaning="reviewed", password="a brand new phrase")
        assert sig.signer == "quinn"
        assert qa.maintenance.verify().problems == []


def test_technicians_and_people_without_a_password_cannot_sign(
    recorded: int, db_url: str, clock: FixedClock
) -> None:
    with (
        open_as(db_url, BOB, clock) as bob,
        pytest.raises(NotAllowedError, match="only QA reviewers may"),
    ):
        bob.signatures.sign_record(recorded, meaning="reviewed", password=PASSWORD)
    with open_as(db_url, ALICE, clock) as admin:
        # An admin may sign, but only with a signing password of their own.
        with pytest.raises(NotAllowedError, match="set your signing password first"):
            admin.signatures.sign_record(recorded, meaning="reviewed", password="")
        assert admin.signatures.for_record(recorded) == []


def test_a_signed_record_is_locked_but_can_be_superseded_by_qa(
    recorded: int, db_url: str, clock: FixedClock
) -> None:
    with open_as(db_url, QUINN, clock) as qa:
        qa.signatures.sign_record(recorded, meaning="approved", password=PASSWORD)
    with open_as(db_url, BOB, clock) as bob:
        with pytest.raises(ValidationError, match="signed and can no longer be edited"):
            bob.calibrations.edit(recorded, {"notes": "typo"}, reason="typo")
        with pytest.raises(NotAllowedError, match="void a signed calibration record"):
            bob.calibrations.void(recorded, "wrong instrument")
        with pytest.raises(NotAllowedError):
            bob.calibrations.supersede(
                recorded, CalibrationInput(performed_on="2026-11-20", result="pass"), reason="x"
            )
    with open_as(db_url, QUINN, clock) as qa:
        new = qa.calibrations.supersede(
            recorded,
            CalibrationInput(
                performed_on="2026-11-21", result="pass", certificate_number="C-corrected"
            ),
            reason="wrong date on the certificate",
        )
        assert new.supersedes_id == recorded
        old, *_ = [c for c in qa.calibrations.history("TH-001") if c.id == recorded]
        assert old.voided and old.superseded_by_id == new.id
        assert old.void_reason == f"superseded by #{new.id}: wrong date on the certificate"
        # The signature stays on the voided record, still intact.
        assert old.signatures[0].intact
        detail = qa.instruments.get("TH-001")
        assert str(detail.last_calibrated) == "2026-11-21"
        assert qa.maintenance.verify().problems == []


def test_unsigned_records_are_corrected_with_a_reason_and_a_version(
    app: CalTrack,
) -> None:
    add_thermometer(app)
    record_id = calibrate(app, "TH-001", "2026-11-20")
    with pytest.raises(ValidationError) as info:
        app.calibrations.edit(record_id, {"result": "fail"}, reason="x")
    assert "supersede" in info.value.fields["result"]
    with pytest.raises(ValidationError, match="why"):
        app.calibrations.edit(record_id, {"notes": "x"}, reason=" ")
    view = app.calibrations.edit(
        record_id,
        {"certificate_number": "C-2026-118", "humidity_pct": "45,5"},
        reason="certificate arrived",
        expected_version=1,
    )
    assert (view.certificate_number, view.humidity_pct, view.version) == ("C-2026-118", 45.5, 2)
    with pytest.raises(ConflictError):
        app.calibrations.edit(record_id, {"notes": "late"}, reason="x", expected_version=1)
    (event,) = [e for e in app.audit.for_entity("calibration", record_id) if e.action == "update"]
    assert event.reason == "certificate arrived"
    assert event.changes["certificate_number"] == ["C-TH-001-2026-11-20", "C-2026-118"]
    assert app.maintenance.verify().problems == []


def test_verify_finds_a_signed_record_changed_outside(
    recorded: int, db_url: str, clock: FixedClock
) -> None:
    with open_as(db_url, QUINN, clock) as qa:
        qa.signatures.sign_record(recorded, meaning="approved", password=PASSWORD)
    tamper(
        db_url, f"UPDATE calibration_record SET certificate_number = 'FORGED' WHERE id = {recorded}"
    )
    with open_as(db_url, QUINN, clock) as qa:
        problems = qa.maintenance.verify().problems
        assert any("no longer matches what Quinn Q. Reviewer signed" in p for p in problems)
        (view,) = qa.calibrations.history("TH-001")
        assert not view.signatures[0].intact


def test_a_locked_password_cannot_be_changed_by_its_owner_and_wrong_current_ones_count(
    recorded: int, db_url: str, clock: FixedClock
) -> None:
    with open_as(db_url, QUINN, clock) as qa:
        for attempt in range(1, 5):
            with pytest.raises(ValidationError) as info:
                qa.accounts.set_signing_password("a brand new phrase", current="guess")
            assert f"{5 - attempt} more wrong attempt(s)" in info.value.fields["current_password"]
        with pytest.raises(ValidationError, match="wrong signing password"):
            qa.signatures.sign_record(recorded, meaning="reviewed", password="guess")
        attempts = [e.action for e in qa.audit.recent(entity_type="signing")]
        assert attempts == ["signature_refused"] * 5 + ["password_set"]
        # Locked: neither signing nor changing the password with the right one unlocks it.
        with pytest.raises(NotAllowedError, match="locked"):
            qa.accounts.set_signing_password("a brand new phrase", current=PASSWORD)
        with pytest.raises(NotAllowedError, match="locked"):
            qa.signatures.sign_record(recorded, meaning="reviewed", password=PASSWORD)
        assert len(qa.audit.recent(entity_type="signing")) == 6


def test_a_first_signing_password_creates_an_audited_account(
    db_url: str, app: CalTrack, clock: FixedClock
) -> None:
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        me = bob.accounts.set_signing_password("bobs own phrase")
        assert (me.login, me.role, me.known, me.has_signing_password) == (
            "bob",
            "technician",
            True,
            True,
        )
        (event,) = [
            e for e in bob.audit.recent(entity_type="user_account") if e.entity_label == "bob"
        ]
        assert event.action == "create"
        assert event.changes["role"] == [None, "technician"]
        assert bob.maintenance.verify().problems == []


def test_verify_names_a_signature_changed_outside_once(
    recorded: int, db_url: str, clock: FixedClock
) -> None:
    with open_as(db_url, QUINN, clock) as qa:
        sig = qa.signatures.sign_record(recorded, meaning="reviewed", password=PASSWORD)
    tamper(db_url, f"UPDATE signature SET comment = 'forged' WHERE id = {sig.id}")
    with open_as(db_url, QUINN, clock) as qa:
        problems = qa.maintenance.verify().problems
    named = [p for p in problems if "differs from its audit trail" in p]
    assert named and named[0].startswith(f"signature #{sig.id} differs"), problems
