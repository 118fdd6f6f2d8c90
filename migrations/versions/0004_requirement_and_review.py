"""Calibration requirement (periodic, verify before use, not required) and the QA review flag.

A register holds instruments that are not calibrated periodically (kept for parts,
verified before each use, "CNR"), and history written over years that contradicts
itself. Both now have a column on the instrument: ``calibration_requirement`` with its
``requirement_reason``, and ``review_reason`` (empty: nothing to review).

Plain ADD COLUMN, not a batch copy: the instrument table is referenced by calibrations,
standards, attachments and cases, whose foreign keys a copy would break. The check on
the requirement rides on the column itself, which SQLite allows in ADD COLUMN.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECK = "calibration_requirement IN ('periodic', 'verify_before_use', 'not_required')"


def upgrade() -> None:
    op.add_column(
        "instrument",
        sa.Column(
            "calibration_requirement",
            sa.String(length=20),
            sa.CheckConstraint(_CHECK, name=op.f("ck_instrument_calibration_requirement")),
            server_default="periodic",
            nullable=False,
        ),
    )
    op.add_column(
        "instrument",
        sa.Column("requirement_reason", sa.Text(), server_default="", nullable=False),
    )
    op.add_column(
        "instrument",
        sa.Column("review_reason", sa.Text(), server_default="", nullable=False),
    )


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place, with the CHECK that belongs to it.
    op.drop_column("instrument", "review_reason")
    op.drop_column("instrument", "requirement_reason")
    op.drop_column("instrument", "calibration_requirement")
