"""Keep built images in a folder, one per recipe: rebuild only when the recipe changed."""

import fcntl
from pathlib import Path

from ironbound.osimage.build import build_image, recipe_digest

PREFIX = "debian-iscsi-"


def cached_image(cache_dir: Path) -> Path:
    """The image for the current recipe in cache_dir/osimage, built first if missing.

    The file name carries the recipe digest; images of older recipes are removed.
    A lock makes concurrent callers build it once.
    """
    folder = cache_dir / "osimage"
    folder.mkdir(parents=True, exist_ok=True)
    image = folder / f"{PREFIX}{recipe_digest()}.qcow2"
    with (folder / "build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not image.exists():
            build_image(image, workdir=folder)
            for stale in folder.glob(f"{PREFIX}*.qcow2*"):
                if stale != image:
                    stale.unlink()
    return image
