"""Config drives: both forms checked, every malformed one refused, the image built and read back."""

from __future__ import annotations

import base64
import gzip
import io
import json
import time
import zlib
from typing import Any

import pycdlib
import pytest

from ironbound import configdrive, errors
from tests.configdrive_support import FILES, iso, label, listing, packed, read

NODE = "1be26c0b-03f2-4d2e-ae87-c02d7f33c123"


# --- what counts as none, and what is accepted --------------------------------------


@pytest.mark.parametrize("value", [None, "", {}])
def test_null_empty_string_and_empty_object_mean_none(value: Any) -> None:
    assert configdrive.is_empty(value)
    assert configdrive.check(value) is None


@pytest.mark.parametrize("value", [0, False, [], "  "])
def test_other_falsy_values_are_not_none(value: Any) -> None:
    assert not configdrive.is_empty(value)
    with pytest.raises(errors.ConfigDriveInvalid):
        configdrive.check(value)


def test_a_gzipped_iso_in_base64_is_stored_as_given() -> None:
    text = packed(iso())
    assert configdrive.check(text) == text


def test_base64_may_be_wrapped_over_lines() -> None:
    text = packed(iso())
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + "\r\n"
    assert configdrive.check(wrapped) == wrapped


@pytest.mark.parametrize("names", ["rock ridge", "joliet"])
def test_any_iso_9660_is_accepted(names: str) -> None:
    configdrive.check(packed(iso(names=names)))


def test_a_plain_level_1_iso_is_accepted() -> None:
    configdrive.check(packed(iso({"META.JSN": b"{}"}, names="plain", level=1)))


def test_gzip_of_several_members_is_one_stream() -> None:
    image = iso()
    middle = len(image) // 2
    text = base64.b64encode(gzip.compress(image[:middle]) + gzip.compress(image[middle:]))
    assert configdrive.iso_image(text.decode(), node_uuid=NODE) == image


@pytest.mark.parametrize(
    "value",
    [
        {"meta_data": {"hostname": "h"}},
        {"user_data": "#!/bin/sh\n"},
        {"user_data": {"users": []}},
        {"user_data": ["a"]},
        {"user_data": None},
        {"network_data": {"links": []}, "vendor_data": {"x": 1}},
        {"meta_data": {}, "network_data": {}, "user_data": "", "vendor_data": {}},
    ],
)
def test_json_objects_of_the_known_keys_are_stored_as_given(value: dict[str, Any]) -> None:
    assert configdrive.check(value) == value


# --- refused ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ([], "not an array"),
        (5, "not a number"),
        (1.5, "not a number"),
        (True, "not a boolean"),
        ("not base64!", "neither a JSON object nor a base64 string"),
        ("aGVsbG8", "neither a JSON object nor a base64 string"),  # padding missing
        ("é", "neither a JSON object nor a base64 string"),
        ("  \n ", "the base64 string is empty"),
        (base64.b64encode(b"plain text").decode(), "does not encode gzip"),
        (packed(b"x" * 40_000), "not an ISO 9660 image"),
        (packed(b"short"), "not an ISO 9660 image"),
        (base64.b64encode(gzip.compress(iso())[:-9]).decode(), "cut short"),
        (base64.b64encode(gzip.compress(iso()) + b"junk").decode(), "does not encode gzip"),
        ({"metadata": {}}, "unknown key(s) metadata"),
        ({"meta_data": None}, "meta_data must be an object, not null"),
        ({"meta_data": []}, "meta_data must be an object, not an array"),
        ({"network_data": "x"}, "network_data must be an object, not a string"),
        ({"vendor_data": 1}, "vendor_data must be an object, not a number"),
        ({"user_data": 1}, "user_data must be a string, an object, an array or null"),
        ({"user_data": False}, "not a boolean"),
        ({"user_data": "\ud800"}, "user_data is not valid Unicode text"),
    ],
)
def test_malformed_config_drives_are_refused(value: Any, needle: str) -> None:
    with pytest.raises(errors.ConfigDriveInvalid) as caught:
        configdrive.check(value)
    assert needle in str(caught.value)
    assert str(caught.value).startswith("Invalid configdrive format: ")


@pytest.mark.parametrize("url", ["http://example.com/cd", "https://example.com/cd.gz"])
def test_a_url_is_refused(url: str) -> None:
    with pytest.raises(errors.ConfigDriveUrl) as caught:
        configdrive.check(url)
    assert "URL is not supported" in str(caught.value)


# --- the bound -------------------------------------------------------------------------


def test_an_image_of_exactly_the_bound_is_accepted_one_byte_more_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = iso()
    monkeypatch.setattr(configdrive, "MAX_IMAGE", len(image))
    configdrive.check(packed(image))
    with pytest.raises(errors.ConfigDriveTooLarge):
        configdrive.check(packed(image + b"\0"))


def _bomb(members: int) -> str:
    """gzip members of 64 MiB of zeros each, an ISO header first: 64 MiB x `members` inflated."""
    zeros = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=1)
    return base64.b64encode(gzip.compress(iso()) + zeros * members).decode()


def test_a_gzip_bomb_is_refused_without_being_inflated(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = _bomb(128)  # 8 GiB inflated, from about 36 MB of base64
    inflated = 0
    real = zlib.decompressobj

    class Counting:
        def __init__(self, **kwargs: Any) -> None:
            self.inner = real(**kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            nonlocal inflated
            out = self.inner.decompress(data, max_length)
            inflated += len(out)
            return out

    monkeypatch.setattr(zlib, "decompressobj", Counting)
    started = time.monotonic()
    with pytest.raises(errors.ConfigDriveTooLarge) as caught:
        configdrive.check(bomb)
    assert time.monotonic() - started < 5
    assert inflated <= configdrive.MAX_IMAGE + 1024 * 1024
    assert "inflates to more than 64 MiB" in str(caught.value)


# --- the image of the JSON form ---------------------------------------------------------


def _paths(*names: str) -> set[str]:
    return {f"openstack/{version}/{name}" for version in ("2012-08-10", "latest") for name in names}


def test_the_json_form_is_built_into_a_config_2_image() -> None:
    value: dict[str, Any] = {
        "meta_data": {"hostname": "web-1", "public_keys": {"k": "ssh-ed25519 AAAA"}},
        "user_data": "#cloud-config\nhostname: web-1\n",
        "network_data": {"links": [], "networks": [], "services": []},
        "vendor_data": {"static": {"x": 1}},
    }
    image = configdrive.iso_image(value, node_uuid=NODE, node_name="web")
    assert label(image) == "config-2"
    every = _paths("meta_data.json", "user_data", "network_data.json", "vendor_data2.json")
    assert listing(image, "rr_path") == every
    assert listing(image, "joliet_path") == every
    for version in ("2012-08-10", "latest"):
        base = f"/openstack/{version}"
        meta = json.loads(read(image, f"{base}/meta_data.json"))
        assert meta == {"uuid": NODE, "name": "web", **value["meta_data"]}
        assert read(image, f"{base}/user_data") == value["user_data"].encode()
        assert json.loads(read(image, f"{base}/network_data.json")) == value["network_data"]
        assert json.loads(read(image, f"{base}/vendor_data2.json")) == value["vendor_data"]
        assert read(image, f"{base}/user_data", "joliet_path") == value["user_data"].encode()


def test_given_uuid_and_name_win_over_the_nodes() -> None:
    value = {"meta_data": {"uuid": "mine", "name": "also-mine"}}
    image = configdrive.iso_image(value, node_uuid=NODE, node_name="web")
    assert json.loads(read(image, "/openstack/latest/meta_data.json")) == value["meta_data"]


def test_an_unnamed_node_gets_only_its_uuid_and_empty_parts_no_file() -> None:
    value = {"user_data": "", "network_data": {}, "vendor_data": {}}
    image = configdrive.iso_image(value, node_uuid=NODE)
    assert listing(image) == _paths("meta_data.json")
    assert json.loads(read(image, "/openstack/latest/meta_data.json")) == {"uuid": NODE}


@pytest.mark.parametrize("user_data", [{"users": ["a"]}, ["part one", "part two"]])
def test_structured_user_data_is_written_as_json(user_data: Any) -> None:
    image = configdrive.iso_image({"user_data": user_data}, node_uuid=NODE)
    assert json.loads(read(image, "/openstack/latest/user_data")) == user_data


def test_the_string_form_is_its_image_byte_for_byte() -> None:
    image = iso()
    assert configdrive.iso_image(packed(image), node_uuid=NODE) == image


@pytest.mark.parametrize("stored", ["", {}, "!!", {"bogus": 1}, packed(b"x" * 40_000)])
def test_a_stored_value_that_is_no_config_drive_is_refused(stored: Any) -> None:
    with pytest.raises(errors.ConfigDriveInvalid):
        configdrive.iso_image(stored, node_uuid=NODE)


# --- Ironbound's own cloud-config in vendor data ----------------------------------------

OURS = {"phone_home": {"url": "http://192.0.2.1/up", "post": ["instance_id"]}}
PART = "#cloud-config\n" + json.dumps(OURS, sort_keys=True)


def _vendor(image: bytes, version: str = "latest") -> Any:
    return json.loads(read(image, f"/openstack/{version}/vendor_data2.json"))


@pytest.mark.parametrize(
    ("vendor_data", "entry"),
    [
        (None, PART),
        ({"cloud-init": "#cloud-config\na: 1"}, ["#cloud-config\na: 1", PART]),
        ({"cloud-init": ["x", "y"]}, ["x", "y", PART]),
        ({"other": {"k": 1}}, PART),
    ],
)
def test_our_cloud_config_joins_the_vendor_data(vendor_data: Any, entry: Any) -> None:
    value = {} if vendor_data is None else {"vendor_data": vendor_data}
    image = configdrive.iso_image(
        {"meta_data": {}, **value}, node_uuid=NODE, vendor_cloud_config=OURS
    )
    for version in ("2012-08-10", "latest"):
        assert _vendor(image, version) == {**(vendor_data or {}), "cloud-init": entry}


def test_a_cloud_init_entry_cloud_init_cannot_read_is_refused() -> None:
    value = {"vendor_data": {"cloud-init": {"a": 1}}}
    with pytest.raises(errors.ConfigDriveInvalid, match="neither text nor a list"):
        configdrive.iso_image(value, node_uuid=NODE, vendor_cloud_config=OURS)


def test_an_iso_is_rebuilt_with_every_file_and_our_vendor_data_in_each_version() -> None:
    files = {
        **FILES,
        "openstack/2013-04-04/meta_data.json": b"{}",
        "openstack/latest/vendor_data2.json": b'{"cloud-init": "#cloud-config\\nb: 2"}',
        "ec2/2009-04-04/meta-data.json": b"{}",
        "openstack/content/0000": b"a file",
    }
    image = configdrive.iso_image(packed(iso(files)), node_uuid=NODE, vendor_cloud_config=OURS)
    assert label(image) == "config-2"
    added = {f"openstack/{v}/vendor_data2.json" for v in ("2012-08-10", "2013-04-04", "content")}
    assert listing(image) == set(files) | added
    for path, content in files.items():
        if not path.endswith("vendor_data2.json"):
            assert read(image, f"/{path}") == content
    assert _vendor(image) == {"cloud-init": ["#cloud-config\nb: 2", PART]}
    assert _vendor(image, "2013-04-04") == {"cloud-init": PART}


@pytest.mark.parametrize("names", ["joliet", "plain"])
def test_an_iso_without_rock_ridge_is_read_by_its_other_names(names: str) -> None:
    files = {"OPENSTACK/LATEST/META_DATA.JSON": b"{}", "OPENSTACK/LATEST/USER_DATA": b"x"}
    if names == "joliet":
        files = {path.lower(): content for path, content in files.items()}
    image = configdrive.iso_image(
        packed(iso(files, names=names, level=2 if names == "plain" else 4)),
        node_uuid=NODE,
        vendor_cloud_config=OURS,
    )
    assert read(image, "/openstack/latest/user_data") == b"x"
    assert _vendor(image) == {"cloud-init": PART}


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        ({"meta.json": b"{}"}, "no openstack/<version>/ directory"),
        ({"openstack/latest/vendor_data2.json": b"{"}, "is not JSON"),
        ({"openstack/latest/vendor_data2.json": b"[]"}, "does not hold a JSON object"),
    ],
)
def test_an_iso_that_cannot_take_our_vendor_data_is_refused(
    files: dict[str, bytes], needle: str
) -> None:
    with pytest.raises(errors.ConfigDriveInvalid, match=needle):
        configdrive.iso_image(packed(iso(files)), node_uuid=NODE, vendor_cloud_config=OURS)


def test_files_sharing_their_content_count_against_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Directory entries may all point at one extent: what comes out is bounded, not the image."""
    image = pycdlib.PyCdlib()
    image.new(interchange_level=4, rock_ridge="1.09", vol_ident="config-2")
    content = b"x" * 50_000
    image.add_fp(io.BytesIO(content), len(content), "/big", rr_name="big")
    for n in range(10):
        image.add_hard_link(iso_old_path="/big", iso_new_path=f"/link{n}", rr_name=f"link{n}")
    out = io.BytesIO()
    image.write_fp(out)
    image.close()
    monkeypatch.setattr(configdrive, "MAX_IMAGE", 200_000)
    assert len(out.getvalue()) < 200_000
    with pytest.raises(errors.ConfigDriveTooLarge):
        configdrive.iso_image(packed(out.getvalue()), node_uuid=NODE, vendor_cloud_config=OURS)


def test_an_iso_pycdlib_cannot_read_is_refused() -> None:
    image = bytearray(iso())
    # The root directory's extent, both byte orders: far past the image's end.
    image[32768 + 158 : 32768 + 166] = b"\xff\xff\xff\x00\x00\xff\xff\xff"
    with pytest.raises(errors.ConfigDriveInvalid, match="cannot be read"):
        configdrive.iso_image(packed(bytes(image)), node_uuid=NODE, vendor_cloud_config=OURS)


def test_what_was_sealed_comes_back_in_its_form() -> None:
    """The snapshot hands a sealed document back as JSON text, a string as itself."""
    document = {"meta_data": {"hostname": "h"}, "user_data": "#cloud-config\n"}
    assert configdrive.unsealed(json.dumps(document)) == document
    packed = "H4sIAAAAAAAA/wMAAAAAAAAAAAA="
    assert configdrive.unsealed(packed) == packed
