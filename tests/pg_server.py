"""A private PostgreSQL server for one test run.

``initdb`` into a fresh temporary folder, listening on a unix socket in that folder only
(no TCP port), so two runs on one machine never meet. As root the server runs as the
unprivileged ``nobody`` user (PostgreSQL refuses to run as root). Tests connect as the
superuser ``caltrack`` with trust authentication over the socket, and each test gets a
database of its own.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SUPERUSER = "caltrack"
# Set by ./run-tests: a missing server is then a failure, not a skip.
REQUIRE_ENV = "CALTRACK_REQUIRE_PG"


class ServerUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine, or the server would not start."""


def bin_dir() -> Path | None:
    """Debian's newest ``/usr/lib/postgresql/N/bin`` with ``initdb``, or one on PATH."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _as_server_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "nobody", "--", *argv]


@dataclass
class PgServer:
    """A running private server; :meth:`new_database` hands out empty databases."""

    folder: Path
    bin: Path
    # fsync on: what a benchmark needs (tests run without it, for speed).
    durable: bool = False
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def socket_dir(self) -> Path:
        return self.folder

    def url(self, database: str) -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with psql as the superuser; its output."""
        done = subprocess.run(
            [
                str(self.bin / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr.strip()}")
        return done.stdout

    def new_database(self, prefix: str = "t", *, template: str | None = None) -> str:
        """Create a database, empty or a copy of ``template`` (a database's name); its URL.

        A copy is a file copy on the server: far cheaper than running the migrations
        again. The template must have no open connections while it is copied.
        """
        name = f"{prefix}_{os.getpid()}_{next(self._counter)}"
        copy = f' TEMPLATE "{template}"' if template else ""
        self.psql(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def _pg_ctl(self, *argv: str) -> None:
        done = subprocess.run(
            _as_server_user([str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), *argv]),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl {argv[-1]} failed: {(done.stderr or done.stdout).strip()}")

    def halt(self) -> None:
        """Stop the server at once, as a crash or a pulled cable would (the folder stays)."""
        self._pg_ctl("-m", "immediate", "-w", "stop")

    def start(self) -> None:
        """Start the server again after :meth:`halt`, on the same socket."""
        self._pg_ctl(
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            _options(self.folder, durable=self.durable),
            "start",
        )

    @contextmanager
    def down(self) -> Iterator[None]:
        """The server crashed for the block, started again after it (even when it fails).

        A CHECKPOINT first: test servers run with synchronous_commit off, so a halt would
        otherwise lose the last commits, which a real server (synchronous) keeps.
        """
        self.psql("CHECKPOINT")
        self.halt()
        try:
            yield
        finally:
            self.start()

    def require_password(self, role: str, password: str) -> None:
        """A login ``role`` with ``password`` that must give it (scram) over the socket."""
        self.psql(f"CREATE ROLE \"{role}\" LOGIN PASSWORD '{password}'")
        hba = self.folder / "data" / "pg_hba.conf"
        hba.write_text(f"local all {role} scram-sha-256\n" + hba.read_text())
        self._pg_ctl("reload")
        # reload is a signal: wait until a password-less login is refused.
        deadline = time.monotonic() + 30
        while self._trusts(role) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _trusts(self, role: str) -> bool:
        done = subprocess.run(
            [
                str(self.bin / "psql"),
                "-X",
                "-w",
                "-h",
                str(self.socket_dir),
                "-U",
                role,
                "-d",
                "postgres",
                "-c",
                "SELECT 1",
            ],
            capture_output=True,
            env={**os.environ, "PGPASSFILE": os.devnull},
            check=False,
        )
        return done.returncode == 0

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`new_database` (closing any connection left).

        Each test drops its own: two hundred databases of 8 MB left until the end would
        fill the disk and take minutes to delete with the server's folder.
        """
        self.psql(f'DROP DATABASE IF EXISTS "{self.database_name(url)}" WITH (FORCE)')

    @staticmethod
    def database_name(url: str) -> str:
        """The database name in a URL made by :meth:`url`."""
        return url.split("@/", 1)[1].split("?", 1)[0]

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        subprocess.run(
            _as_server_user(
                [
                    str(self.bin / "pg_ctl"),
                    "-D",
                    str(self.folder / "data"),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ]
            ),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.folder, ignore_errors=True)


def _options(folder: Path, *, durable: bool) -> str:
    """The server's options: its socket in ``folder``, no TCP; durability as asked.

    Tests run without durability (fsync, full page writes and synchronous commit off: a
    crash of the test server loses nothing anyone needs). A benchmark needs the server's
    defaults, since a commit that does not wait for the disk measures nothing real.
    """
    durability = (
        "-c fsync=on -c full_page_writes=on -c synchronous_commit=on"
        if durable
        else "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
    )
    return f"-k {folder} -c listen_addresses='' {durability} -c max_connections=200"


def start_server(*, durable: bool = False, parent: Path | None = None) -> PgServer:
    """initdb and start a server in a new temporary folder; raise ServerUnavailable.

    ``durable`` turns fsync and synchronous commit on (benchmarks); ``parent`` is where
    the temporary folder goes (the disk to measure), by default the system's temp folder.
    """
    pg_bin = bin_dir()
    if pg_bin is None:
        raise ServerUnavailable(
            "PostgreSQL server binaries not found (Debian package postgresql; ./run-tests "
            "installs it)"
        )
    folder = Path(tempfile.mkdtemp(prefix="caltrack-pg-", dir=parent))
    folder.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(folder, user="nobody")
    data = folder / "data"
    log = folder / "server.log"
    steps = [
        [
            str(pg_bin / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C.UTF-8",
        ],
        [
            str(pg_bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-w",
            "-t",
            "60",
            "-o",
            _options(folder, durable=durable),
            "start",
        ],
    ]
    for argv in steps:
        done = subprocess.run(_as_server_user(argv), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip()
            if log.exists():
                detail += "\n" + log.read_text(errors="replace")[-2000:]
            shutil.rmtree(folder, ignore_errors=True)
            raise ServerUnavailable(f"{Path(argv[0]).name} failed: {detail}")
    return PgServer(folder=folder, bin=pg_bin, durable=durable)
