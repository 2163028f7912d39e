"""The configuration: defaults that let `serve` start bare, and the documented sample."""

from __future__ import annotations

from pathlib import Path

import pytest
from oslo_config import cfg

from ironbound import config
from ironbound.db import migrate

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_need_no_file(tmp_path: Path) -> None:
    conf = config.load(overrides={"state_path": str(tmp_path)})
    assert conf.api.host_ip == "127.0.0.1"
    assert conf.api.port == 6385
    assert conf.auth_strategy == "noauth"
    assert config.database_url(conf) == f"sqlite:///{tmp_path}/ironbound.sqlite"
    assert (tmp_path.stat().st_mode & 0o777) == 0o700


def _ini(tmp_path: Path, text: str) -> Path:
    ini = tmp_path / "ironbound.conf"
    ini.write_text(text)
    return ini


def test_ironic_option_names_from_a_file(tmp_path: Path) -> None:
    ini = _ini(
        tmp_path,
        "[DEFAULT]\nenabled_storage_interfaces = external,noop\n"
        "default_storage_interface = external\n[api]\nport = 7000\n",
    )
    conf = config.load([str(ini)])
    assert conf.enabled_storage_interfaces == ["external", "noop"]
    assert conf.default_storage_interface == "external"
    assert conf.api.port == 7000
    assert config.sources(conf) == ([str(ini)], {})


def test_committed_sample_lists_every_option() -> None:
    committed = (ROOT / "docs" / "ironbound.conf.sample").read_text()
    assert committed.strip() == config.sample().strip(), (
        "docs/ironbound.conf.sample is stale: run `ironbound config-sample > "
        "docs/ironbound.conf.sample`"
    )


def test_schema_revision_is_alembics_head() -> None:
    assert migrate.head_revision() == migrate.SCHEMA_REVISION


def test_a_conductor_group_is_ironics_characters(tmp_path: Path) -> None:
    ini = tmp_path / "ironbound.conf"
    ini.write_text("[conductor]\nconductor_group = Rack_1.a-b\n")
    assert config.load([str(ini)]).conductor.conductor_group == "Rack_1.a-b"
    ini.write_text("[conductor]\nconductor_group = rack 1\n")
    with pytest.raises(ValueError, match="doesn't match regex"):
        _ = config.load([str(ini)]).conductor.conductor_group


def test_library_options_registered_late_read_the_file(tmp_path: Path) -> None:
    ini = _ini(
        tmp_path,
        "[cinder]\nauth_type = admin_token\nregion_name = east\ntimeout = 7\n"
        "[keystone_authtoken]\ntoken_cache_time = 42\n",
    )
    conf = config.load([str(ini)])
    with pytest.raises(cfg.NoSuchOptError):
        _ = conf.cinder.region_name
    config.register_library_opts(conf)
    config.register_library_opts(conf)  # a second call changes nothing
    assert conf.cinder.auth_type == "admin_token"
    assert conf.cinder.region_name == "east"
    assert conf.cinder.timeout == 7
    assert conf.cinder.service_type == "volumev3"
    assert conf.keystone_authtoken.token_cache_time == 42


def test_overrides_of_library_options_register_them() -> None:
    conf = config.load(overrides={"keystone_authtoken.token_cache_time": 9})
    assert conf.keystone_authtoken.token_cache_time == 9
