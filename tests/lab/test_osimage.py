"""The Debian iSCSI-root image's disk layout, built from a stand-in tree in seconds.

mmdebstrap (minutes, a mirror) is replaced by a tiny tree with a kernel and an
initramfs in /boot; everything after it is the real recipe: GPT, SYSLINUX's GPT MBR,
the FAT ESP with both boot loaders, ext4 from the tree, qcow2. The real image boots
in tests/e2e/test_linux_image.py.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

from ironbound.lab import osimage as lab_osimage
from ironbound.lab import tools
from ironbound.osimage import build, recipe

ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
LEGACY_BIOS_BOOTABLE = "LegacyBIOSBootable"


def _fake_debootstrap(work: Path, tree: Path) -> None:
    build._overlays(work)
    (tree / "boot").mkdir(parents=True)
    (tree / "boot/vmlinuz-6.1.0-0-amd64").write_bytes(b"KERNEL" * 1000)
    (tree / "boot/initrd.img-6.1.0-0-amd64").write_bytes(b"INITRD" * 1000)
    (tree / "etc").mkdir()
    (tree / "etc/hostname").write_text("stand-in\n")


def _esp_text(disk: Path, name: str) -> str:
    done = subprocess.run(
        [tools.program("mcopy"), "-i", f"{disk}@@1M", f"::{name}", "-"],
        capture_output=True,
        check=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    )
    return done.stdout.decode(errors="replace")


@pytest.fixture(scope="module")
def raw_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("osimage")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(build, "_debootstrap", _fake_debootstrap)
        report = build.build_image(folder / "image.qcow2", workdir=folder)
    assert report.kernel_bytes == report.initrd_bytes == 6000
    assert report.virtual_bytes == build.DISK_MIB * build.MIB
    return lab_osimage.write_raw(report.image, folder / "disk.raw")


def test_gpt_with_a_legacy_bootable_esp_and_a_root_partition(raw_disk: Path) -> None:
    table = json.loads(
        subprocess.run(
            [tools.program("sfdisk"), "--json", str(raw_disk)],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )["partitiontable"]
    esp, root = table["partitions"]
    assert table["label"] == "gpt"
    assert (esp["start"], esp["type"]) == (2048, ESP_TYPE)
    assert LEGACY_BIOS_BOOTABLE in esp["attrs"]
    assert root["start"] * 512 == build.ROOT_START_MIB * build.MIB
    with raw_disk.open("rb") as disk:
        sector0 = disk.read(512)
        disk.seek(build.ROOT_START_MIB * build.MIB + 1024)
        superblock = disk.read(1024)
    gptmbr = Path("/usr/lib/syslinux/mbr/gptmbr.bin").read_bytes()
    assert sector0[:440] == gptmbr[:440]
    assert sector0[510:512] == b"\x55\xaa"
    assert superblock[56:58] == b"\x53\xef"  # ext4's magic
    assert superblock[120:136].rstrip(b"\0").decode() == recipe.ROOT_LABEL


def test_both_boot_loaders_load_the_same_kernel_with_the_root_label(raw_disk: Path) -> None:
    root = f"root=LABEL={recipe.ROOT_LABEL} {recipe.KERNEL_ARGS}"
    assert f"APPEND {root}" in _esp_text(raw_disk, "/syslinux.cfg")
    assert _esp_text(raw_disk, "/vmlinuz") == "KERNEL" * 1000
    assert _esp_text(raw_disk, "/initrd.img") == "INITRD" * 1000
    grub = _esp_text(raw_disk, "/EFI/BOOT/BOOTX64.EFI")
    assert grub.startswith("MZ")
    # GRUB's memdisk (a tar inside the EFI binary) holds its config, kernel and initramfs.
    assert f"linux (memdisk)/vmlinuz {root}" in grub
    assert "KERNEL" * 1000 in grub and "INITRD" * 1000 in grub
    assert _esp_text(raw_disk, "/ldlinux.sys")  # SYSLINUX installed into the ESP


def test_write_raw_keeps_the_inode_tgtd_holds_open(raw_disk: Path) -> None:
    image = raw_disk.with_name("image.qcow2")
    before = raw_disk.stat().st_ino
    lab_osimage.write_raw(image, raw_disk)
    assert raw_disk.stat().st_ino == before
    assert raw_disk.stat().st_size == build.DISK_MIB * build.MIB


def test_the_recipe_digest_names_the_cached_image() -> None:
    digest = build.recipe_digest()
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert digest == build.recipe_digest()
