"""Realistic demo data: instruments of a typical lab with years of calibrations.

Rows are built in memory and inserted in bulk inside one transaction, with one
audit event per created instrument and record, so ``db verify`` stays clean.
"""

from __future__ import annotations

import gc
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.clock import Clock
from app.db.models import CalibrationRecord
from app.errors import NotAllowedError, ValidationError
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role
from app.services.audit import AuditChainWriter
from app.services.demo_json import chunk_json
from app.services.demo_upkeep import UPKEEP_INSTRUMENTS, add_upkeep_demo
from app.services.due import next_due_from
from app.services.oot import open_case_in
from app.services.snapshots import search_text_of

MAX_DEMO_INSTRUMENTS = 1_000_000
CHUNK = 2000
# Set in the meta table when demo data is added: the window then says "DEMO DATA".
DEMO_DATA_KEY = "demo_data_since"

# A passed reading's deviation is uniform in ±0.8 of the tolerance (rng.uniform's terms).
PASS_LOW, PASS_SPAN = -0.8, 0.8 - -0.8


@dataclass(frozen=True)
class Category:
    """A kind of instrument with the numbers that make its readings plausible."""

    prefix: str
    name: str
    reference: str
    makers: tuple[tuple[str, tuple[str, ...]], ...]
    unit: str
    low: float
    high: float
    tolerance: float
    interval: int


CATEGORIES = (
    Category(
        "TH",
        "Digital thermometer",
        "Reference PRT thermometer",
        (
            ("Fluke", ("1523", "1524", "51 II")),
            ("Testo", ("735-2", "110")),
            ("ThermoWorks", ("Thermapen ONE",)),
        ),
        "°C",
        -40,
        250,
        0.5,
        365,
    ),
    Category(
        "BAL",
        "Analytical balance",
        "Reference mass set (E2)",
        (
            ("Mettler Toledo", ("XPR205", "MS204TS")),
            ("Sartorius", ("Quintix 224", "Cubis II")),
            ("Ohaus", ("Explorer EX224",)),
        ),
        "g",
        0.01,
        200,
        0.0005,
        365,
    ),
    Category(
        "PIP",
        "Adjustable pipette",
        "Gravimetric pipette test rig",
        (
            ("Eppendorf", ("Research plus 100", "Research plus 1000")),
            ("Gilson", ("Pipetman P200", "Pipetman P1000")),
            ("Sartorius", ("Tacta 1000",)),
        ),
        "µL",
        10,
        1000,
        8,
        180,
    ),
    Category(
        "PG",
        "Pressure gauge",
        "Deadweight tester",
        (("WIKA", ("CPG1500", "232.50")), ("Additel", ("ADT681",)), ("Druck", ("DPI 104",))),
        "bar",
        0,
        250,
        0.5,
        365,
    ),
    Category(
        "MM",
        "Digital multimeter",
        "Multifunction calibrator",
        (
            ("Fluke", ("87V", "289", "8846A")),
            ("Keysight", ("34465A", "U1282A")),
            ("Keithley", ("DMM6500",)),
        ),
        "V",
        0.1,
        1000,
        0.05,
        365,
    ),
    Category(
        "CAL",
        "Digital caliper",
        "Gauge block set (grade 0)",
        (("Mitutoyo", ('CD-6"ASX', "500-196-30")), ("Starrett", ("EC799A-6/150",))),
        "mm",
        0,
        150,
        0.02,
        365,
    ),
    Category(
        "PH",
        "pH meter",
        "Certified buffer set",
        (("Hanna", ("HI5221", "HI98191")), ("Mettler Toledo", ("SevenExcellence",))),
        "pH",
        4,
        10,
        0.02,
        90,
    ),
    Category(
        "HYG",
        "Thermo-hygrometer",
        "Humidity generator",
        (("Vaisala", ("HM40", "HMT330")), ("Testo", ("608-H1", "625"))),
        "%RH",
        10,
        90,
        2.0,
        365,
    ),
    Category(
        "TW",
        "Torque wrench",
        "Torque transducer",
        (("Norbar", ("TTi 60", "Model 100")), ("Snap-on", ("QD2R200",))),
        "N·m",
        5,
        200,
        4,
        365,
    ),
    Category(
        "TMR",
        "Stopwatch",
        "GPS-disciplined time reference",
        (("Fisherbrand", ("Traceable 14-649-17",)), ("Extech", ("HW30",))),
        "s",
        10,
        3600,
        0.5,
        730,
    ),
)
LOCATIONS = (
    "Lab 1.01",
    "Lab 1.02",
    "Lab 1.14",
    "Lab 2.03",
    "Lab 2.07",
    "Metrology room",
    "Production line A",
    "Production line B",
    "Incoming inspection",
    "QC stores",
)
OWNERS = ("Chemistry", "Microbiology", "Physical testing", "Metrology", "Production", "QC")
TECHNICIANS = ("A. Novak", "B. Okafor", "C. Lindqvist", "D. Moreau", "E. Tanaka", "F. Rossi")
PROVIDERS = ("Trescal", "Transcat", "Tektronix Service", "NPL Calibration Services")


@dataclass(frozen=True)
class _Fixed:
    """What every row of a category repeats, worked out once instead of per row."""

    nominals: tuple[float, ...]
    range_text: str
    resolution_text: str
    accuracy_text: str
    uncertainty: str


def _plain(value: float) -> str:
    """A number as a lab writes it: 0.00005, never 5e-05."""
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return text or "0"


def _fixed(cat: Category) -> _Fixed:
    span = cat.high - cat.low
    return _Fixed(
        nominals=tuple(round(cat.low + span * frac, 4) for frac in (0.1, 0.5, 0.9)),
        range_text=f"{_plain(cat.low)} to {_plain(cat.high)} {cat.unit}",
        resolution_text=f"{_plain(cat.tolerance / 10)} {cat.unit}",
        accuracy_text=f"±{_plain(cat.tolerance)} {cat.unit}",
        uncertainty=f"±{_plain(cat.tolerance / 4)} {cat.unit} (k=2)",
    )


class DemoService:
    """Fills a database with plausible instruments and calibration history."""

    def __init__(self, *, uow: UnitOfWorkFactory, identity: Identity, clock: Clock) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock

    def generate(
        self,
        instruments: int,
        *,
        seed: int = 1,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, int]:
        """Add ``instruments`` instruments (about five calibrations each).

        The first demo data of a database also gets the life between calibrations
        (``app.services.demo_upkeep``) on a few of its instruments, given enough of them.
        """
        if not 1 <= instruments <= MAX_DEMO_INSTRUMENTS:
            raise ValidationError(
                {"instruments": f"must be between 1 and {MAX_DEMO_INSTRUMENTS:,}"}
            )

        def write(uow: UnitOfWork) -> dict[str, int]:
            with _no_cyclic_gc():
                return fill(uow)

        first = not self.holds_demo_data()
        spare: list[str] = []

        def fill(uow: UnitOfWork) -> dict[str, int]:
            builder = _Builder(uow, random.Random(seed), self._clock.today(), self._identity)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            builder.now = audit.now
            done = 0
            while done < instruments:
                n = min(CHUNK, instruments - done)
                builder.chunk(n, audit)
                done += n
                if progress:
                    progress(done, instruments)
            audit.flush()
            if uow.meta.get(DEMO_DATA_KEY) is None:
                uow.meta.set(DEMO_DATA_KEY, audit.now.isoformat(timespec="seconds"))
            spare[:] = builder.spare[-UPKEEP_INSTRUMENTS:]
            return builder.counts

        counts = self._uow.write(write, label="demo data")
        if first and self._may_keep_providers():
            counts.update(add_upkeep_demo(self._uow, self._identity, self._clock, spare))
        return counts

    def _may_keep_providers(self) -> bool:
        """The demo's providers are QA's to add: a lab with accounts where this user is
        below QA gets the calibration history only."""

        def read(uow: UnitOfWork) -> bool:
            try:
                require_role(uow, self._identity, "qa", "add providers")
            except NotAllowedError:
                return False
            return True

        return self._uow.read(read)

    def holds_demo_data(self) -> bool:
        """Was demo data ever added here (so nobody takes it for a real register)?"""
        return self._uow.read(lambda uow: uow.meta.get(DEMO_DATA_KEY) is not None)


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cycle collector while rows are built: they hold no cycles, and with
    hundreds of thousands of live dicts and lists each collection walks them all (a
    quarter of the run time). Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Builder:
    def __init__(self, uow: UnitOfWork, rng: random.Random, today: date, identity: Identity):
        self.uow = uow
        self.rng = rng
        self.today = today
        self.user = identity.user
        self.identity = identity
        self.now: Any = None
        self.next_instrument = uow.instruments.max_id() + 1
        self.next_record, self.next_point = (i + 1 for i in uow.calibrations.max_ids())
        self.references: dict[str, list[int]] = {c.prefix: [] for c in CATEGORIES}
        # category -> day (ordinal) -> the references in date on that day, oldest first:
        # exactly ``[r for r in refs if r was in date]``, looked up instead of scanned.
        self.in_date: dict[str, defaultdict[int, list[int]]] = {
            c.prefix: defaultdict(list) for c in CATEGORIES
        }
        self.fixed = {c.prefix: _fixed(c) for c in CATEGORIES}
        self.counts = {"instruments": 0, "calibrations": 0, "points": 0, "oot_cases": 0}
        # Plain instruments in service, in date beyond the due-soon window: where the
        # demo's checks, repairs, send-outs and check-outs go (``demo_upkeep``).
        self.spare: list[str] = []
        self.spare_after = today + timedelta(days=90)

    def chunk(self, n: int, audit: AuditChainWriter) -> None:
        instruments: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        points: list[dict[str, Any]] = []
        standards: list[dict[str, Any]] = []
        labels: list[str] = []
        point_counts: list[int] = []
        used: list[list[int]] = []
        for _ in range(n):
            inst, recs = self._instrument()
            instruments.append(inst)
            for rec, pts, stds in recs:
                records.append(rec)
                points.extend(pts)
                point_counts.append(len(pts))
                used.append(sorted(stds))
                standards.extend({"record_id": rec["id"], "standard_id": s} for s in stds)
                labels.append(f"{inst['asset_tag']} #{rec['id']}")
        self.uow.instruments.bulk_insert(instruments)
        self.uow.calibrations.bulk_insert(records, points, standards)

        instrument_json, record_json = chunk_json(instruments, records, points, point_counts, used)
        for inst, changes in zip(instruments, instrument_json, strict=True):
            audit.record_json(
                "instrument", inst["id"], inst["asset_tag"], "create", changes, "demo data"
            )
        for rec, label, changes in zip(records, labels, record_json, strict=True):
            audit.record_json("calibration", rec["id"], label, "create", changes, "demo data")
        self._open_cases(instruments, records, audit)
        self.counts["instruments"] += len(instruments)
        self.counts["calibrations"] += len(records)
        self.counts["points"] += len(points)

    def _open_cases(
        self,
        instruments: list[dict[str, Any]],
        records: list[dict[str, Any]],
        audit: AuditChainWriter,
    ) -> None:
        """A failed latest calibration has its out-of-tolerance case open, as CalTrack
        would have opened it (older adjusted ones stand for history from before).

        The cases are opened by ``open_case_in`` itself, one by one in record order, with
        what it reads loaded for the whole chunk in a few queries instead of five per case
        (a few thousand cases at 100k).
        """
        failed = [rec for rec in records if rec["result"] == "fail"]
        if not failed:
            return
        concerned = {rec["instrument_id"] for rec in failed}
        loaded = self.uow.calibrations.by_ids(
            [rec["id"] for rec in records if rec["instrument_id"] in concerned]
        )
        histories: defaultdict[int, list[CalibrationRecord]] = defaultdict(list)
        for record in loaded.values():
            histories[record.instrument_id].append(record)
        tags = [inst["asset_tag_key"] for inst in instruments if inst["id"] in concerned]
        by_id = {i.id: i for i in self.uow.instruments.get_many_by_tags(tags).values()}
        for rec in failed:
            iid = rec["instrument_id"]
            open_case_in(
                self.uow,
                audit,
                self.identity,
                loaded[rec["id"]],
                by_id[iid],
                history=histories[iid],
            )
            self.counts["oot_cases"] += 1

    def _instrument(
        self,
    ) -> tuple[dict[str, Any], list[tuple[dict[str, Any], list[dict[str, Any]], list[int]]]]:
        rng = self.rng
        iid = self.next_instrument
        self.next_instrument += 1
        cat = rng.choice(CATEGORIES)
        refs = self.references[cat.prefix]
        is_reference = not refs or rng.random() < 0.02
        maker, models = rng.choice(cat.makers)
        interval = cat.interval
        # Where in its cycle the instrument is today decides ok / due soon / overdue.
        roll = rng.random()
        if roll < 0.08:
            since_last = interval + rng.randint(1, 120)  # overdue
        elif roll < 0.18:
            since_last = interval - rng.randint(0, 29)  # due within 30 days
        else:
            since_last = rng.randint(0, max(1, interval - 31))
        last = self.today - timedelta(days=since_last)
        history = rng.choice((3, 4, 5, 5, 5, 6, 7))
        dates = [
            last - timedelta(days=interval * k + rng.randint(-10, 10))
            for k in range(history - 1, 0, -1)
        ] + [last]
        fail_last = rng.random() < 0.03
        status = "in_service"
        fate = rng.random()
        if fail_last:
            status = "out_of_service"
        elif fate < 0.02:
            status = "retired"
        elif fate < 0.025:
            status = "lost"
        elif fate < 0.04:
            status = "out_of_service"
        records = []
        fixed = self.fixed[cat.prefix]
        for k, performed in enumerate(dates):
            is_last = k == len(dates) - 1
            result = (
                "fail" if is_last and fail_last else ("adjusted" if rng.random() < 0.08 else "pass")
            )
            records.append(self._record(iid, cat, performed, result, is_reference))
        inst = {
            "id": iid,
            "asset_tag": f"{cat.prefix}-{iid:06d}",
            "asset_tag_key": f"{cat.prefix}-{iid:06d}",
            "description": cat.reference if is_reference else cat.name,
            "manufacturer": maker,
            "model": rng.choice(models),
            "serial_number": f"{maker[:2].upper()}{rng.randint(100000, 999999)}",
            "firmware_version": rng.choice(("", "1.2.0", "2.0.4", "3.1")),
            "category": cat.name,
            "location": "Metrology room" if is_reference else rng.choice(LOCATIONS),
            "owner": "Metrology" if is_reference else rng.choice(OWNERS),
            "status": status,
            "calibration_interval_days": interval,
            "grace_days": 0,
            "range_text": fixed.range_text,
            "resolution_text": fixed.resolution_text,
            "accuracy_text": fixed.accuracy_text,
            "last_calibrated": last,
            "next_due": next_due_from(last, interval),
            "notes": "",
            "calibration_requirement": "periodic",
            "requirement_reason": "",
            "review_reason": "",
            "created_at": self.now,
            "created_by": self.user,
            "updated_at": self.now,
            "updated_by": self.user,
            "version": 1,
        }
        inst["search_text"] = search_text_of(inst)
        if status == "in_service" and not is_reference and inst["next_due"] > self.spare_after:
            self.spare.append(inst["asset_tag"])
        if is_reference and status == "in_service":
            refs.append(iid)
            days: set[int] = set()
            for rec, _pts, _stds in records:
                days.update(range(rec["performed_on"].toordinal(), rec["next_due"].toordinal() + 1))
            in_date = self.in_date[cat.prefix]
            for day in days:
                in_date[day].append(iid)
        return inst, records

    def _record(
        self,
        iid: int,
        cat: Category,
        performed: date,
        result: str,
        is_reference: bool,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[int]]:
        rng = self.rng
        rid = self.next_record
        self.next_record += 1
        external = is_reference or rng.random() < 0.15
        pts = []
        fixed = self.fixed[cat.prefix]
        tolerance, unit, point_id = cat.tolerance, cat.unit, self.next_point
        for seq, nominal in enumerate(fixed.nominals, start=1):
            if result == "pass":
                # rng.uniform(-0.8, 0.8) written out (a + (b - a) * random(), the very same
                # arithmetic): this runs for a million and a half readings.
                found = nominal + (PASS_LOW + PASS_SPAN * rng.random()) * tolerance
                as_found = as_left = round(found, 4)
            else:
                found = nominal + rng.choice((-1, 1)) * rng.uniform(1.1, 2.5) * tolerance
                as_found = round(found, 4)
                as_left = (
                    round(nominal + rng.uniform(-0.4, 0.4) * tolerance, 4)
                    if result == "adjusted"
                    else as_found
                )
            pts.append(
                {
                    "id": point_id,
                    "record_id": rid,
                    "seq": seq,
                    "nominal": nominal,
                    "as_found": as_found,
                    "as_left": as_left,
                    "tolerance": tolerance,
                    "unit": unit,
                }
            )
            point_id += 1
        self.next_point = point_id
        # Only a reference that was itself calibrated and in date on the day vouches for
        # a calibration (a real lab's rule, and CalTrack's: see CalibrationService).
        usable = None if is_reference else self.in_date[cat.prefix].get(performed.toordinal())
        stds = [rng.choice(usable)] if usable else []
        rec = {
            "id": rid,
            "instrument_id": iid,
            "performed_on": performed,
            "performed_by": rng.choice(PROVIDERS) if external else rng.choice(TECHNICIANS),
            "provider_kind": "external" if external else "in_house",
            "provider_name": rng.choice(PROVIDERS) if external else "",
            "certificate_number": f"C{performed.year}-{rid:07d}",
            "temperature_c": round(rng.uniform(19.0, 23.0), 1),
            "humidity_pct": round(rng.uniform(35.0, 55.0), 1),
            "result": result,
            "adjustment_made": result == "adjusted",
            "uncertainty": fixed.uncertainty,
            "next_due": next_due_from(performed, cat.interval),
            "notes": "",
            "standards_justification": "",
            "supersedes_id": None,
            # The demo lab judges by simple acceptance (the default rule), as stored.
            "decision_rule": "simple",
            "tur_justification": "",
            "voided_at": None,
            "voided_by": None,
            "void_reason": None,
            "created_at": self.now,
            "created_by": self.user,
            "updated_at": self.now,
            "updated_by": self.user,
            "version": 1,
        }
        return rec, pts, stds
