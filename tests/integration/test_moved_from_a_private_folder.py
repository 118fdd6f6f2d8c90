"""A database copied out of a folder the next user may not enter still opens for them.

A database remembers the paths it was opened under (to find a save left under an old
name). Opened by another OS user after a copy, those old paths may lie in a folder that
user cannot look into: looking for left saves there must not end in a traceback.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import add_thermometer
from tests.integration.helpers import open_lab
from tests.integration.process_helpers import NOBODY, other_user, shared_folder


def test_a_copy_from_a_private_folder_opens_for_another_user(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    original = private / "lab.db"
    with open_lab(original, create=True) as app:
        add_thermometer(app, "TH-001")
    with shared_folder(0o755) as folder, other_user() as nobody:
        copy = folder / "lab.db"
        shutil.copy(original, copy)
        os.chown(copy, NOBODY, NOBODY)
        os.chown(folder, NOBODY, NOBODY)
        result = nobody.cli(copy, "instruments", "list")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "TH-001" in result.stdout
