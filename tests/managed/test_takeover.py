"""A conductor killed mid-deploy leaves no live export: whoever takes over (another
conductor, or the same one restarted) fails the deploy and detaches it as after any
failed deploy, with real `ironbound serve` processes, SIGKILL and a real tgtd."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import update

from ironbound.api.services import ApiServices
from ironbound.db import jobs, nodes, tokens
from ironbound.db.models import Job, Node
from ironbound.db.session import Database
from ironbound.jobspec import JobKind, Provision
from ironbound.lab.ports import free_tcp_port
from ironbound.lab.serve import ServeProcess, ironbound_serve
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import provision
from tests.conftest import wait_until
from tests.managed.support import boot_target, enroll, initiator, volume_of

HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}
#: What the taking-over conductor is given to clean up: well within a node's patience.
BOUND = 30.0


@pytest.fixture
def overrides() -> dict[str, Any]:
    """The in-process conductor looks for holders that are gone every 0.1 s."""
    return {"conductor.heartbeat_interval": 0.1, "conductor.heartbeat_timeout": 1.0}


def _config(host: str, tgtd: TgtServer, boot_port: int, power_delay: float) -> str:
    """A conductor whose fake BMC takes `power_delay` s to power on: the deploy holds the
    node's lock there, after its volume is exported and its boot token issued."""
    return f"""[DEFAULT]
host = {host}
[conductor]
heartbeat_interval = 0.2
heartbeat_timeout = 2.0
job_poll_interval = 0.1
[api]
settle_time = 0
[deploy]
http_url = http://127.0.0.1:{boot_port}
[fake]
power_delay = {power_delay}
[managed]
tgt_control_port = {tgtd.control_port}
target_portal = {tgtd.host_portals[0]}
default_volume_size_gb = 1
"""


def _call(serve: ServeProcess, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{serve.url}/v1{path}", json=body, headers=HEADERS, timeout=30
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def _wait(what: str, check: Any, timeout: float = BOUND) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.1)


def _enroll(serve: ServeProcess, keep: bool) -> str:
    """A managed node booting with ipxe, available."""
    node = _call(
        serve,
        "POST",
        "/nodes",
        {
            "driver": "fake-hardware",
            "boot_interface": "ipxe",
            "deploy_interface": "direct",
            "storage_interface": "managed",
            "properties": {"capabilities": "iscsi_boot:True"},
            "instance_info": {"keep_boot_volume": keep},
        },
    )["uuid"]
    _call(serve, "POST", "/ports", {"node_uuid": node, "address": "52:54:00:aa:bb:01"})
    connector = {"node_uuid": node, "type": "iqn", "connector_id": initiator()}
    _call(serve, "POST", "/volume/connectors", connector)
    for verb, state in (("manage", "manageable"), ("provide", "available")):
        _call(serve, "PUT", f"/nodes/{node}/states/provision", {"target": verb})
        _wait(state, lambda s=state: _call(serve, "GET", f"/nodes/{node}")["provision_state"] == s)
    return str(node)


def _powering_on(serve: ServeProcess, node: str) -> bool:
    shown = _call(serve, "GET", f"/nodes/{node}")
    return "power on" in str(shown["deploy_step"]) and shown["reservation"] is not None


@pytest.mark.parametrize("keep", [False, True])
@pytest.mark.parametrize("next_host", ["alpha", "beta"])
def test_a_takeover_detaches_the_killed_deploy(
    tmp_path: Path, tgtd: TgtServer, next_host: str, keep: bool
) -> None:
    folder = tmp_path / "serve"
    boot_port = free_tcp_port()
    with ironbound_serve(
        folder, _config("alpha", tgtd, boot_port, 120), boot_port=boot_port
    ) as first:
        node = _enroll(first, keep)
        _call(first, "PUT", f"/nodes/{node}/states/provision", {"target": "active"})
        _wait("the deploy's power on", lambda: _powering_on(first, node))
        (volume,) = _call(first, "GET", f"/volume/managed?node={node}&detail=True")["volumes"]
        assert volume["target_iqn"] in tgtd.show()
        assert volume["auth_username"] in tgtd.accounts()
        first.process.send_signal(signal.SIGKILL)
        assert first.process.wait(60) == -signal.SIGKILL

    config = _config(next_host, tgtd, boot_port, 0)
    with ironbound_serve(folder, config, boot_port=boot_port) as second:
        started = time.monotonic()
        _wait("the export's end", lambda: volume["target_iqn"] not in tgtd.show())
        assert volume["auth_username"] not in tgtd.accounts()
        shown = _call(second, "GET", f"/nodes/{node}")
        assert shown["provision_state"] == "deploy failed"
        assert "Conductor alpha" in shown["last_error"]
        left = _call(second, "GET", f"/volume/managed?node={node}&detail=True")["volumes"]
        if keep:  # kept for the node's next deploy, data and all
            assert [(v["uuid"], v["state"]) for v in left] == [(volume["uuid"], "kept")]
            assert Path(volume["path"]).exists()
        else:  # the failed deploy's own fresh volume: nothing is left behind
            assert left == []
            assert not Path(volume["path"]).exists()
        db = Database(f"sqlite:///{folder / 'state' / 'ironbound.sqlite'}")
        try:
            with db.read() as session:
                assert tokens.get(session, nodes.get_by_uuid(session, node).id) is None
        finally:
            db.dispose()
        assert time.monotonic() - started < BOUND
        # The node works again.
        _call(second, "PUT", f"/nodes/{node}/states/provision", {"target": "deleted"})
        _wait(
            "available",
            lambda: _call(second, "GET", f"/nodes/{node}")["provision_state"] == "available",
        )
        if keep:
            _call(second, "DELETE", f"/volume/managed/{volume['uuid']}")


def test_a_rebuild_abandoned_before_its_attach_keeps_the_volume_the_node_ran_on(
    client: TestClient, services: ApiServices, tgtd: TgtServer
) -> None:
    """The clean-up of an abandoned rebuild never deletes: the volume is the node's data,
    though the deploy that made it (and still names it fresh) is the one before."""
    node = enroll(client, initiator())
    provision(client, node, "active", "active")
    volume = volume_of(services, boot_target(client, node)["volume_id"])
    assert volume is not None and volume.target_iqn in tgtd.show()
    with services.db.write() as session:  # a rebuild whose conductor is gone, mid-validate
        held = {"provision_state": "deploying", "reservation": "gone-host"}
        session.execute(update(Node).where(Node.uuid == node).values(**held))
        node_id = nodes.get_by_uuid(session, node).id
        job = session.get(Job, jobs.enqueue(session, node_id, JobKind.DEPLOY, Provision("rebuild")))
        assert job is not None
        job.status, job.conductor = "running", "gone-host"
    wait_until(lambda: volume.target_iqn not in tgtd.show(), what="the abandoned rebuild's detach")
    wait_until(lambda: _state(services, volume.uuid) == "kept", what="the volume kept")
    assert Path(volume.path).exists()


def _state(services: ApiServices, volume_uuid: str) -> str | None:
    found = volume_of(services, volume_uuid)
    return None if found is None else found.state
