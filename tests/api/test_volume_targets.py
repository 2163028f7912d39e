"""/v1/volume/targets: a node's volumes, with Ironic's errors and our typed properties."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from tests.api.helpers import (
    TARGET_IQN,
    add,
    create_node,
    create_target,
    error,
    force,
    iscsi_properties,
    ok,
    patch,
    power,
    provision,
    remove,
    replace,
    to_active,
    v,
)

FULL = {
    "uuid",
    "node_uuid",
    "volume_type",
    "properties",
    "boot_index",
    "volume_id",
    "extra",
    "created_at",
    "updated_at",
    "links",
}
SUMMARY = {"uuid", "node_uuid", "volume_type", "boot_index", "volume_id", "links"}
UPDATABLE = "boot_index, extra, node_uuid, properties, volume_id, volume_type"


@pytest.fixture
def node(client: TestClient) -> str:
    return str(create_node(client, name="wire-node")["uuid"])


@pytest.fixture
def off_node(client: TestClient, node: str) -> str:
    power(client, node, "power off")
    return node


def body(node: str, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "node_uuid": node,
        "volume_type": "iscsi",
        "boot_index": 0,
        "volume_id": "vol-1",
    }
    document.update(fields)
    return document


def post(client: TestClient, document: dict[str, Any]) -> Any:
    return client.post("/v1/volume/targets", json=document)


# --- create ---------------------------------------------------------------------


def test_create(client: TestClient, node: str) -> None:
    response = post(client, body(node, properties=iscsi_properties()))
    target = ok(response, 201)
    assert set(target) == FULL
    assert target["node_uuid"] == node
    assert target["boot_index"] == 0
    assert target["volume_type"] == "iscsi"
    assert target["volume_id"] == "vol-1"
    assert target["properties"] == iscsi_properties()
    assert target["updated_at"] is None
    assert response.headers["location"] == (
        f"http://127.0.0.1:6385/v1/volume/targets/{target['uuid']}"
    )


def test_create_fibre_channel(client: TestClient, node: str) -> None:
    props = {"target_wwn": ["500a0982991b8dc5", "50:0a:09:82:99:1b:8d:c6"], "target_lun": 3}
    target = ok(post(client, body(node, volume_type="fibre_channel", properties=props)), 201)
    assert target["properties"] == props


def test_volume_api_needs_1_32(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    for response in (
        client.post("/v1/volume/targets", json=body(node, boot_index=2), headers=v(31)),
        client.get("/v1/volume/targets", headers=v(31)),
        client.get(f"/v1/volume/targets/{target['uuid']}", headers=v(31)),
        client.get(f"/v1/nodes/{node}/volume/targets", headers=v(31)),
        client.delete(f"/v1/volume/targets/{target['uuid']}", headers=v(31)),
    ):
        assert error(response, 404) == "The resource could not be found."
    ok(client.get(f"/v1/volume/targets/{target['uuid']}", headers=v(32)))


def test_second_boot_volume_is_409(client: TestClient, node: str) -> None:
    create_target(client, node, boot_index=0)
    assert error(post(client, body(node, volume_id="vol-2")), 409) == (
        "A volume target with boot index '0' for the same node already exists."
    )


def test_same_volume_id_at_another_index_is_fine(client: TestClient, node: str) -> None:
    create_target(client, node, boot_index=0, volume_id="same")
    create_target(client, node, boot_index=1, volume_id="same")
    create_target(client, node, boot_index=2, volume_id="not-a-uuid-volume")


def test_boot_index_0_on_two_nodes_is_fine(client: TestClient, node: str) -> None:
    create_target(client, node)
    create_target(client, create_node(client)["uuid"])


def test_duplicate_uuid_is_409(client: TestClient, node: str) -> None:
    first = create_target(client, node)
    response = post(client, body(node, boot_index=1, uuid=first["uuid"]))
    assert error(response, 409) == f"A volume target with UUID {first['uuid']} already exists."


@pytest.mark.parametrize(
    ("boot_index", "needle"),
    [
        (-1, "boot_index"),
        ("0", "boot_index"),
        (True, "boot_index"),
        (1.5, "boot_index"),
        (None, "boot_index"),
        (2**31, "boot_index"),
        (2**63, "boot_index"),
        (2**64 - 1, "boot_index"),
    ],
)
def test_bad_boot_index_is_400(client: TestClient, node: str, boot_index: Any, needle: str) -> None:
    assert needle in error(post(client, body(node, boot_index=boot_index)), 400)


def test_largest_boot_index(client: TestClient, node: str) -> None:
    assert create_target(client, node, boot_index=2**31 - 1)["boot_index"] == 2**31 - 1


def test_missing_boot_index_is_400(client: TestClient, node: str) -> None:
    document = body(node)
    del document["boot_index"]
    assert "boot_index" in error(post(client, document), 400)


def test_unknown_field_is_400(client: TestClient, node: str) -> None:
    assert "bogus_field" in error(post(client, body(node, bogus_field=1)), 400)


def test_bogus_volume_type_is_400(client: TestClient, node: str) -> None:
    assert error(post(client, body(node, volume_type="bogus")), 400) == (
        "Invalid volume_type 'bogus'. Allowed: iscsi, fibre_channel."
    )


def test_unknown_node_uuid_is_400(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    assert ghost in error(post(client, body(ghost)), 400)


def test_node_name_in_node_uuid_is_400(client: TestClient, node: str) -> None:
    assert error(post(client, body("wire-node")), 400) == "Expected UUID for node_uuid: wire-node"


@pytest.mark.parametrize("field", ["node_uuid", "volume_type", "volume_id"])
def test_missing_required_field_is_400(client: TestClient, node: str, field: str) -> None:
    document = body(node)
    del document[field]
    assert field in error(post(client, document), 400)


def test_post_under_the_node_is_a_malformed_uri(client: TestClient, node: str) -> None:
    response = client.post(f"/v1/nodes/{node}/volume/targets", json=body(node))
    assert error(response, 400) == "Malformed request URI."


def test_create_on_an_active_powered_node(client: TestClient, node: str) -> None:
    to_active(client, node)
    create_target(client, node, boot_index=2)


# --- iSCSI properties ------------------------------------------------------------------


@pytest.mark.parametrize(
    "props",
    [
        iscsi_properties(),
        iscsi_properties(target_portal="[fd00::1]:3260"),
        iscsi_properties(target_portal="san.example.com:3261"),
        iscsi_properties(target_portal="192.0.2.1"),
        iscsi_properties(target_lun=65535),
        iscsi_properties(target_iqn="eui.02004567A425678D"),
        iscsi_properties(auth_method="CHAP", auth_username="ABC", auth_password="XYZ"),
        iscsi_properties(auth_method="None"),
        iscsi_properties(
            auth_method="CHAP",
            auth_username="u",
            auth_password="p",
            reverse_auth_username="ru",
            reverse_auth_password="rp",
        ),
        {
            "target_portals": ["192.0.2.1:3260", "[fd00::2]:3260"],
            "target_iqns": [TARGET_IQN, "iqn.2010-10.com.example:vol-y"],
            "target_luns": [0, 1],
        },
        {"target_portals": ["192.0.2.1:3260"], "target_iqn": TARGET_IQN, "target_lun": 0},
        {},  # cinder fills them in at attach time
        {"efi_boot_loader": "\\EFI\\BOOT\\BOOTX64.EFI", **iscsi_properties()},
    ],
)
def test_valid_iscsi_properties(client: TestClient, node: str, props: dict[str, Any]) -> None:
    created = ok(post(client, body(node, properties=props)), 201)
    for key, value in props.items():
        if "password" not in key:
            assert created["properties"][key] == value


@pytest.mark.parametrize(
    ("props", "needle"),
    [
        (iscsi_properties(target_lun="0"), "drop the quotes"),
        (iscsi_properties(target_lun=-1), "target_lun"),
        (iscsi_properties(target_lun=65536), "target_lun"),
        (iscsi_properties(target_lun=True), "target_lun"),
        (iscsi_properties(target_lun=1.0), "target_lun"),
        (iscsi_properties(target_portal="fd00::1:3260"), "brackets"),
        (iscsi_properties(target_portal="[fd00::1:3260"), "never closes"),
        (iscsi_properties(target_portal="[192.0.2.1]:3260"), "not an IPv6 address"),
        (iscsi_properties(target_portal="192.0.2.1:0"), "not a port number"),
        (iscsi_properties(target_portal="192.0.2.1:99999"), "not a port number"),
        (iscsi_properties(target_portal="bad host:3260"), "neither an IP address"),
        (iscsi_properties(target_portal=3260), "must be a string"),
        (iscsi_properties(target_iqn="vol-x"), "not a valid iSCSI target name"),
        # A newline would end the sanhook line of the boot script early.
        (iscsi_properties(target_iqn=TARGET_IQN + "\n"), "not a valid iSCSI target name"),
        (iscsi_properties(target_iqn="eui.02004567A425678D\n"), "not a valid iSCSI"),
        (iscsi_properties(target_portal="san\n:3260"), "without control characters"),
        (iscsi_properties(target_portal="192.0.2.1:3260\r"), "without control characters"),
        ({"target_portals": ["192.0.2.1:3260"], "target_iqns": [TARGET_IQN + "\n"]}, "target_iqns"),
        (iscsi_properties(auth_method="CHAP", auth_username="u\n", auth_password="p"), "auth_user"),
        (
            iscsi_properties(auth_method="CHAP", auth_username="u", auth_password="p\x00"),
            "auth_pass",
        ),
        (iscsi_properties(target_iqn="iqn.2010-10.com.example:" + "x" * 220), "target name"),
        (iscsi_properties(auth_method="PAP"), "auth_method"),
        (iscsi_properties(auth_method=None, auth_username=""), "auth_username"),
        (iscsi_properties(auth_password=7), "auth_password"),
        (iscsi_properties(reverse_auth_username="r", reverse_auth_password="p"), "Mutual CHAP"),
        ({"target_portals": "192.0.2.1:3260"}, "non-empty list"),
        ({"target_portals": []}, "non-empty list"),
        ({"target_portals": ["192.0.2.1:3260", "x y"]}, "target_portals"),
        ({"target_luns": ["0"]}, "target_luns"),
        ({"target_iqns": ["nope"]}, "target_iqns"),
        (
            {"target_portals": ["192.0.2.1:3260", "192.0.2.2:3260"], "target_luns": [0]},
            "give one per portal",
        ),
        (
            {"target_portals": ["192.0.2.1:3260"], "target_iqns": [TARGET_IQN, TARGET_IQN]},
            "give one per portal",
        ),
    ],
)
def test_invalid_iscsi_properties_are_400(
    client: TestClient, node: str, props: dict[str, Any], needle: str
) -> None:
    assert needle in error(post(client, body(node, properties=props)), 400)


@pytest.mark.parametrize(
    "props",
    [
        # Mutual CHAP needs the forward credentials and both reverse ones.
        iscsi_properties(auth_method="CHAP", reverse_auth_username="r", reverse_auth_password="p"),
        iscsi_properties(
            auth_method="CHAP", auth_username="u", auth_password="p", reverse_auth_username="r"
        ),
        iscsi_properties(
            auth_method="CHAP", auth_username="u", auth_password="p", reverse_auth_password="r"
        ),
    ],
)
def test_incomplete_mutual_chap_is_400(
    client: TestClient, node: str, props: dict[str, Any]
) -> None:
    assert "Mutual CHAP" in error(post(client, body(node, properties=props)), 400)


@pytest.mark.parametrize(
    ("props", "needle"),
    [
        ({"target_wwn": "nope"}, "World Wide Name"),
        ({"target_wwn": "500a0982991b8dc5\n"}, "World Wide Name"),
        ({"target_wwn": ["500a0982991b8dc5", 5]}, "World Wide Name"),
        ({"target_wwn": {"a": 1}}, "World Wide Name"),
        ({"target_lun": "1"}, "target_lun"),
    ],
)
def test_invalid_fibre_channel_properties_are_400(
    client: TestClient, node: str, props: dict[str, Any], needle: str
) -> None:
    document = body(node, volume_type="fibre_channel", properties=props)
    assert needle in error(post(client, document), 400)


def test_properties_must_be_an_object(client: TestClient, node: str) -> None:
    error(post(client, body(node, properties=["target_lun"])), 400)


# --- show and list ------------------------------------------------------------------------


def test_show(client: TestClient, node: str) -> None:
    target = create_target(client, node, properties=iscsi_properties())
    assert ok(client.get(f"/v1/volume/targets/{target['uuid']}")) == target


def test_show_not_a_uuid_is_400(client: TestClient) -> None:
    message = error(client.get("/v1/volume/targets/not-a-uuid"), 400)
    assert message == "Expected UUID for target_uuid: not-a-uuid"


def test_show_and_delete_unknown_is_404(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    expected = f"Volume target {ghost} could not be found."
    assert error(client.get(f"/v1/volume/targets/{ghost}"), 404) == expected
    assert error(client.delete(f"/v1/volume/targets/{ghost}"), 404) == expected


def test_show_with_fields(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    shown = ok(client.get(f"/v1/volume/targets/{target['uuid']}?fields=boot_index,volume_id"))
    assert shown == {"boot_index": 0, "volume_id": target["volume_id"], "links": target["links"]}
    error(client.get(f"/v1/volume/targets/{target['uuid']}?fields=bogus"), 400)
    error(client.get(f"/v1/volume/targets/{target['uuid']}?detail=True"), 400)


def test_list_summary_and_detail(client: TestClient, node: str) -> None:
    target = create_target(client, node, properties=iscsi_properties())
    listed = ok(client.get("/v1/volume/targets"))
    assert list(listed) == ["targets"]
    assert set(listed["targets"][0]) == SUMMARY
    detail = ok(client.get("/v1/volume/targets/", params={"detail": "True", "node": node}))
    assert detail["targets"] == [target]


def test_detail_with_fields_is_400(client: TestClient) -> None:
    message = error(client.get("/v1/volume/targets?detail=True&fields=uuid"), 400)
    assert message == "Can't fetch a subset of fields with 'detail' set"


def test_list_by_node_name(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    create_target(client, create_node(client)["uuid"])
    listed = ok(client.get("/v1/volume/targets?node=wire-node"))["targets"]
    assert [t["uuid"] for t in listed] == [target["uuid"]]


def test_node_scoped_list(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    create_target(client, create_node(client)["uuid"])
    listed = ok(client.get(f"/v1/nodes/{node}/volume/targets"))["targets"]
    assert [t["uuid"] for t in listed] == [target["uuid"]]
    detail = ok(client.get(f"/v1/nodes/{node}/volume/targets?detail=True"))["targets"]
    assert detail == [target]


def test_node_scoped_list_by_name_is_404(client: TestClient, node: str) -> None:
    message = error(client.get("/v1/nodes/wire-node/volume/targets"), 404)
    assert message == "Node wire-node could not be found."


def test_node_volume_document(client: TestClient, node: str) -> None:
    document = ok(client.get(f"/v1/nodes/{node}/volume"))
    assert document["targets"][0] == {
        "href": f"http://127.0.0.1:6385/v1/nodes/{node}/volume/targets",
        "rel": "self",
    }
    assert document["connectors"][1] == {
        "href": f"http://127.0.0.1:6385/nodes/{node}/volume/connectors",
        "rel": "bookmark",
    }
    error(client.get("/v1/nodes/wire-node/volume"), 404)


def test_paging_like_ironic(client: TestClient, node: str) -> None:
    made = [create_target(client, node, boot_index=i)["uuid"] for i in range(3)]
    page = ok(client.get("/v1/volume/targets?limit=1"))
    assert [t["uuid"] for t in page["targets"]] == made[:1]
    query = parse_qs(urlsplit(page["next"]).query)
    assert query == {
        "sort_key": ["id"],
        "sort_dir": ["asc"],
        "limit": ["1"],
        "marker": [made[0]],
    }
    seen = list(made[:1])
    while "next" in page:
        page = ok(client.get(page["next"]))
        seen += [t["uuid"] for t in page["targets"]]
    assert seen == made


def test_detail_paging_keeps_detail(client: TestClient, node: str) -> None:
    for i in range(2):
        create_target(client, node, boot_index=i)
    page = ok(client.get(f"/v1/volume/targets?detail=True&limit=1&node={node}"))
    query = parse_qs(urlsplit(page["next"]).query)
    assert query["detail"] == ["True"]
    assert query["node"] == [node]
    assert "properties" in ok(client.get(page["next"]))["targets"][0]


def test_sort_by_boot_index_descending(client: TestClient, node: str) -> None:
    for i in (1, 0, 2):
        create_target(client, node, boot_index=i)
    listed = ok(client.get("/v1/volume/targets?sort_key=boot_index&sort_dir=desc"))["targets"]
    assert [t["boot_index"] for t in listed] == [2, 1, 0]


# --- update -------------------------------------------------------------------------------


def test_update_needs_the_node_powered_off(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    url = f"/v1/volume/targets/{target['uuid']}"
    assert error(patch(client, url, add("/extra/a", 1)), 400) == (
        f'The requested action "volume target update" can not be performed on node "{node}" '
        'while it is in state "None".'
    )
    power(client, node, "power off")
    assert ok(patch(client, url, add("/extra/a", 1)))["extra"] == {"a": 1}


def test_update_while_active_and_powered_on_is_400(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    to_active(client, node)
    url = f"/v1/volume/targets/{target['uuid']}"
    assert error(patch(client, url, replace("/volume_id", "v2")), 400) == (
        f'The requested action "volume target update" can not be performed on node "{node}" '
        'while it is in state "power on".'
    )
    power(client, node, "power off")
    assert ok(patch(client, url, replace("/volume_id", "v2")))["volume_id"] == "v2"


def test_set_a_property_as_the_cli_does(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node, properties=iscsi_properties())
    url = f"/v1/volume/targets/{target['uuid']}"
    updated = ok(patch(client, url, add("/properties/target_lun", 1)))
    assert updated["properties"]["target_lun"] == 1
    assert updated["updated_at"] is not None
    error(patch(client, url, add("/properties/target_lun", "1")), 400)
    assert ok(client.get(url))["properties"]["target_lun"] == 1


def test_unset_a_property(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node, properties=iscsi_properties())
    url = f"/v1/volume/targets/{target['uuid']}"
    assert (
        "target_lun" not in ok(patch(client, url, remove("/properties/target_lun")))["properties"]
    )
    response = patch(client, url, remove("/properties/target_lun"))
    assert "can't remove a non-existent object 'target_lun'" in error(response, 400)


def test_patch_boot_index_to_a_used_one_is_409(client: TestClient, off_node: str) -> None:
    create_target(client, off_node, boot_index=0)
    create_target(client, off_node, boot_index=1)
    third = create_target(client, off_node, boot_index=2)
    url = f"/v1/volume/targets/{third['uuid']}"
    assert error(patch(client, url, replace("/boot_index", 1)), 409) == (
        "A volume target with boot index '1' for the same node already exists."
    )
    assert ok(patch(client, url, replace("/boot_index", 5)))["boot_index"] == 5


def test_patch_boot_index_to_its_own_value(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node, boot_index=0)
    url = f"/v1/volume/targets/{target['uuid']}"
    assert ok(patch(client, url, replace("/boot_index", 0)))["boot_index"] == 0


@pytest.mark.parametrize("value", [-1, "1", None, 2**40])
def test_patch_bad_boot_index_is_400(client: TestClient, off_node: str, value: Any) -> None:
    target = create_target(client, off_node)
    error(patch(client, f"/v1/volume/targets/{target['uuid']}", replace("/boot_index", value)), 400)


def test_patch_uuid_is_400(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node)
    response = patch(client, f"/v1/volume/targets/{target['uuid']}", replace("/uuid", "x"))
    assert error(response, 400) == (
        f"Cannot patch /uuid. Only the following can be updated: {UPDATABLE}"
    )


def test_patch_node_uuid_to_an_unknown_node_is_400(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node)
    ghost = str(uuidlib.uuid4())
    url = f"/v1/volume/targets/{target['uuid']}"
    assert ghost in error(patch(client, url, replace("/node_uuid", ghost)), 400)
    assert ok(client.get(url))["node_uuid"] == off_node


def test_move_to_another_node(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node, boot_index=0)
    other = create_node(client)["uuid"]
    create_target(client, other, boot_index=0)
    url = f"/v1/volume/targets/{target['uuid']}"
    # The other node already has a boot volume.
    error(patch(client, url, replace("/node_uuid", other)), 409)
    moved = ok(patch(client, url, replace("/node_uuid", other), replace("/boot_index", 1)))
    assert (moved["node_uuid"], moved["boot_index"]) == (other, 1)


def test_patch_to_bogus_type_is_400(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node)
    response = patch(client, f"/v1/volume/targets/{target['uuid']}", replace("/volume_type", "x"))
    assert "Invalid volume_type 'x'" in error(response, 400)


def test_patch_in_unknown_field_is_400(client: TestClient, off_node: str) -> None:
    target = create_target(client, off_node)
    response = patch(client, f"/v1/volume/targets/{target['uuid']}", add("/bogus", 1))
    assert error(response, 400).startswith("Cannot patch /bogus.")


def test_patch_unknown_is_404(client: TestClient) -> None:
    ghost = str(uuidlib.uuid4())
    error(patch(client, f"/v1/volume/targets/{ghost}", add("/extra/a", 1)), 404)


# --- delete ---------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["enroll", "manageable", "available", "adopt failed"])
def test_delete_allowed_states_whatever_the_power(
    client: TestClient, services: ApiServices, node: str, state: str
) -> None:
    target = create_target(client, node)
    force(services, node, provision_state=state, power_state="power on")
    assert client.delete(f"/v1/volume/targets/{target['uuid']}").status_code == 204
    error(client.get(f"/v1/volume/targets/{target['uuid']}"), 404)


def test_delete_while_active_needs_power_off(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    to_active(client, node)
    url = f"/v1/volume/targets/{target['uuid']}"
    assert error(client.delete(url), 400) == (
        f'The requested action "volume target deletion" can not be performed on node '
        f'"{node}" while it is in state "power on".'
    )
    power(client, node, "power off")
    assert client.delete(url).status_code == 204


def test_delete_frees_the_boot_index(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    assert client.delete(f"/v1/volume/targets/{target['uuid']}").status_code == 204
    create_target(client, node, boot_index=0)


def test_undeploy_of_a_fake_deploy_keeps_the_targets(client: TestClient, node: str) -> None:
    target = create_target(client, node)
    to_active(client, node)
    provision(client, node, "deleted", "available")
    ok(client.get(f"/v1/volume/targets/{target['uuid']}"))
