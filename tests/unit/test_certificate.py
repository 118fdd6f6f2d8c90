"""The calibration certificate (issue 14): built from a real record, printed, read back.

On SQLite only: the certificate only reads, through the same services on both backends;
what a server adds (the groups writing the lab's name) is checked in
tests/integration/test_server_roles.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from app.bootstrap import CalTrack, open_caltrack
from app.clock import FixedClock
from app.errors import NotAllowedError, NotFoundError, ValidationError
from app.identity import Identity
from app.reports.output import write_report
from app.services.dto import CalibrationInput, PointInput
from app.services.settings import MAX_LOGO_BYTES, read_logo
from tests.conftest import add_thermometer, state_for
from tests.integration.helpers import tamper
from tests.unit.qa_helpers import BOB, PASSWORD, QUINN, make_qa, open_as, png

# The PDF is painted in this process, which needs a Qt application: pytest-qt's, so a
# window test later in the same run does not find a bare QGuiApplication instead.
pytestmark = pytest.mark.usefixtures("qapp")

LAB = "Acme Metrology Lab, Building 4"
GUARD_BINARY = "guard r=1 binary"


def pdf_text(path: Path) -> str:
    """The PDF's words, one space between each (the reader puts tabs between words)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


@pytest.fixture
def lab(db_path: Path, clock: FixedClock, alice: Identity) -> Iterator[tuple[CalTrack, int]]:
    """A thermometer calibrated with a standard, signed "approved" by QA; the lab named.

    The worked example of tests/unit/test_point_metrology.py: 100 °C, ±0.5 °C, U = 0.1 °C
    (k = 2); guarded acceptance w = U (ILAC G8:2019 4.2.2) moves the limits 99.5 … 100.5
    in to 99.6 … 100.4; TUR = 1.0 / (2 × 0.1) = 5.0:1. 100.4 found sits on the
    acceptance limit: a pass. The standard STD-01 was calibrated on 2026-03-02 with an
    interval of 365 days, so on the calibration day (2026-11-01) it was due 2027-03-02.
    """
    with open_caltrack(
        str(db_path), create=True, identity=alice, clock=clock, state_dir=state_for(db_path)
    ) as app:
        add_thermometer(app, "STD-01", description="Reference thermometer", serial_number="R-9")
        add_thermometer(app)
        app.calibrations.add(
            "STD-01",
            CalibrationInput(performed_on="2026-03-02", result="pass", certificate_number="C-77"),
        )
        record = app.calibrations.add(
            "TH-001",
            CalibrationInput(
                performed_on="2026-11-01",
                result="pass",
                performed_by="Bob Tech",
                temperature_c=21.5,
                humidity_pct=40,
                points=(PointInput(100.0, 100.4, 100.4, 0.5, "°C", 0.1, 2.0),),
                standards=("STD-01",),
                decision_rule=GUARD_BINARY,
            ),
        ).id
        make_qa(app, db_path, clock)
    with open_as(db_path, QUINN, clock) as qa:
        qa.settings.set_lab(name=f"  {LAB} ", logo=png())
        qa.signatures.sign_record(record, meaning="approved", password=PASSWORD)
        yield qa, record


def test_a_signed_certificate_states_the_rule_readings_standards_lab_and_signature(
    lab: tuple[CalTrack, int], tmp_path: Path
) -> None:
    app, record = lab
    report = app.reports.certificate(record)
    assert report.logo == png() and report.banner == ""  # signed and valid: no banner
    target = tmp_path / "certificate.pdf"
    write_report(report, target, "pdf")
    text = pdf_text(target)
    assert LAB in text  # its spaces tidied when set
    assert f"calibration #{record} of TH-001" in text
    assert "signed (approved)" in text
    assert "Guarded acceptance, w = U (ILAC G8:2019 4.2.2)" in text
    # The point's row: nominal, as found, its verdict, tolerance, limits, U, k, TUR,
    # acceptance limits.
    row = text
    for cell in ("100 °C", "100.4", "pass", "±0.5", "99.5 … 100.5", "0.1", "5.0:1"):
        assert cell in row, cell
    assert "99.6 … 100.4" in row
    # The standard with its calibration and due date as of 2026-11-01.
    assert "STD-01" in row and "2026-03-02" in row and "C-77" in row and "2027-03-02" in row
    assert "Environment: 21.5 °C, 40 %RH." in row
    assert "Approved by Quinn Q. Reviewer (quinn) on 2026-11-23" in row
    assert "page 1 of" in row
    assert "VOID" not in text and "NOT SIGNED" not in text


def test_a_voided_record_says_void_and_an_unsigned_one_not_signed(
    lab: tuple[CalTrack, int], tmp_path: Path
) -> None:
    app, record = lab
    draft = app.calibrations.add(
        "TH-001", CalibrationInput(performed_on="2026-11-20", result="pass")
    ).id
    unsigned = app.reports.certificate(draft)
    assert unsigned.banner.startswith("NOT SIGNED")
    app.calibrations.void(record, "entered on the wrong instrument")
    void = tmp_path / "void.pdf"
    write_report(app.reports.certificate(record), void, "pdf")
    text = pdf_text(void)
    assert "VOID — this record does not count" in text
    assert "Reason: entered on the wrong instrument." in text
    # Still the record it was, signature included: a voided certificate is not a blank.
    assert "Approved by Quinn Q. Reviewer" in text
    with pytest.raises(NotFoundError, match="no calibration record #999"):
        app.reports.certificate(999)


def test_a_record_changed_after_signing_says_so_on_every_page(
    lab: tuple[CalTrack, int], db_path: Path
) -> None:
    app, record = lab
    # As found 100.4 → 100.3 behind CalTrack's back: the signature no longer matches.
    tamper(db_path, f"UPDATE measurement_point SET as_found = 100.3 WHERE record_id = {record}")
    report = app.reports.certificate(record)
    assert report.banner.startswith("SIGNATURE BROKEN")
    (line,) = report.sections[-1].signatures
    assert line.endswith("WARNING: the signed content was changed after signing")


def test_the_lab_logo_is_checked_and_only_qa_names_the_lab(
    lab: tuple[CalTrack, int], db_path: Path, clock: FixedClock, tmp_path: Path
) -> None:
    app, _ = lab
    fake = tmp_path / "logo.png"
    fake.write_bytes(b"GIF89a not a png at all")
    with pytest.raises(ValidationError, match="is not a PNG or JPEG image"):
        read_logo(fake)
    big = tmp_path / "big.png"
    big.write_bytes(png() + b"\x00" * MAX_LOGO_BYTES)
    with pytest.raises(ValidationError, match="at most 262,144 bytes"):
        read_logo(big)
    with pytest.raises(ValidationError, match="says it is 0×2 pixels"):
        app.settings.set_lab(logo=png(0, 2))
    # A small file that would unpack to 2001 × 1 pixels: beyond the 2000 a logo needs.
    with pytest.raises(ValidationError, match="a logo is 1 to 2000 pixels each way"):
        app.settings.set_lab(logo=png(2001, 1))
    with pytest.raises(ValidationError, match="cannot read"):
        read_logo(tmp_path / "missing.png")
    # A JPEG's size comes from its frame header (SOF0: height 2, width 3).
    jpeg = b"\xff\xd8\xff\xe0\x00\x04ab\xff\xc0\x00\x0b\x08\x00\x02\x00\x03\x01\x01\x11\x00"
    assert app.settings.set_lab(logo=jpeg).logo_kind == "jpeg"
    # The audit trail says the logo's size and hash, not its bytes.
    event = app.audit.search(entity_type="settings", limit=1, newest_first=True)[0]
    assert event.changes["lab_logo"][1].startswith("21 bytes, sha256 ")
    assert app.settings.set_lab(logo=b"").logo == b""
    app.close()
    with open_as(db_path, BOB, clock) as tech, pytest.raises(NotAllowedError):
        tech.settings.set_lab(name="Bob's lab")
