"""Fuzzing the whole HTTP surface: no request may get a 5xx, every 4xx is Ironic's envelope.

Hypothesis generates requests over every route template (all methods, with
valid, unknown and garbage identifiers), random query strings, random
version headers and random bodies: arbitrary JSON, raw bytes, JSON Patch
documents with random operations, paths and values, and create documents
derived from valid ones (volume target properties included), so that the
requests reach the deep code paths and not only the first validation.

Every test shares one seeded server per test function; examples mutate it
(deleting the seeded objects, say), which is fine: the assertion is about
the server's answers, whatever its state.
"""

from __future__ import annotations

import json
import string
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ironbound.api import microversions as mv
from ironbound.api.routes import (
    conductors,
    drivers,
    node_bios,
    node_states,
    node_traits,
    nodes,
    portgroups,
    ports,
    root,
    vifs,
    volume,
)
from tests.api.helpers import (
    IQN,
    TARGET_IQN,
    VERSION_HEADER,
    create_connector,
    create_node,
    create_target,
    envelope,
    iscsi_properties,
    ok,
    power,
    to_active,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,  # no .hypothesis folder in the tree
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one seeded server for all examples, on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
FEWER = settings(FUZZ, max_examples=150)

ROUTERS = (
    root,
    nodes,
    node_states,
    node_traits,
    node_bios,
    ports,
    portgroups,
    vifs,
    volume,
    drivers,
    conductors,
)
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def overrides() -> dict[str, Any]:
    # A busy node makes a request wait for it; keep that wait short here.
    return {
        "conductor.node_locked_retry_attempts": 1,
        "conductor.node_locked_retry_interval": 0.05,
        "conductor.job_poll_interval": 0.1,
    }


def route_templates() -> list[tuple[str, frozenset[str]]]:
    found = []
    for module in ROUTERS:
        for route in module.router.routes:
            assert isinstance(route, APIRoute) and route.methods is not None
            found.append((route.path, frozenset(route.methods)))
    return found


TEMPLATES = route_templates()


# --- the seeded server ------------------------------------------------------------------


@dataclass
class World:
    """Identifiers of realistic objects to aim requests at."""

    nodes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    connectors: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    portgroups: list[str] = field(default_factory=list)
    vifs: list[str] = field(default_factory=list)


@pytest.fixture
def world(client: TestClient) -> World:
    w = World()
    # An enrolled node, powered off, with secrets, a port and volumes.
    enrolled = create_node(
        client,
        name="fuzz-enrolled",
        driver_info={"redfish_password": "pw", "redfish_username": "root"},
        properties={"capabilities": "iscsi_boot:True"},
        storage_interface="external",
    )["uuid"]
    power(client, enrolled, "power off")
    # A node set up for boot from volume through iPXE (validate goes deep).
    bfv = create_node(
        client,
        name="fuzz-bfv",
        boot_interface="ipxe",
        deploy_interface="direct",
        storage_interface="external",
        properties={"capabilities": "iscsi_boot:True"},
    )["uuid"]
    power(client, bfv, "power off")
    # A deployed, powered-on node.
    active = create_node(client, name="fuzz-active")["uuid"]
    to_active(client, active)
    w.nodes += [enrolled, bfv, active]
    w.names += ["fuzz-enrolled", "fuzz-bfv", "fuzz-active"]
    for index, node in enumerate(w.nodes):
        port = client.post(
            "/v1/ports", json={"node_uuid": node, "address": f"52:54:00:00:00:0{index}"}
        )
        w.ports.append(ok(port, 201)["uuid"])
        w.connectors.append(
            create_connector(client, node, connector_id=f"iqn.2010-10.org.fuzz:n{index}")["uuid"]
        )
        chap = iscsi_properties(auth_method="CHAP", auth_username="u", auth_password="p")
        w.targets.append(create_target(client, node, boot_index=0, properties=chap)["uuid"])
        multipath = {
            "target_portals": ["192.0.2.1:3260", "[fd00::1]:3260"],
            "target_iqns": [TARGET_IQN, TARGET_IQN],
            "target_luns": [1, 2],
        }
        w.targets.append(create_target(client, node, boot_index=1, properties=multipath)["uuid"])
    w.connectors.append(create_connector(client, enrolled, "wwpn", "21000024ff4b321a")["uuid"])
    # A port group with a member port, and a VIF on it.
    body = {"node_uuid": enrolled, "address": "52:54:00:00:01:00", "name": "fuzz-bond"}
    w.portgroups += [ok(client.post("/v1/portgroups", json=body), 201)["uuid"], "fuzz-bond"]
    member = {
        "node_uuid": enrolled,
        "address": "52:54:00:00:01:01",
        "portgroup_uuid": w.portgroups[0],
    }
    w.ports.append(ok(client.post("/v1/ports", json=member), 201)["uuid"])
    w.vifs.append(str(uuidlib.uuid4()))
    ok(client.post(f"/v1/nodes/{enrolled}/vifs", json={"id": w.vifs[0]}), 204)
    return w


# --- the assertion ------------------------------------------------------------------------


def check(response: Any) -> None:
    """No 5xx, and every 4xx in Ironic's envelope."""
    request = response.request
    where = f"{request.method} {request.url} -> {response.status_code}: {response.text[:500]}"
    assert response.status_code < 500, where
    if response.status_code >= 400:
        envelope(response)
    elif response.content:
        assert response.headers["content-type"].startswith("application/json"), where
        json.loads(response.content)
    assert response.headers["X-OpenStack-Ironic-API-Maximum-Version"] == mv.MAX_VERSION, where


# --- strategies ---------------------------------------------------------------------------


def often(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """`common` three times out of four, `rare` otherwise."""
    return st.one_of(common, common, common, rare)


def nested(depth: int, as_dict: bool) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value} if as_dict else [value]
    return value


KNOWN_KEYS = (
    "driver",
    "name",
    "uuid",
    "node_uuid",
    "extra",
    "driver_info",
    "properties",
    "instance_info",
    "instance_uuid",
    "boot_index",
    "volume_type",
    "volume_id",
    "type",
    "connector_id",
    "address",
    "pxe_enabled",
    "target",
    "reason",
    "boot_device",
    "persistent",
    "configdrive",
    "timeout",
    "logical_disks",
    "storage_interface",
    "boot_interface",
    "resource_class",
    "target_lun",
    "auth_password",
    "ipmi_password",
    "physical_network",
    "conductor_group",
    "rescue_interface",
    "rescue_password",
    "enabled",
)
#: Integers at the edges of what SQL, JSON encoders and Python's int() accept.
EDGE_INTEGERS = st.sampled_from(
    [0, -1, 1, 65535, 65536, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=70000)
    | EDGE_INTEGERS
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["", "******", "0", "power off", "active", "iscsi", IQN, "fake-hardware"])
)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)
# Documents nested past what the encoders handle (orjson stops at 255 levels).
deep_values = st.builds(nested, st.integers(min_value=90, max_value=400), st.booleans())
json_values_or_deep = often(json_values, deep_values)
json_objects = st.dictionaries(keys, json_values, max_size=6) | st.builds(
    lambda value: {"deep": value}, deep_values
)

garbage_idents = st.sampled_from(
    ["not-a-uuid", "", "detail", "..", "%", "~", "a" * 300, "fuzz-active ", "NULL", "0" * 32]
) | st.text(max_size=40)
random_uuids = st.uuids().map(str)
LONG_NUMBER = "9" * 5000  # longer than int() converts
versions = (
    st.none()
    | st.just("latest")
    | st.integers(min_value=0, max_value=mv.MAX_MINOR + 2).map(lambda m: f"1.{m}")
    | st.sampled_from(
        [
            "2.0",
            "1.999",
            "1",
            "1.",
            "v1.33",
            "1.1.1",
            " 1.32 ",
            f"1.{LONG_NUMBER}",
            f"{LONG_NUMBER}.1",
        ]
    )
    | st.text(alphabet=string.printable.strip() + " ", max_size=12)
)
LIMITS = st.sampled_from(
    ["--5", "\u00b2", "\u0663", LONG_NUMBER, "-0", "0x10", " 5 ", "1e3", "+3", "5", "1", "0", "-1"]
)
query_values = (
    st.sampled_from(
        ["True", "false", "1", "0", "-1", "--5", "abc", "uuid", "name,uuid", "bogus", "asc"]
    )
    | st.text(max_size=20)
    | st.integers(min_value=-(10**20), max_value=10**20).map(str)
    | LIMITS
)
query_keys = st.sampled_from(
    [
        "limit",
        "marker",
        "sort_key",
        "sort_dir",
        "fields",
        "detail",
        "node",
        "node_uuid",
        "address",
        "maintenance",
        "associated",
        "provision_state",
        "driver",
        "type",
        "instance_uuid",
        "resource_class",
        "chassis_uuid",
        "conductor_group",
        "fault",
        "owner",
        "reset_interfaces",
    ]
) | st.text(min_size=1, max_size=8)
queries = st.dictionaries(query_keys, query_values, max_size=4)
raw_bodies = st.binary(max_size=60) | st.sampled_from(
    [b"{not json", b"[", b'{"a": NaN}', b"1e999", b'"\\ud800"', b"null", b"[]", b"{}"]
)


def ident_for(template: str, world: World) -> Callable[[str], st.SearchStrategy[str]]:
    """A strategy of values for one path parameter of `template`."""

    def strategy(param: str) -> st.SearchStrategy[str]:
        if param == "name":
            pool = ["fake-hardware", "ipmi", "redfish"]
        elif param == "hostname":
            pool = ["test-conductor"]
        elif param == "trait":
            pool = ["CUSTOM_FUZZ", "HW_CPU_X86_AVX2", "custom_bad"]
        elif param == "setting":
            pool = ["ProcVirtualization"]
        elif param == "vif_id":
            pool = world.vifs
        elif template.startswith("/v1/portgroups/"):
            pool = world.portgroups
        elif template.startswith("/v1/ports/"):
            pool = world.ports
        elif template.startswith("/v1/volume/connectors/"):
            pool = world.connectors
        elif template.startswith("/v1/volume/targets/"):
            pool = world.targets
        else:
            pool = world.nodes + world.names
        return (
            st.sampled_from(pool)
            | st.sampled_from(pool).map(str.upper)
            | random_uuids
            | garbage_idents.map(lambda text: quote(text, safe=""))
        )

    return strategy


@st.composite
def requests(draw: st.DrawFn, world: World) -> tuple[str, str]:
    template, methods = draw(st.sampled_from(TEMPLATES))
    method = draw(st.sampled_from(sorted(methods)) | st.sampled_from(METHODS))
    path = template
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        value = draw(ident_for(template, world)(path[start + 1 : end]))
        path = path[:start] + value + path[end + 1 :]
    return method, path


def send(client: TestClient, method: str, url: str, version: str | None, **kwargs: Any) -> Any:
    """One request at microversion `version`; None sends no version header at all."""
    request = client.build_request(
        method, url, headers={VERSION_HEADER: version or "latest"}, **kwargs
    )
    if version is None:
        del request.headers[VERSION_HEADER]
    return client.send(request)


# --- JSON Patch and create documents ------------------------------------------------------

#: Top-level fields per resource: the updatable ones first, then some that are not.
ROOTS = {
    "nodes": [
        "extra",
        "properties",
        "driver_info",
        "instance_info",
        "name",
        "driver",
        "instance_uuid",
        "resource_class",
        "conductor_group",
        "rescue_interface",
        "storage_interface",
        "boot_interface",
        "deploy_interface",
        "network_interface",
        "bios_interface",
        "automated_clean",
        "protected",
        "protected_reason",
        "owner",
        "description",
        "uuid",
        "traits",
        "fault",
        "deploy_step",
        "provision_state",
        "maintenance",
    ],
    "ports": [
        "address",
        "node_uuid",
        "extra",
        "pxe_enabled",
        "local_link_connection",
        "portgroup_uuid",
        "physical_network",
        "uuid",
    ],
    "portgroups": [
        "address",
        "name",
        "node_uuid",
        "extra",
        "mode",
        "properties",
        "standalone_ports_supported",
        "internal_info",
        "uuid",
    ],
    "volume/connectors": ["connector_id", "type", "node_uuid", "extra", "uuid"],
    "volume/targets": [
        "properties",
        "boot_index",
        "volume_type",
        "volume_id",
        "node_uuid",
        "extra",
        "uuid",
    ],
}
pointer_parts = st.sampled_from(
    [
        "target_lun",
        "target_portal",
        "target_portals",
        "auth_password",
        "capabilities",
        "image_source",
        "ipmi_password",
        "a",
        "-",
        "0",
        "01",
        "99",
        "~",
        "~0",
        "~1",
        "~2",
        "a~b",
        "",
    ]
) | st.text(max_size=6)


def patch_ops(roots: list[str]) -> st.SearchStrategy[Any]:
    """Mostly well-formed operations on real fields, with junk in the corners."""
    path = st.builds(
        lambda root, rest: "/" + "/".join([root, *rest]),
        often(st.sampled_from(roots), pointer_parts),
        st.lists(pointer_parts, max_size=3),
    )
    good = st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add"] * 4 + ["replace"] * 3 + ["remove"] * 3),
            "path": path,
            "value": json_values_or_deep,
        }
    )
    junk = st.fixed_dictionaries(
        {
            "op": st.sampled_from(["move", "copy", "test", "ADD", ""]) | json_values,
            "path": path | json_values,
        },
        optional={"value": json_values, "from": path, "bogus": st.integers()},
    )
    return often(good, junk)


def patch_documents(roots: list[str]) -> st.SearchStrategy[Any]:
    return often(st.lists(patch_ops(roots), min_size=1, max_size=3), json_values)


iqns = often(
    st.sampled_from([TARGET_IQN, IQN, "eui.02004567A425678D", "naa.52004567BA64678D"]),
    st.sampled_from(["iqn.2010-13.x", "vol", "iqn.2010-10.a:" + "x" * 300]) | json_values,
)
portals = often(
    st.sampled_from(["192.0.2.1:3260", "[fd00::1]:3260", "san.example.com", "192.0.2.9"]),
    st.sampled_from(["fd00::1:3260", "[fd00::1", "192.0.2.1:0", "192.0.2.1:99999", "h:p", "[x]:1"])
    | json_values,
)
luns = often(st.integers(min_value=0, max_value=300), EDGE_INTEGERS | json_values)
credentials = often(
    st.sampled_from(["ABC", "p4ss", "******"]), st.sampled_from(["", "a b", "$x"]) | json_values
)
target_properties = st.fixed_dictionaries(
    {},
    optional={
        "target_iqn": iqns,
        "target_portal": portals,
        "target_lun": luns,
        "target_iqns": often(st.lists(iqns, min_size=1, max_size=3), iqns),
        "target_portals": often(st.lists(portals, min_size=1, max_size=3), portals),
        "target_luns": often(st.lists(luns, min_size=1, max_size=3), luns),
        "auth_method": often(st.sampled_from(["CHAP", "chap", "None"]), json_values),
        "auth_username": credentials,
        "auth_password": credentials,
        "reverse_auth_username": credentials,
        "reverse_auth_password": credentials,
        "target_wwn": often(st.just("500a0982991b8dc5"), st.lists(st.text(max_size=16))),
        "efi_boot_loader": st.sampled_from(["\\EFI\\BOOT\\BOOTX64.EFI", "x"]),
        "other": json_values_or_deep,
    },
)
boot_indexes = st.one_of(st.integers(min_value=0, max_value=40), EDGE_INTEGERS, json_values)


def mutated(document: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[Any]:
    """Valid-looking documents; half of them with one key dropped, added or swapped for junk."""

    @st.composite
    def mutate(draw: st.DrawFn) -> Any:
        doc = dict(draw(document))
        action = draw(st.sampled_from(["none", "none", "drop", "junk", "add"]))
        if action == "drop" and doc:
            doc.pop(draw(st.sampled_from(sorted(doc))))
        elif action == "junk" and doc:
            doc[draw(st.sampled_from(sorted(doc)))] = draw(json_values_or_deep)
        elif action == "add":
            doc[draw(keys)] = draw(json_values)
        return doc

    return mutate()


def create_documents(world: World) -> st.SearchStrategy[tuple[str, Any]]:
    nodes_ = often(st.sampled_from(world.nodes), st.sampled_from(world.names) | random_uuids)
    interfaces = st.sampled_from(["fake", "ipxe", "direct", "noop", "external", "cinder", "x"])
    name_chars = string.ascii_letters + string.digits + "-._~"
    node = st.fixed_dictionaries(
        {"driver": often(st.just("fake-hardware"), st.text(max_size=5))},
        optional={
            "name": often(st.text(alphabet=name_chars, min_size=1, max_size=12), json_values),
            "uuid": random_uuids | st.sampled_from(world.nodes) | st.text(max_size=5),
            "driver_info": json_objects,
            "instance_info": json_objects,
            "properties": json_objects,
            "extra": json_objects,
            "instance_uuid": random_uuids | st.text(max_size=5),
            "resource_class": st.text(max_size=90),
            "boot_interface": interfaces,
            "deploy_interface": interfaces,
            "storage_interface": interfaces,
            "network_interface": interfaces,
            "bios_interface": interfaces,
            "automated_clean": st.booleans() | json_values,
            "owner": st.text(max_size=8) | json_values,
            "description": st.text(max_size=8) | json_values,
        },
    )
    port = st.fixed_dictionaries(
        {
            "node_uuid": nodes_,
            "address": often(
                st.builds(
                    lambda b: "52:54:00:" + ":".join(f"{x:02x}" for x in b),
                    st.binary(min_size=3, max_size=3),
                ),
                st.text(max_size=17),
            ),
        },
        optional={
            "pxe_enabled": often(st.booleans(), json_values),
            "local_link_connection": json_objects,
            "extra": json_objects,
            "uuid": random_uuids | st.sampled_from(world.ports),
            "portgroup_uuid": random_uuids | st.sampled_from(world.portgroups),
        },
    )
    portgroup = st.fixed_dictionaries(
        {"node_uuid": nodes_},
        optional={
            "address": often(
                st.sampled_from(["52:54:00:00:02:00", "52:54:00:00:01:00"]), st.text(max_size=17)
            ),
            "name": often(st.sampled_from(["bond1", "fuzz-bond"]), st.text(max_size=12)),
            "mode": often(st.sampled_from(["802.3ad", "balance-rr"]), json_values),
            "properties": json_objects,
            "standalone_ports_supported": often(st.booleans(), json_values),
            "extra": json_objects,
            "uuid": random_uuids | st.sampled_from(world.portgroups),
        },
    )
    vif = st.fixed_dictionaries({"id": often(random_uuids, st.text(max_size=300))})
    connector = st.fixed_dictionaries(
        {
            "node_uuid": nodes_,
            "type": st.sampled_from(["iqn", "ip", "mac", "wwnn", "wwpn", "port", "portgroup", "x"]),
            "connector_id": often(
                st.sampled_from([IQN, "192.0.2.1", "fd00::1", "52:54:00:00:00:01"])
                | random_uuids
                | st.builds(lambda b: b.hex(), st.binary(min_size=8, max_size=8)),
                st.text(max_size=20),
            ),
        },
        optional={"extra": json_objects, "uuid": random_uuids | st.sampled_from(world.connectors)},
    )
    target = target_documents(world, nodes_)
    return st.one_of(
        st.tuples(st.just("/v1/nodes"), mutated(node)),
        st.tuples(st.just("/v1/ports"), mutated(port)),
        st.tuples(st.just("/v1/portgroups"), mutated(portgroup)),
        st.tuples(st.sampled_from([f"/v1/nodes/{n}/vifs" for n in world.nodes]), mutated(vif)),
        st.tuples(st.just("/v1/volume/connectors"), mutated(connector)),
        st.tuples(st.just("/v1/volume/targets"), mutated(target)),
    )


def target_documents(world: World, nodes_: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {
            "node_uuid": nodes_,
            "volume_type": st.sampled_from(["iscsi", "iscsi", "fibre_channel", "bogus"]),
            "boot_index": boot_indexes,
            "volume_id": often(st.text(min_size=1, max_size=10), json_values),
        },
        optional={
            "properties": target_properties,
            "extra": json_objects,
            "uuid": random_uuids | st.sampled_from(world.targets),
        },
    )


def action_documents(world: World) -> st.SearchStrategy[tuple[str, Any]]:
    verbs = st.sampled_from(
        [
            "manage",
            "provide",
            "active",
            "deleted",
            "rebuild",
            "abort",
            "inspect",
            "adopt",
            "clean",
            "rescue",
            "unrescue",
        ]
    )
    powers = st.sampled_from(
        ["power on", "power off", "rebooting", "soft power off", "soft rebooting", "off"]
    )
    provision = st.fixed_dictionaries(
        {"target": often(verbs, json_values)},
        optional={
            "configdrive": json_values,
            "clean_steps": json_values,
            "rescue_password": json_values,
        },
    )
    power_body = st.fixed_dictionaries(
        {"target": often(powers, json_values)}, optional={"timeout": often(luns, json_values)}
    )
    boot = st.fixed_dictionaries(
        {"boot_device": often(st.sampled_from(["pxe", "disk", "floppy"]), json_values)},
        optional={"persistent": json_values},
    )
    maintenance = st.fixed_dictionaries({}, optional={"reason": json_values_or_deep})
    console = st.fixed_dictionaries({"enabled": often(st.booleans(), json_values)})
    return st.one_of(
        st.tuples(st.just("states/provision"), mutated(provision)),
        st.tuples(st.just("states/power"), mutated(power_body)),
        st.tuples(st.just("management/boot_device"), mutated(boot)),
        st.tuples(st.just("maintenance"), often(maintenance, json_values)),
        st.tuples(st.just("states/raid"), json_values_or_deep),
        st.tuples(st.just("management/inject_nmi"), json_values),
        st.tuples(st.just("states/console"), often(console, json_values)),
    )


# --- the tests -----------------------------------------------------------------------------


def test_the_fuzzer_knows_every_route() -> None:
    paths = {path for path, _ in TEMPLATES}
    for expected in (
        "/",
        "/v1/nodes/{ident}",
        "/v1/nodes/{ident}/states/provision",
        "/v1/nodes/{node_ident}/volume/targets/",
        "/v1/volume/connectors/{ident}",
        "/v1/ports/detail",
        "/v1/drivers/{name}/properties",
        "/v1/portgroups/{ident}/ports",
        "/v1/nodes/{node_ident}/vifs/{vif_id}",
        "/v1/conductors/{hostname}",
        "/v1/nodes/{ident}/management/inject_nmi",
        "/v1/nodes/{ident}/states/console",
        "/v1/nodes/{ident}/traits/{trait}",
        "/v1/nodes/{ident}/bios/{setting}",
    ):
        assert expected in paths
    assert len(TEMPLATES) >= 40


@FUZZ
@given(data=st.data())
def test_any_route_any_method(client: TestClient, world: World, data: st.DataObject) -> None:
    method, path = data.draw(requests(world), label="request")
    version = data.draw(versions, label="version")
    params = data.draw(queries, label="query")
    body = data.draw(st.none() | json_values | raw_bodies, label="body")
    kwargs: dict[str, Any] = {"params": params}
    if isinstance(body, bytes):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    check(send(client, method, path, version, **kwargs))


@FUZZ
@given(data=st.data())
def test_list_queries(client: TestClient, world: World, data: st.DataObject) -> None:
    node = data.draw(st.sampled_from(world.nodes))
    path = data.draw(
        st.sampled_from(
            [
                "/v1/nodes",
                "/v1/nodes/detail",
                "/v1/ports",
                "/v1/ports/detail",
                "/v1/volume/connectors",
                "/v1/volume/targets/",
                "/v1/drivers",
                "/v1/conductors",
                f"/v1/nodes/{node}/ports",
                f"/v1/nodes/{node}/volume/targets",
                f"/v1/nodes/{node}/volume/connectors/",
            ]
        )
    )
    params = data.draw(queries)
    if data.draw(st.booleans()):
        params["limit"] = data.draw(LIMITS)
    if data.draw(st.booleans()):
        # Valid-looking paging, with markers that exist.
        params["limit"] = str(data.draw(st.integers(min_value=1, max_value=3)))
        pool = world.targets + world.connectors + world.ports + world.nodes + ["test-conductor"]
        params["marker"] = data.draw(st.sampled_from(pool))
    version = data.draw(versions)
    response = send(client, "GET", path, version, params=params)
    check(response)
    if response.status_code == 200 and "next" in response.json():
        check(send(client, "GET", response.json()["next"], version))


@FUZZ
@given(data=st.data())
def test_json_patch(client: TestClient, world: World, data: st.DataObject) -> None:
    collection, pool = data.draw(
        st.sampled_from(
            [
                ("nodes", world.nodes + world.names),
                ("ports", world.ports),
                ("portgroups", world.portgroups),
                ("volume/connectors", world.connectors),
                ("volume/targets", world.targets),
            ]
        )
    )
    ident = data.draw(st.sampled_from(pool))
    document = data.draw(patch_documents(ROOTS[collection]), label="patch")
    version = data.draw(often(st.just("latest"), st.sampled_from(["1.1", "1.5", "1.20", "1.32"])))
    check(send(client, "PATCH", f"/v1/{collection}/{ident}", version, json=document))


@FUZZ
@given(data=st.data())
def test_target_property_patches(client: TestClient, world: World, data: st.DataObject) -> None:
    target = data.draw(st.sampled_from(world.targets))
    props = data.draw(target_properties, label="properties")
    ops: list[dict[str, Any]] = [
        {
            "op": data.draw(st.sampled_from(["add", "replace"])),
            "path": f"/properties/{k}",
            "value": v,
        }
        for k, v in props.items()
    ]
    if data.draw(st.booleans()):
        ops.append({"op": "replace", "path": "/properties", "value": props})
    if ops:
        check(client.patch(f"/v1/volume/targets/{target}", json=ops))


@FUZZ
@given(data=st.data())
def test_create_documents(client: TestClient, world: World, data: st.DataObject) -> None:
    path, document = data.draw(create_documents(world), label="create")
    version = data.draw(st.sampled_from(["latest", "1.1", "1.18", "1.31", "1.32", mv.MAX_VERSION]))
    check(send(client, "POST", path, version, json=document))


@FUZZ
@given(data=st.data())
def test_volume_target_documents(client: TestClient, world: World, data: st.DataObject) -> None:
    document = data.draw(mutated(target_documents(world, st.sampled_from(world.nodes))))
    response = client.post("/v1/volume/targets", json=document)
    check(response)
    if response.status_code == 201:
        # Show it back, then let validate and the boot plan read it.
        created = response.json()
        check(client.get(f"/v1/volume/targets/{created['uuid']}"))
        check(client.get(f"/v1/nodes/{created['node_uuid']}/validate"))
        check(client.delete(f"/v1/volume/targets/{created['uuid']}"))


@FEWER
@given(data=st.data())
def test_node_actions(client: TestClient, world: World, data: st.DataObject) -> None:
    node = data.draw(st.sampled_from(world.nodes + world.names))
    action, document = data.draw(action_documents(world), label="action")
    version = data.draw(st.sampled_from(["latest", "1.1", "1.4", "1.12", "1.26", "1.27"]))
    check(send(client, "PUT", f"/v1/nodes/{node}/{action}", version, json=document))
    check(send(client, "GET", f"/v1/nodes/{node}/validate", version))


@FEWER
@given(
    header=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    openstack=st.none()
    | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)
def test_version_headers(client: TestClient, header: str, openstack: str | None) -> None:
    headers = {VERSION_HEADER: header}
    if openstack is not None:
        headers["OpenStack-API-Version"] = openstack
    response = client.get("/v1/nodes", headers=headers)
    check(response)
    assert response.status_code in (200, 406)


def test_seeded_world_is_reachable(client: TestClient, world: World) -> None:
    # The seeds are what the strategies aim at: make sure they are real.
    for node in world.nodes:
        ok(client.get(f"/v1/nodes/{node}"))
    for target in world.targets:
        ok(client.get(f"/v1/volume/targets/{target}"))
    assert ok(client.get(f"/v1/nodes/{world.nodes[1]}/validate"))["boot"]["result"] is True
    assert uuidlib.UUID(world.ports[0])
