"""Image write speed: Ironbound's write path against a plain `qemu-img convert`.

The same qcow2 image (random data, so nothing compresses or hides as zeroes)
is converted to raw on the same disk three ways, each run several times:

* floor: `qemu-img convert -f qcow2 -O raw image new-file`, what an operator
  would type;
* managed: Ironbound's path for a managed volume: fetch from the cache
  (checksum known), inspect, and `images.write` into an existing sparse volume;
* iscsi: the external/cinder path, `images.write` over qemu-img's iSCSI
  initiator into a LUN on a real tgtd on loopback, with CHAP.

    python benchmarks/image_bench.py [--size-mib 512] [--runs 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from oslo_config import cfg

from ironbound import config
from ironbound.images import fetch, inspect, source, write
from ironbound.lab.tgt import TgtServer
from ironbound.records import ImageDestination, IscsiLun
from ironbound.sensitive import Secret

INITIATOR = "iqn.2026-12.org.ironbound.bench:node"
TARGET = "iqn.2026-12.org.ironbound.bench:volume"
CHAP_USER, CHAP_PASSWORD = "bench", "Bench-Chap-Pass-1"


def make_image(folder: Path, size_mib: int) -> Path:
    raw = folder / "data.raw"
    with raw.open("wb") as out:
        for _ in range(size_mib):
            out.write(os.urandom(1 << 20))
    image = folder / "image.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(image)],
                   check=True)  # fmt: skip
    raw.unlink()
    return image


def timed(action: Callable[[], None], runs: int) -> float:
    """Median seconds over `runs`; the page cache is dropped before each where allowed."""
    seconds = []
    for _ in range(runs):
        subprocess.run(["sync"], check=True)
        started = time.monotonic()
        action()
        seconds.append(time.monotonic() - started)
    return statistics.median(seconds)


def volume_file(path: Path, size: int) -> Path:
    path.unlink(missing_ok=True)
    with path.open("wb") as out:
        out.truncate(size)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="image-bench-", dir=Path.cwd()) as tmp:
        folder = Path(tmp)
        images = folder / "images"  # the file:// folder to allow: never the state's parent
        images.mkdir()
        image = make_image(images, args.size_mib)
        checksum = hashlib.sha256(image.read_bytes()).hexdigest()
        conf: cfg.ConfigOpts = config.load(overrides={
            "state_path": str(folder / "state"),
            "conductor.file_url_allowed_paths": [str(images)],
        })  # fmt: skip
        ref = source.image_ref(
            {"image_source": f"file://{image}", "image_checksum": f"sha256:{checksum}"}, conf
        )
        fetch.fetch(ref, conf, lambda line: None)  # warm the cache, as a second deploy finds it
        found = inspect.inspect(image, None)
        size = found.virtual_size
        target = folder / "floor.raw"

        def floor() -> None:
            target.unlink(missing_ok=True)
            subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(image),
                            str(target)], check=True)  # fmt: skip

        def managed() -> None:
            volume = volume_file(folder / "managed.raw", size)
            cached = fetch.fetch(ref, conf, lambda line: None)
            seen = inspect.inspect(cached.path, None)
            write.write(cached.path, seen, ImageDestination("bench", path=str(volume),
                        size_bytes=size, blank=True), fresh=True, portal_aliases=[],
                        stall_timeout=300, workdir=folder, report=lambda p: None,
                        stop=lambda: None)  # fmt: skip

        tgt = TgtServer(folder / "tgt")
        tgt.start()
        try:
            lun_file = volume_file(folder / "lun.raw", size)
            tgt.add_target(TARGET, lun_file)
            tgt.allow_initiator(TARGET, INITIATOR)
            tgt.add_chap(TARGET, CHAP_USER, CHAP_PASSWORD)
            lun = IscsiLun(tgt.host_portals[0], TARGET, 1, INITIATOR, CHAP_USER,
                           Secret(CHAP_PASSWORD))  # fmt: skip

            def over_iscsi() -> None:
                write.write(image, found, ImageDestination("bench", iscsi=lun), fresh=False,
                            portal_aliases=[], stall_timeout=300, workdir=folder,
                            report=lambda p: None, stop=lambda: None)  # fmt: skip

            results = {
                "floor (qemu-img convert)": timed(floor, args.runs),
                "managed (Ironbound, local file)": timed(managed, args.runs),
                "iscsi (Ironbound, tgt over loopback)": timed(over_iscsi, args.runs),
            }
        finally:
            tgt.stop()
    base = results["floor (qemu-img convert)"]
    print(f"image: {args.size_mib} MiB of random data as qcow2; median of {args.runs} runs")
    for name, seconds in results.items():
        rate = args.size_mib / seconds
        print(f"  {name:38s} {seconds:6.2f} s  {rate:7.1f} MiB/s  {seconds / base:5.2f}x floor")


if __name__ == "__main__":
    main()
