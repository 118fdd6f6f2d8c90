"""Who acts: the login from the operating system, and no control character in stored lines."""

from __future__ import annotations

import os
import pwd
from datetime import date

import pytest

from app.bootstrap import CalTrack
from app.errors import ValidationError
from app.identity import Identity, IdentityError, get_current_user_id
from app.services.dto import CalibrationInput
from tests.conftest import add_thermometer
from tests.integration.helpers import fingerprint


@pytest.mark.parametrize("name", ["LOGNAME", "USER", "LNAME", "USERNAME"])
def test_the_login_is_the_os_user_not_an_environment_variable(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    for variable in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv(name, "QUINN")
    assert get_current_user_id().user == pwd.getpwuid(os.getuid()).pw_name


@pytest.mark.parametrize(
    ("user", "machine", "expected"),
    [
        ("al\nice", "PC-1", "U+000A (LINE FEED) at position 3"),
        ("alice", "PC\x1b[2J", "U+001B (ESCAPE) at position 3"),
        ("alice\u2028", "PC-1", "U+2028 (LINE SEPARATOR) at position 6"),
        ("quinn ", "PC-1", "begins or ends with spaces"),
        ("", "PC-1", "empty"),
    ],
)
def test_a_login_or_machine_with_control_characters_is_refused(
    user: str, machine: str, expected: str
) -> None:
    with pytest.raises(IdentityError) as caught:
        Identity(user, machine)
    assert expected in str(caught.value)
    assert caught.value.exit_code == 2


def _recorded(app: CalTrack) -> int:
    add_thermometer(app)
    view = app.calibrations.add(
        "TH-001", CalibrationInput(performed_on=date(2026, 11, 1), result="pass")
    )
    return view.id


@pytest.mark.parametrize(
    "reason",
    ["typo\n2026-11-23 09:30  root  LAB-PC  calibration  void", "a\rb", "x\x85y", "p\u2029q"],
)
def test_a_reason_that_would_split_the_audit_line_is_refused(
    app: CalTrack, db_url: str, reason: str
) -> None:
    record = _recorded(app)
    before = fingerprint(db_url)
    with pytest.raises(ValidationError) as caught:
        app.calibrations.void(record, reason)
    assert "control character" in caught.value.fields["reason"]
    assert fingerprint(db_url) == before


@pytest.mark.parametrize("text", ["Thermo\u2028meter", "Thermo\x85meter", "Thermo\x07"])
def test_single_line_fields_refuse_every_control_character(app: CalTrack, text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        add_thermometer(app, description=text)
    assert "control character U+" in caught.value.fields["description"]


def test_notes_keep_their_lines_but_not_other_controls(app: CalTrack) -> None:
    add_thermometer(app, notes="line one\nline two\ttabbed")
    with pytest.raises(ValidationError):
        add_thermometer(app, "TH-002", notes="bell\x07")


def test_account_logins_refuse_control_characters(app: CalTrack) -> None:
    with pytest.raises(ValidationError) as caught:
        app.accounts.set_role("bob\nroot", "qa")
    assert "U+000A" in caught.value.fields["login"]
