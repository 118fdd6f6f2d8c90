"""What the server withholds from a psql session: password hashes and the ``meta`` table.

PostgreSQL only (on SQLite this revision does nothing). Two holes 0006 left open to a
technician or QA login with ``psql``:

- **Signing password hashes.** The groups lose SELECT on ``user_account.signing_hash``
  (every other column stays readable). CalTrack reads the column through
  ``caltrack_signing_hash(id)``, a SECURITY DEFINER function owned by the tables' owner
  with a fixed search_path: it returns the hash to its own login (who signs with it) and
  to the owner, and to anyone else only ``withheld$<fingerprint>`` — the same short,
  non-secret fingerprint the audit trail shows, so "has a signing password" and the
  replay of account changes stay right for every reader, and no one can take a hash
  away to guess at offline.
- **The meta table.** Writes by the groups are limited to what CalTrack writes as a
  non-owner: the audit chain head, which must then name the newest audit event (a
  trigger checks), the shared settings and the demo-data mark. The database's id, its
  creation facts, and the file-only keys are the owner's.

A later revision that adds a column to ``user_account`` grants SELECT on it to the
technician group by name (the table-level SELECT is gone).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECRET_COLUMN = "signing_hash"
# app.services.passwords.WITHHELD_PREFIX: what a reader of someone else's hash gets.
WITHHELD_PREFIX = "withheld$"
# app.services.audit.HEAD_KEY, GENESIS_HASH.
HEAD_KEY = "audit_head"
GENESIS_HASH = "0" * 64
# Keys a technician's CalTrack writes: the shared settings (settings dialog) and the
# demo-data mark (``demo``). Everything else in meta is written by the owner only.
GROUP_META_KEYS = (HEAD_KEY, "due_soon_days", "idle_release_minutes", "demo_data_since")
FUNCTIONS = ("caltrack_signing_hash(integer)", "caltrack_meta_guard()")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _technician_group() -> str:
    return str(op.get_bind().execute(text("SELECT caltrack_group('technician')")).scalar_one())


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    tech = _q(_technician_group())
    schema = str(bind.execute(text("SELECT current_schema()")).scalar_one())
    accounts = f"{_q(schema)}.user_account"
    columns = [
        str(c)
        for c in bind.execute(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = :s "
                "AND table_name = 'user_account' AND column_name <> :secret ORDER BY 1"
            ),
            {"s": schema, "secret": SECRET_COLUMN},
        ).scalars()
    ]
    # A column privilege cannot narrow a table privilege: the table's SELECT goes, and
    # every column but the hash is granted back.
    op.execute(f"REVOKE SELECT ON {accounts} FROM {tech}")
    op.execute(f"GRANT SELECT ({', '.join(_q(c) for c in columns)}) ON {accounts} TO {tech}")
    # session_user, not current_user: inside a SECURITY DEFINER function current_user is
    # the owner. pg_catalog first and pg_temp last: no one's own objects stand in for ours.
    op.execute(
        f"""
        CREATE FUNCTION caltrack_signing_hash(account integer) RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
            SELECT CASE
                WHEN coalesce(a.signing_hash, '') = '' THEN a.signing_hash
                WHEN a.login = session_user
                     OR pg_has_role(session_user, c.relowner, 'MEMBER')
                THEN a.signing_hash
                ELSE {_lit(WITHHELD_PREFIX)} || left(encode(sha256(
                    convert_to(a.signing_hash, 'UTF8')), 'hex'), 16)
            END
            FROM {accounts} a, pg_catalog.pg_class c
            WHERE a.id = account AND c.oid = {_lit(accounts)}::regclass
        $$
        """
    )
    op.execute("REVOKE EXECUTE ON FUNCTION caltrack_signing_hash(integer) FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION caltrack_signing_hash(integer) TO {tech}")

    keys = ", ".join(_lit(k) for k in GROUP_META_KEYS)
    refuse = "RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = "
    op.execute(
        f"""
        CREATE FUNCTION caltrack_meta_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF caltrack_is_owner(TG_RELID) THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'DELETE' OR NOT NEW.key IN ({keys})
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
    op.execute(
        "CREATE TRIGGER caltrack_meta_guard BEFORE INSERT OR UPDATE OR DELETE ON meta "
        "FOR EACH ROW EXECUTE FUNCTION caltrack_meta_guard()"
    )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    tech = _q(_technician_group())
    op.execute("DROP TRIGGER IF EXISTS caltrack_meta_guard ON meta")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    columns = [
        str(c)
        for c in bind.execute(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'user_account'"
            )
        ).scalars()
    ]
    # 0006's downgrade revokes table privileges only; a column privilege left behind
    # would keep its group from being dropped.
    op.execute(f"REVOKE SELECT ({', '.join(_q(c) for c in columns)}) ON user_account FROM {tech}")
    op.execute(f"GRANT SELECT ON user_account TO {tech}")
