"""A restarted tgtd has every export that should be live back within 30 s, with the
default configuration (the full storage check comes only every 300 s; open-iscsi gives
up on a lost session after 120 s)."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from oslo_config import cfg

from ironbound import records
from ironbound.api.services import ApiServices
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import provision
from tests.conftest import wait_until
from tests.managed.conftest import point_at
from tests.managed.support import boot_target, enroll, initiator, login, volume_of

#: The promise: every export is live again this long after tgtd comes back.
BOUND = 30.0


def test_a_restarted_tgtd_has_every_export_back_within_the_bound_by_default(
    client: TestClient, services: ApiServices, conf: cfg.ConfigOpts, own_tgtd: TgtServer
) -> None:
    point_at(conf, own_tgtd)
    conf.clear_override("sync_storage_interval", group="conductor")  # the default, 300 s
    iqns = [initiator(), initiator()]
    nodes = [enroll(client, iqn) for iqn in iqns]
    for node in nodes:
        provision(client, node, "active", "active")
    exported = [volume_of(services, boot_target(client, node)["volume_id"]) for node in nodes]
    own_tgtd.stop()
    own_tgtd.start()
    back = time.monotonic()
    for volume, iqn in zip(exported, iqns, strict=True):
        assert volume is not None

        def live(v: records.ManagedVolume = volume, i: str = iqn) -> bool:
            return login(own_tgtd.host_portals[0], v, i).returncode == 0

        left = max(0.0, BOUND - (time.monotonic() - back))
        wait_until(live, timeout=left, what=f"the export of {volume.uuid} within {BOUND:g} s")
    for node in nodes:
        provision(client, node, "deleted", "available")
