"""Standards feed the uncertainty (issue 14): the starting U a standard offers a point.

When a technician picks the reference standards of a calibration, each point's
expanded uncertainty U is offered from them, so TUR is computed without retyping. One
home for the rule, used by the calibration grid (through
``CalibrationService.standard_uncertainties`` and :func:`combined_offer`) and by
``calibrations add --u-from-standards``. No Qt, no SQL.

What one standard offers for a point (nominal, unit) on a day, :func:`offer_from`:

1. Its latest valid calibration on or before that day (voided ones skipped, and a
   superseded record is voided): of its points that carry a U in the same unit, the
   one with the nearest nominal, **only while the nominal lies within the span of those
   points** (lowest to highest nominal, both included). A standard calibrated at 0 and
   100 °C says nothing about its uncertainty at 150 °C; extrapolating it would offer a
   number nobody measured. A tie (the nominal half-way) takes the larger U: the
   conservative side. The offer is that point's U and k.
2. Else the uncertainty stated on the standard (``instruments edit --stated-u``), when
   its unit is the point's unit (a unit is compared as typed, spaces aside: "°C" is
   not "K", and "" only matches "").
3. Else nothing: the U cell stays empty and the technician types it.

Several standards on one record, :func:`combined_offer`: the offer of the dominant
standard, the one whose standard uncertainty u = U/k is largest (k = 2 when not stated,
the usual convention). Not a root-sum-square: each standard's U is one component of
the measurement's uncertainty budget, alongside resolution, repeatability and the
environment, which this offer cannot know; summing two components while leaving out the
others would look complete and be no more right. Labs start from the dominant
standard's U and let the technician edit it, which the grid allows (a typed U is never
overwritten). The offer says where it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from app.db.models import Instrument
from app.errors import ValidationError
from app.limits import UNIT_LEN
from app.repositories.unit_of_work import UnitOfWork
from app.services.dto import PointInput, StatedUncertainty, number_text

# The coverage factor assumed when comparing standards whose k is not stated.
DEFAULT_K = 2.0
STATED_FORMAT = "VALUE[:K[:UNIT]]"


def parse_stated(text: str) -> StatedUncertainty | None:
    """``VALUE[:K[:UNIT]]`` as typed on the command line; "" clears it (None).

    Raises ValidationError naming the problem (the field ``stated_uncertainty``).
    """
    text = text.strip()
    if not text:
        return None
    parts = text.split(":", 2)
    try:
        value = float(parts[0].replace(",", "."))
        k = float(parts[1].replace(",", ".")) if len(parts) > 1 and parts[1].strip() else None
    except ValueError:
        raise ValidationError(
            {"stated_uncertainty": f"write it as {STATED_FORMAT} (numbers), not {text!r}"}
        ) from None
    unit = parts[2].strip() if len(parts) > 2 else ""
    return checked_stated(StatedUncertainty(value, k, unit))


def stated_input_text(stated: StatedUncertainty | None) -> str:
    """The stated uncertainty as :func:`parse_stated` reads it back ("" for none):
    ``0.02:2:°C``, ``0.02::°C`` (no k), ``0.5`` (U alone). Every digit kept, so the
    form, an export and ``--stated-u`` round-trip the stored floats exactly."""
    if stated is None:
        return ""
    parts = [number_text(stated.value)]
    k = stated.coverage_factor
    if k is not None or stated.unit:
        parts.append(number_text(k) if k is not None else "")
    if stated.unit:
        parts.append(stated.unit)
    return ":".join(parts)


def checked_stated(stated: StatedUncertainty) -> StatedUncertainty:
    """The stated uncertainty if it can be one; ValidationError otherwise."""
    if not (0 < stated.value < float("inf")):
        raise ValidationError({"stated_uncertainty": "U must be a finite number more than 0"})
    k = stated.coverage_factor
    if k is not None and not (0 < k < float("inf")):
        raise ValidationError({"stated_uncertainty": "k must be a finite number more than 0"})
    if len(stated.unit) > UNIT_LEN or not stated.unit.isprintable():
        raise ValidationError(
            {"stated_uncertainty": f"the unit is at most {UNIT_LEN} printable characters"}
        )
    return stated


def stated_of(obj: Instrument) -> StatedUncertainty | None:
    """The uncertainty stated on an instrument (None when it states none)."""
    if obj.stated_uncertainty is None:
        return None
    return StatedUncertainty(
        obj.stated_uncertainty, obj.stated_coverage_factor, obj.stated_uncertainty_unit
    )


def set_stated(obj: Instrument, stated: StatedUncertainty | None) -> None:
    """Store (or clear, with None) the uncertainty stated on an instrument."""
    obj.stated_uncertainty = stated.value if stated else None
    obj.stated_coverage_factor = stated.coverage_factor if stated else None
    obj.stated_uncertainty_unit = stated.unit if stated else ""


@dataclass(frozen=True)
class CalibratedPoint:
    """A point of a standard's own calibration that carries a U."""

    seq: int
    nominal: float
    unit: str
    uncertainty: float
    coverage_factor: float | None


@dataclass(frozen=True)
class StandardUncertainty:
    """What one standard can offer on a day: its latest valid calibration's points with
    a U (``record_id`` None: it has none on or before that day) and its stated value."""

    tag: str
    record_id: int | None = None
    performed_on: date | None = None
    points: tuple[CalibratedPoint, ...] = ()
    stated: StatedUncertainty | None = None


@dataclass(frozen=True)
class UncertaintyOffer:
    """A starting U (and k) for one point, and where it came from."""

    uncertainty: float
    coverage_factor: float | None
    standard: str
    source: str  # "from calibration #12 of STD-7 (2026-05-01), point 100 °C"

    @property
    def standard_u(self) -> float:
        """u = U/k, what the dominant standard is chosen by (k = 2 when not stated)."""
        return self.uncertainty / (self.coverage_factor or DEFAULT_K)


def _same_unit(a: str, b: str) -> bool:
    return a.strip() == b.strip()


def offer_from(std: StandardUncertainty, nominal: float, unit: str) -> UncertaintyOffer | None:
    """The U one standard offers at ``nominal`` in ``unit`` (the rule in the module's
    docstring), or None."""
    points = [p for p in std.points if _same_unit(p.unit, unit)]
    if points and min(p.nominal for p in points) <= nominal <= max(p.nominal for p in points):
        # Nearest nominal; on a tie the larger U (conservative), then the first point.
        best = min(points, key=lambda p: (abs(p.nominal - nominal), -p.uncertainty, p.seq))
        where = f"{number_text(best.nominal)} {best.unit}".strip()
        return UncertaintyOffer(
            best.uncertainty,
            best.coverage_factor,
            std.tag,
            f"from calibration #{std.record_id} of {std.tag} ({std.performed_on}), point {where}",
        )
    stated = std.stated
    if stated is not None and _same_unit(stated.unit, unit):
        return UncertaintyOffer(
            stated.value, stated.coverage_factor, std.tag, f"stated on {std.tag}"
        )
    return None


def combined_offer(
    standards: Sequence[StandardUncertainty], nominal: float, unit: str
) -> UncertaintyOffer | None:
    """The offer of the dominant standard (largest u = U/k) among those that offer one;
    None when none does. Why not a root-sum-square: see the module's docstring."""
    offers = [o for s in standards if (o := offer_from(s, nominal, unit)) is not None]
    if not offers:
        return None
    # On a tie, the first standard picked.
    best = max(offers, key=lambda o: o.standard_u)
    if len(offers) > 1:
        source = f"{best.source}; the largest of {len(offers)} standards' offers"
        return UncertaintyOffer(best.uncertainty, best.coverage_factor, best.standard, source)
    return best


def uncertainties_on(
    uow: UnitOfWork, standards: Sequence[Instrument], day: date
) -> list[StandardUncertainty]:
    """What each of these standards can offer for a calibration on ``day``, in order."""
    found: list[StandardUncertainty] = []
    for std in standards:
        cover = uow.calibrations.latest_valid_on_or_before(std.id, day)
        points: tuple[CalibratedPoint, ...] = ()
        if cover is not None:
            points = tuple(
                CalibratedPoint(p.seq, p.nominal, p.unit, p.uncertainty, p.coverage_factor)
                for p in cover.points
                if p.uncertainty is not None
            )
        found.append(
            StandardUncertainty(
                std.asset_tag,
                cover.id if cover is not None else None,
                cover.performed_on if cover is not None else None,
                points,
                stated_of(std),
            )
        )
    return found


def fill_offered(
    points: Sequence[PointInput], standards: Sequence[StandardUncertainty]
) -> tuple[tuple[PointInput, ...], list[tuple[int, UncertaintyOffer]]]:
    """The points with each one that has neither U nor k given the combined offer;
    and (1-based point number, offer) for each point filled. A point with a U, or with
    a k alone (a U at another k would not be what was meant), is left as typed."""
    filled: list[tuple[int, UncertaintyOffer]] = []
    result: list[PointInput] = []
    for number, p in enumerate(points, start=1):
        offer = None
        if p.uncertainty is None and p.coverage_factor is None:
            offer = combined_offer(standards, p.nominal, p.unit)
        if offer is None:
            result.append(p)
            continue
        result.append(
            replace(p, uncertainty=offer.uncertainty, coverage_factor=offer.coverage_factor)
        )
        filled.append((number, offer))
    return tuple(result), filled
