"""Providers and send-out batches: the register, sending out, receiving, the compare (issue 15).

Every test runs on SQLite and on the private PostgreSQL server (``app`` / ``db_url``).
The thermometer's readings are judged by ±0.5 °C around each nominal under the lab's
default rule (simple acceptance): 20.7 at 20 is outside 19.5 … 20.5.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.errors import ConflictError, NotAllowedError, NotFoundError, ValidationError
from app.services.dto import CalibrationInput
from app.services.provider_views import ProviderChanges, ProviderInput
from app.services.sendouts import parse_batch_id
from tests.conftest import add_thermometer
from tests.integration.helpers import scalar, tamper
from tests.unit.qa_helpers import BOB, open_as, reading

CALCO = ProviderInput(
    name="CalCo Labs",
    contact="Jo Smith, +44 20 7946 0000",
    accreditation_body="UKAS",
    accreditation_number="0123",
    scope="Temperature -50 to 500 °C",
    approval="approved",
    review_date="2027-06-30",
)


def _events(db: str) -> int:
    return int(str(scalar(db, "SELECT COUNT(*) FROM audit_event")))


def _certificate(*points: tuple[float, float]) -> CalibrationInput:
    return CalibrationInput(
        performed_on="2026-11-20",  # while it was with the provider
        result="pass",
        certificate_number="C-7781",
        points=tuple(reading(n, found) for n, found in points),
    )


def test_the_register_keeps_a_provider_edits_it_and_retires_it(app: CalTrack, db_url: str) -> None:
    added = app.providers.add(CALCO)
    assert (added.approval, str(added.review_date), added.version) == (
        "approved",
        "2027-06-30",
        1,
    )
    # Names compare like tags: case and look-alike letters are the same provider.
    with pytest.raises(ValidationError, match="already the provider 'CalCo Labs'"):
        app.providers.add(ProviderInput(name="CALCO LABS"))
    # A Cyrillic С and а in "СаlCo Labs" would make a second provider that reads the
    # same: refused as such a tag is, on add and on edit.
    with pytest.raises(ValidationError, match="name: mixes Cyrillic and Latin letters"):
        app.providers.add(ProviderInput(name="\u0421\u0430lCo Labs"))
    with pytest.raises(ValidationError, match="name: mixes Latin and Cyrillic letters"):
        app.providers.edit("CalCo Labs", ProviderChanges(name="Cal\u0421o Labs"))
    edited = app.providers.edit(
        "calco labs",
        ProviderChanges(approval="conditionally approved", scope="Temperature only"),
        expected_version=1,
    )
    assert (edited.approval, edited.approval_label, edited.version) == (
        "conditionally_approved",
        "Conditionally approved",
        2,
    )
    with pytest.raises(ConflictError):
        app.providers.edit("CalCo Labs", ProviderChanges(contact="x"), expected_version=1)
    with pytest.raises(ValidationError, match="approval: must be one of approved"):
        app.providers.edit("CalCo Labs", ProviderChanges(approval="maybe"))
    with pytest.raises(ValidationError, match="reason"):
        app.providers.retire("CalCo Labs", reason=" ")
    retired = app.providers.retire("CalCo Labs", reason="accreditation withdrawn")
    assert retired.retired and retired.retire_reason == "accreditation withdrawn"
    assert [p.name for p in app.providers.list(include_retired=False)] == []
    with pytest.raises(ValidationError, match="retired"):
        app.sendouts.create("CalCo Labs", ["TH-001"])
    # Retired stays as it was retired: only reinstating (QA, with a reason) changes it.
    with pytest.raises(ValidationError, match=r"is retired .*reinstate it before changing"):
        app.providers.edit("CalCo Labs", ProviderChanges(contact="new number"))
    with pytest.raises(ValidationError, match="reason"):
        app.providers.reinstate("CalCo Labs", reason="")
    back = app.providers.reinstate("CalCo Labs", reason="accreditation renewed")
    assert (back.retired, back.retire_reason, back.version) == (False, "", retired.version + 1)
    with pytest.raises(ValidationError, match="CalCo Labs is not retired"):
        app.providers.reinstate("CalCo Labs", reason="again")
    assert app.providers.edit("CalCo Labs", ProviderChanges(contact="new number")).contact == (
        "new number"
    )
    assert app.maintenance.verify().clean
    app.providers.retire("CalCo Labs", reason="accreditation withdrawn")
    # Changed behind CalTrack's back: verify's replay says so.
    tamper(db_url, "UPDATE provider SET approval = 'approved'")
    assert any("provider CalCo Labs" in p for p in app.maintenance.verify().problems)


def test_technicians_read_providers_and_only_qa_keeps_them(
    app: CalTrack, db_url: str, clock: FixedClock
) -> None:
    app.providers.add(CALCO)
    add_thermometer(app)
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        assert [p.name for p in bob.providers.list()] == ["CalCo Labs"]
        with pytest.raises(NotAllowedError, match="only QA reviewers may add providers"):
            bob.providers.add(ProviderInput(name="Other"))
        with pytest.raises(NotAllowedError, match="edit providers"):
            bob.providers.edit("CalCo Labs", ProviderChanges(contact="x"))
        # A technician sends out and receives.
        batch = bob.sendouts.create("CalCo Labs", ["TH-001"], po_number="PO-1")
        assert bob.sendouts.receive(batch.id).state == "back"


def test_a_provider_not_approved_needs_a_reason_kept_in_the_trail(
    app: CalTrack, db_url: str
) -> None:
    app.providers.add(ProviderInput(name="Cheap Cal", approval="not approved"))
    add_thermometer(app)
    before = _events(db_url)
    with pytest.raises(ValidationError, match="Cheap Cal is not an approved provider"):
        app.sendouts.create("Cheap Cal", ["TH-001"])
    assert _events(db_url) == before  # nothing written
    batch = app.sendouts.create(
        "cheap cal", ["th-001"], reason="only lab with a 1000 °C furnace", cost="120.50"
    )
    assert (batch.approval_reason, batch.cost, batch.provider_approval) == (
        "only lab with a 1000 °C furnace",
        120.5,
        "not_approved",
    )
    reason = scalar(
        db_url,
        "SELECT reason FROM audit_event WHERE entity_type = 'sendout_batch' AND action = 'create'",
    )
    assert reason == "only lab with a 1000 °C furnace"


def test_bad_input_to_a_batch_is_refused_with_the_reason(app: CalTrack) -> None:
    app.providers.add(CALCO)
    add_thermometer(app)
    add_thermometer(app, "TH-002")
    for kwargs, message in (
        ({"cost": "-5"}, "cost: must be an amount from 0 to 1,000,000,000"),
        ({"cost": "1e99"}, "cost: must be an amount from 0"),
        # The one cap of every cost (maintenance has it too): validation.MAX_COST.
        ({"cost": "1000000000.01"}, "cost: must be an amount from 0 to 1,000,000,000"),
        ({"cost": "nan"}, "cost: must be a number"),
        ({"cost": "lots"}, "cost: must be a number"),
        ({"sent_on": "2026-13-40"}, "sent_on"),
        ({"sent_on": "2099-01-01"}, "in the future"),
        ({"expected_return": "2026-01-01"}, "before the day they were sent"),
    ):
        with pytest.raises(ValidationError, match=message):
            app.sendouts.create("CalCo Labs", ["TH-001"], **kwargs)
    with pytest.raises(ValidationError, match="named twice: TH-001"):
        app.sendouts.create("CalCo Labs", ["TH-001", "th-001"])
    with pytest.raises(NotFoundError, match="no instrument with asset tag 'NOPE'"):
        app.sendouts.create("CalCo Labs", ["NOPE"])
    with pytest.raises(NotFoundError, match="no provider named"):
        app.sendouts.create("Nobody", ["TH-001"])
    app.sendouts.create("CalCo Labs", ["TH-001"])
    with pytest.raises(ValidationError, match="TH-001 is already out in SO-1"):
        app.sendouts.create("CalCo Labs", ["TH-002", "TH-001"])
    assert parse_batch_id("so-12") == 12
    with pytest.raises(ValidationError, match="not a batch number"):
        parse_batch_id("SO-x")


def test_receiving_one_then_the_rest(app: CalTrack, clock: FixedClock) -> None:
    app.providers.add(CALCO)
    add_thermometer(app)
    add_thermometer(app, "TH-002")
    batch = app.sendouts.create(
        "CalCo Labs", ["TH-001", "TH-002"], sent_on="2026-11-01", expected_return="2026-11-15"
    )
    assert batch.state == "out" and batch.label == "SO-1"
    part = app.sendouts.receive(batch.id, ["th-002"], received_on="2026-11-10")
    assert part.state == "partly back" and part.outstanding == 1
    with pytest.raises(ValidationError, match="already received: TH-002"):
        app.sendouts.receive(batch.id, ["TH-002"])
    with pytest.raises(ValidationError, match="before the batch was sent"):
        app.sendouts.receive(batch.id, received_on="2026-10-01")
    with pytest.raises(ConflictError):
        app.sendouts.receive(batch.id, expected_version=batch.version)
    rest = app.sendouts.receive(batch.id)
    assert rest.state == "back"
    # The batch's events are in each of its instruments' audit trails.
    trail = [(e.entity_type, e.action) for e in app.instruments.history("TH-002").audit]
    assert [a for t, a in trail if t == "sendout_batch"] == ["create", "receive", "receive"]
    assert [str(i.received_on) for i in rest.items] == [str(clock.today()), "2026-11-10"]
    with pytest.raises(ValidationError, match="every instrument of SO-1 is back already"):
        app.sendouts.receive(batch.id)
    assert app.maintenance.verify().clean


def test_the_compare_catches_a_provider_pass_that_fails_the_labs_limits(
    app: CalTrack, db_url: str
) -> None:
    app.providers.add(CALCO)
    add_thermometer(app)
    add_thermometer(app, "TH-002")
    batch = app.sendouts.create("CalCo Labs", ["TH-001", "TH-002"], sent_on="2026-11-01")
    with pytest.raises(ValidationError, match="not received yet"):
        app.sendouts.record_certificate(batch.id, "TH-001", "pass", _certificate((20, 20.1)))
    app.sendouts.receive(batch.id, received_on="2026-11-21")
    prefill = app.sendouts.prefill(batch.id, "TH-001")
    assert (prefill.provider_kind, prefill.provider_name) == ("external", "CalCo Labs")

    early = replace(_certificate((20, 20.1)), performed_on="2026-10-01")
    with pytest.raises(ValidationError, match="not while TH-001 was with the provider"):
        app.sendouts.record_certificate(batch.id, "TH-001", "pass", early)

    agreed = app.sendouts.record_certificate(
        batch.id, "TH-001", "pass", _certificate((20, 20.1), (100, 100.2))
    )
    assert not agreed.disagrees and agreed.oot_case_id is None
    assert "agrees" in agreed.sentence

    # The certificate says pass; 20.7 at 20 °C is outside the lab's ±0.5.
    caught = app.sendouts.record_certificate(
        batch.id, "TH-002", "pass", _certificate((20, 20.7), (100, 100.2))
    )
    assert caught.disagrees
    assert (caught.provider_result, caught.lab_result) == ("pass", "fail")
    assert caught.problems == (
        "point 1 as found 20.7 °C is fail against 19.5 … 20.5",
        "point 1 as left 20.7 °C is fail against 19.5 … 20.5",
    )
    assert "provider reported PASS but the lab's limits" in caught.sentence
    # Recorded as the lab's result, external and named after the provider; the failure
    # found opens an out-of-tolerance case as any failed calibration does.
    record = app.calibrations.get(caught.record_id)
    assert (record.result, record.provider_kind, record.provider_name) == (
        "fail",
        "external",
        "CalCo Labs",
    )
    assert caught.oot_case_id is not None and record.oot_case_id == caught.oot_case_id
    assert app.instruments.get("TH-002").lifecycle == "out_of_service"
    shown = app.sendouts.get(batch.id)
    assert [i.compare_text for i in shown.items] == [
        "agrees (pass)",
        "DIFFERS — provider: pass; lab's limits: fail",
    ]
    with pytest.raises(ValidationError, match="already recorded as calibration"):
        app.sendouts.record_certificate(batch.id, "TH-002", "pass", _certificate((20, 20.1)))
    (line,) = [t for t in app.sendouts.turnaround() if t.provider == "CalCo Labs"]
    assert (line.instruments, line.returned, line.mean_days, line.disagreements) == (2, 2, 20.0, 1)
    assert app.maintenance.verify().clean
    tamper(db_url, "UPDATE sendout_item SET lab_result = 'pass'")
    assert any("sendout_batch SO-1" in p for p in app.maintenance.verify().problems)


def test_the_export_carries_providers_and_send_outs(app: CalTrack, tmp_path: Path) -> None:
    plain = app.transfer.export("xlsx", tmp_path / "plain.xlsx")
    assert load_workbook(plain.files[0]).sheetnames == [
        "Instruments",
        "Calibrations",
        "Custody",
        "Maintenance",
    ]
    app.providers.add(CALCO)
    add_thermometer(app)
    add_thermometer(app, "TH-002")
    batch = app.sendouts.create(
        "CalCo Labs", ["TH-001", "TH-002"], sent_on="2026-11-01", po_number="PO-9", cost=80
    )
    app.sendouts.receive(batch.id, ["TH-002"], received_on="2026-11-10")
    book = load_workbook(app.transfer.export("xlsx", tmp_path / "lab.xlsx").files[0])
    assert book.sheetnames == [
        "Instruments",
        "Calibrations",
        "Custody",
        "Maintenance",
        "Providers",
        "Send-outs",
    ]
    providers = [[c.value for c in row] for row in book["Providers"].iter_rows()]
    assert providers[1][:5] == ["CalCo Labs", "Approved", datetime(2027, 6, 30), "UKAS", "0123"]
    sent = [[c.value for c in row] for row in book["Send-outs"].iter_rows()]
    assert [(r[0], r[4], r[5], r[7], r[8]) for r in sent[1:]] == [
        ("SO-1", "PO-9", 80, "TH-001", None),
        ("SO-1", "PO-9", None, "TH-002", datetime(2026, 11, 10)),
    ]
    csv = app.transfer.export("csv", tmp_path / "lab.csv")
    assert [Path(f).name for f in csv.files] == [
        "lab-instruments.csv",
        "lab-calibrations.csv",
        "lab-custody.csv",
        "lab-maintenance.csv",
        "lab-providers.csv",
        "lab-sendouts.csv",
    ]
    lines = Path(csv.files[5]).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("Batch,Provider,Sent on,Expected return,PO number,Batch cost")
    assert lines[2].startswith("SO-1,CalCo Labs,2026-11-01,,PO-9,,")


def test_a_provider_that_adjusted_and_a_certificate_without_readings(app: CalTrack) -> None:
    app.providers.add(CALCO)
    add_thermometer(app)
    add_thermometer(app, "TH-002")
    batch = app.sendouts.create("CalCo Labs", ["TH-001", "TH-002"], sent_on="2026-11-01")
    app.sendouts.receive(batch.id, received_on="2026-11-21")
    # Found at 20.7 (outside 19.5 … 20.5), left at 20.1: the lab's limits say adjusted too.
    adjusted = replace(_certificate(), points=(reading(20, 20.7, 20.1),), certificate_number="C-1")
    compare = app.sendouts.record_certificate(batch.id, "TH-001", "adjusted", adjusted)
    assert (compare.lab_result, compare.disagrees) == ("adjusted", False)
    record = app.calibrations.get(compare.record_id)
    assert record.result == "adjusted" and record.adjustment_made
    assert compare.oot_case_id is not None  # found out of tolerance: a case, as always
    # No readings on the certificate: nothing to judge, its result recorded as stated.
    bare = app.sendouts.record_certificate(batch.id, "TH-002", "pass", _certificate())
    assert (bare.provider_result, bare.lab_result, bare.judged) == ("pass", "pass", False)
    assert "gives no readings, so the lab's limits could not check it" in bare.sentence
    item = app.sendouts.get(batch.id).items[1]
    assert (item.provider_result, item.lab_result) == ("pass", "")
    assert item.compare_text == "provider: pass; no readings to compare"
