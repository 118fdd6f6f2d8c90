"""Database administration: statistics, verification, backup, restore, checkpoint."""

from __future__ import annotations

import errno
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, make_url
from sqlalchemy.exc import DBAPIError

from app.clock import Clock
from app.db import maintenance as infra
from app.db import pg_tools
from app.db.engine import choose_journal, safe_url
from app.db.fencing import LOCK_EPOCH_KEY
from app.db.migrate import head_revision, known_revisions, schema_state, upgrade
from app.db.transactions import DAMAGE_ADVICE, Database, is_corruption_error
from app.errors import DatabaseDamagedError, StorageError, UsageError
from app.identity import Identity
from app.repositories.audit import CHAIN_LOCK_KEY
from app.repositories.unit_of_work import UnitOfWork, UnitOfWorkFactory
from app.services.accounts import require_role, seed_accounts
from app.services.anchors import ChainAnchorService
from app.services.attachment_content import AttachmentContent, ContentRef
from app.services.audit import HEAD_KEY, AuditChainWriter, AuditService, head_text
from app.services.editing import SHARED_KEY
from app.settings.paths import user_data_dir
from app.storage.attachments import AttachmentStore

ORPHAN_MIN_AGE_S = 3600  # younger files may belong to an attach still committing


@dataclass(frozen=True)
class DatabaseStats:
    """What ``db stats`` shows."""

    url: str
    path: str | None
    schema_revision: str | None
    schema_head: str
    database_id: str | None
    journal_mode: str
    journal_reason: str
    file_size_bytes: int | None
    wal_size_bytes: int | None
    read_only_reason: str | None
    tables: list[infra.TableStats]
    server: pg_tools.ServerStats | None = None  # on a database server only


@dataclass
class VerifyReport:
    """What ``db verify`` found; clean when ``problems`` is empty."""

    problems: list[str] = field(default_factory=list)
    audit_events: int = 0
    attachments_checked: int = 0
    orphan_files: list[str] = field(default_factory=list)
    deep: bool = False
    notes: list[str] = field(default_factory=list)  # worth saying, not problems

    @property
    def clean(self) -> bool:
        return not self.problems


# Facts about the file, not its content: a restore keeps them (accounts and roles come
# back with the data, checked by the audit trail they came with).
FILE_FACTS = (LOCK_EPOCH_KEY, SHARED_KEY)


def _as_int(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0


def backup_label(label: str) -> str:
    text = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.")[:40]
    return text or "manual"


def backup_database(db: Database, clock: Clock, label: str, *, folder: Path | None = None) -> Path:
    """Write ``backups/<stem>_<UTC timestamp>_<label>.db``: a whole, checked copy or nothing.

    A full disk raises ``StorageError`` naming the room the copy needs.
    """
    if db.path is None:
        raise UsageError("backups of a server database are made with the server's tools")
    target_dir = folder or db.path.parent / "backups"
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot create backup folder {target_dir}: {exc.strerror or exc}"
        ) from None
    # A copy of a damaged file would only fail when it is needed; checked afresh, as the
    # file may have been damaged since the session's first write.
    db.forget_check()
    findings = db.check_sound()
    if findings:
        raise DatabaseDamagedError(
            f"the database file is damaged ({findings[0]}); a backup of it could not be "
            f"restored, so none was made — {DAMAGE_ADVICE}",
            findings,
        )
    stamp = clock.now_utc().strftime("%Y%m%dT%H%M%SZ")
    target = target_dir / f"{db.path.stem}_{stamp}_{backup_label(label)}.db"
    try:
        # Written under a temporary name, checked, flushed and renamed: nothing under
        # ``target`` unless it is a whole, checked copy.
        infra.sqlite_backup(db.engine, target)
    except OSError as exc:
        raise UsageError(
            f"backup failed: {exc.strerror or exc}; nothing was written to {target_dir}"
        ) from None
    return target


def server_backup_folder() -> Path:
    """Where server backups go unless told: the backups folder of the default database."""
    return user_data_dir() / "backups"


def server_stem(url: str) -> str:
    """A server database's name for backup file names (its service name if it has one)."""
    parsed = make_url(url)
    name = parsed.database or str(parsed.query.get("service") or "") or "caltrack"
    return backup_label(name)


def salvage_database(path: Path, output: Path) -> infra.SalvageResult:
    """Recover what can be read from a damaged database file into a new file.

    Works without opening the database as CalTrack does (a damaged file may not open at
    all), and only ever reads the damaged file.
    """
    folder = output.parent if output.parent.is_dir() else None
    try:
        # Beside the new file: the room it needs is there, not in the system's temp folder.
        with tempfile.TemporaryDirectory(prefix=".caltrack-salvage-", dir=folder) as work:
            return infra.salvage(path, output, work=Path(work))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageError(
                f"not enough room in {output.parent} to salvage {path.name} (it needs about "
                f"{infra.human_bytes(2 * path.stat().st_size)}); nothing was written — free "
                "some space or choose another folder"
            ) from None
        raise


class MaintenanceService:
    """Admin tasks on the open database."""

    def __init__(
        self,
        *,
        uow: UnitOfWorkFactory,
        store: AttachmentStore | None,
        content: AttachmentContent,
        audit: AuditService,
        clock: Clock,
        identity: Identity,
        on_epoch: Callable[[int], None] | None = None,
        holds_lock: Callable[[], bool] | None = None,
        seen_epoch: Callable[[], int] | None = None,
        anchors: ChainAnchorService | None = None,
    ) -> None:
        self._uow = uow
        self._anchors = anchors
        self._holds_lock = holds_lock or (lambda: True)
        self._seen_epoch = seen_epoch or (lambda: 0)
        self._identity = identity
        self._on_epoch = on_epoch
        self._db: Database = uow.database
        self._store = store  # the folder of a database file (quarantine), None on a server
        self._content = content
        self._audit = audit
        self._clock = clock
        # Audit heads of the server backups made in this session (read in the dump's
        # own snapshot, which the backup file does not give back cheaply).
        self._dump_heads: dict[Path, tuple[int, str] | None] = {}

    def stats(self) -> DatabaseStats:
        db = self._db

        def revision(conn: Connection) -> tuple[str | None, str]:
            state = schema_state(conn)
            return state.current, state.head

        with db.engine.connect() as conn:
            current, head = revision(conn)
        database_id, shared = self._uow.read(
            lambda uow: (uow.meta.get("database_id"), uow.meta.get(SHARED_KEY) is not None)
        )
        mode = db.journal_mode()
        reason = "server database"
        if db.location is not None:
            policy = choose_journal(db.location, db.journal_choice, shared=shared)
            reason = policy.reason
            if policy.mode != mode:
                reason += f" (switches to {policy.mode} when an editor opens it)"
        size = wal = None
        if db.path is not None:
            size = db.path.stat().st_size if db.path.exists() else None
            wal_path = db.path.with_name(db.path.name + "-wal")
            wal = wal_path.stat().st_size if wal_path.exists() else None
        return DatabaseStats(
            url=safe_url(db.url),
            path=str(db.path) if db.path else None,
            schema_revision=current,
            schema_head=head,
            database_id=database_id,
            journal_mode=mode,
            journal_reason=reason,
            file_size_bytes=size,
            wal_size_bytes=wal,
            read_only_reason=db.read_only_reason,
            tables=infra.table_stats(db.engine),
            server=None if db.is_sqlite else pg_tools.server_stats(db.engine),
        )

    def verify(self, *, deep: bool = False) -> VerifyReport:
        """integrity, foreign keys, the audit chain, attachment files (and hashes)."""
        report = VerifyReport(deep=deep)
        try:
            report.problems += infra.integrity_problems(self._db.engine)
        except DBAPIError as exc:
            if not is_corruption_error(exc):
                raise
            report.problems.append(f"integrity_check: SQLite cannot read the file: {exc.orig}")
        # On a damaged file every finding is listed, and each later check that meets a
        # damaged page says so instead of ending the verification.
        try:
            chain = self._audit.verify()
        except DatabaseDamagedError:
            report.problems.append(
                "audit chain: not checked, its pages cannot be read (see the damage above)"
            )
        else:
            report.audit_events = chain.events
            report.problems += chain.problems
            if self._anchors is not None:
                # The chain in the file can be cut and still verify: compare it with what
                # this PC saw of it before.
                found = self._anchors.check(remember=not chain.problems, chain_findings=False)
                # What the open of this session found still holds (an unreadable anchor
                # was rewritten then): said once, with what is found now.
                report.problems += [p for p in self._anchors.found if p not in found.problems]
                report.problems += found.problems
                report.notes += found.notices
        try:
            self._verify_files(report, deep)
        except DatabaseDamagedError:
            report.problems.append(
                "attachments: not checked, their rows cannot be read (see the damage above)"
            )
        return report

    def _verify_files(self, report: VerifyReport, deep: bool) -> None:
        """Each attachment's content is where it belongs (and with ``deep``, hashes right)."""

        def rows(uow: UnitOfWork) -> list[ContentRef]:
            return [
                ContentRef(a.id, a.original_name, a.stored_name, a.size_bytes, a.sha256)
                for a in uow.attachments.iter_all()
            ]

        known: set[str] = set()
        for ref in self._uow.read(rows):
            known.add(ref.stored_name)
            report.attachments_checked += 1
            problem = self._content.problem(ref, deep=deep)
            if problem is not None:
                report.problems.append(
                    f"attachment #{ref.attachment_id} ({ref.original_name}): {problem}"
                )
        report.orphan_files = self._content.orphans(known)

    def clean_orphans(self) -> list[str]:
        """Move orphan files older than an hour into quarantine (a fresh one may still get
        its row). Never deleted: a restore can bring back the rows they belong to."""
        if self._store is None:
            return []
        self._db.check_writable()
        report = VerifyReport()
        self._verify_files(report, deep=False)
        moved = []
        cutoff = time.time() - ORPHAN_MIN_AGE_S
        for name in report.orphan_files:
            path = self._store.folder / name
            if path.stat().st_mtime < cutoff:
                self._store.quarantine(name)
                moved.append(name)
        return moved

    def quarantine_folder(self) -> Path | None:
        return self._store.quarantine_folder if self._store is not None else None

    def quarantined(self) -> list[tuple[str, int, float]]:
        """Files a cleanup moved out of the attachments folder: (name, size, mtime)."""
        return self._store.quarantined() if self._store is not None else []

    def unquarantine(self, name: str) -> Path:
        """Put a quarantined file back among the attachments (after a restore needs it)."""
        if self._store is None:
            raise UsageError("a server database has no attachments folder")
        self._db.check_writable()
        return self._store.release(name)

    def _backup_target(self, label: str) -> Path:
        if self._db.path is None:
            raise UsageError("backups of a server database are made with the server's tools")
        folder = self._db.path.parent / "backups"
        folder.mkdir(exist_ok=True)
        stamp = self._clock.now_utc().strftime("%Y%m%dT%H%M%SZ")
        return folder / f"{self._db.path.stem}_{stamp}_{backup_label(label)}.db"

    def backup(self, label: str = "manual", *, folder: Path | None = None) -> Path:
        """Snapshot through the SQLite backup API into ``backups/`` (``pg_dump`` on a server)."""
        if self._db.path is None:
            return self._server_backup(label, folder)
        return backup_database(self._db, self._clock, label, folder=folder)

    def _server_backup(self, label: str, folder: Path | None) -> Path:
        """``pg_dump --format=custom`` into ``folder`` (default: the user's backups folder)."""
        target_dir = folder or server_backup_folder()
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot create backup folder {target_dir}: {exc.strerror or exc}"
            ) from None
        stamp = self._clock.now_utc().strftime("%Y%m%dT%H%M%SZ")
        name = f"{server_stem(self._db.url)}_{stamp}_{backup_label(label)}{pg_tools.DUMP_SUFFIX}"
        target = target_dir / name
        self._dump_heads[target] = pg_tools.dump(self._db.engine, target)
        return target

    def backup_head(self, backup_file: Path) -> str:
        """The audit head a backup holds (read from the copy itself, not the database,
        which may have moved on while the copy was made)."""
        if backup_file in self._dump_heads:
            return head_text(self._dump_heads[backup_file])
        if pg_tools.is_dump_file(backup_file):
            facts = pg_tools.dump_facts(backup_file, pg_tools.find_tool("pg_restore", 0))
            head = facts.meta.get(HEAD_KEY)
            return f"{head[:12]}…" if head else "none (no events yet)"
        return head_text(infra.backup_audit_head(backup_file))

    def restore(self, backup_file: Path, *, other_database: bool = False) -> Path:
        """Replace the database with a checked backup; the current one is backed up first.

        Facts about the *file* rather than the data survive the restore: the fencing epoch
        only moves forward (an old, fenced-off editor must stay fenced off) and the one-way
        "shared over the network" mark stays. Accounts and roles come back with the data
        (their audit trail comes with them). Admins only: it replaces everyone's work.
        """
        db = self._db
        if db.path is None:
            return self._server_restore(backup_file, other_database=other_database)
        damaged = bool(db.damage)
        if not (damaged and self._holds_lock()):
            # A damaged file is read-only for everything but this: replacing it is the cure.
            db.check_writable()
        self._uow.read(
            lambda uow: require_role(uow, self._identity, "admin", "restore the database")
        )
        problems = infra.check_backup_file(backup_file)
        if problems:
            raise UsageError("cannot restore: " + "; ".join(problems))
        if backup_file.resolve() == db.path.resolve():
            raise UsageError("that is the database itself; name a backup file")
        revision = infra.backup_revision(backup_file)
        if revision not in known_revisions():
            raise UsageError(
                f"{backup_file} was written by a newer CalTrack (schema {revision}); "
                "restore it with that version"
            )
        keys = (*FILE_FACTS, "database_id", HEAD_KEY)
        try:
            kept = self._uow.read(lambda uow: {k: uow.meta.get(k) for k in keys})
        except DatabaseDamagedError:
            if not damaged:
                raise
            kept = dict.fromkeys(keys)  # unreadable: the epoch comes from the lock file
        kept[LOCK_EPOCH_KEY] = str(max(_as_int(kept[LOCK_EPOCH_KEY]), self._seen_epoch()))
        theirs = infra.backup_meta(backup_file, ("database_id", HEAD_KEY))
        if (
            not other_database
            and kept["database_id"]
            and theirs.get("database_id") != kept["database_id"]
        ):
            raise UsageError(
                f"{backup_file} is a backup of another database (database id "
                f"{theirs.get('database_id') or 'none'}, this one is {kept['database_id']}); "
                "nothing was changed — name a backup of this database, or add "
                "--other-database to replace this one with it on purpose"
            )
        if damaged:
            # Kept as it is, for salvage: a checked backup of it cannot be made.
            safety = infra.copy_damaged(db.path, self._backup_target("before-restore-damaged"))
        else:
            safety = self.backup("before-restore")
        db.dispose()
        infra.restore_into(backup_file, db.path)
        db.dispose()
        db.forget_check()
        if revision != head_revision():
            upgrade(db.engine, db.url)

        def write(uow: UnitOfWork) -> int:
            restored = _as_int(uow.meta.get(LOCK_EPOCH_KEY))
            epoch = max(_as_int(kept[LOCK_EPOCH_KEY]), restored) + 1
            uow.meta.set(LOCK_EPOCH_KEY, str(epoch))
            if kept[SHARED_KEY] is not None:
                uow.meta.set(SHARED_KEY, kept[SHARED_KEY] or "")
            # A backup from before accounts existed: its admin list becomes accounts.
            seed_accounts(uow, self._identity, self._clock)
            audit = AuditChainWriter(uow, self._identity, self._clock)
            audit.record(
                "database",
                0,
                db.path.name if db.path else "",
                "restore",
                {
                    "restored_from": [None, str(backup_file)],
                    "replaced_copy": [None, str(safety)],
                    # The trail that was replaced ends here; its copy is ``replaced_copy``.
                    "replaced_head": [kept[HEAD_KEY], theirs.get(HEAD_KEY)],
                    "database_id": [kept["database_id"], theirs.get("database_id")],
                    "lock_epoch": [kept[LOCK_EPOCH_KEY], str(epoch)],
                },
                "restored from a backup",
            )
            audit.flush()
            return epoch

        epoch = self._uow.write(write, label="restore", admin_override=True)
        if self._on_epoch is not None:
            self._on_epoch(epoch)
        return safety

    def _server_restore(self, backup_file: Path, *, other_database: bool) -> Path:
        """Replace every table of a server database with a ``db backup`` of it.

        The same rules as on a file: admins only, a backup of another database only with
        ``other_database``, and a backup of what is replaced is made first. The tables are
        replaced in one transaction (a failure leaves the database as it was), then the
        restore is audited in the restored trail.
        """
        db = self._db
        db.check_writable()
        self._uow.read(
            lambda uow: require_role(uow, self._identity, "admin", "restore the database")
        )
        if infra.is_sqlite_file(backup_file):
            raise UsageError(
                f"{backup_file} is a backup of a database file; a server database is "
                "restored from a `db backup` made on a server (pg_dump)"
            )
        pg_restore = pg_tools.find_tool("pg_restore", 0)
        problems = pg_tools.check_dump(backup_file, pg_restore)
        if problems:
            raise UsageError("cannot restore: " + "; ".join(problems))
        # A server backup carries the grants to its own database's CalTrack groups (and
        # guard functions naming them): restored into another database they would give
        # that lab's people access here. Another lab's data comes in by `db copy`.
        made_from = pg_tools.dump_database(backup_file, pg_restore)
        here = pg_tools.current_database(db.engine)
        if made_from != here:
            raise UsageError(
                f"{backup_file} is a backup of the server database {made_from or '(unknown)'}, "
                f"not of {here}; on a server a backup restores only into the database it "
                "was made from — nothing was changed (to bring another lab's data here, "
                "copy it with `db copy --to` into a new, empty database)"
            )
        theirs = pg_tools.dump_facts(backup_file, pg_restore)
        if theirs.revision not in known_revisions():
            raise UsageError(
                f"{backup_file} was written by a newer CalTrack (schema {theirs.revision}); "
                "restore it with that version"
            )
        keys = ("database_id", HEAD_KEY)
        kept = self._uow.read(lambda uow: {k: uow.meta.get(k) for k in keys})
        if (
            not other_database
            and kept["database_id"]
            and theirs.meta.get("database_id") != kept["database_id"]
        ):
            raise UsageError(
                f"{backup_file} is a backup of another database (database id "
                f"{theirs.meta.get('database_id') or 'none'}, this one is "
                f"{kept['database_id']}); nothing was changed — name a backup of this "
                "database, or add --other-database to replace this one with it on purpose"
            )
        safety = self._server_backup("before-restore", None)
        safety_head = self._dump_heads.get(safety)
        db.dispose()
        pg_tools.restore(
            db.engine,
            backup_file,
            chain_lock=CHAIN_LOCK_KEY,
            expect_head=safety_head[1] if safety_head else None,
        )
        db.dispose()
        if theirs.revision != head_revision():
            upgrade(db.engine, db.url)

        def write(uow: UnitOfWork) -> None:
            audit = AuditChainWriter(uow, self._identity, self._clock)
            audit.record(
                "database",
                0,
                server_stem(db.url),
                "restore",
                {
                    "restored_from": [None, str(backup_file)],
                    "replaced_copy": [None, str(safety)],
                    "replaced_head": [kept[HEAD_KEY], theirs.meta.get(HEAD_KEY)],
                    "database_id": [kept["database_id"], theirs.meta.get("database_id")],
                },
                "restored from a backup",
            )
            audit.flush()

        self._uow.write(write, label="restore", admin_override=True)
        return safety

    def checkpoint(self) -> tuple[int, int, int]:
        if not self._db.is_sqlite:
            raise UsageError("checkpoints apply to SQLite databases only")
        return infra.checkpoint(self._db.engine)
