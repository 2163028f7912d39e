"""Node fields, filters and parameters of microversions 1.37 to 1.51 (those Ironbound serves).

Each field is absent below its version and refused (406) in `fields=` there;
each settable one is refused (406) on create and PATCH below its version.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from ironbound.api.services import ApiServices
from tests.api.helpers import (
    add,
    create_node,
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

#: Each new field, the version it appeared in, and its value on a new node.
NEW_FIELDS: dict[str, tuple[int, Any]] = {
    "traits": (37, []),
    "bios_interface": (40, "fake"),
    "fault": (42, None),
    "deploy_step": (44, {}),
    "automated_clean": (47, None),
    "protected": (48, False),
    "protected_reason": (48, None),
    "owner": (50, None),
    "description": (51, None),
}

#: The settable ones with a value to set.
SETTABLE: dict[str, tuple[int, Any]] = {
    "automated_clean": (47, False),
    "owner": (50, "project-a"),
    "description": (51, "rack 4, slot 2"),
}


# --- the fields on the wire ------------------------------------------------------


@pytest.mark.parametrize(("name", "since_default"), NEW_FIELDS.items())
def test_a_field_appears_at_its_version(
    client: TestClient, name: str, since_default: tuple[int, Any]
) -> None:
    since, default = since_default
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    assert node[name] == default
    assert name not in ok(client.get(url, headers=v(since - 1)))
    assert ok(client.get(url, headers=v(since)))[name] == default
    detail = ok(client.get("/v1/nodes/detail", headers=v(since)))["nodes"][0]
    assert detail[name] == default
    assert name not in ok(client.get("/v1/nodes/detail", headers=v(since - 1)))["nodes"][0]
    assert name not in ok(client.get("/v1/nodes"))["nodes"][0]  # not in the summary
    shown = ok(client.get(f"{url}?fields={name}", headers=v(since)))
    assert shown[name] == default
    assert set(shown) == {name, "links"}
    listed = ok(client.get(f"/v1/nodes?fields=uuid,{name}", headers=v(since)))["nodes"][0]
    assert listed[name] == default
    assert "newer API version" in error(
        client.get(f"{url}?fields={name}", headers=v(since - 1)), 406
    )


@pytest.mark.parametrize(("name", "since_value"), SETTABLE.items())
def test_a_settable_field_on_create_and_patch(
    client: TestClient, name: str, since_value: tuple[int, Any]
) -> None:
    since, value = since_value
    body = {"driver": "fake-hardware", name: value}
    error(client.post("/v1/nodes", json=body, headers=v(since - 1)), 406)
    created = ok(client.post("/v1/nodes", json=body, headers=v(since)), 201)
    assert created[name] == value
    url = f"/v1/nodes/{created['uuid']}"
    error(patch(client, url, remove(f"/{name}"), headers=v(since - 1)), 406)
    assert ok(patch(client, url, remove(f"/{name}"), headers=v(since)))[name] is None
    assert ok(patch(client, url, add(f"/{name}", value)))[name] == value
    # A PATCH at an older version keeps the field it cannot see.
    ok(patch(client, url, add("/extra/a", 1), headers=v(since - 1)))
    assert ok(client.get(url))[name] == value


def test_create_with_a_too_new_field_set_to_null_is_accepted(client: TestClient) -> None:
    body = {"driver": "fake-hardware", "owner": None}
    assert ok(client.post("/v1/nodes", json=body, headers=v(49)), 201)["uuid"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("automated_clean", "maybe"),
        ("automated_clean", 1),
        ("owner", 5),
        ("owner", "x" * 256),
        ("description", "x" * 4097),
        ("description", ["a"]),
    ],
)
def test_a_bad_value_is_400_naming_the_field(client: TestClient, name: str, value: Any) -> None:
    message = error(client.post("/v1/nodes", json={"driver": "fake-hardware", name: value}), 400)
    assert name in message
    node = create_node(client)
    assert name in error(patch(client, f"/v1/nodes/{node['uuid']}", add(f"/{name}", value)), 400)


def test_description_of_4096_characters_is_stored(client: TestClient) -> None:
    node = create_node(client, description="d" * 4096)
    assert ok(client.get(f"/v1/nodes/{node['uuid']}"))["description"] == "d" * 4096


@pytest.mark.parametrize("name", ["fault", "deploy_step"])
def test_read_only_fields_are_not_patchable(client: TestClient, name: str) -> None:
    node = create_node(client)
    message = error(patch(client, f"/v1/nodes/{node['uuid']}", add(f"/{name}", "x")), 400)
    assert f"Cannot patch /{name}" in message
    message = error(client.post("/v1/nodes", json={"driver": "fake-hardware", name: None}), 400)
    assert "cannot be set on create" in message


# --- traits (1.37) -----------------------------------------------------------------


def test_traits_api(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}/traits"
    assert ok(client.get(url)) == {"traits": []}
    ok(client.put(url, json={"traits": ["CUSTOM_GOLD", "HW_CPU_X86_AVX2", "CUSTOM_GOLD"]}), 204)
    assert ok(client.get(url)) == {"traits": ["CUSTOM_GOLD", "HW_CPU_X86_AVX2"]}
    response = client.put(f"{url}/CUSTOM_SILVER")
    ok(response, 204)
    assert response.headers["Location"].endswith(f"/v1/nodes/{node['uuid']}/traits/CUSTOM_SILVER")
    ok(client.put(f"{url}/CUSTOM_SILVER"), 204)  # again: no change
    assert ok(client.get(f"/v1/nodes/{node['uuid']}"))["traits"] == [
        "CUSTOM_GOLD",
        "CUSTOM_SILVER",
        "HW_CPU_X86_AVX2",
    ]
    ok(client.delete(f"{url}/CUSTOM_GOLD"), 204)
    assert ok(client.get(url)) == {"traits": ["CUSTOM_SILVER", "HW_CPU_X86_AVX2"]}
    message = error(client.delete(f"{url}/CUSTOM_GOLD"), 404)
    assert message == f"Node {node['uuid']} doesn't have a trait 'CUSTOM_GOLD'"
    ok(client.put(url, json={"traits": ["CUSTOM_ONLY"]}), 204)
    assert ok(client.get(url)) == {"traits": ["CUSTOM_ONLY"]}
    ok(client.delete(url), 204)
    assert ok(client.get(url)) == {"traits": []}


def test_traits_by_node_name(client: TestClient) -> None:
    create_node(client, name="named")
    ok(client.put("/v1/nodes/named/traits/CUSTOM_A"), 204)
    assert ok(client.get("/v1/nodes/named/traits")) == {"traits": ["CUSTOM_A"]}


def test_traits_api_is_404_below_1_37(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}/traits"
    error(client.get(url, headers=v(36)), 404)
    error(client.put(f"{url}/CUSTOM_A", headers=v(36)), 404)
    error(client.delete(url, headers=v(36)), 404)
    assert ok(client.get(url, headers=v(37))) == {"traits": []}


def test_traits_of_an_unknown_node_is_404(client: TestClient) -> None:
    error(client.get("/v1/nodes/nope/traits"), 404)
    error(client.put("/v1/nodes/nope/traits/CUSTOM_A"), 404)


@pytest.mark.parametrize(
    "trait", ["custom_lower", "CUSTOM_", "NOT_A_TRAIT", "CUSTOM_A-B", "CUSTOM_" + "A" * 249]
)
def test_a_bad_trait_is_400(client: TestClient, trait: str) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}/traits"
    assert "Invalid trait" in error(client.put(f"{url}/{trait}"), 400)
    assert "Invalid trait" in error(client.put(url, json={"traits": [trait]}), 400)
    assert ok(client.get(url)) == {"traits": []}


@pytest.mark.parametrize(
    "body",
    [None, {}, {"traits": "CUSTOM_A"}, {"traits": [], "x": 1}, ["CUSTOM_A"], {"traits": [1]}],
)
def test_a_bad_traits_body_is_400(client: TestClient, body: Any) -> None:
    node = create_node(client)
    error(client.put(f"/v1/nodes/{node['uuid']}/traits", json=body), 400)


def test_adding_one_trait_with_a_body_is_400(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}/traits/CUSTOM_A"
    message = error(client.put(url, json={"traits": ["CUSTOM_B"]}), 400)
    assert message == "No body should be provided when adding a trait"


def test_at_most_50_traits(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}/traits"
    fifty = [f"CUSTOM_T{i}" for i in range(50)]
    ok(client.put(url, json={"traits": fifty}), 204)
    message = error(client.put(f"{url}/CUSTOM_ONE_MORE"), 400)
    assert "(51 vs. 50)" in message
    assert "(51 vs. 50)" in error(client.put(url, json={"traits": [*fifty, "CUSTOM_X"]}), 400)
    assert len(ok(client.get(url))["traits"]) == 50


def test_traits_cannot_be_patched(client: TestClient) -> None:
    node = create_node(client)
    message = error(patch(client, f"/v1/nodes/{node['uuid']}", add("/traits", ["CUSTOM_A"])), 400)
    assert "node traits API" in message


def test_instance_info_traits_is_plain_instance_info(client: TestClient) -> None:
    # Nova's deploy parameters.
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    updated = ok(patch(client, url, add("/instance_info/traits", ["CUSTOM_GOLD"])))
    assert updated["instance_info"] == {"traits": ["CUSTOM_GOLD"]}
    assert updated["traits"] == []


def test_traits_on_list_pages(client: TestClient) -> None:
    first, second = create_node(client), create_node(client)
    ok(client.put(f"/v1/nodes/{first['uuid']}/traits", json={"traits": ["CUSTOM_A"]}), 204)
    listed = {n["uuid"]: n["traits"] for n in ok(client.get("/v1/nodes/detail"))["nodes"]}
    assert listed == {first["uuid"]: ["CUSTOM_A"], second["uuid"]: []}
    listed = {
        n["uuid"]: n["traits"] for n in ok(client.get("/v1/nodes?fields=uuid,traits"))["nodes"]
    }
    assert listed == {first["uuid"]: ["CUSTOM_A"], second["uuid"]: []}


def test_traits_go_with_their_node(client: TestClient) -> None:
    node = create_node(client)
    ok(client.put(f"/v1/nodes/{node['uuid']}/traits/CUSTOM_A"), 204)
    ok(client.delete(f"/v1/nodes/{node['uuid']}"), 204)
    again = create_node(client, uuid=node["uuid"])
    assert again["traits"] == []


def test_sorting_by_traits_is_refused(client: TestClient) -> None:
    assert "sort_key" in error(client.get("/v1/nodes?sort_key=traits"), 400)


# --- bios (1.40) -----------------------------------------------------------------------


def test_bios_interface_on_create_and_patch(client: TestClient) -> None:
    body = {"driver": "fake-hardware", "bios_interface": "no-bios"}
    error(client.post("/v1/nodes", json=body, headers=v(39)), 406)
    node = ok(client.post("/v1/nodes", json=body), 201)
    assert node["bios_interface"] == "no-bios"
    url = f"/v1/nodes/{node['uuid']}"
    error(patch(client, url, replace("/bios_interface", "fake"), headers=v(39)), 406)
    assert ok(patch(client, url, replace("/bios_interface", "fake")))["bios_interface"] == "fake"
    message = error(patch(client, url, replace("/bios_interface", "idrac")), 400)
    assert "idrac" in message


@pytest.mark.parametrize("driver", ["ipmi", "redfish", "fake-hardware"])
def test_every_hardware_type_offers_no_bios(client: TestClient, driver: str) -> None:
    detail = ok(client.get(f"/v1/drivers/{driver}"))
    assert "no-bios" in detail["enabled_bios_interfaces"]
    node = create_node(client, driver=driver, bios_interface="no-bios")
    assert node["bios_interface"] == "no-bios"


def test_bios_settings_of_a_no_bios_node(client: TestClient) -> None:
    node = create_node(client, bios_interface="no-bios")
    url = f"/v1/nodes/{node['uuid']}/bios"
    assert ok(client.get(url)) == {"bios": []}
    message = error(client.get(f"{url}/ProcVirtualization"), 404)
    assert message == f"Node {node['uuid']} doesn't have a BIOS setting 'ProcVirtualization'"
    error(client.get(url, headers=v(39)), 404)
    error(client.get(f"{url}/x", headers=v(39)), 404)
    error(client.get("/v1/nodes/nope/bios"), 404)
    error(client.get(f"{url}?detail=True"), 400)


# --- fault (1.42) --------------------------------------------------------------------


def test_fault_filter(client: TestClient, services: ApiServices) -> None:
    failed, fine = create_node(client), create_node(client)
    force(services, failed["uuid"], maintenance=True, fault="power failure")
    listed = ok(client.get("/v1/nodes?fault=power failure"))["nodes"]
    assert [n["uuid"] for n in listed] == [failed["uuid"]]
    assert ok(client.get("/v1/nodes?fault=clean failure"))["nodes"] == []
    assert fine["uuid"] not in {n["uuid"] for n in listed}
    message = error(client.get("/v1/nodes?fault=bogus"), 400)
    assert 'Unrecognized fault "bogus"' in message and "power failure" in message
    assert "1.42" in error(client.get("/v1/nodes?fault=power failure", headers=v(41)), 406)


def test_maintenance_off_clears_the_fault(client: TestClient, services: ApiServices) -> None:
    node = create_node(client)
    force(services, node["uuid"], maintenance=True, fault="power failure")
    assert ok(client.get(f"/v1/nodes/{node['uuid']}"))["fault"] == "power failure"
    ok(client.delete(f"/v1/nodes/{node['uuid']}/maintenance"), 202)
    shown = ok(client.get(f"/v1/nodes/{node['uuid']}"))
    assert shown["fault"] is None and shown["maintenance"] is False


# --- detail (1.43) ---------------------------------------------------------------------


@pytest.mark.parametrize("collection", ["nodes", "ports", "portgroups"])
def test_detail_query(client: TestClient, collection: str) -> None:
    node = create_node(client)
    if collection == "ports":
        ok(
            client.post(
                "/v1/ports", json={"node_uuid": node["uuid"], "address": "52:54:00:00:00:01"}
            ),
            201,
        )
    if collection == "portgroups":
        ok(client.post("/v1/portgroups", json={"node_uuid": node["uuid"]}), 201)
    detailed = ok(client.get(f"/v1/{collection}?detail=True"))
    assert detailed == ok(client.get(f"/v1/{collection}/detail"))
    assert ok(client.get(f"/v1/{collection}?detail=False")) == ok(client.get(f"/v1/{collection}"))
    message = error(client.get(f"/v1/{collection}?detail=True", headers=v(42)), 400)
    assert message.startswith("Invalid query parameter ?detail=True received.")
    message = error(client.get(f"/v1/{collection}?detail=True&fields=uuid"), 400)
    assert message == "Can't fetch a subset of fields with 'detail' set"
    assert "detail" in error(client.get(f"/v1/{collection}?detail=maybe"), 400)
    assert "detail" in error(client.get(f"/v1/{collection}/detail?detail=True"), 400)


def test_detail_query_on_a_nodes_ports(client: TestClient) -> None:
    node = create_node(client)
    ok(
        client.post("/v1/ports", json={"node_uuid": node["uuid"], "address": "52:54:00:00:00:02"}),
        201,
    )
    listed = ok(client.get(f"/v1/nodes/{node['uuid']}/ports?detail=True"))["ports"]
    assert "extra" in listed[0]
    error(client.get(f"/v1/nodes/{node['uuid']}/ports?detail=True", headers=v(42)), 400)


def test_next_link_keeps_the_detail_query(client: TestClient) -> None:
    create_node(client)
    create_node(client)
    page = ok(client.get("/v1/nodes?detail=True&limit=1"))
    assert "detail=True" in page["next"]


# --- deploy_step (1.44) ----------------------------------------------------------------


def test_deploy_step_is_empty_once_deployed(client: TestClient) -> None:
    node = create_node(client)
    to_active(client, node["uuid"])
    assert ok(client.get(f"/v1/nodes/{node['uuid']}"))["deploy_step"] == {}


def test_deploy_step_goes_when_the_node_leaves_deploying(
    client: TestClient, services: ApiServices
) -> None:
    node = create_node(client)
    step = {"interface": "deploy", "step": "power on", "priority": 0, "argsinfo": None}
    force(services, node["uuid"], provision_state="wait call-back", deploy_step=step)
    assert ok(client.get(f"/v1/nodes/{node['uuid']}"))["deploy_step"] == step
    provision(client, node["uuid"], "abort", "deploy failed")
    assert ok(client.get(f"/v1/nodes/{node['uuid']}"))["deploy_step"] == {}


# --- reset_interfaces (1.45) -------------------------------------------------------------


def test_driver_change_keeps_interfaces_without_reset(client: TestClient) -> None:
    node = create_node(client, driver="redfish", storage_interface="external")
    url = f"/v1/nodes/{node['uuid']}"
    # Kept interfaces must suit the new driver (as Ironic): redfish power does not suit ipmi.
    message = error(patch(client, url, replace("/driver", "ipmi")), 400)
    assert "redfish" in message
    updated = ok(
        patch(
            client,
            url,
            replace("/driver", "ipmi"),
            replace("/power_interface", "ipmi"),
            replace("/management_interface", "ipmi"),
        )
    )
    assert updated["storage_interface"] == "external"  # kept, not reset to ipmi's noop
    assert updated["power_interface"] == "ipmi"


def test_reset_interfaces(client: TestClient) -> None:
    node = create_node(client, storage_interface="external")
    url = f"/v1/nodes/{node['uuid']}"
    reset = ok(patch(client, f"{url}?reset_interfaces=True", replace("/driver", "redfish")))
    assert reset["boot_interface"] == "ipxe"
    assert reset["power_interface"] == "redfish"
    assert reset["bios_interface"] == "no-bios"
    assert reset["storage_interface"] == "noop"


def test_reset_interfaces_refusals(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    message = error(patch(client, f"{url}?reset_interfaces=true", add("/extra/a", 1)), 400)
    assert (
        message
        == "The reset_interfaces parameter can only be used when changing the node's driver."
    )
    ok(patch(client, f"{url}?reset_interfaces=false", add("/extra/a", 1)))
    error(
        patch(client, f"{url}?reset_interfaces=true", replace("/driver", "redfish"), headers=v(44)),
        406,
    )
    assert "reset_interfaces" in error(
        patch(client, f"{url}?reset_interfaces=maybe", add("/extra/a", 1)), 400
    )


# --- protected (1.48) ----------------------------------------------------------------------


def test_protect_an_active_node(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    message = error(patch(client, url, replace("/protected", True)), 409)
    assert "can only be made protected" in message and "'enroll'" in message
    to_active(client, node["uuid"])
    error(patch(client, url, replace("/protected", True), headers=v(47)), 406)
    updated = ok(
        patch(client, url, replace("/protected", True), replace("/protected_reason", "prod db"))
    )
    assert (updated["protected"], updated["protected_reason"]) == (True, "prod db")
    # Protected: no undeploy, rebuild or delete (403, as Ironic).
    for verb in ("deleted", "rebuild"):
        response = client.put(f"{url}/states/provision", json={"target": verb})
        assert error(response, 403) == (
            f"Node {node['uuid']} is protected and cannot be undeployed, rebuilt or deleted"
        )
    ok(client.put(f"{url}/maintenance"), 202)
    assert "is protected" in error(client.delete(url), 403)
    ok(client.delete(f"{url}/maintenance"), 202)
    # Other changes go on.
    assert ok(patch(client, url, add("/extra/a", 1)))["extra"] == {"a": 1}
    # Unprotecting drops the reason.
    updated = ok(patch(client, url, replace("/protected", False)))
    assert (updated["protected"], updated["protected_reason"]) == (False, None)
    provision(client, node["uuid"], "deleted", "available")


def test_protected_reason_needs_protected(client: TestClient) -> None:
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    message = error(patch(client, url, add("/protected_reason", "why")), 400)
    assert message == "The protected_reason field can only be set when protected is True"
    assert ok(patch(client, url, remove("/protected_reason")))["protected_reason"] is None


def test_protected_cannot_be_set_on_create(client: TestClient) -> None:
    body = {"driver": "fake-hardware", "protected": True}
    assert "cannot be set on create" in error(client.post("/v1/nodes", json=body), 400)


def test_protected_must_be_a_boolean(client: TestClient) -> None:
    node = create_node(client)
    assert "protected" in error(
        patch(client, f"/v1/nodes/{node['uuid']}", add("/protected", "x")), 400
    )


# --- owner (1.50) and sorting ------------------------------------------------------------------


def test_owner_filter(client: TestClient) -> None:
    mine = create_node(client, owner="alpha")
    create_node(client, owner="beta")
    create_node(client)
    listed = ok(client.get("/v1/nodes?owner=alpha"))["nodes"]
    assert [n["uuid"] for n in listed] == [mine["uuid"]]
    assert "1.50" in error(client.get("/v1/nodes?owner=alpha", headers=v(49)), 406)


@pytest.mark.parametrize(
    ("key", "since"),
    [("owner", 50), ("description", 51), ("protected", 48), ("fault", 42), ("bios_interface", 40)],
)
def test_sort_by_a_new_field(client: TestClient, key: str, since: int) -> None:
    create_node(client, owner="b", description="b")
    create_node(client, owner="a", description="a")
    ok(client.get(f"/v1/nodes?sort_key={key}", headers=v(since)))
    error(client.get(f"/v1/nodes?sort_key={key}", headers=v(since - 1)), 406)


def test_sort_by_owner_orders(client: TestClient) -> None:
    create_node(client, name="n-b", owner="b")
    create_node(client, name="n-a", owner="a")
    names = [n["name"] for n in ok(client.get("/v1/nodes?sort_key=owner"))["nodes"]]
    assert names == ["n-a", "n-b"]


def test_booleans_spelt_as_text_as_the_cli_sends_them(client: TestClient) -> None:
    node = create_node(client, automated_clean="false")
    assert node["automated_clean"] is False
    to_active(client, node["uuid"])
    url = f"/v1/nodes/{node['uuid']}"
    assert ok(patch(client, url, replace("/protected", "True")))["protected"] is True
    assert ok(patch(client, url, replace("/automated_clean", "yes")))["automated_clean"] is True


def test_a_list_page_reads_traits_in_one_query(client: TestClient, services: ApiServices) -> None:
    for index in range(5):
        node = create_node(client)
        ok(client.put(f"/v1/nodes/{node['uuid']}/traits/CUSTOM_N{index}"), 204)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(services.db.engine, "before_cursor_execute", seen)
    try:
        nodes = ok(client.get("/v1/nodes/detail"))["nodes"]
    finally:
        event.remove(services.db.engine, "before_cursor_execute", seen)
    assert sorted(t for n in nodes for t in n["traits"]) == [f"CUSTOM_N{i}" for i in range(5)]
    assert sum("node_traits" in s for s in statements) == 1
