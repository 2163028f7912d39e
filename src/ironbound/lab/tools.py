"""Find the host programs and files the lab needs, failing loudly with the package to install."""

import os
import shutil
from pathlib import Path

from ironbound.lab.errors import LabError, MissingToolError

# Debian package that provides each program or file the lab uses.
APT_PACKAGES: dict[str, str] = {
    "qemu-system-x86_64": "qemu-system-x86",
    "libvirtd": "libvirt-daemon",
    "virsh": "libvirt-clients",
    "tgtd": "tgt",
    "tgtadm": "tgt",
    "tgt-admin": "tgt",
    "epmd": "erlang-base",
    "/usr/lib/rabbitmq/bin/rabbitmq-server": "rabbitmq-server",
    "socat": "socat",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "mount": "mount",
    "sleep": "coreutils",
    "ip": "iproute2",
    "nasm": "nasm",
    "grub-mkstandalone": "grub-common",
    "sfdisk": "fdisk",
    "qemu-img": "qemu-utils",
    "mkfs.vfat": "dosfstools",
    "mmd": "mtools",
    "mcopy": "mtools",
    "iscsi-ls": "libiscsi-bin",
    "iscsi-inq": "libiscsi-bin",
    "/usr/bin/python3": "python3",
    "/bin/busybox": "busybox-static",
    "apt-get": "apt",
    "dpkg-deb": "dpkg",
    "/usr/lib/ipxe/qemu/efi-e1000.rom": "ipxe-qemu",
    "/usr/share/OVMF/OVMF_CODE.fd": "ovmf",
    "/usr/share/OVMF/OVMF_VARS.fd": "ovmf",
    "/usr/lib/grub/x86_64-efi": "grub-efi-amd64-bin",
    "/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so": (
        "libvirt-daemon-driver-qemu"
    ),
}

# Root's PATH may lack the sbin directories where tgtd, libvirtd and sfdisk live.
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def _hint(name: str) -> str:
    package = APT_PACKAGES.get(name)
    if package is None:
        return ""
    return f": apt-get install --no-install-recommends {package}"


def program(name: str) -> str:
    """Return the absolute path of a program, or raise naming the package that provides it."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    found = shutil.which(name, path=search)
    if found is None:
        raise MissingToolError(f"{name} not found{_hint(name)}")
    return found


def file(path: str) -> Path:
    """Return a required file or directory, or raise naming the package that provides it."""
    candidate = Path(path)
    if not candidate.exists():
        raise MissingToolError(f"{path} not found{_hint(path)}")
    return candidate


def require_root() -> None:
    """Fail early: namespaces, bind mounts, tgtd and libvirtd all need root."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network/mount namespaces, tgtd, libvirtd)")
