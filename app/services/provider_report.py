"""The provider report: turnaround and cost per external calibration provider (issue 15).

Built from ``SendoutService.turnaround`` lines; rendered as PDF, CSV or XLSX like every
other report (``app/reports``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from app.services.provider_views import APPROVAL_LABELS, ProviderTurnaround
from app.services.report_model import Report, Section, Table

COLUMNS = [
    "Provider",
    "Approval",
    "Batches",
    "Instruments",
    "Back",
    "Still out",
    "Mean turnaround (days)",
    "Longest (days)",
    "Late",
    "Cost",
    "Certificates the lab's limits contradict",
]


def providers_report(
    lines: Sequence[ProviderTurnaround],
    *,
    since: date | None,
    today: date,
    generated_at: datetime,
    generated_by: str,
    database: str,
    audit_head: str,
) -> Report:
    """One row per provider: batches, instruments back and out, days, lateness, cost."""
    table = Table(
        COLUMNS,
        [
            (
                line.provider,
                APPROVAL_LABELS[line.approval],
                line.batches,
                line.instruments,
                line.returned,
                line.outstanding,
                line.mean_days,
                line.longest_days,
                line.late,
                line.total_cost,
                line.disagreements,
            )
            for line in lines
        ],
    )
    sent = sum(line.instruments for line in lines)
    cost = sum(line.total_cost for line in lines)
    contradicted = sum(line.disagreements for line in lines)
    period = f"sent on or after {since:%Y-%m-%d}" if since else "every send-out"
    summary = (
        f"{sent:,} instrument{'' if sent == 1 else 's'} sent out to "
        f"{sum(1 for line in lines if line.instruments)} provider(s), {period}; "
        f"total cost {cost:,.2f}. Turnaround counts the days from sending to receiving; "
        f"late means back after, or still out past, the expected return ({today:%Y-%m-%d})."
    )
    paragraphs = [summary]
    if contradicted:
        paragraphs.append(
            f"{contradicted} certificate(s) stated a result the lab's own limits contradict: "
            "see each batch (`caltrack sendout show`)."
        )
    return Report(
        title="External providers",
        subtitle="Turnaround and cost per calibration provider",
        parameters=[("Period", period), ("As of", f"{today:%Y-%m-%d}")],
        generated_at=generated_at,
        generated_by=generated_by,
        database=database,
        audit_head=audit_head,
        sections=[Section("Providers", paragraphs, table, sheet="Providers")],
        landscape=True,
        kind="providers",
    )
