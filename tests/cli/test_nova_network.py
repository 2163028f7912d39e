"""Port groups and VIFs through the real `baremetal` CLI against `ironbound serve`."""

from __future__ import annotations

from tests.serving import Server

VIF = "3f2d9a6e-0b7c-4b0e-9a51-0c1d2e3f4a5b"


def test_port_group_create_list_show_delete(server: Server) -> None:
    node = server.json("node create --driver fake-hardware --name bonded")["uuid"]
    group = server.json(f"port group create --node {node} --address 52:54:00:cc:00:01 --name bond0")
    assert group["name"] == "bond0" and group["node_uuid"] == node
    listed = server.json("port group list")
    assert [{k.lower(): v for k, v in g.items()}["uuid"] for g in listed] == [group["uuid"]]
    shown = server.json("port group show bond0")
    assert shown["address"] == "52:54:00:cc:00:01" and shown["mode"] == "active-backup"
    port = server.json(f"port create --node {node} --port-group {group['uuid']} 52:54:00:cc:00:02")
    assert port["portgroup_uuid"] == group["uuid"]
    refused = server.baremetal("port group delete bond0", check=False)
    assert refused.returncode != 0 and "contains ports" in refused.stderr
    server.baremetal(f"port delete {port['uuid']}")
    server.baremetal("port group delete bond0")
    assert server.json("port group list") == []


def test_node_vif_attach_list_detach(server: Server) -> None:
    node = server.json("node create --driver fake-hardware --name vif-node")["uuid"]
    server.baremetal(f"port create --node {node} 52:54:00:cc:01:01")
    server.baremetal(f"node vif attach vif-node {VIF}")
    assert server.json("node vif list vif-node") == [{"id": VIF}]
    again = server.baremetal(f"node vif attach vif-node {VIF}", check=False)
    assert again.returncode != 0 and "already attached" in again.stderr
    server.baremetal(f"node vif detach vif-node {VIF}")
    assert server.json("node vif list vif-node") == []
