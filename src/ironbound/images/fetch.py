"""Bring an image into the conductor's cache, hashing it on the way in.

The cache holds each image under its checksum (`sha256-<hex>`), written to a
temporary name and renamed only once the checksum matched, so a name in the
cache always means a verified image: a second deploy of the same image reads
it from there. Every fetch is bounded in size ([image]max_image_size_gb) and in
waiting ([image]download_timeout).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests
from oslo_config import cfg

from ironbound import config, errors
from ironbound.images.source import Checksum, ImageRef, checksum_from_file

CHUNK = 1 << 20
_CHECKSUM_FILE_LIMIT = 1 << 20
Progress = Callable[[str], None]


@dataclass(frozen=True)
class CachedImage:
    path: Path
    checksum: Checksum
    size: int
    #: False when the cache already held it.
    downloaded: bool


def cache_dir(conf: cfg.ConfigOpts) -> Path:
    """The image cache, created owner-only (images may hold an operator's secrets)."""
    path = (
        Path(conf.image.cache_dir) if conf.image.cache_dir else config.state_path(conf) / "images"
    )
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _fail(ref: ImageRef, why: str) -> errors.ImageError:
    return errors.ImageError(reason=f"could not fetch image {ref.url}: {why}")


@contextmanager
def _opened(ref: ImageRef, conf: cfg.ConfigOpts) -> Iterator[tuple[IO[bytes], int | None]]:
    """The image as a byte stream, with its length when the source says it."""
    if ref.local_path is not None:
        try:
            with ref.local_path.open("rb") as stream:
                yield stream, os.fstat(stream.fileno()).st_size
        except OSError as exc:
            raise _fail(ref, exc.strerror or str(exc)) from exc
        return
    timeout = conf.image.download_timeout
    try:
        with requests.get(ref.url, stream=True, timeout=(timeout, timeout)) as response:
            if response.status_code != 200:
                raise _fail(ref, f"the server answered {response.status_code} {response.reason}")
            length = response.headers.get("Content-Length")
            response.raw.decode_content = True
            yield response.raw, int(length) if length and length.isdigit() else None
    except requests.RequestException as exc:
        raise _fail(ref, type(exc).__name__ + (f": {exc}" if str(exc) else "")) from exc


def _expected(ref: ImageRef, conf: cfg.ConfigOpts) -> Checksum | None:
    if ref.checksum_url is None:
        return ref.checksum
    timeout = conf.image.download_timeout
    try:
        with requests.get(ref.checksum_url, timeout=(timeout, timeout), stream=True) as response:
            body = response.raw.read(_CHECKSUM_FILE_LIMIT + 1, decode_content=True)
    except requests.RequestException as exc:
        raise errors.ImageError(
            reason=f"could not fetch the checksums file {ref.checksum_url}: {exc}"
        ) from exc
    if response.status_code != 200:
        raise errors.ImageError(
            reason=f"could not fetch the checksums file {ref.checksum_url}: the server answered "
            f"{response.status_code} {response.reason}"
        )
    if len(body) > _CHECKSUM_FILE_LIMIT:
        raise errors.ImageError(reason=f"the checksums file {ref.checksum_url} is over 1 MiB")
    return checksum_from_file(body.decode("utf-8", "replace"), ref.url, conf)


def _copy(
    source: IO[bytes], length: int | None, part: Path, algorithm: str, limit: int, report: Progress
) -> tuple[str, int]:
    """Copy into `part`, hashing; report every tenth of the way (or every 256 MiB)."""
    digest = hashlib.new(algorithm)
    step = length / 10 if length else float(256 << 20)
    done, next_at, started = 0, step, time.monotonic()
    with part.open("xb") as out:
        os.fchmod(out.fileno(), 0o600)
        while chunk := source.read(CHUNK):
            done += len(chunk)
            if done > limit:
                raise errors.ImageError(
                    reason=f"the image is larger than [image]max_image_size_gb "
                    f"({limit / 2**30:g} GiB): fetch stopped"
                )
            digest.update(chunk)
            out.write(chunk)
            if done >= next_at:
                rate = done / 2**20 / max(time.monotonic() - started, 1e-3)
                of = f" of {length / 2**20:.0f} MiB" if length else ""
                report(f"fetched {done / 2**20:.0f} MiB{of} ({rate:.0f} MiB/s)")
                next_at += step
    if length is not None and done != length:
        raise errors.ImageError(reason=f"the image ended after {done} of {length} bytes")
    return digest.hexdigest(), done


def fetch(ref: ImageRef, conf: cfg.ConfigOpts, report: Progress) -> CachedImage:
    """The image, verified, in the cache.

    :raises ImageError: it could not be fetched, was too large, or its checksum differs.
    """
    expected = _expected(ref, conf)
    folder = cache_dir(conf)
    if expected is not None:
        cached = folder / f"{expected.algorithm}-{expected.value}"
        if cached.exists():
            os.utime(cached)
            report(f"image {ref.url} is in the cache (checksum {expected}): not fetched again")
            return CachedImage(cached, expected, cached.stat().st_size, downloaded=False)
    algorithm = expected.algorithm if expected else "sha256"
    part = folder / f".part-{secrets.token_hex(8)}"
    limit = int(conf.image.max_image_size_gb * 2**30)
    try:
        with _opened(ref, conf) as (stream, length):
            if length is not None and length > limit:
                raise _fail(
                    ref, f"it is {length} bytes, over [image]max_image_size_gb ({limit} bytes)"
                )
            value, size = _copy(stream, length, part, algorithm, limit, report)
        if expected is not None and value != expected.value:
            raise errors.ImageError(
                reason=f"image {ref.url} does not match its checksum: expected {expected}, "
                f"got {algorithm}:{value}"
            )
        checksum = Checksum(algorithm, value)
        final = folder / f"{algorithm}-{value}"
        part.rename(final)
    finally:
        part.unlink(missing_ok=True)
    trim(folder, conf.image.cache_max_gb * 2**30, keep=final)
    return CachedImage(final, checksum, size, downloaded=True)


def trim(folder: Path, budget: float, keep: Path) -> None:
    """Remove the least recently used images until the cache fits `budget` bytes.

    An image being written by another deploy may go: its writer holds it open,
    and the next deploy of it fetches it again.
    """
    images = sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
    )
    total = sum(p.stat().st_size for p in images)
    for path in images:
        if total <= budget:
            return
        if path != keep:
            total -= path.stat().st_size
            path.unlink(missing_ok=True)
