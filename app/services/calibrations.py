"""Calibration use cases: record a calibration, void one, read the history."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm.exc import StaleDataError

from app.clock import Clock
from app.db.models import (
    NOTES_LEN,
    SHORT_LEN,
    CalibrationRecord,
    CalibrationStandard,
    Instrument,
    MeasurementPoint,
)
from app.errors import ConflictError, ConflictSide, NotFoundError, ValidationError
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit import AuditChainWriter
from app.services.dto import CalibrationInput, CalibrationView, PointInput, PointView
from app.services.due import next_due_from
from app.services.instruments import require_instrument
from app.services.snapshots import created, diff, instrument_snapshot, record_snapshot
from app.services.validation import clean_text, parse_date, parse_float

RESULTS = ("pass", "fail", "adjusted")
PROVIDERS = ("in_house", "external")
MAX_POINTS = 500


def within(value: float | None, nominal: float, tolerance: float) -> bool | None:
    """Pass/fail of one reading; None when there is no reading."""
    if value is None:
        return None
    # A reading exactly on the limit passes; allow for binary rounding of decimals.
    slack = 1e-9 * max(1.0, abs(nominal), abs(tolerance))
    return abs(value - nominal) <= tolerance + slack


def point_view(seq: int, p: PointInput | MeasurementPoint) -> PointView:
    return PointView(
        seq=seq,
        nominal=p.nominal,
        as_found=p.as_found,
        as_left=p.as_left,
        tolerance=p.tolerance,
        unit=p.unit,
        as_found_pass=within(p.as_found, p.nominal, p.tolerance),
        as_left_pass=within(p.as_left, p.nominal, p.tolerance),
    )


def calibration_view(record: CalibrationRecord, tags: dict[int, str]) -> CalibrationView:
    return CalibrationView(
        id=record.id,
        instrument_id=record.instrument_id,
        asset_tag=tags.get(record.instrument_id, str(record.instrument_id)),
        performed_on=record.performed_on,
        performed_by=record.performed_by,
        provider_kind=record.provider_kind,
        provider_name=record.provider_name,
        certificate_number=record.certificate_number,
        temperature_c=record.temperature_c,
        humidity_pct=record.humidity_pct,
        result=record.result,
        adjustment_made=record.adjustment_made,
        uncertainty=record.uncertainty,
        next_due=record.next_due,
        notes=record.notes,
        points=[point_view(p.seq, p) for p in record.points],
        standards=sorted(tags.get(s.standard_id, str(s.standard_id)) for s in record.standards),
        voided=record.voided_at is not None,
        void_reason=record.void_reason,
        created_at=record.created_at,
        created_by=record.created_by,
        version=record.version,
    )


@dataclass(frozen=True)
class _CleanCalibration:
    performed_on: date
    next_due: date | None
    fields: dict[str, object]
    points: list[PointInput]


def parse_point(text: str) -> PointInput:
    """``NOMINAL:AS_FOUND:AS_LEFT:TOLERANCE[:UNIT]``; an empty reading is allowed."""
    parts = text.split(":")
    if len(parts) not in (4, 5):
        raise ValidationError(
            {"point": f"{text!r} must be NOMINAL:AS_FOUND:AS_LEFT:TOLERANCE[:UNIT]"}
        )
    errors: dict[str, str] = {}
    nominal = parse_float("nominal", parts[0], errors)
    as_found = parse_float("as_found", parts[1], errors)
    as_left = parse_float("as_left", parts[2], errors)
    tolerance = parse_float("tolerance", parts[3], errors)
    if errors or nominal is None or tolerance is None:
        detail = "; ".join(f"{k} {v}" for k, v in errors.items()) or "nominal and tolerance needed"
        raise ValidationError({"point": f"{text!r}: {detail}"})
    return PointInput(nominal, as_found, as_left, tolerance, parts[4] if len(parts) == 5 else "")


class CalibrationService:
    """Record and void calibrations; keeps the instrument's due date and status."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def _validate(self, data: CalibrationInput, instrument: Instrument) -> _CleanCalibration:
        errors: dict[str, str] = {}
        performed_on = parse_date("performed_on", data.performed_on, errors)
        if performed_on is None and "performed_on" not in errors:
            errors["performed_on"] = "required"
        if performed_on and performed_on > self._clock.today():
            errors["performed_on"] = f"{performed_on} is in the future; enter the date it was done"
        result = str(data.result).strip().lower()
        if result not in RESULTS:
            errors["result"] = "must be one of " + ", ".join(RESULTS)
        provider = str(data.provider_kind).strip().lower().replace("-", "_")
        if provider not in PROVIDERS:
            errors["provider_kind"] = "must be in_house or external"
        fields: dict[str, object] = {
            "performed_by": clean_text("performed_by", data.performed_by, SHORT_LEN, errors)
            or self._identity.user,
            "provider_name": clean_text("provider_name", data.provider_name, SHORT_LEN, errors),
            "certificate_number": clean_text(
                "certificate_number", data.certificate_number, SHORT_LEN, errors
            ),
            "uncertainty": clean_text("uncertainty", data.uncertainty, SHORT_LEN, errors),
            "notes": clean_text("notes", data.notes, NOTES_LEN, errors, multiline=True),
            "temperature_c": parse_float("temperature_c", data.temperature_c, errors),
            "humidity_pct": parse_float("humidity_pct", data.humidity_pct, errors),
            "result": result,
            "provider_kind": provider,
            "adjustment_made": bool(data.adjustment_made) or result == "adjusted",
        }
        humidity = fields["humidity_pct"]
        if isinstance(humidity, float) and not 0 <= humidity <= 100:
            errors["humidity_pct"] = "must be between 0 and 100 %"
        if len(data.points) > MAX_POINTS:
            errors["points"] = f"at most {MAX_POINTS} measurement points"
        points = list(data.points)
        for seq, p in enumerate(points, start=1):
            values = (p.nominal, p.as_found, p.as_left, p.tolerance)
            if any(v is not None and not math.isfinite(v) for v in values):
                errors[f"point {seq}"] = "readings must be finite numbers"
            elif p.tolerance < 0:
                errors[f"point {seq}"] = "tolerance must be zero or more (it is ±)"
            elif len(p.unit) > 32:
                errors[f"point {seq}"] = "unit is at most 32 characters"
            elif result == "pass" and (
                within(p.as_found, p.nominal, p.tolerance) is False
                or within(p.as_left, p.nominal, p.tolerance) is False
            ):
                errors[f"point {seq}"] = (
                    "is out of tolerance; record the result as fail or adjusted"
                )
        next_due = parse_date("next_due", data.next_due, errors)
        if performed_on and not errors:
            computed = next_due_from(performed_on, instrument.calibration_interval_days)
            if next_due is None:
                next_due = computed
            elif next_due != computed and not data.next_due_reason.strip():
                errors["next_due"] = (
                    f"differs from the computed {computed}; give a reason for the change"
                )
            elif next_due <= performed_on:
                errors["next_due"] = "must be after the calibration date"
        if errors or performed_on is None:
            raise ValidationError(errors)
        return _CleanCalibration(performed_on, next_due, fields, points)

    def add(self, tag: str, data: CalibrationInput) -> CalibrationView:
        """Record a calibration; moves the due date and takes a failed one out of service."""

        def write(uow: UnitOfWork) -> CalibrationView:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            record = self.add_in(uow, audit, tag, data)
            audit.flush()
            ids = [record.instrument_id, *(s.standard_id for s in record.standards)]
            return calibration_view(record, uow.instruments.tags_by_id(ids))

        return self._uow.write(write, label="record calibration")

    def add_in(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        tag: str,
        data: CalibrationInput,
        *,
        reason: str = "",
    ) -> CalibrationRecord:
        """Record a calibration inside the caller's transaction (imports add many).

        ``reason`` goes into the audit events (an import names its file); a changed due
        date's own reason comes first.
        """
        instrument = require_instrument(uow, tag)
        clean = self._validate(data, instrument)
        standards = self._standards(uow, instrument, data.standards)
        record = CalibrationRecord(
            instrument_id=instrument.id,
            performed_on=clean.performed_on,
            next_due=clean.next_due,
            created_at=audit.now,
            created_by=self._identity.user,
            updated_at=audit.now,
            updated_by=self._identity.user,
            **clean.fields,
        )
        record.points = [
            MeasurementPoint(
                seq=i,
                nominal=p.nominal,
                as_found=p.as_found,
                as_left=p.as_left,
                tolerance=p.tolerance,
                unit=p.unit,
            )
            for i, p in enumerate(clean.points, start=1)
        ]
        record.standards = [CalibrationStandard(standard_id=s.id) for s in standards]
        uow.calibrations.add(record)
        why = "; ".join(r for r in (data.next_due_reason.strip(), reason.strip()) if r)
        audit.record(
            "calibration",
            record.id,
            f"{instrument.asset_tag} #{record.id}",
            "create",
            created(record_snapshot(record)),
            why,
        )
        before = instrument_snapshot(instrument)
        if instrument.last_calibrated is None or clean.performed_on >= instrument.last_calibrated:
            instrument.last_calibrated = clean.performed_on
            instrument.next_due = clean.next_due
        if record.result == "fail" and instrument.status == "in_service":
            instrument.status = "out_of_service"
        self._touch_instrument(
            uow,
            audit,
            instrument,
            before,
            "; ".join(r for r in (f"calibration #{record.id}", reason.strip()) if r),
        )
        return record

    def void(
        self, record_id: int, reason: str, *, expected_version: int | None = None
    ) -> CalibrationView:
        """Void a record (never delete); the due date falls back to the latest valid one."""
        if not reason.strip():
            raise ValidationError({"reason": "a reason is required to void a calibration"})

        def write(uow: UnitOfWork) -> CalibrationView:
            record = uow.calibrations.get(record_id)
            if record is None:
                raise NotFoundError(f"no calibration record #{record_id}")
            instrument = uow.instruments.get(record.instrument_id)
            assert instrument is not None  # guaranteed by the foreign key
            if record.voided_at is not None:
                raise ValidationError({"record": f"calibration #{record_id} is already voided"})
            if expected_version is not None and record.version != expected_version:
                raise ConflictError(
                    "calibration",
                    f"#{record_id}",
                    yours=ConflictSide(expected_version, {"voided": True}),
                    theirs=ConflictSide(record.version, record_snapshot(record), record.updated_by),
                )
            audit = AuditChainWriter(uow, self._identity, self._clock)
            before = record_snapshot(record)
            record.voided_at = audit.now
            record.voided_by = self._identity.user
            record.void_reason = reason.strip()
            record.updated_at = audit.now
            record.updated_by = self._identity.user
            uow.calibrations.flush()
            audit.record(
                "calibration",
                record.id,
                f"{instrument.asset_tag} #{record.id}",
                "void",
                diff(before, record_snapshot(record)),
                reason.strip(),
            )
            inst_before = instrument_snapshot(instrument)
            latest = next(
                (r for r in uow.calibrations.history(instrument.id) if r.voided_at is None), None
            )
            instrument.last_calibrated = latest.performed_on if latest else None
            instrument.next_due = latest.next_due if latest else None
            self._touch_instrument(
                uow, audit, instrument, inst_before, f"calibration #{record.id} voided"
            )
            audit.flush()
            tags = uow.instruments.tags_by_id(
                [instrument.id, *(s.standard_id for s in record.standards)]
            )
            return calibration_view(record, tags)

        try:
            return self._uow.write(write, label="void calibration")
        except StaleDataError:
            raise ConflictError(
                "calibration",
                f"#{record_id}",
                yours=ConflictSide(expected_version or 0, {"voided": True}),
                theirs=ConflictSide(0, {}),
            ) from None

    def history(self, tag: str) -> list[CalibrationView]:
        def read(uow: UnitOfWork) -> list[CalibrationView]:
            instrument = require_instrument(uow, tag)
            records = uow.calibrations.history(instrument.id)
            ids = {instrument.id} | {s.standard_id for r in records for s in r.standards}
            tags = uow.instruments.tags_by_id(sorted(ids))
            return [calibration_view(r, tags) for r in records]

        return self._uow.read(read)

    def calibrated_with(self, standard_tag: str) -> list[tuple[int, str]]:
        """(record id, instrument tag) of every calibration that used this standard."""

        def read(uow: UnitOfWork) -> list[tuple[int, str]]:
            standard = require_instrument(uow, standard_tag)
            pairs = uow.calibrations.calibrated_with(standard.id)
            tags = uow.instruments.tags_by_id(sorted({i for _, i in pairs}))
            return [(r, tags[i]) for r, i in pairs]

        return self._uow.read(read)

    # -- helpers -------------------------------------------------------------------

    @staticmethod
    def _standards(
        uow: UnitOfWork, instrument: Instrument, tags: tuple[str, ...]
    ) -> list[Instrument]:
        if not tags:
            return []
        found = uow.instruments.get_many_by_tags(tags)
        missing = [t for t in tags if t.strip().upper() not in found]
        if missing:
            raise ValidationError({"standards": "unknown asset tag(s): " + ", ".join(missing)})
        if instrument.asset_tag_key in found:
            raise ValidationError({"standards": "an instrument cannot be its own standard"})
        return list(found.values())

    def _touch_instrument(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        instrument: Instrument,
        before: dict[str, object],
        reason: str,
    ) -> None:
        changed = diff(before, instrument_snapshot(instrument))
        if not changed:
            return
        instrument.updated_at = audit.now
        instrument.updated_by = self._identity.user
        uow.instruments.flush()
        audit.record("instrument", instrument.id, instrument.asset_tag, "update", changed, reason)
