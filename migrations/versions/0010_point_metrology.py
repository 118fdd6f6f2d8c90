"""Metrology on the record (issue 14): U, k, the tolerance as written, TUR, decision rule.

``measurement_point`` gets the expanded uncertainty ``uncertainty`` (U) and
``coverage_factor`` (k), the tolerance as written ``tolerance_text`` with its limits at
the nominal ``tolerance_lower``/``tolerance_upper`` (resolved when recorded), and the
test uncertainty ratio ``tur``. ``calibration_record`` gets the decision rule in force
``decision_rule`` (its code) and ``tur_justification`` (why a point below the lab's
minimum TUR was accepted). Every new column is NULL (the justification empty) on
existing rows: an old point has no U (its TUR is unknown) and a tolerance of
± ``tolerance``; an old record was judged by simple acceptance. Nothing is re-judged.

Plain ADD COLUMN, as 0009: both tables are referenced by others. On a server, 0006
granted INSERT and UPDATE on both whole tables to the technician group, which covers new
columns, and its signed-record guards compare whole rows, so a signed record's new
columns cannot change either. What 0007 narrowed does need widening: the meta guard lets
the groups write only listed keys, and the lab's decision rule, minimum TUR and "an
indeterminate as-found result opens a case" are shared settings now
(``app.services.settings``). The guard function is replaced with the longer list (and
the downgrade puts 0007's back).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-11 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POINT_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("uncertainty", sa.Float()),
    ("coverage_factor", sa.Float()),
    ("tolerance_text", sa.String(length=64)),
    ("tolerance_lower", sa.Float()),
    ("tolerance_upper", sa.Float()),
    ("tur", sa.Float()),
)
# 0007's list (app.services.audit.HEAD_KEY and the shared settings), then this one's
# (app.services.settings' keys).
HEAD_KEY = "audit_head"
GENESIS_HASH = "0" * 64
KEYS_0007 = (HEAD_KEY, "due_soon_days", "idle_release_minutes", "demo_data_since")
KEYS_0010 = (*KEYS_0007, "decision_rule", "minimum_tur", "indeterminate_opens_case")


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _meta_guard(keys: tuple[str, ...]) -> None:
    """0007's ``caltrack_meta_guard()`` with ``keys`` as what the groups may write."""
    listed = ", ".join(_lit(k) for k in keys)
    refuse = "RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = "
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION caltrack_meta_guard() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF caltrack_is_owner(TG_RELID) THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'DELETE' OR NOT NEW.key IN ({listed})
               OR (TG_OP = 'UPDATE' AND NEW.key <> OLD.key) THEN
                {refuse} 'the database''s facts in meta are the owner''s: ' || current_user
                    || ' may write only the shared settings and the audit chain head';
            END IF;
            IF NEW.key = {_lit(HEAD_KEY)} AND NEW.value IS DISTINCT FROM coalesce(
                (SELECT e.hash FROM audit_event e ORDER BY e.id DESC LIMIT 1),
                {_lit(GENESIS_HASH)}) THEN
                {refuse} 'the audit chain head must be the hash of the newest audit event ('
                    || current_user || ' tried to set another)';
            END IF;
            RETURN NEW;
        END $$
        """
    )


def upgrade() -> None:
    for name, kind in POINT_COLUMNS:
        op.add_column("measurement_point", sa.Column(name, kind))
    op.add_column("calibration_record", sa.Column("decision_rule", sa.String(length=64)))
    op.add_column(
        "calibration_record",
        sa.Column("tur_justification", sa.Text(), nullable=False, server_default=""),
    )
    if op.get_bind().dialect.name == "postgresql":
        _meta_guard(KEYS_0010)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _meta_guard(KEYS_0007)
    # SQLite (3.35+) drops a column in place when no index names it.
    op.drop_column("calibration_record", "tur_justification")
    op.drop_column("calibration_record", "decision_rule")
    for name, _ in reversed(POINT_COLUMNS):
        op.drop_column("measurement_point", name)
