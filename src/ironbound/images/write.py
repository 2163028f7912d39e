"""Convert an image onto a volume with qemu-img: into a local file, or over iSCSI.

Either way qemu-img writes into the existing volume (`-n`): the volume keeps
its size, and a tgtd that has the file open keeps serving the same inode.
Over iSCSI, qemu-img's userspace initiator (libiscsi, from Debian's
qemu-block-extra) logs in as the node's own initiator with the node's CHAP
credentials; the password reaches qemu-img through a 0600 file, never its
command line. Progress comes from `qemu-img -p` and is reported every tenth.
"""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ironbound import errors
from ironbound.images.inspect import ImageFormat
from ironbound.records import ImageDestination, IscsiLun

#: Why the caller wants the write stopped now, or None to go on.
Stop = Callable[[], str | None]
_PERCENT = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


def _opt(value: str) -> str:
    """A value inside qemu's key=value,key=value syntax (commas are doubled)."""
    return value.replace(",", ",,")


def portal_for_conductor(portal: str, aliases: Sequence[str]) -> str:
    """The portal as the conductor reaches it ([image]iscsi_portal_aliases)."""
    for item in aliases:
        seen, sep, reached = item.partition("=")
        if sep and seen.strip() == portal:
            return reached.strip()
    return portal


def _iscsi_target(lun: IscsiLun, portal: str, secret_file: Path | None) -> tuple[list[str], str]:
    """qemu-img's options naming the LUN (`--target-image-opts` and any secret), and the LUN."""
    opts = [
        "driver=raw",
        "file.driver=iscsi",
        "file.transport=tcp",
        f"file.portal={_opt(portal)}",
        f"file.target={_opt(lun.iqn)}",
        f"file.lun={lun.lun}",
        f"file.initiator-name={_opt(lun.initiator_iqn)}",
    ]
    objects: list[str] = []
    if lun.username and secret_file is not None:
        opts += [f"file.user={_opt(lun.username)}", "file.password-secret=chap"]
        objects = ["--object", f"secret,id=chap,file={_opt(str(secret_file))},format=raw"]
    return [*objects, "--target-image-opts"], ",".join(opts)


#: Seconds between looks at the caller's stop while qemu-img runs.
_LOOK_EVERY = 1.0


def _run(
    argv: list[str], stall_timeout: float, report: Callable[[float], None], stop: Stop
) -> None:
    """Run qemu-img convert -p, reporting its percentage; kill it when it stalls or the
    caller stops it (looked at every second)."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        last_seen, next_report = time.monotonic(), 10.0
        next_look = last_seen + _LOOK_EVERY
        try:
            while True:
                ready = selector.select(timeout=_LOOK_EVERY)
                if time.monotonic() >= next_look:
                    next_look = time.monotonic() + _LOOK_EVERY
                    why = stop()
                    if why is not None:
                        proc.kill()
                        raise errors.ImageError(reason=f"qemu-img convert stopped: {why}")
                if not ready:
                    if time.monotonic() - last_seen > stall_timeout:
                        proc.kill()
                        raise errors.ImageError(
                            reason=f"qemu-img made no progress for {stall_timeout:g} s: stopped"
                        )
                    continue
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                last_seen = time.monotonic()
                for match in _PERCENT.finditer(chunk):
                    percent = float(match.group(1))
                    if next_report <= percent < 100:
                        report(percent)
                        next_report = (percent // 10 + 1) * 10
        finally:
            selector.close()
            stderr = proc.stderr.read().decode("utf-8", "replace").strip()
            code = proc.wait()
    if code != 0:
        raise errors.ImageError(reason=f"qemu-img convert failed: {stderr or f'exit {code}'}")


def write(
    image: Path,
    found: ImageFormat,
    dest: ImageDestination,
    *,
    fresh: bool,
    portal_aliases: Sequence[str],
    stall_timeout: float,
    workdir: Path,
    report: Callable[[float], None],
    stop: Stop,
) -> None:
    """Write `image` onto `dest`. `fresh`: the volume is known to hold only zeroes.

    :raises ImageError: the image does not fit, or qemu-img failed.
    """
    if dest.size_bytes is not None and found.virtual_size > dest.size_bytes:
        raise errors.ImageError(
            reason=f"the image's virtual size ({found.virtual_size / 2**30:.2f} GiB) is larger "
            f"than {dest.description} ({dest.size_bytes / 2**30:.2f} GiB)"
        )
    argv = ["qemu-img", "convert", "-p", "-n", "-f", found.format]
    if fresh:
        argv.append("--target-is-zero")
    if dest.path is not None:
        _run([*argv, "-O", "raw", str(image), dest.path], stall_timeout, report, stop)
        return
    lun = dest.iscsi
    if lun is None:
        raise errors.ImageError(reason=f"{dest.description} gives no way to reach it")
    portal = portal_for_conductor(lun.portal, portal_aliases)
    with tempfile.TemporaryDirectory(dir=workdir) as private:
        secret_file = None
        if lun.password is not None:
            secret_file = Path(private) / "chap"
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(lun.password.reveal())
        options, target = _iscsi_target(lun, portal, secret_file)
        _run([*argv, *options, str(image), target], stall_timeout, report, stop)
