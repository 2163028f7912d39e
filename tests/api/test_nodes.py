"""/v1/nodes: create, show, list, update (JSON Patch) and delete, with Ironic's errors."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from tests.api.helpers import (
    add,
    create_connector,
    create_node,
    create_target,
    error,
    force,
    ok,
    patch,
    provision,
    remove,
    replace,
    to_active,
    v,
)

SUMMARY = {"uuid", "name", "instance_uuid", "power_state", "provision_state", "maintenance"}
INTERFACES = (
    "boot",
    "console",
    "deploy",
    "inspect",
    "management",
    "network",
    "power",
    "raid",
    "storage",
    "vendor",
)


@pytest.fixture
def other_hardware() -> str:
    """The second hardware type ironbound ships (enabled by default, with its own defaults)."""
    return "redfish"


# --- create -------------------------------------------------------------------


def test_create_returns_the_full_node(client: TestClient) -> None:
    response = client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "bfv-node-1"})
    node = ok(response, 201)
    assert response.headers["location"] == f"http://127.0.0.1:6385/v1/nodes/{node['uuid']}"
    assert uuidlib.UUID(node["uuid"])
    assert node["name"] == "bfv-node-1"
    assert node["provision_state"] == "enroll"
    assert node["target_provision_state"] is None
    assert node["power_state"] is None
    assert node["maintenance"] is False
    assert node["storage_interface"] == "noop"
    assert node["boot_interface"] == "fake"
    assert node["deploy_interface"] == "fake"
    assert node["network_interface"] == "noop"
    assert node["updated_at"] is None
    assert node["created_at"].endswith("+00:00")
    assert node["links"] == [
        {"href": f"http://127.0.0.1:6385/v1/nodes/{node['uuid']}", "rel": "self"},
        {"href": f"http://127.0.0.1:6385/nodes/{node['uuid']}", "rel": "bookmark"},
    ]
    assert node["volume"][0]["href"].endswith(f"/v1/nodes/{node['uuid']}/volume")
    assert node["ports"][0]["href"].endswith(f"/v1/nodes/{node['uuid']}/ports")


def test_create_with_a_given_uuid_and_interfaces(client: TestClient) -> None:
    wanted = str(uuidlib.uuid4())
    node = create_node(
        client, uuid=wanted.upper(), boot_interface="ipxe", storage_interface="external"
    )
    assert node["uuid"] == wanted
    assert node["boot_interface"] == "ipxe"
    assert node["storage_interface"] == "external"


def test_create_before_1_11_lands_in_available(client: TestClient) -> None:
    node = ok(client.post("/v1/nodes", json={"driver": "fake-hardware"}, headers=v(10)), 201)
    assert node["provision_state"] == "available"
    at_1_1 = ok(client.get(f"/v1/nodes/{node['uuid']}", headers=v(1)))
    assert at_1_1["provision_state"] is None  # "available" is spelled None before 1.2


def test_duplicate_uuid_is_409(client: TestClient) -> None:
    node = create_node(client)
    message = error(
        client.post("/v1/nodes", json={"driver": "fake-hardware", **node_uuid(node)}), 409
    )
    assert message == f"A node with UUID {node['uuid']} already exists."


def node_uuid(node: dict[str, Any]) -> dict[str, str]:
    return {"uuid": node["uuid"]}


def test_duplicate_name_is_409(client: TestClient) -> None:
    create_node(client, name="twin")
    message = error(client.post("/v1/nodes", json={"driver": "fake-hardware", "name": "twin"}), 409)
    assert message == "A node with name twin already exists."


def test_duplicate_instance_uuid_is_409(client: TestClient) -> None:
    instance = str(uuidlib.uuid4())
    first = create_node(client, instance_uuid=instance)
    response = client.post("/v1/nodes", json={"driver": "fake-hardware", "instance_uuid": instance})
    assert error(response, 409) == f"Node {first['uuid']} is associated with instance {instance}."


def test_unknown_driver_is_400(client: TestClient) -> None:
    message = error(client.post("/v1/nodes", json={"driver": "idrac"}), 400)
    assert "No valid host was found" in message
    assert "idrac" in message
    assert "fake-hardware" in message


def test_missing_driver_is_400(client: TestClient) -> None:
    assert "driver" in error(client.post("/v1/nodes", json={"name": "x"}), 400)


def test_unknown_field_is_400(client: TestClient) -> None:
    response = client.post("/v1/nodes", json={"driver": "fake-hardware", "bogus_field": 1})
    assert "bogus_field" in error(response, 400)


@pytest.mark.parametrize(
    "field", ["provision_state", "power_state", "reservation", "maintenance", "created_at"]
)
def test_read_only_fields_cannot_be_set_on_create(client: TestClient, field: str) -> None:
    response = client.post("/v1/nodes", json={"driver": "fake-hardware", field: "x"})
    assert field in error(response, 400)


@pytest.mark.parametrize(
    ("field", "value", "minor"),
    [
        ("name", "n", 4),
        ("network_interface", "noop", 19),
        ("resource_class", "gold", 20),
        ("boot_interface", "fake", 30),
        ("storage_interface", "external", 32),
    ],
)
def test_field_newer_than_the_version_is_406(
    client: TestClient, field: str, value: str, minor: int
) -> None:
    response = client.post(
        "/v1/nodes", json={"driver": "fake-hardware", field: value}, headers=v(minor)
    )
    assert field in error(response, 406)
    ok(
        client.post(
            "/v1/nodes", json={"driver": "fake-hardware", field: value}, headers=v(minor + 1)
        ),
        201,
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("uuid", "not-a-uuid"),
        ("instance_uuid", "nope"),
        ("driver_info", "a string"),
        ("extra", [1, 2]),
        ("properties", None),
        ("name", 5),
        ("driver", ""),
        ("resource_class", "x" * 81),
    ],
)
def test_badly_typed_fields_are_400(client: TestClient, field: str, value: Any) -> None:
    error(client.post("/v1/nodes", json={"driver": "fake-hardware", field: value}), 400)


def test_storage_interface_not_enabled_is_400_listing_the_valid_ones(client: TestClient) -> None:
    for name in ("fake", "bogus"):
        message = error(
            client.post("/v1/nodes", json={"driver": "fake-hardware", "storage_interface": name}),
            400,
        )
        assert message == (
            "Could not find the following interface in the "
            f"'ironbound.hardware.interfaces.storage' entrypoint: {name}. "
            "Valid interfaces are ['cinder', 'external', 'managed', 'noop']."
        )


# --- names ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["node-1", "rack1.node2", "a", "x" * 63])
def test_hostname_like_names_from_1_5(client: TestClient, name: str) -> None:
    ok(client.post("/v1/nodes", json={"driver": "fake-hardware", "name": name}, headers=v(5)), 201)


@pytest.mark.parametrize("name", ["ns~host", "under_score", "-lead"])
def test_url_safe_names_need_1_10(client: TestClient, name: str) -> None:
    body = {"driver": "fake-hardware", "name": name}
    assert name in error(client.post("/v1/nodes", json=body, headers=v(9)), 400)
    ok(client.post("/v1/nodes", json=body, headers=v(10)), 201)


@pytest.mark.parametrize("name", ["has space", "sl/ash", "", "x" * 256, "ünï"])
def test_invalid_names_are_400(client: TestClient, name: str) -> None:
    error(client.post("/v1/nodes", json={"driver": "fake-hardware", "name": name}), 400)


def test_a_uuid_cannot_be_a_name(client: TestClient) -> None:
    name = str(uuidlib.uuid4())
    message = error(client.post("/v1/nodes", json={"driver": "fake-hardware", "name": name}), 400)
    assert name in message


# --- show ------------------------------------------------------------------------


def test_show_by_uuid_and_by_name(client: TestClient) -> None:
    node = create_node(client, name="wire-node")
    assert ok(client.get("/v1/nodes/wire-node"))["uuid"] == node["uuid"]
    assert ok(client.get(f"/v1/nodes/{node['uuid'].upper()}"))["name"] == "wire-node"


def test_show_by_name_needs_1_5(client: TestClient) -> None:
    create_node(client, name="named")
    assert error(client.get("/v1/nodes/named", headers=v(4)), 400) == (
        "Expected UUID for node: named"
    )


def test_show_unknown_is_404(client: TestClient) -> None:
    unknown = str(uuidlib.uuid4())
    assert error(client.get(f"/v1/nodes/{unknown}"), 404) == f"Node {unknown} could not be found."
    assert error(client.get("/v1/nodes/ghost"), 404) == "Node ghost could not be found."


def test_show_with_fields(client: TestClient) -> None:
    node = create_node(client, name="f")
    shown = ok(client.get(f"/v1/nodes/{node['uuid']}", params={"fields": "name,driver"}))
    assert set(shown) == {"name", "driver", "links"}


def test_show_with_an_unknown_field_is_400(client: TestClient) -> None:
    node = create_node(client)
    message = error(client.get(f"/v1/nodes/{node['uuid']}", params={"fields": "name,bogus"}), 400)
    assert "bogus" in message


def test_fields_needs_1_8(client: TestClient) -> None:
    node = create_node(client)
    error(client.get(f"/v1/nodes/{node['uuid']}", params={"fields": "uuid"}, headers=v(7)), 406)
    error(client.get("/v1/nodes", params={"fields": "uuid"}, headers=v(7)), 406)
    ok(client.get("/v1/nodes", params={"fields": "uuid"}, headers=v(8)))


def test_storage_interface_field_at_1_32_is_406(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    error(client.get(url, params={"fields": "storage_interface"}, headers=v(32)), 406)
    error(client.get("/v1/nodes", params={"fields": "uuid,storage_interface"}, headers=v(32)), 406)
    assert "storage_interface" not in ok(client.get(url, headers=v(32)))
    assert ok(client.get(url, params={"fields": "storage_interface"}, headers=v(33))) == {
        "storage_interface": "noop",
        "links": node["links"],
    }


def test_unknown_query_parameter_on_show_is_400(client: TestClient) -> None:
    node = create_node(client)
    assert "bogus" in error(client.get(f"/v1/nodes/{node['uuid']}?bogus=1"), 400)


def test_fields_shown_per_version(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    assert "driver_internal_info" not in ok(client.get(url, headers=v(2)))
    assert "driver_internal_info" in ok(client.get(url, headers=v(3)))
    assert "network_interface" not in ok(client.get(url, headers=v(19)))
    assert "volume" not in ok(client.get(url, headers=v(31)))
    at_33 = ok(client.get(url, headers=v(33)))
    for iface in INTERFACES:
        assert f"{iface}_interface" in at_33


# --- list --------------------------------------------------------------------------


def test_list_summary(client: TestClient) -> None:
    node = create_node(client, name="listed")
    listed = ok(client.get("/v1/nodes"))
    assert list(listed) == ["nodes"]
    assert set(listed["nodes"][0]) == SUMMARY | {"links"}
    assert listed["nodes"][0]["uuid"] == node["uuid"]


def test_list_detail(client: TestClient) -> None:
    node = create_node(client)
    listed = ok(client.get("/v1/nodes/detail"))["nodes"]
    assert listed[0] == ok(client.get(f"/v1/nodes/{node['uuid']}"))


def test_list_with_fields(client: TestClient) -> None:
    create_node(client, name="a")
    listed = ok(client.get("/v1/nodes", params={"fields": "uuid,provision_state"}))["nodes"]
    assert set(listed[0]) == {"uuid", "provision_state", "links"}


def test_detail_with_fields_is_400(client: TestClient) -> None:
    message = error(client.get("/v1/nodes/detail", params={"fields": "uuid"}), 400)
    assert message == "Can't fetch a subset of fields with 'detail' set"


def test_detail_query_parameter_is_400_at_1_33(client: TestClient) -> None:
    response = client.get("/v1/nodes", params={"detail": "True"}, headers=v(33))
    assert "Invalid query parameter ?detail=True received." in error(response, 400)


def test_unknown_filter_is_400(client: TestClient) -> None:
    message = error(client.get("/v1/nodes", params={"provision_stat": "active"}), 400)
    assert "provision_stat" in message


def _names(response: Any) -> list[str]:
    return [n["name"] for n in ok(response)["nodes"]]


def test_limit_marker_and_next(client: TestClient) -> None:
    uuids = [create_node(client, name=f"n{i}")["uuid"] for i in range(5)]
    first = ok(client.get("/v1/nodes", params={"limit": 2}))
    assert [n["uuid"] for n in first["nodes"]] == uuids[:2]
    next_url = urlsplit(first["next"])
    assert next_url.path == "/v1/nodes"
    query = parse_qs(next_url.query)
    assert query["limit"] == ["2"]
    assert query["marker"] == [uuids[1]]
    second = ok(client.get(first["next"]))
    assert [n["uuid"] for n in second["nodes"]] == uuids[2:4]
    third = ok(client.get(second["next"]))
    assert [n["uuid"] for n in third["nodes"]] == uuids[4:]
    assert "next" not in third


def test_a_full_last_page_still_links_to_an_empty_one(client: TestClient) -> None:
    for _ in range(2):
        create_node(client)
    first = ok(client.get("/v1/nodes", params={"limit": 2}))
    assert "next" in first
    assert ok(client.get(first["next"])) == {"nodes": []}


def test_next_keeps_filters_fields_and_sort(client: TestClient) -> None:
    for i in range(3):
        create_node(client, name=f"s{i}")
    first = ok(
        client.get(
            "/v1/nodes",
            params={
                "limit": 1,
                "sort_key": "name",
                "sort_dir": "desc",
                "fields": "uuid,name",
                "maintenance": "false",
            },
        )
    )
    query = parse_qs(urlsplit(first["next"]).query)
    assert query["sort_key"] == ["name"]
    assert query["sort_dir"] == ["desc"]
    assert query["fields"] == ["uuid,name"]
    assert query["maintenance"] == ["false"]
    names = [first["nodes"][0]["name"]]
    page = first
    while "next" in page:
        page = ok(client.get(page["next"]))
        names += [n["name"] for n in page["nodes"]]
    assert names == ["s2", "s1", "s0"]


def test_detail_next_stays_on_detail(client: TestClient) -> None:
    for _ in range(2):
        create_node(client)
    page = ok(client.get("/v1/nodes/detail", params={"limit": 1}))
    assert urlsplit(page["next"]).path == "/v1/nodes/detail"
    assert "driver_info" in ok(client.get(page["next"]))["nodes"][0]


def test_sort_by_name_with_nulls(client: TestClient) -> None:
    create_node(client, name="b")
    unnamed = create_node(client)
    create_node(client, name="a")
    asc = ok(client.get("/v1/nodes", params={"sort_key": "name"}))["nodes"]
    assert [n["name"] for n in asc] == [None, "a", "b"]
    assert asc[0]["uuid"] == unnamed["uuid"]
    desc = _names(client.get("/v1/nodes", params={"sort_key": "name", "sort_dir": "desc"}))
    assert desc == ["b", "a", None]


def test_marker_paging_with_a_sort_key_visits_every_node_once(client: TestClient) -> None:
    for name in ("c", None, "a", None, "b"):
        create_node(client, **({"name": name} if name else {}))
    for direction in ("asc", "desc"):
        seen: list[str] = []
        page = ok(
            client.get("/v1/nodes", params={"limit": 2, "sort_key": "name", "sort_dir": direction})
        )
        seen += [n["uuid"] for n in page["nodes"]]
        while "next" in page:
            page = ok(client.get(page["next"]))
            seen += [n["uuid"] for n in page["nodes"]]
        assert len(seen) == len(set(seen)) == 5


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"limit": "0"}, "Limit must be positive"),
        ({"limit": "-1"}, "Limit must be positive"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "--5"}, "limit"),
        ({"limit": "\u00b2"}, "limit"),
        ({"sort_dir": "up"}, "Invalid sort direction: up"),
        ({"sort_key": "driver_info"}, "driver_info"),
        ({"marker": "not-a-uuid"}, "Expected UUID for marker: not-a-uuid"),
        ({"marker": str(uuidlib.UUID(int=7))}, "Marker"),
        ({"maintenance": "perhaps"}, "perhaps"),
        ({"associated": "2"}, "associated"),
    ],
)
def test_bad_list_parameters_are_400(
    client: TestClient, params: dict[str, str], needle: str
) -> None:
    assert needle in error(client.get("/v1/nodes", params=params), 400)


def test_huge_limit_is_capped_not_a_crash(client: TestClient) -> None:
    create_node(client)
    assert len(ok(client.get("/v1/nodes", params={"limit": "9" * 5000}))["nodes"]) == 1
    assert len(ok(client.get("/v1/nodes", params={"limit": "100000"}))["nodes"]) == 1


@pytest.mark.parametrize("overrides", [{"api.max_limit": 2}])
def test_limit_is_capped_at_max_limit(client: TestClient) -> None:
    for _ in range(3):
        create_node(client)
    page = ok(client.get("/v1/nodes", params={"limit": 50}))
    assert len(page["nodes"]) == 2
    assert parse_qs(urlsplit(page["next"]).query)["limit"] == ["2"]
    assert len(ok(client.get("/v1/nodes"))["nodes"]) == 2


def test_filter_maintenance(client: TestClient) -> None:
    down = create_node(client, name="down")
    create_node(client, name="up")
    ok(client.put(f"/v1/nodes/{down['uuid']}/maintenance", json={"reason": "disk"}), 202)
    assert _names(client.get("/v1/nodes?maintenance=true")) == ["down"]
    assert _names(client.get("/v1/nodes?maintenance=False")) == ["up"]


def test_filter_associated(client: TestClient) -> None:
    create_node(client, name="busy", instance_uuid=str(uuidlib.uuid4()))
    create_node(client, name="free")
    assert _names(client.get("/v1/nodes?associated=True")) == ["busy"]
    assert _names(client.get("/v1/nodes?associated=false")) == ["free"]


def test_filter_instance_uuid(client: TestClient) -> None:
    instance = str(uuidlib.uuid4())
    create_node(client, name="busy", instance_uuid=instance)
    create_node(client, name="free")
    assert _names(client.get(f"/v1/nodes?instance_uuid={instance}")) == ["busy"]
    error(client.get("/v1/nodes?instance_uuid=nope"), 400)


def test_filter_provision_state(client: TestClient) -> None:
    managed = create_node(client, name="managed")
    create_node(client, name="enrolled")
    provision(client, managed["uuid"], "manage", "manageable")
    assert _names(client.get("/v1/nodes?provision_state=manageable")) == ["managed"]
    assert _names(client.get("/v1/nodes?provision_state=enroll")) == ["enrolled"]
    assert _names(client.get("/v1/nodes?provision_state=active")) == []


def test_filter_driver(client: TestClient, other_hardware: str) -> None:
    create_node(client, name="fake")
    create_node(client, name="other", driver=other_hardware)
    assert _names(client.get("/v1/nodes?driver=fake-hardware")) == ["fake"]
    assert _names(client.get(f"/v1/nodes?driver={other_hardware}")) == ["other"]


def test_filter_resource_class(client: TestClient) -> None:
    create_node(client, name="gold", resource_class="gold")
    create_node(client, name="plain")
    assert _names(client.get("/v1/nodes?resource_class=gold")) == ["gold"]


def test_filter_chassis_matches_nothing(client: TestClient) -> None:
    create_node(client)
    assert _names(client.get(f"/v1/nodes?chassis_uuid={uuidlib.uuid4()}")) == []


# --- update -------------------------------------------------------------------------


def test_patch_returns_the_node(client: TestClient) -> None:
    node = create_node(client)
    response = patch(client, f"/v1/nodes/{node['uuid']}", add("/extra/rack", "r1"))
    updated = ok(response)
    assert updated["extra"] == {"rack": "r1"}
    assert updated["updated_at"] is not None
    assert ok(client.get(f"/v1/nodes/{node['uuid']}"))["extra"] == {"rack": "r1"}


def test_add_on_an_existing_member_replaces_it(client: TestClient) -> None:
    node = create_node(client, name="before", extra={"k": "old"})
    url = f"/v1/nodes/{node['uuid']}"
    updated = ok(patch(client, url, add("/extra/k", "new"), add("/name", "after")))
    assert updated["extra"] == {"k": "new"}
    assert updated["name"] == "after"


def test_add_a_whole_mapping(client: TestClient) -> None:
    node = create_node(client, properties={"cpus": 2})
    updated = ok(patch(client, f"/v1/nodes/{node['uuid']}", add("/properties", {"memory_mb": 8})))
    assert updated["properties"] == {"memory_mb": 8}


def test_the_capabilities_property_of_the_guide(client: TestClient) -> None:
    node = create_node(client)
    caps = add("/properties/capabilities", "iscsi_boot:True")
    updated = ok(patch(client, f"/v1/nodes/{node['uuid']}", caps))
    assert updated["properties"] == {"capabilities": "iscsi_boot:True"}


def test_nested_add_and_remove(client: TestClient) -> None:
    node = create_node(client, extra={"a": {"b": [1, 2]}})
    url = f"/v1/nodes/{node['uuid']}"
    assert ok(patch(client, url, add("/extra/a/b/-", 3)))["extra"] == {"a": {"b": [1, 2, 3]}}
    assert ok(patch(client, url, remove("/extra/a/b/0")))["extra"] == {"a": {"b": [2, 3]}}
    assert ok(patch(client, url, remove("/extra/a")))["extra"] == {}


def test_patch_is_all_or_nothing(client: TestClient) -> None:
    node = create_node(client, extra={"keep": 1})
    url = f"/v1/nodes/{node['uuid']}"
    error(patch(client, url, add("/extra/new", 1), remove("/extra/missing")), 400)
    assert ok(client.get(url))["extra"] == {"keep": 1}


def test_remove_a_missing_instance_info_key_is_400(client: TestClient) -> None:
    node = create_node(client)
    response = patch(client, f"/v1/nodes/{node['uuid']}", remove("/instance_info/image_source"))
    assert error(response, 400) == (
        "Couldn't apply patch '{'op': 'remove', 'path': '/instance_info/image_source'}'. "
        "Reason: can't remove a non-existent object 'image_source'"
    )


def test_replace_a_missing_key_is_400(client: TestClient) -> None:
    node = create_node(client)
    response = patch(client, f"/v1/nodes/{node['uuid']}", replace("/extra/nothing", 1))
    assert "Couldn't apply patch" in error(response, 400)


def test_patch_uuid_is_400(client: TestClient) -> None:
    node = create_node(client)
    message = error(patch(client, f"/v1/nodes/{node['uuid']}", replace("/uuid", "x")), 400)
    assert message.startswith("Cannot patch /uuid. Only the following can be updated: ")
    assert "driver_info" in message


@pytest.mark.parametrize(
    "path", ["/provision_state", "/power_state", "/reservation", "/links", "/driver_internal_info"]
)
def test_patch_read_only_fields_is_400(client: TestClient, path: str) -> None:
    node = create_node(client)
    message = error(patch(client, f"/v1/nodes/{node['uuid']}", replace(path, "x")), 400)
    assert message.startswith(f"Cannot patch {path}.")


def test_remove_driver_is_400(client: TestClient) -> None:
    node = create_node(client)
    message = error(patch(client, f"/v1/nodes/{node['uuid']}", remove("/driver")), 400)
    assert message == "'/driver' is a mandatory attribute and can not be removed"


@pytest.mark.parametrize(
    "body",
    [
        {"op": "add", "path": "/extra/x", "value": 1},  # not a list
        [],
        [{"op": "move", "path": "/extra/x", "from": "/extra/y"}],
        [{"op": "test", "path": "/extra/x", "value": 1}],
        [{"op": "add", "path": "extra/x", "value": 1}],
        [{"op": "add", "path": "/", "value": 1}],
        [{"op": "add", "path": "/extra/x"}],
        [{"op": "remove"}],
        [{"op": "add", "path": "/extra/x", "value": 1, "bogus": 2}],
        ["add"],
        [{"op": "add", "path": 5, "value": 1}],
    ],
)
def test_malformed_patch_documents_are_400(client: TestClient, body: Any) -> None:
    node = create_node(client)
    error(client.patch(f"/v1/nodes/{node['uuid']}", json=body), 400)


@pytest.mark.parametrize(
    "op",
    [
        add("/extra/a~2b", 1),  # invalid JSON pointer escape
        add("/extra/~", 1),
        remove("/extra/s/0"),  # indexing into a string
        replace("/extra/s/0", 1),
        add("/extra/s/0", 1),
        add("/extra/l/99", 1),
        replace("/extra/l/x", 1),
        remove("/extra/l/-"),
        add("/extra/l/01", 1),
    ],
)
def test_patch_paths_that_do_not_apply_are_400_not_500(client: TestClient, op: Any) -> None:
    node = create_node(client, extra={"s": "abc", "l": [1]})
    error(patch(client, f"/v1/nodes/{node['uuid']}", op), 400)


def test_escaped_pointer_paths_work(client: TestClient) -> None:
    node = create_node(client)
    updated = ok(patch(client, f"/v1/nodes/{node['uuid']}", add("/extra/a~1b~0c", 1)))
    assert updated["extra"] == {"a/b~c": 1}


@pytest.mark.parametrize(
    "op",
    [
        replace("/driver_info", "string"),
        add("/instance_uuid", "not-a-uuid"),
        replace("/name", "has space"),
        replace("/extra", None),
        replace("/resource_class", 7),
    ],
)
def test_patch_to_an_invalid_value_is_400(client: TestClient, op: Any) -> None:
    node = create_node(client)
    error(patch(client, f"/v1/nodes/{node['uuid']}", op), 400)


def test_patch_name_to_a_taken_one_is_409(client: TestClient) -> None:
    create_node(client, name="taken")
    node = create_node(client, name="mine")
    message = error(patch(client, f"/v1/nodes/{node['uuid']}", replace("/name", "taken")), 409)
    assert message == "A node with name taken already exists."


def test_remove_name(client: TestClient) -> None:
    node = create_node(client, name="gone")
    assert ok(patch(client, f"/v1/nodes/{node['uuid']}", remove("/name")))["name"] is None
    error(client.get("/v1/nodes/gone"), 404)


def test_patch_unknown_node_is_404(client: TestClient) -> None:
    error(patch(client, "/v1/nodes/ghost", add("/extra/x", 1)), 404)


def test_patch_at_an_old_version_keeps_newer_fields(client: TestClient) -> None:
    node = create_node(client, name="keep-me", resource_class="gold", boot_interface="ipxe")
    url = f"/v1/nodes/{node['uuid']}"
    ok(patch(client, url, add("/extra/x", 1), headers=v(1)))
    after = ok(client.get(url))
    assert after["name"] == "keep-me"
    assert after["resource_class"] == "gold"
    assert after["boot_interface"] == "ipxe"
    assert after["extra"] == {"x": 1}


def test_patch_name_needs_1_5(client: TestClient) -> None:
    node = create_node(client)
    response = patch(client, f"/v1/nodes/{node['uuid']}", add("/name", "n"), headers=v(4))
    assert "name" in error(response, 406)
    ok(patch(client, f"/v1/nodes/{node['uuid']}", add("/name", "n"), headers=v(5)))


def test_interface_is_reset_to_the_default_on_remove(client: TestClient) -> None:
    node = create_node(client, boot_interface="ipxe", storage_interface="external")
    url = f"/v1/nodes/{node['uuid']}"
    updated = ok(patch(client, url, remove("/boot_interface"), remove("/storage_interface")))
    assert updated["boot_interface"] == "fake"
    assert updated["storage_interface"] == "noop"


def test_set_storage_interface(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    assert (
        ok(patch(client, url, add("/storage_interface", "cinder")))["storage_interface"] == "cinder"
    )


def test_set_storage_interface_not_enabled_is_400(client: TestClient) -> None:
    node = create_node(client)
    message = error(
        patch(client, f"/v1/nodes/{node['uuid']}", add("/storage_interface", "fake")), 400
    )
    assert message.endswith("Valid interfaces are ['cinder', 'external', 'managed', 'noop'].")


def test_patch_storage_interface_at_1_32_is_406(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    error(patch(client, url, add("/storage_interface", "external"), headers=v(32)), 406)
    error(patch(client, url, remove("/storage_interface"), headers=v(32)), 406)
    error(patch(client, url, add("/boot_interface", "ipxe"), headers=v(30)), 406)
    assert ok(client.get(url))["storage_interface"] == "noop"


def test_patch_unknown_field_is_400_not_406(client: TestClient) -> None:
    node = create_node(client)
    message = error(patch(client, f"/v1/nodes/{node['uuid']}", add("/bogus", 1)), 400)
    assert message.startswith("Cannot patch /bogus.")


def test_storage_interface_change_while_active_is_409(client: TestClient) -> None:
    node = create_node(client)
    to_active(client, node["uuid"])
    response = patch(client, f"/v1/nodes/{node['uuid']}", add("/storage_interface", "external"))
    assert error(response, 409) == (
        f"Node {node['uuid']} can not have storage_interface updated unless it is in one of "
        "allowed (enroll, inspecting, inspect wait, manageable, available) states or in "
        "maintenance mode. Current state is 'active'."
    )


def test_storage_interface_change_in_error_is_409_until_maintenance(
    client: TestClient, services: ApiServices
) -> None:
    node = create_node(client, storage_interface="cinder")
    force(services, node["uuid"], provision_state="error")
    url = f"/v1/nodes/{node['uuid']}"
    message = error(patch(client, url, add("/storage_interface", "external")), 409)
    assert message.endswith("Current state is 'error'.")
    ok(client.put(f"{url}/maintenance", json={"reason": "recover"}), 202)
    assert ok(patch(client, url, add("/storage_interface", "external")))["storage_interface"] == (
        "external"
    )


def test_other_fields_can_change_while_active(client: TestClient) -> None:
    node = create_node(client)
    to_active(client, node["uuid"])
    updated = ok(patch(client, f"/v1/nodes/{node['uuid']}", add("/extra/owner", "ops")))
    assert updated["extra"] == {"owner": "ops"}


def test_driver_change_resets_interfaces_to_the_new_defaults(
    client: TestClient, other_hardware: str
) -> None:
    node = create_node(client, boot_interface="fake", storage_interface="external")
    url = f"/v1/nodes/{node['uuid']}?reset_interfaces=true"
    updated = ok(patch(client, url, replace("/driver", other_hardware)))
    assert updated["driver"] == other_hardware
    assert updated["boot_interface"] == "ipxe"
    assert updated["deploy_interface"] == "direct"
    assert updated["power_interface"] == "redfish"
    assert updated["management_interface"] == "redfish"
    assert updated["storage_interface"] == "noop"


def test_driver_change_with_an_interface(client: TestClient, other_hardware: str) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}?reset_interfaces=true"
    updated = ok(
        patch(
            client, url, replace("/driver", other_hardware), add("/storage_interface", "external")
        )
    )
    assert updated["storage_interface"] == "external"
    assert updated["boot_interface"] == "ipxe"


def test_driver_change_resets_an_interface_given_unchanged(
    client: TestClient, other_hardware: str
) -> None:
    # As in Ironic: with reset_interfaces, only interfaces the patch changes survive.
    node = create_node(client, storage_interface="external")
    url = f"/v1/nodes/{node['uuid']}?reset_interfaces=true"
    updated = ok(
        patch(
            client, url, replace("/driver", other_hardware), add("/storage_interface", "external")
        )
    )
    assert updated["storage_interface"] == "noop"


def test_driver_change_to_an_interface_the_new_driver_lacks_is_400(
    client: TestClient, other_hardware: str
) -> None:
    node = create_node(client, boot_interface="ipxe")
    url = f"/v1/nodes/{node['uuid']}"
    response = patch(
        client, url, replace("/driver", other_hardware), add("/boot_interface", "fake")
    )
    assert "fake" in error(response, 400)
    assert ok(client.get(url))["driver"] == "fake-hardware"


def test_driver_change_to_an_unknown_driver_is_400(client: TestClient) -> None:
    node = create_node(client)
    message = error(patch(client, f"/v1/nodes/{node['uuid']}", replace("/driver", "nope")), 400)
    assert "nope" in message


def test_driver_change_while_active_is_409(client: TestClient, other_hardware: str) -> None:
    node = create_node(client)
    to_active(client, node["uuid"])
    message = error(
        patch(client, f"/v1/nodes/{node['uuid']}", replace("/driver", other_hardware)), 409
    )
    assert "can not have driver updated" in message


def test_instance_uuid_set_and_clear(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    instance = str(uuidlib.uuid4())
    assert ok(patch(client, url, add("/instance_uuid", instance)))["instance_uuid"] == instance
    assert ok(patch(client, url, remove("/instance_uuid")))["instance_uuid"] is None


def test_instance_uuid_taken_is_409(client: TestClient) -> None:
    instance = str(uuidlib.uuid4())
    create_node(client, instance_uuid=instance)
    node = create_node(client)
    error(patch(client, f"/v1/nodes/{node['uuid']}", add("/instance_uuid", instance)), 409)


# --- delete ---------------------------------------------------------------------------


def test_delete(client: TestClient) -> None:
    node = create_node(client, name="doomed")
    response = client.delete("/v1/nodes/doomed")
    assert response.status_code == 204
    assert response.content == b""
    error(client.get(f"/v1/nodes/{node['uuid']}"), 404)


def test_delete_unknown_is_404(client: TestClient) -> None:
    assert error(client.delete("/v1/nodes/ghost"), 404) == "Node ghost could not be found."


def test_delete_while_active_is_409(client: TestClient) -> None:
    node = create_node(client)
    to_active(client, node["uuid"])
    assert error(client.delete(f"/v1/nodes/{node['uuid']}"), 409) == (
        f'Can not delete node "{node["uuid"]}" while it is in provision state "active". '
        "Valid provision states to perform deletion are: "
        "\"('manageable', 'enroll', 'adopt failed', 'available')\", "
        "or set the node into maintenance mode"
    )


def test_delete_while_active_in_maintenance(client: TestClient) -> None:
    node = create_node(client)
    to_active(client, node["uuid"])
    ok(client.put(f"/v1/nodes/{node['uuid']}/maintenance", json={}), 202)
    assert client.delete(f"/v1/nodes/{node['uuid']}").status_code == 204


@pytest.mark.parametrize("state", ["manageable", "available", "adopt failed", "enroll"])
def test_delete_allowed_states(client: TestClient, services: ApiServices, state: str) -> None:
    node = create_node(client)
    force(services, node["uuid"], provision_state=state)
    assert client.delete(f"/v1/nodes/{node['uuid']}").status_code == 204


@pytest.mark.parametrize("state", ["error", "deploy failed", "clean failed", "deploying"])
def test_delete_refused_states(client: TestClient, services: ApiServices, state: str) -> None:
    node = create_node(client)
    force(services, node["uuid"], provision_state=state)
    assert f'provision state "{state}"' in error(client.delete(f"/v1/nodes/{node['uuid']}"), 409)


def test_delete_of_an_available_node_cascades(client: TestClient, services: ApiServices) -> None:
    node = create_node(client)
    uuid = node["uuid"]
    force(services, uuid, provision_state="available")
    targets = [create_target(client, uuid, boot_index=i)["uuid"] for i in range(5)]
    connectors = [
        create_connector(client, uuid, connector_id=f"iqn.2010-10.org.openstack:n{i}")["uuid"]
        for i in range(2)
    ]
    port = ok(
        client.post("/v1/ports", json={"node_uuid": uuid, "address": "52:54:00:12:34:56"}), 201
    )
    assert client.delete(f"/v1/nodes/{uuid}").status_code == 204
    for target in targets:
        error(client.get(f"/v1/volume/targets/{target}"), 404)
    for connector in connectors:
        error(client.get(f"/v1/volume/connectors/{connector}"), 404)
    error(client.get(f"/v1/ports/{port['uuid']}"), 404)
    assert ok(client.get("/v1/volume/targets")) == {"targets": []}
    # The MAC and connector ids are free again.
    other = create_node(client)
    create_connector(client, other["uuid"], connector_id="iqn.2010-10.org.openstack:n0")
    ok(
        client.post("/v1/ports", json={"node_uuid": other["uuid"], "address": "52:54:00:12:34:56"}),
        201,
    )


def test_delete_of_an_associated_node_is_409(client: TestClient) -> None:
    node = create_node(client, instance_uuid=str(uuidlib.uuid4()))
    assert "associated with instance" in error(client.delete(f"/v1/nodes/{node['uuid']}"), 409)


# --- rescue_interface (1.38) ----------------------------------------------------------


def test_rescue_interface_is_no_rescue_and_gated_at_1_38(client: TestClient) -> None:
    node = create_node(client)
    assert node["rescue_interface"] == "no-rescue"
    url = f"/v1/nodes/{node['uuid']}"
    assert "rescue_interface" not in ok(client.get(url, headers=v(37)))
    assert "rescue_interface" in error(
        client.get(f"{url}?fields=rescue_interface", headers=v(37)), 406
    )
    body = {"driver": "fake-hardware", "rescue_interface": "no-rescue"}
    error(client.post("/v1/nodes", json=body, headers=v(37)), 406)
    assert ok(client.post("/v1/nodes", json=body, headers=v(38)), 201)["rescue_interface"] == (
        "no-rescue"
    )
    error(patch(client, url, replace("/rescue_interface", "no-rescue"), headers=v(37)), 406)
    ok(patch(client, url, replace("/rescue_interface", "no-rescue"), headers=v(38)))
    message = error(patch(client, url, replace("/rescue_interface", "fake"), headers=v(38)), 400)
    assert "no-rescue" in message
