"""Traits, protection, owner and description (1.37-1.51) with the real `baremetal` CLI."""

from __future__ import annotations

from tests.serving import Server


def test_traits(server: Server) -> None:
    uuid = server.json("node create --driver fake-hardware --name traits-node")["uuid"]
    server.baremetal("node add trait traits-node CUSTOM_GOLD HW_CPU_X86_AVX2")
    listed = server.json("node trait list traits-node")
    assert sorted(row["traits"] for row in listed) == ["CUSTOM_GOLD", "HW_CPU_X86_AVX2"]
    assert server.json(f"node show {uuid} --fields traits")["traits"] == [
        "CUSTOM_GOLD",
        "HW_CPU_X86_AVX2",
    ]
    server.baremetal("node remove trait traits-node CUSTOM_GOLD")
    assert [row["traits"] for row in server.json("node trait list traits-node")] == [
        "HW_CPU_X86_AVX2"
    ]
    bad = server.baremetal("node add trait traits-node custom_lower", check=False)
    assert bad.returncode == 1 and "Invalid trait" in bad.stderr
    missing = server.baremetal("node remove trait traits-node CUSTOM_NONE", check=False)
    assert missing.returncode == 1 and "doesn't have a trait 'CUSTOM_NONE'" in missing.stderr
    server.baremetal("node remove trait --all traits-node")
    assert server.json("node trait list traits-node") == []


def test_protected_owner_description(server: Server) -> None:
    server.json("node create --driver fake-hardware --name guarded")
    server.baremetal("node set --owner project-a --description 'rack 4, slot 2' guarded")
    shown = server.json("node show guarded --fields owner description")
    assert shown == {"owner": "project-a", "description": "rack 4, slot 2"}
    owned = server.json("node list --owner project-a")
    assert [row["name"] for row in owned] == ["guarded"]
    refused = server.baremetal("node set --protected guarded", check=False)
    assert refused.returncode == 1 and "can only be made protected" in refused.stderr
    for verb in ("manage", "provide", "deploy"):
        server.baremetal(f"node {verb} --wait 60 guarded")
    server.baremetal("node set --protected --protected-reason 'prod db' guarded")
    shown = server.json("node show guarded --fields protected protected_reason")
    assert shown == {"protected": True, "protected_reason": "prod db"}
    undeploy = server.baremetal("node undeploy guarded", check=False)
    assert undeploy.returncode == 1 and "is protected" in undeploy.stderr
    server.baremetal("node unset --protected guarded")
    shown = server.json("node show guarded --fields protected protected_reason")
    assert shown == {"protected": False, "protected_reason": None}
    server.baremetal("node undeploy --wait 60 guarded")
    server.baremetal("node unset --owner --description guarded")
    assert server.json("node show guarded --fields owner description") == {
        "owner": None,
        "description": None,
    }


def test_smartnic_port_allocation_and_templates(server: Server) -> None:
    """1.52-1.55 as the CLI negotiates them: is_smartnic served, the rest refused cleanly."""
    node = server.json("node create --driver fake-hardware --name dpu-node")["uuid"]
    port = server.json(
        f"port create 52:54:00:00:53:01 --node {node} --is-smartnic "
        "--local-link-connection port_id=rep0-0 --local-link-connection hostname=dpu-1"
    )
    assert port["is_smartnic"] is True
    shown = server.json(f"port show {port['uuid']} --fields is_smartnic")
    assert shown == {"is_smartnic": True}
    assert server.json("node show dpu-node --fields allocation_uuid") == {"allocation_uuid": None}
    for command in (
        "allocation list",
        "allocation create --resource-class x",
        "deploy template list",
    ):
        refused = server.baremetal(command, check=False)
        assert refused.returncode == 1
        assert "Ironbound does not offer" in refused.stderr
