"""Custody: who has an instrument (issue 15).

``custody`` holds each check-out of an instrument to a person (``holder``) and a place,
with the day it is expected back, QA's reason when the check-out rules were overridden,
and its check-in; voided with a reason, never deleted. ``open_instrument_id`` repeats
the instrument's id while the check-out is open and is NULL otherwise: unique, so an
instrument has one holder at most (NULLs never collide, on either backend), and the
register reads the holder with one indexed join.

A new table only: nothing existing is copied or changed, so an existing database
upgrades in place and ``db verify`` stays as clean as it was.

On a server a technician checks instruments out and in and voids a wrong entry: the
technician group (which QA and admin inherit) may insert and update the table and use
its id sequence; 0006's SELECT on every table covered only the tables of its day.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upgrade() -> None:
    op.create_table(
        "custody",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("place", sa.String(length=120), nullable=False),
        sa.Column("due_back", sa.Date(), nullable=True),
        sa.Column("override_reason", sa.Text(), nullable=False),
        sa.Column("out_at", sa.DateTime(), nullable=False),
        sa.Column("out_by", sa.String(length=128), nullable=False),
        sa.Column("in_at", sa.DateTime(), nullable=True),
        sa.Column("in_by", sa.String(length=128), nullable=True),
        sa.Column("open_instrument_id", sa.Integer(), nullable=True),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.Column("voided_by", sa.String(length=128), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "open_instrument_id IS NULL OR open_instrument_id = instrument_id",
            name=op.f("ck_custody_open_is_own"),
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"], ["instrument.id"], name=op.f("fk_custody_instrument_id_instrument")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody")),
        sa.UniqueConstraint("open_instrument_id", name=op.f("uq_custody_open_instrument_id")),
    )
    op.create_index(op.f("ix_custody_instrument_id"), "custody", ["instrument_id"])
    _grant()


def _grant() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # a shared file enforces nothing; CalTrack checks roles itself there
    tech = _q(str(bind.execute(text("SELECT caltrack_group('technician')")).scalar_one()))
    op.execute(f"GRANT SELECT, INSERT, UPDATE ON custody TO {tech}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE custody_id_seq TO {tech}")


def downgrade() -> None:
    op.drop_index(op.f("ix_custody_instrument_id"), table_name="custody")
    op.drop_table("custody")
