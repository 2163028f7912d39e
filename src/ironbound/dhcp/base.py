"""The DHCP provider interface, the `none` provider, and the entry a node publishes."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from oslo_config import cfg

from ironbound import config


@dataclass(frozen=True)
class HostEntry:
    """What a DHCP server must know about one bootable node."""

    node_uuid: str
    macs: tuple[str, ...]
    #: The node's own script URL, token included: never log it.
    script_url: str = field(repr=False)


def host_entry(conf: cfg.ConfigOpts, node_uuid: str, macs: Sequence[str], token: str) -> HostEntry:
    """The entry for a node with these pxe_enabled MACs and this boot token."""
    return HostEntry(
        node_uuid=node_uuid,
        macs=tuple(sorted({mac.lower() for mac in macs})),
        script_url=config.boot_script_url(conf, token),
    )


class DHCPProvider:
    """The interface, and the ``none`` provider: Ironbound configures no DHCP server."""

    name = "none"
    #: False: publishing is a no-op, so the conductor skips the reconcile query.
    active = False

    def __init__(self) -> None:
        #: Held by the conductor around a boot token's write and the matching
        #: publish or withdraw, and around the reconcile's read and sync, so a
        #: reconcile never writes back what it read before a flow changed it.
        self.lock = threading.Lock()

    @classmethod
    def from_config(cls, conf: cfg.ConfigOpts) -> DHCPProvider:
        """The provider for `conf`; every provider is built this way (`dhcp.load`).

        :raises DHCPError: the configuration lacks what the provider needs.
        """
        return cls()

    def publish(self, entry: HostEntry) -> None:
        """Make the node's MACs boot its script (replacing what the node had)."""

    def withdraw(self, node_uuid: str) -> None:
        """Stop offering the node anything (idempotent)."""

    def sync(self, entries: Iterable[HostEntry]) -> None:
        """Hold exactly `entries`: publish those that changed, withdraw every other."""
