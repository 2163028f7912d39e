"""Backing files of managed volumes (sparse, owner-only, created without clobbering) and
of the nodes' config drives (owner-only, replaced whole)."""

from __future__ import annotations

import os
from pathlib import Path

from oslo_config import cfg

from ironbound import config, errors

GIB = 1024**3


def directory(conf: cfg.ConfigOpts) -> Path:
    """[managed]volumes_dir, or managed-volumes in state_path; created 0700."""
    path = config.volumes_dir(conf)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise errors.StorageError(f"cannot create the volume directory {path}: {exc}") from exc
    return path


def create(path: Path, size_bytes: int) -> None:
    """A new sparse file of `size_bytes`, mode 0600; an existing file is never reused."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise errors.StorageError(f"cannot create the volume file {path}: {exc}") from exc
    try:
        os.ftruncate(fd, size_bytes)
    except OSError as exc:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise errors.StorageError(f"cannot size the volume file {path}: {exc}") from exc
    os.close(fd)


def remove(path: str) -> None:
    try:
        Path(path).unlink(missing_ok=True)
    except OSError as exc:
        raise errors.StorageError(f"cannot delete the volume file {path}: {exc}") from exc


def config_drive_path(conf: cfg.ConfigOpts, node_uuid: str) -> Path:
    """Where the node's config drive ISO lives while its volume is attached."""
    return directory(conf) / f"config-drive-{node_uuid}.iso"


def write_config_drive(conf: cfg.ConfigOpts, node_uuid: str, iso: bytes) -> Path:
    """The node's config drive, mode 0600, written whole and then moved into place (tgtd
    keeps reading a replaced file's old content until its LUN is re-created)."""
    path = config_drive_path(conf, node_uuid)
    partial = path.with_name(path.name + ".partial")
    try:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(iso)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise errors.StorageError(f"cannot write the config drive {path}: {exc}") from exc
    return path
