"""Several schedules per instrument and intermediate checks (issue 15).

``instrument_schedule`` holds an instrument's schedules besides its calibration: an
intermediate check and maintenance, each with its own interval (days or months), due
date, due-soon window, grace and "before next use" mode. The calibration schedule is
not copied: it stays in the instrument's own columns (interval, grace, next due) and
is shown as the first schedule, so every existing database keeps it unchanged and
nothing that reads those columns changes. ``intermediate_check`` holds the checks.

New tables only: no existing table is copied or altered. On a server a technician
records checks and sets schedules (INSERT, UPDATE; never DELETE: schedules are
cleared and checks voided), as with calibrations in 0006.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0018"
# After 0017 (providers and send-outs), which it does not touch.
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("instrument_schedule", "intermediate_check")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "instrument_schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("interval_count", sa.Integer(), nullable=True),
        sa.Column("interval_unit", sa.String(length=1), nullable=True),
        sa.Column("soon_days", sa.Integer(), nullable=True),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("before_use", sa.Boolean(), nullable=False),
        sa.Column("due_before_use", sa.Boolean(), nullable=False),
        sa.Column("last_done", sa.Date(), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "kind IN ('check', 'maintenance')", name=op.f("ck_instrument_schedule_kind")
        ),
        sa.CheckConstraint(
            "(interval_count IS NULL AND interval_unit IS NULL) OR "
            "(interval_count > 0 AND interval_unit IN ('d', 'm'))",
            name=op.f("ck_instrument_schedule_interval"),
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instrument.id"],
            name=op.f("fk_instrument_schedule_instrument_id_instrument"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_schedule")),
    )
    op.create_index(
        op.f("ix_instrument_schedule_instrument_id"), "instrument_schedule", ["instrument_id"]
    )
    op.create_index(op.f("ix_instrument_schedule_next_due"), "instrument_schedule", ["next_due"])
    op.create_index(
        "uq_instrument_schedule_instrument_kind",
        "instrument_schedule",
        ["instrument_id", "kind"],
        unique=True,
    )
    op.create_table(
        "intermediate_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("performed_by", sa.String(length=120), nullable=False),
        sa.Column("standard_id", sa.Integer(), nullable=True),
        sa.Column("standard_text", sa.String(length=120), nullable=False),
        sa.Column("readings", sa.Text(), nullable=False),
        sa.Column("result", sa.String(length=10), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.Column("voided_by", sa.String(length=128), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        *_stamps(),
        sa.CheckConstraint("result IN ('pass', 'fail')", name=op.f("ck_intermediate_check_result")),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instrument.id"],
            name=op.f("fk_intermediate_check_instrument_id_instrument"),
        ),
        sa.ForeignKeyConstraint(
            ["standard_id"],
            ["instrument.id"],
            name=op.f("fk_intermediate_check_standard_id_instrument"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intermediate_check")),
    )
    op.create_index(
        op.f("ix_intermediate_check_instrument_id"), "intermediate_check", ["instrument_id"]
    )
    _grant()


def _grant() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # a shared file enforces nothing; CalTrack checks roles itself there
    tech = _q(
        str(bind.execute(text("SELECT caltrack_group(:r)"), {"r": "technician"}).scalar_one())
    )
    for table in TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON {_q(table)} TO {tech}")
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {_q(table + '_id_seq')} TO {tech}")


def downgrade() -> None:
    op.drop_index(op.f("ix_intermediate_check_instrument_id"), table_name="intermediate_check")
    op.drop_table("intermediate_check")
    op.drop_index("uq_instrument_schedule_instrument_kind", table_name="instrument_schedule")
    op.drop_index(op.f("ix_instrument_schedule_next_due"), table_name="instrument_schedule")
    op.drop_index(op.f("ix_instrument_schedule_instrument_id"), table_name="instrument_schedule")
    op.drop_table("instrument_schedule")
