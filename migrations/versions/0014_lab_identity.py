"""The lab's name and logo, printed on calibration certificates (issue 14).

No table changes: both are shared settings in ``meta`` (``app.services.settings``:
``lab_name``, and ``lab_logo`` as base64). On a server the meta guard (0007, widened
by 0010) lets the groups write only listed keys, and QA sets these two: the guard
function is replaced with the longer list, and the downgrade puts 0010's back (the
two rows stay; nothing but a certificate reads them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
# After 0013 (the standards' stated uncertainty), which changes no meta key.
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0010's list (the audit chain head, the shared settings, the demo mark and the lab's
# metrology policy), then this one's.
HEAD_KEY = "audit_head"
GENESIS_HASH = "0" * 64
KEYS_0010 = (
    HEAD_KEY,
    "due_soon_days",
    "idle_release_minutes",
    "demo_data_since",
    "decision_rule",
    "minimum_tur",
    "indeterminate_opens_case",
)
KEYS_0014 = (*KEYS_0010, "lab_name", "lab_logo")


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
    if op.get_bind().dialect.name == "postgresql":
        _meta_guard(KEYS_0014)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _meta_guard(KEYS_0010)
