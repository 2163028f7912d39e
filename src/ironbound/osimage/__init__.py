"""A Debian image that boots with its root filesystem on an iSCSI LUN (BIOS and UEFI).

`recipe` says what goes into the image (packages, configuration, the report unit),
`build` turns it into one qcow2 disk from Debian's packages with host tools only (no
loop devices, no mounts). The lab caches the result, keyed by `recipe_digest`.
"""

from ironbound.osimage.build import BuildReport, build_image, recipe_digest
from ironbound.osimage.cache import cached_image
from ironbound.osimage.errors import OsImageError

__all__ = ["BuildReport", "OsImageError", "build_image", "cached_image", "recipe_digest"]
