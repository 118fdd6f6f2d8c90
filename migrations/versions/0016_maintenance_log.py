"""The maintenance, damage and repair log (issue 15).

``maintenance_event`` holds what was done to or found on an instrument between
calibrations: its kind, date, who logged it, what was done, cost (exact decimal text)
and currency, downtime in hours, notes, and whether it must be calibrated before use
again, with what that forced (the next due before it, whether it took the instrument
out of service) and the calibration that satisfied it. Never deleted: voided with a
reason, like calibrations. A new table: existing tables are not touched, and
``db verify`` replays the new rows from the audit trail like the others.

On a server, technicians log and void events: the technician group (and so QA and
admin, its members) may select, insert and update the table and use its sequence.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0016"
# After 0015 (custody), which it does not touch.
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "maintenance_event"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("performed_on", sa.Date(), nullable=False),
        sa.Column("performed_by", sa.String(length=128), nullable=False),
        sa.Column("what_done", sa.Text(), nullable=False),
        sa.Column("cost", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("downtime_hours", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("calibrate_before_use", sa.Boolean(), nullable=False),
        sa.Column("due_before", sa.Date(), nullable=True),
        sa.Column("took_out_of_service", sa.Boolean(), nullable=False),
        sa.Column("released_by_record_id", sa.Integer(), nullable=True),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.Column("voided_by", sa.String(length=128), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('maintenance', 'cleaning', 'damage_found', 'malfunction', 'repair', "
            "'modification', 'firmware_update')",
            name=op.f("ck_maintenance_event_kind"),
        ),
        sa.CheckConstraint(
            "downtime_hours IS NULL OR downtime_hours >= 0",
            name=op.f("ck_maintenance_event_downtime"),
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instrument.id"],
            name=op.f("fk_maintenance_event_instrument_id_instrument"),
        ),
        sa.ForeignKeyConstraint(
            ["released_by_record_id"],
            ["calibration_record.id"],
            name=op.f("fk_maintenance_event_released_by_record_id_calibration_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_event")),
    )
    op.create_index(op.f("ix_maintenance_event_instrument_id"), TABLE, ["instrument_id"])
    op.create_index(
        op.f("ix_maintenance_event_released_by_record_id"), TABLE, ["released_by_record_id"]
    )
    op.create_index(
        "ix_maintenance_event_instrument_performed", TABLE, ["instrument_id", "performed_on"]
    )
    _grant()


def _grant() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # a shared file enforces nothing; CalTrack checks roles itself there
    tech = _q(
        str(bind.execute(text("SELECT caltrack_group(:r)"), {"r": "technician"}).scalar_one())
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON {_q(TABLE)} TO {tech}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {_q(TABLE + '_id_seq')} TO {tech}")


def downgrade() -> None:
    op.drop_index("ix_maintenance_event_instrument_performed", table_name=TABLE)
    op.drop_index(op.f("ix_maintenance_event_released_by_record_id"), table_name=TABLE)
    op.drop_index(op.f("ix_maintenance_event_instrument_id"), table_name=TABLE)
    op.drop_table(TABLE)
