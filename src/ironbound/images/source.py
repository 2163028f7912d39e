"""What instance_info says about the image: where it is and which checksum it must have.

Ironic's rules, kept: `image_os_hash_algo` + `image_os_hash_value` win over
`image_checksum`; `image_checksum` is `algo:hex`, a bare hex value (its length
names SHA-512 or SHA-256; 32 digits are MD5, accepted only when
`[agent]allow_md5_checksum` says so), or the URL of a checksums file. A
file:// image without a checksum is hashed as it is read (Ironic does the
same); an http(s) image must have one. file:// paths must lie under
`[conductor]file_url_allowed_paths`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from oslo_config import cfg

from ironbound import errors

ALGORITHMS = ("sha256", "sha512", "sha384", "sha1", "md5")
_LENGTHS = {128: "sha512", 64: "sha256"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    value: str  #: lower-case hex

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.value}"


@dataclass(frozen=True)
class ImageRef:
    """Where the image is and what it must hash to.

    `checksum` is None only for a local file given without one: it is then
    hashed while read, and what it hashed to identifies it from then on.
    `checksum_url` is set when image_checksum names a checksums file (fetched
    at deploy, not at validate).
    """

    url: str
    local_path: Path | None
    checksum: Checksum | None
    checksum_url: str | None = None


def _invalid(reason: str) -> errors.InvalidParameterValue:
    return errors.InvalidParameterValue(reason=reason)


def parse_checksum(text: str, conf: cfg.ConfigOpts, algorithm: str | None = None) -> Checksum:
    """An `algo:hex` or bare hex checksum, checked for a known algorithm and a matching length."""
    value = text.strip()
    if ":" in value:
        algorithm, _, value = value.partition(":")
    algorithm = (algorithm or "").strip().lower() or None
    if not value or not _HEX.match(value):
        raise _invalid(f"image checksum '{text}' is not a hexadecimal value (or algo:hex)")
    if algorithm is None:
        if len(value) == 32:
            algorithm = "md5"
        elif len(value) in _LENGTHS:
            algorithm = _LENGTHS[len(value)]
        else:
            raise _invalid(
                f"image checksum has {len(value)} hex digits, which names no algorithm: give "
                "it as algo:hex (sha256, sha512, ...)"
            )
    if algorithm not in ALGORITHMS:
        raise _invalid(
            f"image checksum algorithm '{algorithm}' is not supported; use one of "
            f"{', '.join(ALGORITHMS)}"
        )
    if algorithm == "md5" and not conf.agent.allow_md5_checksum:
        raise _invalid(
            "image checksum is MD5, which [agent]allow_md5_checksum does not allow (MD5 does not "
            "protect against a tampered image): give a SHA-256 or SHA-512 value"
        )
    if len(value) != hashlib.new(algorithm).digest_size * 2:
        raise _invalid(f"image checksum '{text}' is not as long as a {algorithm} value")
    return Checksum(algorithm, value.lower())


def _allowed_local_path(url: str, conf: cfg.ConfigOpts) -> Path:
    path = Path(urlsplit(url).path)
    if not path.is_absolute() or ".." in path.parts:
        raise _invalid(f"image_source {url} must name an absolute path without '..'")
    allowed = [Path(p) for p in conf.conductor.file_url_allowed_paths]
    if not any(path.is_relative_to(base) for base in allowed):
        raise _invalid(
            f"image_source {url} is outside the folders [conductor]file_url_allowed_paths "
            f"allows ({', '.join(map(str, allowed)) or 'none'})"
        )
    return path


def image_ref(instance_info: Mapping[str, Any], conf: cfg.ConfigOpts) -> ImageRef:
    """The image instance_info names, checked without fetching anything.

    :raises InvalidParameterValue, MissingParameterValue: what is wrong and what is allowed.
    """
    url = str(instance_info.get("image_source") or "").strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise _invalid(
            f"image_source '{url}' is not an http://, https:// or file:// URL (Glance image "
            "ids are not supported)"
        )
    local = _allowed_local_path(url, conf) if scheme == "file" else None
    if "image_os_hash_value" in instance_info:
        algorithm = str(instance_info.get("image_os_hash_algo") or "").strip()
        if not algorithm:
            raise errors.MissingParameterValue(
                reason="image_os_hash_value is set but image_os_hash_algo is not"
            )
        value = str(instance_info["image_os_hash_value"])
        return ImageRef(url, local, parse_checksum(value, conf, algorithm))
    given = str(instance_info.get("image_checksum") or "").strip()
    if given.startswith(("http://", "https://")):
        return ImageRef(url, local, None, checksum_url=given)
    if given:
        return ImageRef(url, local, parse_checksum(given, conf))
    if local is None:
        raise errors.MissingParameterValue(
            reason=f"image_source {url} needs a checksum: set image_checksum (algo:hex, or the "
            "URL of a checksums file) or image_os_hash_algo and image_os_hash_value"
        )
    return ImageRef(url, local, None)


def checksum_from_file(text: str, image_url: str, conf: cfg.ConfigOpts) -> Checksum:
    """The image's checksum out of a checksums file (`sha256sum` output, BSD style
    `SHA256 (name) = hex`, or a file holding one bare value).

    :raises ImageError: the file names no checksum for the image.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("#")]
    if len(lines) == 1 and " " not in lines[0]:
        return parse_checksum(lines[0], conf)
    name = Path(urlsplit(image_url).path).name
    for line in lines:
        bsd = re.match(r"^(\w+)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)$", line)
        if bsd and bsd.group(2) == name:
            return parse_checksum(bsd.group(3), conf, bsd.group(1))
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("*") == name:
            return parse_checksum(fields[0], conf)
    raise errors.ImageError(reason=f"the checksums file names no checksum for {name}")
