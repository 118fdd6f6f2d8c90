"""Journey: QA finds the instrument whose imported history contradicts itself, reads
why, and clears the flag with a reason — by clicks and keys only.

The register was imported with one row whose next due lies before its last calibration
(kept as recorded, flagged for QA review). The QA person sees the "Data to review" chip
with its count, filters by it, opens the instrument, reads the banner, clears the flag
with a reason; the mark and the count go, and the audit trail shows the event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.services.transfer_model import ImportOptions
from app.settings.user_settings import UserSettings
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.main_window import MainWindow
from tests.journeys.conftest import open_window
from tests.journeys.person import Person, gone
from tests.unit.qa_helpers import BOB, QUINN, make_qa, open_as

REASON = "next due 2019-03-01 is before the last calibration 2021-05-04"


def import_register(app: CalTrack, folder: Path) -> None:
    path = folder / "register.csv"
    path.write_text(
        "Asset tag,Description,Location,Last calibration,Next due\n"
        "TH-001,Thermometer,Lab 1,2026-03-01,2027-03-01\n"
        "BAL-002,Balance,Lab 2,2021-05-04,2019-03-01\n"
        "PIP-003,Pipette,Lab 1,2026-06-15,\n",
        encoding="utf-8",
    )
    result = app.transfer.import_file(path, ImportOptions(kind="instruments"))
    assert result.committed and result.counts()["flagged"] == 1


@pytest.fixture
def qa_app(app: CalTrack, db_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[CalTrack]:
    """The register imported by alice (admin); quinn, QA, opens it."""
    import_register(app, tmp_path)
    make_qa(app, db_url, clock)  # closes alice's session
    with open_as(db_url, QUINN, clock) as quinn:
        yield quinn


@pytest.fixture
def qa_window(qtbot: QtBot, qa_app: CalTrack) -> Iterator[MainWindow]:
    yield from open_window(qtbot, qa_app, UserSettings(reminders=False))


@pytest.fixture
def bob_window(
    qtbot: QtBot, app: CalTrack, db_url: str, clock: FixedClock, tmp_path: Path
) -> Iterator[MainWindow]:
    """The same register opened by bob, a technician (no account)."""
    import_register(app, tmp_path)
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        yield from open_window(qtbot, bob, UserSettings(reminders=False))


def row_of(window: MainWindow, tag: str) -> int:
    rows = [r for r in range(window.model.rowCount()) if window.model.index(r, 0).data() == tag]
    assert rows, f"{tag} is not in the list"
    return rows[0]


def test_qa_finds_the_flagged_instrument_and_clears_its_flag(
    qtbot: QtBot,
    person: Person,
    qa_app: CalTrack,
    qa_window: MainWindow,
    screenshot: Callable[[QWidget, str], None],
) -> None:
    app, window = qa_app, qa_window
    chip = window.filter_buttons["to-review"]
    qtbot.waitUntil(lambda: chip.isVisible() and chip.text() == "Data to review (1)")
    person.click(chip)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10_000)
    qtbot.waitUntil(lambda: window.model.index(0, 0).data() == "BAL-002", timeout=10_000)
    mark = window.model.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)
    assert mark == f"Data to review: {REASON}"
    assert window.model.index(0, 0).data(Qt.ItemDataRole.DecorationRole) is not None

    person.click_cell(window.table, 0, 0)
    detail = window.detail
    qtbot.waitUntil(detail.review.isVisible, timeout=10_000)
    assert detail.review_text.text() == f"Data to review: {REASON}"
    qtbot.waitUntil(detail.clear_review_button.isEnabled, timeout=10_000)
    assert window.qa.act_clear_review.isEnabled()
    screenshot(window, "review-flag")

    person.click(detail.clear_review_button)
    dialog = person.wait_for(ReasonDialog)
    assert any(REASON in label.text() for label in dialog.findChildren(QLabel))
    assert not dialog.ok.isEnabled(), "a reason is required"
    person.click(dialog.text)
    person.write("Certificate C-2021-117 says next due 2022-05-04; old tool overwrote it")
    person.click(dialog.ok)
    qtbot.waitUntil(lambda: gone(dialog), timeout=10_000)
    qtbot.waitUntil(lambda: app.instruments.get("BAL-002").review_reason == "", timeout=10_000)
    # The count goes to 0; the list (still filtered) is empty; the banner is gone.
    qtbot.waitUntil(lambda: chip.text() == "Data to review (0)", timeout=10_000)
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=10_000)
    assert "BAL-002" in window.status.currentMessage()

    person.click(window.filter_buttons[None])
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=10_000)
    qtbot.waitUntil(lambda: not chip.isVisible(), timeout=10_000)
    row = row_of(window, "BAL-002")
    qtbot.waitUntil(
        lambda: window.model.index(row, 0).data(Qt.ItemDataRole.DecorationRole) is None,
        timeout=10_000,
    )
    person.click_cell(window.table, row, 0)
    qtbot.waitUntil(
        lambda: window.history is not None and window.history.instrument.asset_tag == "BAL-002",
        timeout=10_000,
    )
    assert not detail.review.isVisible()
    assert not window.qa.act_clear_review.isEnabled()
    # The audit trail (its tab in the detail pane) has the event, by quinn, with both texts.
    tabs = detail.tabs.tabBar()
    person.click(tabs, tabs.tabRect(detail.tabs.indexOf(detail.audit)).center())
    audit = detail.audit
    qtbot.waitUntil(audit.isVisible, timeout=10_000)
    texts = [
        " | ".join(
            item.text()
            for c in range(audit.columnCount())
            if (item := audit.item(r, c)) is not None
        )
        for r in range(audit.rowCount())
    ]
    cleared = [t for t in texts if "clear review" in t]
    assert cleared and "quinn" in cleared[0] and "Certificate C-2021-117" in cleared[0]
    assert window.history is not None
    event = app.audit.for_entity("instrument", window.history.instrument.id)[-1]
    assert event.changes == {"review_reason": [REASON, ""]}


def test_a_technician_sees_the_flag_but_may_not_clear_it(
    qtbot: QtBot, person: Person, bob_window: MainWindow
) -> None:
    window = bob_window
    chip = window.filter_buttons["to-review"]
    qtbot.waitUntil(lambda: chip.text() == "Data to review (1)", timeout=10_000)
    person.click(chip)
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=10_000)
    person.click_cell(window.table, 0, 0)
    qtbot.waitUntil(window.detail.review.isVisible, timeout=10_000)
    qtbot.waitUntil(lambda: window.qa.me is not None, timeout=10_000)
    button = window.detail.clear_review_button
    assert not button.isEnabled()
    assert button.toolTip() == "Only QA reviewers may clear a review flag"
    assert not window.qa.act_clear_review.isEnabled()
