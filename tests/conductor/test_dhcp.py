"""The dnsmasq DHCP provider driven by real flows: which nodes get entries, and when they go."""

from __future__ import annotations

import logging
import shutil
import stat
import threading
import time
import uuid as uuidlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.conductor.worker import Conductor
from ironbound.db import jobs, nodes
from ironbound.dhcp import HostEntry
from ironbound.dhcp.dnsmasq import DnsmasqProvider
from ironbound.jobspec import BootEvent, JobKind
from tests.api.helpers import ok, provision
from tests.conftest import wait_until
from tests.dhcp.support import (
    URL,
    available_node,
    boot_token,
    deploy,
    dnsmasq_overrides,
    state_is,
)


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    return dnsmasq_overrides(tmp_path, **{"conductor.heartbeat_interval": 0.2})


def _available(client: TestClient, number: int) -> str:
    """A node with a pxe port ...:<number>:01 and a port that does not PXE, ...:<number>:02."""
    return available_node(
        client, (f"52:54:00:dd:{number:02x}:01", True), (f"52:54:00:dd:{number:02x}:02", False)
    )


def _provider(conductor: Conductor) -> DnsmasqProvider:
    provider = conductor.ctx.dhcp
    assert isinstance(provider, DnsmasqProvider)
    return provider


def _files(tmp_path: Path, node: str) -> tuple[Path, Path]:
    return tmp_path / "hosts" / f"ironbound-{node}", tmp_path / "opts" / f"ironbound-{node}"


def _assert_withdrawn(tmp_path: Path, conductor: Conductor, node: str, number: int) -> None:
    hosts, opts = _files(tmp_path, node)
    wait_until(lambda: node not in _provider(conductor).published(), what="the withdrawal")
    assert not opts.exists()
    # dnsmasq forgets nothing when a file goes: the MAC is re-declared without boot tags.
    assert hosts.read_text().splitlines()[1:] == [
        f"52:54:00:dd:{number:02x}:01,set:ironbound-withdrawn"
    ]


def test_a_deploy_publishes_its_pxe_macs_and_undeploy_withdraws_them(
    client: TestClient, conductor: Conductor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    node, other = _available(client, 1), _available(client, 2)
    deploy(client, conductor, node)
    token = boot_token(conductor, node)
    hosts, opts = _files(tmp_path, node)
    assert hosts.read_text() == (
        f"# Ironbound: node {node}\n52:54:00:dd:01:01,set:ironbound,set:ironbound-{node}\n"
    )
    assert opts.read_text() == (
        f"tag:ironbound-{node},tag:ipxe,option:bootfile-name,{URL}/boot/{token}/script.ipxe\n"
    )
    for path in (hosts, opts):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
    # The node that is only available gets nothing; no temporary file is left.
    assert _provider(conductor).published() == {node}
    assert sorted(p.name for p in (tmp_path / "hosts").iterdir()) == [hosts.name]
    assert sorted(p.name for p in (tmp_path / "opts").iterdir()) == [opts.name]
    assert other not in hosts.read_text()

    provision(client, node, "deleted", "available")
    _assert_withdrawn(tmp_path, conductor, node, 1)
    assert token not in caplog.text  # the token is a secret: never logged


def test_a_redeploy_publishes_the_new_token(
    client: TestClient, conductor: Conductor, tmp_path: Path
) -> None:
    node = _available(client, 3)
    deploy(client, conductor, node)
    first = boot_token(conductor, node)
    provision(client, node, "abort", "deploy failed")
    _assert_withdrawn(tmp_path, conductor, node, 3)
    deploy(client, conductor, node)
    second = boot_token(conductor, node)
    assert second != first
    assert f"/boot/{second}/" in _files(tmp_path, node)[1].read_text()
    assert _provider(conductor).published() == {node}


def test_a_failed_boot_withdraws_the_entry(
    client: TestClient, conductor: Conductor, tmp_path: Path
) -> None:
    node = _available(client, 4)
    deploy(client, conductor, node)
    with conductor.ctx.db.write() as session:
        node_id = nodes.get_by_uuid(session, node).id
        report = BootEvent("failed", {"errno": "0x410d613c"})
        jobs.enqueue(session, node_id, JobKind.BOOT_EVENT, report)
    conductor.ctx.signals.work_queued()
    state_is(client, node, "deploy failed")
    _assert_withdrawn(tmp_path, conductor, node, 4)


def test_a_callback_timeout_withdraws_the_entry(
    client: TestClient, conductor: Conductor, tmp_path: Path
) -> None:
    conductor.ctx.conf.set_override("deploy_callback_timeout", 1, group="conductor")
    provider = _provider(conductor)
    node = _available(client, 5)
    provision(client, node, "active")
    wait_until(lambda: node in provider.published(), what="the entry")
    state_is(client, node, "deploy failed")
    assert "Timeout reached" in client.get(f"/v1/nodes/{node}").json()["last_error"]
    wait_until(lambda: node not in provider.published(), what="the withdrawal")
    assert not (provider.optsdir / f"ironbound-{node}").exists()


def test_deleting_a_node_withdraws_its_entry_at_the_next_sync(
    client: TestClient, conductor: Conductor, tmp_path: Path
) -> None:
    """The API never imports the conductor: the periodic reconcile notices the node is gone."""
    node = _available(client, 6)
    deploy(client, conductor, node)
    ok(client.put(f"/v1/nodes/{node}/maintenance", json={"reason": "retire it"}), 202)
    ok(client.delete(f"/v1/nodes/{node}"), 204)
    _assert_withdrawn(tmp_path, conductor, node, 6)


def test_a_restart_resyncs_the_directories(
    client: TestClient, conductor: Conductor, tmp_path: Path
) -> None:
    """Files lost, edited or left by a crash are put right at start (and at every sync)."""
    node = _available(client, 7)
    deploy(client, conductor, node)
    hosts, opts = _files(tmp_path, node)
    expected = hosts.read_text(), opts.read_text()
    conductor.stop()
    stray = str(uuidlib.uuid4())
    (tmp_path / "hosts" / f"ironbound-{stray}").write_text(
        f"52:54:00:ee:00:01,set:ironbound,set:ironbound-{stray}\n"
    )
    (tmp_path / "opts" / f"ironbound-{stray}").write_text("tag:x,option:bootfile-name,y\n")
    foreign = tmp_path / "hosts" / "operator.conf"
    foreign.write_text("52:54:00:ee:00:02,set:mine\n")
    hosts.unlink()
    opts.write_text("edited\n")
    conductor.start()
    assert (hosts.read_text(), opts.read_text()) == expected
    assert _provider(conductor).published() == {node}
    assert not (tmp_path / "opts" / f"ironbound-{stray}").exists()
    assert (
        (tmp_path / "hosts" / f"ironbound-{stray}")
        .read_text()
        .endswith("52:54:00:ee:00:01,set:ironbound-withdrawn\n")
    )
    assert foreign.read_text() == "52:54:00:ee:00:02,set:mine\n"


def test_a_deploy_that_cannot_write_its_entry_fails_and_leaves_none(
    client: TestClient, conductor: Conductor, tmp_path: Path
) -> None:
    node = _available(client, 8)
    optsdir = tmp_path / "opts"
    optsdir.rmdir()
    optsdir.write_text("not a directory\n")
    provision(client, node, "active")
    state_is(client, node, "deploy failed")
    last_error = client.get(f"/v1/nodes/{node}").json()["last_error"]
    assert "DHCP provider dnsmasq: cannot write" in last_error
    assert _provider(conductor).published() == set()


def test_a_reconcile_and_a_deploy_take_turns(
    client: TestClient, conductor: Conductor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reconcile that read the database before a deploy issued the token must not
    withdraw the entry the deploy publishes meanwhile: they hold the provider's lock."""
    provider = _provider(conductor)
    node = _available(client, 9)
    reading, release = threading.Event(), threading.Event()
    real_sync = provider.sync

    def slow_sync(entries: Iterable[HostEntry]) -> None:
        wanted = list(entries)  # read while the node was still available
        reading.set()
        release.wait(20)
        real_sync(wanted)

    monkeypatch.setattr(provider, "sync", slow_sync)
    reconcile = threading.Thread(target=conductor.duties.sync_dhcp)
    reconcile.start()
    assert reading.wait(20)
    provision(client, node, "active")
    time.sleep(1.0)
    # The deploy waits for the reconcile rather than publishing under its feet.
    assert client.get(f"/v1/nodes/{node}").json()["provision_state"] == "deploying"
    assert not (tmp_path / "hosts" / f"ironbound-{node}").exists()
    release.set()
    reconcile.join(20)
    state_is(client, node, "wait call-back")
    assert provider.published() == {node}


def test_a_resync_that_fails_at_start_is_retried_by_the_periodic_duty(
    client: TestClient, conductor: Conductor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node = _available(client, 10)
    deploy(client, conductor, node)
    conductor.stop()
    opts = _files(tmp_path, node)[1]
    expected = opts.read_text()
    optsdir = tmp_path / "opts"
    shutil.rmtree(optsdir)
    optsdir.write_text("not a directory\n")
    conductor.start()  # logs the failure, serves anyway
    assert "the DHCP resync at start failed" in caplog.text
    optsdir.unlink()
    optsdir.mkdir()
    wait_until(lambda: opts.exists() and opts.read_text() == expected, what="the retry")
    assert _provider(conductor).published() == {node}
