"""What every flow in a conductor shares: config, database, keys, drivers, signals."""

from __future__ import annotations

from dataclasses import dataclass, field

from oslo_config import cfg

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
