"""The QA dialogs on their own, with real services on a real database: signing, signing
passwords, users and roles, the standards check of the calibration dialog, the models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from pytestqt.qtbot import QtBot

from app.bootstrap import CalTrack
from app.clock import FixedClock
from app.services.dto import CalibrationView, UserView
from app.ui.dialogs.calibration_dialog import CalibrationDialog
from app.ui.dialogs.oot_dialogs import signer_ready
from app.ui.dialogs.password_dialog import SigningPasswordDialog
from app.ui.dialogs.reason_dialog import ReasonDialog
from app.ui.dialogs.sign_dialog import SignDialog
from app.ui.dialogs.users_dialog import AccountDialog, UsersDialog
from app.ui.models.oot_table import COL_CASE, COL_FOUND, COL_STATUS, OotTableModel
from app.ui.models.users_table import COL_LOGIN, COL_ROLE, COL_STATE, UsersTableModel
from app.ui.tasks import TaskRunner
from tests.conftest import add_thermometer
from tests.ui.conftest import Shown
from tests.ui.opened import opened
from tests.unit.qa_helpers import BOB, PASSWORD, calibrate, open_as, reading

Ok = Callable[[Any], None]
Fail = Callable[[BaseException], None]


def build_lab(app: CalTrack) -> None:
    """REF-1 served as a standard for TH-001 and TH-002, then was found out of tolerance
    (OOT case open, REF-1 out of service); alice (admin) has a printed name and a
    signing password."""
    add_thermometer(app, "REF-1", description="Reference PRT")
    add_thermometer(app, "TH-001")
    add_thermometer(app, "TH-002")
    calibrate(app, "REF-1", "2026-01-10", points=(reading(0, 0.2),))
    calibrate(app, "TH-001", "2026-03-01", standards=("REF-1",))
    calibrate(app, "TH-002", "2026-06-15", standards=("REF-1",))
    calibrate(app, "REF-1", "2026-11-20", "adjusted", points=(reading(0, 0.9, left=0.1),))
    app.accounts.set_display_name("Alice A. Admin")
    app.accounts.set_signing_password(PASSWORD)


@pytest.fixture
def lab(app: CalTrack) -> CalTrack:
    build_lab(app)
    return app


@pytest.fixture
def runner() -> Iterator[TaskRunner]:
    tasks = TaskRunner()
    yield tasks
    tasks.wait()


def record_of(app: CalTrack, tag: str) -> CalibrationView:
    return app.calibrations.history(tag)[0]


def sign_submit(app: CalTrack, runner: TaskRunner, record: CalibrationView) -> Any:
    def submit(meaning: str, comment: str, password: str, ok: Ok, fail: Fail) -> None:
        runner.run(
            lambda: app.signatures.sign_record(
                record.id,
                meaning=meaning,
                password=password,
                comment=comment,
                expected_version=record.version,
            ),
            ok,
            fail,
        )

    return submit


# -- signing -------------------------------------------------------------------------


def test_sign_dialog_signs_with_the_chosen_meaning(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner, shown: Shown
) -> None:
    record = record_of(lab, "TH-001")
    me = lab.accounts.me()
    dialog = SignDialog(
        record=record, signer=me, submit=sign_submit(lab, runner, record), description="Therm."
    )
    qtbot.addWidget(dialog)
    dialog.show()
    assert "Alice A. Admin" in dialog.signing.signer.text()
    assert "21 CFR 11.100" in dialog.signing.statement.text()
    assert dialog.signing.password.echoMode() == dialog.signing.password.EchoMode.Password
    assert not dialog.ok.isEnabled(), "OK waits for a password"
    dialog.meaning_buttons["approved"].setChecked(True)
    dialog.comment.setPlainText("certificate and readings checked")
    qtbot.keyClicks(dialog.signing.password, PASSWORD)
    assert dialog.ok.isEnabled()
    dialog.ok.click()
    assert not dialog.ok.isEnabled(), "no second click while signing"
    qtbot.waitUntil(lambda: dialog.result() == 1, timeout=10_000)
    assert dialog.signature.manifestation == (
        "Approved by Alice A. Admin (alice) on 2026-11-23 09:30:00 UTC"
    )
    (sig,) = lab.signatures.for_record(record.id)
    assert (sig.meaning, sig.comment, sig.intact) == (
        "approved",
        "certificate and readings checked",
        True,
    )
    assert shown.boxes == []


def test_sign_dialog_offers_only_the_meanings_not_signed_yet(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner
) -> None:
    first = record_of(lab, "TH-001")
    lab.signatures.sign_record(first.id, meaning="reviewed", password=PASSWORD)
    record = record_of(lab, "TH-001")
    dialog = SignDialog(
        record=record, signer=lab.accounts.me(), submit=sign_submit(lab, runner, record)
    )
    qtbot.addWidget(dialog)
    assert not dialog.meaning_buttons["reviewed"].isEnabled()
    assert dialog.meaning() == "approved"
    assert "Reviewed by Alice A. Admin (alice)" in dialog.existing.text()


def test_a_wrong_password_keeps_the_dialog_open_with_the_message_at_the_field(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner, shown: Shown
) -> None:
    record = record_of(lab, "TH-001")
    dialog = SignDialog(
        record=record, signer=lab.accounts.me(), submit=sign_submit(lab, runner, record)
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.signing.password, "not the password")
    dialog.ok.click()
    error = dialog.signing.password_row.error
    qtbot.waitUntil(error.isVisible, timeout=10_000)
    assert "wrong signing password" in error.text()
    # (The count of attempts left is the service's; it is reported as off by one.)
    assert "more wrong attempt(s) lock it" in error.text()
    assert dialog.signing.password.text() == "", "the wrong password is cleared"
    assert dialog.isVisible() and dialog.result() == 0
    assert not dialog.ok.isEnabled()
    assert lab.signatures.for_record(record.id) == []
    assert shown.boxes == [], "the message is next to the field, not in a box"
    # The second try with the right password signs.
    qtbot.keyClicks(dialog.signing.password, PASSWORD)
    dialog.ok.click()
    qtbot.waitUntil(lambda: dialog.result() == 1, timeout=10_000)
    assert len(lab.signatures.for_record(record.id)) == 1


def test_a_technician_gets_one_clear_not_allowed_dialog(
    qtbot: QtBot, lab: CalTrack, db_url: str, clock: FixedClock, runner: TaskRunner, shown: Shown
) -> None:
    record = record_of(lab, "TH-001")
    lab.close()
    with open_as(db_url, BOB, clock) as bob:
        me = bob.accounts.me()
        assert me.role == "technician"
        # Asked before any password is typed: the window says what to do.
        assert not signer_ready(None, me, "sign calibration records")  # type: ignore[arg-type]
        title, text, detail = shown.boxes[-1]
        assert title == "Not allowed"
        assert "you (bob) are a technician" in text
        assert "Users and roles" in detail
        # And if the dialog is used anyway, the service's refusal closes it with one box.
        dialog = SignDialog(record=record, signer=me, submit=sign_submit(bob, runner, record))
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.keyClicks(dialog.signing.password, "whatever it is")
        dialog.ok.click()
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
        assert dialog.result() == 0
        title, text, detail = shown.boxes[-1]
        assert title == "Not allowed" and "only QA reviewers may" in text
        assert "read-only" not in (text + detail).lower()
        assert bob.signatures.for_record(record.id) == []


def test_no_signing_password_yet_says_where_to_set_it(shown: Shown) -> None:
    me = UserView("quinn", "Quinn", "qa", True, False, None, True)
    assert not signer_ready(None, me, "sign calibration records")  # type: ignore[arg-type]
    title, _text, detail = shown.boxes[-1]
    assert title == "Set your signing password first"
    assert "QA → My signing password…" in detail


# -- signing passwords ---------------------------------------------------------------


def password_submit(app: CalTrack, runner: TaskRunner) -> Any:
    def submit(new: str, current: str | None, ok: Ok, fail: Fail) -> None:
        runner.run(lambda: app.accounts.set_signing_password(new, current=current), ok, fail)

    return submit


def test_set_then_change_the_signing_password(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner
) -> None:
    add_thermometer(app)
    record_id = calibrate(app, "TH-001", "2026-11-20")
    me = app.accounts.me()
    assert not me.has_signing_password
    dialog = SigningPasswordDialog(me=me, submit=password_submit(app, runner))
    qtbot.addWidget(dialog)
    dialog.show()
    assert "current_password" not in dialog.form.rows, "nothing to confirm the first time"
    assert "at least 8 characters" in dialog.rules.text().lower()
    qtbot.keyClicks(dialog.new, "alice")
    assert "at least 8" in dialog.form.rows["password"].error.text()
    dialog.new.setText("first good phrase")
    qtbot.keyClicks(dialog.repeat, "first good phrasX")
    assert dialog.form.rows["repeat"].error.text() == "the two entries differ"
    assert not dialog.ok.isEnabled()
    dialog.repeat.setText("first good phrase")
    assert dialog.ok.isEnabled()
    dialog.ok.click()
    qtbot.waitUntil(lambda: dialog.result() == 1, timeout=10_000)
    assert app.accounts.me().has_signing_password

    # Changing asks for the current one; a wrong one is said at its field.
    change = SigningPasswordDialog(me=app.accounts.me(), submit=password_submit(app, runner))
    qtbot.addWidget(change)
    change.show()
    assert "current_password" in change.form.rows
    change.new.setText("second good phrase")
    change.repeat.setText("second good phrase")
    assert not change.ok.isEnabled(), "the current password is needed"
    change.current.setText("not it at all")
    change.ok.click()
    error = change.form.rows["current_password"].error
    qtbot.waitUntil(error.isVisible, timeout=10_000)
    assert "wrong" in error.text()
    assert change.current.text() == "" and change.isVisible()
    change.current.setText("first good phrase")
    change.ok.click()
    qtbot.waitUntil(lambda: change.result() == 1, timeout=10_000)
    # The new one signs; that proves it was stored.
    sig = app.signatures.sign_record(record_id, meaning="reviewed", password="second good phrase")
    assert sig.signer == "alice"


# -- users and roles -----------------------------------------------------------------


def test_users_dialog_as_admin_adds_changes_and_deactivates(
    qtbot: QtBot, app: CalTrack, runner: TaskRunner, shown: Shown
) -> None:
    dialog = UsersDialog(app=app, runner=runner, editing=True)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1, timeout=10_000)
    assert "You are an admin" in dialog.note.text()
    assert dialog.add_button.isEnabled()
    assert not dialog.role_button.isEnabled(), "nothing selected yet"

    dialog.add()
    account = opened(qtbot, AccountDialog)
    account.login.setText("quinn")
    account.name.setText("Quinn Q. Reviewer")
    account.role.setCurrentIndex(account.role.findData("qa"))
    assert not account.ok.isEnabled(), "a reason is required"
    account.reason.setText("joined QA")
    account.ok.click()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=10_000)
    row = dialog.model.row_of("quinn")
    assert row is not None
    assert dialog.model.index(row, COL_ROLE).data() == "QA reviewer"
    quinn = app.accounts.get("quinn")
    assert (quinn.role, quinn.display_name) == ("qa", "Quinn Q. Reviewer")
    event = app.audit.recent(entity_type="user_account", limit=1)[0]
    assert event.reason == "joined QA"

    dialog.table.selectRow(row)
    assert dialog.active_button.text() == "&Deactivate…"
    assert not dialog.reset_button.isEnabled(), "quinn has no password to reset"

    dialog.toggle_active()
    reason = opened(qtbot, ReasonDialog)
    reason.text.setPlainText("left the company")
    reason.ok.click()
    qtbot.waitUntil(lambda: not app.accounts.get("quinn").active, timeout=10_000)
    qtbot.waitUntil(
        lambda: dialog.model.index(row, COL_STATE).data() == "Deactivated", timeout=10_000
    )
    assert dialog.active_button.text() == "Re&activate…"
    assert dialog.model.index(row, COL_LOGIN).data() == "quinn"
    assert shown.boxes == []


def test_users_dialog_for_a_technician_is_read_only_and_names_the_admins(
    qtbot: QtBot, app: CalTrack, db_url: str, clock: FixedClock, runner: TaskRunner
) -> None:
    app.close()
    with open_as(db_url, BOB, clock) as bob:
        dialog = UsersDialog(app=bob, runner=runner, editing=True)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.me is not None, timeout=10_000)
        assert "only admins change accounts" in dialog.note.text()
        assert "Admins here: alice" in dialog.note.text()
        dialog.table.selectRow(0)
        for button in (
            dialog.add_button,
            dialog.role_button,
            dialog.active_button,
            dialog.reset_button,
        ):
            assert not button.isEnabled()
        runner.wait()


def test_users_model_passes_qtmodeltester(qtmodeltester: Any, app: CalTrack) -> None:
    app.accounts.set_role("quinn", "qa", display_name="Quinn", reason="x")
    model = UsersTableModel()
    model.set_users(app.accounts.list())
    qtmodeltester.check(model, force_py=True)
    assert [model.index(r, COL_LOGIN).data() for r in range(2)] == ["alice", "quinn"]
    assert model.index(1, 4).data() == "not set"


def test_oot_model_filters_counts_and_sorts(qtmodeltester: Any, lab: CalTrack) -> None:
    calibrate(lab, "TH-002", "2026-11-21", "fail", points=(reading(0, 2.0),))
    model = OotTableModel()
    model.set_cases(lab.oot.list())
    qtmodeltester.check(model, force_py=True)
    assert model.counts() == {"open": 2, "closed": 0, "cancelled": 0, None: 2}
    found = [model.index(r, COL_FOUND).data() for r in range(model.rowCount())]
    assert found == ["2026-11-21", "2026-11-20"], "newest finding first"
    model.sort(COL_CASE)
    first, second = (model.index(r, COL_CASE).data() for r in range(2))
    assert int(first.removeprefix("OOT-")) < int(second.removeprefix("OOT-"))
    model.set_status("closed")
    assert model.rowCount() == 0
    model.set_status(None)
    assert model.index(0, COL_STATUS).data() == "Open"


# -- the calibration dialog's standards check ----------------------------------------


def test_a_standard_problem_is_shown_and_needs_a_justification(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner, shown: Shown
) -> None:
    def check(tags: list[str], day: Any, done: Callable[[dict[str, str]], None]) -> None:
        runner.run(lambda: lab.calibrations.standard_problems(tags, day), done, lambda e: None)

    saved: list[CalibrationView] = []

    def submit(data: Any, ok: Ok, fail: Fail) -> None:
        def done(view: CalibrationView) -> None:
            saved.append(view)
            ok(view)

        runner.run(lambda: lab.calibrations.add("TH-001", data), done, fail)

    dialog = CalibrationDialog(
        instrument=lab.instruments.get("TH-001"),
        today=lab.clock.today(),
        user="alice",
        standard_tags=["REF-1", "TH-002"],
        submit=submit,
        check_standards=check,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.standards_problem_text.isVisible()
    assert not dialog.justification.isVisible()
    # (Typed with setText: the completer's popup is not for the offscreen platform.)
    dialog.standard_input.setText("REF-1")
    qtbot.keyClick(dialog.standard_input, Qt.Key.Key_Return)
    qtbot.waitUntil(dialog.standards_problem_text.isVisible, timeout=10_000)
    assert "REF-1 is out of service" in dialog.standards_problem_text.text()
    assert dialog.justification.isVisible()

    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    save.click()
    error = dialog.after.rows["standards_justification"].error
    assert error.isVisible() and "required" in error.text()
    assert saved == [] and dialog.isVisible()

    dialog.justification.setPlainText("REF-1 was re-checked against REF-2 on the day")
    save.click()
    qtbot.waitUntil(lambda: dialog.result() == 1, timeout=10_000)
    assert saved[0].standards == ["REF-1"]
    assert saved[0].standards_justification.startswith("REF-1 was re-checked")
    assert shown.boxes == []


def test_the_service_refusal_about_standards_lands_next_to_them(
    qtbot: QtBot, lab: CalTrack, runner: TaskRunner
) -> None:
    # No live check (say it had not answered yet): the service still refuses, and says so
    # next to the standards list, and the justification is offered.
    def submit(data: Any, ok: Ok, fail: Fail) -> None:
        runner.run(lambda: lab.calibrations.add("TH-001", data), ok, fail)

    dialog = CalibrationDialog(
        instrument=lab.instruments.get("TH-001"),
        today=lab.clock.today(),
        user="alice",
        standard_tags=["REF-1"],
        submit=submit,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.standards.addItem("REF-1")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Save).click()
    error = dialog.after.rows["standards"].error
    qtbot.waitUntil(error.isVisible, timeout=10_000)
    assert "give a justification" in error.text()
    assert dialog.justification.isVisible()
    assert len(lab.calibrations.history("TH-001")) == 1


def test_failing_as_found_readings_say_a_case_will_open(qtbot: QtBot, lab: CalTrack) -> None:
    dialog = CalibrationDialog(
        instrument=lab.instruments.get("TH-001"),
        today=lab.clock.today(),
        user="alice",
        standard_tags=[],
        submit=lambda *a: None,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.oot_notice.isVisible()
    for col, text in enumerate(("0", "0.9", "0.1", "0.5", "°C")):
        item = dialog.points.item(0, col)
        assert item is not None
        item.setText(text)
    assert dialog.oot_notice.isVisible()
    text = dialog.oot_notice.text()
    assert "opens an out-of-tolerance case" in text
    assert "takes TH-001 out of service" in text
    item = dialog.points.item(0, 1)
    assert item is not None
    item.setText("0.1")
    assert not dialog.oot_notice.isVisible()
    dialog.result_box.setCurrentIndex(dialog.result_box.findData("fail"))
    assert dialog.oot_notice.isVisible()
