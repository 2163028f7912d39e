"""Nova's boot-from-volume sequence, replayed with openstacksdk against `ironbound serve`
and the lab's real Cinder.

Nova asks Cinder for the volume's attachment with the connector it builds from
the node's volume connectors, creates the node's volume target from Cinder's
`connection_info`, then deploys; on delete it sends only `deleted` and relies on
the tear-down to clean the node, then deletes its own Cinder attachment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import openstack
import pytest

from ironbound.lab.cinder import CinderLab
from tests.cinder_support import attachments, cinder_attach, cinder_config
from tests.nova_driver import FLAVOR, DeployFailed, Instance, NovaIronicDriver
from tests.serving import Server, serve

pytestmark = [
    pytest.mark.cli,
    pytest.mark.cinder,
    # openstacksdk warns about its own deprecated internals whatever the caller does.
    pytest.mark.filterwarnings("ignore::openstack.warnings._RemovedInSDKWarning"),
]

IQN = "iqn.2026-12.org.example:nova-node"


@pytest.fixture(scope="module")
def server(cinder_lab: CinderLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("serve"), cinder_config(cinder_lab)) as running:
        yield running


@pytest.fixture
def nova(server: Server) -> NovaIronicDriver:
    conn = openstack.connection.Connection(auth_type="none", baremetal_endpoint_override=server.url)
    return NovaIronicDriver(conn)


def enrolled_node(server: Server, name: str) -> str:
    """What an operator sets up for Nova: a cinder node with its connector and a trait."""
    node = server.json(
        f"node create --driver fake-hardware --name {name} --storage-interface cinder "
        "--deploy-interface direct --boot-interface fake --resource-class baremetal "
        "--property cpus=2 --property memory_mb=2048 --property local_gb=0 "
        "--property cpu_arch=x86_64 --property capabilities=iscsi_boot:True"
    )["uuid"]
    server.baremetal(f"volume connector create --node {node} --type iqn --connector-id {IQN}")
    server.baremetal(f"port create --node {node} 52:54:00:0a:{len(name):02x}:01")
    server.baremetal(f"node add trait {node} CUSTOM_BOOT_FROM_VOLUME")
    server.baremetal(f"node manage --wait 60 {node}")
    server.baremetal(f"node provide --wait 60 {node}")
    return str(node)


def test_nova_boots_a_server_from_a_cinder_volume_and_deletes_it(
    server: Server, nova: NovaIronicDriver, cinder_lab: CinderLab
) -> None:
    node = enrolled_node(server, "nova-bfv")
    volume_id = cinder_lab.create_volume(1, name="nova-root")

    # openstacksdk negotiates the node resource up to the server's maximum: 1.50 at least.
    negotiated = openstack.utils.maximum_supported_microversion(nova.baremetal, "1.109")
    assert negotiated is not None
    assert tuple(int(part) for part in negotiated.split(".")) >= (1, 50)

    # The resource tracker sees the node, with every field Nova asks for.
    listed = {n.id: n for n in nova.node_list()}
    assert nova.schedulable(listed[node])
    assert listed[node].traits == ["CUSTOM_BOOT_FROM_VOLUME"]
    assert listed[node].resource_class == "baremetal"

    instance = Instance(uuid=str(uuid.uuid4()), node=node, vifs=[str(uuid.uuid4())])
    nova.prepare_for_spawn(instance)
    # A second server racing for the node loses the reservation at once (409, no retry).
    rival = Instance(uuid=str(uuid.uuid4()), node=node)
    with pytest.raises(DeployFailed, match="not available"):
        nova.prepare_for_spawn(rival)
    with pytest.raises(openstack.exceptions.ConflictException):
        nova.baremetal.update_node(node, retry_on_conflict=False, instance_id=rival.uuid)

    nova.add_instance_info(instance, FLAVOR)
    nova.plug_vifs(instance)
    nova.plug_vifs(instance)  # Nova plugs again on retries; a 409 there is fine.
    connector = nova.volume_connector(instance, hostname="nova-server")
    assert connector["initiator"] == IQN and connector["platform"] == "x86_64"

    attachment_id, connection_info = cinder_attach(cinder_lab, volume_id, instance.uuid, connector)
    assert connection_info["driver_volume_type"] == "iscsi"
    instance.block_devices[0] = connection_info
    instance.volume_ids[0] = volume_id
    nova.add_volume_targets(instance)
    nova.validate(instance)
    active = nova.deploy(instance)
    assert active.provision_state == "active"
    assert active.instance_id == instance.uuid

    # The node's own attachment is for the instance Nova reserved it for.
    held = attachments(cinder_lab, volume_id)
    assert {a["instance"] for a in held} == {instance.uuid}

    nova.reboot(instance, soft=True)
    nova.power(instance, "power off")
    nova.power(instance, "power on")
    nova.trigger_crash_dump(instance)

    nova.destroy(instance)
    shown = server.node(node)
    assert shown["provision_state"] == "available"
    assert shown["instance_uuid"] is None and shown["instance_info"] == {}
    assert server.json(f"volume target list --node {node}") == []
    assert server.json(f"node vif list {node}") == []
    # Ironbound let go of what it attached; Nova deletes its own attachment last.
    assert [a["id"] for a in attachments(cinder_lab, volume_id)] == [attachment_id]
    cinder_lab.block_storage(as_service=True).delete_attachment(attachment_id)
    cinder_lab.wait_volume_status(volume_id, "available")
    # And the node is schedulable again.
    assert nova.schedulable(nova.get_node(node))
