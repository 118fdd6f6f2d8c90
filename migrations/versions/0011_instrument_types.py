"""Instrument types: a register of test plans, and a type and custom fields per instrument.

Issue 14. ``instrument_type`` holds a kind of instrument (name unique after the same
folding as asset tags, ``name_key``), its default interval, decision rule (NULL: the lab
default), procedure reference, the range and resolution its tolerances need and the
standard categories a calibration of it needs; ``type_point`` its test points (the
tolerance as written) and ``type_field`` its custom fields. Each instrument gets an
optional ``type_id`` and ``custom_fields`` (canonical JSON, values by field name).

Plain ADD COLUMN on ``instrument``, not a batch copy: calibrations, standards,
attachments and cases refer to it, and a copy would break their foreign keys. For the
same reason ``type_id`` has no foreign key (SQLite cannot drop a column one names): the
service checks it, and ``db verify`` replays it from the audit trail.

On a server, the types are lab-wide reference data kept by QA (``app.services.types``):
the QA group may insert and update the three tables and replace a type's points and
fields (DELETE on those two); the technician group reads them (0006's SELECT on every
table covered only the tables of its day). The new instrument columns are covered by
0006's table-level grants.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TYPE_TABLES = ("instrument_type", "type_point", "type_field")
# A type's points and fields are replaced whole when it is edited (as a record's readings).
REPLACED_TABLES = ("type_point", "type_field")


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
        "instrument_type",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("name_key", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("default_interval_days", sa.Integer(), nullable=True),
        sa.Column("decision_rule", sa.String(length=120), nullable=True),
        sa.Column("procedure_id", sa.String(length=120), nullable=False),
        sa.Column("procedure_revision", sa.String(length=120), nullable=False),
        sa.Column("range_low", sa.String(length=40), nullable=False),
        sa.Column("range_high", sa.String(length=40), nullable=False),
        sa.Column("resolution", sa.String(length=40), nullable=False),
        sa.Column("standard_categories", sa.Text(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "default_interval_days IS NULL OR default_interval_days > 0",
            name=op.f("ck_instrument_type_interval_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instrument_type")),
        sa.UniqueConstraint("name_key", name=op.f("uq_instrument_type_name_key")),
    )
    op.create_table(
        "type_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("nominal", sa.Float(), nullable=False),
        sa.Column("tolerance", sa.String(length=120), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["instrument_type.id"],
            name=op.f("fk_type_point_type_id_instrument_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_type_point")),
    )
    op.create_index(op.f("ix_type_point_type_id"), "type_point", ["type_id"])
    op.create_table(
        "type_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("choices", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('text', 'number', 'date', 'choice')", name=op.f("ck_type_field_kind")
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["instrument_type.id"],
            name=op.f("fk_type_field_type_id_instrument_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_type_field")),
    )
    op.create_index(op.f("ix_type_field_type_id"), "type_field", ["type_id"])
    op.add_column("instrument", sa.Column("type_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_instrument_type_id"), "instrument", ["type_id"])
    op.add_column(
        "instrument",
        sa.Column("custom_fields", sa.Text(), server_default="{}", nullable=False),
    )
    _grant()


def _grant() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # a shared file enforces nothing; CalTrack checks roles itself there
    tech, qa = (
        _q(str(bind.execute(text("SELECT caltrack_group(:r)"), {"r": role}).scalar_one()))
        for role in ("technician", "qa")
    )
    for table in TYPE_TABLES:
        op.execute(f"GRANT SELECT ON {_q(table)} TO {tech}")
        op.execute(f"GRANT INSERT, UPDATE ON {_q(table)} TO {qa}")
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {_q(table + '_id_seq')} TO {qa}")
    for table in REPLACED_TABLES:
        op.execute(f"GRANT DELETE ON {_q(table)} TO {qa}")


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place once no index names it.
    op.drop_column("instrument", "custom_fields")
    op.drop_index(op.f("ix_instrument_type_id"), table_name="instrument")
    op.drop_column("instrument", "type_id")
    op.drop_index(op.f("ix_type_field_type_id"), table_name="type_field")
    op.drop_table("type_field")
    op.drop_index(op.f("ix_type_point_type_id"), table_name="type_point")
    op.drop_table("type_point")
    op.drop_table("instrument_type")
