"""Standards feed the uncertainty (issue 14): an uncertainty stated on a standard.

``instrument`` gets ``stated_uncertainty`` (an expanded uncertainty U),
``stated_coverage_factor`` (its k) and ``stated_uncertainty_unit``: what a standard's
maker or its certificate states for it as a whole. ``app.services.standard_uncertainty``
offers it as a calibration's starting U when the standard's own latest valid
calibration has no point near the nominal. NULL (the unit "") on every existing
instrument: none states a value, and nothing is offered from one.

Plain ADD COLUMN, as 0011: calibrations, standards, attachments and cases refer to
``instrument``, and a batch copy would break their foreign keys. On a server, 0006's
table-level grants on ``instrument`` (INSERT and UPDATE for the technician group) cover
the new columns; nothing is granted here.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("instrument", sa.Column("stated_uncertainty", sa.Float(), nullable=True))
    op.add_column("instrument", sa.Column("stated_coverage_factor", sa.Float(), nullable=True))
    op.add_column(
        "instrument",
        sa.Column(
            "stated_uncertainty_unit", sa.String(length=32), server_default="", nullable=False
        ),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place once no index names it.
    op.drop_column("instrument", "stated_uncertainty_unit")
    op.drop_column("instrument", "stated_coverage_factor")
    op.drop_column("instrument", "stated_uncertainty")
