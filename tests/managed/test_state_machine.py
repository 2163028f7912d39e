"""Any sequence of deploy, boot, rebuild, undeploy, abort, callback timeout, contested
boot and tgtd restart on a `managed` node (fake power, the in-process conductor, the
boot server, a real tgtd of the test's own) keeps the data promises:

* a volume the node keeps, or ran on, is never deleted but by an undeploy that may;
* what the node wrote on it is never overwritten (no image_source: nothing is written);
* every export of an active node is live again within 30 s of tgtd coming back, with the
  default export watch (the full storage check is left at its 300 s);
* tgtd exports nothing that no volume row says is attached.

Two nodes sharing a volume, conductor kills and the `external` interface are in
tests/managed/test_state_machine_fleet.py.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from oslo_config import cfg

from ironbound.api.services import ApiServices
from ironbound.db import managed_volumes
from ironbound.lab.tgt import TgtServer
from tests import stateful
from tests.api.helpers import ok, provision
from tests.bootserver import test_boot_flow as flow
from tests.conftest import wait_until
from tests.managed.conftest import point_at
from tests.managed.support import boot_target, enroll, initiator, login, volume_of
from tests.managed.test_data_safety import (
    MAC,
    _abort,
    _booted,
    _callback_timeout,
    _contested,
    _data,
    _detached,
    _state,
    _write_data,
)
from tests.managed.test_lifecycle import wait_callback

boot = flow.boot
#: The promise: every export that should be live is live again this long after tgtd is back.
BOUND = 30.0


@pytest.fixture
def overrides() -> dict[str, Any]:
    """The boot server's URL; a periodic tick (the callback timeout) every 0.2 s."""
    return {"deploy.http_url": flow.BOOT_URL, "conductor.heartbeat_interval": 0.2}


def test_no_sequence_loses_or_overwrites_a_volume(
    client: TestClient,
    services: ApiServices,
    boot: TestClient,
    conf: cfg.ConfigOpts,
    own_tgtd: TgtServer,
) -> None:
    point_at(conf, own_tgtd)
    conf.clear_override("sync_storage_interval", group="conductor")  # restores: the watch's

    class Machine(RuleBasedStateMachine):
        """One node; `keep` is chosen per example; the model is what must survive."""

        def __init__(self) -> None:
            super().__init__()
            self.keep = False
            self.iqn = initiator()
            self.node = ""
            self.volume: str | None = None  # the node's volume, once it ran on one
            self.data: str | None = None  # the volume the node wrote on

        @initialize(keep=st.booleans())
        def enrolled(self, keep: bool) -> None:
            self.keep = keep
            self.node = enroll(client, self.iqn, boot="ipxe", mac=MAC, keep_boot_volume=keep)

        def state(self) -> str:
            return _state(client, self.node)

        @precondition(lambda self: self.state() == "available")
        @rule()
        def deploy(self) -> None:
            wait_callback(client, self.node)

        @precondition(lambda self: self.state() == "wait call-back")
        @rule()
        def boots(self) -> None:
            _booted(client, boot, self.node)
            self.volume = boot_target(client, self.node)["volume_id"]

        @precondition(lambda self: self.state() == "active")
        @rule()
        def writes(self) -> None:
            found = volume_of(services, str(self.volume))
            assert found is not None
            _write_data(Path(found.path))
            self.data = found.uuid

        @precondition(lambda self: self.state() == "active")
        @rule()
        def rebuild(self) -> None:
            provision(client, self.node, "rebuild")
            wait_until(lambda: self.state() == "wait call-back", what="the rebuild's boot")

        @precondition(lambda self: self.state() == "wait call-back")
        @rule()
        def abort(self) -> None:
            self._fails(_abort)

        @precondition(lambda self: self.state() == "wait call-back")
        @rule()
        def callback_timeout(self) -> None:
            self._fails(_callback_timeout)
            conf.clear_override("deploy_callback_timeout", group="conductor")

        @precondition(lambda self: self.state() == "wait call-back")
        @rule()
        def contested(self) -> None:
            self._fails(_contested)

        def _fails(self, how: Any) -> None:
            how(client, boot, conf, self.node)
            wait_until(lambda: _detached(client, self.node), what="the failure's detach")

        @precondition(lambda self: self.state() in ("active", "deploy failed"))
        @rule()
        def undeploy(self) -> None:
            provision(client, self.node, "deleted", "available")
            if not self.keep:  # the one way a volume the node ran on may go
                self.volume = self.data = None

        @precondition(lambda self: self.state() == "active")
        @rule()
        def restart_tgtd(self) -> None:
            own_tgtd.stop()
            own_tgtd.start()
            back = time.monotonic()
            found = volume_of(services, str(self.volume))
            assert found is not None
            wait_until(
                lambda: login(own_tgtd.host_portals[0], found, self.iqn).returncode == 0,
                timeout=max(0.0, BOUND - (time.monotonic() - back)),
                what=f"the export back within {BOUND:g} s",
            )

        @invariant()
        def the_volume_and_its_data_stay(self) -> None:
            if self.volume is not None:
                found = volume_of(services, self.volume)
                assert found is not None, "the volume the node ran on was deleted"
                assert Path(found.path).exists()
                if self.data == found.uuid:
                    assert _data(Path(found.path)) == b"the node's own data"

        @invariant()
        def nothing_is_exported_that_no_node_holds(self) -> None:
            with services.db.read() as session:
                attached = {v.target_iqn for v in managed_volumes.exported(session, services.box)}
            shown = own_tgtd.show()
            prefix = conf.managed.target_prefix
            served = {w for w in shown.split() if w.startswith(prefix)}
            assert served <= attached

        def teardown(self) -> None:
            if not self.node:
                return
            if self.state() != "available":
                provision(client, self.node, "deleted", "available")
            for volume in ok(client.get(f"/v1/volume/managed?node={self.node}"))["volumes"]:
                ok(client.delete(f"/v1/volume/managed/{volume['uuid']}"), 204)
            ok(client.delete(f"/v1/nodes/{self.node}"), 204)

    stateful.run(Machine, examples=8, steps=10)
