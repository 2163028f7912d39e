"""Image builders: the right on-disk signatures, written in place for tgtd's open files."""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from ironbound.lab import images, tools
from ironbound.lab.errors import LabError

ESP_TYPE = uuid.UUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")


def _esp_file(image: Path, efi_path: str) -> bytes:
    """Read a file from the ESP at 1 MiB with mtools (no mounts)."""
    done = subprocess.run(
        [tools.program("mcopy"), "-i", f"{image}@@1M", "::" + efi_path.replace("\\", "/"), "-"],
        capture_output=True,
        check=True,
        env={**os.environ, "MTOOLS_SKIP_CHECK": "1"},
    )
    return done.stdout


def test_bios_disk_is_an_mbr_that_prints_the_marker(tmp_path: Path) -> None:
    disk = images.build_bios_disk(tmp_path / "bios.img", "BOOT-MARKER-A1")
    data = disk.read_bytes()
    assert len(data) == 8 * images.MIB
    assert data[510:512] == b"\x55\xaa"
    assert b"BOOT-MARKER-A1" in data[:510]
    assert not any(data[512:])


def test_data_disk_holds_the_marker_in_sector_0(tmp_path: Path) -> None:
    disk = images.build_data_disk(tmp_path / "data.img", "DATA-LUN-MARKER", size_mib=2)
    with disk.open("rb") as image:
        sector = image.read(512)
    assert sector.rstrip(b"\0") == b"DATA-LUN-MARKER"
    assert disk.stat().st_size == 2 * images.MIB


def test_uefi_disk_is_gpt_with_an_esp_and_grub_loaders(tmp_path: Path) -> None:
    disk = images.build_uefi_disk(
        tmp_path / "uefi.img",
        "UEFI-MARKER-B2",
        alt_path=r"\EFI\ALT\GRUBALT.EFI",
        alt_marker="ALT-MARKER-C3",
    )
    with disk.open("rb") as image:
        head = image.read(2 * images.MIB)
    assert head[510:512] == b"\x55\xaa"  # protective MBR
    assert head[512:520] == b"EFI PART"
    assert head[1024:1040] == ESP_TYPE.bytes_le  # first partition entry
    fat = head[images.MIB : images.MIB + 512]
    assert fat[54:62] == b"FAT16   "
    assert fat[510:512] == b"\x55\xaa"
    fallback = _esp_file(disk, images.FALLBACK_LOADER)
    alternate = _esp_file(disk, r"\EFI\ALT\GRUBALT.EFI")
    assert fallback[:2] == alternate[:2] == b"MZ"
    assert b"echo 'UEFI-MARKER-B2'" in fallback
    assert b"echo 'ALT-MARKER-C3'" in alternate


def test_uefi_disk_without_fallback_has_only_the_alternate_loader(tmp_path: Path) -> None:
    disk = images.build_uefi_disk(
        tmp_path / "uefi.img", "ONLY-ALT", fallback=False, alt_path="/EFI/ALT/GRUBALT.EFI"
    )
    assert b"echo 'ONLY-ALT'" in _esp_file(disk, "/EFI/ALT/GRUBALT.EFI")
    with pytest.raises(subprocess.CalledProcessError):
        _esp_file(disk, images.FALLBACK_LOADER)


def test_rebuilding_keeps_the_inode_tgtd_holds_open(tmp_path: Path) -> None:
    path = tmp_path / "disk.img"
    images.build_bios_disk(path, "FIRST")
    with path.open("rb") as held:  # like tgtd's open backing file
        inode = path.stat().st_ino
        images.build_data_disk(path, "SECOND", size_mib=1)
        assert path.stat().st_ino == inode
        assert held.read(6) == b"SECOND"
    assert path.stat().st_size == images.MIB


@pytest.mark.parametrize("marker", ["", "quote'in", "back\\slash", "dollar$x", "x" * 121])
def test_markers_that_would_break_asm_or_grub_are_refused(tmp_path: Path, marker: str) -> None:
    with pytest.raises(LabError, match="marker"):
        images.build_bios_disk(tmp_path / "bad.img", marker)
