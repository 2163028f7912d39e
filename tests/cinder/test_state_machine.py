"""Any sequence of deploy (with a config drive or none), rebuild (a new drive or none),
undeploy, deleting an available node (and enrolling a new one), tgtd restart and an attachment deleted in Cinder
behind Ironbound's back, on one or two `cinder` nodes with the real Cinder and a tgtd of
the test's own as Ironbound's (config drives), keeps the promises of issue 24:

* no Cinder volume is ever deleted (nor goes to `deleting` or `error`);
* an active node's volume is attached in Cinder for that node exactly once, unless that
  attachment was deleted behind Ironbound's back (then none: it is not re-created until a
  rebuild), and a node that is not active holds no attachment;
* a volume that is not multiattach is never attached for two nodes;
* Ironbound's tgtd serves a config-drive target and CHAP account exactly for the active
  nodes with a config drive (again within 30 s of a tgtd restart), nothing else.

The fake boot interface lands a deploy in `active` at once: there is no `wait call-back`
to abort, so abort is not a rule here (tests/managed/test_state_machine.py has it).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
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

from ironbound.drivers.storage.config_drive_target import account_name, target_name
from ironbound.lab.cinder import CinderLab
from ironbound.lab.tgt import TgtServer
from tests import configdrive_support as drives
from tests import stateful
from tests.api.helpers import ok
from tests.cinder_support import attachments, enroll, targets
from tests.conftest import wait_until
from tests.managed.conftest import point_at
from tests.managed.fleet import live_accounts, live_targets
from tests.managed.support import initiator

pytestmark = pytest.mark.cinder

#: The promise: every drive that should be served is served again this long after tgtd is back.
BOUND = 30.0
#: Where a transition ends (the fake boot interface waits for no boot report).
ENDED = frozenset({"active", "deploy failed", "error", "available"})
#: Which volumes the two slots name: each its own, or one multiattach volume for both.
LAYOUTS = {"one": ("plain-a",), "two": ("plain-a", "plain-b"), "shared": ("multi", "multi")}


@pytest.fixture
def conf(conf: cfg.ConfigOpts, own_tgtd: TgtServer) -> cfg.ConfigOpts:
    """Ironbound's tgtd for the drives; a storage check every 2 s, so drift is seen while
    the sequence goes on (and restores race the export watch's)."""
    point_at(conf, own_tgtd)
    conf.set_override("sync_storage_interval", 2.0, group="conductor")
    return conf


@dataclass
class Slot:
    """One node as the model knows it: what it should hold."""

    volume: str
    iqn: str
    node: str = ""
    active: bool = False
    drive: bool = False
    drifted: bool = False  # its attachment deleted in Cinder behind Ironbound's back
    served: bool = False  # undeployed since it was enrolled: a node that may retire


def _drive(serial: int) -> str:
    user_data = f"#cloud-config\nhostname: n{serial}\n".encode()
    return drives.packed(drives.iso({**drives.FILES, "openstack/latest/user_data": user_data}))


def test_no_sequence_deletes_double_attaches_or_leaks(
    client: TestClient, cinder_lab: CinderLab, conf: cfg.ConfigOpts, own_tgtd: TgtServer
) -> None:
    volumes = {
        "plain-a": cinder_lab.create_volume(1, name="sm-a"),
        "plain-b": cinder_lab.create_volume(1, name="sm-b"),
        "multi": cinder_lab.create_volume(1, name="sm-multi", multiattach=True),
    }
    plain = {volumes["plain-a"], volumes["plain-b"]}

    class Machine(RuleBasedStateMachine):
        """One or two cinder nodes; the model is what each should hold."""

        def __init__(self) -> None:
            super().__init__()
            self.slots: list[Slot] = []
            self.serial = 0

        @initialize(layout=st.sampled_from(sorted(LAYOUTS)))
        def enrolled(self, layout: str) -> None:
            for name in LAYOUTS[layout]:
                slot = Slot(volumes[name], initiator())
                slot.node = enroll(client, [slot.volume], slot.iqn)
                self.slots.append(slot)

        def _shown(self, slot: Slot) -> dict[str, Any]:
            shown: dict[str, Any] = ok(client.get(f"/v1/nodes/{slot.node}"))
            return shown

        def _pick(self, data: st.DataObject, wanted: Any) -> Slot:
            return data.draw(st.sampled_from([s for s in self.slots if wanted(s)]))

        def _has(self, wanted: Any) -> bool:
            return any(wanted(s) for s in self.slots)

        def _provision(self, slot: Slot, body: dict[str, Any], expected: str) -> None:
            """Send the verb, wait for its transition to end, and insist on `expected`."""
            ok(client.put(f"/v1/nodes/{slot.node}/states/provision", json=body), 202)
            shown: dict[str, Any] = {}

            def ended() -> bool:
                shown.update(self._shown(slot))
                return shown["provision_state"] in ENDED and shown["target_provision_state"] is None

            wait_until(ended, what=f"{body['target']} to end")
            assert shown["provision_state"] == expected, shown["last_error"]
            if expected == "active":  # a rebuild also clears a drift the storage check saw
                assert shown["last_error"] is None, shown["last_error"]

        @precondition(lambda self: self._has(lambda s: not s.active))
        @rule(data=st.data(), with_drive=st.booleans())
        def deploy(self, data: st.DataObject, with_drive: bool) -> None:
            slot = self._pick(data, lambda s: not s.active)
            self.serial += 1
            if not targets(client, slot.node):  # undeploy removed it; Nova adds it again
                body = {"node_uuid": slot.node, "volume_type": "iscsi", "boot_index": 0,
                        "volume_id": slot.volume}  # fmt: skip
                ok(client.post("/v1/volume/targets", json=body), 201)
            body = {
                "target": "active",
                **({"configdrive": _drive(self.serial)} if with_drive else {}),
            }
            self._provision(slot, body, "active")
            slot.active, slot.drive, slot.drifted = True, with_drive, False

        @precondition(lambda self: self._has(lambda s: s.active))
        @rule(data=st.data(), new_drive=st.booleans())
        def rebuild(self, data: st.DataObject, new_drive: bool) -> None:
            slot = self._pick(data, lambda s: s.active)
            self.serial += 1
            body = {
                "target": "rebuild",
                **({"configdrive": _drive(self.serial)} if new_drive else {}),
            }
            self._provision(slot, body, "active")
            slot.drive = slot.drive or new_drive  # a rebuild without one keeps the stored one
            slot.drifted = False

        @precondition(lambda self: self._has(lambda s: s.active))
        @rule(data=st.data())
        def undeploy(self, data: st.DataObject) -> None:
            slot = self._pick(data, lambda s: s.active)
            self._provision(slot, {"target": "deleted"}, "available")
            slot.active = slot.drive = slot.drifted = False
            slot.served = True

        @precondition(lambda self: self._has(lambda s: s.served and not s.active))
        @rule(data=st.data())
        def retire_available_node(self, data: st.DataObject) -> None:
            """An available node that served is deleted; a new one is enrolled on its volume."""
            slot = self._pick(data, lambda s: s.served and not s.active)
            ok(client.delete(f"/v1/nodes/{slot.node}"), 204)
            slot.node, slot.served = enroll(client, [slot.volume], slot.iqn), False

        @precondition(lambda self: self._has(lambda s: s.active and not s.drifted))
        @rule(data=st.data())
        def drift(self, data: st.DataObject) -> None:
            """Someone deletes the node's attachment in Cinder behind Ironbound's back."""
            slot = self._pick(data, lambda s: s.active and not s.drifted)
            (held,) = [
                a for a in attachments(cinder_lab, slot.volume) if a["instance"] == slot.node
            ]
            cinder_lab.block_storage(as_service=True).delete_attachment(held["id"])
            slot.drifted = True

        @precondition(lambda self: self._has(lambda s: s.active))
        @rule()
        def restart_tgtd(self) -> None:
            own_tgtd.stop()
            own_tgtd.start()
            back = time.monotonic()
            wait_until(
                lambda: (
                    live_targets(own_tgtd) == self._drive_targets()
                    and live_accounts(own_tgtd) == self._drive_accounts()
                ),
                timeout=BOUND,
                what=f"the drives served again within {BOUND:g} s",
            )
            assert time.monotonic() - back <= BOUND

        def _drive_targets(self) -> set[str]:
            return {target_name(conf, s.node) for s in self.slots if s.active and s.drive}

        def _drive_accounts(self) -> set[str]:
            return {account_name(s.node) for s in self.slots if s.active and s.drive}

        @invariant()
        def no_volume_is_deleted(self) -> None:
            for volume_id in volumes.values():
                status = cinder_lab.volume(volume_id)["status"]  # a deleted one: 404
                assert status in ("available", "in-use"), f"{volume_id} is {status}"

        @invariant()
        def attachments_are_the_active_nodes(self) -> None:
            for volume_id in set(volumes.values()):
                held = Counter(a["instance"] for a in attachments(cinder_lab, volume_id))
                due = Counter(
                    s.node
                    for s in self.slots
                    if s.volume == volume_id and s.active and not s.drifted
                )
                assert held == due, f"{volume_id}: attached for {dict(held)}, due {dict(due)}"
                if volume_id in plain:
                    assert len(held) <= 1, f"{volume_id} is not multiattach: {dict(held)}"
                status = cinder_lab.volume(volume_id)["status"]
                assert status == ("in-use" if held else "available"), status

        @invariant()
        def drives_are_served_for_exactly_the_active_nodes_with_one(self) -> None:
            assert live_targets(own_tgtd) == self._drive_targets()
            assert live_accounts(own_tgtd) == self._drive_accounts()

        def teardown(self) -> None:
            for slot in self.slots:
                if self._shown(slot)["provision_state"] != "available":
                    self._provision(slot, {"target": "deleted"}, "available")
                ok(client.delete(f"/v1/nodes/{slot.node}"), 204)

    stateful.run(Machine, examples=12, steps=10)
