"""Journey (issue 15): a send-out batch created and received in the window, the compare shown.

The person opens Database → Providers… with Ctrl+Shift+P, goes to the Send-outs tab by
clicking it, types two asset tags, a PO number and a cost, and clicks Send out: the
batch SO-1 is listed with both instruments out. They click Receive all; the window
prompts for the first instrument's certificate, prefilled from the provider (external,
CalCo Labs, the day it came back). They type the certificate's number, a reading the
certificate calls a pass — 20.7 °C at 20 °C, outside the lab's ±0.5 (19.5 … 20.5) —
and the certificate file, and click Save. The compare is shown plainly ("Caught on
receipt — … the provider reported PASS but the lab's limits … say FAIL") and in the
instrument's row; the calibration is stored as failed, external, with the file attached,
and an out-of-tolerance case is open.

SQLite only: the dialog writes through ``SendoutService``, whose behaviour on both
backends tests/unit/test_providers.py and tests/integration/test_providers_cli.py check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.services.provider_views import ProviderInput
from app.ui.dialogs.certificate_entry_dialog import CertificateEntryDialog
from app.ui.dialogs.providers_dialog import COL_COMPARE, ProvidersDialog
from app.ui.main_window import MainWindow
from tests.conftest import add_thermometer
from tests.journeys.person import Person, gone

pytestmark = pytest.mark.sqlite_only(
    "the dialog writes through SendoutService, tested on both backends in the unit and "
    "integration tiers; the window's part does not depend on the backend"
)

Screenshot = Callable[[QWidget, str], None]


def cell(table: QTableWidget, row: int, column: int) -> str:
    """The text a person reads in a cell ("" where there is none yet)."""
    item = table.item(row, column)
    return item.text() if item is not None else ""


def test_a_batch_is_sent_received_and_its_certificate_compared(
    qtbot: QtBot,
    person: Person,
    window: MainWindow,
    app: CalTrack,
    screenshot: Screenshot,
    tmp_path: Path,
) -> None:
    app.providers.add(
        ProviderInput(
            name="CalCo Labs",
            accreditation_body="UKAS",
            accreditation_number="0123",
            scope="Temperature -50 to 500 °C",
            review_date="2027-06-30",
        )
    )
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002", description="Reference thermometer")
    pdf = tmp_path / "C-77.pdf"
    pdf.write_bytes(b"%PDF-1.4 certificate C-77")

    person.shortcut("Ctrl+Shift+P")
    dialog = person.wait_for(ProvidersDialog)
    qtbot.waitUntil(lambda: dialog.may_edit() and len(dialog.providers) == 1, timeout=10_000)
    assert dialog.name.text() == "CalCo Labs"  # the register, its first provider shown

    tabs = dialog.tabs.tabBar()
    person.click(tabs, tabs.tabRect(1).center())
    qtbot.waitUntil(lambda: dialog.send_tags.isVisible(), timeout=10_000)
    assert dialog.send_provider.currentText() == "CalCo Labs (approved)"
    person.click(dialog.send_tags)
    person.write("TH-001 th-002")
    person.click(dialog.send_po)
    person.write("PO-77")
    person.click(dialog.send_cost)
    person.write("250")
    person.click(dialog.send_button)
    qtbot.waitUntil(lambda: dialog.items.rowCount() == 2, timeout=10_000)
    assert cell(dialog.batch_list, 0, 0) == "SO-1"
    assert cell(dialog.batch_list, 0, 6) == "out"

    person.click(dialog.receive_all)
    cert = person.wait_for(CertificateEntryDialog)
    assert cert.windowTitle() == "Certificate of TH-001"
    assert cert.provider.text() == "external — CalCo Labs"
    assert cert.performed_on.text() == str(app.clock.today())  # the day it came back
    person.click(cert.number)
    person.write("C-77")
    person.click(cert.readings)
    person.write("20:20.7:20.7:0.5:°C")
    person.click(cert.file)
    person.write(str(pdf))
    person.click_button("Save", within=cert)
    qtbot.waitUntil(lambda: gone(cert), timeout=10_000)

    qtbot.waitUntil(dialog.compare.isVisible, timeout=10_000)
    shown = dialog.compare.text()
    assert shown.startswith("Caught on receipt — TH-001: the provider reported PASS but")
    assert "say FAIL: point 1 as found 20.7 °C is fail against 19.5 … 20.5" in shown
    qtbot.waitUntil(
        lambda: cell(dialog.items, 0, COL_COMPARE).startswith("DIFFERS"), timeout=10_000
    )
    assert cell(dialog.items, 0, COL_COMPARE) == ("DIFFERS — provider: pass; lab's limits: fail")
    assert cell(dialog.items, 1, COL_COMPARE) == "back, no certificate recorded yet"
    screenshot(dialog, "providers-sendout")

    # What is stored: the batch back, the record failed and external, the file attached.
    batch = app.sendouts.get(1)
    assert batch.state == "back" and (batch.po_number, batch.cost) == ("PO-77", 250.0)
    (record,) = app.calibrations.history("TH-001")
    assert (record.result, record.provider_kind, record.provider_name) == (
        "fail",
        "external",
        "CalCo Labs",
    )
    assert record.certificate_number == "C-77" and record.oot_case_id is not None
    assert [a.original_name for a in app.attachments.list("TH-001")] == ["C-77.pdf"]

    person.press(Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
