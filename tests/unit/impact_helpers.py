"""A failed reference standard and the calibrations it served in, with known flips.

The worked numbers of issue 14's "OOT impact, computed" (the brief's example), chosen so
that each convention of ``app.services.oot_impact`` shows:

- STD-1, a reference thermometer, calibrated good on 2025-06-01 and 2026-01-10 (the
  last good one), is found on 2026-04-01 reading +0.1 °C high at 0 °C and +0.3 °C high
  at 100 °C (tolerance ±0.2: the 100 °C point fails and opens the case).
- TH-A (2026-03-01), guarded acceptance w = U (ILAC G8:2019 4.2.2, binary), read 100.1
  at 100 °C with ±0.5 and U = 0.2 (k = 2): acceptance limits 99.7 … 100.3, a pass.
  Shifted by +0.3 it is 100.4: inside the tolerance, past the acceptance limit, so a
  fail. Both readings (as found, as left) flip pass → fail.
- TH-B (2026-03-02), simple acceptance: the same 100.1 with U = 0.2 shifts to 100.4 and
  still passes (w = 0, limits 99.5 … 100.5). At 50 °C the error is linear between
  +0.1 at 0 and +0.3 at 100: +0.2, so 50.35 becomes 50.55, past 50.5: pass → fail.
  A point in °F has no standard reading in its unit: not comparable.
- TH-C (2026-03-03) has no as-found reading (skipped, with the reason); its as-left
  100.0 becomes 100.3 and passes under simple acceptance: unchanged.
- TH-D (2025-12-01) was calibrated before the last good calibration: not affected.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.bootstrap import CalTrack
from app.services.dto import CalibrationInput, PointInput
from tests.conftest import add_thermometer

JUSTIFY = "TUR 2.5:1 accepted: the best reference available for this range"
# (tag, point, reading) of every verdict that flips, all pass → fail.
FLIPS = {
    ("TH-A", 1, "as_found"),
    ("TH-A", 1, "as_left"),
    ("TH-B", 2, "as_found"),
    ("TH-B", 2, "as_left"),
}


@dataclass(frozen=True)
class FailedStandard:
    """The ids the tests check against."""

    failing_record: int
    records: dict[str, int]


def _add(
    app: CalTrack,
    tag: str,
    on: str,
    *points: PointInput,
    rule: str = "simple",
    result: str = "pass",
    with_std: bool = True,
    justification: str = "",
) -> int:
    return app.calibrations.add(
        tag,
        CalibrationInput(
            performed_on=on,
            result=result,
            certificate_number=f"C-{tag}-{on}",
            points=points,
            standards=("STD-1",) if with_std else (),
            decision_rule=rule,
            tur_justification=justification,
        ),
    ).id


def std_point(nominal: float, found: float, left: float | None = None) -> PointInput:
    return PointInput(nominal, found, found if left is None else left, 0.2, "°C")


def build_failed_standard(app: CalTrack) -> FailedStandard:
    """The lab above, in ``app`` (its user an admin): STD-1's case is open."""
    for tag in ("STD-1", "TH-A", "TH-B", "TH-C", "TH-D"):
        add_thermometer(app, tag)
    good = (std_point(0, 0.0), std_point(100, 100.0))
    _add(app, "STD-1", "2025-06-01", *good, with_std=False)
    records = {"TH-D": _add(app, "TH-D", "2025-12-01", PointInput(100, 100.1, 100.1, 0.5, "°C"))}
    _add(app, "STD-1", "2026-01-10", *good, with_std=False)
    records["TH-A"] = _add(
        app,
        "TH-A",
        "2026-03-01",
        PointInput(100, 100.1, 100.1, 0.5, "°C", 0.2, 2),
        rule="guard r=1 binary",
        justification=JUSTIFY,
    )
    records["TH-B"] = _add(
        app,
        "TH-B",
        "2026-03-02",
        PointInput(100, 100.1, 100.1, 0.5, "°C", 0.2, 2),
        PointInput(50, 50.35, 50.35, 0.5, "°C"),
        PointInput(100, 100.0, 100.0, 1.0, "°F"),
        justification=JUSTIFY,
    )
    records["TH-C"] = _add(app, "TH-C", "2026-03-03", PointInput(100, None, 100.0, 0.5, "°C"))
    failing = _add(
        app,
        "STD-1",
        "2026-04-01",
        std_point(0, 0.1, 0.0),
        std_point(100, 100.3, 100.0),
        result="adjusted",
        with_std=False,
    )
    return FailedStandard(failing, records)
