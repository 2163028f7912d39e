"""The ramdisk deploy's initramfs: a newc cpio the kernel (and busybox cpio) can unpack."""

import gzip
import subprocess
from pathlib import Path

from ironbound.lab import netboot, tools


def test_initramfs_holds_init_busybox_the_modules_and_a_console(tmp_path: Path) -> None:
    modules = {}
    for name in (*netboot.IBFT_MODULES, *netboot.NIC_MODULES):
        modules[name] = tmp_path / f"{name}.ko"
        modules[name].write_bytes(f"module {name}".encode())
    kernel = netboot.Kernel(vmlinuz=tmp_path / "vmlinuz", modules=modules)
    built = netboot.build_ibft_initramfs(tmp_path / "initrd.gz", "RAMDISK-MARK-7", kernel)
    archive = gzip.decompress(built.read_bytes())
    listing = subprocess.run(
        [str(tools.file("/bin/busybox")), "cpio", "-tv"],
        input=archive,
        capture_output=True,
        check=True,
    ).stdout.decode()
    names = [line.split()[-1] for line in listing.splitlines()]
    assert names == [
        "bin", "proc", "sys", "dev", "modules", "init", "bin/busybox", "bin/lease",
        "modules/iscsi_boot_sysfs.ko", "modules/iscsi_ibft.ko", "modules/e1000.ko",
        "dev/console",
    ]  # fmt: skip
    assert any(
        line.startswith("crw") and line.endswith("dev/console") for line in listing.splitlines()
    )
    extracted = tmp_path / "root"
    extracted.mkdir()
    subprocess.run(
        [str(tools.file("/bin/busybox")), "cpio", "-id"],
        input=archive,
        cwd=extracted,
        capture_output=True,
        check=False,  # dev/console needs mknod; the files are what matters here
    )
    init = (extracted / "init").read_text()
    assert init.startswith("#!/bin/busybox sh\n")
    assert "insmod /modules/$module.ko" in init
    assert "echo RAMDISK-MARK-7\npoweroff -f\n" in init
    assert "s=\\([^ ]*\\).*/\\1/p' /proc/cmdline)" in init  # the NoCloud seed URL
    assert 'wget -q -O /user-data "$seed"user-data' in init
    assert (extracted / "modules" / "iscsi_ibft.ko").read_bytes() == b"module iscsi_ibft"
