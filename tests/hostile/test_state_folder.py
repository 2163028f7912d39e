"""A state folder is one conductor process's: a second is refused and the first keeps working.

Started by mistake (a second unit, a shell left over), a second `ironbound
serve` on a folder in use would share its SQLite database under the same
conductor name, take over its nodes and, stopping, mark it offline. It must
exit at once, non-zero, naming the holder's PID; an `ironbound api` process
may share the folder (it only reads the key file and the database).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests

from ironbound.lab.ports import accepts, free_tcp_port
from tests.serving import Server, serve

HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}
CONFIG = "[DEFAULT]\nauth_strategy = noauth\n[conductor]\njob_poll_interval = 0.1\n"


def _ironbound(command: str, folder: Path, *ports: str) -> list[str]:
    return [
        sys.executable, "-m", "ironbound.cli", command,
        "--config-file", str(folder / "ironbound.conf"), "--state-dir", str(folder / "state"),
        *ports,
    ]  # fmt: skip


def _second(command: str, folder: Path, *ports: str) -> tuple[int | None, str]:
    """Run a second process on `folder`: its exit status and stderr, or (None, log) once
    it has served for a moment (then it is stopped)."""
    process = subprocess.Popen(
        _ironbound(command, folder, *ports), stderr=subprocess.PIPE, text=True
    )
    port = int(ports[1])
    deadline = time.monotonic() + 60
    while process.poll() is None and not accepts(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if process.poll() is None:
        process.terminate()
        _, stderr = process.communicate(timeout=60)
        return None, stderr
    return process.returncode, process.communicate(timeout=10)[1]


def _deploys(server: Server) -> None:
    """A fake-hardware node goes from enroll to active on `server`."""
    url = f"{server.url}/v1/nodes"
    created = requests.post(url, json={"driver": "fake-hardware"}, headers=HEADERS, timeout=10)
    assert created.status_code == 201, created.text
    uuid = created.json()["uuid"]
    deadline = time.monotonic() + 60
    for verb, state in (("manage", "manageable"), ("provide", "available"), ("active", "active")):
        answer = requests.put(
            f"{url}/{uuid}/states/provision", json={"target": verb}, headers=HEADERS, timeout=10
        )
        assert answer.status_code == 202, answer.text
        while (node := server.node(uuid))["provision_state"] != state:
            assert time.monotonic() < deadline, node
            time.sleep(0.1)


def test_a_second_serve_is_refused_naming_the_holder_and_the_first_keeps_working(
    tmp_path: Path,
) -> None:
    with serve(tmp_path, CONFIG) as server:
        status, stderr = _second(
            "serve", tmp_path, "--port", str(free_tcp_port()), "--boot-port", str(free_tcp_port())
        )
        assert status not in (None, 0), stderr
        assert f"is held by process {server.process.pid}" in stderr
        _deploys(server)


def test_an_api_process_may_share_the_folder(tmp_path: Path) -> None:
    with serve(tmp_path, CONFIG) as server:
        status, stderr = _second("api", tmp_path, "--port", str(free_tcp_port()))
        assert status is None, stderr  # it served, and stopped on SIGTERM
        _deploys(server)
