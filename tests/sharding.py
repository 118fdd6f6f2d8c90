"""Splitting a tier over processes by how long its tests take (``CALTRACK_SHARD=K/N``).

./run-tests runs the integration tier as several processes side by side (three unless
``CALTRACK_INTEGRATION_SHARDS`` says), so both cores stay busy after the quicker tiers
end. A split by test count left one share four minutes
behind the other: a CLI test that starts ten processes weighs as much as one that reads
a file. The shares are balanced by the seconds each test took in a measured run, kept in
``tests/integration/durations.json`` and refreshed with ``CALTRACK_RECORD_DURATIONS=1``
(each process merges what it measured into the file under a lock).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import portalocker
import pytest

SHARD_ENV = "CALTRACK_SHARD"
RECORD_ENV = "CALTRACK_RECORD_DURATIONS"
DURATIONS = Path(__file__).parent / "integration" / "durations.json"
# A test the file does not know yet (new since the last measured run).
UNKNOWN_SECONDS = 2.0


def measured_durations(path: Path = DURATIONS) -> dict[str, float]:
    """The seconds each test took (setup, call and teardown) in the last measured run."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {str(key): float(value) for key, value in loaded.items()}


def keep_this_shard(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep the K-th of N shares of ``items`` when ``CALTRACK_SHARD=K/N`` says so.

    The tests that share a fixture made once per module (a module's lab, or the commands
    it runs once for all its cases) stay together in one share: split over two processes,
    each would make it. The heaviest groups are placed first, each with the share that
    has the fewest seconds so far; a skipped test weighs nothing.
    """
    shard = os.environ.get(SHARD_ENV)
    if not shard:
        return
    k, _, n = shard.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise pytest.UsageError(f"{SHARD_ENV}={shard!r}: give K/N with 1 <= K <= N")
    share = split(items, int(n), measured_durations())
    mine = [item for item in items if share[shard_group(item)] == int(k) - 1]
    theirs = [item for item in items if share[shard_group(item)] != int(k) - 1]
    config.hook.pytest_deselected(items=theirs)
    items[:] = mine


def split(items: Sequence[pytest.Item], n: int, seconds: dict[str, float]) -> dict[str, int]:
    """Each group's share (0 to n-1): longest processing time first, a stable order."""
    groups: dict[str, float] = {}
    for item in items:
        skipped = item.get_closest_marker("skip") is not None
        weight = 0.0 if skipped else seconds.get(item.nodeid, UNKNOWN_SECONDS)
        key = shard_group(item)
        groups[key] = groups.get(key, 0.0) + weight
    loads = [0.0] * n
    share: dict[str, int] = {}
    for key in sorted(groups, key=lambda group: (-groups[group], group)):
        share[key] = loads.index(min(loads))
        loads[share[key]] += groups[key]
    return share


def shard_group(item: pytest.Item) -> str:
    """The test's file and the parameters of its module- or class-wide fixtures (the
    backend of a module's lab), or the test itself when it shares nothing."""
    info = getattr(item, "_fixtureinfo", None)
    definitions: dict[str, Sequence[pytest.FixtureDef[object]]] = (
        info.name2fixturedefs if info is not None else {}
    )
    shared = [
        name
        for name in getattr(item, "fixturenames", ())
        if name in definitions and definitions[name][-1].scope in ("class", "module", "package")
    ]
    if not shared:
        return item.nodeid
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    return f"{item.path}::" + ",".join(
        f"{name}={params[name]!r}" for name in sorted(params) if name in shared
    )


class DurationRecorder:
    """Adds up each integration test's phases and merges them into the durations file at
    the end of the session (``CALTRACK_RECORD_DURATIONS=1``)."""

    def __init__(self, path: Path = DURATIONS) -> None:
        self.path = path
        self.seconds: dict[str, float] = {}

    def add(self, report: pytest.TestReport) -> None:
        if report.nodeid.startswith("tests/integration/"):
            self.seconds[report.nodeid] = self.seconds.get(report.nodeid, 0.0) + report.duration

    def save(self) -> None:
        if not self.seconds:
            return
        # Two shards finish at about the same time: the lock keeps one from losing the
        # other's measurements.
        with portalocker.Lock(Path(tempfile.gettempdir()) / "caltrack-durations.lock", timeout=60):
            merged = measured_durations(self.path)
            merged.update({key: round(value, 2) for key, value in self.seconds.items()})
            self.path.write_text(
                json.dumps(dict(sorted(merged.items())), indent=0) + "\n", encoding="utf-8"
            )


def recorder_if_asked() -> DurationRecorder | None:
    """A recorder when ``CALTRACK_RECORD_DURATIONS=1``, else None."""
    return DurationRecorder() if os.environ.get(RECORD_ENV) == "1" else None
