"""Attachment content in the database, for server databases.

A server database has no folder beside it for attachment files: their bytes go into
``attachment_chunk`` (slices of about 1 MiB, in order), once per distinct sha256 recorded
in ``attachment_blob``, written in the same transaction as the attachment row. Created on
both backends so the schema is one; a database file keeps its files in the folder and
leaves these tables empty.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 08:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachment_blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_attachment_blob")),
    )
    op.create_table(
        "attachment_chunk",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["attachment_blob.sha256"],
            name=op.f("fk_attachment_chunk_sha256_attachment_blob"),
        ),
        sa.PrimaryKeyConstraint("sha256", "seq", name=op.f("pk_attachment_chunk")),
    )


def downgrade() -> None:
    op.drop_table("attachment_chunk")
    op.drop_table("attachment_blob")
