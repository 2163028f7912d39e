"""What every flow in a conductor shares: config, database, keys, drivers, signals, DHCP."""

from __future__ import annotations

from dataclasses import dataclass, field

from oslo_config import cfg

from ironbound import dhcp
from ironbound.conductor.progress import Backlog
from ironbound.db.session import Database
from ironbound.drivers.registry import Registry
from ironbound.sensitive import SecretBox
from ironbound.signals import Signals


@dataclass
class ConductorContext:
    conf: cfg.ConfigOpts
    db: Database
    box: SecretBox
    registry: Registry
    hostname: str
    signals: Signals = field(default_factory=Signals)
    #: Claims whose progress records wait for their next write (conductor/progress.py).
    progress: Backlog = field(default_factory=Backlog)
    #: The DHCP provider [dhcp]dhcp_provider names, loaded with the context.
    dhcp: dhcp.DHCPProvider = field(init=False)

    def __post_init__(self) -> None:
        self.dhcp = dhcp.load(self.conf)

    @property
    def group(self) -> str:
        """The conductor group this conductor serves ([conductor]conductor_group, lower case)."""
        return str(self.conf.conductor.conductor_group).lower()
