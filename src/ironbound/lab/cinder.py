"""A real OpenStack Cinder on the host loopback, for tests of Ironbound's cinder storage.

What runs, each on 127.0.0.1 and a free port, all under the work dir:

* epmd and RabbitMQ (its own node name, AMQP and distribution ports): Cinder's RPC
  transport (oslo.messaging's fake:// does not cross processes);
* a private tgtd (lab.tgt.TgtServer, its own control port and portal);
* cinder-api (noauth: every request carries `X-Auth-Token: admin:admin`),
  cinder-scheduler and cinder-volume from the cached Cinder venv (toolenv.cinder_venv),
  with SQLite and a file-backed volume driver (cinder_backend/cinder_file_iscsi.py)
  that hands export and attach to Cinder's own TgtAdm target helper.

Cinder's TgtAdm runs `tgtadm` and `tgt-admin` without a control port: shims first in
the services' PATH add the private tgtd's `-C` (and tgt-admin's config file). The portal
Cinder reports in connection_info is portal_address:portal_port (default: the tgtd's
own host portal); a test that boots a guest forwards a guest port to host_portal_port.
"""

import contextlib
import json
import logging
import os
import shlex
import sqlite3
import stat
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ironbound.lab import ports, procs, toolenv, tools
from ironbound.lab.errors import LabError
from ironbound.lab.state import LabState
from ironbound.lab.tgt import TgtServer

log = logging.getLogger(__name__)

TOKEN = "admin:admin"  # noqa: S105 - noauth's user:project, not a secret
BACKEND = "file1"
MULTIATTACH_TYPE = "multiattach"
_DRIVER_DIR = Path(__file__).parent / "cinder_backend"
_RABBIT_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
_PROGRAMS = ("epmd", "tgtd", "tgtadm", "tgt-admin")
_SERVICES = ("cinder-api", "cinder-scheduler", "cinder-volume")


def _write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


class CinderLab:
    """A context manager running RabbitMQ, tgtd and Cinder's three services."""

    def __init__(
        self,
        workdir: Path,
        *,
        cache_dir: Path | None = None,
        portal_address: str | None = None,
        portal_port: int | None = None,
    ) -> None:
        self.workdir = workdir.resolve()
        self.cache_dir = cache_dir or toolenv.default_cache_dir()
        self.portal_address = portal_address
        self.portal_port = portal_port
        self.logs = self.workdir / "logs"
        self.api_port = 0
        self.amqp_port = 0
        self.timings: dict[str, float] = {}
        self._tgt: TgtServer | None = None
        self._venv: Path | None = None
        self._env: dict[str, str] = {}
        self._rabbit_env: dict[str, str] = {}
        self._daemons: dict[str, procs.Daemon] = {}
        self._stops = contextlib.ExitStack()
        self._state: LabState | None = None
        self._multiattach_type: str | None = None

    # -- what tests use ----------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://{ports.LOOPBACK}:{self.api_port}/v3"

    @property
    def token(self) -> str:
        return TOKEN

    @property
    def tgt(self) -> TgtServer:
        if self._tgt is None:
            raise LabError("the Cinder lab is not started")
        return self._tgt

    @property
    def host_portal_port(self) -> int:
        return self.tgt.portal_ports[0]

    @property
    def host_portal(self) -> str:
        """Cinder's tgtd as seen from the host, e.g. '127.0.0.1:41234'."""
        return self.tgt.host_portals[0]

    @property
    def reported_portal(self) -> str:
        """The portal Cinder puts in connection_info, e.g. '10.0.2.2:3262'."""
        return (
            f"{self.portal_address or ports.LOOPBACK}:{self.portal_port or self.host_portal_port}"
        )

    def backing_file(self, volume_id: str) -> Path:
        """The sparse file behind a volume (to put a disk image on it, as an upload would)."""
        return self.workdir / "volumes" / f"volume-{volume_id}"

    def facts(self) -> dict[str, object]:
        """What a client needs, as JSON-able data."""
        return {
            "workdir": str(self.workdir),
            "endpoint": self.endpoint,
            "token": self.token,
            "host_portal": self.host_portal,
            "reported_portal": self.reported_portal,
            "tgt_control_port": self.tgt.control_port,
            "amqp_port": self.amqp_port,
            "logs": str(self.logs),
            "start_timings_s": self.timings,
        }

    def block_storage(self, *, as_service: bool = False) -> Any:
        """An openstacksdk block-storage proxy sending the noauth token on every request.

        as_service adds `X-Service-Roles: service`, which noauth Cinder takes as a service
        token's roles (keystonemiddleware would set it). Only a service may delete an
        attachment that has an instance_uuid and connection_info: for anyone else Cinder
        asks Nova first, and without a Nova that is a 500.
        """
        from keystoneauth1 import session, token_endpoint  # noqa: PLC0415 - test-only deps
        from openstack import connection  # noqa: PLC0415

        # Not keystoneauth's noauth plugin: its own "notused" token would replace ours on
        # authenticated requests (Cinder would see user and project "notused"). The header
        # also goes on version discovery, which keystoneauth sends unauthenticated.
        headers = {"X-Auth-Token": self.token}
        if as_service:
            headers["X-Service-Roles"] = "service"
        sess = session.Session(
            auth=token_endpoint.Token(self.endpoint, self.token), additional_headers=headers
        )
        return connection.Connection(session=sess).block_storage

    def request(
        self, method: str, path: str, body: object = None, *, microversion: str = "3.0"
    ) -> Any:
        """A raw API call (path below /v3), returning the decoded JSON answer or None.

        The attachments API needs microversion 3.27 or later.
        """
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
            f"{self.endpoint}{path}",
            data=data,
            method=method,
            headers={
                "X-Auth-Token": self.token,
                "Content-Type": "application/json",
                "Accept": "application/json",
                "OpenStack-API-Version": f"volume {microversion}",
            },
        )
        with urllib.request.urlopen(req, timeout=30.0) as answer:  # noqa: S310
            text = answer.read()
        return json.loads(text) if text else None

    def create_volume(self, size_gb: int = 1, *, name: str, multiattach: bool = False) -> str:
        """Create a volume and wait until it is available; returns its id."""
        body: dict[str, object] = {"size": size_gb, "name": name}
        if multiattach:
            body["volume_type"] = self._multiattach_volume_type()
        volume_id: str = self.request("POST", "/volumes", {"volume": body})["volume"]["id"]
        self.wait_volume_status(volume_id, "available")
        return volume_id

    def _multiattach_volume_type(self) -> str:
        if self._multiattach_type is None:
            found = self.request("GET", "/types")["volume_types"]
            known = [t["id"] for t in found if t["name"] == MULTIATTACH_TYPE]
            if known:
                self._multiattach_type = known[0]
            else:
                body = {
                    "volume_type": {
                        "name": MULTIATTACH_TYPE,
                        "extra_specs": {"multiattach": "<is> True"},
                    }
                }
                self._multiattach_type = self.request("POST", "/types", body)["volume_type"]["id"]
        return self._multiattach_type

    def volume(self, volume_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.request("GET", f"/volumes/{volume_id}")["volume"]
        return found

    def wait_volume_status(self, volume_id: str, status: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            current = self.volume(volume_id)["status"]
            if current == status:
                return
            if current.startswith("error") and not status.startswith("error"):
                raise LabError(
                    f"volume {volume_id} went to {current} while waiting for {status}; "
                    f"see {self.logs}/cinder-volume.log"
                )
            if time.monotonic() > deadline:
                raise LabError(f"volume {volume_id} still {current} after {timeout:.0f} s")
            time.sleep(0.1)

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        tools.require_root()
        for name in _PROGRAMS:
            tools.program(name)
        tools.file(_RABBIT_SERVER)
        self.logs.mkdir(parents=True, exist_ok=True)
        self._state = LabState(owner=procs.ProcessRecord.of("cinder-lab", os.getpid()))
        started = time.monotonic()
        try:
            self._start_pieces()
        except BaseException:
            self._stop_all()
            raise
        self.timings["total"] = round(time.monotonic() - started, 2)
        if self._state is not None:
            self._state.facts = self.facts()
            self._state.save(self.workdir)
        log.info("cinder lab: started in %.1f s %s", self.timings["total"], self.timings)
        return self

    @contextlib.contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self.timings[name] = round(time.monotonic() - started, 2)

    def _track(self, record: procs.ProcessRecord | None) -> None:
        if record is not None and self._state is not None:
            self._state.processes.append(record)
            self._state.save(self.workdir)

    def _daemon(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        """Start a process in its own session and have it stopped (by PID) on stop()."""
        daemon = procs.Daemon(name, argv, self.logs / f"{name}.out", env)
        self._daemons[name] = daemon
        self._track(daemon.record)
        self._stops.callback(daemon.stop, 5.0)

    def _start_pieces(self) -> None:
        with self._phase("venv"):
            self._venv = toolenv.cinder_venv(self.cache_dir)
        with self._phase("rabbitmq"):
            self._start_rabbitmq()
        with self._phase("tgtd"):
            tgt = self._tgt = TgtServer(self.workdir / "tgt")
            self._stops.callback(tgt.stop)
            try:
                tgt.start()
            finally:
                self._track(tgt.record)
            if self._state is not None:
                self._state.tgt_control_port = tgt.control_port
        with self._phase("cinder"):
            self._start_cinder()

    def _start_rabbitmq(self) -> None:
        base = self.workdir / "rabbitmq"
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (base / "home").chmod(0o700)  # Erlang refuses a cookie others can read
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("# empty: the lab sets everything in the env\n")
        epmd_port = ports.free_tcp_port()
        self.amqp_port = ports.free_tcp_port()
        dist_port = ports.free_tcp_port()
        self._rabbit_env = {
            "HOME": str(base / "home"),
            "ERL_EPMD_ADDRESS": ports.LOOPBACK,
            "ERL_EPMD_PORT": str(epmd_port),
            "RABBITMQ_NODENAME": f"ironbound-cinder-{epmd_port}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": ports.LOOPBACK,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        }
        self._daemon(
            "epmd",
            [tools.program("epmd"), "-address", ports.LOOPBACK, "-port", str(epmd_port)],
        )
        epmd = self._daemons["epmd"]
        procs.wait_until(lambda: ports.accepts(epmd_port), "epmd", 10.0, epmd)
        # Run as root, straight from Debian's script dir: its /usr/sbin wrapper su's to the
        # rabbitmq user, who cannot enter a private (0700) test directory.
        self._daemon("rabbitmq", [_RABBIT_SERVER], self._rabbit_env)
        rabbit = self._daemons["rabbitmq"]
        procs.wait_until(lambda: ports.accepts(self.amqp_port), "RabbitMQ", 60.0, rabbit)

    def _shims(self, tgt: TgtServer) -> Path:
        """tgtadm/tgt-admin wrappers that talk to our tgtd, and the target config it reads."""
        shims = self.workdir / "shims"
        shims.mkdir(parents=True, exist_ok=True)
        volumes_dir = self.workdir / "cinder" / "targets"
        volumes_dir.mkdir(parents=True, exist_ok=True)
        targets_conf = self.workdir / "cinder" / "targets.conf"
        targets_conf.write_text(f"include {volumes_dir}/*\n")
        port = str(tgt.control_port)
        tgtadm = shlex.join([tools.program("tgtadm"), "-C", port])
        tgt_admin = shlex.join([tools.program("tgt-admin"), "-C", port, "-c", str(targets_conf)])
        _write_executable(shims / "tgtadm", f'#!/bin/sh\nexec {tgtadm} "$@"\n')
        _write_executable(shims / "tgt-admin", f'#!/bin/sh\nexec {tgt_admin} "$@"\n')
        return shims

    def _config(self, venv: Path, tgt: TgtServer) -> Path:
        state = self.workdir / "cinder"
        conf = state / "cinder.conf"
        (state / "locks").mkdir(parents=True, exist_ok=True)
        (state / "coordination").mkdir(parents=True, exist_ok=True)
        privsep = shlex.join([str(venv / "bin" / "privsep-helper"), "--config-file", str(conf)])
        address = self.portal_address or ports.LOOPBACK
        port = self.portal_port or tgt.portal_ports[0]
        text = f"""\
[DEFAULT]
auth_strategy = noauth
transport_url = rabbit://guest:guest@{ports.LOOPBACK}:{self.amqp_port}/
host = ironbound-lab
my_ip = {ports.LOOPBACK}
osapi_volume_listen = {ports.LOOPBACK}
osapi_volume_listen_port = {self.api_port}
osapi_volume_workers = 1
api_paste_config = {venv / "etc" / "cinder" / "api-paste.ini"}
state_path = {state}
log_dir = {self.logs}
debug = true
graceful_shutdown_timeout = 1
# One project makes every volume of a whole test run: no quota may stop it at 10.
quota_volumes = -1
quota_gigabytes = -1
quota_snapshots = -1
# The scheduler learns the backend's pool from the volume service's stats: have them sent
# every few seconds (default 60), so a missed first report does not stall the start.
periodic_interval = 5
periodic_fuzzy_delay = 0
backend_stats_polling_interval = 5
scheduler_driver_init_wait_time = 10
enabled_backends = {BACKEND}
default_volume_type = __DEFAULT__

[database]
connection = sqlite:///{state / "cinder.sqlite"}?timeout=30

[oslo_concurrency]
lock_path = {state / "locks"}

[coordination]
backend_url = file://{state / "coordination"}

[cinder_sys_admin]
helper_command = {privsep}

[privsep_osbrick]
helper_command = {privsep}

[{BACKEND}]
volume_driver = cinder_file_iscsi.FileISCSIDriver
volume_backend_name = {BACKEND}
target_helper = tgtadm
target_protocol = iscsi
target_ip_address = {address}
target_port = {port}
volumes_dir = {state / "targets"}
file_volumes_dir = {self.workdir / "volumes"}
"""
        conf.write_text(text)
        return conf

    def _start_cinder(self) -> None:
        assert self._venv is not None
        venv, tgt = self._venv, self.tgt
        self.api_port = ports.free_tcp_port()
        shims = self._shims(tgt)
        conf = self._config(venv, tgt)
        self._env = {
            "PATH": os.pathsep.join(
                [str(shims), str(venv / "bin"), os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]
            ),
            "PYTHONPATH": str(_DRIVER_DIR),
            "PYTHONWARNINGS": "ignore",
        }
        bin_dir = venv / "bin"
        started = time.monotonic()
        procs.run(
            [str(bin_dir / "cinder-manage"), "--config-file", str(conf), "db", "sync"],
            timeout=120.0,
            env={**os.environ, **self._env},
        )
        # Three processes share the file: WAL lets readers and a writer overlap, where the
        # default rollback journal answers "database is locked" under light load.
        with contextlib.closing(sqlite3.connect(self.workdir / "cinder" / "cinder.sqlite")) as db:
            db.execute("PRAGMA journal_mode=WAL")
        self.timings["db sync"] = round(time.monotonic() - started, 2)
        for name in _SERVICES:
            self._daemon(name, [str(bin_dir / name), "--config-file", str(conf)], self._env)
        api = self._daemons["cinder-api"]
        procs.wait_until(lambda: ports.accepts(self.api_port), "cinder-api", 60.0, api)
        procs.wait_until(self._ready, "cinder-scheduler and cinder-volume up", 90.0, api)

    def _ready(self) -> bool:
        """Both services report up and the scheduler knows the backend's pool."""
        for name in _SERVICES:
            self._daemons[name].check_running()
        try:
            services = self.request("GET", "/os-services")["services"]
            up = {s["binary"] for s in services if s["state"] == "up"}
            if not {"cinder-scheduler", "cinder-volume"} <= up:
                return False
            pools = self.request("GET", "/scheduler-stats/get_pools")["pools"]
        except (OSError, ValueError, KeyError):
            return False
        return bool(pools)

    def stop(self) -> None:
        """Stop everything that started, newest first; raise at the end if a step failed."""
        error = self._stop_all()
        if error is not None:
            raise LabError(f"the Cinder lab did not stop cleanly: {error}") from error

    def _stop_all(self) -> Exception | None:
        started = time.monotonic()
        stops, self._stops = self._stops, contextlib.ExitStack()
        error: Exception | None = None
        try:
            stops.close()
        except Exception as exc:
            log.exception("cinder lab: stopping failed")
            error = exc
        self._daemons.clear()
        self._tgt = None
        if self._state is not None:
            self._state.processes = []
            self._state.save(self.workdir)
            self._state = None
        self.timings["stop"] = round(time.monotonic() - started, 2)
        log.info("cinder lab: stopped in %.1f s", self.timings["stop"])
        return error
