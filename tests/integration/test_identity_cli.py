"""Who acts is the OS user of the process: a second real OS account, lying in LOGNAME.

The account is made with ``useradd`` for the test and the CLI runs as it through
``setpriv``, with ``LOGNAME=USER=root`` in its environment: it must still be itself.
"""

from __future__ import annotations

import json

from tests.integration.helpers import assert_one_error_line, query, run_cli
from tests.integration.process_helpers import (
    new_os_login,
    open_to_everyone,
    other_user,
    shared_folder,
)


def test_a_second_os_user_claiming_to_be_root_is_itself() -> None:
    with (
        new_os_login("ctbob") as (uid, login),
        shared_folder(0o777) as folder,
        other_user(uid, "root") as bob,  # USER=LOGNAME=root in bob's environment
    ):
        db = folder / "lab.db"
        made = run_cli(db, "init")  # root creates it, and is its first admin
        assert made.returncode == 0, made.stderr
        open_to_everyone(folder)

        whoami = bob.cli(db, "users", "whoami", "--json")
        assert whoami.returncode == 0, whoami.stderr
        assert json.loads(whoami.stdout)["login"] == login

        # As root this would succeed; as bob (a technician) it is refused, exit 8.
        refused = bob.cli(db, "users", "set", login, "--role", "admin")
        line = assert_one_error_line(refused, 8)
        assert f"you ({login})" in line, line
        assert query(db, "SELECT role FROM user_account WHERE login = ?", (login,)) == []

        added = bob.cli(db, "instruments", "add", "--asset-tag", "TH-1", "--description", "x")
        assert added.returncode == 0, added.stderr
        users = query(db, "SELECT user FROM audit_event WHERE entity_label = 'TH-1'")
        assert users == [(login,)]
