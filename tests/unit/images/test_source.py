"""instance_info's image keys, read as Ironic reads them (and refused where it would be unsafe)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from ironbound import errors
from ironbound.images import source

SHA256 = "a" * 64
SHA512 = "b" * 128
MD5 = "c" * 32


def ref(conf: cfg.ConfigOpts, **info: Any) -> source.ImageRef:
    return source.image_ref(info, conf)


def test_a_bare_value_is_named_by_its_length(conf: cfg.ConfigOpts) -> None:
    url = "http://images/x.qcow2"
    assert ref(conf, image_source=url, image_checksum=SHA256).checksum == source.Checksum(
        "sha256", SHA256
    )
    found = ref(conf, image_source=url, image_checksum=SHA512.upper()).checksum
    assert found == source.Checksum("sha512", SHA512)


def test_algo_prefix_and_os_hash_keys(conf: cfg.ConfigOpts) -> None:
    url = "https://images/x.qcow2"
    given = ref(conf, image_source=url, image_checksum=f"SHA256:{SHA256}").checksum
    assert str(given) == f"sha256:{SHA256}"
    # image_os_hash_* win over image_checksum, as in Ironic.
    found = ref(
        conf,
        image_source=url,
        image_checksum="sha256:" + "0" * 64,
        image_os_hash_algo="sha512",
        image_os_hash_value=SHA512,
    ).checksum
    assert found == source.Checksum("sha512", SHA512)


def test_md5_only_when_allowed(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="allow_md5_checksum"):
        ref(conf, image_source="http://i/x", image_checksum=MD5)
    conf.set_override("allow_md5_checksum", True, group="agent")
    assert ref(conf, image_source="http://i/x", image_checksum=MD5).checksum == source.Checksum(
        "md5", MD5
    )


@pytest.mark.parametrize(
    ("checksum", "says"),
    [
        ("sha256:" + "a" * 63, "not as long as a sha256"),
        ("whirlpool:" + "a" * 64, "not supported"),
        ("xyz", "not a hexadecimal"),
        ("sha256:", "not a hexadecimal"),
        ("a" * 40, "names no algorithm"),
    ],
)
def test_bad_checksums_say_what_is_allowed(conf: cfg.ConfigOpts, checksum: str, says: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match=says):
        ref(conf, image_source="http://i/x", image_checksum=checksum)


def test_http_needs_a_checksum_and_a_checksum_url_is_kept_for_later(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(errors.MissingParameterValue, match="needs a checksum"):
        ref(conf, image_source="http://i/x.img")
    found = ref(conf, image_source="http://i/x.img", image_checksum="http://i/SHA256SUMS")
    assert found.checksum is None and found.checksum_url == "http://i/SHA256SUMS"
    with pytest.raises(errors.MissingParameterValue, match="image_os_hash_algo"):
        ref(conf, image_source="http://i/x.img", image_os_hash_value=SHA256)


@pytest.mark.parametrize("url", ["glance-id-1234", "ftp://i/x", "", "HTTP//x"])
def test_only_http_https_and_file(conf: cfg.ConfigOpts, url: str) -> None:
    with pytest.raises(errors.InvalidParameterValue, match="is not an http"):
        ref(conf, image_source=url, image_checksum=SHA256)


def test_file_urls_only_under_the_allowed_folders(conf: cfg.ConfigOpts, tmp_path: Path) -> None:
    conf.set_override("file_url_allowed_paths", [str(tmp_path / "img")], group="conductor")
    inside = ref(conf, image_source=f"file://{tmp_path}/img/x.qcow2")
    assert inside.local_path == tmp_path / "img/x.qcow2" and inside.checksum is None
    for url in ("file:///etc/shadow", f"file://{tmp_path}/../etc/shadow", "file://relative"):
        with pytest.raises(errors.InvalidParameterValue):
            ref(conf, image_source=url)


@pytest.mark.parametrize(
    "text",
    [
        f"{SHA256}  other.img\n{'d' * 64}  x.qcow2\n",
        f"# comment\n{'d' * 64} *x.qcow2\n",
        f"SHA256 (x.qcow2) = {'d' * 64}\n",
        f"{'d' * 64}\n",
    ],
)
def test_checksums_files(conf: cfg.ConfigOpts, text: str) -> None:
    found = source.checksum_from_file(text, "http://i/dir/x.qcow2", conf, "http://i/SUMS")
    assert found == source.Checksum("sha256", "d" * 64)


def test_a_checksums_file_without_the_image(conf: cfg.ConfigOpts) -> None:
    with pytest.raises(errors.ImageError, match=r"SUMS holds no checksum Ironbound accepts for x"):
        source.checksum_from_file(f"{SHA256}  y.qcow2\n", "http://i/x.qcow2", conf, "http://i/SUMS")
