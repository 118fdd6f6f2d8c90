"""The calibration certificate of one record, as the plain report model.

What ISO/IEC 17025:2017 7.8.2 and 7.8.4 ask a calibration certificate to carry: the
lab's name (and logo), a unique identification (the record's id), the instrument, the
date and environment, the standards with their traceability (each one's calibration
and due date *as of the calibration day*), the results with their expanded uncertainty
and coverage factor, the statement of conformity with the decision rule applied (7.8.6:
the rule as a sentence, the acceptance limits and each verdict), and who authorised it
(the signatures' manifestations, 21 CFR 11.50). A record that does not count says so
on every page: voided or superseded ("VOID"), or not signed.

Built from plain values read in one transaction (``read_certificate``); ``app/reports``
prints it (the PDF renderer draws the logo and the status banner).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from app.clock import Clock
from app.db.models import Instrument
from app.errors import NotFoundError
from app.repositories.unit_of_work import UnitOfWork
from app.services.decision_rules import Verdict
from app.services.dto import CalibrationView, PointView
from app.services.read_views import calibration_views
from app.services.report_model import Cell, Report, Section, Table
from app.services.settings import LabIdentity, lab_identity
from app.services.traceability import standard_problems_in

TITLE = "Calibration certificate"
NO_LAB_NAME = "Laboratory name not set (QA: File → Preferences, or settings set --lab-name)"
READING_COLUMNS = [
    "#",
    "Nominal",
    "As found",
    "Verdict",
    "As left",
    "Verdict",
    "Tolerance",
    "Limits",
    "U",
    "k",
    "TUR",
    "Acceptance limits",
]
STANDARD_COLUMNS = ["Standard", "Description", "Serial number", "Calibrated", "Due", "On the day"]


@dataclass(frozen=True)
class StandardOnTheDay:
    """A standard as it stood on the calibration day: its covering calibration and due date."""

    asset_tag: str
    description: str
    serial_number: str
    calibrated: str  # "2026-03-02 (#7, certificate C-1)", or why there is none
    due: date | None
    problem: str  # "" when it could vouch for the calibration that day


@dataclass(frozen=True)
class CertificateData:
    """Everything a certificate prints, read in one transaction."""

    lab: LabIdentity
    record: CalibrationView
    instrument: Instrument
    standards: list[StandardOnTheDay]


def _standard_on(
    uow: UnitOfWork, std: Instrument, day: date, problems: dict[str, str]
) -> StandardOnTheDay:
    # The same rule the calibration was checked by when it was recorded
    # (app.services.traceability): its latest valid calibration on or before the day,
    # else the register's dates for a standard imported without its history.
    cover = uow.calibrations.latest_valid_on_or_before(std.id, day)
    if cover is not None:
        number = f", certificate {cover.certificate_number}" if cover.certificate_number else ""
        calibrated = f"{cover.performed_on:%Y-%m-%d} (#{cover.id}{number})"
        due = cover.next_due
    elif std.last_calibrated is not None and std.last_calibrated <= day:
        calibrated = f"{std.last_calibrated:%Y-%m-%d} (from the register)"
        due = std.next_due
    else:
        calibrated, due = f"none on or before {day:%Y-%m-%d}", None
    return StandardOnTheDay(
        std.asset_tag,
        std.description,
        std.serial_number,
        calibrated,
        due,
        problems.get(std.asset_tag, ""),
    )


def read_certificate(uow: UnitOfWork, record_id: int, clock: Clock) -> CertificateData:
    """The record, its instrument and standards as of its day, and the lab's identity."""
    record = uow.calibrations.get(record_id)
    if record is None:
        raise NotFoundError(f"no calibration record #{record_id}")
    instrument = uow.instruments.get(record.instrument_id)
    if instrument is None:  # the foreign key forbids it
        raise NotFoundError(f"calibration #{record_id}: its instrument no longer exists")
    view = calibration_views(uow, [record])[0]
    standards = [
        s
        for s in (uow.instruments.get(link.standard_id) for link in record.standards)
        if s is not None
    ]
    problems = standard_problems_in(uow, standards, record.performed_on, clock)
    return CertificateData(
        lab=lab_identity(uow),
        record=view,
        instrument=instrument,
        standards=sorted(
            (_standard_on(uow, s, record.performed_on, problems) for s in standards),
            key=lambda s: s.asset_tag.casefold(),
        ),
    )


# -- the document ------------------------------------------------------------------------


def number_cell(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    return f"{value:.10g} {unit}".strip()


def verdict_cell(verdict: Verdict | None) -> str:
    if verdict is None:
        return "—"
    # Upper case: the renderer marks a FAIL red, and a reader finds it at a glance.
    return "FAIL" if verdict is Verdict.FAIL else verdict.label


def limits_cell(low: float | None, high: float | None) -> str:
    return "—" if low is None or high is None else f"{number_cell(low)} … {number_cell(high)}"


def _reading_row(p: PointView) -> tuple[Cell, ...]:
    limits = limits_cell(p.lower_limit, p.upper_limit)
    acceptance = limits_cell(p.acceptance_lower, p.acceptance_upper)
    return (
        p.seq,
        number_cell(p.nominal, p.unit),
        number_cell(p.as_found),
        verdict_cell(p.as_found_verdict),
        number_cell(p.as_left),
        verdict_cell(p.as_left_verdict),
        p.tolerance_text or f"±{number_cell(p.tolerance)}",
        limits,
        number_cell(p.uncertainty),
        number_cell(p.coverage_factor),
        p.tur_text or "—",
        "= limits" if acceptance == limits else acceptance,
    )


def record_status(c: CalibrationView) -> str:
    """The record's standing in one line, as the certificate's header and banner say it."""
    if c.voided:
        successor = (
            f"; superseded by calibration #{c.superseded_by_id}"
            if c.superseded_by_id is not None
            else ""
        )
        return f"VOID — this record does not count{successor}"
    if c.superseded_by_id is not None:
        return f"SUPERSEDED by calibration #{c.superseded_by_id} — this record does not count"
    if not c.signatures:
        return "NOT SIGNED — a draft, not yet reviewed or approved"
    if not all(s.intact for s in c.signatures):
        # Changed outside CalTrack after signing (db verify names it): not what was signed.
        return "SIGNATURE BROKEN — the record was changed after it was signed"
    meanings = ", ".join(sorted({s.meaning for s in c.signatures}))
    return f"signed ({meanings})"


def _instrument_section(i: Instrument) -> Section:
    fields: list[tuple[Cell, ...]] = [
        ("Asset tag", i.asset_tag),
        ("Description", i.description),
        ("Manufacturer", i.manufacturer),
        ("Model", i.model),
        ("Serial number", i.serial_number),
        ("Range", i.range_text),
        ("Resolution", i.resolution_text),
        ("Location", i.location),
    ]
    return Section("Instrument", [], Table(["Field", "Value"], [f for f in fields if f[1]]))


def _calibration_section(c: CalibrationView) -> Section:
    lines: list[str] = []
    if c.voided:
        lines.append(
            f"VOIDED — this record does not count. Reason: {c.void_reason or 'not given'}."
        )
    if c.superseded_by_id is not None:
        lines.append(f"WARNING: superseded by calibration #{c.superseded_by_id}.")
    if c.supersedes_id is not None:
        lines.append(f"Supersedes calibration #{c.supersedes_id}.")
    where = (
        f"by the external provider {c.provider_name or '(not named)'}"
        if c.provider_kind == "external"
        else "in house"
    )
    by = f" by {c.performed_by}" if c.performed_by else ""
    lines.append(f"Calibrated on {c.performed_on:%Y-%m-%d} {where}{by}.")
    if c.temperature_c is None and c.humidity_pct is None:
        lines.append("Environment: not recorded.")
    else:
        temperature = number_cell(c.temperature_c, "°C")
        lines.append(f"Environment: {temperature}, {number_cell(c.humidity_pct, '%RH')}.")
    lines.append(
        f"Result: {c.result}; adjustment made: {'yes' if c.adjustment_made else 'no'}; "
        + (f"next due: {c.next_due:%Y-%m-%d}." if c.next_due else "next due: not set.")
    )
    if c.uncertainty:
        lines.append(f"Uncertainty statement: {c.uncertainty}")
    if c.notes:
        lines.append(f"Notes: {c.notes}")
    lines.append(f"Recorded {c.created_at:%Y-%m-%d %H:%M} UTC by {c.created_by}.")
    return Section("Calibration", lines)


def _standards_section(c: CalibrationView, standards: list[StandardOnTheDay]) -> Section:
    if not standards:
        return Section("Standards used", ["No standard recorded."])
    lines = [f"Each standard's calibration and due date as of {c.performed_on:%Y-%m-%d}."]
    if c.standards_justification:
        lines.append(f"Justification for the standards used: {c.standards_justification}")
    rows: list[tuple[Cell, ...]] = [
        (s.asset_tag, s.description, s.serial_number, s.calibrated, s.due, s.problem or "in date")
        for s in standards
    ]
    return Section("Standards used", lines, Table(STANDARD_COLUMNS, rows))


def rule_lines(c: CalibrationView) -> list[str]:
    """The record's decision rule as a sentence, what U, k and TUR mean, and the TUR's
    justification: said the same on the certificate and the history report."""
    lines = [
        f"Decision rule: {c.decision_rule_text}.",
        "U is the expanded uncertainty with coverage factor k; TUR is the tolerance span "
        "over 2U; a reading is judged against the acceptance limits the rule sets.",
    ]
    if c.tur_justification:
        lines.append(f"Justification for a TUR below the lab's minimum: {c.tur_justification}")
    return lines


def _results_section(c: CalibrationView) -> Section:
    lines = rule_lines(c)
    if not c.points:
        lines.append("No readings recorded.")
        return Section("Results", lines)
    return Section("Results", lines, Table(READING_COLUMNS, [_reading_row(p) for p in c.points]))


def _signatures_section(c: CalibrationView) -> Section:
    if not c.signatures:
        return Section("Signatures", ["WARNING: not signed."])
    lines = []
    for s in c.signatures:
        line = s.manifestation
        if s.comment:
            line += f" — “{s.comment}”"
        if not s.intact:
            line += " — WARNING: the signed content was changed after signing"
        lines.append(line)
    return Section("Signatures", [], signatures=lines)


def certificate_report(
    data: CertificateData,
    *,
    generated_at: datetime,
    generated_by: str,
    database: str,
    audit_head: str = "",
) -> Report:
    """The certificate as a report: header, instrument, calibration, standards, results
    with the rule, signatures; ``banner`` is set for a record that does not count."""
    c = data.record
    status = record_status(c)
    counts = not (c.voided or c.superseded_by_id is not None) and all(
        s.intact for s in c.signatures
    )
    parameters = [
        ("Record", f"calibration #{c.id} of {c.asset_tag}"),
        ("Status", status),
    ]
    if c.certificate_number:
        parameters.append(("Certificate number", c.certificate_number))
    parameters.append(("Calibration date", f"{c.performed_on:%Y-%m-%d}"))
    return Report(
        title=f"{TITLE} — calibration #{c.id} of {c.asset_tag}",
        subtitle=data.lab.name or NO_LAB_NAME,
        parameters=parameters,
        generated_at=generated_at,
        generated_by=generated_by,
        database=database,
        audit_head=audit_head,
        sections=[
            _instrument_section(data.instrument),
            _calibration_section(c),
            _standards_section(c, data.standards),
            _results_section(c),
            _signatures_section(c),
        ],
        kind="certificate",
        logo=data.lab.logo,
        banner="" if counts and c.signatures else status,
    )
