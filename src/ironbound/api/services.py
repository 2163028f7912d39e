"""What the API's handlers share: config, database, key, catalogue, conductor wake-ups."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from oslo_config import cfg

from ironbound.db import conductors
from ironbound.db.session import Database
from ironbound.sensitive import SecretBox
from ironbound.signals import Signals

_CATALOGUE_TTL = 2.0


@dataclass
class ApiServices:
    conf: cfg.ConfigOpts
    db: Database
    box: SecretBox
    signals: Signals
    _catalogue: dict[str, conductors.HardwareEntry] = field(default_factory=dict)
    _catalogue_at: float = -1e9
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def catalogue(self) -> dict[str, conductors.HardwareEntry]:
        """Hardware types live conductors offer; cached for a couple of seconds."""
        now = time.monotonic()
        with self._lock:
            if now - self._catalogue_at > _CATALOGUE_TTL:
                with self.db.read() as session:
                    self._catalogue = conductors.catalogue(
                        session, self.conf.conductor.heartbeat_timeout
                    )
                self._catalogue_at = now
            return self._catalogue
