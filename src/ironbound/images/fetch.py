"""Bring an image into the conductor's cache, hashing it on the way in.

The cache holds each image under its checksum (`sha256-<hex>`), written to a
temporary name and renamed only once the checksum matched, so a name in the
cache always means a verified image: a second deploy of the same image reads
it from there.

Every fetch is bounded: in size ([image]max_image_size_gb, and never past the
length the server declared), in waiting for the next bytes
([image]download_timeout), and in time overall ([image]download_total_timeout),
which a server sending a byte now and then cannot stretch. The bytes stored are
the bytes served: the request asks for them as stored (`Accept-Encoding:
identity`) and an answer with any other Content-Encoding is refused, never
decoded, so a small body cannot turn into a large file. A caller may call a
fetch off (`stop`, e.g. an abort): it ends within a fraction of a second, even
mid-read. The progress record gets at most about ten lines a fetch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http
import http.client
import logging
import os
import secrets
import shutil
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urljoin, urlsplit

from oslo_config import cfg

from ironbound import config, errors
from ironbound.images.source import Checksum, ImageRef, checksum_from_file, open_local

LOG = logging.getLogger(__name__)
CHUNK = 1 << 20
#: The one reason for every connection failure (refused, reset, timed out, unknown host,
#: not HTTP): a caller must not tell what listens on a port from it (the log says).
_UNREACHED = "the server could not be reached or did not answer over HTTP"
_CHECKSUM_FILE_LIMIT = 1 << 20
_REDIRECTS = 5
#: How often a running fetch looks at its deadline and at its caller's stop (seconds).
_LOOK_EVERY = 0.2
_PART_PREFIX = ".part-"
#: A partial file younger than this is left alone even if unlocked: its fetch may be
#: between creating it and locking it.
_PART_GRACE = 60.0
Progress = Callable[[str], None]
#: Why the caller wants a fetch stopped now, or None to go on; asked every _LOOK_EVERY s.
Stop = Callable[[], str | None]
Read = Callable[[int], bytes]


@dataclass(frozen=True)
class CachedImage:
    path: Path
    checksum: Checksum
    size: int
    #: False when the cache already held it.
    downloaded: bool


def cache_dir(conf: cfg.ConfigOpts) -> Path:
    """The image cache, created owner-only (images may hold an operator's secrets)."""
    path = config.image_cache_dir(conf)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _never() -> str | None:
    return None


def _fail(url: str, why: str, what: str = "image") -> errors.ImageError:
    return errors.ImageError(reason=f"could not fetch {what} {url}: {why}")


class _Guard:
    """Ends a fetch that passed its deadline or that its caller stopped, even one blocked
    in a read: a thread looks every _LOOK_EVERY s and shuts the connection down, which
    ends the read at once (a per-read timeout cannot: each byte restarts it)."""

    def __init__(self, url: str, total: float, stop: Stop) -> None:
        self._url = url
        self._total = total
        self._deadline = time.monotonic() + total
        self._stop = stop
        self.why: str | None = None
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ironbound-fetch", daemon=True)

    def __enter__(self) -> _Guard:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _reason(self) -> str | None:
        if time.monotonic() >= self._deadline:
            return f"it took longer than [image]download_total_timeout ({self._total:g} s)"
        return self._stop()

    def _watch(self) -> None:
        while not self._done.wait(_LOOK_EVERY):
            why = self._reason()
            if why is not None:
                with self._lock:
                    self.why = why
                    self._interrupt()
                return

    def _interrupt(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):  # already closed: nothing left to interrupt
                self._socket.shutdown(socket.SHUT_RDWR)

    def attach(self, sock: socket.socket | None) -> None:
        """The connection to shut down when the fetch must end (now, if it already must)."""
        with self._lock:
            self._socket = sock
            if self.why is not None:
                self._interrupt()

    def check(self) -> None:
        """:raises ImageError: the fetch must end (also past the deadline between looks)."""
        if self.why is None and time.monotonic() >= self._deadline:
            self.why = self._reason()
        if self.why is not None:
            raise _fail(self._url, self.why)


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        context = ssl.create_default_context()
        return http.client.HTTPSConnection(parts.netloc, timeout=timeout, context=context)
    if parts.scheme == "http":
        return http.client.HTTPConnection(parts.netloc, timeout=timeout)
    raise errors.ImageError(reason=f"a redirect to {url}, which is not an http(s) URL")


@contextlib.contextmanager
def _get(
    url: str, timeout: float, guard: _Guard, what: str = "image"
) -> Iterator[http.client.HTTPResponse]:
    """The answer to a GET of `url` (redirects followed), its body the bytes as stored.

    :raises ImageError: not a 200, a Content-Encoding, or the connection failed.
    """
    asked = url
    try:
        for _ in range(_REDIRECTS + 1):
            conn = _connection(url, timeout)
            try:
                conn.connect()
                guard.attach(conn.sock)
                parts = urlsplit(url)
                path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
                conn.request("GET", path, headers={"Accept-Encoding": "identity"})
                response = conn.getresponse()
                location = response.getheader("Location")
                if response.status in (301, 302, 303, 307, 308) and location:
                    url = urljoin(url, location)
                    continue
                problem = _problem(response)
                if problem is not None:
                    raise _fail(asked, problem, what)
                yield response
                return
            finally:
                conn.close()
    except (OSError, http.client.HTTPException) as exc:
        guard.check()  # a shut-down connection: the deadline or the stop is the reason
        # An OSError's text is the system's; an HTTPException's quotes the server: not logged.
        detail = f": {exc}" if isinstance(exc, OSError) else ""
        LOG.warning("Fetching %s failed: %s%s", asked, type(exc).__name__, detail)
        raise _fail(asked, _UNREACHED, what) from exc
    raise _fail(asked, f"more than {_REDIRECTS} redirects", what)


def _problem(response: http.client.HTTPResponse) -> str | None:
    """What makes the answer unusable: not a 200, or a body that is not the bytes as stored."""
    if response.status != 200:
        # The status's standard phrase, never the server's own words.
        known = {status.value: status.phrase for status in http.HTTPStatus}
        phrase = f" {known[response.status]}" if response.status in known else ""
        return f"the server answered {response.status}{phrase}"
    encoding = (response.getheader("Content-Encoding") or "identity").strip().lower()
    if encoding != "identity":
        return (
            f"the server sent it with Content-Encoding {encoding}, which Ironbound never "
            "decodes (the bytes stored are the bytes served): serve the image as it is, with "
            "no Content-Encoding"
        )
    return None


@contextlib.contextmanager
def _opened(
    ref: ImageRef, conf: cfg.ConfigOpts, guard: _Guard
) -> Iterator[tuple[Read, int | None]]:
    """The image's reader, with its length when the source says it."""
    if ref.local_path is not None:
        try:
            with open_local(ref.local_path, ref.url, conf) as stream:
                yield stream.read, os.fstat(stream.fileno()).st_size
        except OSError as exc:
            raise _fail(ref.url, exc.strerror or str(exc)) from exc
        return
    with _get(ref.url, conf.image.download_timeout, guard) as response:
        yield response.read, response.length


def _expected(ref: ImageRef, conf: cfg.ConfigOpts, guard: _Guard) -> Checksum | None:
    if ref.checksum_url is None:
        return ref.checksum
    timeout = conf.image.download_timeout
    with _get(ref.checksum_url, timeout, guard, "the checksums file") as response:
        body = response.read(_CHECKSUM_FILE_LIMIT + 1)
    if len(body) > _CHECKSUM_FILE_LIMIT:
        raise errors.ImageError(reason=f"the checksums file {ref.checksum_url} is over 1 MiB")
    return checksum_from_file(body.decode("utf-8", "replace"), ref.url, conf, ref.checksum_url)


def _ensure_room(folder: Path, coming: int, reserve: int) -> None:
    """:raises ImageError: `coming` more bytes would leave less than `reserve` bytes free."""
    free = shutil.disk_usage(folder).free
    if free - coming < reserve:
        more = f"; {coming / 2**30:.2f} GiB more" if coming else ""
        raise errors.ImageError(
            reason=f"the image cache's file system has {free / 2**30:.2f} GiB free{more} "
            f"would leave less than [image]cache_min_free_gb ({reserve / 2**30:g} GiB): "
            "fetch stopped"
        )


@dataclass(frozen=True)
class _Part:
    """Where a fetch writes, and what bounds it: `limit` bytes at most, `reserve` bytes
    left free on the cache's file system."""

    path: Path
    algorithm: str
    limit: int
    reserve: int


@contextlib.contextmanager
def _created_locked(path: Path) -> Iterator[IO[bytes]]:
    """A new owner-only file, locked while it is written: the lock tells `remove_stale_parts`
    that a fetch is writing it (a crashed process holds no lock)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        fcntl.flock(out.fileno(), fcntl.LOCK_EX)
        yield out


def remove_stale_parts(folder: Path) -> None:
    """Remove partial downloads that no fetch is writing: those a crashed or killed
    conductor left. One a fetch holds (its lock) is never touched."""
    for path in folder.glob(f"{_PART_PREFIX}*"):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue  # its fetch finished meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if time.time() - os.fstat(fd).st_mtime > _PART_GRACE:
                path.unlink(missing_ok=True)
        except BlockingIOError:
            continue  # a running fetch writes it
        finally:
            os.close(fd)


def _copy(
    read: Read, length: int | None, part: _Part, guard: _Guard, report: Progress
) -> tuple[str, int]:
    """Copy into `part`, hashing, while the disk keeps its reserve; report every tenth of
    the way (or every 256 MiB)."""
    digest = hashlib.new(part.algorithm)
    step = length / 10 if length else float(256 << 20)
    done, next_at, started = 0, step, time.monotonic()
    limit = part.limit
    bound = limit if length is None else min(limit, length)
    with _created_locked(part.path) as out:
        while chunk := read(min(CHUNK, bound + 1 - done)):
            guard.check()
            done += len(chunk)
            if done > bound:
                raise errors.ImageError(reason=_too_large(length, limit))
            coming = len(chunk) + (length - done if length else 0)
            _ensure_room(part.path.parent, coming, part.reserve)
            digest.update(chunk)
            out.write(chunk)
            if done >= next_at:
                rate = done / 2**20 / max(time.monotonic() - started, 1e-3)
                of = f" of {length / 2**20:.0f} MiB" if length else ""
                report(f"fetched {done / 2**20:.0f} MiB{of} ({rate:.0f} MiB/s)")
                next_at = (done // step + 1) * step
    guard.check()
    if length is not None and done != length:
        raise errors.ImageError(reason=f"the image ended after {done} of {length} bytes")
    return digest.hexdigest(), done


def _too_large(length: int | None, limit: int) -> str:
    if length is not None and length < limit:
        return f"the source sent more than the {length} bytes it declared: fetch stopped"
    return (
        f"the image is larger than [image]max_image_size_gb ({limit / 2**30:g} GiB): fetch stopped"
    )


def fetch(
    ref: ImageRef, conf: cfg.ConfigOpts, report: Progress, stop: Stop = _never
) -> CachedImage:
    """The image, verified, in the cache.

    :raises ImageError: it could not be fetched, was too large, took too long, was
        stopped, or its checksum differs.
    """
    with _Guard(ref.url, conf.image.download_total_timeout, stop) as guard:
        return _fetch(ref, conf, report, guard)


def _fetch(ref: ImageRef, conf: cfg.ConfigOpts, report: Progress, guard: _Guard) -> CachedImage:
    expected = _expected(ref, conf, guard)
    folder = cache_dir(conf)
    if expected is not None:
        cached = folder / f"{expected.algorithm}-{expected.value}"
        if cached.exists():
            os.utime(cached)
            report(f"image {ref.url} is in the cache (checksum {expected}): not fetched again")
            return CachedImage(cached, expected, cached.stat().st_size, downloaded=False)
    algorithm = expected.algorithm if expected else "sha256"
    limit = int(conf.image.max_image_size_gb * 2**30)
    remove_stale_parts(folder)  # before the free space is looked at
    part = _Part(
        folder / f"{_PART_PREFIX}{secrets.token_hex(8)}",
        algorithm,
        limit,
        int(conf.image.cache_min_free_gb * 2**30),
    )
    try:
        with _opened(ref, conf, guard) as (read, length):
            if length is not None and length > limit:
                raise _fail(
                    ref.url, f"it is {length} bytes, over [image]max_image_size_gb ({limit} bytes)"
                )
            _ensure_room(folder, length or 0, part.reserve)
            value, size = _copy(read, length, part, guard, report)
        if expected is not None and value != expected.value:
            # What it hashed to stays in the log: told to a caller, it would be the
            # checksum that makes a second deploy copy the URL's answer onto a volume.
            LOG.warning("Image %s hashed to %s:%s, not %s", ref.url, algorithm, value, expected)
            raise errors.ImageError(
                reason=f"image {ref.url} does not match its checksum: expected {expected}"
            )
        checksum = Checksum(algorithm, value)
        final = folder / f"{algorithm}-{value}"
        part.path.rename(final)
    finally:
        part.path.unlink(missing_ok=True)
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
