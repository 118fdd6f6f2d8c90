"""Access control the server enforces: group roles, privileges and guard triggers.

PostgreSQL only (on SQLite this revision does nothing: a shared file cannot enforce
anything against whoever may write its folder). Run by the database owner (``init``,
``upgrade``), it creates three NOLOGIN group roles named after this database, so two
CalTrack databases on one server never share a group:

- ``caltrack_<db>_technician``: reads everything; adds and edits instruments,
  calibrations, attachments and cases; adds attachment content and appends to the audit
  trail (INSERT only); its own account row only (printed name, signing password).
- ``caltrack_<db>_qa``: a technician who may also add signatures and void signed records.
- ``caltrack_<db>_admin``: a QA reviewer who may also manage accounts and grant the
  technician and QA groups to logins.

Triggers hold what privileges alone cannot: the audit trail refuses UPDATE, DELETE and
TRUNCATE and an audit line naming anyone but the connected login; signatures are added
by the QA group in the signer's own name and never changed; a signed calibration record
(one a signature row points at) and its readings and standards cannot be changed or
deleted — QA may only stamp it void. The owner of the tables (and superusers) pass
every trigger: moving a lab (``db copy``), upgrades and repairs are theirs.

``caltrack_group(role)`` answers the group of a CalTrack role for ``users set``, so the
names chosen here are read, never recomputed (a renamed database keeps its groups).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 08:50:00
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("technician", "qa", "admin")
# Tables a technician writes (INSERT, UPDATE); the guard triggers narrow them further.
WORKING_TABLES = (
    "instrument",
    "calibration_record",
    "measurement_point",
    "calibration_standard",
    "attachment",
    "oot_case",
    "meta",
    "user_account",
)
# Content-addressed attachment bytes on a server: added, never changed or removed.
APPEND_ONLY_TABLES = ("attachment_blob", "attachment_chunk")
# Rows an edit replaces rather than updates (a record's readings and standards).
REPLACED_TABLES = ("measurement_point", "calibration_standard")
# What voiding a record changes: the only columns QA may change on a signed record.
VOID_STAMP = ("voided_at", "voided_by", "void_reason", "updated_at", "updated_by", "version")
TRIGGERS = (
    ("audit_event", "caltrack_audit_guard", "BEFORE INSERT OR UPDATE OR DELETE", "ROW"),
    ("audit_event", "caltrack_audit_truncate", "BEFORE TRUNCATE", "STATEMENT"),
    ("signature", "caltrack_signature_guard", "BEFORE INSERT OR UPDATE OR DELETE", "ROW"),
    ("signature", "caltrack_signature_truncate", "BEFORE TRUNCATE", "STATEMENT"),
    ("calibration_record", "caltrack_signed_record_guard", "BEFORE UPDATE OR DELETE", "ROW"),
    ("measurement_point", "caltrack_signed_part_guard", "BEFORE INSERT OR UPDATE OR DELETE", "ROW"),
    (
        "calibration_standard",
        "caltrack_signed_part_guard",
        "BEFORE INSERT OR UPDATE OR DELETE",
        "ROW",
    ),
    ("user_account", "caltrack_account_guard", "BEFORE INSERT OR UPDATE OR DELETE", "ROW"),
)
FUNCTIONS = (
    "caltrack_audit_guard()",
    "caltrack_audit_truncate()",
    "caltrack_signature_guard()",
    "caltrack_signature_truncate()",
    "caltrack_signed_record_guard()",
    "caltrack_signed_part_guard()",
    "caltrack_account_guard()",
    "caltrack_is_owner(oid)",
    "caltrack_group(text)",
)


def group_names(database: str) -> dict[str, str]:
    """The group role of each CalTrack role for ``database`` (at most 63 bytes each)."""
    clean = re.sub(r"[^a-z0-9_]", "_", database.lower())
    if clean != database or len(clean) > 30:
        # Two names that clean or cut to the same text must still get their own groups.
        clean = clean[:30] + "_" + hashlib.sha256(database.encode()).hexdigest()[:8]
    return {role: f"caltrack_{clean}_{role}" for role in ROLES}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _functions(groups: dict[str, str]) -> list[str]:
    qa = groups["qa"].replace("'", "''")
    admin = groups["admin"].replace("'", "''")
    cases = " ".join(f"WHEN '{r}' THEN '{g}'" for r, g in groups.items())
    void_stamp = ", ".join(f"'{c}'" for c in VOID_STAMP)
    refuse = "RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = "
    return [
        f"""
        CREATE FUNCTION caltrack_group(role text) RETURNS text
        LANGUAGE sql IMMUTABLE AS $$ SELECT CASE role {cases} END $$
        """,
        # The owner of the guarded table, superusers and members of the owner pass.
        """
        CREATE FUNCTION caltrack_is_owner(rel oid) RETURNS boolean
        LANGUAGE sql STABLE AS $$
            SELECT pg_has_role(current_user, c.relowner, 'MEMBER')
            FROM pg_class c WHERE c.oid = rel
        $$
        """,
        f"""
        CREATE FUNCTION caltrack_audit_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF caltrack_is_owner(TG_RELID) THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP <> 'INSERT' THEN
                {refuse} 'the audit trail is append-only: ' || current_user
                    || ' may add events, never change or delete them (only the database '
                    || 'owner may, to move or repair the database)';
            END IF;
            IF NEW."user" IS DISTINCT FROM session_user THEN
                {refuse} 'an audit event must name the connected login ' || session_user
                    || ', not ' || coalesce(NEW."user", 'nobody');
            END IF;
            RETURN NEW;
        END $$
        """,
        f"""
        CREATE FUNCTION caltrack_audit_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT caltrack_is_owner(TG_RELID) THEN
                {refuse} 'the audit trail is append-only: ' || current_user
                    || ' may not empty it';
            END IF;
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE FUNCTION caltrack_signature_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF caltrack_is_owner(TG_RELID) THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP <> 'INSERT' THEN
                {refuse} 'signatures are never changed or removed (' || current_user
                    || ' tried to ' || lower(TG_OP) || ' one)';
            END IF;
            IF NOT pg_has_role(current_user, '{qa}', 'MEMBER') THEN
                {refuse} 'only the QA group may sign: ' || current_user
                    || ' is not a member of {qa}';
            END IF;
            IF NEW.signer IS DISTINCT FROM session_user THEN
                {refuse} 'a signature must name the connected login ' || session_user
                    || ', not ' || coalesce(NEW.signer, 'nobody');
            END IF;
            RETURN NEW;
        END $$
        """,
        f"""
        CREATE FUNCTION caltrack_signature_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT caltrack_is_owner(TG_RELID) THEN
                {refuse} 'signatures are never removed: ' || current_user
                    || ' may not empty the signature table';
            END IF;
            RETURN NULL;
        END $$
        """,
        f"""
        CREATE FUNCTION caltrack_signed_record_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF caltrack_is_owner(TG_RELID)
               OR NOT EXISTS (SELECT 1 FROM signature s WHERE s.record_id = OLD.id) THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'DELETE' THEN
                {refuse} 'calibration #' || OLD.id || ' is signed and is never deleted';
            END IF;
            IF NOT pg_has_role(current_user, '{qa}', 'MEMBER') THEN
                {refuse} 'calibration #' || OLD.id || ' is signed: only the QA group may '
                    || 'void it, and ' || current_user || ' is not a member of {qa}';
            END IF;
            IF to_jsonb(NEW) - ARRAY[{void_stamp}] <> to_jsonb(OLD) - ARRAY[{void_stamp}] THEN
                {refuse} 'calibration #' || OLD.id || ' is signed: it can only be voided '
                    || 'or superseded, never edited';
            END IF;
            RETURN NEW;
        END $$
        """,
        f"""
        CREATE FUNCTION caltrack_signed_part_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            rec integer;
        BEGIN
            IF caltrack_is_owner(TG_RELID) THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            FOR rec IN SELECT DISTINCT r FROM unnest(ARRAY[
                CASE WHEN TG_OP <> 'INSERT' THEN OLD.record_id END,
                CASE WHEN TG_OP <> 'DELETE' THEN NEW.record_id END]) AS r
            LOOP
                IF EXISTS (SELECT 1 FROM signature s WHERE s.record_id = rec) THEN
                    {refuse} 'calibration #' || rec || ' is signed: its readings and '
                        || 'standards can no longer change';
                END IF;
            END LOOP;
            RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
        END $$
        """,
        f"""
        CREATE FUNCTION caltrack_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF caltrack_is_owner(TG_RELID) OR pg_has_role(current_user, '{admin}', 'MEMBER')
            THEN
                RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
            END IF;
            IF TG_OP = 'DELETE' THEN
                {refuse} 'accounts are never deleted (' || current_user || ' tried)';
            END IF;
            IF TG_OP = 'INSERT' THEN
                IF NEW.login IS DISTINCT FROM session_user OR NEW.role <> 'technician'
                   OR NOT NEW.active THEN
                    {refuse} 'only an admin may create accounts for others or with a role: '
                        || current_user || ' may only create its own technician account';
                END IF;
                RETURN NEW;
            END IF;
            IF OLD.login IS DISTINCT FROM session_user OR NEW.login <> OLD.login
               OR NEW.login_key <> OLD.login_key OR NEW.role <> OLD.role
               OR NEW.active <> OLD.active THEN
                {refuse} 'only an admin may change roles, logins, the active state or '
                    || 'other people''s accounts (' || current_user || ' tried)';
            END IF;
            RETURN NEW;
        END $$
        """,
    ]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # a shared file enforces nothing; CalTrack checks roles itself there
    database = bind.execute(text("SELECT current_database()")).scalar_one()
    groups = group_names(str(database))
    for group in groups.values():
        # A DBA may have made the groups already (the owner then needs no CREATEROLE).
        op.execute(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{group}') "
            f"THEN CREATE ROLE {_q(group)} NOLOGIN; END IF; END $$"
        )
    tech, qa, admin = (_q(groups[r]) for r in ROLES)
    # Each group holds the one below it: what a technician may, QA and admins may too.
    op.execute(f"GRANT {tech} TO {qa}")
    op.execute(f"GRANT {qa} TO {admin}")
    # Admins grant the technician and QA groups to logins (`users set`); only the owner
    # makes admins.
    op.execute(f"GRANT {tech} TO {admin} WITH ADMIN OPTION")
    op.execute(f"GRANT {qa} TO {admin} WITH ADMIN OPTION")
    op.execute(f"GRANT USAGE ON SCHEMA public TO {tech}")
    op.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {tech}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {tech}")
    for table in WORKING_TABLES:
        op.execute(f"GRANT INSERT, UPDATE ON {_q(table)} TO {tech}")
    for table in REPLACED_TABLES:
        op.execute(f"GRANT DELETE ON {_q(table)} TO {tech}")
    for table in (*APPEND_ONLY_TABLES, "audit_event"):
        op.execute(f"GRANT INSERT ON {_q(table)} TO {tech}")
    op.execute(f"GRANT INSERT ON signature TO {qa}")
    for sql in _functions(groups):
        op.execute(sql)
    for table, name, when, level in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {when} ON {_q(table)} "
            f"FOR EACH {level} EXECUTE FUNCTION {name}()"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    groups = {
        role: str(bind.execute(text("SELECT caltrack_group(:r)"), {"r": role}).scalar_one())
        for role in ROLES
    }
    for table, name, _when, _level in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {_q(table)}")
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for role in reversed(ROLES):
        group = _q(str(groups[role]))
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {group}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {group}")
        op.execute(f"REVOKE ALL ON SCHEMA public FROM {group}")
        op.execute(f"DROP ROLE IF EXISTS {group}")
