"""Fixtures shared by every test: a real database, a real conductor, the real API.

Tests go through the HTTP surface (Starlette's TestClient) against SQLite
files in a temporary folder, with the conductor's worker threads running in
the test process, exactly as `ironbound serve` wires them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
from ironbound.lab.bridges import GATEWAY
from ironbound.lab.cinder import CinderLab
from ironbound.lab.environment import GUEST_CINDER_PORTAL_PORT
from ironbound.lab.keystone import KeystoneLab
from ironbound.lab.state import STATE_FILE
from ironbound.lab.teardown import stop_lab_dir
from ironbound.lab.tgt import TgtServer
from ironbound.sensitive import SecretBox

LATEST = {"X-OpenStack-Ironic-API-Version": "latest"}


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Config overrides for this test; override the fixture to change them."""
    return {}


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database migrated once per run; each test starts from a copy."""
    path: Path = tmp_path_factory.mktemp("schema") / "ironbound.sqlite"
    db = Database(f"sqlite:///{path}")
    migrate.upgrade(db.engine)
    db.dispose()
    return path


@pytest.fixture
def conf(tmp_path: Path, overrides: dict[str, Any], migrated_template: Path) -> cfg.ConfigOpts:
    base: dict[str, Any] = {
        "state_path": str(tmp_path / "state"),
        "deploy.http_url": "http://192.0.2.1:8080",
        "deploy.boot_settle_time": 0.3,
        "conductor.node_locked_retry_attempts": 2,
        "conductor.node_locked_retry_interval": 0.2,
        "conductor.sync_job_timeout": 20.0,
        "conductor.workers_pool_size": 2,
    }
    base.update(overrides)
    conf = config.load(overrides=base)
    url = config.database_url(conf)
    if url.startswith("sqlite:///"):
        # Running the migrations is half of a test's set-up; the conductor
        # fixture still calls migrate.upgrade(), which finds the schema at head.
        shutil.copyfile(migrated_template, url.removeprefix("sqlite:///"))
    return conf


@contextmanager
def running_conductor(conf: cfg.ConfigOpts, hostname: str) -> Iterator[Conductor]:
    """A conductor with its worker threads, on `conf`'s database, until the block ends."""
    db = Database(config.database_url(conf))
    migrate.upgrade(db.engine)
    ctx = ConductorContext(
        conf=conf,
        db=db,
        box=SecretBox.from_file(config.state_path(conf) / "secret.key"),
        registry=Registry(conf),
        hostname=hostname,
    )
    worker = Conductor(ctx)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()
        db.dispose()


@pytest.fixture
def conductor(conf: cfg.ConfigOpts) -> Iterator[Conductor]:
    with running_conductor(conf, "test-conductor") as worker:
        yield worker


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


# --- the lab (tests/lab and tests/e2e) -------------------------------------


def _holders_of(base: Path) -> list[str]:
    """Processes (not this one) with a file open under base: every lab daemon logs there."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            targets = [fd.readlink() for fd in (proc / "fd").iterdir()]
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if any(target.is_relative_to(base) for target in targets):
            found.append(f"{proc.name}: {cmdline[:120]}")
    return found


def _children() -> list[str]:
    found = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            found.append(f"{pid}: {cmdline.decode()[:120]}")
    return found


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every lab test works under here (short paths: unix sockets allow 107 bytes)."""
    root: Path = tmp_path_factory.mktemp("labs")
    return root.resolve()


@pytest.fixture
def lab_dir(lab_root: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix="t", dir=lab_root))


@pytest.fixture(scope="session")
def keystone_lab(lab_root: Path) -> Iterator[KeystoneLab]:
    """One real Keystone (SQLite, loopback) for the whole run, on demand."""
    with KeystoneLab(Path(tempfile.mkdtemp(prefix="k", dir=lab_root))) as lab:
        print(f"\nkeystone lab started in {lab.timings['total']:.1f} s: {lab.timings}")
        yield lab


@pytest.fixture(scope="session")
def cinder_lab(lab_root: Path) -> Iterator[CinderLab]:
    """One real Cinder (RabbitMQ, tgtd, api, scheduler, volume) for the whole run, on demand."""
    # Cinder reports its portal as lab machines reach it (the e2e test forwards the port).
    lab = CinderLab(
        Path(tempfile.mkdtemp(prefix="c", dir=lab_root)),
        portal_address=GATEWAY,
        portal_port=GUEST_CINDER_PORTAL_PORT,
    )
    with lab:
        print(f"\ncinder lab started in {lab.timings['total']:.1f} s: {lab.timings}")
        yield lab
    print(f"\ncinder lab stopped in {lab.timings['stop']:.1f} s")


@pytest.fixture(scope="session", autouse=True)
def no_leftover_processes(lab_root: Path) -> Iterator[None]:
    """After the suite, no lab process may remain; any found are reported, then stopped."""
    yield
    leftovers = _holders_of(lab_root) + _children()
    for state in lab_root.rglob(STATE_FILE):
        stop_lab_dir(state.parent)
    assert not leftovers, "lab processes left running:\n" + "\n".join(leftovers)


@pytest.fixture
def own_tgtd(lab_root: Path) -> Iterator[TgtServer]:
    """A tgtd of the test's own, which it may stop and start (as a host reboot would)."""
    server = TgtServer(Path(tempfile.mkdtemp(prefix="r", dir=lab_root)))
    server.start()
    yield server
    server.stop()
