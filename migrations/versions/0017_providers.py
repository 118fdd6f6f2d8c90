"""External calibration providers and send-out batches (issue 15, ISO/IEC 17025 6.6).

``provider`` is the lab's register of external calibration providers: name (unique
after the same folding as asset tags, ``name_key``), contact, accreditation body and
number, scope, approval (approved, conditionally approved, not approved) and review
date; retired with a reason, never deleted. ``sendout_batch`` records instruments sent
together to one provider (sent on, PO number, expected return, cost, and the reason when
the provider was not approved); ``sendout_item`` each instrument of it, when it came
back, the calibration recorded from the provider's certificate, and what the provider
reported against what the lab's own limits make of it.

New tables only: no existing row changes, so an upgraded database verifies as before.

On a server, providers are QA's to keep (as instrument types, 0011): the QA group may
insert and update ``provider``; the technician group reads it, and records send-outs and
their receipt (insert and update on the two batch tables). Nothing is ever deleted.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0017"
# After 0016 (the maintenance log), which it does not touch.
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RESULT_CHECK = "IN ('', 'pass', 'fail', 'adjusted')"


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
        "provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("name_key", sa.String(length=120), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("accreditation_body", sa.String(length=120), nullable=False),
        sa.Column("accreditation_number", sa.String(length=120), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("approval", sa.String(length=30), nullable=False),
        sa.Column("review_date", sa.Date(), nullable=True),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.Column("retired_by", sa.String(length=128), nullable=True),
        sa.Column("retire_reason", sa.Text(), nullable=True),
        *_stamps(),
        sa.CheckConstraint(
            "approval IN ('approved', 'conditionally_approved', 'not_approved')",
            name=op.f("ck_provider_approval"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider")),
        sa.UniqueConstraint("name_key", name=op.f("uq_provider_name_key")),
    )
    op.create_table(
        "sendout_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("sent_on", sa.Date(), nullable=False),
        sa.Column("po_number", sa.String(length=120), nullable=False),
        sa.Column("expected_return", sa.Date(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("approval_reason", sa.Text(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        *_stamps(),
        sa.CheckConstraint(
            "cost IS NULL OR cost >= 0", name=op.f("ck_sendout_batch_cost_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["provider.id"], name=op.f("fk_sendout_batch_provider_id_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sendout_batch")),
    )
    op.create_index(op.f("ix_sendout_batch_provider_id"), "sendout_batch", ["provider_id"])
    op.create_table(
        "sendout_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=True),
        sa.Column("record_id", sa.Integer(), nullable=True),
        sa.Column("provider_result", sa.String(length=20), nullable=False),
        sa.Column("lab_result", sa.String(length=20), nullable=False),
        sa.CheckConstraint(
            f"provider_result {RESULT_CHECK}", name=op.f("ck_sendout_item_provider_result")
        ),
        sa.CheckConstraint(f"lab_result {RESULT_CHECK}", name=op.f("ck_sendout_item_lab_result")),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["sendout_batch.id"], name=op.f("fk_sendout_item_batch_id_sendout_batch")
        ),
        sa.ForeignKeyConstraint(
            ["instrument_id"],
            ["instrument.id"],
            name=op.f("fk_sendout_item_instrument_id_instrument"),
        ),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["calibration_record.id"],
            name=op.f("fk_sendout_item_record_id_calibration_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sendout_item")),
    )
    op.create_index(op.f("ix_sendout_item_batch_id"), "sendout_item", ["batch_id"])
    op.create_index(op.f("ix_sendout_item_instrument_id"), "sendout_item", ["instrument_id"])
    _grant()


def _grant() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # a shared file enforces nothing; CalTrack checks roles itself there
    tech, qa = (
        _q(str(bind.execute(text("SELECT caltrack_group(:r)"), {"r": role}).scalar_one()))
        for role in ("technician", "qa")
    )
    op.execute(f"GRANT SELECT ON provider TO {tech}")
    op.execute(f"GRANT INSERT, UPDATE ON provider TO {qa}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE provider_id_seq TO {qa}")
    for table in ("sendout_batch", "sendout_item"):
        op.execute(f"GRANT SELECT, INSERT, UPDATE ON {_q(table)} TO {tech}")
        op.execute(f"GRANT USAGE, SELECT ON SEQUENCE {_q(table + '_id_seq')} TO {tech}")


def downgrade() -> None:
    op.drop_index(op.f("ix_sendout_item_instrument_id"), table_name="sendout_item")
    op.drop_index(op.f("ix_sendout_item_batch_id"), table_name="sendout_item")
    op.drop_table("sendout_item")
    op.drop_index(op.f("ix_sendout_batch_provider_id"), table_name="sendout_batch")
    op.drop_table("sendout_batch")
    op.drop_table("provider")
