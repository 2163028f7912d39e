"""What instance_info says about the image: where it is and which checksum it must have.

Ironic's rules, kept: `image_os_hash_algo` + `image_os_hash_value` win over
`image_checksum`; `image_checksum` is `algo:hex`, a bare hex value (its length
names SHA-512 or SHA-256; 32 digits are MD5, accepted only when
`[agent]allow_md5_checksum` says so), or the URL of a checksums file. A
file:// image without a checksum is hashed as it is read (Ironic does the
same); an http(s) image must have one. file:// paths must lie under
`[conductor]file_url_allowed_paths`.

A file:// image never reads what the conductor keeps to itself
(`config.protected_paths`: state, key, database, volumes, image cache, option
files), nor /proc, /sys or /dev, however the path gets there: an allowed folder
that overlaps one of them is refused at start, and the file itself is checked
once opened (no symlink as its last part, a regular file with one link, its
real path and every folder above it, by device and inode, outside them).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from oslo_config import cfg

from ironbound import config, errors

ALGORITHMS = ("sha256", "sha512", "sha384", "sha1", "md5")
_LENGTHS = {128: "sha512", 64: "sha256"}
_HEX = re.compile(r"^[0-9a-fA-F]+$")
#: The kernel's views of processes, devices and settings: never an image, whatever is allowed.
_SYSTEM_TREES = (Path("/proc"), Path("/sys"), Path("/dev"))
_KEPT = (
    "leads into what Ironbound keeps to itself (its state, key, database, volumes, image "
    "cache or option files) or into /proc, /sys or /dev"
)


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


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _overlap(one: Path, other: Path) -> bool:
    return one.is_relative_to(other) or other.is_relative_to(one)


def _kept_paths(conf: cfg.ConfigOpts) -> list[Path]:
    return [_real(path) for path in config.protected_paths(conf)] + list(_SYSTEM_TREES)


def check_allowed_paths(conf: cfg.ConfigOpts) -> None:
    """Refuse a [conductor]file_url_allowed_paths that holds, or lies inside, anything the
    conductor keeps to itself (checked at start: no file:// URL may then reach them).

    :raises ConfigInvalid: which allowed folder overlaps what.
    """
    kept = _kept_paths(conf)
    for allowed in conf.conductor.file_url_allowed_paths:
        real = _real(Path(allowed))
        for path in kept:
            if _overlap(real, path):
                raise errors.ConfigInvalid(
                    reason=f"[conductor]file_url_allowed_paths names {allowed}, which overlaps "
                    f"{path}: a file:// image_source could read it. Allow only folders that "
                    "hold images and nothing of Ironbound's own."
                )


def _check_local_path(path: Path, url: str, conf: cfg.ConfigOpts) -> None:
    """:raises InvalidParameterValue: `path`, resolved, is outside the allowed folders or
    inside what the conductor keeps to itself."""
    real = _real(path)
    allowed = [_real(Path(p)) for p in conf.conductor.file_url_allowed_paths]
    if not any(real.is_relative_to(base) for base in allowed):
        raise _invalid(
            f"image_source {url} is outside the folders [conductor]file_url_allowed_paths "
            f"allows ({', '.join(conf.conductor.file_url_allowed_paths) or 'none'})"
        )
    if any(real.is_relative_to(kept) for kept in _kept_paths(conf)):
        raise _invalid(f"image_source {url} {_KEPT}")


def _allowed_local_path(url: str, conf: cfg.ConfigOpts) -> Path:
    path = Path(urlsplit(url).path)
    if not path.is_absolute() or ".." in path.parts:
        raise _invalid(f"image_source {url} must name an absolute path without '..'")
    _check_local_path(path, url, conf)
    return path


def open_local(path: Path, url: str, conf: cfg.ConfigOpts) -> IO[bytes]:
    """The file:// image, opened for reading once what was opened proved allowed: its last
    part no symlink, a regular file with a single link, its real path (as the kernel names
    the open file) allowed, and neither it nor a folder above it (by device and inode, so
    a bind mount cannot hide one) anything the conductor keeps to itself.

    :raises InvalidParameterValue: it is not allowed; OSError: it cannot be opened.
    """
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if path.is_symlink():
            raise _invalid(f"image_source {url} is a symbolic link") from exc
        raise
    try:
        _check_opened(fd, url, conf)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def _check_opened(fd: int, url: str, conf: cfg.ConfigOpts) -> None:
    found = os.fstat(fd)
    if not stat.S_ISREG(found.st_mode):
        raise _invalid(f"image_source {url} is not a regular file")
    if found.st_nlink != 1:
        raise _invalid(f"image_source {url} has more than one hard link")
    real = Path(f"/proc/self/fd/{fd}").readlink()
    _check_local_path(real, url, conf)
    kept = {_identity(path) for path in config.protected_paths(conf)}
    chain = [found, *(parent.stat() for parent in real.parents)]
    if any((each.st_dev, each.st_ino) in kept for each in chain):
        raise _invalid(f"image_source {url} {_KEPT}")


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None  # not there (yet): nothing to be reached through it
    return found.st_dev, found.st_ino


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


def checksum_from_file(text: str, image_url: str, conf: cfg.ConfigOpts, file_url: str) -> Checksum:
    """The image's checksum out of a checksums file (`sha256sum` output, BSD style
    `SHA256 (name) = hex`, or a file holding one bare value).

    :raises ImageError: of one fixed shape, which quotes nothing of the file: whatever
        the URL returned (a cloud's credentials, say) must not reach last_error.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("#")]
    name = Path(urlsplit(image_url).path).name
    try:
        if len(lines) == 1 and " " not in lines[0]:
            return parse_checksum(lines[0], conf)
        for line in lines:
            bsd = re.match(r"^(\w+)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)$", line)
            if bsd and bsd.group(2) == name:
                return parse_checksum(bsd.group(3), conf, bsd.group(1))
            fields = line.split()
            if len(fields) == 2 and fields[1].lstrip("*") == name:
                return parse_checksum(fields[0], conf)
    except errors.Invalid:
        pass  # its reason quotes the file
    raise errors.ImageError(
        reason=f"the checksums file at {file_url} holds no checksum Ironbound accepts for "
        f"{name} (algo:hex of {', '.join(ALGORITHMS)}; md5 only with "
        "[agent]allow_md5_checksum)"
    )
