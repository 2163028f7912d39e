"""The deploy step that writes instance_info/image_source onto the node's boot volume.

Ironic cannot do this for a boot-from-volume node: the operator must fill the
volume beforehand. Here the storage interface says where the volume is
(`image_destination`: a file Ironbound stores itself, or a LUN on someone
else's SAN), the image is fetched and verified into the conductor's cache,
checked for a safe format, and converted onto the volume, with progress in
the node's events. The storage interface remembers which image the volume
holds, so a kept volume is not written again unless the image changed or the
deploy is a rebuild; while a write is under way the volume is marked as
holding nothing good.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ironbound import errors
from ironbound.drivers import base
from ironbound.images import fetch, inspect, source, write


def check(task: base.Task) -> None:
    """What validate can know: the image's URL and checksum keys make sense.

    :raises InvalidParameterValue, MissingParameterValue: naming the node.
    """
    try:
        source.image_ref(task.node.instance_info, task.conf)
    except (errors.InvalidParameterValue, errors.MissingParameterValue) as exc:
        raise type(exc)(
            reason=f"Node {task.node.uuid} cannot have its image written: {exc.message}."
        ) from exc


def _stop(task: base.Task) -> Callable[[], str | None]:
    """Why the fetch or the write must stop now: the operator aborted the deploy."""
    return lambda: base.ABORTED if task.abort_requested() else None


def write_boot_image(task: base.Task) -> None:
    """Fetch, verify, inspect and write the image; skip a volume that already holds it."""
    ref = source.image_ref(task.node.instance_info, task.conf)
    storage = task.driver.storage
    dest = storage.image_destination(task)

    def holds(checksum: source.Checksum | None) -> bool:
        if checksum is None or dest.current_image != str(checksum) or task.rebuilding:
            return False
        task.record(
            f"{dest.description} already holds image {ref.url} ({checksum}): not written "
            "again (a rebuild would)",
            event_type="image",
        )
        return True

    if holds(ref.checksum):
        return
    cached = fetch.fetch(
        ref, task.conf, lambda line: task.record(line, event_type="image"), stop=_stop(task)
    )
    if holds(cached.checksum):
        return
    found = inspect.inspect(cached.path, task.node.instance_info.get("image_disk_format"))
    storage.image_written(task, None)
    task.record(
        f"writing {found.format} image ({found.virtual_size / 2**20:.0f} MiB virtual) onto "
        f"{dest.description}",
        event_type="image",
    )
    started = time.monotonic()
    write.write(
        cached.path,
        found,
        dest,
        fresh=dest.blank,
        portal_aliases=task.conf.image.iscsi_portal_aliases,
        stall_timeout=task.conf.image.write_stall_timeout,
        workdir=fetch.cache_dir(task.conf),
        report=lambda percent: task.record(f"image write {percent:.0f}% done", event_type="image"),
        stop=_stop(task),
    )
    elapsed = time.monotonic() - started
    storage.image_written(task, str(cached.checksum))
    task.record(
        f"image written onto {dest.description}: {found.virtual_size / 2**20:.0f} MiB in "
        f"{elapsed:.1f} s ({found.virtual_size / 2**20 / max(elapsed, 1e-3):.0f} MiB/s)",
        event_type="image",
    )
