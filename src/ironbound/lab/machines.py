"""Virtual bare-metal machines: libvirt domains that network-boot iPXE from a DHCP bootfile.

Each machine has one e1000 NIC with QEMU's iPXE option ROM on a slirp (user) network,
which is safe because libvirtd runs in the lab's namespace. slirp's DHCP server hands
out the bootfile URL; libvirt has no element for that, so the domain deletes libvirt's
`netdev.json` capability for itself (libvirt then writes `-netdev user,id=...` as
QemuOpts) and sets the bootfile with `-set netdev.<id>.bootfile=<url>`. The NIC stays a
normal libvirt <interface>, so sushy-tools can make it the boot device (Redfish `Pxe`).
"""

import re
import shutil
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ironbound.lab import tools
from ironbound.lab.console import SerialConsole
from ironbound.lab.errors import LabError
from ironbound.lab.libvirtd import PrivateLibvirtd

Firmware = Literal["bios", "uefi"]

_QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
_NIC_ALIAS = "ua-boot"  # libvirt names the NIC's netdev "host" + alias
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")
_MAC = re.compile(r"(?:[0-9a-f]{2}:){5}[0-9a-f]{2}")
_MEMORY_MIB = {"bios": 512, "uefi": 1024}
_OVMF_CODE = "/usr/share/OVMF/OVMF_CODE.fd"
_OVMF_VARS = "/usr/share/OVMF/OVMF_VARS.fd"
_NIC_ROM = "/usr/lib/ipxe/qemu/efi-e1000.rom"  # iPXE for both BIOS and UEFI

ET.register_namespace("qemu", _QEMU_NS)


@dataclass(frozen=True)
class Machine:
    """What a test needs to know about a machine; it starts powered off."""

    name: str
    uuid: str
    mac: str
    firmware: Firmware
    boot_url: str
    serial_log: Path
    nvram: Path | None
    #: The lab namespace's loopback port that slirp forwards to the guest's SSH (22).
    ssh_port: int | None = None

    @property
    def redfish_system(self) -> str:
        """The Redfish system id (path) sushy-tools serves this machine under."""
        return f"/redfish/v1/Systems/{self.uuid}"

    @property
    def console(self) -> SerialConsole:
        return SerialConsole(self.serial_log)

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "uuid": self.uuid,
            "mac": self.mac,
            "firmware": self.firmware,
            "boot_url": self.boot_url,
            "redfish_system": self.redfish_system,
            "serial_log": str(self.serial_log),
        }


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    element.text = text
    return element


def domain_xml(machine: Machine) -> str:
    """The libvirt domain: TCG, 1 vCPU, network boot first, COM1 to the serial log file."""
    domain = ET.Element("domain", {"type": "qemu"})
    _sub(domain, "name", machine.name)
    _sub(domain, "uuid", machine.uuid)
    _sub(domain, "memory", str(_MEMORY_MIB[machine.firmware]), unit="MiB")
    _sub(domain, "vcpu", "1")
    os_element = _sub(domain, "os")
    if machine.nvram is None:
        _sub(os_element, "type", "hvm", arch="x86_64", machine="pc")
        _sub(os_element, "bios", useserial="yes")  # SeaBIOS mirrors iPXE's text to COM1
    else:
        _sub(os_element, "type", "hvm", arch="x86_64", machine="q35")
        _sub(os_element, "loader", str(tools.file(_OVMF_CODE)), readonly="yes", type="pflash")
        _sub(os_element, "nvram", str(machine.nvram))
    _sub(_sub(domain, "features"), "acpi")
    devices = _sub(domain, "devices")
    _sub(devices, "emulator", tools.program("qemu-system-x86_64"))
    nic = _sub(devices, "interface", type="user")
    _sub(nic, "mac", address=machine.mac)
    _sub(nic, "model", type="e1000")
    _sub(nic, "rom", file=str(tools.file(_NIC_ROM)))
    _sub(nic, "alias", name=_NIC_ALIAS)
    _sub(nic, "boot", order="1")
    serial = _sub(devices, "serial", type="file")
    _sub(serial, "source", path=str(machine.serial_log), append="on")
    _sub(serial, "target", port="0")
    _sub(devices, "memballoon", model="none")
    commandline = _sub(domain, f"{{{_QEMU_NS}}}commandline")
    _sub(commandline, f"{{{_QEMU_NS}}}arg", value="-set")
    bootfile = f"netdev.host{_NIC_ALIAS}.bootfile={machine.boot_url}"
    _sub(commandline, f"{{{_QEMU_NS}}}arg", value=bootfile)
    if machine.ssh_port is not None:
        forward = f"netdev.host{_NIC_ALIAS}.hostfwd=tcp:127.0.0.1:{machine.ssh_port}-:22"
        _sub(commandline, f"{{{_QEMU_NS}}}arg", value="-set")
        _sub(commandline, f"{{{_QEMU_NS}}}arg", value=forward)
    capabilities = _sub(domain, f"{{{_QEMU_NS}}}capabilities")
    _sub(capabilities, f"{{{_QEMU_NS}}}del", capability="netdev.json")
    return ET.tostring(domain, encoding="unicode")


def new_machine(
    machine_dir: Path,
    name: str,
    mac: str,
    *,
    firmware: Firmware,
    boot_url: str,
    ssh_port: int | None = None,
) -> Machine:
    """Check a machine's parameters; its serial log and UEFI variables live in machine_dir."""
    if not _NAME.fullmatch(name):
        raise LabError(f"machine name {name!r} must match {_NAME.pattern}")
    if not _MAC.fullmatch(mac.lower()):
        raise LabError(f"{mac!r} is not a MAC address like 52:54:00:12:34:56")
    if firmware not in _MEMORY_MIB:
        raise LabError(f"firmware must be 'bios' or 'uefi', not {firmware!r}")
    if not boot_url.startswith("http://") or any(c in boot_url for c in ", \n"):
        raise LabError(f"boot URL {boot_url!r} must be plain http:// (Debian's iPXE has no TLS)")
    return Machine(
        name=name,
        uuid=str(uuid.uuid4()),
        mac=mac.lower(),
        firmware=firmware,
        boot_url=boot_url,
        serial_log=machine_dir / "serial.log",
        nvram=machine_dir / "OVMF_VARS.fd" if firmware == "uefi" else None,
        ssh_port=ssh_port,
    )


def define(libvirtd: PrivateLibvirtd, machine: Machine) -> None:
    """Define the machine powered off, with fresh UEFI variables (a copy of OVMF's)."""
    machine_dir = machine.serial_log.parent
    machine_dir.mkdir(parents=True, exist_ok=True)
    if machine.nvram is not None:
        shutil.copyfile(tools.file(_OVMF_VARS), machine.nvram)
    xml_file = machine_dir / "domain.xml"
    xml_file.write_text(domain_xml(machine))
    libvirtd.virsh("define", str(xml_file))
