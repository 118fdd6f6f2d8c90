"""Attachments of 2 GiB and more on a server: ``attachment.size_bytes`` becomes BIGINT.

PostgreSQL's INTEGER is 32-bit, so a server refused to record the size of a file of
2 GiB or more (``attachment_blob.size_bytes`` was BIGINT from the start). SQLite's
INTEGER already holds 64 bits: a database file keeps its declared type (the model says
so with a variant), and this revision does nothing there — no copy of the attachment
table in every lab's file for a type SQLite does not have.

On the server the owner runs it (``upgrade``): ``ALTER COLUMN … TYPE`` keeps the table's
grants to the group roles of 0006, and the attachment table has no guard trigger.
Downgrading refuses, with a message, while any attachment is too large for INTEGER:
its size would not fit, and the row is never shortened.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INTEGER_MAX = 2**31 - 1


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite's INTEGER is 64-bit already
    op.alter_column(
        "attachment",
        "size_bytes",
        existing_type=sa.Integer(),
        type_=sa.BigInteger(),
        existing_nullable=False,
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    too_big = bind.execute(
        text("SELECT count(*) FROM attachment WHERE size_bytes > :most"), {"most": INTEGER_MAX}
    ).scalar_one()
    if too_big:
        raise RuntimeError(
            f"cannot downgrade below revision 0008: {too_big} attachment(s) are 2 GiB or "
            "larger, and the older schema cannot record their size; nothing was changed"
        )
    op.alter_column(
        "attachment",
        "size_bytes",
        existing_type=sa.BigInteger(),
        type_=sa.Integer(),
        existing_nullable=False,
    )
