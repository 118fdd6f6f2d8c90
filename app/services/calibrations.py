"""Calibration use cases: record, edit, supersede and void calibrations; the history.

Recording checks the standards used (traceability), opens an out-of-tolerance case
when the as-found readings fail, and keeps the instrument's due date and status. A
record signed by QA can no longer be edited, only voided or superseded with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date

from sqlalchemy.orm.exc import StaleDataError

from app.clock import Clock
from app.db.models import (
    CalibrationRecord,
    CalibrationStandard,
    Instrument,
    MeasurementPoint,
)
from app.errors import (
    ConflictError,
    ConflictSide,
    EntryKeyTakenError,
    NotFoundError,
    ValidationError,
)
from app.identity import Identity
from app.limits import ENTRY_KEY_LEN, NOTES_LEN, SHORT_LEN
from app.plain_text import tag_key
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter
from app.services.decision_rules import DecisionRule, parse_rule
from app.services.dto import (
    CalibrationInput,
    CalibrationView,
    PointInput,
    Traceability,
    to_jsonable,
)
from app.services.due import next_due_from
from app.services.lookups import require_instrument
from app.services.oot import open_case_in, refresh_open_cases_in
from app.services.point_entry import EntryRules, Scale, judge_entry
from app.services.read_views import calibration_views
from app.services.review import appended, record_problems, sentence
from app.services.settings import LabMetrology, lab_metrology
from app.services.snapshots import created, diff, instrument_snapshot, record_snapshot
from app.services.standard_uncertainty import StandardUncertainty, uncertainties_on
from app.services.tolerance import (
    PointJudgement,
    lab_result,
    measuring_range,
    opens_case,
    record_rule,
    resolution,
)
from app.services.tolerance_spec import (
    MeasuringRange,
    as_decimal,
    format_number,
    parse_tolerance,
)
from app.services.traceability import category_problem, standard_problems_in, traceability_of
from app.services.tur import format_tur, meets_minimum
from app.services.upkeep_rules import settle_in
from app.services.validation import clean_text, parse_date, parse_float
from app.services.voiding import touch_instrument, void_in
from app.vocabulary import PROVIDER_KINDS, RESULTS, Result

MAX_POINTS = 500
# The key of a typed instrument's missing standard categories among standard_problems'.
CATEGORIES = "(categories)"
# What an edit may change on an unsigned record; readings, result and dates change only
# by superseding the record (a new record replaces it, the old one is voided).
EDITABLE_FIELDS = (
    "performed_by",
    "provider_kind",
    "provider_name",
    "certificate_number",
    "temperature_c",
    "humidity_pct",
    "uncertainty",
    "notes",
)


@dataclass(frozen=True)
class _CleanPoint:
    """A point as it is stored: the entry plus its resolved limits and TUR."""

    entry: PointInput
    tolerance: float
    tolerance_text: str | None
    lower: float | None
    upper: float | None
    tur: float | None

    def row(self) -> tuple[object, ...]:
        """What a stored point must equal for a repeated save to be the same entry."""
        p = self.entry
        return (
            p.nominal,
            p.as_found,
            p.as_left,
            self.tolerance,
            p.unit,
            p.uncertainty,
            p.coverage_factor,
            self.tolerance_text,
            self.lower,
            self.upper,
            self.tur,
        )


@dataclass(frozen=True)
class LabVerdict:
    """Readings judged by the lab's limits: the result they give (None without
    readings), the rule's sentence, and each nonconforming reading in words."""

    result: Result | None
    rule: str
    problems: tuple[str, ...]


@dataclass(frozen=True)
class _CleanCalibration:
    performed_on: date
    next_due: date | None
    fields: dict[str, object]
    points: list[_CleanPoint]


# Only for checking a written tolerance's form before the instrument is known.
_ANY_RANGE = MeasuringRange.of(0, 1)
POINT_FORMAT = "NOMINAL:AS_FOUND:AS_LEFT:TOLERANCE[:UNIT[:U[:K]]]"


def parse_point(text: str) -> PointInput:
    """``NOMINAL:AS_FOUND:AS_LEFT:TOLERANCE[:UNIT[:U[:K]]]``; an empty reading is allowed.

    TOLERANCE is a number (± that much, as always) or any form a tolerance is written
    in (``-0.02/+0.05``, ``±0.1 %rdg``, ``±(0.05 % + 2 digits)``: none has a colon or a
    comma); the service reads the written forms, with the instrument's range and
    resolution. U is the expanded uncertainty and K its coverage factor.
    """
    parts = text.split(":")
    if not 4 <= len(parts) <= 7:
        raise ValidationError({"point": f"{text!r} must be {POINT_FORMAT}"})
    errors: dict[str, str] = {}
    nominal = parse_float("nominal", parts[0], errors)
    as_found = parse_float("as_found", parts[1], errors)
    as_left = parse_float("as_left", parts[2], errors)
    written = " ".join(parts[3].split())
    plain: dict[str, str] = {}
    tolerance = parse_float("tolerance", written, plain)
    if not written:
        errors["tolerance"] = "is needed"
    uncertainty = parse_float("U", parts[5], errors) if len(parts) > 5 else None
    coverage = parse_float("k", parts[6], errors) if len(parts) > 6 else None
    if uncertainty is not None and uncertainty <= 0:
        errors["U"] = f"must be more than 0 (got {parts[5].strip()})"
    if coverage is not None and coverage <= 0:
        errors["k"] = f"must be more than 0 (got {parts[6].strip()})"
    if coverage is not None and uncertainty is None:
        errors["k"] = "needs U (the expanded uncertainty) before it"
    if errors or nominal is None:
        detail = "; ".join(f"{k} {v}" for k, v in errors.items()) or "nominal needed"
        raise ValidationError({"point": f"{text!r}: {detail}"})
    unit = parts[4].strip() if len(parts) > 4 else ""
    if tolerance is None:  # not a number: a tolerance as written, read by the service
        # Its form is checked now (a stand-in range and resolution: the instrument's own
        # are applied when the calibration is recorded).
        try:
            parse_tolerance(written, measuring_range=_ANY_RANGE, resolution=1)
        except ValidationError as error:
            detail = "; ".join(error.fields.values())
            raise ValidationError({"point": f"{text!r}: {detail}"}) from None
        return PointInput.written(nominal, as_found, as_left, written, unit, uncertainty, coverage)
    return PointInput(nominal, as_found, as_left, tolerance, unit, uncertainty, coverage)


def scale_of(uow: UnitOfWork, instrument: Instrument) -> Scale:
    """The range and resolution a written tolerance of ``instrument`` is resolved with:
    each as typed on its form, else its type's (a type's test plan in %FS or "+ n
    digits" then works for instruments whose form leaves them empty)."""
    measuring = measuring_range(instrument.range_text)
    step = resolution(instrument.resolution_text)
    kind = uow.types.get(instrument.type_id) if instrument.type_id is not None else None
    if kind is not None:
        if measuring is None and kind.range_low and kind.range_high:
            measuring = MeasuringRange.of(kind.range_low, kind.range_high)
        if step is None and kind.resolution:
            step = as_decimal(kind.resolution, "resolution")
    return Scale(measuring, step)


class CalibrationService:
    """Record and void calibrations; keeps the instrument's due date and status."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def _validate(
        self,
        data: CalibrationInput,
        instrument: Instrument,
        lab: LabMetrology,
        scale: Scale,
        *,
        flagged: bool = False,
    ) -> _CleanCalibration:
        """The record's clean values; ``flagged``: its dates contradict each other and are
        kept as recorded because the caller flags the instrument for QA review."""
        errors: dict[str, str] = {}
        rule = lab.decision_rule
        if data.decision_rule.strip():
            try:
                rule = parse_rule(data.decision_rule)
            except ValidationError as error:
                errors["decision_rule"] = error.fields.get("decision rule", str(error))
        performed_on = parse_date("performed_on", data.performed_on, errors)
        if performed_on is None and "performed_on" not in errors:
            errors["performed_on"] = "required"
        if performed_on and performed_on > self._clock.today() and not flagged:
            errors["performed_on"] = f"{performed_on} is in the future; enter the date it was done"
        result = str(data.result).strip().lower()
        if result not in RESULTS:
            errors["result"] = "must be one of " + ", ".join(RESULTS)
        provider = str(data.provider_kind).strip().lower().replace("-", "_")
        if provider not in PROVIDER_KINDS:
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
            "standards_justification": clean_text(
                "standards_justification",
                data.standards_justification,
                NOTES_LEN,
                errors,
                multiline=True,
            ),
            "decision_rule": rule.code,
            "tur_justification": clean_text(
                "tur_justification", data.tur_justification, NOTES_LEN, errors, multiline=True
            ),
        }
        humidity = fields["humidity_pct"]
        if isinstance(humidity, float) and not 0 <= humidity <= 100:
            errors["humidity_pct"] = "must be between 0 and 100 %"
        if len(data.points) > MAX_POINTS:
            errors["points"] = f"at most {MAX_POINTS} measurement points"
        points: list[_CleanPoint] = []
        low_tur: list[str] = []
        for seq, p in enumerate(data.points, start=1):
            try:
                point, judged = self._clean_point(p, scale, rule)
            except ValidationError as error:
                errors[f"point {seq}"] = "; ".join(error.fields.values())
                continue
            points.append(point)
            if judged.tur is not None and not meets_minimum(judged.tur, lab.minimum_tur):
                low_tur.append(f"point {seq} ({format_tur(judged.tur)})")
            if result == "pass" and (judged.found_outside or judged.left_outside):
                errors[f"point {seq}"] = (
                    "is out of tolerance; record the result as fail or adjusted"
                )
            elif result == "pass" and any(
                v is not None and not v.conforms for v in (judged.as_found, judged.as_left)
            ):
                errors[f"point {seq}"] = (
                    f"is outside its acceptance limits ({judged.acceptance}) under the "
                    f"decision rule ({rule.sentence}); record the result as fail or adjusted"
                )
        if low_tur and not fields["tur_justification"]:
            errors["tur_justification"] = (
                f"the TUR of {', '.join(low_tur)} is below the lab's minimum of "
                f"{format_number(lab.minimum_tur)}:1 — use a better standard or method, or give a "
                "justification to accept it anyway"
            )
        next_due = parse_date("next_due", data.next_due, errors)
        if instrument.calibration_requirement != "periodic":
            # Verified before use, or not required: the check is recorded (the last
            # calibration moves), but the instrument has no next due.
            if next_due is not None:
                errors["next_due"] = (
                    f"{instrument.asset_tag} is not calibrated periodically "
                    f"({instrument.calibration_requirement.replace('_', ' ')}): it has no "
                    "next due date; leave it empty"
                )
        elif performed_on and not errors:
            computed = next_due_from(performed_on, instrument.calibration_interval_days)
            if next_due is None:
                next_due = computed
            elif next_due != computed and not data.next_due_reason.strip():
                errors["next_due"] = (
                    f"differs from the computed {computed}; give a reason for the change"
                )
            elif next_due <= performed_on and not flagged:
                errors["next_due"] = "must be after the calibration date"
        if errors or performed_on is None:
            raise ValidationError(errors)
        return _CleanCalibration(performed_on, next_due, fields, points)

    @staticmethod
    def _clean_point(
        p: PointInput, scale: Scale, rule: DecisionRule
    ) -> tuple[_CleanPoint, PointJudgement]:
        """One point checked, its written tolerance resolved to limits, and judged
        (``point_entry.judge_entry``: the window's grid previews it the same way)."""
        resolved, judged = judge_entry(p, rule, measuring=scale.measuring, step=scale.step)
        ratio = float(judged.tur) if judged.tur is not None else None
        clean = _CleanPoint(
            p, resolved.tolerance, resolved.tolerance_text, resolved.lower, resolved.upper, ratio
        )
        return clean, judged

    def lab_verdict_in(
        self, uow: UnitOfWork, instrument: Instrument, data: CalibrationInput
    ) -> LabVerdict:
        """What the lab's own limits and decision rule make of ``data``'s readings (the
        rule ``tolerance.lab_result`` states): a provider's certificate is compared
        with it on receipt. ValidationError names a reading that cannot be judged."""
        lab = lab_metrology(uow)
        rule = parse_rule(data.decision_rule) if data.decision_rule.strip() else lab.decision_rule
        scale = scale_of(uow, instrument)
        judged: list[PointJudgement] = []
        problems: list[str] = []
        errors: dict[str, str] = {}
        for seq, p in enumerate(data.points, start=1):
            try:
                _, judgement = self._clean_point(p, scale, rule)
            except ValidationError as error:
                errors[f"point {seq}"] = "; ".join(error.fields.values())
                continue
            judged.append(judgement)
            for name, reading, verdict in (
                ("as found", p.as_found, judgement.as_found),
                ("as left", p.as_left, judgement.as_left),
            ):
                if verdict is not None and not verdict.conforms:
                    problems.append(
                        f"point {seq} {name} {reading:g}{(' ' + p.unit) if p.unit else ''} "
                        f"is {verdict.label} against {judgement.acceptance}"
                    )
        if errors:
            raise ValidationError(errors)
        return LabVerdict(lab_result(judged), rule.sentence, tuple(problems))

    def entry_rules(self, tag: str) -> EntryRules:
        """What the window's readings grid judges a typed point of ``tag`` by: the lab's
        decision rule (the dialog may choose another), minimum TUR and case policy, and
        the range and resolution saving resolves written tolerances with."""

        def read(uow: UnitOfWork) -> EntryRules:
            lab = lab_metrology(uow)
            scale = scale_of(uow, require_instrument(uow, tag))
            return EntryRules(
                lab.decision_rule,
                lab.minimum_tur,
                scale.measuring,
                scale.step,
                lab.indeterminate_opens_case,
            )

        return self._uow.read(read)

    def add(self, tag: str, data: CalibrationInput) -> CalibrationView:
        """Record a calibration; moves the due date, opens a case when it was found failing.

        With an ``entry_key`` an earlier save of the same entry already recorded (its
        answer was lost) is returned marked ``already_saved`` and nothing is written.
        """

        def write(uow: UnitOfWork) -> CalibrationView:
            earlier = self._earlier_save(uow, tag, data, supersedes_id=None)
            if earlier is not None:
                return earlier
            audit = AuditChainWriter(uow, self._identity, self._clock)
            record = self.add_in(uow, audit, tag, data)
            audit.flush()
            return calibration_views(uow, [record])[0]

        return self._write_once(write, "record calibration")

    def _write_once(
        self, write: Callable[[UnitOfWork], CalibrationView], label: str
    ) -> CalibrationView:
        try:
            return self._uow.write(write, label=label)
        except EntryKeyTakenError:
            # Another save of this entry committed first while this one was inserting:
            # run again, this time the look-up finds that record (or says it differs).
            return self._uow.write(write, label=label)

    def _earlier_save(
        self, uow: UnitOfWork, tag: str, data: CalibrationInput, *, supersedes_id: int | None
    ) -> CalibrationView | None:
        """The record an earlier save of this entry made (marked ``already_saved``), None
        when there is none; ValidationError when the key's record is another calibration.
        """
        key = self._entry_key(data)
        if key is None:
            return None
        existing = uow.calibrations.by_entry_key(key)
        if existing is None:
            return None
        require_role(uow, self._identity, "technician", "record calibrations")
        instrument = require_instrument(uow, tag)
        if not (
            existing.instrument_id == instrument.id
            and existing.supersedes_id == supersedes_id
            and existing.created_by == self._identity.user
            and self._same_content(uow, existing, data, instrument)
        ):
            raise ValidationError(
                {
                    "entry_key": f"this entry (key {key}) was already saved as calibration "
                    f"#{existing.id}, with other content; nothing was saved — that record is "
                    "kept as it is: void or supersede it to correct it, or start a new entry "
                    "to record another calibration"
                }
            )
        return replace(calibration_views(uow, [existing])[0], already_saved=True)

    def _same_content(
        self,
        uow: UnitOfWork,
        record: CalibrationRecord,
        data: CalibrationInput,
        instrument: Instrument,
    ) -> bool:
        """Whether ``record`` is what saving ``data`` records (readings, standards, all)."""
        # An entry that named no rule took the lab's at its first save: judge it by that
        # one again, even if the lab's has changed since.
        lab = replace(lab_metrology(uow), decision_rule=record_rule(record.decision_rule))
        clean = self._validate(data, instrument, lab, scale_of(uow, instrument))
        standards = uow.instruments.get_many_by_tags(data.standards)
        if len(standards) != len(set(tag_key(t) for t in data.standards)):
            return False
        return (
            record.performed_on == clean.performed_on
            and record.next_due == clean.next_due
            and all(getattr(record, name) == value for name, value in clean.fields.items())
            and [
                (
                    p.nominal,
                    p.as_found,
                    p.as_left,
                    p.tolerance,
                    p.unit,
                    p.uncertainty,
                    p.coverage_factor,
                    p.tolerance_text,
                    p.tolerance_lower,
                    p.tolerance_upper,
                    p.tur,
                )
                for p in record.points
            ]
            == [p.row() for p in clean.points]
            and {s.standard_id for s in record.standards} == {s.id for s in standards.values()}
        )

    @staticmethod
    def _entry_key(data: CalibrationInput) -> str | None:
        if data.entry_key is None:
            return None
        key = data.entry_key.strip()
        if not key or len(key) > ENTRY_KEY_LEN or not key.isprintable():
            raise ValidationError(
                {"entry_key": f"must be 1 to {ENTRY_KEY_LEN} printable characters (a uuid)"}
            )
        return key

    def add_in(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        tag: str,
        data: CalibrationInput,
        *,
        reason: str = "",
        supersedes: CalibrationRecord | None = None,
        keep_status: bool = False,
        flag_inconsistent: bool = False,
    ) -> CalibrationRecord:
        """Record a calibration inside the caller's transaction (imports add many).

        ``reason`` goes into the audit events (an import names its file); a changed due
        date's own reason comes first. ``keep_status``: history imported from a file whose
        register says what each instrument's status is now; a failure found in it still
        opens its case for QA, but does not override that status.

        ``flag_inconsistent``: the import's one deliberate way past the date rules. A
        record performed on a placeholder date, in the future, or with a next due on or
        before its date is then stored as recorded, and its instrument is flagged for
        QA review (``review_reason`` gets a sentence naming each problem, audited with
        the instrument's update; the record's create event says so too).
        """
        require_role(uow, self._identity, "technician", "record calibrations")
        instrument = require_instrument(uow, tag)
        review = ""
        if flag_inconsistent:
            dates: dict[str, str] = {}
            performed = parse_date("performed_on", data.performed_on, dates)
            due = parse_date("next_due", data.next_due, dates)
            if performed is not None and not dates:
                review = sentence(record_problems(performed, due, self._clock.today()))
        lab = lab_metrology(uow)
        clean = self._validate(
            data, instrument, lab, scale_of(uow, instrument), flagged=bool(review)
        )
        standards = self._standards(
            uow,
            instrument,
            data.standards,
            clean.performed_on,
            str(clean.fields["standards_justification"]),
        )
        record = CalibrationRecord(
            instrument_id=instrument.id,
            performed_on=clean.performed_on,
            next_due=clean.next_due,
            supersedes_id=supersedes.id if supersedes is not None else None,
            entry_key=self._entry_key(data),
            created_at=audit.now,
            created_by=self._identity.user,
            updated_at=audit.now,
            updated_by=self._identity.user,
            **clean.fields,
        )
        record.points = [
            MeasurementPoint(
                seq=i,
                nominal=p.entry.nominal,
                as_found=p.entry.as_found,
                as_left=p.entry.as_left,
                tolerance=p.tolerance,
                unit=p.entry.unit,
                uncertainty=p.entry.uncertainty,
                coverage_factor=p.entry.coverage_factor,
                tolerance_text=p.tolerance_text,
                tolerance_lower=p.lower,
                tolerance_upper=p.upper,
                tur=p.tur,
            )
            for i, p in enumerate(clean.points, start=1)
        ]
        record.standards = [CalibrationStandard(standard_id=s.id) for s in standards]
        uow.calibrations.add(record)
        flagged = f"flagged for QA review: {review}" if review else ""
        why = "; ".join(r for r in (data.next_due_reason.strip(), reason.strip(), flagged) if r)
        audit.record(
            "calibration",
            record.id,
            f"{instrument.asset_tag} #{record.id}",
            "create",
            created(record_snapshot(record)),
            why,
        )
        before = instrument_snapshot(instrument)
        newest = (
            instrument.last_calibrated is None
            or clean.performed_on >= instrument.last_calibrated
            or (supersedes is not None and supersedes.performed_on >= instrument.last_calibrated)
        )
        if newest:
            instrument.last_calibrated = clean.performed_on
            instrument.next_due = clean.next_due
        found_failing = opens_case(record, indeterminate=lab.indeterminate_opens_case)
        history: list[CalibrationRecord] | None = None
        if found_failing:
            # The record it supersedes is voided next: it cannot be the last good one.
            history = [
                r
                for r in uow.calibrations.history(instrument.id)
                if supersedes is None or r.id != supersedes.id
            ]
            open_case_in(uow, audit, self._identity, record, instrument, history=history)
            # A failure found today takes the instrument out of use until QA has looked;
            # an older one entered late does not undo the calibrations since.
            if newest and not keep_status and instrument.status == "in_service":
                instrument.status = "out_of_service"
        if review:
            instrument.review_reason = appended(instrument.review_reason, review)
        # A repair awaiting this calibration: satisfied (back in service), or still due.
        settle_in(
            uow,
            audit,
            self._identity,
            instrument,
            f"calibration #{record.id} recorded",
            keep_status=keep_status,
        )
        if supersedes is None:  # else voiding the superseded record refreshes them
            refresh_open_cases_in(
                uow,
                audit,
                self._identity,
                instrument,
                f"calibration #{record.id} recorded",
                history=history,
            )
        touch_instrument(
            uow,
            audit,
            self._identity,
            instrument,
            before,
            "; ".join(r for r in (f"calibration #{record.id}", reason.strip(), flagged) if r),
        )
        return record

    def edit(
        self,
        record_id: int,
        changes: dict[str, object],
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> CalibrationView:
        """Correct the details of an unsigned record (certificate, provider, notes...)."""
        clean = self._clean_edit(changes)
        if not reason.strip():
            raise ValidationError({"reason": "say why the record is corrected (audit trail)"})

        def write(uow: UnitOfWork) -> CalibrationView:
            require_role(uow, self._identity, "technician", "correct calibration records")
            audit = AuditChainWriter(uow, self._identity, self._clock)
            record = self._require_record(uow, record_id)
            if record.voided_at is not None:
                raise ValidationError({"record": f"calibration #{record_id} is voided"})
            if uow.signatures.for_records([record_id]).get(record_id):
                raise ValidationError(
                    {
                        "record": f"calibration #{record_id} is signed and can no longer be "
                        "edited; supersede it with a corrected record (or void it) instead"
                    }
                )
            if expected_version is not None and record.version != expected_version:
                raise ConflictError(
                    "calibration",
                    f"#{record_id}",
                    yours=ConflictSide(expected_version, to_jsonable(clean)),
                    theirs=ConflictSide(
                        record.version,
                        {k: to_jsonable(getattr(record, k)) for k in clean},
                        record.updated_by,
                        to_jsonable(record.updated_at),
                    ),
                )
            before = record_snapshot(record)
            for name, value in clean.items():
                setattr(record, name, value)
            changed = diff(before, record_snapshot(record))
            if changed:
                record.updated_at = audit.now
                record.updated_by = self._identity.user
                uow.calibrations.flush()
                tags = uow.instruments.tags_by_id([record.instrument_id])
                audit.record(
                    "calibration",
                    record.id,
                    f"{tags.get(record.instrument_id, '?')} #{record.id}",
                    "update",
                    changed,
                    reason.strip(),
                )
                audit.flush()
            return calibration_views(uow, [record])[0]

        try:
            return self._uow.write(write, label="edit calibration")
        except StaleDataError:
            raise ConflictError(
                "calibration",
                f"#{record_id}",
                yours=ConflictSide(expected_version or 0, to_jsonable(clean)),
                theirs=ConflictSide(0, {}),
            ) from None

    def supersede(
        self,
        record_id: int,
        data: CalibrationInput,
        *,
        reason: str,
        expected_version: int | None = None,
    ) -> CalibrationView:
        """Replace a record by a corrected one: the new one is recorded, the old voided."""
        if not reason.strip():
            raise ValidationError({"reason": "say why the record is superseded (audit trail)"})

        def write(uow: UnitOfWork) -> CalibrationView:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            old = self._require_record(uow, record_id)
            tag = uow.instruments.tags_by_id([old.instrument_id])[old.instrument_id]
            # Before the checks on the old record: an earlier save of this entry voided it.
            earlier = self._earlier_save(uow, tag, data, supersedes_id=old.id)
            if earlier is not None:
                return earlier
            self._check_voidable(uow, old, expected_version, "supersede")
            new = self.add_in(
                uow,
                audit,
                tag,
                data,
                reason=f"supersedes #{old.id}: {reason.strip()}",
                supersedes=old,
            )
            self._void_in(uow, audit, old, f"superseded by #{new.id}: {reason.strip()}")
            audit.flush()
            return calibration_views(uow, [new])[0]

        return self._write_once(write, "supersede calibration")

    def standard_problems(
        self, tags: list[str], performed_on: date | str, *, instrument: str = ""
    ) -> dict[str, str]:
        """Why each of these standards could not vouch for a calibration on that day;
        with ``instrument`` (its tag), also the categories its type requires that none
        of them has (under the key ``CATEGORIES``).

        For a live warning while a calibration is entered; ``add`` applies the same rule.
        """
        errors: dict[str, str] = {}
        day = parse_date("performed_on", performed_on, errors)
        if errors or day is None:
            return {}

        def read(uow: UnitOfWork) -> dict[str, str]:
            found = list(uow.instruments.get_many_by_tags(tags).values())
            problems = standard_problems_in(uow, found, day, self._clock)
            target = uow.instruments.get_by_tag(instrument) if instrument else None
            if target is not None and (missing := category_problem(uow, target, found)):
                problems[CATEGORIES] = missing
            return problems

        return self._uow.read(read)

    def standard_uncertainties(
        self, tags: list[str] | tuple[str, ...], performed_on: date | str
    ) -> list[StandardUncertainty]:
        """What each of these standards can offer as a point's starting U on that day
        (``app.services.standard_uncertainty``); unknown tags and a bad date offer none."""
        errors: dict[str, str] = {}
        day = parse_date("performed_on", performed_on, errors)
        if errors or day is None or not tags:
            return []

        def read(uow: UnitOfWork) -> list[StandardUncertainty]:
            found = uow.instruments.get_many_by_tags(list(tags))
            ordered = [found[k] for k in dict.fromkeys(tag_key(t) for t in tags) if k in found]
            return uncertainties_on(uow, ordered, day)

        return self._uow.read(read)

    def traceability(self, tag: str) -> Traceability:
        """The standards behind an instrument's calibrations, and what it calibrated."""
        return self._uow.read(lambda uow: traceability_of(uow, require_instrument(uow, tag)))

    def void(
        self, record_id: int, reason: str, *, expected_version: int | None = None
    ) -> CalibrationView:
        """Void a record (never delete); the due date falls back to the latest valid one."""
        if not reason.strip():
            raise ValidationError({"reason": "a reason is required to void a calibration"})

        def write(uow: UnitOfWork) -> CalibrationView:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            record = self._require_record(uow, record_id)
            self._check_voidable(uow, record, expected_version, "void")
            self._void_in(uow, audit, record, reason.strip())
            audit.flush()
            return calibration_views(uow, [record])[0]

        try:
            return self._uow.write(write, label="void calibration")
        except StaleDataError:
            raise ConflictError(
                "calibration",
                f"#{record_id}",
                yours=ConflictSide(expected_version or 0, {"voided": True}),
                theirs=ConflictSide(0, {}),
            ) from None

    def _check_voidable(
        self, uow: UnitOfWork, record: CalibrationRecord, expected_version: int | None, what: str
    ) -> None:
        if record.voided_at is not None:
            raise ValidationError({"record": f"calibration #{record.id} is already voided"})
        case = uow.oot_cases.for_record(record.id)
        if uow.signatures.for_records([record.id]).get(record.id):
            require_role(uow, self._identity, "qa", f"{what} a signed calibration record")
        elif case is not None and case.status == "open":
            # An open out-of-tolerance case is QA's to settle: a technician voiding the
            # failing record must not make it go away (nor free the instrument for use).
            require_role(
                uow,
                self._identity,
                "qa",
                f"{what} calibration #{record.id} while its out-of-tolerance case "
                f"OOT-{case.id} is open",
            )
        else:
            require_role(uow, self._identity, "technician", f"{what} calibration records")
        if expected_version is not None and record.version != expected_version:
            raise ConflictError(
                "calibration",
                f"#{record.id}",
                yours=ConflictSide(expected_version, {"voided": True}),
                theirs=ConflictSide(record.version, record_snapshot(record), record.updated_by),
            )

    def _void_in(
        self, uow: UnitOfWork, audit: AuditChainWriter, record: CalibrationRecord, reason: str
    ) -> None:
        instrument = uow.instruments.get(record.instrument_id)
        if instrument is None:  # the foreign key forbids it
            raise NotFoundError(f"calibration #{record.id}: its instrument no longer exists")
        void_in(uow, audit, self._identity, record, instrument, reason)

    def get(self, record_id: int) -> CalibrationView:
        """One record as QA reviews it (signatures, case, successor included)."""
        return self._uow.read(
            lambda uow: calibration_views(uow, [self._require_record(uow, record_id)])[0]
        )

    def history(self, tag: str) -> list[CalibrationView]:
        def read(uow: UnitOfWork) -> list[CalibrationView]:
            instrument = require_instrument(uow, tag)
            return calibration_views(uow, uow.calibrations.history(instrument.id))

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

    def _standards(
        self,
        uow: UnitOfWork,
        instrument: Instrument,
        tags: tuple[str, ...],
        performed_on: date,
        justification: str,
    ) -> list[Instrument]:
        found = uow.instruments.get_many_by_tags(tags) if tags else {}
        missing = [t for t in tags if tag_key(t) not in found]
        if missing:
            raise ValidationError({"standards": "unknown asset tag(s): " + ", ".join(missing)})
        if instrument.asset_tag_key in found:
            raise ValidationError({"standards": "an instrument cannot be its own standard"})
        standards = list(found.values())
        problems = standard_problems_in(uow, standards, performed_on, self._clock)
        # A typed instrument's required categories: the same rule as a standard out of
        # date (app.services.traceability says why), so the same justification covers it.
        if uncovered := category_problem(uow, instrument, standards):
            problems[CATEGORIES] = uncovered
        if problems and not justification:
            raise ValidationError(
                {
                    "standards": "; ".join(problems.values())
                    + " — use another standard, or give a justification to use it anyway"
                }
            )
        return standards

    @staticmethod
    def _require_record(uow: UnitOfWork, record_id: int) -> CalibrationRecord:
        record = uow.calibrations.get(record_id)
        if record is None:
            raise NotFoundError(f"no calibration record #{record_id}")
        return record

    def _clean_edit(self, changes: dict[str, object]) -> dict[str, object]:
        errors: dict[str, str] = {}
        unknown = sorted(set(changes) - set(EDITABLE_FIELDS))
        for name in unknown:
            errors[name] = (
                "cannot be edited; supersede the record to change readings, result or dates"
            )
        clean: dict[str, object] = {}
        for name, value in changes.items():
            if name in ("temperature_c", "humidity_pct"):
                clean[name] = parse_float(name, value, errors)
            elif name == "provider_kind":
                kind = str(value).strip().lower().replace("-", "_")
                if kind not in PROVIDER_KINDS:
                    errors[name] = "must be in_house or external"
                clean[name] = kind
            elif name in EDITABLE_FIELDS:
                limit = NOTES_LEN if name == "notes" else SHORT_LEN
                clean[name] = clean_text(name, value, limit, errors, multiline=name == "notes")
        humidity = clean.get("humidity_pct")
        if isinstance(humidity, float) and not 0 <= humidity <= 100:
            errors["humidity_pct"] = "must be between 0 and 100 %"
        if not changes:
            errors["fields"] = "nothing to change"
        if errors:
            raise ValidationError(errors)
        return clean
