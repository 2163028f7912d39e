"""The admin guide's cinder sequence with the real `baremetal` CLI and a real Cinder.

The node is fake hardware with the `direct` deploy and the fake boot
interface, so the deploy really attaches through Cinder's attachments API;
tests/e2e/test_boot_from_cinder.py boots a machine from such a volume.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ironbound.lab.cinder import CinderLab
from tests.cinder_support import attachments, cinder_config
from tests.serving import Server, serve

pytestmark = [pytest.mark.cli, pytest.mark.cinder]

IQN = "iqn.2010-10.org.openstack.node1"


@pytest.fixture(scope="module")
def server(cinder_lab: CinderLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("serve"), cinder_config(cinder_lab)) as running:
        yield running


def test_cinder_storage_path(server: Server, cinder_lab: CinderLab) -> None:
    volume_id = cinder_lab.create_volume(1, name="guide-boot")
    node = server.json("node create --driver fake-hardware --name bfv-node-1")
    uuid = node["uuid"]
    assert node["storage_interface"] == "noop"
    server.baremetal("node set --storage-interface cinder bfv-node-1")
    server.baremetal("node set --property capabilities=iscsi_boot:True bfv-node-1")
    server.baremetal("node set --deploy-interface direct --boot-interface fake bfv-node-1")
    server.json(f"volume connector create --node {uuid} --type iqn --connector-id {IQN}")
    # The guide's own spelling, --volume, works through argparse's prefix matching.
    target = server.json(
        f"volume target create --node {uuid} --type iscsi --boot-index 0 --volume {volume_id}"
    )
    assert target["properties"] == {}
    validation = {row["Interface"]: row for row in server.json("node validate bfv-node-1")}
    assert validation["storage"]["Result"] is True, validation["storage"]
    for verb, state in (("manage", "manageable"), ("provide", "available"), ("deploy", "active")):
        server.baremetal(f"node {verb} --wait 120 bfv-node-1")
        assert (
            server.json("node show bfv-node-1 --fields provision_state")["provision_state"] == state
        )

    # Active: Cinder has the volume in-use, attached for this node and exported by its tgtd.
    assert cinder_lab.volume(volume_id)["status"] == "in-use"
    held = attachments(cinder_lab, volume_id)
    assert [(a["instance"], a["status"]) for a in held] == [(uuid, "attached")]
    props = server.json(f"volume target show {target['uuid']}")["properties"]
    assert props["auth_method"] == "CHAP"
    assert props["auth_password"] == "******"
    assert props["target_lun"] == 1
    assert props["target_iqn"] in cinder_lab.tgt.show()
    recorded = server.node(uuid)["driver_internal_info"]["volume_attachments"]
    assert recorded[target["uuid"]]["attachment_id"] == held[0]["id"]

    # A power cycle keeps the attachment (see docs/cinder.md).
    server.baremetal("node power off --power-timeout 30 bfv-node-1")
    server.baremetal("node power on --power-timeout 30 bfv-node-1")
    assert [a["id"] for a in attachments(cinder_lab, volume_id)] == [held[0]["id"]]

    server.baremetal("node undeploy --wait 120 bfv-node-1")
    assert server.node(uuid)["provision_state"] == "available"
    assert cinder_lab.volume(volume_id)["status"] == "available"
    assert attachments(cinder_lab, volume_id) == []
    assert props["target_iqn"] not in cinder_lab.tgt.show()
    # As Ironic does, undeploy removes the targets; the connector stays.
    assert server.json(f"volume target list --node {uuid}") == []
    assert len(server.json(f"volume connector list --node {uuid}")) == 1
    assert "volume_attachments" not in server.node(uuid)["driver_internal_info"]
