"""The Debian image for iSCSI root (ironbound.osimage), cached in the lab's cache folder.

Building it takes minutes (mmdebstrap), so scripts/setup builds it ahead; tests then
find it under toolenv.default_cache_dir(), rebuilt only when the recipe changes.
"""

import json
import os
from pathlib import Path

from ironbound import osimage
from ironbound.lab import procs, tools
from ironbound.lab.errors import LabError


def debian_image(cache_dir: Path) -> Path:
    """The cached qcow2 for the current recipe, building it first if needed."""
    try:
        return osimage.cached_image(cache_dir)
    except osimage.OsImageError as exc:
        raise LabError(f"building the Debian iSCSI-root image failed: {exc}") from exc


def write_raw(image: Path, dest: Path) -> Path:
    """Convert the qcow2 to raw into dest in place (same inode: tgtd may hold it open).

    dest is emptied to a sparse file of the image's size first, so only data is written.
    """
    qemu_img = tools.program("qemu-img")
    info = json.loads(procs.run([qemu_img, "info", "--output=json", str(image)]))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with dest.open("ab") as out:
        out.truncate(0)
        out.truncate(int(info["virtual-size"]))
        os.fsync(out.fileno())
    procs.run(
        [
            qemu_img,
            "convert",
            "-n",  # write into the existing file: keep its inode
            "--target-is-zero",
            "-f",
            "qcow2",
            "-O",
            "raw",
            str(image),
            str(dest),
        ],
        timeout=600.0,
    )
    return dest
