"""Out-of-tolerance cases (ISO/IEC 17025 6.4.9 and 7.10).

A calibration whose as-found readings fail (or whose result is fail) opens a case and
takes the instrument out of service; so does a failing intermediate check (issue 15,
``open_check_case_in``), whose last good day is that of the latest passing check or
calibration before it. The case lists what the instrument may have
affected since its last good calibration: every valid calibration in which it served as
a standard, and the instruments those calibrated (reverse traceability). QA records an
impact assessment and a disposition, and closes the case with a signature; closing may
return the instrument to service once a calibration leaves it within tolerance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from app.clock import Clock
from app.db.models import (
    OOT_DISPOSITIONS,
    CalibrationRecord,
    Instrument,
    IntermediateCheck,
    OotCase,
    UserAccount,
)
from app.errors import ConflictError, ConflictSide, NotFoundError, ValidationError
from app.identity import Identity
from app.limits import NOTES_LEN
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter
from app.services.check_readings import check_found, readings_of
from app.services.dto import AffectedCalibration, OotCaseView, PointView, to_jsonable
from app.services.lookups import require_instrument
from app.services.oot_impact import (
    CaseImpact,
    ImpactRow,
    compute_impact,
    impact_from_json,
    impact_json,
)
from app.services.read_views import point_view
from app.services.signatures import (
    SignatureCheck,
    case_content_hash,
    clean_comment,
    signature_view,
)
from app.services.snapshots import case_snapshot, created, diff, instrument_snapshot
from app.services.tolerance import failed_points, left_good, record_rule
from app.services.validation import clean_text
from app.vocabulary import CASE_STATES, CaseState

DISPOSITION_LABELS = {
    "no_impact": "No impact on earlier results",
    "results_reassessed": "Affected results re-assessed and accepted",
    "results_recalled": "Affected results recalled / customers informed",
    "other": "Other (see assessment)",
}  # one label per OOT_DISPOSITIONS value (a unit test keeps them alike)


def _found(record: CalibrationRecord, seqs: list[int]) -> str:
    """The as-found readings of the points ``seqs``, as the case's summary names them."""
    return ", ".join(
        f"{p.nominal:.10g} {p.unit}".strip() + f" found {p.as_found:.10g}"
        for p in sorted(record.points, key=lambda p: p.seq)
        if p.seq in seqs and p.as_found is not None
    )


def _summary(record: CalibrationRecord) -> str:
    count = len(record.points)
    failed = failed_points(record, "as_found")
    if failed:
        return (
            f"As found out of tolerance at {len(failed)} of {count} points "
            f"({_found(record, failed)}); result {record.result}"
        )
    unsure = failed_points(record, "as_found", indeterminate=True)
    if unsure:
        # Opened by the lab's setting: inside the tolerance, outside the acceptance limits.
        return (
            f"As found indeterminate (inside the tolerance, outside the acceptance limits of "
            f"its decision rule) at {len(unsure)} of {count} points "
            f"({_found(record, unsure)}); result {record.result}"
        )
    return f"Calibration result: {record.result}"


def _last_good_before(history: list[CalibrationRecord], record: CalibrationRecord) -> date | None:
    """The day of the latest valid calibration before ``record`` that left it good."""
    earlier = [
        r
        for r in sorted(history, key=lambda r: (r.performed_on, r.id), reverse=True)
        if r.id != record.id
        and r.voided_at is None
        and (r.performed_on, r.id) < (record.performed_on, record.id)
    ]
    return next((r.performed_on for r in earlier if left_good(r)), None)


def last_good_before_check(
    records: list[CalibrationRecord],
    checks: list[IntermediateCheck],
    check: IntermediateCheck,
) -> date | None:
    """The day of the latest valid passing check, or valid calibration that left it
    good, before the failing ``check``. A calibration on the check's own day does not
    count: nothing records which came first, and the earlier day is the safe side."""
    calibrated = (
        r.performed_on
        for r in sorted(records, key=lambda r: (r.performed_on, r.id), reverse=True)
        if r.voided_at is None and r.performed_on < check.performed_on and left_good(r)
    )
    checked = (
        c.performed_on
        for c in sorted(checks, key=lambda c: (c.performed_on, c.id), reverse=True)
        if c.id != check.id
        and c.voided_at is None
        and c.result == "pass"
        and (c.performed_on, c.id) < (check.performed_on, check.id)
    )
    found = [d for d in (next(calibrated, None), next(checked, None)) if d is not None]
    return max(found) if found else None


def _check_summary(check: IntermediateCheck) -> str:
    readings = readings_of(check.readings)
    failed = [r for r in readings if not r.passed]
    if not failed:
        return "Intermediate check result: fail"
    found = ", ".join(
        f"{r.nominal:.10g} read {r.reading:.10g} (limit ±{r.limit:.10g})" for r in failed
    )
    return (
        f"Intermediate check out of limits at {len(failed)} of {len(readings)} readings ({found})"
    )


def _new_case_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    *,
    found_by: tuple[int | None, int | None],
    found_on: date,
    last_good: date | None,
    summary: str,
    why: str,
) -> OotCase:
    """An open case found by (calibration record id, check id): one of the two is set."""
    record_id, check_id = found_by
    case = OotCase(
        instrument_id=instrument.id,
        record_id=record_id,
        check_id=check_id,
        status="open",
        found_on=found_on,
        last_good_on=last_good,
        summary=summary,
        impact_assessment="",
        disposition="",
        affected_snapshot="",
        impact_snapshot="",
        origin_case_id=None,
        returned_to_service=False,
        closed_at=None,
        closed_by=None,
        created_at=audit.now,
        created_by=identity.user,
        updated_at=audit.now,
        updated_by=identity.user,
    )
    uow.oot_cases.add(case)
    label = f"OOT-{case.id} {instrument.asset_tag}"
    audit.record("oot_case", case.id, label, "create", created(case_snapshot(case)), why)
    return case


def open_check_case_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    check: IntermediateCheck,
    instrument: Instrument,
) -> OotCase:
    """Open the case of a failing intermediate check inside the caller's transaction,
    as ``open_case_in`` does for a failing calibration."""
    last_good = last_good_before_check(
        uow.calibrations.history(instrument.id), uow.checks.history(instrument.id), check
    )
    return _new_case_in(
        uow,
        audit,
        identity,
        instrument,
        found_by=(None, check.id),
        found_on=check.performed_on,
        last_good=last_good,
        summary=_check_summary(check),
        why=f"opened by {check_found(check)}",
    )


def open_case_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    record: CalibrationRecord,
    instrument: Instrument,
    *,
    history: list[CalibrationRecord] | None = None,
) -> OotCase:
    """Open the case of a failing calibration inside the caller's transaction.

    ``history``: the instrument's records when the caller has them loaded already (the
    demo opens thousands of cases), else they are read.
    """
    if history is None:
        history = uow.calibrations.history(instrument.id)
    last_good = _last_good_before(history, record)
    return _new_case_in(
        uow,
        audit,
        identity,
        instrument,
        found_by=(record.id, None),
        found_on=record.performed_on,
        last_good=last_good,
        summary=_summary(record),
        why=f"opened by calibration #{record.id}",
    )


def refresh_open_cases_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    instrument: Instrument,
    why: str,
    *,
    history: list[CalibrationRecord] | None = None,
) -> None:
    """Move the "last good" day of the instrument's open cases to what its history says
    now (a good calibration voided or superseded widens what may be affected; one
    entered late narrows it). Closed cases keep what was signed.

    ``history``: the instrument's records when the caller has just read them.
    """
    cases = uow.oot_cases.find(status="open", instrument_id=instrument.id)
    if not cases:
        return
    if history is None:
        history = uow.calibrations.history(instrument.id)
    records = {r.id: r for r in history}
    checks: dict[int, IntermediateCheck] | None = None
    for case in cases:
        if case.check_id is not None:
            if checks is None:
                checks = {c.id: c for c in uow.checks.history(instrument.id)}
            failing_check = checks.get(case.check_id)
            if failing_check is None:
                continue
            last_good = last_good_before_check(history, list(checks.values()), failing_check)
        else:
            failing = records.get(case.record_id) if case.record_id is not None else None
            if failing is None:
                continue
            last_good = _last_good_before(history, failing)
        if last_good == case.last_good_on:
            continue
        before = case_snapshot(case)
        case.last_good_on = last_good
        case.updated_at = audit.now
        case.updated_by = identity.user
        uow.oot_cases.flush()
        audit.record(
            "oot_case",
            case.id,
            f"OOT-{case.id} {instrument.asset_tag}",
            "update",
            diff(before, case_snapshot(case)),
            why,
        )


def cancel_case_in(
    uow: UnitOfWork,
    audit: AuditChainWriter,
    identity: Identity,
    record: CalibrationRecord,
    why: str,
) -> None:
    """The failing record was voided: its open case has nothing left to assess."""
    case = uow.oot_cases.for_record(record.id)
    if case is None or case.status != "open":
        return
    before = case_snapshot(case)
    case.status = "cancelled"
    case.updated_at = audit.now
    case.updated_by = identity.user
    uow.oot_cases.flush()
    tags = uow.instruments.tags_by_id([case.instrument_id])
    audit.record(
        "oot_case",
        case.id,
        f"OOT-{case.id} {tags.get(case.instrument_id, '?')}",
        "cancel",
        diff(before, case_snapshot(case)),
        why,
    )


def _affected_live(
    case: OotCase, used: list[tuple[CalibrationRecord, Instrument]]
) -> list[AffectedCalibration]:
    return [
        AffectedCalibration(
            record_id=r.id,
            instrument_id=i.id,
            asset_tag=i.asset_tag,
            description=i.description,
            performed_on=r.performed_on,
            result=r.result,
            certificate_number=r.certificate_number,
            instrument_lifecycle=i.status,
        )
        for r, i in used
        if case.last_good_on is None or r.performed_on > case.last_good_on
    ]


def _affected(
    uow: UnitOfWork,
    case: OotCase,
    used: list[tuple[CalibrationRecord, Instrument]] | None = None,
) -> list[AffectedCalibration]:
    """What the case lists: frozen at closing, else live from the standards table."""
    if case.status != "open" and case.affected_snapshot:
        return [_affected_from_json(item) for item in json.loads(case.affected_snapshot)]
    if used is None:
        used = uow.oot_cases.used_by_standards([case.instrument_id]).get(case.instrument_id, [])
    return _affected_live(case, used)


def _affected_from_json(item: dict[str, Any]) -> AffectedCalibration:
    return AffectedCalibration(
        record_id=int(item["record_id"]),
        instrument_id=int(item["instrument_id"]),
        asset_tag=str(item["asset_tag"]),
        description=str(item["description"]),
        performed_on=date.fromisoformat(item["performed_on"]),
        result=str(item["result"]),
        certificate_number=str(item["certificate_number"]),
        instrument_lifecycle=str(item["instrument_lifecycle"]),
    )


def case_impact(uow: UnitOfWork, case: OotCase) -> CaseImpact:
    """The impact list of a case: as frozen when it closed, else computed now.

    A case closed before revision 0012 froze no list: it is computed now over the
    calibrations it froze, and says so (``frozen`` False).
    """
    if case.impact_snapshot:
        return impact_from_json(case.impact_snapshot)
    tags = uow.instruments.tags_by_id([case.instrument_id])
    return compute_impact(uow, case, _affected(uow, case), tags.get(case.instrument_id, "?"))


@dataclass(frozen=True)
class FollowUps:
    """What ``OotService.follow_up`` did: the cases it opened, and what it left and why."""

    opened: list[OotCaseView]
    skipped: list[str]


def _anchor(rows: list[ImpactRow]) -> int:
    """The calibration a follow-up case of one instrument hangs on: its earliest one
    whose verdict flips (since then it may have been wrong), else its latest listed."""
    flipped = sorted((r.performed_on, r.record_id) for r in rows if r.flips)
    if flipped:
        return flipped[0][1]
    return max((r.performed_on, r.record_id) for r in rows)[1]


def return_check(
    uow: UnitOfWork, instrument: Instrument, case: OotCase | None = None
) -> tuple[bool, str]:
    """Whether closing a case may put the instrument back in service, and why (not).

    A case a check opened: the newer of the latest valid check and the latest valid
    calibration must leave it good (a calibration wins a tie of days); else, as for a
    calibration's case, the latest valid calibration must.
    """
    tag = instrument.asset_tag
    if instrument.status != "out_of_service":
        return False, f"{tag} is {instrument.status.replace('_', ' ')}, not out of service"
    latest = next((r for r in uow.calibrations.history(instrument.id) if r.voided_at is None), None)
    if case is not None and case.check_id is not None:
        check = next((c for c in uow.checks.history(instrument.id) if c.voided_at is None), None)
        if check is not None and (latest is None or check.performed_on > latest.performed_on):
            if check.result != "pass":
                return False, (
                    f"the latest check of {tag} (#{check.id}, {check.performed_on}) failed; "
                    "record a passing check or calibration first (or close without returning "
                    "it to service)"
                )
            return True, f"its latest check (#{check.id}, {check.performed_on}) passed"
    if latest is None or not left_good(latest):
        return False, (
            f"the latest calibration of {tag} does not leave it within tolerance; record a "
            "passing calibration first (or close without returning it to service)"
        )
    return (
        True,
        f"its latest calibration (#{latest.id}, {latest.performed_on}) left it in tolerance",
    )


def case_views(
    uow: UnitOfWork, cases: list[OotCase], *, with_return_check: bool = False
) -> list[OotCaseView]:
    """Views of many cases in a few queries (the return check costs one per open case)."""
    records = uow.calibrations.by_ids([c.record_id for c in cases if c.record_id is not None])
    checks = uow.checks.by_ids([c.check_id for c in cases if c.check_id is not None])
    signatures = uow.signatures.for_cases([c.id for c in cases])
    open_ids = [c.instrument_id for c in cases if c.status == "open" or not c.affected_snapshot]
    used = uow.oot_cases.used_by_standards(open_ids)
    views = []
    for case in cases:
        instrument = uow.instruments.get(case.instrument_id)
        record = records.get(case.record_id) if case.record_id is not None else None
        check = checks.get(case.check_id) if case.check_id is not None else None
        if instrument is None or (record is None and check is None):  # the foreign keys
            raise NotFoundError(f"OOT-{case.id}: its instrument, calibration or check is gone")
        failing: list[PointView] = []
        found_by, voided = "", False
        if record is not None:
            # The points out of tolerance; when none is, those that opened the case by
            # the lab's indeterminate-result setting.
            failed = set(
                failed_points(record, "as_found")
                or failed_points(record, "as_found", indeterminate=True)
            )
            failing = [
                point_view(p.seq, p, record_rule(record.decision_rule))
                for p in sorted(record.points, key=lambda p: p.seq)
                if p.seq in failed
            ]
            found_by = f"calibration #{record.id}"
            voided = record.voided_at is not None
        elif check is not None:  # else the record: one of the two, by the schema's CHECK
            found_by = check_found(check)
            voided = check.voided_at is not None
        digest = case_content_hash(case)
        may_return, note = (
            return_check(uow, instrument, case)
            if with_return_check and case.status == "open"
            else (False, "")
        )
        views.append(
            OotCaseView(
                id=case.id,
                instrument_id=instrument.id,
                asset_tag=instrument.asset_tag,
                description=instrument.description,
                record_id=case.record_id,
                status=cast(CaseState, case.status),  # the schema's CHECK allows only these
                found_on=case.found_on,
                last_good_on=case.last_good_on,
                summary=case.summary,
                failing_points=failing,
                impact_assessment=case.impact_assessment,
                disposition=case.disposition,
                affected=_affected(uow, case, used.get(case.instrument_id, [])),
                returned_to_service=case.returned_to_service,
                opened_at=case.created_at,
                opened_by=case.created_by,
                closed_at=case.closed_at,
                closed_by=case.closed_by,
                updated_at=case.updated_at,
                updated_by=case.updated_by,
                version=case.version,
                signatures=[
                    signature_view(s, intact=s.content_hash == digest)
                    for s in signatures.get(case.id, [])
                ],
                may_return_to_service=may_return,
                return_to_service_note=note,
                origin_case_id=case.origin_case_id,
                check_id=case.check_id,
                found_by=found_by + (" (voided since)" if voided else ""),
            )
        )
    return views


def case_view(uow: UnitOfWork, case: OotCase) -> OotCaseView:
    return case_views(uow, [case], with_return_check=True)[0]


class OotService:
    """List, assess and close out-of-tolerance cases (QA)."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        identity: Identity,
        clock: Clock,
        check: SignatureCheck,
    ) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._check = check

    def list(self, *, status: str | None = None, tag: str | None = None) -> list[OotCaseView]:
        """Cases, newest first; ``status`` open, closed or cancelled; ``tag`` one instrument."""
        if status is not None and status not in CASE_STATES:
            raise ValidationError({"status": "must be open, closed or cancelled"})

        def read(uow: UnitOfWork) -> list[OotCaseView]:
            instrument_id = None
            if tag:
                instrument_id = require_instrument(uow, tag).id
            cases = uow.oot_cases.find(status=status, instrument_id=instrument_id)
            return case_views(uow, cases)

        return self._uow.read(read)

    def get(self, case_id: int) -> OotCaseView:
        return self._uow.read(lambda uow: case_view(uow, self._require(uow, case_id)))

    def open_count(self) -> int:
        return self.counts().get("open", 0)

    def counts(self) -> dict[str, int]:
        """Cases per status (open, closed, cancelled), for filters and the status bar."""
        return self._uow.read(lambda uow: uow.oot_cases.counts())

    def assess(
        self,
        case_id: int,
        *,
        impact_assessment: str,
        disposition: str,
        expected_version: int | None = None,
    ) -> OotCaseView:
        """Record QA's impact assessment and disposition (QA only; the case stays open)."""
        errors: dict[str, str] = {}
        text = clean_text("impact_assessment", impact_assessment, NOTES_LEN, errors, multiline=True)
        choice = disposition.strip().lower().replace("-", "_").replace(" ", "_")
        if choice and choice not in OOT_DISPOSITIONS:
            errors["disposition"] = "must be one of " + ", ".join(OOT_DISPOSITIONS)
        if errors:
            raise ValidationError(errors)

        def write(uow: UnitOfWork) -> OotCaseView:
            require_role(uow, self._identity, "qa", "assess out-of-tolerance cases")
            audit = AuditChainWriter(uow, self._identity, self._clock)
            case = self._require_open(uow, case_id, expected_version, text, choice)
            before = case_snapshot(case)
            case.impact_assessment = text
            case.disposition = choice
            changes = diff(before, case_snapshot(case))
            if changes:
                case.updated_at = audit.now
                case.updated_by = self._identity.user
                uow.oot_cases.flush()
                audit.record("oot_case", case.id, self._label(uow, case), "assess", changes)
                audit.flush()
            return case_view(uow, case)

        return self._uow.write(write, label="assess OOT case")

    def close(
        self,
        case_id: int,
        *,
        password: str,
        comment: str = "",
        return_to_service: bool = False,
        expected_version: int | None = None,
    ) -> OotCaseView:
        """Close an assessed case with the QA signature; optionally back into service."""
        text = clean_comment(comment)

        def sign(uow: UnitOfWork, audit: AuditChainWriter, signer: UserAccount) -> OotCaseView:
            case = self._require_open(uow, case_id, expected_version, None, None)
            if not case.impact_assessment.strip() or not case.disposition:
                raise ValidationError(
                    {
                        "impact_assessment": "record the impact assessment and a disposition "
                        "before closing the case"
                    }
                )
            instrument = uow.instruments.get(case.instrument_id)
            if instrument is None:  # the foreign key forbids it
                raise NotFoundError(f"OOT-{case.id}: its instrument no longer exists")
            before = case_snapshot(case)
            affected = _affected(uow, case)
            case.affected_snapshot = json.dumps(
                [to_jsonable(a) for a in affected], ensure_ascii=False, sort_keys=True
            )
            # The impact list QA saw, over the same calibrations, signed with the case.
            case.impact_snapshot = impact_json(
                compute_impact(uow, case, affected, instrument.asset_tag)
            )
            case.status = "closed"
            case.closed_at = audit.now
            case.closed_by = signer.login
            case.updated_at = audit.now
            case.updated_by = self._identity.user
            if return_to_service:
                self._return_to_service(uow, audit, instrument, case)
            uow.oot_cases.flush()
            label = self._label(uow, case)
            audit.record(
                "oot_case", case.id, label, "close", diff(before, case_snapshot(case)), text
            )
            self._check.add_signature(
                uow,
                audit,
                signer,
                meaning="closed",
                comment=text,
                digest=case_content_hash(case),
                case_id=case.id,
                label=label,
            )
            return case_view(uow, case)

        return self._check.signed_write(
            password, f"close case OOT-{case_id}", sign, label="close OOT case"
        )

    def impact(self, case_id: int) -> CaseImpact:
        """The case's impact list: which verdicts its standard's as-found error changes
        (``app.services.oot_impact``); live while open, as frozen once closed."""
        return self._uow.read(lambda uow: case_impact(uow, self._require(uow, case_id)))

    def follow_up(
        self, case_id: int, *, tags: Sequence[str] = (), all_flipped: bool = False
    ) -> FollowUps:
        """Open follow-up cases for instruments of a case's impact list (QA only).

        ``tags``: those instruments (each must be on the list); ``all_flipped``: every
        instrument with a verdict that flips. One case per instrument, on its earliest
        flipped calibration (else its latest listed one), naming the case it came from.
        An instrument whose calibration already has a case is skipped and said so, so
        running it again opens nothing twice. The instruments' status is left as it is:
        they may have been calibrated again since, which QA judges in the new case.
        """
        if bool(tags) == all_flipped:
            raise ValidationError(
                {"follow_up": "name the instruments (--tag) or ask for all flipped ones"}
            )

        def write(uow: UnitOfWork) -> FollowUps:
            require_role(uow, self._identity, "qa", "open follow-up out-of-tolerance cases")
            audit = AuditChainWriter(uow, self._identity, self._clock)
            case = self._require(uow, case_id)
            if case.status == "cancelled":
                raise ValidationError({"case": f"OOT-{case_id} is cancelled; nothing follows"})
            impact = case_impact(uow, case)
            listed: dict[int, list[ImpactRow]] = {}
            for row in impact.rows:
                listed.setdefault(row.instrument_id, []).append(row)
            if all_flipped:
                chosen = [i for i, rows in listed.items() if any(r.flips for r in rows)]
            else:
                chosen = []
                for tag in tags:
                    instrument = require_instrument(uow, tag)
                    if instrument.id not in listed:
                        raise ValidationError(
                            {"tag": f"{instrument.asset_tag} is not on OOT-{case_id}'s impact list"}
                        )
                    if instrument.id not in chosen:
                        chosen.append(instrument.id)
            opened: list[OotCase] = []
            skipped: list[str] = []
            for instrument_id in chosen:
                rows = listed[instrument_id]
                record_id = _anchor(rows)
                record = uow.calibrations.get(record_id)
                if record is None or record.voided_at is not None:
                    # The frozen list outlives a record voided since: no case on it.
                    skipped.append(f"{rows[0].asset_tag}: calibration #{record_id} is void")
                    continue
                existing = uow.oot_cases.for_record(record_id)
                if existing is not None:
                    skipped.append(
                        f"{rows[0].asset_tag}: calibration #{record_id} already has case "
                        f"OOT-{existing.id}"
                    )
                    continue
                opened.append(self._open_follow_up(uow, audit, case, impact, rows, record))
            audit.flush()
            return FollowUps(case_views(uow, opened), skipped)

        return self._uow.write(write, label="open follow-up OOT cases")

    # -- helpers ---------------------------------------------------------------------

    def _open_follow_up(
        self,
        uow: UnitOfWork,
        audit: AuditChainWriter,
        origin: OotCase,
        impact: CaseImpact,
        rows: Sequence[ImpactRow],
        record: CalibrationRecord,
    ) -> OotCase:
        flips = [r.line for r in rows if r.flips and r.record_id == record.id]
        found = (
            "; ".join(flips)
            if flips
            else "no verdict of it would change; opened by QA from the list"
        )
        case = OotCase(
            instrument_id=record.instrument_id,
            record_id=record.id,
            status="open",
            found_on=record.performed_on,
            last_good_on=_last_good_before(uow.calibrations.history(record.instrument_id), record),
            summary=(
                f"Follow-up of OOT-{origin.id}: standard {impact.standard_tag} found out of "
                f"tolerance on {origin.found_on}; with its as-found error, {found}"
            ),
            impact_assessment="",
            disposition="",
            affected_snapshot="",
            impact_snapshot="",
            origin_case_id=origin.id,
            returned_to_service=False,
            closed_at=None,
            closed_by=None,
            created_at=audit.now,
            created_by=self._identity.user,
            updated_at=audit.now,
            updated_by=self._identity.user,
        )
        uow.oot_cases.add(case)
        audit.record(
            "oot_case",
            case.id,
            f"OOT-{case.id} {rows[0].asset_tag}",
            "create",
            created(case_snapshot(case)),
            f"follow-up of OOT-{origin.id}, from its impact list",
        )
        return case

    def _return_to_service(
        self, uow: UnitOfWork, audit: AuditChainWriter, instrument: Instrument, case: OotCase
    ) -> None:
        may, note = return_check(uow, instrument, case)
        if not may:
            raise ValidationError({"return_to_service": note})
        before = instrument_snapshot(instrument)
        instrument.status = "in_service"
        instrument.updated_at = audit.now
        instrument.updated_by = self._identity.user
        uow.instruments.flush()
        case.returned_to_service = True
        audit.record(
            "instrument",
            instrument.id,
            instrument.asset_tag,
            "update",
            diff(before, instrument_snapshot(instrument)),
            f"returned to service when OOT-{case.id} was closed",
        )

    @staticmethod
    def _label(uow: UnitOfWork, case: OotCase) -> str:
        tags = uow.instruments.tags_by_id([case.instrument_id])
        return f"OOT-{case.id} {tags.get(case.instrument_id, '?')}"

    @staticmethod
    def _require(uow: UnitOfWork, case_id: int) -> OotCase:
        case = uow.oot_cases.get(case_id)
        if case is None:
            raise NotFoundError(f"no out-of-tolerance case OOT-{case_id}; `oot list` shows them")
        return case

    def _require_open(
        self,
        uow: UnitOfWork,
        case_id: int,
        expected_version: int | None,
        assessment: str | None,
        disposition: str | None,
    ) -> OotCase:
        case = self._require(uow, case_id)
        if case.status != "open":
            raise ValidationError({"case": f"OOT-{case_id} is {case.status}; nothing to change"})
        if expected_version is not None and case.version != expected_version:
            yours: dict[str, Any] = {}
            if assessment is not None:
                yours = {"impact_assessment": assessment, "disposition": disposition}
            raise ConflictError(
                "out-of-tolerance case",
                f"OOT-{case_id}",
                yours=ConflictSide(expected_version, yours),
                theirs=ConflictSide(
                    case.version,
                    {
                        "impact_assessment": case.impact_assessment,
                        "disposition": case.disposition,
                    },
                    case.updated_by,
                    to_jsonable(case.updated_at),
                ),
            )
        return case
