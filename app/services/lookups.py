"""Lookups shared by the use cases: find a record by what the user typed or fail clearly."""

from __future__ import annotations

from app.db.models import Instrument
from app.errors import NotFoundError
from app.repositories.unit_of_work import UnitOfWork


def require_instrument(uow: UnitOfWork, tag: str) -> Instrument:
    instrument = uow.instruments.get_by_tag(tag)
    if instrument is None:
        raise NotFoundError(
            f"no instrument with asset tag {tag!r}; `instruments list --search` finds it"
        )
    return instrument
