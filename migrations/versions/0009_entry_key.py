"""A calibration entry's key: a save repeated after a lost answer is not a second record.

On a server, a connection that drops during COMMIT leaves the client not knowing whether
the record was committed; saving the same entry again must not record the calibration
twice. The dialog (and ``calibrations add``) now sends one key per entry, kept in
``calibration_record.entry_key``, unique where set. Older rows, imports and copies of
them have none (NULL: any number of them, on SQLite and on PostgreSQL alike).

Plain ADD COLUMN and CREATE INDEX, not a batch copy: the record table is referenced by
points, standards, attachments and cases, whose foreign keys a copy would break. On a
server, 0006 granted INSERT and UPDATE on the whole table to the technician group, which
covers a new column; the signed-record guard compares whole rows, so the key of a signed
record cannot change either.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("calibration_record", sa.Column("entry_key", sa.String(length=36)))
    op.create_index(
        op.f("ix_calibration_record_entry_key"),
        "calibration_record",
        ["entry_key"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_calibration_record_entry_key"), table_name="calibration_record")
    # SQLite (3.35+) drops a column in place once no index names it.
    op.drop_column("calibration_record", "entry_key")
