"""Config drives: the two forms a deploy may carry them in, and the ISO image a node gets.

A provision request's `configdrive` is either a string, the base64 text of a
gzipped ISO 9660 image (what Nova sends), or a JSON object whose
`meta_data`, `network_data`, `user_data` and `vendor_data` the conductor
builds into an image, as Ironic does. `check` decides, before anything is
written, whether a value is one of them; `iso_image` turns what was stored
into the bytes of the image.

Every cost is bounded by the size of what came in: base64 is decoded whole
(the body bound caps it), and gzip is inflated a chunk at a time and
abandoned once it passes `MAX_IMAGE`, the 64 MiB Ironic's agent holds a
config drive to, so a small bomb never inflates far.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import posixpath
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from ironbound import errors

#: The largest image a config drive may inflate to (Ironic's agent refuses larger ones).
MAX_IMAGE = 64 * 1024 * 1024
#: The volume label cloud-init and cloudbase-init look for.
LABEL = "config-2"
#: The metadata versions a built drive holds, each with the same files (as Ironic's).
VERSIONS = ("2012-08-10", "latest")
#: Where a deploy's config drive is stored: instance_info, sealed, as Ironic keeps it.
KEY = "configdrive"
#: The keys of the JSON form.
KEYS = frozenset({"meta_data", "network_data", "user_data", "vendor_data"})

#: What a provision request stores in instance_info/configdrive.
Stored = str | dict[str, Any]

_EMPTY: tuple[Any, ...] = (None, "", {})
_CHUNK = 1024 * 1024
# Where the primary volume descriptor of an ISO 9660 image starts, and what it begins with.
_DESCRIPTOR = 32768
_PRIMARY = b"\x01CD001"
_WHITESPACE = str.maketrans("", "", " \t\r\n")
# What a damaged image can make pycdlib raise besides its own exception.
_UNREADABLE = (PyCdlibException, ValueError, IndexError, KeyError, UnicodeError, struct.error)


def check(value: Any) -> Stored | None:
    """What to store for `value`, a provision request's configdrive; None when it means none.

    `None`, `""` and `{}` mean no config drive, as in Ironic. The microversion
    rules of the JSON form (1.56, vendor_data 1.59) are the API's to apply.

    :raises ConfigDriveInvalid: not a JSON object of the known keys and types,
        nor the base64 text of a gzipped ISO 9660 image.
    :raises ConfigDriveTooLarge: the image inflates past `MAX_IMAGE`.
    :raises ConfigDriveUrl: the value is a URL (Ironic's agent fetches those; nothing here does).
    """
    if is_empty(value):
        return None
    if isinstance(value, dict):
        _check_object(value)
        return value
    if isinstance(value, str):
        _check_image(_packed(value))
        return value
    raise errors.ConfigDriveInvalid(
        reason="it must be a string (a gzipped, base64-encoded ISO 9660 image) or a JSON "
        f"object, not {_kind(value)}."
    )


def unsealed(text: str) -> Stored:
    """What was stored, from the text its seal gives back: the JSON form comes out as
    JSON text (db/snapshots), and base64 never starts with "{"."""
    return dict(json.loads(text)) if text.startswith("{") else text


def is_empty(value: Any) -> bool:
    """Whether a provision request's configdrive means none: null, `""` or `{}`, as in Ironic."""
    return value in _EMPTY


def iso_image(
    stored: Stored,
    *,
    node_uuid: str,
    node_name: str | None = None,
    vendor_cloud_config: Mapping[str, Any] | None = None,
) -> bytes:
    """The ISO 9660 image of a stored config drive, for the conductor to deliver.

    The string form is the image it encodes, byte for byte. The JSON form is
    built into a `config-2` image (Rock Ridge and Joliet, so every reader
    sees the lowercase names) holding, under `openstack/<version>/` for each
    of `VERSIONS`, `meta_data.json` (with `uuid` and, for a named node,
    `name` filled in where the caller gave none, as Ironic does), and the
    `user_data`, `network_data.json` and `vendor_data2.json` it was given.

    `vendor_cloud_config`, Ironbound's own cloud-config, is added to
    `vendor_data2.json`'s `cloud-init` entry in every version directory, as
    a `#cloud-config` part after any the drive holds (cloud-init merges
    them; user data still overrides vendor data). A drive in the string form
    is then rebuilt from its files.

    :raises ConfigDriveInvalid: the stored value is no config drive, the image
        cannot be read, or its vendor data cannot take the addition.
    :raises ConfigDriveTooLarge: the image is larger than `MAX_IMAGE`.
    """
    if isinstance(stored, str) and stored and vendor_cloud_config is None:
        return _image(stored)
    return _build(
        files(
            stored,
            node_uuid=node_uuid,
            node_name=node_name,
            vendor_cloud_config=vendor_cloud_config,
        )
    )


def files(
    stored: Stored,
    *,
    node_uuid: str,
    node_name: str | None = None,
    vendor_cloud_config: Mapping[str, Any] | None = None,
) -> dict[str, bytes]:
    """The files of a stored config drive by path (`openstack/latest/meta_data.json`...),
    with `vendor_cloud_config` added as `iso_image` adds it: what `iso_image` builds its
    image from, and what a NoCloud seed (`nocloud`) is made of.

    :raises ConfigDriveInvalid: as `iso_image`.
    :raises ConfigDriveTooLarge: as `iso_image`.
    """
    if isinstance(stored, str) and stored:
        found = _read_files(_image(stored))
    elif isinstance(stored, dict) and stored:
        _check_object(stored)
        found = _files(stored, node_uuid, node_name)
    else:
        raise errors.ConfigDriveInvalid(reason="the stored config drive is empty.")
    if vendor_cloud_config is not None:
        _add_vendor_cloud_config(found, vendor_cloud_config)
    return found


def phone_home(url: str) -> dict[str, Any]:
    """Ironbound's vendor cloud-config: cloud-init's phone_home posts to `url`, the boot's
    confirmation URL, once the system is up (docs/config-drive.md)."""
    return {"phone_home": {"url": url, "post": ["instance_id"], "tries": 10}}


# --- the checks ----------------------------------------------------------------


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    return names.get(type(value), "null" if value is None else "a number")


def _check_object(value: Mapping[str, Any]) -> None:
    """Ironic's rules on the JSON form: known keys; objects, user_data also text or an array."""
    unknown = sorted(set(value) - KEYS)
    if unknown:
        raise errors.ConfigDriveInvalid(
            reason=f"unknown key(s) {', '.join(unknown)}; a config drive object may hold "
            f"{', '.join(sorted(KEYS))}."
        )
    for key in ("meta_data", "network_data", "vendor_data"):
        if key in value and not isinstance(value[key], dict):
            raise errors.ConfigDriveInvalid(
                reason=f"{key} must be an object, not {_kind(value[key])}."
            )
    user_data = value.get("user_data")
    if not isinstance(user_data, str | dict | list | None):
        raise errors.ConfigDriveInvalid(
            reason=f"user_data must be a string, an object, an array or null, not "
            f"{_kind(user_data)}."
        )
    if isinstance(user_data, str):
        try:
            user_data.encode()
        except UnicodeError as exc:
            raise errors.ConfigDriveInvalid(reason="user_data is not valid Unicode text.") from exc


def _packed(text: str) -> bytes:
    """The gzip stream a string-form config drive encodes (white space allowed, as in Ironic)."""
    if "://" in text:
        raise errors.ConfigDriveUrl()
    try:
        return base64.b64decode(text.translate(_WHITESPACE), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise errors.ConfigDriveInvalid(
            reason="it is neither a JSON object nor a base64 string."
        ) from exc


def _inflate(packed: bytes) -> Iterator[bytes]:
    """The bytes a gzip stream (of one or more members) inflates to, a chunk at a time.

    :raises ConfigDriveInvalid: not gzip, or cut short.
    :raises ConfigDriveTooLarge: more than `MAX_IMAGE` would come out; nothing
        past it is inflated.
    """
    rest, total = packed, 0
    if not rest:
        raise errors.ConfigDriveInvalid(reason="the base64 string is empty; it must encode gzip.")
    while rest:
        stream = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip only
        while not stream.eof:
            try:
                chunk = stream.decompress(rest, _CHUNK)
            except zlib.error as exc:
                raise errors.ConfigDriveInvalid(
                    reason="the base64 string does not encode gzip data."
                ) from exc
            rest = stream.unconsumed_tail
            if not chunk and not rest:
                raise errors.ConfigDriveInvalid(reason="the gzip data is cut short.")
            total += len(chunk)
            if total > MAX_IMAGE:
                raise errors.ConfigDriveTooLarge(limit=MAX_IMAGE // (1024 * 1024))
            yield chunk
        # Another member may follow; NUL padding after the last one is allowed (as gzip does).
        rest = stream.unused_data.lstrip(b"\0")


def _image(text: str) -> bytes:
    """The ISO 9660 image the string form encodes (checked again: it was stored sealed)."""
    image = b"".join(_inflate(_packed(text)))
    _require_iso(image[: _DESCRIPTOR + len(_PRIMARY)])
    return image


def _check_image(packed: bytes) -> None:
    """Inflate `packed` to its end, keeping only the head where ISO 9660 says what it is."""
    needed = _DESCRIPTOR + len(_PRIMARY)
    head = b""
    for chunk in _inflate(packed):
        if len(head) < needed:
            head += chunk[: needed - len(head)]
    _require_iso(head)


def _require_iso(head: bytes) -> None:
    if head[_DESCRIPTOR:] != _PRIMARY:
        raise errors.ConfigDriveInvalid(
            reason="the gzip data is not an ISO 9660 image (no primary volume descriptor)."
        )


# --- the files of a drive --------------------------------------------------------


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _files(value: Mapping[str, Any], node_uuid: str, node_name: str | None) -> dict[str, bytes]:
    """The files of the JSON form, by path: what Ironic builds from it."""
    meta_data = {"uuid": node_uuid, **({"name": node_name} if node_name else {})}
    meta_data.update(value.get("meta_data") or {})
    user_data = value.get("user_data")
    per_version: dict[str, bytes] = {"meta_data.json": _json(meta_data)}
    if user_data:
        per_version["user_data"] = (
            user_data.encode() if isinstance(user_data, str) else (_json(user_data))
        )
    if value.get("network_data"):
        per_version["network_data.json"] = _json(value["network_data"])
    if value.get("vendor_data"):
        per_version["vendor_data2.json"] = _json(value["vendor_data"])
    return {
        f"openstack/{version}/{name}": content
        for version in VERSIONS
        for name, content in per_version.items()
    }


def _cloud_init_entry(current: Any, part: str) -> str | list[Any]:
    """A vendor data `cloud-init` entry with `part` added: cloud-init reads text or a list."""
    if current in (None, ""):
        return part
    if isinstance(current, str):
        return [current, part]
    if isinstance(current, list):
        return [*current, part]
    raise errors.ConfigDriveInvalid(
        reason="the vendor data's cloud-init entry is neither text nor a list, which "
        "cloud-init cannot read, so Ironbound's own cloud-config cannot join it."
    )


def _add_vendor_cloud_config(files: dict[str, bytes], cloud_config: Mapping[str, Any]) -> None:
    """Add `cloud_config` to vendor_data2.json in every openstack/<version>/ of `files`."""
    versions = {
        path.split("/")[1]
        for path in files
        if path.count("/") == 2 and path.startswith("openstack/")
    }
    if not versions:
        raise errors.ConfigDriveInvalid(
            reason="the config drive has no openstack/<version>/ directory to add vendor data to."
        )
    part = "#cloud-config\n" + json.dumps(dict(cloud_config), sort_keys=True)
    for version in versions:
        path = f"openstack/{version}/vendor_data2.json"
        try:
            vendor = json.loads(files[path]) if path in files else {}
        except ValueError as exc:
            raise errors.ConfigDriveInvalid(reason=f"{path} is not JSON.") from exc
        if not isinstance(vendor, dict):
            raise errors.ConfigDriveInvalid(reason=f"{path} does not hold a JSON object.")
        vendor["cloud-init"] = _cloud_init_entry(vendor.get("cloud-init"), part)
        files[path] = _json(vendor)


# --- ISO 9660 --------------------------------------------------------------------


class _Budget(io.BytesIO):
    """A file's content as pycdlib extracts it, failing once the whole drive passes the bound."""

    def __init__(self, spent: int) -> None:
        super().__init__()
        self.spent = spent

    def write(self, data: Any) -> int:
        self.spent += len(data)
        if self.spent > MAX_IMAGE:
            raise errors.ConfigDriveTooLarge(limit=MAX_IMAGE // (1024 * 1024))
        return super().write(data)


def _plain_name(path: str) -> str:
    """A file's path as Linux shows a plain ISO 9660 one: no version, lowercase, no lone dot."""
    return path.partition(";")[0].rstrip(".").lower()


def _read_files(image: bytes) -> dict[str, bytes]:
    """Every file of an image, by path, through its Rock Ridge, Joliet or plain names.

    :raises ConfigDriveInvalid: pycdlib cannot read the image.
    :raises ConfigDriveTooLarge: its files add up to more than `MAX_IMAGE`
        (directory entries may share content).
    """
    iso = pycdlib.PyCdlib()
    files: dict[str, bytes] = {}
    try:
        iso.open_fp(io.BytesIO(image))
        plain = not (iso.has_rock_ridge() or iso.has_joliet())
        facade = "iso_path" if plain else "rr_path" if iso.has_rock_ridge() else "joliet_path"
        spent = 0
        for directory, _dirs, names in iso.walk(**{facade: "/"}):
            for name in names:
                out = _Budget(spent)
                iso.get_file_from_iso_fp(out, **{facade: posixpath.join(directory, name)})
                spent = out.spent
                path = posixpath.join(directory, name)
                files[(_plain_name(path) if plain else path).lstrip("/")] = out.getvalue()
        iso.close()
    except _UNREADABLE as exc:
        raise errors.ConfigDriveInvalid(reason=f"the ISO 9660 image cannot be read: {exc}") from exc
    return files


def _build(files: Mapping[str, bytes]) -> bytes:
    """A `config-2` ISO 9660 image of `files` (by path), with Rock Ridge and Joliet names."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=4, joliet=3, rock_ridge="1.09", vol_ident=LABEL)
    directories = {
        "/".join(path.split("/")[:depth])
        for path in files
        for depth in range(1, path.count("/") + 1)
    }
    out = io.BytesIO()
    try:
        for directory in sorted(directories):
            iso.add_directory(
                f"/{directory}", rr_name=posixpath.basename(directory), joliet_path=f"/{directory}"
            )
        for path, content in sorted(files.items()):
            iso.add_fp(
                io.BytesIO(content),
                len(content),
                f"/{path}",
                rr_name=posixpath.basename(path),
                joliet_path=f"/{path}",
            )
        iso.write_fp(out)
    except _UNREADABLE as exc:
        raise errors.ConfigDriveInvalid(
            reason=f"no ISO 9660 image can hold its files: {exc}"
        ) from exc
    finally:
        iso.close()
    if out.tell() > MAX_IMAGE:
        raise errors.ConfigDriveTooLarge(limit=MAX_IMAGE // (1024 * 1024))
    return out.getvalue()
