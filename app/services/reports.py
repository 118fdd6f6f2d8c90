"""Report data for QA and auditors: due and overdue lists, histories, OOT log, audit trail.

Builds the plain report model (``app.services.report_model``) that ``app/reports``
renders as PDF, CSV or XLSX. The builders are pure functions of plain values, so the
GUI and the tests can feed them what they already hold; ``ReportService`` does the
reading, one read transaction per report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.clock import Clock
from app.db.engine import safe_url
from app.errors import UsageError, ValidationError
from app.identity import Identity
from app.repositories.instruments import DueFilter, ListQuery, ListRow
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.audit import AuditService, entity_name, head_text, readable_changes
from app.services.bounds import day_problem
from app.services.certificate import (
    certificate_report,
    limits_cell,
    number_cell,
    read_certificate,
    rule_lines,
    verdict_cell,
)
from app.services.custody import custody_view
from app.services.decision_rules import Verdict
from app.services.dto import (
    AuditView,
    CalibrationView,
    CustodyView,
    InstrumentHistory,
    MaintenanceView,
    OotCaseView,
    PointView,
    ScheduleView,
    SignatureView,
    instrument_fields,
)
from app.services.instruments import InstrumentService
from app.services.lookups import require_instrument
from app.services.oot_impact import METHOD, CaseImpact
from app.services.provider_report import providers_report
from app.services.provider_views import ProviderTurnaround
from app.services.report_model import Cell, LabelData, Report, Section, Table
from app.services.schedules import due_rows_in
from app.services.settings import due_soon_days
from app.services.upkeep import KIND_LABELS, calibration_text, cost_text
from app.words import count

MAX_DUE_DAYS = 3650
# A period's audit trail beyond this many events is cut (and says so): narrow the period.
MAX_AUDIT_EVENTS = 50_000
MAX_LABELS = 10_000
LABEL_STATUSES = tuple(d.value for d in DueFilter)


@dataclass(frozen=True)
class Stamp:
    """Who made a report, when, from which database: printed on every report."""

    generated_at: datetime  # aware UTC
    generated_by: str  # "user on machine"
    database: str
    audit_head: str = ""  # "#N 1a2b3c4d5e6f…": the chain the report was made at


# -- cells and small texts ---------------------------------------------------------------


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    text = f"{value:g}"
    return f"{text} {unit}".strip()


def _verdict(passed: bool | None) -> str | None:
    if passed is None:
        return None
    return "pass" if passed else "FAIL"


def _plural(n: int, one: str, many: str | None = None) -> str:
    return count(n, one, many)


def change_cell(value: Any) -> Cell:
    """An audited before/after value as a table cell (lists and dicts as compact JSON)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "))


def _signature_line(s: SignatureView) -> str:
    line = s.manifestation
    if s.comment:
        line += f" — “{s.comment}”"
    if not s.intact:
        line += " — WARNING: the signed content was changed after signing"
    return line


# -- due and overdue ---------------------------------------------------------------------

REGISTER_COLUMNS = [
    "Asset tag",
    "Description",
    "Manufacturer",
    "Model",
    "Serial number",
    "Location",
    "Last calibrated",
    "Next due",
]


def _register_cells(r: ListRow) -> tuple[Cell, ...]:
    return (
        r.asset_tag,
        r.description,
        r.manufacturer,
        r.model,
        r.serial_number,
        r.location,
        r.last_calibrated,
        r.next_due,
    )


SCHEDULE_COLUMNS = ["Asset tag", "Schedule", "Every", "Last done", "Next due", "Status"]


def _schedule_section(
    heading: str, found: Sequence[tuple[str, ScheduleView]], sheet: str
) -> list[Section]:
    """The check and maintenance schedules beside the calibrations (issue 15): a
    section only when there are some, so a lab without them reads its reports as before."""
    if not found:
        return []
    counts = ", ".join(
        f"{sum(1 for _t, v in found if v.kind == kind)} {kind}" for kind in ("check", "maintenance")
    )
    rows: list[tuple[Cell, ...]] = [
        (tag, v.kind, v.interval + (" and before use" if v.before_use else ""), v.last_done,
         v.next_due, v.status)
        for tag, v in sorted(found, key=lambda f: (f[1].next_due or date.min, f[0]))
    ]  # fmt: skip
    return [Section(heading, [f"{counts}."], Table(SCHEDULE_COLUMNS, rows), sheet=sheet)]


def due_report(
    rows: Sequence[ListRow],
    *,
    today: date,
    days: int,
    stamp: Stamp,
    schedules: Sequence[tuple[str, ScheduleView]] = (),
) -> Report:
    """In-service instruments falling due in ``today .. today + days``, soonest first;
    then their checks and maintenance falling due in the same days."""
    until = today + timedelta(days=days)
    ordered = sorted(rows, key=lambda r: (r.next_due or date.min, r.asset_tag))
    table = Table(
        [*REGISTER_COLUMNS, "Days left"],
        [(*_register_cells(r), (r.next_due - today).days if r.next_due else None) for r in ordered],
    )
    summary = (
        f"{_plural(len(ordered), 'instrument')} in service fall due between "
        f"{today:%Y-%m-%d} and {until:%Y-%m-%d}."
        if ordered
        else f"No instrument in service falls due between {today:%Y-%m-%d} and {until:%Y-%m-%d}."
    )
    return Report(
        title="Calibrations due",
        subtitle=f"Due in the next {_plural(days, 'day')} (to {until:%Y-%m-%d})",
        parameters=[("Days ahead", str(days)), ("From", f"{today:%Y-%m-%d}")],
        generated_at=stamp.generated_at,
        generated_by=stamp.generated_by,
        database=stamp.database,
        audit_head=stamp.audit_head,
        sections=[
            Section("Due list", [summary], table, sheet="Due"),
            *_schedule_section("Checks and maintenance due", schedules, "Checks due"),
        ],
        kind="due",
    )


def overdue_report(
    rows: Sequence[ListRow],
    *,
    today: date,
    stamp: Stamp,
    schedules: Sequence[tuple[str, ScheduleView]] = (),
) -> Report:
    """In-service instruments past their due date or never calibrated, worst first;
    then their checks and maintenance late (in grace or past it) or due before use."""
    ordered = sorted(rows, key=lambda r: (r.next_due or date.min, r.asset_tag))
    never = sum(1 for r in ordered if r.next_due is None)
    table = Table(
        [*REGISTER_COLUMNS, "Days overdue", "State"],
        [
            (
                *_register_cells(r),
                (today - r.next_due).days if r.next_due else None,
                "overdue" if r.next_due else "never calibrated",
            )
            for r in ordered
        ],
    )
    if ordered:
        summary = (
            f"{_plural(len(ordered), 'instrument')} in service "
            f"{'is' if len(ordered) == 1 else 'are'} overdue on {today:%Y-%m-%d}"
            + (f", {never:,} of them never calibrated." if never else ".")
            + " Take them out of use until they are calibrated."
        )
    else:
        summary = f"No instrument in service is overdue on {today:%Y-%m-%d}."
    return Report(
        title="Overdue calibrations",
        subtitle=f"In service and past due on {today:%Y-%m-%d}",
        parameters=[("As of", f"{today:%Y-%m-%d}")],
        generated_at=stamp.generated_at,
        generated_by=stamp.generated_by,
        database=stamp.database,
        audit_head=stamp.audit_head,
        sections=[
            Section("Overdue list", [summary], table, sheet="Overdue"),
            *_schedule_section("Checks and maintenance late", schedules, "Checks late"),
        ],
        kind="overdue",
    )


# -- instrument history --------------------------------------------------------------------

READING_COLUMNS = [
    "#",
    "Nominal",
    "As found",
    "As left",
    "Tolerance (±)",
    "Unit",
    "As found result",
    "As left result",
    "U",
    "k",
    "TUR",
    "Acceptance limits",
]


def _calibration_heading(c: CalibrationView) -> str:
    state = f"VOIDED ({c.result})" if c.voided else c.result.upper()
    return f"Calibration #{c.id} on {c.performed_on:%Y-%m-%d} — {state}"


def _calibration_paragraphs(c: CalibrationView) -> list[str]:
    lines: list[str] = []
    if c.voided:
        lines.append(
            f"VOIDED — this record does not count. Reason: {c.void_reason or 'not given'}."
        )
    if c.superseded_by_id is not None:
        lines.append(f"Superseded by calibration #{c.superseded_by_id}.")
    if c.supersedes_id is not None:
        lines.append(f"Supersedes calibration #{c.supersedes_id}.")
    if c.provider_kind == "external":
        provider = f"External provider: {c.provider_name or 'not named'}"
    else:
        provider = "In-house"
    if c.performed_by:
        provider += f"; performed by {c.performed_by}"
    provider += f"; certificate {c.certificate_number}" if c.certificate_number else ""
    lines.append(provider + ".")
    if c.temperature_c is None and c.humidity_pct is None:
        lines.append("Environment: not recorded.")
    else:
        lines.append(f"Environment: {_num(c.temperature_c, '°C')}, {_num(c.humidity_pct, '%RH')}.")
    result = f"Result: {c.result}; adjustment made: {'yes' if c.adjustment_made else 'no'}"
    if c.uncertainty:
        result += f"; uncertainty: {c.uncertainty}"
    result += f"; next due: {c.next_due:%Y-%m-%d}." if c.next_due else "; next due: not set."
    lines.append(result)
    if c.as_found_failed:
        failed = sum(1 for p in c.points if p.as_found_pass is False)
        case = f" (out-of-tolerance case #{c.oot_case_id})" if c.oot_case_id else ""
        lines.append(f"As found: {_plural(failed, 'reading')} outside tolerance{case}.")
    lines.append(
        "Standards used: " + (", ".join(c.standards) if c.standards else "none recorded") + "."
    )
    if c.standards_justification:
        lines.append(f"Justification for the standards used: {c.standards_justification}")
    if c.notes:
        lines.append(f"Notes: {c.notes}")
    lines.append(f"Recorded {c.created_at:%Y-%m-%d %H:%M} UTC by {c.created_by}.")
    if c.points:
        # The rule the record was judged by, stored on it (a later change never re-judges).
        lines.extend(rule_lines(c))
    else:
        lines.append("No readings recorded.")
    if not c.signatures:
        lines.append("Not signed.")
    return lines


def _readings_table(c: CalibrationView) -> Table | None:
    if not c.points:
        return None
    return Table(
        READING_COLUMNS,
        [
            (
                p.seq,
                p.nominal,
                p.as_found,
                p.as_left,
                # A tolerance as written is printed so (for -0.02/+0.05 the ± column
                # holds only the wider side); a plain ± tolerance as the number it is.
                p.tolerance_text or p.tolerance,
                p.unit,
                _point_verdict(p.as_found_verdict, p.as_found_pass),
                _point_verdict(p.as_left_verdict, p.as_left_pass),
                number_cell(p.uncertainty) if p.uncertainty is not None else None,
                number_cell(p.coverage_factor) if p.coverage_factor is not None else None,
                p.tur_text or None,
                _acceptance(p),
            )
            for p in c.points
        ],
    )


def _point_verdict(verdict: Verdict | None, passed: bool | None) -> str | None:
    """The rule's verdict ("conditional pass") where the record has one, else pass/FAIL."""
    return verdict_cell(verdict) if verdict is not None else _verdict(passed)


def _acceptance(p: PointView) -> str | None:
    """The acceptance limits where a guard band moves them off the tolerance limits."""
    if p.acceptance_lower is None or p.acceptance_upper is None:
        return None
    if (p.acceptance_lower, p.acceptance_upper) == (p.lower_limit, p.upper_limit):
        return "= limits"
    return limits_cell(p.acceptance_lower, p.acceptance_upper)


AUDIT_CHANGE_COLUMNS = ["Field", "Before", "After"]


def _change_rows(e: AuditView, *, readable: bool = False) -> list[tuple[Cell, ...]]:
    """(field, before, after) per changed field; a create lists only the fields it set.

    ``readable``: fields and readings as a reader says them (``readable_changes``); else
    as stored (the audit trail report is the record itself, to filter and compare with
    the database).
    """
    if readable:
        return [
            (label, change_cell(before), change_cell(after))
            for label, before, after in readable_changes(e)
        ] or [(None, None, None)]
    rows: list[tuple[Cell, ...]] = []
    for name in sorted(e.changes):
        pair = e.changes[name]
        before, after = (pair[0], pair[1]) if len(pair) == 2 else (None, pair)
        if e.action == "create" and before is None and after in (None, "", []):
            continue  # an empty field on creation tells nothing
        rows.append((name, change_cell(before), change_cell(after)))
    return rows or [(None, None, None)]


def _record_state(c: CalibrationView) -> str:
    if c.voided:
        return f"VOID: {c.void_reason}"
    meanings = sorted({s.meaning for s in c.signatures})
    return f"signed ({', '.join(meanings)})" if meanings else "not signed"


def _maintenance_section(events: list[MaintenanceView]) -> Section:
    """The maintenance, damage and repair log (issue 15), newest first, voids included."""
    return Section(
        "Maintenance, damage and repairs",
        [] if events else ["No maintenance, damage or repair logged."],
        Table(
            [
                "ID",
                "Date",
                "Kind",
                "What was done",
                "By",
                "Cost",
                "Downtime (hours)",
                "Calibration before use",
                "Notes",
            ],
            [
                (
                    f"M-{v.id}",
                    v.performed_on,
                    KIND_LABELS[v.kind],
                    v.what_done,
                    v.performed_by,
                    cost_text(v),
                    v.downtime_hours,
                    calibration_text(v) if v.calibrate_before_use or v.voided_at else "not needed",
                    v.notes,
                )
                for v in events
            ],
        ),
        sheet="Maintenance",
    )


def _checks_sections(history: InstrumentHistory) -> list[Section]:
    """Its schedules and intermediate checks (issue 15), when it has either beyond its
    calibration: an instrument without them prints as before."""
    if len(history.schedules) <= 1 and not history.checks:
        return []
    schedules = Table(
        ["Schedule", "Every", "Before use", "Grace (days)", "Last done", "Next due", "Status"],
        [
            (s.kind, s.interval, s.before_use, s.grace_days, s.last_done, s.next_due, s.status)
            for s in history.schedules
        ],
    )
    voided = sum(1 for c in history.checks if c.voided_at)
    summary = (
        f"{_plural(len(history.checks), 'intermediate check')} on record"
        + (f", {voided:,} of them voided" if voided else "")
        + "."
        if history.checks
        else "No intermediate check on record."
    )
    checks = Table(
        ["ID", "Date", "Result", "State", "By", "Standard", "Readings (nominal:reading:limit)",
         "Notes", "OOT case"],
        [
            (c.id, c.performed_on, c.result, f"void: {c.void_reason}" if c.voided_at else "valid",
             c.performed_by, c.standard, " ".join(r.text() for r in c.readings), c.notes,
             f"OOT-{c.oot_case_id}" if c.oot_case_id is not None else "")
            for c in history.checks
        ],
    )  # fmt: skip
    return [
        Section("Schedules", [], schedules, sheet="Schedules"),
        Section("Intermediate checks", [summary], checks, sheet="Checks"),
    ]


def history_report(history: InstrumentHistory, *, stamp: Stamp) -> Report:
    """Certificate-like: every instrument field, then each calibration with its details."""
    d = history.instrument
    fields: list[tuple[Cell, ...]] = [
        ("Asset tag", d.asset_tag),
        ("Description", d.description),
        ("Due status", d.due_status),
        *((label, value) for label, value in instrument_fields(d)),
        ("Version", d.version),
    ]
    sections = [Section("Instrument", [], Table(["Field", "Value"], fields), sheet="Instrument")]
    cals = history.calibrations
    voided = sum(1 for c in cals if c.voided)
    summary = (
        f"{_plural(len(cals), 'calibration')} on record"
        + (f", {voided:,} of them voided" if voided else "")
        + "."
        if cals
        else "No calibration on record."
    )
    sections.append(
        Section(
            "Calibrations",
            [summary],
            Table(
                [
                    "ID",
                    "Performed on",
                    "Result",
                    "State",
                    "Performed by",
                    "Certificate",
                    "Next due",
                ],
                [
                    (
                        c.id,
                        c.performed_on,
                        c.result,
                        _record_state(c),
                        c.performed_by,
                        c.certificate_number,
                        c.next_due,
                    )
                    for c in cals
                ],
            ),
            sheet="Calibrations",
        )
    )
    sections += _checks_sections(history)
    for c in cals:
        sections.append(
            Section(
                _calibration_heading(c),
                _calibration_paragraphs(c),
                _readings_table(c),
                [_signature_line(s) for s in c.signatures],
                sheet=f"Cal #{c.id} {c.performed_on:%Y-%m-%d}" + (" VOID" if c.voided else ""),
            )
        )
    sections.append(_maintenance_section(history.maintenance))
    sections.append(
        Section(
            "Attachments",
            [] if history.attachments else ["No attachments."],
            Table(
                ["ID", "File", "Size (bytes)", "Attached to", "Added (UTC)", "Added by", "State"],
                [
                    (
                        a.id,
                        a.original_name,
                        a.size_bytes,
                        a.owner,
                        a.added_at,
                        a.added_by,
                        f"void: {a.void_reason}" if a.voided else "valid",
                    )
                    for a in history.attachments
                ],
            ),
            sheet="Attachments",
        )
    )
    sections.append(_custody_section(history.custody))
    sections.append(
        Section(
            "Audit trail",
            [
                "The instrument's events, and those of its calibrations, their signatures, "
                "its attachments, its out-of-tolerance cases and its check-outs."
            ],
            Table(
                ["When (UTC)", "User", "Subject", "Action", *AUDIT_CHANGE_COLUMNS, "Reason"],
                [
                    (
                        e.occurred_at,
                        e.user,
                        f"{entity_name(e.entity_type)} {e.entity_label}",
                        e.action,
                        *change,
                        e.reason,
                    )
                    for e in history.audit
                    for change in _change_rows(e, readable=True)
                ],
            ),
            sheet="Audit trail",
        )
    )
    return Report(
        title=f"Instrument history: {d.asset_tag}",
        subtitle=d.description,
        parameters=[("Asset tag", d.asset_tag)],
        generated_at=stamp.generated_at,
        generated_by=stamp.generated_by,
        database=stamp.database,
        audit_head=stamp.audit_head,
        sections=sections,
        kind="history",
    )


# -- out-of-tolerance log ---------------------------------------------------------------

OOT_COLUMNS = [
    "Case",
    "Instrument",
    "Description",
    "Found on",
    "Found by",
    "What was found",
    "Last good",
    "Status",
    "Disposition",
    "Affected calibrations",
    "Affected instruments",
    "Closed by",
    "Closed at (UTC)",
    "Signature",
    "Impact assessment",
]


IMPACT_COLUMNS = [
    "Case",
    "Standard",
    "Record",
    "Instrument",
    "Performed on",
    "Point",
    "Nominal",
    "Unit",
    "Reading",
    "Stored",
    "Standard error",
    "Shifted",
    "Before",
    "After",
]


def _impact_section(chosen: Sequence[OotCaseView], impacts: Sequence[CaseImpact]) -> Section:
    """The verdicts each chosen case's standard error would change (app.services.oot_impact)."""
    ids = {c.id for c in chosen}
    shown = sorted((i for i in impacts if i.case_id in ids), key=lambda i: i.case_id)
    paragraphs = [f"Method: {METHOD}."] + [
        f"OOT-{i.case_id}: {i.summary}"
        + ("" if i.frozen else " (computed when this report was made)")
        for i in shown
    ]
    rows: list[tuple[Cell, ...]] = [
        (
            i.case_id,
            i.standard_tag,
            r.record_id,
            r.asset_tag,
            r.performed_on,
            r.seq,
            r.nominal,
            r.unit,
            r.reading.replace("_", " "),
            r.stored,
            r.error,
            r.shifted,
            r.before.replace("_", " "),
            r.after.replace("_", " "),
        )
        for i in shown
        for r in i.flipped
    ]
    return Section(
        "Verdicts that would change",
        paragraphs,
        Table(IMPACT_COLUMNS, rows),
        sheet="OOT impact",
    )


def oot_log_report(
    cases: Sequence[OotCaseView],
    *,
    stamp: Stamp,
    status: str | None = None,
    found_from: date | None = None,
    found_to: date | None = None,
    impacts: Sequence[CaseImpact] = (),
) -> Report:
    """The out-of-tolerance cases (optionally one status, found in a period), oldest first.

    ``impacts``: the impact lists of (some of) the cases, for a section of the verdicts
    their standards' errors would change; none given, no such section.
    """
    chosen = [
        c
        for c in cases
        if (status is None or c.status == status)
        and (found_from is None or c.found_on >= found_from)
        and (found_to is None or c.found_on <= found_to)
    ]
    chosen.sort(key=lambda c: (c.found_on, c.id))
    table = Table(
        OOT_COLUMNS,
        [
            (
                c.id,
                c.asset_tag,
                c.description,
                c.found_on,
                c.found_by,
                c.summary,
                c.last_good_on,
                c.status,
                c.disposition.replace("_", " "),
                len(c.affected),
                ", ".join(c.affected_instruments),
                c.closed_by,
                c.closed_at,
                "; ".join(s.manifestation for s in c.signatures),
                c.impact_assessment,
            )
            for c in chosen
        ],
    )
    by_status: dict[str, int] = {}
    for c in chosen:
        by_status[c.status] = by_status.get(c.status, 0) + 1
    summary = (
        f"{_plural(len(chosen), 'case')}: "
        + ", ".join(f"{n:,} {s}" for s, n in sorted(by_status.items()))
        + "."
        if chosen
        else "No out-of-tolerance case matches."
    )
    parameters = [("Status", status or "all")]
    period = ""
    if found_from or found_to:
        low = f"{found_from:%Y-%m-%d}" if found_from else "the start"
        high = f"{found_to:%Y-%m-%d}" if found_to else "today"
        parameters.append(("Found", f"{low} to {high}"))
        period = f", found {low} to {high}"
    return Report(
        title="Out-of-tolerance log",
        subtitle=f"{(status or 'all').capitalize()} cases{period}",
        parameters=parameters,
        generated_at=stamp.generated_at,
        generated_by=stamp.generated_by,
        database=stamp.database,
        audit_head=stamp.audit_head,
        sections=[
            Section("Cases", [summary], table, sheet="OOT cases"),
            *([_impact_section(chosen, impacts)] if impacts else []),
        ],
        landscape=True,
        kind="oot",
    )


# -- custody -----------------------------------------------------------------------------

CUSTODY_COLUMNS = [
    "Entry",
    "Asset tag",
    "Description",
    "With",
    "Place",
    "Out since (UTC)",
    "Checked out by",
    "Due back",
    "Late",
    "Back (UTC)",
    "State",
    "QA override",
]


def _custody_row(v: CustodyView) -> tuple[Cell, ...]:
    state = f"void: {v.void_reason}" if v.state == "void" else v.state
    return (
        v.id,
        v.asset_tag,
        v.description,
        v.holder,
        v.place,
        v.out_at,
        v.out_by,
        v.due_back,
        "late" if v.late else "",
        v.in_at,
        state,
        v.override_reason,
    )


def _custody_section(entries: Sequence[CustodyView]) -> Section:
    """An instrument's check-outs, newest first (void ones with their reason)."""
    return Section(
        "Custody",
        [] if entries else ["Never checked out."],
        Table(CUSTODY_COLUMNS, [_custody_row(v) for v in entries]),
        sheet="Custody",
    )


def custody_report(entries: Sequence[CustodyView], *, today: date, stamp: Stamp) -> Report:
    """What is out now: with whom, where, since when, and what is late back."""
    late = [v for v in entries if v.late]
    summary = (
        f"{_plural(len(entries), 'instrument')} out, {len(late):,} of them late back."
        if entries
        else "Nothing is checked out."
    )
    sections = [
        Section(
            "Out now",
            [summary],
            Table(CUSTODY_COLUMNS, [_custody_row(v) for v in entries]),
            sheet="Out now",
        )
    ]
    if late:
        sections.append(
            Section(
                "Late back",
                [f"Due back before {today:%Y-%m-%d} and not checked in."],
                Table(CUSTODY_COLUMNS, [_custody_row(v) for v in late]),
                sheet="Late back",
            )
        )
    return Report(
        title="Custody",
        subtitle=f"Instruments out on {today:%Y-%m-%d}",
        parameters=[("Day", today.isoformat())],
        generated_at=stamp.generated_at,
        generated_by=stamp.generated_by,
        database=stamp.database,
        audit_head=stamp.audit_head,
        sections=sections,
        landscape=True,
        kind="custody",
    )


# -- audit trail ---------------------------------------------------------------------

AUDIT_COLUMNS = [
    "Event",
    "When (UTC)",
    "User",
    "Machine",
    "Entity type",
    "Entity",
    "Action",
    *AUDIT_CHANGE_COLUMNS,
    "Reason",
]


def audit_report(
    events: Sequence[AuditView],
    *,
    stamp: Stamp,
    since: date | None = None,
    until: date | None = None,
    user: str | None = None,
    entity_type: str | None = None,
    entity: str | None = None,
    truncated_at: int | None = None,
) -> Report:
    """The audit trail of a period, one row per changed field (before → after)."""
    rows = [
        (
            e.id,
            e.occurred_at,
            e.user,
            e.machine,
            e.entity_type,
            e.entity_label,
            e.action,
            *change,
            e.reason,
        )
        for e in events
        for change in _change_rows(e)
    ]
    low = f"{since:%Y-%m-%d}" if since else "the first event"
    high = f"{until:%Y-%m-%d}" if until else "the last event"
    paragraphs = [
        f"{_plural(len(events), 'event')} from {low} to {high} (UTC days, both included), "
        f"{_plural(len(rows), 'row')}: one per changed field, before → after."
        if events
        else f"No audit event matches from {low} to {high}."
    ]
    if truncated_at is not None:
        paragraphs.append(
            f"Only the first {truncated_at:,} events are shown: there are more. "
            "Narrow the period, the user or the entity to see the rest."
        )
    parameters = [("From", low), ("To", high)]
    parameters += [("User", user)] if user else []
    parameters += [("Entity type", entity_type)] if entity_type else []
    parameters += [("Entity", entity)] if entity else []
    filters = ", ".join(f"{k.lower()} {v}" for k, v in parameters[2:])
    return Report(
        title="Audit trail",
        subtitle=f"{low} to {high}" + (f"; {filters}" if filters else ""),
        parameters=parameters,
        generated_at=stamp.generated_at,
        generated_by=stamp.generated_by,
        database=stamp.database,
        audit_head=stamp.audit_head,
        sections=[Section("Events", paragraphs, Table(AUDIT_COLUMNS, rows), sheet="Audit trail")],
        landscape=True,
        kind="audit",
    )


# -- the service -------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class ReportService:
    """Collects what each report shows, in one read transaction per report.

    Reports only read, so they work on a database opened read-only as well.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        identity: Identity,
        clock: Clock,
        instruments: InstrumentService,
        audit: AuditService,
    ) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._instruments = instruments
        self._audit = audit

    def stamp(self) -> Stamp:
        """When, by whom and from which database a report made now is made."""
        database = self._uow.database
        where = str(database.path) if database.path is not None else safe_url(database.url)

        def head(uow: UnitOfWork) -> str:
            return head_text(uow.audit.last())

        return Stamp(
            generated_at=self._clock.now_utc().astimezone(UTC),
            generated_by=str(self._identity),
            database=where,
            audit_head=self._uow.read(head),
        )

    def due(self, days: int = 30) -> Report:
        """In-service instruments whose next due date falls within the next ``days``."""
        if not 0 <= days <= MAX_DUE_DAYS:
            raise ValidationError({"days": f"must be between 0 and {MAX_DUE_DAYS}"})
        today = self._clock.today()
        query = ListQuery(due=DueFilter.DUE_SOON, sort="next_due", limit=None)
        rows, schedules = self._uow.read(
            lambda uow: (
                uow.instruments.list_rows(query, today, today + timedelta(days=days)),
                due_rows_in(uow, today, days, ("due-soon",)),
            )
        )
        return due_report(rows, today=today, days=days, stamp=self.stamp(), schedules=schedules)

    def overdue(self) -> Report:
        """In-service instruments past due or never calibrated."""
        today = self._clock.today()
        # Both must be taken out of use: the past due and the never calibrated.
        queries = [
            ListQuery(due=due, sort="next_due", limit=None)
            for due in (DueFilter.OVERDUE, DueFilter.NOT_CALIBRATED)
        ]
        late = ("in-grace", "overdue", "before-use")
        rows, schedules = self._uow.read(
            lambda uow: (
                [r for q in queries for r in uow.instruments.list_rows(q, today, today)],
                due_rows_in(uow, today, 0, late),
            )
        )
        return overdue_report(rows, today=today, stamp=self.stamp(), schedules=schedules)

    def history(self, tag: str) -> Report:
        """An instrument's record, built from what the window's detail pane shows."""
        return history_report(self._instruments.history(tag), stamp=self.stamp())

    def certificate(self, record_id: int) -> Report:
        """The calibration certificate of one record (any state: a voided or unsigned
        record's certificate says so on every page)."""
        stamp = self.stamp()
        data = self._uow.read(lambda uow: read_certificate(uow, record_id, self._clock))
        return certificate_report(
            data,
            generated_at=stamp.generated_at,
            generated_by=stamp.generated_by,
            database=stamp.database,
            audit_head=stamp.audit_head,
        )

    def providers(
        self, lines: Sequence[ProviderTurnaround], *, since: date | None = None
    ) -> Report:
        """Turnaround and cost per provider, of lines ``SendoutService.turnaround`` gave."""
        stamp = self.stamp()
        return providers_report(
            lines,
            since=since,
            today=self._clock.today(),
            generated_at=stamp.generated_at,
            generated_by=stamp.generated_by,
            database=stamp.database,
            audit_head=stamp.audit_head,
        )

    def oot_log(
        self,
        cases: Sequence[OotCaseView],
        *,
        status: str | None = None,
        found_from: date | None = None,
        found_to: date | None = None,
        impacts: Sequence[CaseImpact] = (),
    ) -> Report:
        """The OOT log of cases listed by the OOT service (filtered here by status/period),
        with the verdicts their impact lists (``OotService.impact``) would change."""
        _check_period(found_from, found_to)
        return oot_log_report(
            cases,
            stamp=self.stamp(),
            status=status,
            found_from=found_from,
            found_to=found_to,
            impacts=impacts,
        )

    def custody(self) -> Report:
        """What is out now, with whom and since when, and what is late back."""
        today = self._clock.today()
        entries = self._uow.read(
            lambda uow: [custody_view(c, i, today) for c, i in uow.custody.open_all()]
        )
        return custody_report(entries, today=today, stamp=self.stamp())

    def audit_trail(
        self,
        *,
        since: date | None = None,
        until: date | None = None,
        user: str | None = None,
        entity_type: str | None = None,
        entity: str | None = None,
    ) -> Report:
        """The audit trail from ``since`` to ``until`` (UTC days, both included)."""
        _check_period(since, until)
        events = self._audit.search(
            since=_day_start(since) if since else None,
            until=_day_start(until + timedelta(days=1)) if until else None,
            user=user,
            entity_type=entity_type,
            entity=entity,
            limit=MAX_AUDIT_EVENTS + 1,
        )
        truncated = len(events) > MAX_AUDIT_EVENTS
        return audit_report(
            events[:MAX_AUDIT_EVENTS],
            stamp=self.stamp(),
            since=since,
            until=until,
            user=user,
            entity_type=entity_type,
            entity=entity,
            truncated_at=MAX_AUDIT_EVENTS if truncated else None,
        )

    def labels(
        self,
        *,
        tags: Sequence[str] = (),
        status: str | None = None,
        everything: bool = False,
    ) -> list[LabelData]:
        """Label data for the named instruments (in that order), one status, or all."""
        chosen = sum((bool(tags), status is not None, everything))
        if chosen != 1:
            raise UsageError("name asset tags, or choose --status S, or --all (one of them)")
        if status is not None and status not in LABEL_STATUSES:
            raise ValidationError({"status": f"must be one of {', '.join(LABEL_STATUSES)}"})
        today = self._clock.today()

        def read(uow: UnitOfWork) -> list[LabelData]:
            if tags:
                found = [require_instrument(uow, t) for t in tags]
                return [
                    LabelData(
                        i.asset_tag,
                        i.description,
                        i.last_calibrated,
                        i.next_due,
                        i.calibration_requirement,
                    )
                    for i in found
                ]
            query = ListQuery(
                due=DueFilter(status) if status else None, sort="asset_tag", limit=MAX_LABELS + 1
            )
            until = today + timedelta(days=due_soon_days(uow))
            return [
                LabelData(
                    r.asset_tag,
                    r.description,
                    r.last_calibrated,
                    r.next_due,
                    r.calibration_requirement,
                )
                for r in uow.instruments.list_rows(query, today, until)
            ]

        labels = self._uow.read(read)
        if len(labels) > MAX_LABELS:
            raise UsageError(
                f"more than {MAX_LABELS:,} labels at once; choose a status or name the tags"
            )
        if not labels:
            raise UsageError(f"no instrument is {status}; no labels to print")
        return labels


def _check_period(since: date | None, until: date | None) -> None:
    for name, day in (("from", since), ("to", until)):
        problem = day_problem(day) if day is not None else None
        if problem:
            raise ValidationError({name: problem})
    if since is not None and until is not None and since > until:
        raise ValidationError(
            {"from": f"{since:%Y-%m-%d} is after the end date {until:%Y-%m-%d}; swap them"}
        )
