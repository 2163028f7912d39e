"""The NoCloud seed a kernel booted by the ramdisk deploy reads: made from either form of
config drive, the same data either way, with Ironbound's phone_home in its vendor data."""

from __future__ import annotations

import email
import email.policy
import json
from typing import Any

import pytest

from ironbound import errors, nocloud
from tests import configdrive_support as drives

UP = "http://192.0.2.1:8080/boot/TOKEN/events/up"
PHONE_HOME = {"phone_home": {"post": ["instance_id"], "tries": 10, "url": UP}}
OBJECT: dict[str, Any] = {
    "meta_data": {"hostname": "web-1", "public_keys": {"k": "ssh-ed25519 AAAA k@e2e"}},
    "user_data": "#cloud-config\nruncmd: [echo MARKER]\n",
}


def seed(stored: Any) -> dict[str, bytes]:
    return nocloud.seed(stored, node_uuid="node-uuid", node_name="n1", confirmation_url=UP)


def iso_form(files: dict[str, bytes]) -> str:
    return drives.packed(drives.iso(files))


def cloud_config(text: bytes) -> dict[str, Any]:
    head, _, body = text.decode().partition("\n")
    assert head == "#cloud-config"
    return dict(json.loads(body))


def test_the_kernel_parameter_is_cloud_inits_line_config() -> None:
    url = "http://192.0.2.1:8080/boot/TOKEN/nocloud/"
    assert nocloud.kernel_parameter(url) == f"ds=nocloud-net;s={url}"


def test_the_json_form_gives_nocloud_its_keys_and_the_files_as_given() -> None:
    files = seed(OBJECT)
    assert sorted(files) == sorted(nocloud.NAMES)
    assert json.loads(files["meta-data"]) == {
        "instance-id": "node-uuid",
        "local-hostname": "web-1",
        "public-keys": ["ssh-ed25519 AAAA k@e2e"],
    }
    assert files["user-data"] == OBJECT["user_data"].encode()
    assert cloud_config(files["vendor-data"]) == PHONE_HOME
    assert files["network-config"] == b""


def test_the_meta_data_reads_one_key_a_line_for_simple_readers() -> None:
    lines = seed(OBJECT)["meta-data"].decode().splitlines()
    assert ' "local-hostname": "web-1",' in lines


def test_the_iso_form_gives_the_same_seed_as_the_json_form() -> None:
    meta = {"uuid": "node-uuid", "name": "n1", **OBJECT["meta_data"]}
    files = {
        "openstack/2012-08-10/meta_data.json": json.dumps(meta).encode(),
        "openstack/latest/meta_data.json": json.dumps(meta).encode(),
        "openstack/latest/user_data": OBJECT["user_data"].encode(),
    }
    for names in ("rock ridge", "joliet"):
        assert seed(drives.packed(drives.iso(files, names=names))) == seed(OBJECT), names


def test_a_drive_without_latest_is_read_from_its_newest_version() -> None:
    files = {
        "openstack/2012-08-10/meta_data.json": b'{"uuid": "old", "hostname": "old"}',
        "openstack/2015-10-15/meta_data.json": b'{"uuid": "new", "hostname": "new"}',
        "openstack/2015-10-15/user_data": b"new",
    }
    shown = seed(iso_form(files))
    assert json.loads(shown["meta-data"])["local-hostname"] == "new"
    assert shown["user-data"] == b"new"


def test_no_user_data_is_an_empty_file_and_the_instance_id_is_the_drives() -> None:
    shown = seed(iso_form({"openstack/latest/meta_data.json": b'{"uuid": "given"}'}))
    assert shown["user-data"] == b""
    assert json.loads(shown["meta-data"]) == {"instance-id": "given"}


def test_vendor_data_of_the_drive_comes_first_in_a_multipart() -> None:
    tenant = "#cloud-config\nbootcmd: [echo vendor]\n"
    shown = seed({**OBJECT, "vendor_data": {"cloud-init": tenant, "other": {"x": 1}}})
    message = email.message_from_bytes(shown["vendor-data"], policy=email.policy.default)
    assert message.is_multipart()
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain"] * 2
    assert parts[0].get_content() == tenant
    assert cloud_config(parts[1].get_content().encode()) == PHONE_HOME


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ({"ec2/latest/meta-data.json": b"{}"}, "no openstack/<version>/ directory"),
        ({"openstack/latest/user_data": b"x"}, "no openstack/<version>/meta_data.json"),
        ({"openstack/latest/meta_data.json": b"{nope"}, "meta_data.json is not JSON"),
        ({"openstack/latest/meta_data.json": b"[]"}, "meta_data.json does not hold a JSON"),
        (
            {
                "openstack/latest/meta_data.json": b"{}",
                "openstack/latest/vendor_data2.json": b'{"cloud-init": ["a", 7]}',
            },
            "neither text nor a list of texts",
        ),
    ],
)
def test_a_drive_no_seed_can_be_made_of_is_refused(files: dict[str, bytes], reason: str) -> None:
    with pytest.raises(errors.ConfigDriveInvalid) as raised:
        seed(iso_form(files))
    assert reason in str(raised.value)
