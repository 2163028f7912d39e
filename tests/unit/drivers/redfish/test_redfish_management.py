"""Boot device and boot mode through the emulator."""

from __future__ import annotations

from typing import Any

import pytest
import sushy
from sushy.connector import Connector
from sushy.resources.system.system import System

from ironbound import errors
from ironbound.drivers.redfish.management import RedfishManagement

from ._support import FakeTask, make_conf, make_node
from .emulator import Emulator


@pytest.fixture
def task(fast_info: dict[str, Any]) -> FakeTask:
    return FakeTask(conf=make_conf(), node=make_node(fast_info))


@pytest.fixture
def management(task: FakeTask) -> RedfishManagement:
    return RedfishManagement(task.conf)


@pytest.fixture
def sent_boot(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The Boot objects PATCHed to the BMC (the emulator stores but does not echo all)."""
    sent: list[dict[str, Any]] = []
    original = Connector.patch

    def patch(self: Connector, path: str = "", data: Any = None, **kwargs: Any) -> Any:
        if isinstance(data, dict) and "Boot" in data:
            sent.append(dict(data["Boot"]))
        return original(self, path, data=data, **kwargs)

    monkeypatch.setattr(Connector, "patch", patch)
    return sent


def test_inject_nmi_sends_the_nmi_reset(
    management: RedfishManagement, task: FakeTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[Any] = []
    original = Connector.post

    def post(self: Connector, path: str = "", data: Any = None, **kwargs: Any) -> Any:
        sent.append(data)
        return original(self, path, data=data, **kwargs)

    monkeypatch.setattr(Connector, "post", post)
    # sushy-tools' fake system lists Nmi among its reset types but answers it with 501.
    with pytest.raises(errors.BMCError, match=r"HTTP 501 .*while sending reset Nmi"):
        management.inject_nmi(task)
    assert {"ResetType": "Nmi"} in sent


def test_inject_nmi_without_an_nmi_reset_is_unsupported(
    management: RedfishManagement, task: FakeTask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        System, "get_allowed_reset_system_values", lambda self: {sushy.ResetType.ON}
    )
    with pytest.raises(errors.UnsupportedDriverExtension, match="does not support inject_nmi"):
        management.inject_nmi(task)


def test_supported_boot_devices_are_those_the_bmc_lists(
    management: RedfishManagement, task: FakeTask
) -> None:
    # The emulator lists Pxe, Cd, Hdd (and UefiHttp) but not BiosSetup.
    assert management.get_supported_boot_devices(task) == ["pxe", "disk", "cdrom"]


@pytest.mark.parametrize("device", ["pxe", "disk", "cdrom"])
def test_persistent_boot_device_round_trip(
    management: RedfishManagement, task: FakeTask, device: str, sent_boot: list[dict[str, Any]]
) -> None:
    management.set_boot_device(task, device, persistent=True)
    assert management.get_boot_device(task) == {"boot_device": device, "persistent": True}
    assert sent_boot[-1]["BootSourceOverrideEnabled"] == "Continuous"


def test_one_time_boot_device(
    management: RedfishManagement, task: FakeTask, sent_boot: list[dict[str, Any]]
) -> None:
    management.set_boot_device(task, "disk", persistent=True)
    management.set_boot_device(task, "pxe")
    assert sent_boot[-1]["BootSourceOverrideTarget"] == "Pxe"
    assert sent_boot[-1]["BootSourceOverrideEnabled"] == "Once"
    # The emulator keeps the target but always reports Continuous; what is
    # reported is what the BMC says.
    assert management.get_boot_device(task)["boot_device"] == "pxe"


def test_device_the_bmc_does_not_offer(
    management: RedfishManagement, task: FakeTask, sent_boot: list[dict[str, Any]]
) -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        management.set_boot_device(task, "bios")
    message = str(caught.value)
    assert "Boot device bios is not offered by the BMC" in message
    assert "it offers pxe, disk, cdrom" in message
    assert task.node.driver_info["redfish_address"] in message
    assert sent_boot == []


@pytest.mark.parametrize("device", ["floppy", "safe", ""])
def test_unknown_device(management: RedfishManagement, task: FakeTask, device: str) -> None:
    with pytest.raises(errors.InvalidParameterValue) as caught:
        management.set_boot_device(task, device)
    assert "valid devices are pxe, disk, cdrom, bios" in str(caught.value)


def test_boot_mode_from_capabilities_goes_with_the_device(
    fast_info: dict[str, Any], sent_boot: list[dict[str, Any]]
) -> None:
    conf = make_conf()
    management = RedfishManagement(conf)
    task = FakeTask(conf=conf, node=make_node(fast_info, capabilities="boot_mode:bios"))
    assert management.get_boot_mode(task) == "uefi"  # the emulator's default

    management.set_boot_device(task, "pxe", persistent=True)
    assert sent_boot[-1]["BootSourceOverrideMode"] == "Legacy"
    assert management.get_boot_mode(task) == "bios"
    assert management.get_boot_device(task) == {"boot_device": "pxe", "persistent": True}


def test_set_boot_mode(management: RedfishManagement, task: FakeTask) -> None:
    assert management.get_supported_boot_modes(task) == ["uefi", "bios"]
    management.set_boot_mode(task, "bios")
    assert management.get_boot_mode(task) == "bios"
    management.set_boot_mode(task, "uefi")
    assert management.get_boot_mode(task) == "uefi"
    with pytest.raises(errors.InvalidParameterValue, match="valid modes are uefi, bios"):
        management.set_boot_mode(task, "efi")


def test_validate_checks_the_boot_mode_capability(fast_info: dict[str, Any]) -> None:
    conf = make_conf()
    management = RedfishManagement(conf)
    management.validate(FakeTask(conf=conf, node=make_node(fast_info, "boot_mode:uefi")))
    bad = FakeTask(conf=conf, node=make_node(fast_info, capabilities="boot_mode:efi"))
    with pytest.raises(errors.InvalidParameterValue, match="boot_mode: 'efi' is not one of uefi"):
        management.validate(bad)
    with pytest.raises(errors.InvalidParameterValue):
        management.set_boot_device(bad, "pxe")


def test_wrong_system_id(fast_bmc: Emulator, conf: Any) -> None:
    node = make_node(
        {"redfish_address": fast_bmc.address, "redfish_system_id": "/redfish/v1/Systems/gone"}
    )
    with pytest.raises(errors.BMCError, match="system /redfish/v1/Systems/gone does not exist"):
        RedfishManagement(conf).get_boot_device(FakeTask(conf=conf, node=node))
