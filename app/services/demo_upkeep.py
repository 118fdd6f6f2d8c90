"""The demo lab's life between calibrations (issue 15): schedules, checks, repairs,
providers, a send-out batch and check-outs, so a new user sees every feature filled in.

Unlike the bulk calibration history (``app.services.demo``) these few dozen records go
through the very services a person uses, each write audited in its own transaction,
so they obey every rule (a repair that needs a calibration takes its instrument out of
service, a send-out to a provider not approved carries a reason) and ``db verify``
replays them like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from app.clock import Clock
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWorkFactory
from app.services.calibrations import CalibrationService
from app.services.checks import CheckInput, CheckService, parse_reading
from app.services.custody import CustodyService
from app.services.dto import MaintenanceInput
from app.services.provider_views import ProviderInput
from app.services.providers import ProviderService
from app.services.schedules import ScheduleInput, ScheduleService
from app.services.sendouts import SendoutService
from app.services.upkeep import UpkeepService

# How many instruments in service, in date and not references the records need.
UPKEEP_INSTRUMENTS = 14
APPROVED_PROVIDER = "Trescal"
UNAPPROVED_PROVIDER = "QuickCal Ltd"
# The one check-out that is late back was taken this many days ago, due back after half.
LATE_OUT_DAYS = 12


class _Earlier:
    """The demo's clock moved back ``days`` days: a check-out made then (the only way
    to have one late back today is to have taken it out in the past), a schedule set
    before the work that moved it (a schedule only moves forward: work dated before it
    was set does not count)."""

    def __init__(self, clock: Clock, days: int) -> None:
        self._clock = clock
        self._shift = timedelta(days=days)

    def now_utc(self) -> datetime:
        return self._clock.now_utc() - self._shift

    def today(self) -> date:
        return self._clock.today() - self._shift

    def local_date(self, moment: datetime) -> date:
        return self._clock.local_date(moment)


def add_upkeep_demo(
    uow: UnitOfWorkFactory, identity: Identity, clock: Clock, tags: Sequence[str]
) -> dict[str, int]:
    """Add issue 15's records on ``tags`` (at least ``UPKEEP_INSTRUMENTS`` instruments in
    service whose calibration is not due soon). What was added, by kind."""
    if len(tags) < UPKEEP_INSTRUMENTS:
        return {}
    today = clock.today()

    def ago(days: int) -> date:
        return today - timedelta(days=days)

    def schedules_then(days: int) -> ScheduleService:
        """Schedules as set ``days`` days ago."""
        return ScheduleService(uow=uow, identity=identity, clock=_Earlier(clock, days))

    checks = CheckService(uow=uow, identity=identity, clock=clock)
    upkeep = UpkeepService(uow=uow, identity=identity, clock=clock)
    providers = ProviderService(uow=uow, identity=identity, clock=clock)
    calibrations = CalibrationService(uow=uow, identity=identity, clock=clock)
    sendouts = SendoutService(uow=uow, identity=identity, clock=clock, calibrations=calibrations)
    custody = CustodyService(uow=uow, identity=identity, clock=clock)
    t = list(tags[:UPKEEP_INSTRUMENTS])
    counts = {"schedules": 0, "checks": 0, "maintenance": 0, "providers": 0}

    # Intermediate checks: one due soon, one overdue, one done lately.
    for tag, every, done in ((t[0], "90d", 80), (t[1], "90d", 104), (t[2], "6m", 20)):
        schedules_then(done + 10).set(tag, ScheduleInput("check", every=every, grace_days=3))
        checks.add(
            tag,
            CheckInput(
                performed_on=ago(done),
                readings=(parse_reading("100:100.02:0.1"),),
                standard="Check artefact set A",
                notes="weekly check against the artefact",
            ),
        )
        counts["schedules"] += 1
        counts["checks"] += 1
    # Maintenance schedules: one due soon, one done lately.
    for tag, every, done in ((t[3], "12m", 350), (t[4], "6m", 25)):
        schedules_then(done + 10).set(tag, ScheduleInput(kind="maintenance", every=every))
        upkeep.add(
            tag,
            MaintenanceInput(
                kind="maintenance",
                performed_on=ago(done),
                what_done="Cleaned, seals and battery replaced",
                downtime="2h",
            ),
        )
        counts["schedules"] += 1
        counts["maintenance"] += 1
    # Damage found, then repaired: it must be calibrated before it is used again.
    upkeep.add(
        t[5],
        MaintenanceInput(
            kind="damage_found",
            performed_on=ago(6),
            what_done="Display cracked after a fall from the bench",
        ),
    )
    upkeep.add(
        t[5],
        MaintenanceInput(
            kind="repair",
            performed_on=ago(2),
            what_done="Display unit replaced by the maker's service",
            cost="180.00",
            currency="EUR",
            downtime="3d",
            calibrate_before_use=True,
        ),
    )
    upkeep.add(
        t[6],
        MaintenanceInput(kind="cleaning", performed_on=ago(9), what_done="Probe cleaned"),
    )
    counts["maintenance"] += 3

    # Providers (QA's register): one approved, one not, whose review date has passed.
    providers.add(
        ProviderInput(
            name=APPROVED_PROVIDER,
            contact="service@example.com",
            accreditation_body="UKAS",
            accreditation_number="0478",
            scope="Temperature, pressure, electrical, dimensional",
            approval="approved",
            review_date=ago(-200),
        )
    )
    providers.add(
        ProviderInput(
            name=UNAPPROVED_PROVIDER,
            contact="+44 20 7946 0000",
            scope="Pressure gauges",
            approval="not_approved",
            review_date=ago(30),
        )
    )
    counts["providers"] += 2
    # A batch still out at the approved provider, and one back from the other.
    sendouts.create(
        APPROVED_PROVIDER,
        [t[7], t[8]],
        sent_on=ago(10),
        po_number=f"PO-{today.year}-0113",
        expected_return=ago(-11),
        cost="420",
    )
    back = sendouts.create(
        UNAPPROVED_PROVIDER,
        [t[9]],
        sent_on=ago(40),
        po_number=f"PO-{today.year}-0087",
        expected_return=ago(19),
        reason="Only lab with a free slot for the production line gauge",
    )
    sendouts.receive(back.id, received_on=ago(15))
    counts["sendouts"] = 2

    # Check-outs: two out now, one of them late back, and one already returned.
    custody.check_out(t[10], holder="B. Okafor", place="Lab 2.03", due_back=ago(-7))
    custody.check_out(t[11], holder="E. Tanaka", place="Production line A")
    custody.check_in(t[11])
    earlier = CustodyService(uow=uow, identity=identity, clock=_Earlier(clock, LATE_OUT_DAYS))
    earlier.check_out(
        t[12], holder="F. Rossi", place="Incoming inspection", due_back=ago(LATE_OUT_DAYS // 2)
    )
    counts["check_outs"] = 3
    return counts
