"""Plug-ins: every extension point is an entry point group, loaded one way.

The drivers' own contract tests are in tests/unit/drivers/test_contracts.py;
these cover the DHCP providers and the managed storage's iSCSI backends, a
plug-in installed from outside the tree, and the installed metadata itself.
"""

from __future__ import annotations

import inspect
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from ironbound import config, dhcp, errors, plugins
from ironbound.dhcp.base import DHCPProvider
from ironbound.drivers.storage.managed import backend
from ironbound.drivers.storage.managed.backend import Backend
from ironbound.drivers.storage.managed.tgt import TgtBackend

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_groups() -> Iterator[None]:
    """Entry point groups read anew (they are cached for the life of a process)."""
    plugins.group.cache_clear()
    yield
    plugins.group.cache_clear()


def test_the_installed_entry_points_are_pyprojects() -> None:
    """Entry points come from the installed metadata, not from pyproject.toml: after a
    change to them, `pip install -e .` (scripts/setup) must run again."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for group, members in declared.items():
        if not group.startswith("ironbound."):
            continue
        installed = {ep.name: ep.value for ep in entry_points(group=group)}
        assert installed == members, f"{group} is stale in the installed metadata: scripts/setup"


@pytest.mark.parametrize(
    ("group", "kind"),
    [(plugins.DHCP_PROVIDERS, DHCPProvider), (plugins.MANAGED_BACKENDS, Backend)],
)
def test_every_registered_plugin_is_complete(group: str, kind: type) -> None:
    registered = plugins.group(group)
    assert registered
    for name in registered:
        loaded: type = plugins.load(group, name, kind)
        assert not inspect.isabstract(loaded), f"{name} leaves abstract methods unimplemented"


def test_the_dhcp_providers_are_named_as_the_option_says() -> None:
    for name, entry in plugins.group(plugins.DHCP_PROVIDERS).items():
        assert entry.load().name == name


def test_an_unknown_dhcp_provider_is_a_configuration_error(tmp_path: Path) -> None:
    conf = config.load(overrides={"state_path": str(tmp_path), "dhcp.dhcp_provider": "dnsmasqq"})
    with pytest.raises(errors.PluginNotFound) as raised:
        dhcp.load(conf)
    assert str(raised.value) == (
        "Invalid configuration: [dhcp]dhcp_provider is 'dnsmasqq', but the installed "
        "ironbound.dhcp.providers are dnsmasq, none."
    )


def test_the_managed_backend_is_the_target_helper(tmp_path: Path) -> None:
    conf = config.load(overrides={"state_path": str(tmp_path)})
    assert type(backend.load(conf)) is TgtBackend
    conf.set_override("target_helper", "lio", group="managed")
    with pytest.raises(errors.PluginNotFound, match=r"\[managed\]target_helper is 'lio'"):
        backend.load(conf)


def _distribution(
    folder: Path, monkeypatch: pytest.MonkeyPatch, name: str, group: str, entry: str
) -> None:
    """An installed distribution `name` in `folder` (on sys.path) registering `entry`."""
    info = folder / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{entry}\n")
    monkeypatch.syspath_prepend(str(folder))


def test_a_plugin_from_another_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_groups: None
) -> None:
    """A package that registers a provider is all it takes: no code of Ironbound changes."""
    (tmp_path / "acme_dhcp.py").write_text(
        "from ironbound.dhcp.base import DHCPProvider\n\n"
        "class AcmeProvider(DHCPProvider):\n    name = 'acme'\n"
    )
    _distribution(tmp_path, monkeypatch, "acme-dhcp", "ironbound.dhcp.providers",
                  "acme = acme_dhcp:AcmeProvider")  # fmt: skip
    monkeypatch.delitem(sys.modules, "acme_dhcp", raising=False)
    conf = config.load(overrides={"state_path": str(tmp_path), "dhcp.dhcp_provider": "acme"})
    assert type(dhcp.load(conf)).__name__ == "AcmeProvider"


def test_a_plugin_of_the_wrong_kind_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_groups: None
) -> None:
    _distribution(tmp_path, monkeypatch, "wrong", "ironbound.managed.backends",
                  "wrong = ironbound.dhcp.base:DHCPProvider")  # fmt: skip
    with pytest.raises(TypeError, match=r"registered as 'wrong' in ironbound\.managed\.backends"):
        plugins.load(plugins.MANAGED_BACKENDS, "wrong", Backend)  # type: ignore[type-abstract]
