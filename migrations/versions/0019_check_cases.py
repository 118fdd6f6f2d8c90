"""A failing intermediate check opens an out-of-tolerance case (issue 15).

``oot_case`` gets ``check_id`` (the failing check that found it; unique, a foreign key
to ``intermediate_check``), ``record_id`` becomes nullable, and a CHECK says exactly one
of them is set. Every existing case keeps its ``record_id`` and gets no ``check_id``.

SQLite cannot make a column nullable in place, so there the table is copied (alembic's
batch rebuild, with its indices, uniques, foreign keys and CHECKs). ``signature`` refers
to ``oot_case`` and foreign keys are on inside the migration's transaction (the engine
says BEGIN itself, so the pragma cannot be turned off): dropping the old table under the
closing signatures would fail. Those signature rows are therefore set aside in a
temporary table for the copy and put back unchanged, ids and all, before the commit;
nothing else refers to ``oot_case`` (``origin_case_id`` has no foreign key, see 0012).
The audit trail is untouched, and ``db verify`` replays ``check_id`` as NULL on the
cases written before it (``ADDED_LATER``).

On a server the same operations are plain ``ALTER TABLE`` statements: the table keeps
its grants to the group roles of 0006 (a technician already inserts cases when a
calibration fails) and ``oot_case`` has no guard trigger.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text

revision: str = "0019"
# After 0018 (schedules and intermediate checks): check_id names intermediate_check.
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STASH = "caltrack_0019_case_signatures"


def _set_aside_case_signatures() -> bool:
    """On SQLite: move the signatures that close cases aside (see the docstring)."""
    if op.get_bind().dialect.name != "sqlite":
        return False
    op.execute(
        text(f"CREATE TEMP TABLE {STASH} AS SELECT * FROM signature WHERE case_id IS NOT NULL")
    )
    op.execute(text("DELETE FROM signature WHERE case_id IS NOT NULL"))
    return True


def _put_back_case_signatures() -> None:
    op.execute(text(f"INSERT INTO signature SELECT * FROM {STASH}"))
    op.execute(text(f"DROP TABLE {STASH}"))


def upgrade() -> None:
    stashed = _set_aside_case_signatures()
    with op.batch_alter_table("oot_case", recreate="auto") as batch:
        batch.alter_column("record_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("check_id", sa.Integer(), nullable=True))
        batch.create_unique_constraint(batch.f("uq_oot_case_check_id"), ["check_id"])
        batch.create_foreign_key(
            batch.f("fk_oot_case_check_id_intermediate_check"),
            "intermediate_check",
            ["check_id"],
            ["id"],
        )
        batch.create_check_constraint(
            batch.f("ck_oot_case_one_source"), "(record_id IS NULL) <> (check_id IS NULL)"
        )
    if stashed:
        _put_back_case_signatures()


def downgrade() -> None:
    bind = op.get_bind()
    found = bind.execute(
        text("SELECT count(*) FROM oot_case WHERE check_id IS NOT NULL")
    ).scalar_one()
    if found:
        raise RuntimeError(
            f"cannot downgrade below revision 0019: {found} out-of-tolerance case(s) were "
            "opened by an intermediate check, and the older schema cannot hold them; "
            "nothing was changed"
        )
    stashed = _set_aside_case_signatures()
    with op.batch_alter_table("oot_case", recreate="auto") as batch:
        batch.drop_constraint(batch.f("ck_oot_case_one_source"), type_="check")
        batch.drop_constraint(
            batch.f("fk_oot_case_check_id_intermediate_check"), type_="foreignkey"
        )
        batch.drop_constraint(batch.f("uq_oot_case_check_id"), type_="unique")
        batch.drop_column("check_id")
        batch.alter_column("record_id", existing_type=sa.Integer(), nullable=False)
    if stashed:
        _put_back_case_signatures()
