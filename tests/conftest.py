"""Fixtures shared by every test: a real database, a real conductor, the real API.

Tests go through the HTTP surface (Starlette's TestClient) against SQLite
files in a temporary folder, with the conductor's worker threads running in
the test process, exactly as `ironbound serve` wires them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound import config
from ironbound.api.app import create_app
from ironbound.api.services import ApiServices
from ironbound.conductor.context import ConductorContext
from ironbound.conductor.worker import Conductor
from ironbound.db import migrate
from ironbound.db.session import Database
from ironbound.drivers.registry import Registry
from ironbound.secrets import SecretBox

LATEST = {"X-OpenStack-Ironic-API-Version": "latest"}


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Config overrides for this test; override the fixture to change them."""
    return {}


@pytest.fixture
def conf(tmp_path: Path, overrides: dict[str, Any]) -> cfg.ConfigOpts:
    base: dict[str, Any] = {
        "state_path": str(tmp_path / "state"),
        "conductor.node_locked_retry_attempts": 2,
        "conductor.node_locked_retry_interval": 0.2,
        "conductor.sync_job_timeout": 20.0,
        "conductor.workers_pool_size": 2,
    }
    base.update(overrides)
    return config.load(overrides=base)


@pytest.fixture
def conductor(conf: cfg.ConfigOpts) -> Iterator[Conductor]:
    db = Database(config.database_url(conf))
    migrate.upgrade(db.engine)
    ctx = ConductorContext(
        conf=conf,
        db=db,
        box=SecretBox.from_file(config.state_path(conf) / "secret.key"),
        registry=Registry(conf),
        hostname="test-conductor",
    )
    worker = Conductor(ctx)
    worker.start()
    yield worker
    worker.stop()
    db.dispose()


@pytest.fixture
def services(conductor: Conductor) -> ApiServices:
    ctx = conductor.ctx
    return ApiServices(ctx.conf, ctx.db, ctx.box, ctx.signals)


@pytest.fixture
def client(services: ApiServices) -> Iterator[TestClient]:
    with TestClient(
        create_app(services), base_url="http://127.0.0.1:6385", headers=LATEST
    ) as test_client:
        yield test_client


def fault(response: Any) -> str:
    """The faultstring of an error in Ironic's envelope."""
    return str(json.loads(response.json()["error_message"])["faultstring"])


def wait_until(
    predicate: Callable[[], bool], timeout: float = 20.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def wait_for_state(
    client: TestClient, node: str, state: str, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll the node until its provision_state is `state` (fails early on a failed state)."""
    seen: dict[str, Any] = {}

    def reached() -> bool:
        seen.update(client.get(f"/v1/nodes/{node}").json())
        current = seen["provision_state"]
        if current != state and (current.endswith("failed") or current == "error"):
            raise AssertionError(f"node went to {current}: {seen['last_error']}")
        return bool(current == state and not seen["target_provision_state"])

    wait_until(reached, timeout, f"node {node} to reach {state}")
    return seen
