"""A run that was killed: the next start says so once, in local time; native crashes log."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.bootstrap import open_caltrack
from app.locking.running import spoken_moment
from tests.crashing import killed_while_open


@pytest.mark.slow  # kills a child process holding the database
def test_a_killed_run_is_reported_once_with_a_local_time(tmp_path: Path) -> None:
    db, state = tmp_path / "lab.db", tmp_path / "state"
    killed_while_open(db, state, create=True)
    with open_caltrack(str(db), state_dir=state) as app:
        crash = app.crash
        assert crash is not None
        assert crash.damage == ()
        assert re.fullmatch(
            r"CalTrack did not close properly last time \(started today at \d\d:\d\d\); "
            r"the database was checked and is fine\.",
            crash.text,
        ), crash.text
        # The editor lock noticed the same death: the window says both in one dialog.
        unclean = [n for n in app.notices if "ended without closing" in n]
        assert len(unclean) == 1 and unclean[0] in crash.covers
        assert set(app.notices) <= set(crash.covers)
    with open_caltrack(str(db), state_dir=state) as again:
        assert again.crash is None and again.notices == []


def test_moments_are_said_the_way_a_person_says_them() -> None:
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC).astimezone()
    local = now.tzinfo
    assert local is not None

    def at(day: int, hour: int, minute: int) -> str:
        return datetime(2026, 12, day, hour, minute, tzinfo=local).isoformat()

    assert spoken_moment(at(3, 8, 5), now) == "today at 08:05"
    assert spoken_moment(at(2, 14, 4), now) == "yesterday at 14:04"
    assert spoken_moment(at(1, 15, 4), now) == "on 1 Dec 2026 at 15:04"
    assert spoken_moment("not a time", now) == "at an unknown time"


def test_a_native_crash_leaves_its_stack_in_the_log_file(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import faulthandler
        from pathlib import Path
        from app.settings.logs import setup_logging

        def deep_inside_qt():
            faulthandler._sigsegv()

        setup_logging(Path({str(tmp_path)!r}), faults=True)
        deep_inside_qt()
        """
    )
    died = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert died.returncode != 0
    log = (tmp_path / "caltrack.log").read_text(encoding="utf-8")
    assert "Fatal Python error: Segmentation fault" in log
    assert "deep_inside_qt" in log


def test_closing_the_log_stops_crash_stacks_going_to_its_old_descriptor(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import faulthandler, logging
        from pathlib import Path
        from app.settings.logs import setup_logging

        setup_logging(Path({str(tmp_path)!r}), faults=True)
        assert faulthandler.is_enabled()
        logging.shutdown()
        print(faulthandler.is_enabled())
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
