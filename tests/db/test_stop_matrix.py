"""No stop leaves a node locked: every combination of how a conductor stops (SIGTERM
with a job that outlasts the grace period, or SIGKILL), who comes next (the same
host name or another), on SQLite and on PostgreSQL, with real `ironbound serve`
processes."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from ironbound.db import migrate, nodes
from ironbound.db.session import Database
from ironbound.lab.serve import ServeProcess, ironbound_serve

HEADERS = {"X-OpenStack-Ironic-API-Version": "latest"}
GRACE = 1.0


def _config(database: str | None, host: str, deploy_delay: float) -> str:
    lines = [
        "[DEFAULT]",
        f"host = {host}",
        f"graceful_shutdown_timeout = {GRACE}",
        "[conductor]",
        "heartbeat_interval = 0.2",
        "heartbeat_timeout = 2.0",
        "job_poll_interval = 0.1",
        "[api]",
        "settle_time = 0",
        "[fake]",
        f"deploy_delay = {deploy_delay}",
    ]
    if database:
        lines += ["[database]", f"connection = {database}"]
    return "\n".join(lines) + "\n"


def _node(serve: ServeProcess, uuid: str) -> dict[str, Any]:
    body: dict[str, Any] = requests.get(
        f"{serve.url}/v1/nodes/{uuid}", headers=HEADERS, timeout=10
    ).json()
    return body


def _until(serve: ServeProcess, uuid: str, state: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        node = _node(serve, uuid)
        if node["provision_state"] == state and node["reservation"] is None:
            return node
        assert time.monotonic() < deadline, f"node never reached {state} unlocked: {node}"
        time.sleep(0.1)


def _act(serve: ServeProcess, uuid: str, verb: str) -> None:
    response = requests.put(
        f"{serve.url}/v1/nodes/{uuid}/states/provision",
        json={"target": verb},
        headers=HEADERS,
        timeout=30,
    )
    assert response.status_code == 202, response.text


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | None, str]:
    """The [database]connection to configure (None: SQLite in the state folder), and its URL."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        db = Database(url)  # as `ironbound db upgrade` does before any server starts
        migrate.upgrade(db.engine)
        db.dispose()
        return url, url
    return None, f"sqlite:///{tmp_path / 'serve' / 'state' / 'ironbound.sqlite'}"


@pytest.mark.parametrize("next_host", ["same", "other"])
@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_stop_frees_nodes(
    database: tuple[str | None, str], tmp_path: Path, how: str, next_host: str
) -> None:
    configured, url = database
    folder = tmp_path / "serve"
    with ironbound_serve(folder, _config(configured, "alpha", deploy_delay=120)) as first:
        node = requests.post(
            f"{first.url}/v1/nodes",
            json={"driver": "fake-hardware", "deploy_interface": "fake"},
            headers=HEADERS,
            timeout=10,
        ).json()
        uuid = node["uuid"]
        for verb, state in (("manage", "manageable"), ("provide", "available")):
            _act(first, uuid, verb)
            _until(first, uuid, state)
        _act(first, uuid, "active")
        deadline = time.monotonic() + 30
        while _node(first, uuid)["reservation"] != "alpha":
            assert time.monotonic() < deadline, "the deploy never started"
            time.sleep(0.05)
        stopped_at = time.monotonic()
        first.process.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        status = first.process.wait(60)
    if how == "sigterm":
        # The stop itself freed the node: within its grace period, exit 0.
        assert status == 0
        assert time.monotonic() - stopped_at < GRACE + 15
        db = Database(url)
        try:
            with db.read() as session:
                row = nodes.get_by_uuid(session, uuid)
                assert (row.reservation, row.provision_state) == (None, "deploy failed")
                assert "Conductor alpha stopped before its job finished" in (row.last_error or "")
        finally:
            db.dispose()
    else:
        assert status == -signal.SIGKILL

    host = "alpha" if next_host == "same" else "beta"
    with ironbound_serve(folder, _config(configured, host, deploy_delay=0)) as second:
        failed = _until(second, uuid, "deploy failed")
        expected = {
            ("sigterm", "same"): "Conductor alpha stopped before its job finished",
            ("sigterm", "other"): "Conductor alpha stopped before its job finished",
            ("sigkill", "same"): "Conductor alpha restarted",
            ("sigkill", "other"): "Conductor alpha stopped heartbeating",
        }[how, next_host]
        assert expected in failed["last_error"]
        assert "'deploying'" in failed["last_error"]
        # The node works again: undeploy it and deploy it anew.
        _act(second, uuid, "deleted")
        _until(second, uuid, "available")
        _act(second, uuid, "active")
        _until(second, uuid, "active")
