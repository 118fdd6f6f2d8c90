"""Instrument types give default schedules (issue 15): check and maintenance.

``instrument_type`` gets, for each of the two schedule kinds besides calibration
(``check``, ``maintenance``), the four values a schedule has: ``<kind>_every`` (the
interval as ``schedules.parse_interval`` writes it, "30d" or "6m"; "" none),
``<kind>_soon_days`` (NULL: the lab's due-soon window), ``<kind>_grace_days`` and
``<kind>_before_use``. A type has a default of a kind when it has an interval or is
before use. Every existing type gets none: "", NULL, 0, false.

Columns, not a table of their own: the kinds are two and fixed (a check constraint of
0018 names them), each type has at most one default of each, and the defaults are
edited with the rest of the type. As columns they share the type's ``version`` (an
edit of a default is caught as a conflict like any other edit of the type), its
audited snapshot (``snapshots.TYPE_AUDITED``) and so ``db verify``'s replay, with no
second entity to keep in step.

Plain ADD COLUMN, as 0013: instruments, points and fields refer to ``instrument_type``,
and a batch copy would break their foreign keys. On a server, 0011's table-level grants
on ``instrument_type`` (INSERT and UPDATE for the QA group, SELECT for technicians)
cover the new columns; nothing is granted here.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 00:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
# After 0019 (a failing check opens a case), itself after 0018 (schedules).
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("check", "maintenance")


def upgrade() -> None:
    for kind in KINDS:
        op.add_column(
            "instrument_type",
            sa.Column(f"{kind}_every", sa.String(length=12), server_default="", nullable=False),
        )
        op.add_column("instrument_type", sa.Column(f"{kind}_soon_days", sa.Integer()))
        op.add_column(
            "instrument_type",
            sa.Column(f"{kind}_grace_days", sa.Integer(), server_default="0", nullable=False),
        )
        op.add_column(
            "instrument_type",
            sa.Column(
                f"{kind}_before_use", sa.Boolean(), server_default=sa.false(), nullable=False
            ),
        )


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place once no index names it.
    for kind in reversed(KINDS):
        for column in ("before_use", "grace_days", "soon_days", "every"):
            op.drop_column("instrument_type", f"{kind}_{column}")
