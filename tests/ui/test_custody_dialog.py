"""The custody dialog on its own: what a refusal offers to whom, and errors kept inline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.errors import ValidationError
from app.services.dto import CustodyCheck, CustodyView
from app.ui.dialogs.custody_dialog import CustodyDialog, CustodyRequest

REFUSAL = "PG-002 is overdue for calibration (due 2026-01-02): calibrate it first"


def check(*, refusal: str = "", may_override: bool = False, out: bool = False) -> CustodyCheck:
    current = (
        CustodyView(
            id=3,
            instrument_id=2,
            asset_tag="PG-002",
            description="Pressure gauge",
            holder="Dana",
            place="Line 2",
            due_back=date(2026, 11, 20),
            override_reason="",
            out_at=datetime(2026, 11, 2, 8, 15),
            out_by="bob",
            in_at=None,
            in_by=None,
            voided_at=None,
            voided_by=None,
            void_reason=None,
            version=1,
            state="out",
            late=True,
        )
        if out
        else None
    )
    return CustodyCheck(2, "PG-002", "Pressure gauge", "overdue", current, refusal, may_override)


# The dialogs' parent window, kept alive for the test (a dialog needs one).
_parents: list[QWidget] = []


def make(
    qtbot: QtBot, chk: CustodyCheck, sent: list[CustodyRequest], answer: BaseException | None
) -> CustodyDialog:
    parent = QWidget()
    qtbot.addWidget(parent)
    _parents[:] = [parent]

    def submit(
        request: CustodyRequest,
        ok: Callable[[CustodyView], None],
        fail: Callable[[BaseException], None],
    ) -> None:
        sent.append(request)
        if answer is not None:
            fail(answer)

    dialog = CustodyDialog(chk, submit=submit, parent=parent)
    dialog.show()
    return dialog


def test_a_technician_sees_the_refusal_and_cannot_check_it_out(qtbot: QtBot) -> None:
    sent: list[CustodyRequest] = []
    dialog = make(qtbot, check(refusal=REFUSAL), sent, None)
    assert dialog.refusal.isVisible() and REFUSAL in dialog.refusal.text()
    dialog.person.setText("Eve")
    assert not dialog.go.isEnabled()
    assert not dialog.reason.isVisible()  # no override field: not QA
    notes = [w.text() for w in dialog.findChildren(QLabel) if w.objectName() == "custodyOnlyQa"]
    assert notes == ["Only QA may let it out anyway; ask QA, or calibrate it first."]
    dialog.go.click()
    assert sent == []


def test_qa_gives_a_reason_and_a_refusal_from_the_service_stays_in_the_dialog(
    qtbot: QtBot,
) -> None:
    sent: list[CustodyRequest] = []
    refused = ValidationError({"due_back": "must be a date as YYYY-MM-DD (got '1/2/27')"})
    dialog = make(qtbot, check(refusal=REFUSAL, may_override=True), sent, refused)
    dialog.person.setText("Eve")
    assert not dialog.go.isEnabled()
    dialog.reason.setText("one reading")
    dialog.until.setText("1/2/27")
    assert dialog.go.isEnabled()
    dialog.go.click()
    assert sent == [CustodyRequest(False, "Eve", "", "1/2/27", "one reading")]
    assert dialog.error.isVisible()
    assert dialog.error.text() == "Until: must be a date as YYYY-MM-DD (got '1/2/27')"
    assert dialog.isVisible() and dialog.person.text() == "Eve"  # nothing typed is lost
    assert dialog.go.isEnabled()  # another try


def test_one_that_is_out_offers_check_in_and_says_with_whom(qtbot: QtBot) -> None:
    sent: list[CustodyRequest] = []
    dialog = make(qtbot, check(out=True), sent, None)
    assert dialog.windowTitle() == "Check in PG-002"
    texts = [w.text() for w in dialog.findChildren(QLabel) if w.objectName() == "custodyHolder"]
    assert texts == ["With Dana at Line 2 since 2026-11-02 08:15 UTC, due back 2026-11-20 (late)"]
    dialog.go.click()
    assert sent == [CustodyRequest(True, "", "", "", "")]
