"""The OOT impact, computed (issue 14): which verdicts a failed standard's error changes.

When a reference standard is found out of tolerance, every calibration it served in
since its last good calibration (the case's affected list, ``app.services.oot``) is
judged again as if the standard's as-found error had been known. The conventions,
chosen once here and printed with every list (``METHOD``):

- **The error.** The standard's failing calibration (the one that opened the case) gives
  its as-found error ``e = as_found − nominal`` at each of its nominals (several
  readings at one nominal: their mean). At a calibrated point's nominal ``N``, ``e(N)``
  is **linear between the two nominals of the standard that bracket N**; beyond the
  first or last of them it is that end's error (no extrapolation: a straight line
  through two points says nothing outside them). Only the standard's points in the same
  unit as the calibrated point count; with none the reading is "not comparable".
- **The shift.** The standard is taken as a measuring instrument that set the reference
  value beside the calibrated one (a reference thermometer in a bath with the
  thermometer under test): reading ``e`` too high, it showed ``N`` when the true value
  was ``N − e``, so the calibrated instrument's error was ``reading − (N − e)`` and its
  reading at a true ``N`` would have been ``reading + e``. Issue 14's example: ``e =
  +0.3`` at 100 °C and a reading of 100.1 give 100.4. The other set-ups correct with
  the opposite sign: a source standard (its as-found is the output it gave, ``N + e``)
  and a standard that measured the output of the instrument under test. CalTrack does
  not record which set-up a calibration used, so every list states its convention
  (``METHOD``) for the assessor to check.
- **In time, the worst case.** The error found is taken to have been there through the
  whole period since the last good calibration: nothing records when it arose.
- **The verdicts.** Each shifted reading, as found and as left (each when there is
  one), is judged by the record's own stored decision rule against its point's stored
  limits, U and k (``tolerance.judge_point``, as the record itself was judged), and
  compared with the verdict of the stored reading. A verdict that differs "flips".
  Only this standard's error is applied, not that of other standards the record used.

A case a failing intermediate check opened (issue 15) takes the error from the check's
readings instead (``reading − nominal`` at each nominal, as above). A check's readings
carry no unit: they are taken to be in the unit of each calibrated point (the check is
of the standard's own quantity), and the method printed with the list says so.

The list is live while its case is open, and frozen into the case when it closes
(``impact_snapshot``), so a later edit never changes what QA saw and signed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from itertools import pairwise
from typing import Any

from app.db.models import CalibrationRecord, MeasurementPoint, OotCase
from app.repositories.unit_of_work import UnitOfWork
from app.services.check_readings import readings_of
from app.services.decision_rules import DecisionRule
from app.services.dto import AffectedCalibration, to_jsonable
from app.services.tolerance import judge_point, judge_stored, record_rule
from app.services.tolerance_spec import DECIMAL_CONTEXT, as_decimal

METHOD = (
    "each reading shifted by the standard's as-found error at the point's nominal "
    "(shifted = reading + error: the standard set the reference value beside the "
    "instrument under test), linear between the standard's two nominals around it in "
    "the same unit (the nearest end's error beyond them), re-judged by the record's own "
    "decision rule, limits, U and k"
)
CHECK_METHOD = (
    f"{METHOD}; the error is that read in the failing intermediate check, whose readings "
    "carry no unit: taken to be in each point's unit"
)

COMPARED = "compared"
NOT_COMPARABLE = "not_comparable"
NO_READING = "no_reading"
READINGS = ("as_found", "as_left")


@dataclass(frozen=True)
class StandardError:
    """The standard's as-found error at one of its nominals (exact decimal text)."""

    nominal: str
    unit: str
    error: str


@dataclass(frozen=True)
class ImpactRow:
    """One reading of an affected calibration, before and after the shift.

    ``status`` is ``compared``, ``not_comparable`` (no standard reading in its unit) or
    ``no_reading``; ``note`` says why when not compared. Verdicts are
    ``app.services.decision_rules.Verdict`` values ("pass", "conditional_pass", …).
    """

    record_id: int
    instrument_id: int
    asset_tag: str
    performed_on: date
    seq: int
    nominal: float
    unit: str
    reading: str
    status: str
    stored: float | None
    error: str
    shifted: str
    before: str
    after: str
    flips: bool
    note: str

    @property
    def line(self) -> str:
        """The row as a sentence: "TH-0042 #17 point 3 as found: pass → fail (…)"."""
        where = f"{self.asset_tag} #{self.record_id} point {self.seq}"
        kind = self.reading.replace("_", " ")
        if self.status != COMPARED:
            return f"{where} {kind}: {self.note}".strip()
        change = (
            f"{_words(self.before)} → {_words(self.after)}"
            if self.flips
            else f"{_words(self.before)}, unchanged"
        )
        return (
            f"{where} {kind}: {change} ({self.stored:.10g} → {self.shifted} {self.unit}, "
            f"error {self.error})"
        ).replace(" ,", ",")


@dataclass(frozen=True)
class CaseImpact:
    """The impact list of a case and its summary.

    ``frozen``: read from what the case stored when it closed (else computed now).
    """

    case_id: int
    standard_tag: str
    standard_record_id: int | None  # the failing calibration; None when a check failed
    method: str
    errors: list[StandardError]
    rows: list[ImpactRow]
    summary: str
    frozen: bool
    standard_check_id: int | None = None  # the failing intermediate check (issue 15)

    @property
    def error_source(self) -> str:
        """Where the standard's error comes from, in words."""
        if self.standard_check_id is not None:
            return f"intermediate check #{self.standard_check_id}"
        return f"calibration #{self.standard_record_id}"

    @property
    def flipped(self) -> list[ImpactRow]:
        """The rows whose verdict would change."""
        return [r for r in self.rows if r.flips]


def _words(verdict: str) -> str:
    return verdict.replace("_", " ") or "-"


def _text(value: Decimal) -> str:
    # Ten significant digits, as the case summaries print readings (an interpolated
    # error carries 28).
    return f"{float(value):.10g}"


def standard_errors(record: CalibrationRecord) -> dict[str, list[tuple[Decimal, Decimal]]]:
    """unit → the standard's (nominal, mean as-found error) points, by nominal."""
    found: dict[str, dict[Decimal, list[Decimal]]] = {}
    for p in record.points:
        if p.as_found is None:
            continue
        n = as_decimal(p.nominal, "nominal")
        with localcontext(DECIMAL_CONTEXT):
            e = as_decimal(p.as_found, "reading") - n
        found.setdefault(p.unit.strip(), {}).setdefault(n, []).append(e)
    out: dict[str, list[tuple[Decimal, Decimal]]] = {}
    for unit, by_nominal in found.items():
        with localcontext(DECIMAL_CONTEXT):
            out[unit] = sorted((n, sum(es, Decimal(0)) / len(es)) for n, es in by_nominal.items())
    return out


def error_at(points: Sequence[tuple[Decimal, Decimal]], nominal: Decimal) -> Decimal | None:
    """The error at ``nominal``: linear between the two points around it, the nearest
    end's beyond them; None without points. ``points`` sorted by nominal, one each."""
    if not points:
        return None
    if nominal <= points[0][0]:
        return points[0][1]
    if nominal >= points[-1][0]:
        return points[-1][1]
    for (n1, e1), (n2, e2) in pairwise(points):
        if n1 <= nominal <= n2:
            with localcontext(DECIMAL_CONTEXT):
                return e1 + (e2 - e1) * (nominal - n1) / (n2 - n1)
    return None  # unreachable: the nominal lies between the ends


def _rows(
    affected: AffectedCalibration,
    record: CalibrationRecord,
    errors: dict[str, list[tuple[Decimal, Decimal]]],
) -> list[ImpactRow]:
    base: dict[str, Any] = {
        "record_id": record.id,
        "instrument_id": affected.instrument_id,
        "asset_tag": affected.asset_tag,
        "performed_on": record.performed_on,
    }
    points = sorted(record.points, key=lambda p: p.seq)
    if not points:
        return [
            ImpactRow(
                **base,
                seq=0,
                nominal=0.0,
                unit="",
                reading="",
                status=NO_READING,
                stored=None,
                error="",
                shifted="",
                before="",
                after="",
                flips=False,
                note="the record holds no readings to re-evaluate",
            )
        ]
    rule = record_rule(record.decision_rule)
    rows: list[ImpactRow] = []
    for p in points:
        rows.extend(_point_rows(base, p, rule, errors))
    return rows


def _point_rows(
    base: dict[str, Any],
    p: MeasurementPoint,
    rule: DecisionRule,
    errors: dict[str, list[tuple[Decimal, Decimal]]],
) -> list[ImpactRow]:
    unit = p.unit.strip()
    error = error_at(errors.get(unit, []), as_decimal(p.nominal, "nominal"))
    stored_judgement = judge_stored(p, rule)
    shifted: dict[str, Decimal | None] = {}
    for kind in READINGS:
        value = getattr(p, kind)
        if value is None or error is None:
            shifted[kind] = None
            continue
        with localcontext(DECIMAL_CONTEXT):
            shifted[kind] = as_decimal(value, "reading") + error
    after = judge_point(
        rule,
        nominal=p.nominal,
        as_found=_float(shifted["as_found"]),
        as_left=_float(shifted["as_left"]),
        tolerance=p.tolerance,
        lower=p.tolerance_lower,
        upper=p.tolerance_upper,
        uncertainty=p.uncertainty,
        coverage_factor=p.coverage_factor,
    )
    rows: list[ImpactRow] = []
    for kind in READINGS:
        value = getattr(p, kind)
        common: dict[str, Any] = {
            **base,
            "seq": p.seq,
            "nominal": p.nominal,
            "unit": p.unit,
            "reading": kind,
        }
        if value is None:
            note = f"no {kind.replace('_', ' ')} reading: skipped"
            rows.append(_skipped(common, NO_READING, None, note))
            continue
        if error is None:
            note = "not comparable: the standard's failing calibration has no as-found " + (
                f"reading in {unit}" if unit else "reading without a unit"
            )
            rows.append(_skipped(common, NOT_COMPARABLE, value, note))
            continue
        before_v = getattr(stored_judgement, kind)
        after_v = getattr(after, kind)
        before_s = before_v.value if before_v is not None else ""
        after_s = after_v.value if after_v is not None else ""
        moved = shifted[kind]
        rows.append(
            ImpactRow(
                **common,
                status=COMPARED,
                stored=value,
                error=_signed(error),
                shifted=_text(moved) if moved is not None else "",
                before=before_s,
                after=after_s,
                flips=before_s != after_s,
                note="",
            )
        )
    return rows


def _skipped(common: dict[str, Any], status: str, stored: float | None, note: str) -> ImpactRow:
    return ImpactRow(
        **common,
        status=status,
        stored=stored,
        error="",
        shifted="",
        before="",
        after="",
        flips=False,
        note=note,
    )


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _signed(value: Decimal) -> str:
    text = _text(value)
    return text if text.startswith("-") else f"+{text}"


def _summary(standard_tag: str, records: int, rows: list[ImpactRow]) -> str:
    flipped = [r for r in rows if r.flips]
    skipped = {
        status: len({(r.record_id, r.seq) for r in rows if r.status == status})
        for status in (NOT_COMPARABLE, NO_READING)
    }
    head = f"{records} calibration(s) re-evaluated with {standard_tag}'s as-found error"
    if flipped:
        tags = sorted({r.asset_tag for r in flipped})
        points = len({(r.record_id, r.seq) for r in flipped})
        recs = len({r.record_id for r in flipped})
        body = (
            f"{len(flipped)} verdict(s) would change, at {points} point(s) of {recs} "
            f"record(s): {', '.join(tags)}"
        )
    else:
        body = "no verdict would change"
    extra = []
    if skipped[NOT_COMPARABLE]:
        extra.append(f"{skipped[NOT_COMPARABLE]} point(s) not comparable (another unit)")
    if skipped[NO_READING]:
        extra.append(f"{skipped[NO_READING]} point(s) with a reading missing")
    return f"{head}: {body}" + (f"; {'; '.join(extra)}" if extra else "")


def check_errors(stored: str, units: set[str]) -> dict[str, list[tuple[Decimal, Decimal]]]:
    """The errors a check read (``stored``: its readings), in each of ``units``."""
    by_nominal: dict[Decimal, list[Decimal]] = {}
    for r in readings_of(stored):
        n = as_decimal(r.nominal, "nominal")
        with localcontext(DECIMAL_CONTEXT):
            by_nominal.setdefault(n, []).append(as_decimal(r.reading, "reading") - n)
    with localcontext(DECIMAL_CONTEXT):
        points = sorted((n, sum(es, Decimal(0)) / len(es)) for n, es in by_nominal.items())
    return {unit: points for unit in units} if points else {}


def compute_impact(
    uow: UnitOfWork, case: OotCase, affected: list[AffectedCalibration], standard_tag: str
) -> CaseImpact:
    """The impact list of ``case`` over ``affected`` (its affected calibrations), now."""
    ids = [a.record_id for a in affected]
    records = uow.calibrations.by_ids(ids + ([case.record_id] if case.record_id else []))
    errors: dict[str, list[tuple[Decimal, Decimal]]] = {}
    if case.check_id is not None:
        check = uow.checks.get(case.check_id)
        units = {p.unit.strip() for i in ids if i in records for p in records[i].points}
        errors = check_errors(check.readings, units) if check is not None else {}
    else:
        failing = records.get(case.record_id) if case.record_id is not None else None
        errors = standard_errors(failing) if failing is not None else {}
    rows: list[ImpactRow] = []
    for a in affected:
        record = records.get(a.record_id)
        if record is not None:
            rows.extend(_rows(a, record, errors))
    listed = [
        StandardError(_text(n), unit, _signed(e))
        for unit, points in sorted(errors.items())
        for n, e in points
    ]
    if case.check_id is not None:  # one list of errors, whatever the points' units
        listed = list(
            {(e.nominal, e.error): StandardError(e.nominal, "", e.error) for e in listed}.values()
        )
    return CaseImpact(
        case_id=case.id,
        standard_tag=standard_tag,
        standard_record_id=case.record_id,
        method=CHECK_METHOD if case.check_id is not None else METHOD,
        errors=listed,
        rows=rows,
        summary=_summary(standard_tag, len(affected), rows),
        frozen=False,
        standard_check_id=case.check_id,
    )


def impact_json(impact: CaseImpact) -> str:
    """The stored form (canonical JSON) of a list, as frozen into its case."""
    return json.dumps(to_jsonable(impact), ensure_ascii=False, sort_keys=True)


def impact_from_json(text: str) -> CaseImpact:
    """A list read back from its case (``frozen`` True)."""
    item = json.loads(text)
    rows = [
        ImpactRow(**{**r, "performed_on": date.fromisoformat(r["performed_on"])})
        for r in item["rows"]
    ]
    return CaseImpact(
        case_id=int(item["case_id"]),
        standard_tag=str(item["standard_tag"]),
        standard_record_id=(
            None if item["standard_record_id"] is None else int(item["standard_record_id"])
        ),
        method=str(item["method"]),
        errors=[StandardError(**e) for e in item["errors"]],
        rows=rows,
        summary=str(item["summary"]),
        frozen=True,
        # Lists frozen before revision 0019 name no check.
        standard_check_id=item.get("standard_check_id"),
    )
