"""A config drive as a NoCloud seed: what a node booting a kernel over HTTP reads at a URL.

A `ramdisk` deploy that boots a kernel has no volume to carry a config drive
on, but Ironbound writes its kernel command line, so cloud-init's NoCloud
datasource is told where to fetch the seed (`ds=nocloud-net;s=<url>/`), and the
boot server serves it from the node's boot token (docs/config-drive.md).
The seed is made from the drive's files (`configdrive.files`), whichever
form the drive came in, so both forms give the node the same data:

* `meta-data`: `instance-id` (meta_data's `uuid`), `local-hostname` (its
  `hostname`) and `public-keys` (its `public_keys`), the names NoCloud reads
  for what cloud-init's ConfigDrive datasource reads from meta_data.json;
* `user-data`: the drive's user_data as it is (empty when it has none; NoCloud
  requires the file);
* `vendor-data`: the `cloud-init` entry of vendor_data2.json, Ironbound's
  phone_home included, as one part or, with more, a MIME multipart of them;
* `network-config`: empty. NoCloud takes cloud-init's own network config
  formats, not OpenStack's network_data.json, and an empty file is "none"
  where a 404 costs cloud-init (24.1 and later) ten retries a second apart.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from ironbound import configdrive, errors

#: The files of a seed, as cloud-init asks for them.
NAMES = ("meta-data", "user-data", "vendor-data", "network-config")


def kernel_parameter(seed_url: str) -> str:
    """The kernel command line word that points NoCloud at `seed_url` (ending in "/").

    `nocloud-net`: every cloud-init takes an http seed under that name (before 24.1
    only under it). iPXE ends a command only at a word that is ";" alone, so the word
    needs no quoting.
    """
    return f"ds=nocloud-net;s={seed_url}"


def seed(
    stored: configdrive.Stored,
    *,
    node_uuid: str,
    node_name: str | None,
    confirmation_url: str,
) -> dict[str, bytes]:
    """The seed's files by name (`NAMES`), from a stored config drive.

    :raises ConfigDriveInvalid: the drive has no openstack/<version>/ with a
        meta_data.json object, or its vendor data cannot take Ironbound's.
    :raises ConfigDriveTooLarge: as `configdrive.files`.
    """
    found = configdrive.files(
        stored,
        node_uuid=node_uuid,
        node_name=node_name,
        vendor_cloud_config=configdrive.phone_home(confirmation_url),
    )
    version = _version(found)
    meta_data = _json_object(found, f"{version}/meta_data.json")
    vendor = _json_object(found, f"{version}/vendor_data2.json")
    return {
        "meta-data": _meta_data(meta_data, node_uuid),
        "user-data": found.get(f"{version}/user_data", b""),
        "vendor-data": _vendor_data(vendor.get("cloud-init")),
        "network-config": b"",
    }


def _version(found: Mapping[str, bytes]) -> str:
    """The directory a reader takes: openstack/latest, else the newest dated version."""
    versions = sorted(
        posixpath.dirname(path)
        for path in found
        if path.startswith("openstack/") and path.endswith("/meta_data.json")
    )
    if not versions:
        raise errors.ConfigDriveInvalid(
            reason="the config drive has no openstack/<version>/meta_data.json."
        )
    return "openstack/latest" if "openstack/latest" in versions else versions[-1]


def _json_object(found: Mapping[str, bytes], path: str) -> dict[str, Any]:
    try:
        value = json.loads(found[path])
    except ValueError as exc:
        raise errors.ConfigDriveInvalid(reason=f"{path} is not JSON.") from exc
    if not isinstance(value, dict):
        raise errors.ConfigDriveInvalid(reason=f"{path} does not hold a JSON object.")
    return value


def _meta_data(meta_data: Mapping[str, Any], node_uuid: str) -> bytes:
    """NoCloud's meta-data, as JSON (which YAML reads), one key a line."""
    keys = meta_data.get("public_keys")
    seeded: dict[str, Any] = {"instance-id": str(meta_data.get("uuid") or node_uuid)}
    if meta_data.get("hostname"):
        seeded["local-hostname"] = str(meta_data["hostname"])
    if isinstance(keys, dict) and keys:
        seeded["public-keys"] = [str(key) for key in keys.values()]
    return json.dumps(seeded, indent=1, sort_keys=True).encode() + b"\n"


def _vendor_data(entry: Any) -> bytes:
    """The parts of vendor data's `cloud-init` entry (text or a list of texts) as one
    text: the part itself, or a MIME multipart whose text/plain parts cloud-init types
    by their first line, as it types the list the ConfigDrive datasource hands it."""
    parts = [entry] if isinstance(entry, str) else entry
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise errors.ConfigDriveInvalid(
            reason="the vendor data's cloud-init entry is neither text nor a list of texts."
        )
    if len(parts) == 1:
        return str(parts[0]).encode()
    message = MIMEMultipart()
    for part in parts:
        message.attach(MIMEText(part, "plain", "utf-8"))
    return message.as_bytes()
