"""Scale-out as an operator runs it: `ironbound db upgrade`, then separate
`ironbound api` and `ironbound conductor` processes sharing one PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from ironbound.db import migrate
from ironbound.lab.ports import accepts, free_tcp_port

HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}


def _ironbound(*args: str) -> list[str]:
    return [sys.executable, "-m", "ironbound.cli", *args]


@contextmanager
def _running(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        status = process.wait(60)
    assert status == 0, f"{argv[3]} exited {status}:\n{log.read_text()}"


def test_api_and_conductor_processes_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    ini = tmp_path / "ironbound.conf"
    ini.write_text(
        f"[database]\nconnection = {postgres_url}\n"
        "[conductor]\njob_poll_interval = 0.1\nheartbeat_interval = 0.5\n"
    )
    common = ["--config-file", str(ini), "--state-dir", str(tmp_path / "state")]
    # An API process refuses a database that is not at the current schema.
    refused = subprocess.run(
        _ironbound("api", *common, "--port", str(free_tcp_port())),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode != 0 and "run 'ironbound db upgrade' first" in refused.stderr
    upgrade = subprocess.run(
        _ironbound("db", "upgrade", *common),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert f"database revision: {migrate.SCHEMA_REVISION}" in upgrade.stdout
    port = free_tcp_port()
    conductor_argv = _ironbound("conductor", *common, "--boot-port", str(free_tcp_port()))
    with (
        _running(conductor_argv, tmp_path / "conductor.log"),
        _running(_ironbound("api", *common, "--port", str(port)), tmp_path / "api.log"),
    ):
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not (
            accepts(port)
            and requests.get(f"{url}/v1/drivers", headers=HEADERS, timeout=5).json()["drivers"]
        ):
            assert time.monotonic() < deadline, "the API never saw the conductor's drivers"
            time.sleep(0.2)
        node = requests.post(
            f"{url}/v1/nodes", json={"driver": "fake-hardware"}, headers=HEADERS, timeout=10
        ).json()
        assert node["provision_state"] == "enroll"
        for verb, state in (
            ("manage", "manageable"),
            ("provide", "available"),
            ("active", "active"),
        ):
            response = requests.put(
                f"{url}/v1/nodes/{node['uuid']}/states/provision",
                json={"target": verb},
                headers=HEADERS,
                timeout=10,
            )
            assert response.status_code == 202
            while (
                requests.get(f"{url}/v1/nodes/{node['uuid']}", headers=HEADERS, timeout=10).json()[
                    "provision_state"
                ]
                != state
            ):
                assert time.monotonic() < deadline + 60, (
                    f"the conductor never moved the node to {state}"
                )
                time.sleep(0.1)
        validation = requests.get(
            f"{url}/v1/nodes/{node['uuid']}/validate", headers=HEADERS, timeout=30
        )
        assert validation.status_code == 200 and validation.json()["power"]["result"] is True


def test_two_conductor_groups_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """Conductors in two groups share one database; each node is worked on by its group's."""
    settings = "[conductor]\njob_poll_interval = 0.1\nheartbeat_interval = 0.5\n"
    inis = {}
    for host, group in (("plain-host", ""), ("rack-b-host", "Rack-B")):
        inis[host] = tmp_path / f"{host}.conf"
        inis[host].write_text(
            f"[DEFAULT]\nhost = {host}\n[database]\nconnection = {postgres_url}\n"
            f"{settings}conductor_group = {group}\n"
            f"[secrets]\nkey_file = {tmp_path / 'secret.key'}\n"
        )
    state = ["--state-dir", str(tmp_path / "state")]
    upgrade = subprocess.run(
        _ironbound("db", "upgrade", "--config-file", str(inis["plain-host"]), *state),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert upgrade.returncode == 0, upgrade.stderr
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"

    def conductor(host: str) -> list[str]:  # a state folder each: one conductor's
        return _ironbound(
            "conductor", "--config-file", str(inis[host]),
            "--state-dir", str(tmp_path / f"{host}-state"), "--boot-port", str(free_tcp_port()),
        )  # fmt: skip

    api = _ironbound("api", "--config-file", str(inis["plain-host"]), *state, "--port", str(port))
    with (
        _running(conductor("plain-host"), tmp_path / "plain.log"),
        _running(conductor("rack-b-host"), tmp_path / "rack-b.log"),
        _running(api, tmp_path / "api.log"),
    ):
        deadline = time.monotonic() + 60

        def listed() -> dict[str, str]:
            if not accepts(port):
                return {}
            found = requests.get(f"{url}/v1/conductors", headers=HEADERS, timeout=5).json()
            return {c["hostname"]: c["conductor_group"] for c in found["conductors"]}

        while listed() != {"plain-host": "", "rack-b-host": "rack-b"}:
            assert time.monotonic() < deadline, f"the conductors never registered: {listed()}"
            time.sleep(0.2)
        time.sleep(2.5)  # the API's cached catalogue (2 s) now holds both
        made = {}
        for group in ("", "rack-b"):
            body = {"driver": "fake-hardware", "conductor_group": group}
            made[group] = requests.post(
                f"{url}/v1/nodes", json=body, headers=HEADERS, timeout=10
            ).json()
        assert made[""]["conductor"] == "plain-host"
        assert made["rack-b"]["conductor"] == "rack-b-host"
        for node in made.values():
            response = requests.put(
                f"{url}/v1/nodes/{node['uuid']}/states/provision",
                json={"target": "manage"},
                headers=HEADERS,
                timeout=10,
            )
            assert response.status_code == 202, response.text
        for node in made.values():
            while (
                requests.get(f"{url}/v1/nodes/{node['uuid']}", headers=HEADERS, timeout=10).json()[
                    "provision_state"
                ]
                != "manageable"
            ):
                assert time.monotonic() < deadline + 60, "a group's conductor never took its node"
                time.sleep(0.1)
        lost = requests.post(
            f"{url}/v1/nodes",
            json={"driver": "fake-hardware", "conductor_group": "rack-c"},
            headers=HEADERS,
            timeout=10,
        )
        assert lost.status_code == 400 and "No valid host" in lost.text
