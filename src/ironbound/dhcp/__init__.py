"""DHCP providers: pointing a deployed node's network boot at its own boot script.

The conductor publishes a node's entry when it issues the node's boot token
and withdraws it when it revokes the token; a periodic reconcile (and a full
one at conductor start) makes the provider hold exactly the entries of the
nodes the database says are bootable, so a node deleted through the API, a
crash or a takeover leaves nothing behind for long. `[dhcp]dhcp_provider`
names the provider, a plug-in of the ``ironbound.dhcp.providers`` entry point
group (`plugins`): ``none`` (the operator's DHCP server does it all) or
``dnsmasq`` (files in dnsmasq's ``--dhcp-hostsdir`` and ``--dhcp-optsdir``).
dnsmasq's lease file (`leases`, ``[dnsmasq]dhcp_leasefile``) tells the boot
server which address DHCP gave each MAC.

An entry holds the node's boot script URL, which carries its token: a
secret. Providers never log it.
"""

from __future__ import annotations

from pathlib import Path

from oslo_config import cfg

from ironbound import plugins
from ironbound.dhcp.base import DHCPProvider, HostEntry, host_entry
from ironbound.dhcp.dnsmasq import DnsmasqProvider
from ironbound.dhcp.leases import LeaseFile

__all__ = [
    "DHCPProvider",
    "DnsmasqProvider",
    "HostEntry",
    "LeaseFile",
    "host_entry",
    "lease_file",
    "load",
]


def load(conf: cfg.ConfigOpts) -> DHCPProvider:
    """The provider `[dhcp]dhcp_provider` names.

    :raises PluginNotFound: no installed provider has that name.
    :raises DHCPError: the provider cannot work with this configuration.
    """
    provider = plugins.load_configured(
        plugins.DHCP_PROVIDERS, "[dhcp]dhcp_provider", conf.dhcp.dhcp_provider, DHCPProvider
    )
    return provider.from_config(conf)


def lease_file(conf: cfg.ConfigOpts) -> LeaseFile | None:
    """The dnsmasq lease file the boot server binds nodes' addresses to, if one is set
    (the dnsmasq provider requires it)."""
    path = conf.dnsmasq.dhcp_leasefile
    return LeaseFile(Path(path)) if path else None
