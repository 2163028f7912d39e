"""Conductor groups (1.46) and the conductors API (1.49): who answers for a node."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from ironbound.api import driver_checks
from ironbound.api.services import ApiServices
from ironbound.db import conductors
from ironbound.db.models import Conductor
from tests.api.helpers import add, create_node, error, ok, patch, remove, replace, v

HW = "fake-hardware"


def join(services: ApiServices, hostname: str, group: str, hardware: str = HW) -> None:
    """Register a conductor (no workers) that offers `hardware` in `group`."""
    offer = conductors.Offer(
        hardware_type=hardware, enabled={"power": ["fake"]}, defaults={"power": "fake"}
    )
    with services.db.write() as session:
        conductors.register(session, hostname, [offer], group=group)
    services._catalogue_at = -1e9  # forget the cached catalogue


# --- conductor_group (1.46) --------------------------------------------------------


def test_conductor_group_is_stored_lower_case(client: TestClient, services: ApiServices) -> None:
    join(services, "rack-a", "rack_a.1")
    node = create_node(client, conductor_group="Rack_A.1")
    assert node["conductor_group"] == "rack_a.1"
    assert create_node(client)["conductor_group"] == ""
    url = f"/v1/nodes/{node['uuid']}"
    assert ok(patch(client, url, remove("/conductor_group")))["conductor_group"] == ""
    assert ok(patch(client, url, replace("/conductor_group", "RACK_A.1")))["conductor_group"] == (
        "rack_a.1"
    )


@pytest.mark.parametrize("group", ["rack a", "rack/1", "räck", "x" * 256])
def test_bad_conductor_group_is_400(client: TestClient, group: str) -> None:
    message = error(client.post("/v1/nodes", json={"driver": HW, "conductor_group": group}), 400)
    assert "Expected a conductor group" in message and "_ - ." in message
    node = create_node(client)
    error(patch(client, f"/v1/nodes/{node['uuid']}", add("/conductor_group", group)), 400)
    error(client.get(f"/v1/nodes?conductor_group={group}"), 400)


def test_conductor_group_is_gated_at_1_46(client: TestClient, services: ApiServices) -> None:
    join(services, "rack-a", "rack-a")
    body = {"driver": HW, "conductor_group": "rack-a"}
    assert "conductor_group" in error(client.post("/v1/nodes", json=body, headers=v(45)), 406)
    # An empty group is no group, at any version (as Ironic).
    ok(client.post("/v1/nodes", json={"driver": HW, "conductor_group": ""}, headers=v(45)), 201)
    node = ok(client.post("/v1/nodes", json=body, headers=v(46)), 201)
    url = f"/v1/nodes/{node['uuid']}"
    assert "conductor_group" not in ok(client.get(url, headers=v(45)))
    error(client.get(f"{url}?fields=conductor_group", headers=v(45)), 406)
    error(patch(client, url, replace("/conductor_group", ""), headers=v(45)), 406)
    assert "1.46" in error(client.get("/v1/nodes?conductor_group=rack-a", headers=v(45)), 406)
    # A PATCH at an older version keeps the group it cannot see.
    ok(patch(client, url, add("/extra/a", 1), headers=v(45)))
    assert ok(client.get(url))["conductor_group"] == "rack-a"


def test_filter_by_conductor_group(client: TestClient, services: ApiServices) -> None:
    join(services, "rack-a", "rack-a")
    inside = create_node(client, conductor_group="rack-a")["uuid"]
    create_node(client)
    listed = ok(client.get("/v1/nodes?conductor_group=RACK-A"))["nodes"]
    assert [n["uuid"] for n in listed] == [inside]
    assert ok(client.get("/v1/nodes?conductor_group=nowhere"))["nodes"] == []


def test_a_group_no_conductor_serves_is_no_valid_host(
    client: TestClient, services: ApiServices
) -> None:
    message = error(client.post("/v1/nodes", json={"driver": HW, "conductor_group": "lost"}), 400)
    assert message.startswith("No valid host was found.") and '"lost"' in message
    node = create_node(client)
    url = f"/v1/nodes/{node['uuid']}"
    error(patch(client, url, add("/conductor_group", "lost")), 400)
    assert ok(client.get(url))["conductor_group"] == ""


def test_actions_on_a_node_whose_group_has_no_live_conductor_are_400_at_once(
    client: TestClient, services: ApiServices
) -> None:
    join(services, "rack-a", "rack-a")
    node = create_node(client, conductor_group="rack-a")["uuid"]
    with services.db.write() as session:  # rack-a stops heartbeating
        old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        session.execute(
            update(Conductor).where(Conductor.hostname == "rack-a").values(heartbeat_at=old)
        )
    services._catalogue_at = -1e9
    for response in (
        client.put(f"/v1/nodes/{node}/states/provision", json={"target": "manage"}),
        client.put(f"/v1/nodes/{node}/states/power", json={"target": "power on"}),
        client.get(f"/v1/nodes/{node}/validate"),
        client.get(f"/v1/nodes/{node}/management/boot_device"),
    ):
        assert "No valid host" in error(response, 400)
    seen = ok(client.get(f"/v1/nodes/{node}"))
    assert seen["provision_state"] == "enroll" and seen["target_power_state"] is None
    assert seen["conductor"] is None


# --- the node's conductor (1.49) ----------------------------------------------------


def test_node_conductor_is_a_live_conductor_of_its_group(
    client: TestClient, services: ApiServices
) -> None:
    node = create_node(client)
    assert node["conductor"] == "test-conductor"
    url = f"/v1/nodes/{node['uuid']}"
    assert "conductor" not in ok(client.get(url, headers=v(48)))
    error(client.get(f"{url}?fields=conductor", headers=v(48)), 406)
    assert ok(client.get(f"{url}?fields=conductor")) == {
        "conductor": "test-conductor",
        "links": node["links"],
    }
    join(services, "rack-a", "rack-a")
    ok(patch(client, url, replace("/conductor_group", "rack-a")))
    assert ok(client.get(url))["conductor"] == "rack-a"
    error(patch(client, url, replace("/conductor", "rack-a")), 400)  # read-only
    listed = ok(client.get("/v1/nodes/detail"))["nodes"]
    assert [n["conductor"] for n in listed] == ["rack-a"]


def test_conductor_choice_is_stable_and_spread() -> None:
    entry = conductors.HardwareEntry(hosts=["a", "b", "c"], groups={"": ["a", "b", "c"]})
    catalogue = {HW: entry}
    uuids = [f"00000000-0000-0000-0000-{i:012d}" for i in range(60)]
    chosen = [driver_checks.conductor_for(catalogue, HW, "", u) for u in uuids]
    assert chosen == [driver_checks.conductor_for(catalogue, HW, "", u) for u in uuids]
    assert set(chosen) == {"a", "b", "c"}
    # Removing a conductor moves only the nodes it had.
    fewer = {HW: conductors.HardwareEntry(hosts=["a", "b"], groups={"": ["a", "b"]})}
    for uuid, host in zip(uuids, chosen, strict=True):
        if host != "c":
            assert driver_checks.conductor_for(fewer, HW, "", uuid) == host
    assert driver_checks.conductor_for(catalogue, HW, "other", uuids[0]) is None
    assert driver_checks.conductor_for(catalogue, "redfish", "", uuids[0]) is None


# --- /v1/conductors (1.49) ---------------------------------------------------------


def test_list_and_show(client: TestClient, services: ApiServices) -> None:
    join(services, "rack-a", "rack-a")
    listed = ok(client.get("/v1/conductors"))["conductors"]
    assert [c["hostname"] for c in listed] == ["test-conductor", "rack-a"]
    assert set(listed[0]) == {"hostname", "conductor_group", "alive", "links"}
    assert listed[1]["conductor_group"] == "rack-a" and listed[1]["alive"] is True
    assert listed[1]["links"][0]["href"] == "http://127.0.0.1:6385/v1/conductors/rack-a"
    detail = ok(client.get("/v1/conductors?detail=True"))["conductors"]
    assert set(detail[0]) == {
        "hostname",
        "conductor_group",
        "alive",
        "drivers",
        "created_at",
        "updated_at",
        "links",
    }
    assert detail[0]["drivers"] == [HW, "ipmi", "redfish"]
    assert detail[1]["drivers"] == [HW]
    shown = ok(client.get("/v1/conductors/rack-a"))
    assert shown == detail[1]
    assert ok(client.get("/v1/conductors/rack-a?fields=alive")) == {
        "alive": True,
        "links": shown["links"],
    }
    with services.db.write() as session:
        conductors.unregister(session, "rack-a")
    assert ok(client.get("/v1/conductors/rack-a"))["alive"] is False


def test_paging_sorting_and_fields(client: TestClient, services: ApiServices) -> None:
    for name in ("c-3", "c-1", "c-2"):
        join(services, name, "")
    first = ok(client.get("/v1/conductors?limit=2&sort_key=hostname"))
    assert [c["hostname"] for c in first["conductors"]] == ["c-1", "c-2"]
    assert "marker=c-2" in first["next"] and "sort_key=hostname" in first["next"]
    rest = ok(client.get(first["next"].removeprefix("http://127.0.0.1:6385")))
    assert [c["hostname"] for c in rest["conductors"]] == ["c-3", "test-conductor"]
    desc = ok(client.get("/v1/conductors?sort_key=updated_at&sort_dir=desc&fields=hostname"))
    assert set(desc["conductors"][0]) == {"hostname", "links"}
    partial = ok(client.get("/v1/conductors?limit=1&fields=alive"))
    assert "marker=test-conductor" in partial["next"]


@pytest.mark.parametrize(
    ("query", "status", "needle"),
    [
        ("sort_key=alive", 400, "alive"),
        ("sort_key=drivers", 400, "drivers"),
        ("marker=nobody", 400, "nobody"),
        ("fields=bogus", 400, "bogus"),
        ("detail=True&fields=hostname", 400, "detail"),
        ("bogus=1", 400, "bogus"),
    ],
)
def test_list_errors(client: TestClient, query: str, status: int, needle: str) -> None:
    assert needle in error(client.get(f"/v1/conductors?{query}"), status)


def test_conductors_need_1_49(client: TestClient) -> None:
    error(client.get("/v1/conductors", headers=v(48)), 404)
    error(client.get("/v1/conductors/test-conductor", headers=v(48)), 404)
    assert "nobody could not be found" in error(client.get("/v1/conductors/nobody"), 404)


@pytest.mark.parametrize("collection", ["conductors", "nodes", "ports", "portgroups"])
def test_lists_answer_the_clis_slashed_path(client: TestClient, collection: str) -> None:
    """The CLI asks /v1/<collection>/?<filters> when it filters."""
    assert collection in ok(client.get(f"/v1/{collection}/?limit=5"))
