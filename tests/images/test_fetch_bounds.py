"""What bounds a fetch, against image servers that misbehave: an overall deadline, the
bytes as served (never decoded), the cache's free space, a bounded progress record, and
partial files that a crash left behind."""

from __future__ import annotations

import fcntl
import gzip
import hashlib
import os
import shutil
import time

import pytest
from oslo_config import cfg

from ironbound import errors
from ironbound.images import fetch, source
from tests.images.servers import dripping, misbehaving, sending, streaming

pytestmark = pytest.mark.timeout(60)


def _fetch(conf: cfg.ConfigOpts, url: str, checksum: str, lines: list[str]) -> fetch.CachedImage:
    ref = source.image_ref({"image_source": url, "image_checksum": checksum}, conf)
    return fetch.fetch(ref, conf, lines.append)


def _left_in_cache(conf: cfg.ConfigOpts) -> list[str]:
    return sorted(p.name for p in fetch.cache_dir(conf).iterdir())


def test_a_dripping_server_meets_the_overall_deadline(conf: cfg.ConfigOpts) -> None:
    conf.set_override("download_total_timeout", 1.5, group="image")
    started = time.monotonic()
    with (
        misbehaving(dripping(every=0.1)) as base,
        pytest.raises(errors.ImageError, match=r"download_total_timeout \(1.5 s\)"),
    ):
        _fetch(conf, f"{base}/slow.raw", "1" * 64, [])
    assert time.monotonic() - started < 5
    assert _left_in_cache(conf) == []


def test_a_content_encoded_body_is_refused_not_decoded(conf: cfg.ConfigOpts) -> None:
    body = gzip.compress(b"\0" * (64 << 20))  # about 65 KB on the wire
    seen: list[dict[str, str]] = []
    lines: list[str] = []
    with (
        misbehaving(sending(body, {"Content-Encoding": "gzip"}, seen)) as base,
        pytest.raises(errors.ImageError, match="Content-Encoding gzip"),
    ):
        _fetch(conf, f"{base}/os.raw", hashlib.sha256(body).hexdigest(), lines)
    assert seen[0].get("Accept-Encoding") == "identity"
    assert len(lines) <= 10
    assert _left_in_cache(conf) == []


def test_the_bytes_stored_are_the_bytes_served(conf: cfg.ConfigOpts) -> None:
    body = gzip.compress(b"\0" * (1 << 20))  # a compressed file served as what it is
    with misbehaving(sending(body, {"Content-Type": "application/gzip"}, [])) as base:
        got = _fetch(conf, f"{base}/os.raw.gz", hashlib.sha256(body).hexdigest(), [])
    assert got.path.read_bytes() == body


def test_an_image_larger_than_the_free_space_is_not_started(conf: cfg.ConfigOpts) -> None:
    huge = shutil.disk_usage(fetch.cache_dir(conf)).free + (1 << 40)
    conf.set_override("max_image_size_gb", huge / 2**30 * 2, group="image")
    with (
        misbehaving(sending(b"\0" * 4096, {"Content-Length": str(huge)}, [])) as base,
        pytest.raises(errors.ImageError, match=r"cache_min_free_gb"),
    ):
        _fetch(conf, f"{base}/huge.raw", "1" * 64, [])
    assert _left_in_cache(conf) == []


def test_a_fetch_stops_before_the_cache_fills_its_disk(conf: cfg.ConfigOpts) -> None:
    free = shutil.disk_usage(fetch.cache_dir(conf)).free
    conf.set_override("cache_min_free_gb", (free - (64 << 20)) / 2**30, group="image")
    with (
        misbehaving(streaming(b"\0" * (1 << 20))) as base,
        pytest.raises(errors.ImageError, match=r"cache_min_free_gb"),
    ):
        _fetch(conf, f"{base}/endless.raw", "1" * 64, [])
    assert _left_in_cache(conf) == []


def test_partial_files_of_crashed_fetches_go_running_ones_stay(conf: cfg.ConfigOpts) -> None:
    folder = fetch.cache_dir(conf)
    stale, running = folder / ".part-0123456789abcdef", folder / ".part-fedcba9876543210"
    for path in (stale, running):
        path.write_bytes(b"\0" * 4096)
        os.utime(path, (time.time() - 7200, time.time() - 7200))
    body = b"image"
    with running.open("rb") as held, misbehaving(sending(body, {}, [])) as base:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a fetch writing it holds it
        _fetch(conf, f"{base}/small.raw", hashlib.sha256(body).hexdigest(), [])
        assert not stale.exists()
        assert running.exists()


def test_a_stop_asked_mid_read_ends_the_fetch(conf: cfg.ConfigOpts) -> None:
    asked = time.monotonic() + 0.5
    ref = source.image_ref({"image_source": "http://x/y", "image_checksum": "1" * 64}, conf)
    with misbehaving(dripping(every=5.0)) as base:
        ref = source.ImageRef(f"{base}/os.raw", None, ref.checksum)
        with pytest.raises(errors.ImageError, match="the deploy was aborted"):
            fetch.fetch(
                ref,
                conf,
                lambda line: None,
                stop=lambda: "the deploy was aborted" if time.monotonic() > asked else None,
            )
    assert time.monotonic() - asked < 3
    assert _left_in_cache(conf) == []
