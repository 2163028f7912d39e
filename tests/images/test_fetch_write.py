"""Fetching, checking and writing images with the real tools: an HTTP server, qemu-img,
and a real tgtd reached by qemu-img's own iSCSI initiator."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import pytest
from oslo_config import cfg

from ironbound import errors
from ironbound.images import fetch, inspect, source, write
from ironbound.lab.tgt import TgtServer
from ironbound.records import ImageDestination, IscsiLun
from ironbound.sensitive import Secret
from tests.images.conftest import make_qcow2, pattern_at, sha256

pytestmark = pytest.mark.timeout(120)


def _fetch(conf: cfg.ConfigOpts, url: str, checksum: str) -> tuple[fetch.CachedImage, list[str]]:
    lines: list[str] = []
    ref = source.image_ref({"image_source": url, "image_checksum": checksum}, conf)
    return fetch.fetch(ref, conf, lines.append), lines


def test_fetch_verifies_and_caches(conf: cfg.ConfigOpts, web_root: tuple[Path, str]) -> None:
    root, base = web_root
    image = make_qcow2(root / "good.qcow2")
    first, lines = _fetch(conf, f"{base}/good.qcow2", f"sha256:{sha256(image)}")
    assert first.downloaded and first.path.read_bytes() == image.read_bytes()
    assert first.path.stat().st_mode & 0o777 == 0o600
    assert any(line.startswith("fetched ") for line in lines)
    again, lines = _fetch(conf, f"{base}/good.qcow2", sha256(image))
    assert not again.downloaded and again.path == first.path
    assert "in the cache" in lines[0]


def test_a_checksum_mismatch_leaves_nothing(
    conf: cfg.ConfigOpts, web_root: tuple[Path, str]
) -> None:
    root, base = web_root
    make_qcow2(root / "tampered.qcow2")
    with pytest.raises(errors.ImageError, match="does not match its checksum: expected sha256:0"):
        _fetch(conf, f"{base}/tampered.qcow2", "0" * 64)
    assert list(fetch.cache_dir(conf).iterdir()) == []


def test_a_checksums_file_and_missing_files(
    conf: cfg.ConfigOpts, web_root: tuple[Path, str]
) -> None:
    root, base = web_root
    image = make_qcow2(root / "listed.qcow2")
    (root / "SHA256SUMS").write_text(f"{'1' * 64}  other\n{sha256(image)}  listed.qcow2\n")
    found, _ = _fetch(conf, f"{base}/listed.qcow2", f"{base}/SHA256SUMS")
    assert found.checksum == source.Checksum("sha256", sha256(image))
    with pytest.raises(errors.ImageError, match="answered 404"):
        _fetch(conf, f"{base}/absent.qcow2", "1" * 64)
    with pytest.raises(errors.ImageError, match=r"checksums file .* answered 404"):
        _fetch(conf, f"{base}/listed.qcow2", f"{base}/NOSUMS")


def test_an_oversized_image_is_stopped(conf: cfg.ConfigOpts, web_root: tuple[Path, str]) -> None:
    root, base = web_root
    image = root / "big.raw"
    image.write_bytes(secrets.token_bytes(2 << 20))
    conf.set_override("max_image_size_gb", 0.001, group="image")  # about 1 MiB
    with pytest.raises(errors.ImageError, match="max_image_size_gb"):
        _fetch(conf, f"{base}/big.raw", sha256(image))
    assert list(fetch.cache_dir(conf).iterdir()) == []


def test_the_cache_is_trimmed_oldest_first(conf: cfg.ConfigOpts, tmp_path: Path) -> None:
    folder = fetch.cache_dir(conf)
    for age, name in enumerate(["old", "mid", "new"]):
        (folder / name).write_bytes(b"x" * 1000)
        subprocess.run(["touch", "-d", f"{3 - age} hours ago", str(folder / name)], check=True)
    fetch.trim(folder, 2000, keep=folder / "old")
    assert sorted(p.name for p in folder.iterdir()) == ["new", "old"]


def test_inspect_refuses_images_that_read_other_files(tmp_path: Path) -> None:
    base = make_qcow2(tmp_path / "base.qcow2")
    overlay = tmp_path / "overlay.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(overlay)],
        check=True,
    )
    with pytest.raises(errors.ImageError, match="backing file"):
        inspect.inspect(overlay, None)
    vmdk = tmp_path / "x.vmdk"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", str(vmdk), "1M"], check=True)
    with pytest.raises(errors.ImageError, match="is vmdk"):
        inspect.inspect(vmdk, None)
    with pytest.raises(errors.ImageError, match="says raw, but the image is qcow2"):
        inspect.inspect(base, "raw")
    assert inspect.inspect(base, "qcow2") == inspect.ImageFormat("qcow2", 16 << 20)


def _write(image: Path, dest: ImageDestination, workdir: Path) -> list[float]:
    seen: list[float] = []
    found = inspect.inspect(image, None)
    write.write(image, found, dest, fresh=False, portal_aliases=[], stall_timeout=60,
                workdir=workdir, report=seen.append, stop=lambda: None)  # fmt: skip
    return seen


def test_write_into_a_local_volume_keeps_its_size(tmp_path: Path) -> None:
    image = make_qcow2(tmp_path / "img.qcow2")
    volume = tmp_path / "volume"
    volume.write_bytes(b"\xff" * (32 << 20))
    _write(image, ImageDestination("volume v", path=str(volume), size_bytes=32 << 20), tmp_path)
    assert volume.stat().st_size == 32 << 20
    assert pattern_at(volume) == b"\x5a" * 4
    with volume.open("rb") as f:  # what the image leaves unallocated is zeroed, not left over
        assert f.read(4) == b"\0" * 4
    small = ImageDestination("volume w", path=str(volume), size_bytes=8 << 20)
    with pytest.raises(errors.ImageError, match=r"larger than volume w \(0.01 GiB\)"):
        _write(image, small, tmp_path)


def test_write_over_iscsi_with_chap(tgt: TgtServer, tmp_path: Path) -> None:
    volume = tmp_path / "lun.img"
    volume.write_bytes(b"\0" * (32 << 20))
    iqn = f"iqn.2026-12.org.ironbound.test:{secrets.token_hex(4)}"
    node_iqn, user, password = "iqn.2026-12.org.ironbound.test:node", "writer", "Chap-Pass-12345"
    tgt.add_target(iqn, volume)
    tgt.allow_initiator(iqn, node_iqn)
    tgt.add_chap(iqn, user, password)
    image = make_qcow2(tmp_path / "img.qcow2", pattern=0x3C)

    def lun(portal: str, initiator: str, given: str) -> ImageDestination:
        return ImageDestination(
            "volume x",
            iscsi=IscsiLun(portal, iqn, 1, initiator, username=user, password=Secret(given)),
        )

    seen_as = "10.0.2.2:3260"
    aliases = [f"{seen_as}={tgt.host_portals[0]}"]
    found = inspect.inspect(image, None)
    write.write(image, found, lun(seen_as, node_iqn, password), fresh=True,
                portal_aliases=aliases, stall_timeout=60, workdir=tmp_path,
                report=lambda p: None, stop=lambda: None)  # fmt: skip
    assert pattern_at(volume) == b"\x3c" * 4
    assert list(tmp_path.glob("tmp*")) == []  # the CHAP file went with its folder
    for initiator, given, says in (
        (node_iqn, "Wrong-Pass-12345", "Authentication failure"),
        ("iqn.2026-12.org.ironbound.test:intruder", password, "Target not found"),
    ):
        with pytest.raises(errors.ImageError, match=says) as caught:
            _write(image, lun(tgt.host_portals[0], initiator, given), tmp_path)
        assert given not in caught.value.message
