"""Build the image: mmdebstrap a root tree, then lay out a GPT disk without loop devices.

Disk layout (GPT, 1 GiB virtual): partition 1 is a FAT ESP (64 MiB, label IRONBOUND,
"legacy BIOS bootable") holding SYSLINUX, the kernel and the initramfs for BIOS, and a
standalone GRUB as \\EFI\\BOOT\\BOOTX64.EFI for UEFI that carries its own copy of
both; partition 2 is the ext4 root (label ironbound-root). Sector 0 holds SYSLINUX's
GPT MBR, which boots the legacy-bootable partition. So one image boots under both firmwares.
"""

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ironbound.osimage import recipe
from ironbound.osimage.errors import OsImageError
from ironbound.osimage.run import host_file, program, run

MIB = 1024 * 1024
SECTOR = 512
DISK_MIB = 1024
ESP_START_MIB = 1
ESP_MIB = 64
ROOT_START_MIB = ESP_START_MIB + ESP_MIB
ROOT_MIB = DISK_MIB - ROOT_START_MIB - 1  # the last MiB keeps GPT's backup header
_ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
_LINUX_TYPE = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
_GPTMBR = "/usr/lib/syslinux/mbr/gptmbr.bin"
_GRUB_EFI = "/usr/lib/grub/x86_64-efi"
_MBR_CODE_BYTES = 440  # the partition table follows; gptmbr.bin must not touch it
_MMDEBSTRAP_TIMEOUT = 1800.0


@dataclass(frozen=True)
class BuildReport:
    """What was built and what it cost, for the CLI and the docs' numbers."""

    image: Path
    seconds: float
    kernel_bytes: int
    initrd_bytes: int
    image_bytes: int
    virtual_bytes: int


def recipe_digest() -> str:
    """A short hash of this package's source: any change to the recipe changes it."""
    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()[:16]


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _overlays(work: Path) -> tuple[Path, Path]:
    """Files laid into the tree: before the packages install (initramfs settings, so
    the kernel's first initramfs is already the lean one), and after."""
    early, late = work / "early", work / "late"
    _write(early / "etc/initramfs-tools/conf.d/ironbound.conf", recipe.INITRAMFS_CONF)
    _write(
        early / "etc/initramfs-tools/hooks/ironbound",
        recipe.INITRAMFS_HOOK.replace("{modules}", " ".join(recipe.INITRAMFS_MODULES)),
        0o755,
    )
    _write(early / "etc/iscsi/iscsi.initramfs", recipe.ISCSI_INITRAMFS)
    _write(late / "etc/fstab", recipe.FSTAB.format(root_label=recipe.ROOT_LABEL))
    _write(late / "etc/hostname", recipe.HOSTNAME + "\n")
    _write(late / "usr/local/sbin/ironbound-report", recipe.REPORT_SCRIPT, 0o755)
    _write(late / f"etc/systemd/system/{recipe.REPORT_UNIT}", recipe.REPORT_SERVICE)
    _write(late / "etc/cloud/cloud.cfg.d/90-ironbound.cfg", recipe.CLOUD_CFG)
    return early, late


def _debootstrap(work: Path, tree: Path) -> None:
    """The root tree, from Debian's packages, configured inside its chroot."""
    early, late = _overlays(work)
    argv = [
        program("mmdebstrap"),
        "--mode=root",
        f"--variant={recipe.VARIANT}",
        f"--include={','.join(recipe.PACKAGES)}",
        *(f"--dpkgopt=path-exclude={path}" for path in recipe.EXCLUDED_PATHS),
        f'--essential-hook=cp -a "{early}/." "$1/"',
        f'--customize-hook=cp -a "{late}/." "$1/"',
        f'--customize-hook=chroot "$1" systemctl mask {" ".join(recipe.MASKED_UNITS)}',
        f'--customize-hook=chroot "$1" systemctl enable {recipe.REPORT_UNIT}',
        recipe.SUITE,
        str(tree),
    ]
    run(argv, timeout=_MMDEBSTRAP_TIMEOUT)


def _boot_files(tree: Path) -> tuple[Path, Path]:
    kernels = sorted((tree / "boot").glob("vmlinuz-*"))
    initrds = sorted((tree / "boot").glob("initrd.img-*"))
    if len(kernels) != 1 or len(initrds) != 1:
        raise OsImageError(f"expected one kernel and one initramfs in /boot: {kernels} {initrds}")
    return kernels[0], initrds[0]


def _grub_efi(work: Path, kernel: Path, initrd: Path) -> Path:
    """A standalone GRUB for \\EFI\\BOOT\\BOOTX64.EFI with the kernel and initramfs in
    its memdisk: the firmware reads it in one go, GRUB then reads nothing from disk."""
    host_file(_GRUB_EFI, "grub-efi-amd64-bin")
    config, loader = work / "grub.cfg", work / "BOOTX64.EFI"
    config.write_text(recipe.GRUB_CFG.format(root_label=recipe.ROOT_LABEL, args=recipe.KERNEL_ARGS))
    run(
        [
            program("grub-mkstandalone"),
            "-O",
            "x86_64-efi",
            "--locales=",
            "--themes=",
            "--fonts=",
            f"--install-modules={recipe.GRUB_MODULES}",
            f"--modules={recipe.GRUB_MODULES}",
            "-o",
            str(loader),
            f"boot/grub/grub.cfg={config}",
            f"vmlinuz={kernel}",
            f"initrd.img={initrd}",
        ]
    )
    return loader


def _partition(disk: Path) -> None:
    with disk.open("wb") as out:
        out.truncate(DISK_MIB * MIB)
    table = (
        "label: gpt\n"
        f"start={ESP_START_MIB * MIB // SECTOR}, size={ESP_MIB * MIB // SECTOR}, "
        f'type={_ESP_TYPE}, name="ESP", attrs="LegacyBIOSBootable"\n'
        f"start={ROOT_START_MIB * MIB // SECTOR}, size={ROOT_MIB * MIB // SECTOR}, "
        f'type={_LINUX_TYPE}, name="root"\n'
    )
    run([program("sfdisk"), "-q", str(disk)], input_text=table)
    mbr = host_file(_GPTMBR, "syslinux-common").read_bytes()[:_MBR_CODE_BYTES]
    with disk.open("r+b") as out:
        out.write(mbr)


def _esp(disk: Path, work: Path, kernel: Path, initrd: Path) -> None:
    """FAT ESP at its offset, written with mtools; SYSLINUX installed into it."""
    offset = ESP_START_MIB * MIB
    run(
        [
            program("mkfs.vfat"),
            "-F",
            "16",
            "-n",
            recipe.ESP_LABEL,
            "--offset",
            str(offset // SECTOR),
            str(disk),
            str(ESP_MIB * 1024),
        ]
    )
    run([program("syslinux"), "--offset", str(offset), "--install", str(disk)])
    syslinux_cfg = work / "syslinux.cfg"
    syslinux_cfg.write_text(
        recipe.SYSLINUX_CFG.format(root_label=recipe.ROOT_LABEL, args=recipe.KERNEL_ARGS)
    )
    esp = f"{disk}@@{offset}"
    mtools = {"MTOOLS_SKIP_CHECK": "1"}
    run([program("mmd"), "-i", esp, "::/EFI", "::/EFI/BOOT"], env=mtools)
    copies = {
        _grub_efi(work, kernel, initrd): "::/EFI/BOOT/BOOTX64.EFI",
        syslinux_cfg: "::/syslinux.cfg",
        kernel: "::/vmlinuz",
        initrd: "::/initrd.img",
    }
    for source, dest in copies.items():
        run([program("mcopy"), "-i", esp, str(source), dest], env=mtools)


def _root_fs(disk: Path, tree: Path) -> None:
    """ext4 filled from the tree at its partition's offset (mke2fs -d: no mount)."""
    run(
        [
            program("mke2fs"),
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            recipe.ROOT_LABEL,
            "-d",
            str(tree),
            "-E",
            f"offset={ROOT_START_MIB * MIB}",
            str(disk),
            f"{ROOT_MIB}M",
        ],
        timeout=600.0,
    )


def build_image(output: Path, *, workdir: Path | None = None) -> BuildReport:
    """Build the qcow2 at `output` (replaced only once complete). Needs root: mmdebstrap
    runs maintainer scripts in a chroot. Takes a few minutes and ~1 GiB of scratch."""
    if os.geteuid() != 0:
        raise OsImageError("building the image needs root (mmdebstrap runs packages' scripts)")
    started = time.monotonic()
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ironbound-osimage-", dir=workdir) as tmp:
        work = Path(tmp)
        tree = work / "root"
        _debootstrap(work, tree)
        kernel, initrd = _boot_files(tree)
        disk = work / "disk.raw"
        _partition(disk)
        _esp(disk, work, kernel, initrd)
        _root_fs(disk, tree)
        partial = output.with_name(output.name + ".partial")
        run(
            [program("qemu-img"), "convert", "-c", "-O", "qcow2", str(disk), str(partial)],
            timeout=600.0,
        )
        partial.rename(output)
        kernel_bytes, initrd_bytes = kernel.stat().st_size, initrd.stat().st_size
        shutil.rmtree(tree, ignore_errors=True)
    return BuildReport(
        image=output,
        seconds=time.monotonic() - started,
        kernel_bytes=kernel_bytes,
        initrd_bytes=initrd_bytes,
        image_bytes=output.stat().st_size,
        virtual_bytes=DISK_MIB * MIB,
    )
