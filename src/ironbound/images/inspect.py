"""Check an image before qemu-img converts it: a known format, nothing it would read besides.

A qcow2 file may name a backing file or an external data file, which qemu-img
would open on the conductor's host and copy onto the node's volume: a way to
read the conductor's files out through a deploy. Only raw and stand-alone
qcow2 images are written, and the format found must be the one declared
(instance_info/image_disk_format), when one is.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ironbound import errors

FORMATS = ("raw", "qcow2")
_INFO_TIMEOUT = 120.0


@dataclass(frozen=True)
class ImageFormat:
    format: str
    virtual_size: int


def _info(path: Path) -> dict[str, Any]:
    try:
        done = subprocess.run(
            ["qemu-img", "info", "--output=json", str(path)],
            capture_output=True,
            text=True,
            timeout=_INFO_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise errors.ImageError(reason=f"qemu-img info could not read the image: {exc}") from exc
    if done.returncode != 0:
        raise errors.ImageError(
            reason=f"the image is not a disk image qemu-img can read: {done.stderr.strip()}"
        )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def inspect(path: Path, declared: str | None) -> ImageFormat:
    """The image's format and virtual size.

    :raises ImageError: an unsupported format, one other than declared, or a
        qcow2 that refers to other files.
    """
    info = _info(path)
    found = str(info.get("format"))
    if found not in FORMATS:
        raise errors.ImageError(
            reason=f"the image is {found}; Ironbound writes {' and '.join(FORMATS)} images"
        )
    if declared and declared.lower() != found:
        raise errors.ImageError(
            reason=f"instance_info/image_disk_format says {declared}, but the image is {found}"
        )
    data = info.get("format-specific", {}).get("data", {})
    if "backing-filename" in info or "full-backing-filename" in info:
        raise errors.ImageError(
            reason="the image names a backing file; only stand-alone images are written"
        )
    if isinstance(data, dict) and data.get("data-file"):
        raise errors.ImageError(
            reason="the image names an external data file; only stand-alone images are written"
        )
    return ImageFormat(found, int(info["virtual-size"]))
