"""file:// images never read what the conductor keeps to itself (issue 24: with the
documented layout, a member copied secret.key and another node's volume onto a LUN of
their own): a configuration that allows it is refused at start, and a path that leads
there by a symlink, '..', /proc/self or a hard link is refused when fetched."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

from ironbound import config, errors
from ironbound.images import fetch, source
from ironbound.service import Parts, Service

SECRET = b"the-conductor-key-0123456789"


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    return {"conductor.file_url_allowed_paths": [str(tmp_path / "images")]}


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    return folder


@pytest.fixture
def key(conf: cfg.ConfigOpts) -> Path:
    path = config.key_file(conf)
    path.write_bytes(SECRET)
    return path


def _fetch(conf: cfg.ConfigOpts, path: Path | str) -> None:
    ref = source.image_ref({"image_source": f"file://{path}"}, conf)
    fetch.fetch(ref, conf, report=lambda _line: None)


def _nothing_copied(conf: cfg.ConfigOpts) -> None:
    cache = config.image_cache_dir(conf)
    copied = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
    assert not any(SECRET in p.read_bytes() for p in copied)


@pytest.mark.parametrize(
    "allowed",
    [
        config.state_path,  # the documented /var/lib/ironbound layout
        lambda conf: config.state_path(conf).parent,
        lambda conf: config.volumes_dir(conf) / "sub",
        lambda conf: config.key_file(conf).parent,
        lambda conf: Path("/proc/self"),
        lambda conf: Path("/"),
    ],
    ids=["state", "above-state", "in-volumes", "key-folder", "proc", "root"],
)
def test_a_configuration_that_reaches_protected_files_is_refused_at_start(
    conf: cfg.ConfigOpts, allowed: Any
) -> None:
    conf.set_override("file_url_allowed_paths", [str(allowed(conf))], group="conductor")
    with pytest.raises(SystemExit, match=r"file_url_allowed_paths names .* which overlaps"):
        Service(conf, Parts(api=False, bootserver=False))


def test_a_config_files_folder_is_refused_at_start(tmp_path: Path) -> None:
    options = tmp_path / "etc" / "ironbound.conf"
    options.parent.mkdir()
    options.write_text(f"[DEFAULT]\nstate_path = {tmp_path / 'state'}\n"
                       f"[conductor]\nfile_url_allowed_paths = {options.parent}\n")  # fmt: skip
    with pytest.raises(SystemExit, match="overlaps"):
        Service(config.load([str(options)]), Parts(api=False, bootserver=False))


def test_the_defaults_start(conf: cfg.ConfigOpts) -> None:
    conf.clear_override("file_url_allowed_paths", group="conductor")
    source.check_allowed_paths(conf)
    assert "/var/lib/ironbound" not in conf.conductor.file_url_allowed_paths


def test_a_symlink_to_the_key_is_refused(conf: cfg.ConfigOpts, images: Path, key: Path) -> None:
    (images / "os.raw").symlink_to(key)
    with pytest.raises(
        errors.InvalidParameterValue, match=r"outside|keeps to itself|symbolic link"
    ):
        _fetch(conf, images / "os.raw")
    _nothing_copied(conf)


def test_a_symlinked_folder_into_the_state_is_refused(
    conf: cfg.ConfigOpts, images: Path, key: Path
) -> None:
    (images / "st").symlink_to(key.parent, target_is_directory=True)
    with pytest.raises(errors.InvalidParameterValue, match=r"outside|keeps to itself"):
        _fetch(conf, images / "st" / key.name)
    _nothing_copied(conf)


def test_a_symlink_swapped_in_after_validation_is_refused(
    conf: cfg.ConfigOpts, images: Path, key: Path
) -> None:
    image = images / "os.raw"
    image.write_bytes(b"\0" * 4096)
    ref = source.image_ref({"image_source": f"file://{image}"}, conf)
    image.unlink()
    image.symlink_to(key)
    with pytest.raises(errors.InvalidParameterValue, match="symbolic link"):
        fetch.fetch(ref, conf, report=lambda _line: None)
    _nothing_copied(conf)


def test_dot_dot_and_proc_self_are_refused(conf: cfg.ConfigOpts, images: Path, key: Path) -> None:
    for path in (f"{images}/../state/{key.name}", f"/proc/self/root{key}", f"/proc/self/cwd/{key}"):
        with pytest.raises(errors.InvalidParameterValue):
            _fetch(conf, path)
    _nothing_copied(conf)


def test_a_hard_link_to_the_key_is_refused(conf: cfg.ConfigOpts, images: Path, key: Path) -> None:
    os.link(key, images / "os.raw")
    with pytest.raises(errors.InvalidParameterValue, match="hard link"):
        _fetch(conf, images / "os.raw")
    _nothing_copied(conf)


def test_a_fifo_is_refused_without_blocking(conf: cfg.ConfigOpts, images: Path) -> None:
    os.mkfifo(images / "os.raw")
    with pytest.raises(errors.InvalidParameterValue, match="not a regular file"):
        _fetch(conf, images / "os.raw")


def test_a_plain_image_in_an_allowed_folder_is_fetched(conf: cfg.ConfigOpts, images: Path) -> None:
    (images / "os.raw").write_bytes(b"\1" * 4096)
    _fetch(conf, images / "os.raw")
