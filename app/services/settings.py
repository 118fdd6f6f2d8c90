"""Settings shared by everyone using one database (kept in its meta table)."""

from __future__ import annotations

from app.repositories.unit_of_work import UnitOfWork
from app.services.due import DEFAULT_DUE_SOON_DAYS

DUE_SOON_KEY = "due_soon_days"


def due_soon_days(uow: UnitOfWork) -> int:
    raw = uow.meta.get(DUE_SOON_KEY)
    try:
        days = int(raw) if raw is not None else DEFAULT_DUE_SOON_DAYS
    except ValueError:
        return DEFAULT_DUE_SOON_DAYS
    return days if 0 <= days <= 365 else DEFAULT_DUE_SOON_DAYS
