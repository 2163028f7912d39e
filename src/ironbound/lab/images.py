"""Build tiny bootable volume images at test time, with no loop devices and no mounts.

Every builder writes the destination in place (same inode): tgtd keeps a LUN's backing
file open, so replacing the file would leave the LUN serving the old, deleted one.
"""

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ironbound.lab import procs, tools
from ironbound.lab.errors import LabError

MIB = 1024 * 1024
SECTOR = 512
FALLBACK_LOADER = r"\EFI\BOOT\BOOTX64.EFI"
_ESP_TYPE = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
_ESP_START_SECTOR = 2048
# Printable ASCII that is safe inside nasm data, a GRUB single-quoted echo and a regex hunt.
_MARKER = re.compile(r"[A-Za-z0-9 _.,:;=+/@#%()<>!?*-]{1,120}")
_EFI_PATH = re.compile(r"[\\/]EFI(?:[\\/][A-Za-z0-9_-]{1,32})+\.EFI", re.IGNORECASE)
_CHUNK = MIB

# A 512-byte MBR: prints the marker line on COM1, then the boot drive (DL) and the BIOS
# disk count, and on a line of its own the text in sector 0 of drive 0x81 when that drive
# exists, then halts. That line starts only once the read returned: iPXE may write to the
# console while it serves the read, and its output must not land inside a line.
# The UART needs no setup: QEMU's 16550 ignores the divisor, and firmware left it usable.
_MBR_ASM = """\
BITS 16
ORG 0x7C00
start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7C00
    sti
    mov [drive], dl
    mov si, marker
    call puts
    mov si, dl_text
    call puts
    mov al, [drive]
    call puthex
    mov si, count_text
    call puts
    mov al, [0x0475]
    call puthex
    mov si, crlf
    call puts
    cmp byte [0x0475], 2
    jb .absent
    mov ax, 0x0201
    mov cx, 0x0001
    mov dx, 0x0081
    mov bx, 0x7E00
    int 0x13
    jc .absent
    mov si, d81_text
    call puts
    mov si, 0x7E00
    mov cx, 64
.text:
    lodsb
    cmp al, 0x20
    jb .eol
    cmp al, 0x7E
    ja .eol
    call putc
    loop .text
    jmp .eol
.absent:
    mov si, d81_text
    call puts
    mov si, absent_text
    call puts
.eol:
    mov si, crlf
    call puts
.halt:
    cli
    hlt
    jmp .halt
puts:
    lodsb
    test al, al
    jz .done
    call putc
    jmp puts
.done:
    ret
puthex:
    push ax
    shr al, 4
    call nibble
    pop ax
    and al, 0x0F
nibble:
    add al, '0'
    cmp al, '9'
    jbe putc
    add al, 7
putc:
    push dx
    push ax
    mov dx, 0x3FD
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop ax
    mov dx, 0x3F8
    out dx, al
    pop dx
    ret
drive: db 0
marker: db 13, 10, {marker}, 13, 10, 0
dl_text: db "BIOS-DRIVE DL=0x", 0
count_text: db " DISKS=0x", 0
d81_text: db "BIOS-DRIVE81=", 0
absent_text: db "absent", 0
crlf: db 13, 10, 0
times 510-($-$$) db 0
dw 0xAA55
"""


def check_marker(marker: str) -> str:
    """Markers end up in assembler, GRUB script and regexes: keep them plain."""
    if not _MARKER.fullmatch(marker):
        raise LabError(f"marker {marker!r} must be 1-120 characters of {_MARKER.pattern}")
    return marker


def _write_in_place(dest: Path, pieces: Iterator[tuple[int, bytes]], size: int) -> None:
    """Make dest hold exactly the pieces (zeros elsewhere), keeping its inode, sparse."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("r+b" if dest.exists() else "wb") as out:
        out.truncate(0)
        for offset, data in pieces:
            out.seek(offset)
            out.write(data)
        out.truncate(size)
        out.flush()
        os.fsync(out.fileno())


def _nonzero_chunks(source: Path) -> Iterator[tuple[int, bytes]]:
    zero = bytes(_CHUNK)
    with source.open("rb") as src:
        offset = 0
        while chunk := src.read(_CHUNK):
            if chunk != zero[: len(chunk)]:
                yield offset, chunk
            offset += len(chunk)


def assemble_mbr(marker: str) -> bytes:
    """The 512-byte boot sector that prints the marker (see _MBR_ASM)."""
    data = ", ".join(str(byte) for byte in check_marker(marker).encode())
    nasm = tools.program("nasm")
    with tempfile.TemporaryDirectory(prefix="ironbound-mbr-") as tmp:
        source, binary = Path(tmp, "mbr.asm"), Path(tmp, "mbr.bin")
        source.write_text(_MBR_ASM.replace("{marker}", data))
        procs.run([nasm, "-f", "bin", "-o", str(binary), str(source)])
        code = binary.read_bytes()
    if len(code) != SECTOR:
        raise LabError(f"boot sector for marker {marker!r} is {len(code)} bytes, not 512")
    return code


def build_bios_disk(path: Path, marker: str, *, size_mib: int = 8) -> Path:
    """A BIOS boot disk: only an MBR that prints the marker on COM1 and halts."""
    mbr = assemble_mbr(marker)
    _write_in_place(path, iter([(0, mbr)]), size_mib * MIB)
    return path


def build_data_disk(path: Path, marker: str, *, size_mib: int = 8) -> Path:
    """A data disk whose sector 0 holds the marker text (the BIOS MBR prints it for 0x81)."""
    _write_in_place(path, iter([(0, check_marker(marker).encode())]), size_mib * MIB)
    return path


def _grub_loader(marker: str, dest: Path) -> None:
    """A standalone GRUB EFI binary whose embedded config echoes the marker.

    Only the modules needed to run the config are put in: every byte is read through
    iPXE's EFI SAN block device, which is slow under TCG.
    """
    cfg = dest.with_suffix(".cfg")
    cfg.write_text(f"echo '{check_marker(marker)}'\n")
    tools.file("/usr/lib/grub/x86_64-efi")
    procs.run(
        [
            tools.program("grub-mkstandalone"),
            "-O",
            "x86_64-efi",
            "--locales=",
            "--themes=",
            "--fonts=",
            "--install-modules=normal echo",
            "-o",
            str(dest),
            f"boot/grub/grub.cfg={cfg}",
        ]
    )


def _mtools_path(efi_path: str) -> str:
    if not _EFI_PATH.fullmatch(efi_path):
        raise LabError(rf"EFI path {efi_path!r} must look like \EFI\DIR\NAME.EFI")
    return "::" + efi_path.replace("\\", "/")


def _esp_sectors(image: Path) -> int:
    table = json.loads(procs.run([tools.program("sfdisk"), "--json", str(image)]))
    sectors: int = table["partitiontable"]["partitions"][0]["size"]
    return sectors


def build_uefi_disk(
    path: Path,
    marker: str,
    *,
    fallback: bool = True,
    alt_path: str | None = None,
    alt_marker: str | None = None,
    size_mib: int = 64,
) -> Path:
    """A GPT disk with one ESP holding GRUB loaders that echo markers.

    With fallback, \\EFI\\BOOT\\BOOTX64.EFI echoes marker; alt_path (for
    `sanboot --filename`) echoes alt_marker, or marker when none is given.
    """
    if not fallback and alt_path is None:
        raise LabError("a UEFI disk needs the fallback loader, an alt_path, or both")
    loaders = {FALLBACK_LOADER: marker} if fallback else {}
    if alt_path is not None:
        loaders[alt_path] = alt_marker or marker
    with tempfile.TemporaryDirectory(prefix="ironbound-esp-") as tmp:
        image = Path(tmp, "disk.img")
        with image.open("wb") as out:
            out.truncate(size_mib * MIB)
        procs.run(
            [tools.program("sfdisk"), "-q", str(image)],
            input_text=f'label: gpt\nstart={_ESP_START_SECTOR}, type={_ESP_TYPE}, name="ESP"\n',
        )
        procs.run(
            [
                tools.program("mkfs.vfat"),
                "-F",
                "16",
                "-n",
                "ESP",
                "--offset",
                str(_ESP_START_SECTOR),
                str(image),
                str(_esp_sectors(image) // 2),
            ]
        )
        esp = f"{image}@@{_ESP_START_SECTOR * SECTOR}"
        env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
        made: set[str] = set()
        for index, (efi_path, text) in enumerate(loaders.items()):
            target = _mtools_path(efi_path)
            parts = target[2:].strip("/").split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "::/" + "/".join(parts[:depth])
                if folder.upper() not in made:
                    procs.run([tools.program("mmd"), "-i", esp, folder], env=env)
                    made.add(folder.upper())
            loader = Path(tmp, f"loader{index}.efi")
            _grub_loader(text, loader)
            procs.run([tools.program("mcopy"), "-i", esp, str(loader), target], env=env)
        _write_in_place(path, _nonzero_chunks(image), size_mib * MIB)
    return path
