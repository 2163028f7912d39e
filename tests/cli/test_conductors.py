"""Conductors, conductor groups, physical networks, NMI and rescue through the real
`baremetal` CLI, against `ironbound serve` whose conductor is in a group."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.serving import Server, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    config = "[DEFAULT]\nhost = rack1-conductor\n[conductor]\nconductor_group = Rack1\n"
    with serve(tmp_path_factory.mktemp("serve"), config) as running:
        yield running


def _lower(item: dict[str, Any]) -> dict[str, Any]:
    """The CLI's column names, as the API's field names."""
    return {k.lower().replace(" ", "_"): v for k, v in item.items()}


def test_conductor_list_and_show(server: Server) -> None:
    listed = [_lower(c) for c in server.json("conductor list")]
    assert listed == [{"hostname": "rack1-conductor", "conductor_group": "rack1", "alive": True}]
    shown = server.json("conductor show rack1-conductor")
    assert shown["conductor_group"] == "rack1" and shown["alive"] is True
    assert "fake-hardware" in shown["drivers"]
    long = [_lower(c) for c in server.json("conductor list --long")]
    assert "fake-hardware" in long[0]["drivers"]
    missing = server.baremetal("conductor show nobody", check=False)
    assert missing.returncode != 0 and "nobody could not be found" in missing.stderr


def test_node_conductor_group_and_conductor(server: Server) -> None:
    refused = server.baremetal("node create --driver fake-hardware --name lost", check=False)
    assert refused.returncode != 0 and "No valid host was found" in refused.stderr
    node = server.json("node create --driver fake-hardware --conductor-group RACK1 --name grouped")
    assert node["conductor_group"] == "rack1" and node["conductor"] == "rack1-conductor"
    moved = server.baremetal("node set grouped --conductor-group rack2", check=False)
    assert moved.returncode != 0 and 'conductor group "rack2"' in moved.stderr
    bad = server.baremetal("node set grouped --conductor-group 'rack 1'", check=False)
    assert bad.returncode != 0 and "Expected a conductor group" in bad.stderr
    server.baremetal("node set grouped --conductor-group Rack1")
    assert server.node("grouped")["conductor_group"] == "rack1"
    listed = server.json("node list --conductor-group rack1 --fields uuid")
    assert [_lower(n)["uuid"] for n in listed] == [node["uuid"]]
    # The conductor of group rack1 does the node's work.
    server.baremetal("node manage grouped --wait 30")
    assert server.node("grouped")["provision_state"] == "manageable"


def test_port_physical_network(server: Server) -> None:
    node = server.json("node create --driver fake-hardware --conductor-group rack1")["uuid"]
    port = server.json(f"port create --node {node} --physical-network physnet1 52:54:00:dd:00:01")
    assert port["physical_network"] == "physnet1"
    server.baremetal(f"port set {port['uuid']} --physical-network physnet2")
    assert server.json(f"port show {port['uuid']}")["physical_network"] == "physnet2"
    group = server.json(f"port group create --node {node} --address 52:54:00:dd:00:10")["uuid"]
    server.baremetal(f"port set {port['uuid']} --port-group {group}")
    other = server.baremetal(
        f"port create --node {node} --port-group {group} --physical-network physnet3 "
        "52:54:00:dd:00:02",
        check=False,
    )
    assert other.returncode != 0 and "cannot become a member of port group" in other.stderr


def test_inject_nmi_and_rescue(server: Server) -> None:
    server.baremetal("node create --driver fake-hardware --conductor-group rack1 --name nmi")
    server.baremetal("node inject nmi nmi")
    assert "inject NMI: done" in server.node("nmi")["driver_internal_info"]["progress"]
    server.baremetal("node manage nmi --wait 30")
    server.baremetal("node provide nmi --wait 30")
    server.baremetal("node deploy nmi --wait 30")
    refused = server.baremetal("node rescue nmi --rescue-password s3cret", check=False)
    assert refused.returncode != 0 and "does not support rescue" in refused.stderr
    assert server.node("nmi")["provision_state"] == "active"
    console = server.baremetal("node console enable nmi", check=False)
    assert console.returncode != 0 and "does not support console" in console.stderr
