"""Importing issue 15's send-out batches: the rows of one batch through
``sendouts.import_batch_in`` together.

An export writes one row per instrument sent, the batch's fields on every row (its
cost on its first). The rows of one Batch value are one batch (without a Batch column,
the rows of one provider, day sent and PO number); they must agree on the batch's
fields. A batch already here (same provider, day sent and instruments:
``sendouts.batch_key``) is "unchanged". A batch with an error on any of its rows is
not imported, and each of its rows says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError, PendingRollbackError

from app.db.models import Instrument
from app.errors import NotAllowedError, NotFoundError, ValidationError
from app.identity import Identity
from app.plain_text import tag_key
from app.repositories.unit_of_work import UnitOfWork
from app.services.audit import AuditChainWriter
from app.services.sendouts import ImportedBatch, batch_key, import_batch_in
from app.services.transfer_model import PreviewRow, RowIssue
from app.services.transfer_rows import PlannedRow

# The batch fields (``PlannedRow.batch_fields``) by position, for the row's issue.
_BATCH_FIELDS = ("provider_name", "sent_on", "expected_return", "po_number", "approval_reason")


def batches_of(rows: Sequence[PlannedRow]) -> list[list[PlannedRow]]:
    """The rows grouped by batch (``duplicate_key[0]``), in the order the batches were
    sent (then file order)."""
    groups: dict[Any, list[PlannedRow]] = {}
    for row in rows:
        groups.setdefault(row.duplicate_key[0] if row.duplicate_key else row.line, []).append(row)
    return sorted(groups.values(), key=lambda g: (g[0].performed_on or date.max, g[0].line))


@dataclass
class SendoutRows:
    """Applies send-out rows, a batch at a time, in one import's transaction."""

    uow: UnitOfWork
    audit: AuditChainWriter
    identity: Identity
    today: date
    header_of: Callable[[str], str | None]
    # The batches already here (``recorded_batches``), read once per import.
    recorded: Mapping[tuple[object, ...], str]

    def batch(
        self, rows: Sequence[PlannedRow], instruments: Mapping[str, Instrument], reason: str
    ) -> tuple[dict[int, PreviewRow], bool]:
        """The batch's rows' outcome, and False once the transaction is spoiled."""
        first = rows[0]
        issues = {r.line: list(r.issues) for r in rows}
        found: list[Instrument] = []
        for row in rows:
            instrument = instruments.get(tag_key(row.tag))
            if instrument is None and row.tag and not row.issues:
                issues[row.line].append(
                    self._issue(
                        row,
                        "asset_tag",
                        f"no instrument {row.tag!r} in the database; import the instruments "
                        "first or correct the tag",
                    )
                )
            elif instrument is not None:
                found.append(instrument)
            if row is first:
                continue
            for n, name in enumerate(_BATCH_FIELDS):
                if row.batch_fields[n] != first.batch_fields[n]:
                    issues[row.line].append(
                        self._issue(
                            row, name, f"differs from its batch's first row (line {first.line})"
                        )
                    )
        costs = [r.cost for r in rows if r.cost is not None]
        if len(set(costs)) > 1:
            for row in rows[1:]:
                if row.cost is not None and row.cost != costs[0]:
                    issues[row.line].append(
                        self._issue(row, "cost", "a batch has one cost; give it on one row")
                    )
        if any(issues.values()):
            return self._failed(rows, issues), True
        provider = self.uow.providers.get_by_name(str(first.values.get("provider", "")))
        if provider is not None:
            key = batch_key(provider.id, first.batch_fields[1], [i.id for i in found])
            known = self.recorded.get(key)
            if known is not None:
                return {
                    r.line: PreviewRow(r.line, "unchanged", r.tag, f"already recorded as {known}")
                    for r in rows
                }, True
        entry = ImportedBatch(
            provider=str(first.values.get("provider", "")),
            sent_on=first.batch_fields[1],
            items=tuple(zip(found, (r.received_on for r in rows), strict=True)),
            po_number=first.batch_fields[3],
            expected_return=first.batch_fields[2],
            cost=costs[0] if costs else None,
            approval_reason=first.batch_fields[4],
        )
        try:
            import_batch_in(self.uow, self.audit, self.identity, self.today, entry, reason)
        except ValidationError as exc:
            issues[first.line] = [self._issue(first, k, v) for k, v in exc.fields.items()]
            return self._failed(rows, issues), True
        except (NotFoundError, NotAllowedError) as exc:
            issues[first.line] = [RowIssue(first.line, None, None, str(exc))]
            return self._failed(rows, issues), True
        except (IntegrityError, PendingRollbackError) as exc:
            issues[first.line] = [
                RowIssue(first.line, None, None, f"the database refused the batch ({exc})")
            ]
            return self._failed(rows, issues), False
        return {r.line: PreviewRow(r.line, "add", r.tag, r.summary) for r in rows}, True

    def _issue(self, row: PlannedRow, name: str, message: str) -> RowIssue:
        return RowIssue(row.line, self.header_of(name), name, message)

    @staticmethod
    def _failed(
        rows: Sequence[PlannedRow], issues: Mapping[int, list[RowIssue]]
    ) -> dict[int, PreviewRow]:
        """Every row of a batch that is not imported: its own issues, or its batch's."""
        wrong = min(line for line, found in issues.items() if found)
        outcome: dict[int, PreviewRow] = {}
        for row in rows:
            own = tuple(issues[row.line]) or (
                RowIssue(
                    row.line,
                    None,
                    None,
                    f"its batch is not imported: line {wrong} of the batch has an error",
                ),
            )
            outcome[row.line] = PreviewRow(row.line, "error", row.tag, row.summary, own)
        return outcome
