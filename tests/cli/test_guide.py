"""The admin guide's Boot From Volume walkthrough, unchanged, with the real `baremetal` CLI."""

from __future__ import annotations

from tests.serving import Server


def _walk_to_active_and_back(server: Server, node: str) -> None:
    for verb, timeout, state in (
        ("manage", 60, "manageable"),
        ("provide", 60, "available"),
        ("deploy", 120, "active"),
        ("undeploy", 60, "available"),
    ):
        server.baremetal(f"node {verb} --wait {timeout} {node}")
        shown = server.json(f"node show {node} --fields provision_state")
        assert shown["provision_state"] == state


def test_external_storage_path(server: Server) -> None:
    uuid = server.json("node create --driver fake-hardware --name bfv-node-2")["uuid"]
    server.baremetal(f"node set --property capabilities=iscsi_boot:True {uuid}")
    server.json(
        f"volume connector create --node {uuid} --type iqn "
        "--connector-id iqn.2010-10.org.openstack.node2"
    )
    server.baremetal(f"node set --storage-interface external {uuid}")
    # As in the guide, quotes and all: the shell reads target_lun="0" as target_lun=0.
    target = server.json(
        f"volume target create --node {uuid} --type iscsi --boot-index 0 --volume-id vol-2 "
        '--property target_iqn=iqn.2010-10.com.example:vol-X --property target_lun="0" '
        "--property target_portal=127.0.0.1:3260 --property auth_method=CHAP "
        "--property auth_username=ABC --property auth_password=XYZ"
    )
    assert target["properties"] == {
        "target_iqn": "iqn.2010-10.com.example:vol-X",
        "target_lun": 0,
        "target_portal": "127.0.0.1:3260",
        "auth_method": "CHAP",
        "auth_username": "ABC",
        "auth_password": "******",
    }
    data = server.json(
        f"volume target create --node {uuid} --type iscsi --boot-index 1 --volume-id vol-3 "
        "--property target_iqn=iqn.2010-10.com.example:vol-D --property target_lun=1 "
        "--property target_portal=127.0.0.1:3261"
    )
    # unset of a key that is not there fails as in Ironic; after setting it, unset works.
    missing = server.baremetal(f"node unset --instance-info image_source {uuid}", check=False)
    assert missing.returncode != 0
    assert "can't remove a non-existent object 'image_source'" in missing.stderr
    server.baremetal(f"node set --instance-info image_source=http://img/x.qcow2 {uuid}")
    server.baremetal(f"node unset --instance-info image_source {uuid}")
    assert server.json(f"node show {uuid}")["instance_info"] == {}
    # Listings as an operator uses them.
    long_rows = server.json(f"volume target list --node {uuid} --long")
    assert {r["uuid"] for r in long_rows} == {target["uuid"], data["uuid"]}
    boot_row = next(r for r in long_rows if r["boot_index"] == 0)
    assert boot_row["properties"]["auth_password"] == "******"
    fields = server.json(f"volume target list --node {uuid} --fields uuid boot_index")
    assert sorted(r["boot_index"] for r in fields) == [0, 1]
    assert all(set(r) == {"uuid", "boot_index"} for r in fields)
    nodes = server.json("node list --long")
    assert any(n["uuid"] == uuid and n["storage_interface"] == "external" for n in nodes)
    _walk_to_active_and_back(server, uuid)


def test_set_unset_delete(server: Server) -> None:
    uuid = server.json("node create --driver fake-hardware --name scratch")["uuid"]
    server.baremetal("node set --extra rack=12 --driver-info ipmi_password=p4ss scratch")
    shown = server.json("node show scratch")
    assert shown["extra"] == {"rack": 12}  # the CLI JSON-decodes values
    assert shown["driver_info"] == {"ipmi_password": "******"}
    server.baremetal("node unset --extra rack scratch")
    assert server.json("node show scratch")["extra"] == {}
    connector = server.json(
        f"volume connector create --node {uuid} --type ip --connector-id 192.0.2.50"
    )
    # A never powered node (power state None) refuses connector updates, as Ironic does.
    refused = server.baremetal(f"volume connector set {connector['uuid']} --extra k=v", check=False)
    assert refused.returncode == 1 and 'while it is in state "None"' in refused.stderr
    server.baremetal(f"volume connector delete {connector['uuid']}")
    server.baremetal("node delete scratch")
    gone = server.baremetal("node show scratch", check=False)
    assert gone.returncode != 0 and "could not be found" in gone.stderr


def test_bad_input_gets_a_clear_error(server: Server) -> None:
    uuid = server.json("node create --driver fake-hardware")["uuid"]
    bad_type = server.baremetal(
        f"volume connector create --node {uuid} --type bogus --connector-id x", check=False
    )
    assert bad_type.returncode == 2 and "invalid choice" in bad_type.stderr
    bad_iqn = server.baremetal(
        f"volume connector create --node {uuid} --type iqn --connector-id not-an-iqn", check=False
    )
    assert bad_iqn.returncode == 1
    assert "is not a valid iSCSI initiator name" in bad_iqn.stderr
    create_target = f"volume target create --node {uuid} --type iscsi --boot-index 0 --volume-id v"
    bad_lun = server.baremetal(f"{create_target} --property target_lun=zero", check=False)
    assert bad_lun.returncode == 1 and "target_lun must be an integer" in bad_lun.stderr
    # Quoted for the CLI itself, the LUN arrives as a JSON string: refused with a hint,
    # where Ironic accepts it and the deploy crashes later.
    string_lun = server.baremetal(f"{create_target} --property 'target_lun=\"0\"'", check=False)
    assert "a string: drop the quotes" in string_lun.stderr
    disabled = server.baremetal(f"node set --storage-interface fake {uuid}", check=False)
    assert disabled.returncode == 1
    assert "Valid interfaces are ['cinder', 'external', 'managed', 'noop']" in disabled.stderr
