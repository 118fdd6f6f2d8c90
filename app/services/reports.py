"""Report data for QA and auditors: due and overdue lists, histories, OOT log, audit trail.

Builds plain data that ``app/reports`` renders as PDF, CSV or XLSX.
"""

from __future__ import annotations

from app.clock import Clock
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWorkFactory


class ReportService:
    """Collects what each report shows, in one read transaction per report."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
