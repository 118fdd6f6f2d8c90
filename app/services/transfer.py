"""Import and export of instruments and calibration history (CSV and XLSX)."""

from __future__ import annotations

from app.clock import Clock
from app.identity import Identity
from app.repositories.unit_of_work import UnitOfWorkFactory
from app.services.calibrations import CalibrationService
from app.services.instruments import InstrumentService


class TransferService:
    """Reads messy files into a dry-run preview, then commits all rows or none."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        identity: Identity,
        clock: Clock,
        instruments: InstrumentService,
        calibrations: CalibrationService,
    ) -> None:
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._instruments = instruments
        self._calibrations = calibrations
