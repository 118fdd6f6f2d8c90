"""The OOT impact, computed (issue 14): what a failed standard's error would change.

``oot_case`` gets ``impact_snapshot``, the impact list (``app.services.oot_impact``) as QA
saw it, frozen when the case closes like ``affected_snapshot`` (empty before then, and
on every case closed before this revision), and ``origin_case_id``, the case whose
impact list a follow-up case was opened from (NULL on every other case).

Plain ADD COLUMN, as 0011: calibrations' signatures and cases refer to ``oot_case``,
and a batch copy would break their foreign keys. For the same reason ``origin_case_id``
has no foreign key (SQLite cannot drop a column one names): the service sets it only
to a case it has just read, and ``db verify`` replays it from the audit trail. On a
server, 0006's table-level grants on ``oot_case`` cover both columns.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "oot_case",
        sa.Column("impact_snapshot", sa.Text(), server_default="", nullable=False),
    )
    op.add_column("oot_case", sa.Column("origin_case_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place once no index names it.
    op.drop_column("oot_case", "origin_case_id")
    op.drop_column("oot_case", "impact_snapshot")
