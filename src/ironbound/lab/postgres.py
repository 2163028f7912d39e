"""A private PostgreSQL server on loopback, for the scale-out tests and benchmarks.

It lives in a fresh temporary folder (initdb, trust authentication on
127.0.0.1 only, user postgres) and is stopped on the way out, with
`pg_ctl stop` and, should that fail, by its postmaster's PID: an error while
starting or using it never leaves a server running.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ironbound.lab.errors import LabError, MissingToolError
from ironbound.lab.ports import free_tcp_port
from ironbound.lab.procs import ProcessRecord, run, stop_record

USER = "postgres"


def pg_bin(name: str) -> str:
    """The newest installed PostgreSQL's program `name`."""
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise MissingToolError(f"PostgreSQL's {name} is not installed: apt-get install postgresql")
    return str(found[-1])


def _as_postgres(*argv: str) -> str:
    """Run a PostgreSQL program as the postgres user (root may not run the server)."""
    prefix = ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []
    return run([*prefix, pg_bin(argv[0]), *argv[1:]], timeout=120)


@dataclass(frozen=True)
class PostgresServer:
    port: int
    pid: int
    folder: Path

    def create_database(self, name: str) -> str:
        """A new, empty database `name`: its SQLAlchemy URL (psycopg 3 driver)."""
        _as_postgres("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, name)
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{name}"

    def conninfo(self, name: str) -> str:
        """What psycopg (or psql) connects to database `name` with."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"


def _postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def _stop(data: Path) -> None:
    """pg_ctl stop (fast); the postmaster's PID if that fails or leaves it running."""
    pid = _postmaster_pid(data)
    if pid is None:
        return
    record = None
    with contextlib.suppress(LabError):
        record = ProcessRecord.of("postgres", pid)
    with contextlib.suppress(LabError):
        _as_postgres("pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop")
    if record is not None:
        stop_record(record, timeout=30)


@contextlib.contextmanager
def postgres_server(max_connections: int = 200) -> Iterator[PostgresServer]:
    """A running server for the duration of the block, removed with its data afterwards."""
    # Not under a test's tmp_path: the postgres user cannot enter root's 0700 folders.
    folder = Path(tempfile.mkdtemp(prefix="ironbound-pg-"))
    data = folder / "data"
    try:
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(folder, USER)
            shutil.chown(data, USER)
        _as_postgres("initdb", "-D", str(data), "--auth=trust", "-U", USER)
        port = free_tcp_port()
        try:
            _as_postgres(
                "pg_ctl", "-D", str(data), "-l", str(folder / "server.log"), "-w", "start",
                "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} "
                f"-c max_connections={max_connections}",
            )  # fmt: skip
            pid = _postmaster_pid(data)
            if pid is None:
                raise LabError(f"PostgreSQL started but wrote no PID in {data}")
            yield PostgresServer(port, pid, folder)
        finally:
            _stop(data)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
