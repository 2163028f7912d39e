"""Domain XML: what makes iPXE get the boot URL and sushy-tools see a PXE-capable NIC."""

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ironbound.lab import machines
from ironbound.lab.errors import LabError

QEMU = "{http://libvirt.org/schemas/domain/qemu/1.0}"
URL = "http://10.0.2.2:8080/boot.ipxe"


def _attr(element: ET.Element, path: str, name: str) -> str | None:
    found = element.find(path)
    assert found is not None, path
    return found.get(name)


def _domain(tmp_path: Path, firmware: machines.Firmware) -> ET.Element:
    machine = machines.new_machine(
        tmp_path, "node-1", "52:54:00:AA:00:01", firmware=firmware, boot_url=URL
    )
    return ET.fromstring(machines.domain_xml(machine))


def test_bios_domain_boots_the_nic_with_the_bootfile(tmp_path: Path) -> None:
    domain = _domain(tmp_path, "bios")
    assert domain.get("type") == "qemu"  # TCG: KVM here is not usable for firmware
    assert domain.findtext("memory") == "512"
    assert _attr(domain, "os/bios", "useserial") == "yes"
    assert _attr(domain, "devices/interface", "type") == "user"
    assert _attr(domain, "devices/interface/model", "type") == "e1000"
    assert _attr(domain, "devices/interface/mac", "address") == "52:54:00:aa:00:01"
    assert _attr(domain, "devices/interface/boot", "order") == "1"
    args = [arg.get("value") for arg in domain.iter(f"{QEMU}arg")]
    assert args == ["-set", f"netdev.hostua-boot.bootfile={URL}"]
    assert _attr(domain, f"{QEMU}capabilities/{QEMU}del", "capability") == "netdev.json"
    assert _attr(domain, "devices/serial/source", "path") == str(tmp_path / "serial.log")


def test_uefi_domain_uses_ovmf_with_its_own_variables(tmp_path: Path) -> None:
    domain = _domain(tmp_path, "uefi")
    assert _attr(domain, "os/type", "machine") == "q35"
    assert domain.findtext("memory") == "1024"
    assert domain.findtext("os/loader") == "/usr/share/OVMF/OVMF_CODE.fd"
    assert domain.findtext("os/nvram") == str(tmp_path / "OVMF_VARS.fd")


@pytest.mark.parametrize(
    ("name", "mac", "url"),
    [
        ("bad name", "52:54:00:aa:00:01", URL),
        ("node", "52:54:00:aa:00", URL),
        ("node", "52:54:00:aa:00:01", "https://10.0.2.2/boot.ipxe"),
        ("node", "52:54:00:aa:00:01", "http://10.0.2.2/a,b.ipxe"),
    ],
)
def test_bad_machine_parameters_are_refused(tmp_path: Path, name: str, mac: str, url: str) -> None:
    with pytest.raises(LabError):
        machines.new_machine(tmp_path, name, mac, firmware="bios", boot_url=url)


def test_a_machine_with_ssh_forwards_the_guests_port_22(tmp_path: Path) -> None:
    machine = machines.new_machine(
        tmp_path, "node-1", "52:54:00:aa:00:01", firmware="bios", boot_url=URL, ssh_port=2201
    )
    domain = ET.fromstring(machines.domain_xml(machine))
    args = [arg.get("value") for arg in domain.iter(f"{QEMU}arg")]
    assert args[2:] == ["-set", "netdev.hostua-boot.hostfwd=tcp:127.0.0.1:2201-:22"]
