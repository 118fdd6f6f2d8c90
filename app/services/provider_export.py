"""The export's sheets of providers and send-outs (issue 15).

An export (``TransferService.export``) carries them as two more sheets (XLSX) or files
(CSV) when the lab has any: one row per provider, and one row per instrument sent out
(its batch's provider, dates, PO number and cost on every row, the cost once per batch
in its first row so that a sum of the column is the lab's spend).
"""

from __future__ import annotations

from app.repositories.unit_of_work import UnitOfWork
from app.services.provider_views import APPROVAL_LABELS
from app.services.transfer_mapping import exported_columns
from app.storage.tables import Cell

PROVIDER_HEADER = (
    "Provider",
    "Approval",
    "Review date",
    "Accreditation body",
    "Accreditation number",
    "Scope",
    "Contact",
    "Retired",
    "Retire reason",
)
# One catalogue for both directions (transfer_mapping): what is written is read back.
SENDOUT_HEADER = tuple(c.label for c in exported_columns("sendouts"))
SHEETS = {"providers": "Providers", "sendouts": "Send-outs"}


def provider_rows(uow: UnitOfWork) -> list[tuple[Cell, ...]]:
    return [
        (
            p.name,
            APPROVAL_LABELS.get(p.approval, p.approval),
            p.review_date,
            p.accreditation_body,
            p.accreditation_number,
            p.scope,
            p.contact,
            p.retired_at,
            p.retire_reason or "",
        )
        for p in uow.providers.list_all()
    ]


def sendout_rows(uow: UnitOfWork) -> list[tuple[Cell, ...]]:
    batches = sorted(uow.sendouts.find(), key=lambda b: b.id)
    names = {p.id: p.name for p in uow.providers.list_all()}
    tags = uow.instruments.tags_by_id(sorted({i.instrument_id for b in batches for i in b.items}))
    rows: list[tuple[Cell, ...]] = []
    for b in batches:
        for item in b.items:
            rows.append(
                (
                    f"SO-{b.id}",
                    names.get(b.provider_id, ""),
                    b.sent_on,
                    b.expected_return,
                    b.po_number,
                    b.cost if item.seq == 1 else None,
                    b.approval_reason,
                    tags.get(item.instrument_id, ""),
                    item.received_on,
                    item.record_id,
                    item.provider_result,
                    item.lab_result,
                )
            )
    return rows
