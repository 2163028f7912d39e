"""/v1/drivers: the hardware types live conductors offer."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.db import conductors
from tests.api.helpers import error, ok, v

HW = "fake-hardware"
LINKS = [
    {"href": f"http://127.0.0.1:6385/v1/drivers/{HW}", "rel": "self"},
    {"href": f"http://127.0.0.1:6385/drivers/{HW}", "rel": "bookmark"},
]
PROPERTIES = [
    {"href": f"http://127.0.0.1:6385/v1/drivers/{HW}/properties", "rel": "self"},
    {"href": f"http://127.0.0.1:6385/drivers/{HW}/properties", "rel": "bookmark"},
]
SHOWN_FROM_1_30 = ("boot", "console", "deploy", "inspect", "management", "network", "power")


def test_list(client: TestClient) -> None:
    drivers = ok(client.get("/v1/drivers"))["drivers"]
    assert [d["name"] for d in drivers] == [HW, "ipmi", "redfish"]
    assert drivers[0] == {
        "name": HW,
        "hosts": ["test-conductor"],
        "type": "dynamic",
        "links": LINKS,
        "properties": PROPERTIES,
    }


def test_list_before_1_30_has_no_type(client: TestClient) -> None:
    driver = ok(client.get("/v1/drivers", headers=v(29)))["drivers"][0]
    assert set(driver) == {"name", "hosts", "links", "properties"}
    assert "type" in error(client.get("/v1/drivers?type=dynamic", headers=v(29)), 400)


def test_list_by_type(client: TestClient) -> None:
    assert ok(client.get("/v1/drivers?type=classic")) == {"drivers": []}
    assert len(ok(client.get("/v1/drivers?type=dynamic"))["drivers"]) == 3
    assert "Invalid driver type 'other'" in error(client.get("/v1/drivers?type=other"), 400)


def test_list_detail(client: TestClient) -> None:
    driver = ok(client.get("/v1/drivers?detail=True"))["drivers"][0]
    assert driver["default_storage_interface"] == "noop"
    assert sorted(driver["enabled_storage_interfaces"]) == ["cinder", "external", "managed", "noop"]
    assert driver["default_boot_interface"] == "fake"
    assert driver["enabled_boot_interfaces"] == ["fake", "ipxe"]
    assert driver["enabled_deploy_interfaces"] == ["fake", "direct", "ramdisk"]
    assert driver["default_rescue_interface"] == "no-rescue"
    assert driver["enabled_rescue_interfaces"] == ["no-rescue"]
    at_1_37 = ok(client.get("/v1/drivers?detail=True", headers=v(37)))["drivers"][0]
    assert "default_rescue_interface" not in at_1_37
    assert driver["default_bios_interface"] == "fake"
    assert driver["enabled_bios_interfaces"] == ["fake", "no-bios"]
    before_bios = ok(client.get("/v1/drivers?detail=True", headers=v(39)))["drivers"][0]
    assert "default_bios_interface" not in before_bios
    assert "default_boot_interface" not in ok(client.get("/v1/drivers"))["drivers"][0]


def test_bad_list_parameters(client: TestClient) -> None:
    error(client.get("/v1/drivers?detail=sometimes"), 400)
    assert "bogus" in error(client.get("/v1/drivers?bogus=1"), 400)


def test_show(client: TestClient) -> None:
    driver = ok(client.get(f"/v1/drivers/{HW}"))
    assert driver["name"] == HW
    assert driver["hosts"] == ["test-conductor"]
    assert driver["links"] == LINKS
    assert driver["properties"] == PROPERTIES
    for iface in (*SHOWN_FROM_1_30, "raid", "vendor", "storage"):
        assert f"default_{iface}_interface" in driver
        assert f"enabled_{iface}_interfaces" in driver


@pytest.mark.parametrize("minor", [30, 31, 32])
def test_interfaces_shown_from_1_30_and_storage_from_1_33(client: TestClient, minor: int) -> None:
    driver = ok(client.get(f"/v1/drivers/{HW}", headers=v(minor)))
    for iface in SHOWN_FROM_1_30:
        assert f"default_{iface}_interface" in driver, iface
    assert "default_storage_interface" not in driver
    assert "enabled_storage_interfaces" not in driver


def test_show_before_1_30(client: TestClient) -> None:
    driver = ok(client.get(f"/v1/drivers/{HW}", headers=v(1)))
    assert set(driver) == {"name", "hosts", "links", "properties"}


def test_show_unknown_is_404(client: TestClient) -> None:
    message = error(client.get("/v1/drivers/idrac"), 404)
    assert message == "Could not find the following driver(s) or hardware type(s): idrac."
    error(client.get("/v1/drivers/idrac/properties"), 404)


def test_properties(client: TestClient) -> None:
    assert ok(client.get(f"/v1/drivers/{HW}/properties")) == {}
    redfish = ok(client.get("/v1/drivers/redfish/properties"))
    assert "Required" in redfish["redfish_address"]
    assert {"redfish_username", "redfish_password"} <= set(redfish)


def test_ipmi_properties_and_detail(client: TestClient) -> None:
    ipmi = ok(client.get("/v1/drivers/ipmi/properties"))
    assert "Required" in ipmi["ipmi_address"]
    assert {"ipmi_port", "ipmi_username", "ipmi_password", "ipmi_priv_level"} <= set(ipmi)
    driver = ok(client.get("/v1/drivers/ipmi"))
    assert driver["default_power_interface"] == "ipmi"
    assert driver["default_management_interface"] == "ipmi"
    assert driver["enabled_boot_interfaces"] == ["ipxe"]


def test_redfish_detail(client: TestClient) -> None:
    driver = ok(client.get("/v1/drivers/redfish"))
    assert driver["default_power_interface"] == "redfish"
    assert driver["enabled_boot_interfaces"] == ["ipxe"]
    assert driver["default_storage_interface"] == "noop"


def test_a_second_conductor_joins_the_catalogue(client: TestClient, services: ApiServices) -> None:
    offer = conductors.Offer(
        hardware_type=HW,
        enabled={"power": ["fake"], "storage": ["external"]},
        defaults={"power": "fake", "storage": "external"},
        properties={"fake_address": "where the fake BMC lives"},
    )
    other = conductors.Offer(
        hardware_type="other-hardware",
        enabled={"power": ["fake"]},
        defaults={"power": "fake"},
    )
    with services.db.write() as session:
        conductors.register(session, "second-conductor", [offer, other])
    services._catalogue_at = -1e9  # forget the cached catalogue
    listed = ok(client.get("/v1/drivers"))["drivers"]
    assert [d["name"] for d in listed] == [HW, "ipmi", "other-hardware", "redfish"]
    assert listed[0]["hosts"] == ["test-conductor", "second-conductor"]
    assert ok(client.get(f"/v1/drivers/{HW}/properties")) == {
        "fake_address": "where the fake BMC lives"
    }
    with services.db.write() as session:
        conductors.unregister(session, "second-conductor")
    services._catalogue_at = -1e9
    assert [d["name"] for d in ok(client.get("/v1/drivers"))["drivers"]] == [HW, "ipmi", "redfish"]
    error(client.get("/v1/drivers/other-hardware"), 404)
