"""What the provider register and send-out batches hand out: plain frozen values.

Inputs (``ProviderInput``, ``ProviderChanges``) carry what a person typed; views carry
what is stored, for the window, the command line and the export.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from app.vocabulary import Approval

APPROVAL_LABELS: dict[str, str] = {
    "approved": "Approved",
    "conditionally_approved": "Conditionally approved",
    "not_approved": "Not approved",
}


@dataclass(frozen=True)
class ProviderInput:
    """A new provider as typed; ``approval`` one of ``app.vocabulary.APPROVALS``."""

    name: str
    contact: str = ""
    accreditation_body: str = ""
    accreditation_number: str = ""
    scope: str = ""
    approval: str = "approved"
    review_date: str | date | None = None


@dataclass(frozen=True)
class ProviderChanges:
    """An edit of a provider: only what is given (not None) changes ("" empties it)."""

    name: str | None = None
    contact: str | None = None
    accreditation_body: str | None = None
    accreditation_number: str | None = None
    scope: str | None = None
    approval: str | None = None
    review_date: str | date | None = None

    def given(self) -> dict[str, Any]:
        """The fields to change, by name."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class ProviderView:
    """A provider as stored."""

    id: int
    name: str
    contact: str
    accreditation_body: str
    accreditation_number: str
    scope: str
    approval: Approval
    review_date: date | None
    retired: bool
    retire_reason: str
    updated_at: datetime
    updated_by: str
    version: int

    @property
    def approval_label(self) -> str:
        return APPROVAL_LABELS[self.approval]

    def review_overdue(self, today: date) -> bool:
        """Whether the provider's periodic review date has passed."""
        return self.review_date is not None and self.review_date < today

    def review_warning(self, today: date) -> str:
        """What the register, the CLI and a send-out say of a review date passed ("")."""
        return review_warning(self.name, self.review_date, today)


def review_warning(name: str, review_date: date | None, today: date) -> str:
    """ "The review of Trescal was due on 2026-11-08: ..." when the date has passed."""
    if review_date is None or review_date >= today:
        return ""
    return (
        f"the review of {name} was due on {review_date}: QA should review the provider "
        "(ISO/IEC 17025 6.6.2) and set its next review date"
    )


@dataclass(frozen=True)
class SendoutItemView:
    """One instrument of a batch: back or not, and the receiving compare."""

    seq: int
    asset_tag: str
    description: str
    received_on: date | None
    record_id: int | None
    provider_result: str  # what the provider's certificate says ("" until recorded)
    lab_result: str  # what the lab's own limits make of its readings ("" until recorded)

    @property
    def disagrees(self) -> bool:
        """The provider's verdict and the lab's differ (a "pass" the lab's limits fail)."""
        return bool(self.provider_result and self.lab_result) and (
            self.provider_result != self.lab_result
        )

    @property
    def compare_text(self) -> str:
        """The compare in plain words, as the window and the command line show it."""
        if not self.provider_result:
            return "back, no certificate recorded yet" if self.received_on else "out"
        if not self.lab_result:
            return f"provider: {self.provider_result}; no readings to compare"
        said = f"provider: {self.provider_result}; lab's limits: {self.lab_result}"
        if self.disagrees:
            return f"DIFFERS — {said}"
        return f"agrees ({self.lab_result})"


@dataclass(frozen=True)
class SendoutView:
    """A send-out batch with its instruments."""

    id: int
    provider: str
    provider_approval: Approval
    sent_on: date
    po_number: str
    expected_return: date | None
    cost: float | None
    approval_reason: str
    notes: str
    items: tuple[SendoutItemView, ...]
    created_by: str
    version: int
    provider_review_date: date | None = None

    @property
    def label(self) -> str:
        return f"SO-{self.id}"

    @property
    def outstanding(self) -> int:
        return sum(1 for i in self.items if i.received_on is None)

    @property
    def state(self) -> str:
        """ "out", "partly back" or "back"."""
        if self.outstanding == len(self.items):
            return "out"
        return "partly back" if self.outstanding else "back"


@dataclass(frozen=True)
class ReceiptCompare:
    """What receiving one instrument's certificate found.

    ``problems`` names each reading the lab's limits judge otherwise than the provider
    ("point 2: as left 20.7 is outside 19.5 … 20.5"); empty when both agree.
    """

    asset_tag: str
    record_id: int
    provider_result: str
    lab_result: str
    rule: str
    problems: tuple[str, ...]
    oot_case_id: int | None
    judged: bool = True  # False: the certificate gave no readings to judge

    @property
    def disagrees(self) -> bool:
        return self.provider_result != self.lab_result

    @property
    def sentence(self) -> str:
        """One plain line: agreed, or what the lab's limits caught."""
        if not self.judged:
            return (
                f"{self.asset_tag}: the certificate states {self.provider_result} and gives no "
                "readings, so the lab's limits could not check it; calibration "
                f"#{self.record_id} recorded as {self.provider_result}"
            )
        if not self.disagrees:
            return (
                f"{self.asset_tag}: the provider's {self.provider_result} agrees with the lab's "
                f"limits ({self.rule}); calibration #{self.record_id} recorded"
            )
        case = f"; OOT-{self.oot_case_id} opened" if self.oot_case_id is not None else ""
        return (
            f"{self.asset_tag}: the provider reported {self.provider_result.upper()} but the "
            f"lab's limits ({self.rule}) say {self.lab_result.upper()}: "
            f"{'; '.join(self.problems) or 'see the readings'} — calibration "
            f"#{self.record_id} recorded as {self.lab_result}{case}"
        )


@dataclass(frozen=True)
class ProviderTurnaround:
    """One provider's line of the turnaround and cost report."""

    provider: str
    approval: Approval
    batches: int
    instruments: int
    returned: int
    outstanding: int
    mean_days: float | None  # sent → received, over the instruments back
    longest_days: int | None
    late: int  # instruments back after, or still out past, their expected return
    total_cost: float
    disagreements: int  # certificates whose verdict the lab's limits contradicted
