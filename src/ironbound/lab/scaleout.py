"""Ironbound scaled out: `ironbound api` and `ironbound conductor` processes on one database.

Started as an operator starts them: `ironbound db upgrade` first, then every
process with the shared config file (a conductor adds one naming its host),
sharing one secret key ([secrets]key_file). Each conductor has a state folder of
its own (a state folder is one conductor's); the APIs share the first. The key is
made before any process starts, as an operator makes one (a Fernet key: 32 random
bytes, URL-safe base64): processes starting together must not each make their own.
Stopped with SIGTERM, APIs first; their exit statuses are kept.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ironbound.lab.ports import free_tcp_port
from ironbound.lab.procs import Daemon, run, wait_until

#: The first microversion of /v1/conductors.
CONDUCTORS_VERSION = "1.49"


@dataclass
class ScaleOut:
    api_urls: list[str]
    conductor_hosts: list[str]
    daemons: list[Daemon]
    #: Filled in as the processes are stopped: name -> exit status (0: clean stop).
    exit_statuses: dict[str, int] = field(default_factory=dict)

    @property
    def pids(self) -> list[int]:
        return [daemon.record.pid for daemon in self.daemons]


def _ironbound(*args: str) -> list[str]:
    return [sys.executable, "-m", "ironbound.cli", *args]


def lists_conductors(url: str, hosts: Sequence[str]) -> bool:
    """Whether the API at `url` answers and lists every one of `hosts` as alive."""
    request = urllib.request.Request(  # noqa: S310 (the http:// URL this module made)
        f"{url}/v1/conductors", headers={"X-OpenStack-Ironic-API-Version": CONDUCTORS_VERSION}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
            listed = json.load(answer)["conductors"]
    except (OSError, ValueError, KeyError):  # not up yet (URLError is an OSError)
        return False
    alive = {c["hostname"] for c in listed if c.get("alive", True)}
    return alive >= set(hosts)


def _make_key(path: Path) -> None:
    """The shared secret key, readable by its owner only; one already there is kept."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(base64.urlsafe_b64encode(os.urandom(32)))


@contextmanager
def ironbound_scale_out(
    folder: Path,
    config: str,
    database_url: str,
    *,
    apis: int,
    conductors: int,
    timeout: float = 60.0,
) -> Iterator[ScaleOut]:
    """`apis` API and `conductors` conductor processes on `database_url` (an empty database),
    with `config` (INI text, without [database]); every API lists every conductor on entry."""
    folder.mkdir(parents=True, exist_ok=True)
    ini = folder / "ironbound.conf"
    state = folder / "state"
    state.mkdir(exist_ok=True)
    ini.write_text(
        f"{config}\n[database]\nconnection = {database_url}\n"
        f"[secrets]\nkey_file = {state / 'secret.key'}\n"
    )
    common = ["--config-file", str(ini), "--state-dir", str(state)]
    shared = common[:2]
    run(_ironbound("db", "upgrade", *common), timeout=120)
    _make_key(state / "secret.key")
    hosts = [f"scale-conductor-{number}" for number in range(conductors)]
    cluster = ScaleOut([], hosts, [])
    try:
        for host in hosts:
            own = folder / f"{host}.conf"
            own.write_text(f"[DEFAULT]\nhost = {host}\n")
            argv = _ironbound(
                "conductor", *shared, "--config-file", str(own),
                "--state-dir", str(folder / f"{host}-state"), "--boot-port", str(free_tcp_port()),
            )  # fmt: skip
            cluster.daemons.append(Daemon(host, argv, folder / f"{host}.log"))
        for number in range(apis):
            port = free_tcp_port()
            name = f"scale-api-{number}"
            argv = _ironbound("api", *common, "--port", str(port))
            cluster.daemons.append(Daemon(name, argv, folder / f"{name}.log"))
            cluster.api_urls.append(f"http://127.0.0.1:{port}")
        for url, api in zip(cluster.api_urls, cluster.daemons[conductors:], strict=True):
            wait_until(
                functools.partial(lists_conductors, url, hosts),
                f"{api.name} at {url} to list {', '.join(hosts)}",
                timeout,
                api,
            )
        for daemon in cluster.daemons:
            daemon.check_running()
        yield cluster
    finally:
        for daemon in reversed(cluster.daemons):
            cluster.exit_statuses[daemon.name] = daemon.stop(timeout=timeout)
