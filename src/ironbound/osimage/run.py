"""Run the host tools a build needs, failing with the tool's own words and the package."""

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ironbound.osimage.errors import OsImageError

# The Debian package behind each host program the build runs.
PACKAGES: dict[str, str] = {
    "mmdebstrap": "mmdebstrap",
    "mke2fs": "e2fsprogs",
    "sfdisk": "fdisk",
    "mkfs.vfat": "dosfstools",
    "mmd": "mtools",
    "mcopy": "mtools",
    "syslinux": "syslinux",
    "grub-mkstandalone": "grub-common",
    "qemu-img": "qemu-utils",
}
_SBIN = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def program(name: str) -> str:
    """The absolute path of a host program, or an error naming the package to install."""
    found = shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), *_SBIN]))
    if found is None:
        package = PACKAGES.get(name, name)
        raise OsImageError(f"{name} not found: apt-get install --no-install-recommends {package}")
    return found


def host_file(path: str, package: str) -> Path:
    """A file shipped by a Debian package on the build host, or an error naming it."""
    found = Path(path)
    if not found.exists():
        raise OsImageError(f"{path} not found: apt-get install --no-install-recommends {package}")
    return found


def run(
    argv: Sequence[str],
    *,
    timeout: float = 120.0,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run one build step and return its stdout; fail with its stderr's tail."""
    try:
        done = subprocess.run(
            list(argv),
            capture_output=True,
            text=True,
            input=input_text,
            timeout=timeout,
            check=False,
            env=None if env is None else {**os.environ, **env},
        )
    except subprocess.TimeoutExpired as exc:
        raise OsImageError(f"timed out after {timeout:.0f} s: {' '.join(argv)}") from exc
    if done.returncode != 0:
        detail = (done.stderr.strip() or done.stdout.strip())[-3000:]
        raise OsImageError(f"{' '.join(argv)} failed with status {done.returncode}:\n{detail}")
    return done.stdout
