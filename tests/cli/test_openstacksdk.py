"""openstacksdk (the library under Nova, Bifrost and the Ansible modules) drives Ironbound."""

from __future__ import annotations

import openstack
import pytest

from tests.serving import Server


# openstacksdk warns about its own deprecated internals (metrics options, a
# Resource helper) whatever the caller does; those are not ours to fix.
@pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning")
def test_sdk_lifecycle_and_volumes(server: Server) -> None:
    conn = openstack.connection.Connection(auth_type="none", baremetal_endpoint_override=server.url)
    node = conn.baremetal.create_node(driver="fake-hardware", name="sdk-node")
    assert node.provision_state == "enroll"
    node = conn.baremetal.set_node_provision_state(node, "manage", wait=True, timeout=60)
    node = conn.baremetal.set_node_provision_state(node, "provide", wait=True, timeout=60)
    assert node.provision_state == "available"
    conn.baremetal.create_volume_connector(
        node_id=node.id, type="iqn", connector_id="iqn.2026-11.org.example:sdk"
    )
    target = conn.baremetal.create_volume_target(
        node_id=node.id,
        volume_type="iscsi",
        boot_index=0,
        volume_id="sdk-vol",
        properties={"target_iqn": "iqn.2026-11.org.example:sdk-vol", "target_portal": "127.0.0.1:3260",
                    "target_lun": 0, "auth_method": "CHAP", "auth_username": "u", "auth_password": "p"},
    )  # fmt: skip
    assert target.properties["auth_password"] == "******"
    listed = list(conn.baremetal.volume_targets(details=True, node=node.id))
    assert [t.id for t in listed] == [target.id]
    assert listed[0].properties["target_lun"] == 0
    validation = conn.baremetal.validate_node(node.id, required=())
    assert validation["storage"].result is True
    conn.baremetal.update_node(node, extra={"rack": "r1"})
    assert conn.baremetal.get_node(node.id).extra == {"rack": "r1"}
    node = conn.baremetal.set_node_provision_state(node, "active", wait=True, timeout=60)
    assert node.provision_state == "active"
    conn.baremetal.set_node_power_state(node, "power on", wait=True, timeout=60)
    assert conn.baremetal.get_node(node.id).power_state == "power on"
    node = conn.baremetal.set_node_provision_state(node, "deleted", wait=True, timeout=60)
    assert node.provision_state == "available"
    assert [n.id for n in conn.baremetal.nodes(details=True) if n.name == "sdk-node"] == [node.id]
