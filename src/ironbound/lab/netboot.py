"""A kernel and a tiny initramfs for nodes that boot over HTTP (the ramdisk deploy).

The kernel is Debian's (the package `linux-image-amd64` depends on), downloaded
once with `apt-get download` into the lab cache. The initramfs is built at test
time from busybox-static: its /init reports the iSCSI targets the iBFT that iPXE
handed over describes, prints a marker and powers the machine off. No module
is needed for the ACPI table; on BIOS, iPXE leaves the iBFT in base memory,
where only the kernel's iscsi_ibft module (shipped in the initramfs) reads it.

When the kernel command line names a NoCloud seed (`ds=nocloud-net;s=<url>`, as a
ramdisk deploy with a config drive has it), /init also brings up the lab's NIC
(e1000, its module shipped too) with DHCP, fetches `meta-data` and `user-data`
as cloud-init would, and prints the host name and each line of the user data.
"""

import fcntl
import fnmatch
import gzip
import io
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ironbound.lab import images, procs, tools
from ironbound.lab.errors import LabError

#: Modules /init loads, in order, to read an iBFT that is not an ACPI table.
IBFT_MODULES = ("iscsi_boot_sysfs", "iscsi_ibft")
#: The driver of the lab machines' NIC (libvirt model e1000), for the NoCloud fetch.
NIC_MODULES = ("e1000",)
_MODULE_PATHS = {
    "iscsi_boot_sysfs": "kernel/drivers/scsi/iscsi_boot_sysfs.ko",
    "iscsi_ibft": "kernel/drivers/firmware/iscsi_ibft.ko",
    "e1000": "kernel/drivers/net/ethernet/intel/e1000/e1000.ko",
}
IBFT_TARGET = "IBFT-TARGET="
#: What /init prints before the seed's local-hostname, and before each user-data line.
SEED_HOSTNAME = "NOCLOUD-HOSTNAME="
SEED_USER_DATA = "NOCLOUD-USER-DATA: "
SEED_FAILED = "NOCLOUD-SEED-UNREADABLE"

# udhcpc's script: configure the address it leased (the seed is on the lab's subnet).
_LEASE = """\
#!/bin/busybox sh
[ "$1" = bound ] && ifconfig "$interface" "$ip" netmask "$subnet" up
exit 0
"""

_INIT = """\
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo IRONBOUND-RAMDISK-UP
acpi=/sys/firmware/acpi/tables/iBFT
if [ -e $acpi ]; then
  for iqn in $(strings $acpi | grep '^iqn\\.'); do echo "{prefix}$iqn"; done
fi
for module in {modules}; do insmod /modules/$module.ko 2>/dev/null; done
for name in /sys/firmware/ibft/target*/target-name; do
  [ -e "$name" ] && echo "{prefix}$(cat $name)"
done
seed=$(sed -n 's/.*ds=nocloud-net;s=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
if [ -n "$seed" ]; then
  for module in {nic_modules}; do insmod /modules/$module.ko 2>/dev/null; done
  ip link set eth0 up
  udhcpc -q -n -t 20 -i eth0 -s /bin/lease >/dev/null 2>&1
  if wget -q -O /meta-data "$seed"meta-data && wget -q -O /user-data "$seed"user-data; then
    echo "{hostname}$(sed -n 's/.*"local-hostname": *"\\([^"]*\\)".*/\\1/p' /meta-data)"
    sed 's/^/{user_data}/' /user-data
  else
    echo {seed_failed}
  fi
fi
echo {marker}
poweroff -f
sleep 3600
"""


@dataclass(frozen=True)
class Kernel:
    vmlinuz: Path
    modules: dict[str, Path]


def _package() -> str:
    """The versioned package linux-image-amd64 depends on (linux-image-6.1.0-57-amd64)."""
    out = procs.run([tools.program("apt-cache"), "depends", "linux-image-amd64"])
    for line in out.splitlines():
        name = line.strip().removeprefix("Depends:").strip()
        if line.strip().startswith("Depends:") and name.startswith("linux-image-"):
            return name
    raise LabError(f"apt-cache depends linux-image-amd64 names no kernel package:\n{out}")


def _download(package: str, dest: Path) -> None:
    done = subprocess.run(
        [tools.program("apt-get"), "download", "-q", package],
        cwd=dest,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise LabError(f"apt-get download {package} failed:\n{done.stderr}")


def _extract(deb: Path, dest: Path) -> None:
    """vmlinuz and the iBFT modules from the package, without unpacking all its modules."""
    paths = {f"/lib/modules/*/{p}": f"{m}.ko" for m, p in _MODULE_PATHS.items()}
    wanted = {"vmlinuz", *paths.values()}
    with subprocess.Popen(
        [tools.program("dpkg-deb"), "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = "/" + member.name.removeprefix("./")
                short = "vmlinuz" if fnmatch.fnmatch(name, "/boot/vmlinuz-*") else None
                short = short or next(
                    (v for k, v in paths.items() if fnmatch.fnmatch(name, k)), None
                )
                source = tar.extractfile(member) if short and member.isfile() else None
                if short and source is not None:
                    (dest / short).write_bytes(source.read())
    if proc.returncode != 0:
        raise LabError(f"dpkg-deb --fsys-tarfile {deb} exited {proc.returncode}")
    missing = wanted - {p.name for p in dest.iterdir()}
    if missing:
        raise LabError(f"{deb.name} lacks {sorted(missing)}")


def debian_kernel(cache_dir: Path) -> Kernel:
    """Debian's kernel and the iBFT modules, downloaded once into the cache (about 70 MB)."""
    folder = cache_dir / "debian-kernel"
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / "debian-kernel.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two labs starting at once download it only once
        wanted = ["vmlinuz", *(f"{m}.ko" for m in _MODULE_PATHS)]
        if not all((folder / name).exists() for name in wanted):
            package = _package()
            with tempfile.TemporaryDirectory(dir=cache_dir) as tmp:
                _download(package, Path(tmp))
                deb = next(Path(tmp).glob("*.deb"))
                staging = Path(tmp) / "files"
                staging.mkdir()
                _extract(deb, staging)
                # File by file, each by a rename: a lab reading an older cache keeps its files.
                folder.mkdir(exist_ok=True)
                for name in wanted:
                    (staging / name).replace(folder / name)
    modules = {m: folder / f"{m}.ko" for m in _MODULE_PATHS}
    return Kernel(vmlinuz=folder / "vmlinuz", modules=modules)


def _cpio_entry(
    name: str, mode: int, data: bytes, ino: int, rdev: tuple[int, int] = (0, 0)
) -> bytes:
    """One entry of a newc cpio archive (the format the kernel unpacks)."""
    encoded = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, *rdev, len(encoded), 0]
    header = b"070701" + b"".join(f"{f:08x}".encode() for f in fields)
    out = header + encoded
    out += b"\0" * (-len(out) % 4) + data
    return out + b"\0" * (-len(out) % 4)


def build_ibft_initramfs(path: Path, marker: str, kernel: Kernel) -> Path:
    """A gzipped cpio whose /init prints IBFT-TARGET=<iqn> for each iBFT target, then marker."""
    images.check_marker(marker)
    init = _INIT.format(
        prefix=IBFT_TARGET,
        modules=" ".join(IBFT_MODULES),
        nic_modules=" ".join(NIC_MODULES),
        hostname=SEED_HOSTNAME,
        user_data=SEED_USER_DATA,
        seed_failed=SEED_FAILED,
        marker=marker,
    )
    files: list[tuple[str, int, bytes]] = [
        (folder, 0o040755, b"") for folder in ("bin", "proc", "sys", "dev", "modules")
    ]
    files += [
        ("init", 0o100755, init.encode()),
        ("bin/busybox", 0o100755, tools.file("/bin/busybox").read_bytes()),
        ("bin/lease", 0o100755, _LEASE.encode()),
    ]
    files += [
        (f"modules/{m}.ko", 0o100644, path.read_bytes()) for m, path in kernel.modules.items()
    ]
    archive = io.BytesIO()
    for ino, (name, mode, data) in enumerate(files, start=1):
        archive.write(_cpio_entry(name, mode, data, ino))
    # The console /init writes to (the kernel opens it before running /init).
    archive.write(_cpio_entry("dev/console", 0o020600, b"", len(files) + 1, rdev=(5, 1)))
    archive.write(_cpio_entry("TRAILER!!!", 0, b"", 0))
    path.write_bytes(gzip.compress(archive.getvalue(), compresslevel=6))
    return path
