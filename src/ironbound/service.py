"""Running Ironbound's parts in one process: API, conductor and boot server.

`ironbound serve` runs all three on SQLite; `ironbound api` and `ironbound
conductor` run one part each against a shared PostgreSQL. On SIGTERM or
SIGINT the HTTP servers stop accepting, running jobs finish, the conductor
deregisters, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import uvicorn
from oslo_config import cfg
from starlette.types import ASGIApp

from ironbound import config, connections, errors
from ironbound.api.app import create_app
from ironbound.api.services import ApiServices
from ironbound.conductor.context import ConductorContext
from ironbound.conductor.worker import Conductor
from ironbound.db import migrate
from ironbound.db.session import Database
from ironbound.drivers import registry
from ironbound.images import source
from ironbound.sensitive import SecretBox
from ironbound.signals import Signals

LOG = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the Service."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def http_server(app: ASGIApp, host: str, port: int, limits: connections.Limits) -> _Server:
    """A server for the API or the boot server, not yet started, bounded by `limits`.

    The client is the TCP peer: uvicorn would otherwise believe X-Forwarded-For
    from 127.0.0.1, and any local process could claim a node's pinned address.
    """
    return _Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            lifespan="off",
            http=connections.protocol(limits),
            backlog=connections.BACKLOG,
            proxy_headers=False,
            forwarded_allow_ips="",
        )
    )


@dataclass(frozen=True)
class Parts:
    api: bool = True
    conductor: bool = True
    bootserver: bool = True


def secret_box(conf: cfg.ConfigOpts) -> SecretBox:
    return SecretBox.from_file(config.key_file(conf))


def upgrade_database(url: str) -> None:
    db = Database(url)
    try:
        migrate.upgrade(db.engine)
    finally:
        db.dispose()


_SUBPROCESS = (
    "import json, sys\n"
    "from importlib import import_module\n"
    "module, name = sys.argv[1].rsplit(':', 1)\n"
    "result = getattr(import_module(module), name)(*json.loads(sys.argv[2]))\n"
    "print(json.dumps(result))\n"
)


def run_in_subprocess(function: str, *args: Any) -> Any:
    """`module:function(*args)` in a fresh interpreter; its JSON result.

    Used for work a server needs once and should not keep the memory of
    (Alembic, loading every driver). A plain subprocess rather than
    multiprocessing, which would leave its resource-tracker process running
    beside the server for good.
    """
    done = subprocess.run(
        [sys.executable, "-c", _SUBPROCESS, function, json.dumps(args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{function} failed in a subprocess:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout)


def open_database(conf: cfg.ConfigOpts, upgrade: bool) -> Database:
    db = Database(config.database_url(conf))
    if migrate.current_revision(db.engine) == migrate.SCHEMA_REVISION:
        return db
    if upgrade:
        # A short-lived subprocess runs Alembic, so that its ~10 MiB never stay
        # resident in a server that needs them once in its life.
        run_in_subprocess("ironbound.service:upgrade_database", db.url)
    else:
        raise SystemExit(
            f"The database at {db.engine.url.render_as_string(hide_password=True)} is not at "
            "the current schema: run 'ironbound db upgrade' first."
        )
    return db


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before any thread starts.

    glibc gives each thread that allocates its own arena (up to 8 per core);
    with a pool of worker threads plus uvicorn's thread pool, that multiplies
    fragmentation, and the freed memory is rarely returned. Two arenas keep
    a serving process's peak about 10 MiB lower at no measurable speed cost.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, arenas)


_M_ARENA_MAX = -8

#: The lock file a conductor process holds in its state folder for its whole life.
LOCK_FILE = "conductor.lock"


def hold_state_folder(folder: Path) -> IO[str]:
    """Lock `folder` for this process (an flock the kernel drops when it dies); the open
    lock file, to be kept open.

    Two conductors on one state folder share its SQLite database, managed volumes and
    image cache under one name: the second takes over the first's nodes and, stopping,
    marks it offline. API processes take no lock: they only read the key file.

    :raises SystemExit: another process holds it (the message names its PID).
    """
    lock = (folder / LOCK_FILE).open("a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise SystemExit(str(errors.StateFolderHeld(path=folder, pid=holder))) from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


class Service:
    def __init__(self, conf: cfg.ConfigOpts, parts: Parts = Parts()) -> None:
        limit_malloc_arenas()
        self.conf = conf
        self.parts = parts
        if parts.conductor:
            try:
                source.check_allowed_paths(conf)
            except errors.ConfigInvalid as exc:
                raise SystemExit(str(exc)) from exc
        # Held before the database is opened, so a refused process changes nothing.
        self._lock = hold_state_folder(config.state_path(conf)) if parts.conductor else None
        # SQLite has no other process to upgrade it; PostgreSQL is upgraded
        # explicitly (`ironbound db upgrade`) so that many processes do not race.
        self.db = open_database(conf, upgrade=config.database_url(conf).startswith("sqlite"))
        self.box = secret_box(conf)
        self.signals = Signals()
        self.conductor: Conductor | None = None
        self._servers: list[_Server] = []
        self.descriptors = 0  # the RLIMIT_NOFILE soft limit, once raised

    def _uvicorn(self, app: ASGIApp, host: str, port: int, limits: connections.Limits) -> _Server:
        server = http_server(app, host, port, limits)
        self._servers.append(server)
        return server

    def _wanted(self) -> list[tuple[ASGIApp, str, int, connections.Limits]]:
        """The HTTP servers this process runs: app, address, port, connection bounds."""
        wanted: list[tuple[ASGIApp, str, int, connections.Limits]] = []
        if self.parts.api:
            services = ApiServices(self.conf, self.db, self.box, self.signals)
            api = self.conf.api
            wanted.append(
                (
                    create_app(services),
                    api.host_ip,
                    api.port,
                    connections.Limits("API", api.max_connections, api.idle_timeout),
                )
            )
        if self.parts.bootserver:
            from ironbound.bootserver.app import create_boot_app  # noqa: PLC0415

            boot = self.conf.bootserver
            limits = connections.Limits(
                "boot server", boot.max_connections, boot.idle_timeout,
                boot.max_connections_per_address,
            )  # fmt: skip
            app = create_boot_app(self.conf, self.db, self.box, self.signals)
            wanted.append((app, boot.host, boot.port, limits))
        return wanted

    def _stop_servers(self) -> None:
        for server in self._servers:
            server.should_exit = True

    async def _serve(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop_servers)
        wanted = self._wanted()
        fitted = connections.within(self.descriptors, [server[3] for server in wanted])
        servers = [
            self._uvicorn(app, host, port, limits)
            for (app, host, port, _), limits in zip(wanted, fitted, strict=True)
        ]
        if not servers:
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            return
        await asyncio.gather(*(s.serve() for s in servers))

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; the exit status for the command."""
        self.descriptors = connections.raise_descriptor_limit()
        logging.getLogger("asyncio").addFilter(connections.ExhaustionFilter())
        if self.parts.conductor:
            ctx = ConductorContext(
                conf=self.conf,
                db=self.db,
                box=self.box,
                registry=registry.Registry(self.conf),
                hostname=self.conf.host,
                signals=self.signals,
            )
            self.conductor = Conductor(ctx)
            # Loading every driver in a subprocess checks them all and reads their
            # properties, while this process loads a driver only when a node
            # needs it (see ironbound.drivers.registry).
            properties = run_in_subprocess(
                "ironbound.drivers.registry:describe", *config.sources(self.conf)
            )
            self.conductor.start(properties)
        try:
            asyncio.run(self._serve())
        finally:
            if self.conductor is not None:
                self.conductor.stop()
            self.db.dispose()
        failed = [s for s in self._servers if not s.started]
        return 1 if failed else 0
