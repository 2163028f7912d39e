"""The dnsmasq provider's files, without a conductor: content, mode, atomicity, reconcile."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from ironbound import cli, config, dhcp, errors
from ironbound.dhcp import dnsmasq
from ironbound.dhcp.dnsmasq import DnsmasqProvider

A = "0b7ae7c4-5c4f-4d0c-9f63-5f3a0e6b1a01"
B = "0b7ae7c4-5c4f-4d0c-9f63-5f3a0e6b1a02"


@pytest.fixture
def provider(tmp_path: Path) -> DnsmasqProvider:
    conf = config.load(
        overrides={
            "state_path": str(tmp_path / "state"),
            "dhcp.dhcp_provider": "dnsmasq",
            "dnsmasq.dhcp_hostsdir": str(tmp_path / "hosts"),
            "dnsmasq.dhcp_optsdir": str(tmp_path / "opts"),
            "dnsmasq.dhcp_leasefile": str(tmp_path / "leases"),
        }
    )
    loaded = dhcp.load(conf)
    assert isinstance(loaded, DnsmasqProvider)
    return loaded


def _entry(node: str, *macs: str, token: str = "t0k3n") -> dhcp.HostEntry:
    return dhcp.HostEntry(node, tuple(macs), f"http://192.0.2.1:8080/boot/{token}/script.ipxe")


def test_the_default_provider_does_nothing(tmp_path: Path) -> None:
    provider = dhcp.load(config.load(overrides={"state_path": str(tmp_path)}))
    assert (provider.name, provider.active) == ("none", False)
    provider.publish(_entry(A, "52:54:00:00:00:01"))
    provider.sync([])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("missing", ["dhcp_hostsdir", "dhcp_optsdir", "dhcp_leasefile"])
def test_dnsmasq_needs_both_directories_and_the_lease_file(tmp_path: Path, missing: str) -> None:
    """Without the lease file the boot server could not bind nodes to their addresses."""
    paths = {"dhcp_hostsdir": "h", "dhcp_optsdir": "o", "dhcp_leasefile": "leases"}
    overrides = {f"dnsmasq.{k}": str(tmp_path / v) for k, v in paths.items() if k != missing}
    conf = config.load(overrides={"dhcp.dhcp_provider": "dnsmasq", **overrides})
    with pytest.raises(errors.DHCPError, match="dhcp_leasefile must all be set"):
        dhcp.load(conf)


def test_the_entry_url_is_kept_out_of_reprs() -> None:
    assert "t0k3n" not in repr(_entry(A, "52:54:00:00:00:01"))


def test_files_are_0640_whatever_the_umask(provider: DnsmasqProvider) -> None:
    old = os.umask(0)
    try:
        provider.publish(_entry(A, "52:54:00:00:00:01"))
    finally:
        os.umask(old)
    for folder in (provider.hostsdir, provider.optsdir):
        assert stat.S_IMODE((folder / f"ironbound-{A}").stat().st_mode) == 0o640


def test_a_failed_write_leaves_the_old_file_whole_and_no_temporary(
    provider: DnsmasqProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider.publish(_entry(A, "52:54:00:00:00:01", token="first"))
    opts = provider.optsdir / f"ironbound-{A}"
    before = opts.read_text()

    def broken_fsync(fd: int) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(errors.DHCPError, match="No space left on device"):
        provider.publish(_entry(A, "52:54:00:00:00:01", token="second"))
    assert opts.read_text() == before
    assert sorted(p.name for p in provider.optsdir.iterdir()) == [opts.name]


def test_writes_go_through_a_dot_file_and_a_rename(
    provider: DnsmasqProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dnsmasq ignores dot-files, so it only ever reads the renamed, complete file."""
    renames: list[tuple[str, str]] = []
    real_replace = Path.replace

    def spy(self: Path, target: Any) -> Path:
        renames.append((self.name, Path(target).name))
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", spy)
    provider.publish(_entry(A, "52:54:00:00:00:01"))
    assert [target for _, target in renames] == [f"ironbound-{A}", f"ironbound-{A}"]
    assert all(source.startswith(f".ironbound-{A}.") for source, _ in renames)


def test_unchanged_entries_are_not_rewritten(provider: DnsmasqProvider) -> None:
    provider.publish(_entry(A, "52:54:00:00:00:01"))
    hosts = provider.hostsdir / f"ironbound-{A}"
    stamp = hosts.stat().st_mtime_ns
    provider.sync([_entry(A, "52:54:00:00:00:01")])
    assert hosts.stat().st_mtime_ns == stamp  # dnsmasq is not made to re-read it


def test_a_mac_the_node_lost_is_withdrawn_in_its_file(provider: DnsmasqProvider) -> None:
    provider.publish(_entry(A, "52:54:00:00:00:01", "52:54:00:00:00:02"))
    provider.publish(_entry(A, "52:54:00:00:00:02"))
    assert (provider.hostsdir / f"ironbound-{A}").read_text().splitlines()[1:] == [
        f"52:54:00:00:00:02,set:ironbound,set:ironbound-{A}",
        "52:54:00:00:00:01,set:ironbound-withdrawn",
    ]


def test_withdrawing_twice_is_harmless(provider: DnsmasqProvider) -> None:
    provider.withdraw(A)  # never published
    provider.publish(_entry(A, "52:54:00:00:00:01"))
    provider.withdraw(A)
    provider.withdraw(A)
    assert provider.published() == set()
    assert not (provider.optsdir / f"ironbound-{A}").exists()


def test_sync_withdraws_strays_then_deletes_them_once_read(provider: DnsmasqProvider) -> None:
    provider.publish(_entry(A, "52:54:00:00:00:01"))
    provider.publish(_entry(B, "52:54:00:00:00:02"))
    foreign = provider.hostsdir / "static-hosts"
    foreign.write_text("52:54:00:00:00:09,set:other\n")
    provider.sync([_entry(A, "52:54:00:00:00:01")])
    stray = provider.hostsdir / f"ironbound-{B}"
    assert provider.published() == {A}
    assert stray.read_text().endswith("52:54:00:00:00:02,set:ironbound-withdrawn\n")
    # Deleted only once dnsmasq has had the grace period to read the withdrawal.
    old = time.time() - dnsmasq.WITHDRAWN_GRACE - 1
    os.utime(stray, (old, old))
    provider.sync([_entry(A, "52:54:00:00:00:01")])
    assert not stray.exists()
    assert foreign.read_text() == "52:54:00:00:00:09,set:other\n"


def test_the_static_config_names_the_directories_and_tags() -> None:
    text = dnsmasq.static_config("/srv/hosts", "/srv/opts", "/srv/leases")
    assert "dhcp-hostsdir=/srv/hosts\ndhcp-optsdir=/srv/opts\n" in text
    assert "\ndhcp-leasefile=/srv/leases\n" in text
    assert "dhcp-userclass=set:ipxe,iPXE" in text
    assert "dhcp-boot=tag:ironbound,tag:!ipxe,tag:!efi64,undionly.kpxe" in text
    assert "dhcp-boot=tag:ironbound,tag:!ipxe,tag:efi64,ipxe.efi" in text


def test_the_cli_prints_the_static_config_for_the_configured_directories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf_file = tmp_path / "ironbound.conf"
    conf_file.write_text(
        "[dnsmasq]\ndhcp_hostsdir = /srv/h\ndhcp_optsdir = /srv/o\ndhcp_leasefile = /srv/l\n"
    )
    assert cli.main(["dnsmasq-config", "--config-file", str(conf_file)]) == 0
    assert capsys.readouterr().out == dnsmasq.static_config("/srv/h", "/srv/o", "/srv/l")
    assert cli.main(["dnsmasq-config", "--state-dir", str(tmp_path)]) == 2
    assert "dhcp_leasefile" in capsys.readouterr().err
