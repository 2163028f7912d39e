"""A private PostgreSQL server for the scale-out tests, started and stopped by this suite."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ironbound.lab.ports import free_tcp_port


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        pytest.fail(f"PostgreSQL's {name} is not installed: apt-get install postgresql")
    return str(found[-1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[int]:
    """The port of a PostgreSQL server on 127.0.0.1 (trust auth, user postgres)."""
    # Not under pytest's tmp_path: the postgres user cannot enter root's 0700 folders.
    folder = Path(tempfile.mkdtemp(prefix="ironbound-pg-"))
    data = folder / "data"
    data.mkdir()
    shutil.chown(folder, "postgres")
    shutil.chown(data, "postgres")
    port = free_tcp_port()

    def as_postgres(*argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True)

    as_postgres(_pg_bin("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres")
    as_postgres(
        _pg_bin("pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "start",
        "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=200",
    )  # fmt: skip
    try:
        yield port
    finally:
        as_postgres(_pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: int, request: pytest.FixtureRequest) -> str:
    """A new, empty database for this test."""
    name = "ib_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]
    subprocess.run(
        ["runuser", "-u", "postgres", "--", _pg_bin("createdb"), "-h", "127.0.0.1",
         "-p", str(postgres_server), name],
        check=True, capture_output=True,
    )  # fmt: skip
    return f"postgresql+psycopg://postgres@127.0.0.1:{postgres_server}/{name}"
