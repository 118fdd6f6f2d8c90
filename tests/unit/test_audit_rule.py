"""One rule for the events about an instrument, and the trail read as a person reads it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.bootstrap import CalTrack
from app.reports.pdf import render_pdf
from app.services.audit import entity_name, readable_changes
from app.services.dto import AuditView
from tests.ui.test_qa_dialogs import build_lab
from tests.unit.qa_helpers import PASSWORD


def ids(events: list[AuditView]) -> list[int]:
    return [e.id for e in events]


def test_a_tag_finds_what_the_instrument_history_shows(app: CalTrack, tmp_path: Path) -> None:
    build_lab(app)
    ref = app.calibrations.history("REF-1")
    app.signatures.sign_record(ref[0].id, meaning="reviewed", password=PASSWORD)
    certificate = tmp_path / "cert.pdf"
    certificate.write_bytes(b"%PDF-1.4 certificate")
    app.attachments.add("REF-1", certificate, record_id=ref[0].id)
    case = app.oot.list()[0]
    app.oot.assess(case.id, impact_assessment="No impact.", disposition="no_impact")
    app.oot.close(case.id, password=PASSWORD)

    history = app.instruments.history("REF-1").audit
    kinds = {e.entity_type for e in history}
    assert kinds == {"instrument", "calibration", "signature", "attachment", "oot_case"}
    # Both signatures: the record's and the one that closed the case.
    assert sum(1 for e in history if e.entity_type == "signature") == 2
    found = app.audit.search(entity="ref-1", limit=None)  # as typed, any case
    assert ids(found) == ids(history)
    newest = app.audit.search(entity="REF-1", limit=3, newest_first=True)
    assert ids(newest) == ids(history)[::-1][:3]
    # TH-001's trail holds none of REF-1's events; a label that is no tag still matches.
    assert not set(ids(app.audit.search(entity="TH-001", limit=None))) & set(ids(history))
    assert "oot_case" in {e.entity_type for e in app.audit.search(entity="OOT-1", limit=None)}


def test_readings_and_names_read_as_a_person_says_them(app: CalTrack) -> None:
    build_lab(app)
    (created,) = [
        e
        for e in app.instruments.history("REF-1").audit
        if e.entity_type == "calibration" and e.action == "create" and "#4" in e.entity_label
    ]
    rows = readable_changes(created)
    assert ("Reading 1", None, "nominal 0 °C, as found 0.9, as left 0.1, ± 0.5") in rows
    assert all(label != "Points" for label, _b, _a in rows)
    assert entity_name("oot_case") == "Out-of-tolerance case"
    assert entity_name("some_new_thing") == "Some new thing"


@pytest.mark.slow  # renders a PDF and reads it back
def test_the_printed_history_reads_as_a_person_says_it_with_no_blank_page(
    app: CalTrack, qapp: object
) -> None:
    # qapp: a QApplication, not the bare QGuiApplication printing would start, so that
    # window tests in the same run can still make widgets.
    build_lab(app)
    data = render_pdf(app.reports.history("REF-1"))
    pages = PdfReader(io.BytesIO(data)).pages
    text = " ".join(" ".join(p.extract_text() for p in pages).split())
    assert "Out-of-tolerance case OOT-1" in text and "Oot case" not in text
    assert "Reading 1 nominal 0 °C, as found 0.9, as left 0.1, ± 0.5" in text
    assert "[[" not in text
    # Its Attachments heading ended page 1 once and moved two pages on: a blank page.
    for number, page in enumerate(pages, start=1):
        body = [line for line in page.extract_text().splitlines()[4:] if line.strip()]
        assert body, f"page {number} holds only its header and footer"
