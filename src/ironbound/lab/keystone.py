"""A real OpenStack Keystone on the host loopback, for tests of auth_strategy = keystone.

Keystone 30 runs from its cached venv (toolenv.keystone_venv) with SQLite, Fernet tokens
and every file under the work dir: `keystone-manage db_sync`, `fernet_setup`,
`credential_setup` and `bootstrap` (user admin, project admin, the identity endpoint
as public, internal and admin URL), then Keystone's WSGI app behind a threaded
wsgiref server from the standard library on 127.0.0.1 and a free port, stopped by its
PID (recorded in the lab's state file too). Keystone's app parses the command line of
the process that loads it, so the server is a small script of ours that hides its own
arguments first (under gunicorn, Keystone fails on gunicorn's arguments).

On top of bootstrap: a `service` project with the users `ironic` and `nova` (role
`service`), and a `demo` project with `mike` (role `member`) and `rita` (role `reader`).
`catalog_baremetal(url)` registers a `baremetal` endpoint for clients that find
Ironbound through the catalogue, as the `baremetal` CLI and Nova do.
"""

import logging
import os
import time
from pathlib import Path
from typing import Any, Self

import requests

from ironbound.lab import ports, procs, toolenv
from ironbound.lab.state import LabState

log = logging.getLogger(__name__)

ADMIN_PASSWORD = "admin-pw"  # noqa: S105 - a throwaway lab's password
SERVICE_PROJECT = "service"
DEMO_PROJECT = "demo"
#: user: (project, role, password) of the users made on top of bootstrap's admin.
USERS: dict[str, tuple[str, str, str]] = {
    "ironic": (SERVICE_PROJECT, "service", "ironic-pw"),
    "nova": (SERVICE_PROJECT, "service", "nova-pw"),
    "mike": (DEMO_PROJECT, "member", "mike-pw"),
    "rita": (DEMO_PROJECT, "reader", "rita-pw"),
}
REGION = "RegionOne"

_SERVER = """\
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

host, port = sys.argv[1], int(sys.argv[2])
del sys.argv[1:]  # Keystone's app parses the command line as its own
from keystone.server import wsgi  # noqa: E402


class Server(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


make_server(host, port, wsgi.initialize_public_application(), Server, Quiet).serve_forever()
"""


class KeystoneLab:
    """Keystone with SQLite on loopback; a context manager that stops it by PID."""

    def __init__(self, workdir: Path, cache_dir: Path | None = None) -> None:
        self.workdir = workdir
        self.cache_dir = cache_dir or toolenv.default_cache_dir()
        self.port = 0
        self.timings: dict[str, float] = {}
        self._daemon: procs.Daemon | None = None
        self._admin_token = ""

    @property
    def url(self) -> str:
        """The identity endpoint (v3), as auth_url and www_authenticate_uri."""
        return f"http://{ports.LOOPBACK}:{self.port}/v3"

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> Self:
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        venv = toolenv.keystone_venv(self.cache_dir)
        self.timings["venv"] = round(time.monotonic() - started, 2)
        self.port = ports.free_tcp_port()
        conf = self._config()
        env = {"OS_KEYSTONE_CONFIG_FILES": str(conf), "PYTHONWARNINGS": "ignore"}
        manage = [str(venv / "bin" / "keystone-manage"), "--config-file", str(conf)]
        whoami = ["--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid())]
        for step in (["db_sync"], ["fernet_setup", *whoami], ["credential_setup", *whoami]):
            procs.run([*manage, *step], timeout=300.0, env={**os.environ, **env})
        procs.run(
            [
                *manage,
                "bootstrap",
                "--bootstrap-password",
                ADMIN_PASSWORD,
                "--bootstrap-region-id",
                REGION,
                *(f"--bootstrap-{kind}-url={self.url}" for kind in ("admin", "internal", "public")),
            ],
            timeout=300.0,
            secrets=[ADMIN_PASSWORD],
            env={**os.environ, **env},
        )
        self.timings["manage"] = round(time.monotonic() - started, 2)
        script = self.workdir / "serve_keystone.py"
        script.write_text(_SERVER)
        self._daemon = procs.Daemon(
            "keystone",
            [str(venv / "bin" / "python"), str(script), ports.LOOPBACK, str(self.port)],
            self.workdir / "keystone.out",
            env,
        )
        # Recorded, so that `ironbound lab` teardown can stop it if this process dies.
        state = LabState(owner=procs.ProcessRecord.of("keystone-lab", os.getpid()))
        state.processes.append(self._daemon.record)
        state.save(self.workdir)
        try:
            procs.wait_until(lambda: ports.accepts(self.port), "keystone", 60.0, self._daemon)
            self._make_users()
        except BaseException:
            self.stop()
            raise
        self.timings["total"] = round(time.monotonic() - started, 2)
        log.info("keystone lab: started in %.1f s %s", self.timings["total"], self.timings)
        return self

    def stop(self) -> None:
        if self._daemon is not None:
            self._daemon.stop(5.0)
            self._daemon = None

    def _config(self) -> Path:
        conf = self.workdir / "keystone.conf"
        conf.write_text(
            f"""[DEFAULT]
log_file = {self.workdir / "keystone.log"}
[database]
connection = sqlite:///{self.workdir / "keystone.db"}
[token]
provider = fernet
[fernet_tokens]
key_repository = {self.workdir / "fernet-keys"}
[fernet_receipts]
key_repository = {self.workdir / "fernet-keys"}
[credential]
key_repository = {self.workdir / "credential-keys"}
"""
        )
        return conf

    # --- talking to Keystone ------------------------------------------------

    def token(self, user: str = "admin", *, system: bool = False) -> str:
        """A token for `user`, scoped to its project (or to the system, for admin)."""
        project, _role, password = USERS.get(user, ("admin", "admin", ADMIN_PASSWORD))
        scope: dict[str, Any] = (
            {"system": {"all": True}}
            if system
            else {"project": {"name": project, "domain": {"id": "default"}}}
        )
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": scope,
            }
        }
        response = requests.post(f"{self.url}/auth/tokens", json=body, timeout=30)
        response.raise_for_status()
        return response.headers["X-Subject-Token"]

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(
            method,
            f"{self.url}{path}",
            json=body,
            headers={"X-Auth-Token": self._admin_token},
            timeout=30,
        )
        response.raise_for_status()
        return response.json() if response.content else None

    def _ensure(self, collection: str, name: str, body: dict[str, Any]) -> str:
        """The id of `collection`'s item named `name`, created with `body` if missing."""
        found = self._call("GET", f"/{collection}?name={name}")[collection]
        if found:
            return str(found[0]["id"])
        kind = collection.rstrip("s")
        return str(self._call("POST", f"/{collection}", {kind: {"name": name, **body}})[kind]["id"])

    def _make_users(self) -> None:
        self._admin_token = self.token("admin")
        projects = {
            name: self._ensure("projects", name, {"domain_id": "default"})
            for name in (SERVICE_PROJECT, DEMO_PROJECT)
        }
        roles: dict[str, str] = {}
        for user, (project, role, password) in USERS.items():
            roles.setdefault(role, self._ensure("roles", role, {}))
            user_id = self._ensure(
                "users", user, {"domain_id": "default", "password": password, "enabled": True}
            )
            self._call("PUT", f"/projects/{projects[project]}/users/{user_id}/roles/{roles[role]}")

    def catalog_baremetal(self, url: str) -> None:
        """Register (or move) the `baremetal` service's endpoints to `url`."""
        service = self._ensure("services", "ironic", {"type": "baremetal", "enabled": True})
        endpoints = self._call("GET", f"/endpoints?service_id={service}")["endpoints"]
        for endpoint in endpoints:
            self._call("DELETE", f"/endpoints/{endpoint['id']}")
        for interface in ("public", "internal", "admin"):
            self._call(
                "POST",
                "/endpoints",
                {
                    "endpoint": {
                        "service_id": service,
                        "interface": interface,
                        "url": url,
                        "region_id": REGION,
                    }
                },
            )

    def authtoken_config(self, user: str = "ironic") -> str:
        """Ironbound's [keystone_authtoken] section, as its service user `user`."""
        project, _role, password = USERS[user]
        return f"""[keystone_authtoken]
www_authenticate_uri = {self.url}
auth_url = {self.url}
auth_type = password
username = {user}
password = {password}
project_name = {project}
user_domain_name = Default
project_domain_name = Default
"""
