"""Any sequence of deploy (with or without an image, a config drive, keep_boot_volume),
rebuild, writes, sharing a volume, undeploy, a conductor killed at any of
`kills.POINTS` (and the takeover) and tgtd restarts, over two `managed` nodes and an
`external` node booting a LUN the test serves on the same real tgtd, keeps the data and
export promises of issue 24:

* a volume a node keeps, or ran on, is never deleted but by its owner's undeploy that
  may delete it (never by a failure, a takeover or another node);
* a volume's bytes change only by its own node (its writes, or its image while no other
  node holds the volume): another node's deploy never writes over it;
* every export of an active node (managed volumes, and the external node's config drive
  target) is live again within 30 s of tgtd coming back, with the default export watch
  (the storage check left at its 300 s);
* tgtd serves no Ironbound target and no CHAP account that no node holds, and only
  active nodes hold any: a failed deploy, and a deploy or an undeploy whose conductor
  died (whenever it died), ends its exports.

tests/managed/test_state_machine.py covers the boot-report failures (abort, callback
timeout, contested boot) of one ipxe node; this machine boots with the fake interface.
`cinder` is not in it: tests/cinder drives the real Cinder (no fake client exists), and
its attachments are Cinder's to keep, not tgtd's.
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
from sqlalchemy import select

from ironbound.api.services import ApiServices
from ironbound.conductor.worker import Conductor
from ironbound.db import nodes
from ironbound.db.models import Job
from ironbound.lab.tgt import TgtServer
from tests import configdrive_support as drives
from tests import stateful
from tests.api.helpers import ok, patch, replace
from tests.conftest import wait_until
from tests.images.conftest import pattern_at
from tests.managed import fleet, kills
from tests.managed.conftest import point_at
from tests.managed.support import enroll, image, image_folder, initiator, name_volume, set_info
from tests.managed.test_data_safety import _write_data
from tests.managed.test_takeover import _wait

#: The promise: every export that should be live is live again this long after tgtd is back.
BOUND = 30.0
MANAGED = ("a", "b")
NAMES = (*MANAGED, "e")
PATTERNS = {"a": 0x61, "b": 0x62, "e": 0x65}
#: Where a transition ends (the fake boot interface waits for no boot report).
ENDED = frozenset({"active", "deploy failed", "error", "available"})
#: The states in which a node may still hold an export (an undeploy killed midway leaves
#: the node in `error`, and the takeover's clean-up detaches it).
HOLDING = frozenset({"active"})


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    """Takeover within a second of a conductor's death; images from the test's folder."""
    return {
        "conductor.heartbeat_interval": 0.1,
        "conductor.heartbeat_timeout": 1.0,
        "conductor.file_url_allowed_paths": [str(image_folder(tmp_path))],
    }


def test_no_sequence_over_a_fleet_loses_overwrites_or_leaks(
    client: TestClient,
    services: ApiServices,
    conductor: Conductor,
    conf: cfg.ConfigOpts,
    own_tgtd: TgtServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    point_at(conf, own_tgtd)
    conf.clear_override("sync_storage_interval", group="conductor")  # restores: the watch's
    killer = kills.Killer(services.db)
    kills.install(monkeypatch, conductor, killer)
    iqns = {name: initiator() for name in NAMES}
    lun = fleet.OperatorLun(own_tgtd, tmp_path, iqns["e"])
    lun.serve()
    images = {name: image(tmp_path, pattern) for name, pattern in PATTERNS.items()}
    drive = drives.packed(drives.iso())
    prefix = conf.managed.target_prefix

    class Machine(RuleBasedStateMachine):
        """Nodes a, b (managed) and e (external); the model is what must survive."""

        def __init__(self) -> None:
            super().__init__()
            self.nodes: dict[str, str] = {}
            self.protected: set[str] = set()  # volumes that must not go now
            self.may_change: set[str] = set()  # volumes the last step may have written
            self.prints: dict[str, tuple[bytes, bytes] | None] = {}

        @initialize()
        def enrolled(self) -> None:
            for name in MANAGED:
                self.nodes[name] = enroll(client, iqns[name])
            self.nodes["e"] = fleet.enroll_external(client, iqns["e"], lun)
            self.prints = self._fingerprints()

        # --- looking ------------------------------------------------------------

        def shown(self, name: str) -> dict[str, Any]:
            return dict(ok(client.get(f"/v1/nodes/{self.nodes[name]}")))

        def state(self, name: str) -> str:
            return str(self.shown(name)["provision_state"])

        def named(self, *wanted: str, among: tuple[str, ...] = NAMES) -> list[str]:
            return [n for n in among if self.nodes and self.state(n) in wanted]

        def _fingerprints(self) -> dict[str, tuple[bytes, bytes] | None]:
            return {u: fleet.fingerprint(v.path) for u, v in fleet.volumes(services).items()}

        def _boot_volume(self, name: str) -> str | None:
            found = ok(client.get(f"/v1/nodes/{self.nodes[name]}/volume/targets?detail=True"))
            boot = [t["volume_id"] for t in found["targets"] if t["boot_index"] == 0]
            return boot[0] if boot else None

        def _alone(self, name: str) -> set[str]:
            """The volumes only this node holds: its image may go onto them."""
            node = self.nodes[name]
            return {
                u
                for u, v in fleet.volumes(services).items()
                if v.node_uuid in (node, None) and set(v.initiators) <= {node}
            }

        def _owned(self, name: str) -> set[str]:
            node = self.nodes[name]
            return {u for u, v in fleet.volumes(services).items() if v.node_uuid == node}

        def _ended(self, name: str) -> bool:
            shown = self.shown(name)
            return bool(
                shown["provision_state"] in ENDED
                and shown["target_provision_state"] is None
                and shown["reservation"] is None
                and not self._jobs(shown["uuid"])
            )

        def _jobs(self, node: str) -> list[int]:
            with services.db.read() as session:
                node_id = nodes.get_by_uuid(session, node).id
                return list(session.scalars(select(Job.id).where(Job.node_id == node_id)))

        def _wait_ended(self, name: str) -> str:
            wait_until(lambda: self._ended(name), timeout=60, what=f"node {name} settled")
            return self.state(name)

        # --- deploying ----------------------------------------------------------

        def _prepare(self, name: str, data: st.DataObject) -> dict[str, Any]:
            """instance_info for the deploy (drawn), and its provision body."""
            node = self.nodes[name]
            info: dict[str, Any] = dict(images[name]) if data.draw(st.booleans(), "image") else {}
            if name in MANAGED:
                info["keep_boot_volume"] = data.draw(st.booleans(), "keep")
            if info:
                set_info(client, node, info)
            if name == "e" and self._boot_volume(name) is None:  # undeploy removed it
                fleet.add_boot_target(client, node, lun.properties())
            body: dict[str, Any] = {"target": "active"}
            if data.draw(st.booleans(), "config drive"):
                body["configdrive"] = drive
            return body

        def _after_deploy(self, name: str) -> None:
            shown = self.shown(name)
            info = shown["instance_info"]
            if name in MANAGED and info.get("keep_boot_volume"):
                self.protected |= self._owned(name)
            if shown["provision_state"] != "active":
                return
            if name == "e":
                if "image_source" in info:
                    assert pattern_at(lun.path) == bytes([PATTERNS["e"]]) * 4
                return
            volume = self._boot_volume(name)
            assert volume is not None
            self.protected.add(volume)  # the node runs on it now
            path = fleet.volumes(services)[volume].path
            if "image_source" in info:  # written, since no other node held the volume
                assert pattern_at(Path(path)) == bytes([PATTERNS[name]]) * 4

        @precondition(lambda self: self.named("available"))
        @rule(data=st.data())
        def deploy(self, data: st.DataObject) -> None:
            name = data.draw(st.sampled_from(self.named("available")), "node")
            body = self._prepare(name, data)
            self.may_change = self._alone(name)
            ok(client.put(f"/v1/nodes/{self.nodes[name]}/states/provision", json=body), 202)
            self._wait_ended(name)
            self._after_deploy(name)

        @precondition(lambda self: self.named("active"))
        @rule(data=st.data())
        def rebuild(self, data: st.DataObject) -> None:
            name = data.draw(st.sampled_from(self.named("active")), "node")
            body: dict[str, Any] = {"target": "rebuild"}
            if data.draw(st.booleans(), "config drive"):
                body["configdrive"] = drive
            self.may_change = self._alone(name)
            ok(client.put(f"/v1/nodes/{self.nodes[name]}/states/provision", json=body), 202)
            self._wait_ended(name)
            self._after_deploy(name)

        @precondition(lambda self: self.named("active", among=MANAGED))
        @rule(data=st.data())
        def writes(self, data: st.DataObject) -> None:
            """What the node's system does: write its own data onto its volume."""
            name = data.draw(st.sampled_from(self.named("active", among=MANAGED)), "node")
            volume = self._boot_volume(name)
            assert volume is not None
            _write_data(Path(fleet.volumes(services)[volume].path))
            self.may_change = {volume}

        @precondition(
            lambda self: (
                self.named("active", among=("a",)) and self.named("available", among=("b",))
            )
        )
        @rule()
        def share(self) -> None:
            """a's volume made shareable, and named as b's boot volume."""
            if self._boot_volume("b") is not None:
                return
            volume = self._boot_volume("a")
            assert volume is not None
            ok(patch(client, f"/v1/volume/managed/{volume}", replace("/shareable", True)))
            name_volume(client, self.nodes["b"], volume)

        @precondition(lambda self: self.named("active", "deploy failed", "error"))
        @rule(data=st.data())
        def undeploy(self, data: st.DataObject) -> None:
            name = data.draw(st.sampled_from(self.named("active", "deploy failed", "error")))
            self._may_delete(name)
            ok(client.put(f"/v1/nodes/{self.nodes[name]}/states/provision",
                          json={"target": "deleted"}), 202)  # fmt: skip
            self._wait_ended(name)

        def _may_delete(self, name: str) -> None:
            """An undeploy may delete the node's own volumes no other node holds, unless
            the node keeps them."""
            if name not in MANAGED or self.shown(name)["instance_info"].get("keep_boot_volume"):
                return
            node = self.nodes[name]
            for uuid, volume in fleet.volumes(services).items():
                if volume.node_uuid == node and set(volume.initiators) <= {node}:
                    self.protected.discard(uuid)

        # --- a conductor dies -----------------------------------------------------

        @rule(data=st.data(), point=st.sampled_from(kills.POINTS))
        def killed(self, data: st.DataObject, point: str) -> None:
            """The conductor dies at `point` of a deploy or an undeploy; another takes over."""
            undeploying = point in ("detach", "unexported")
            among = MANAGED if point == "record" else NAMES
            found = self.named("active" if undeploying else "available", among=among)
            if not found:
                return
            name = data.draw(st.sampled_from(found), "node")
            node = self.nodes[name]
            if undeploying:
                self._may_delete(name)
                body: dict[str, Any] = {"target": "deleted"}
            else:
                body = self._prepare(name, data)
                self.may_change = self._alone(name)
            killer.arm(point, node, iqns[name])
            ok(client.put(f"/v1/nodes/{node}/states/provision", json=body), 202)
            try:
                wait_until(
                    lambda: killer.fired.is_set() or self._ended(name),
                    timeout=60,
                    what=f"the kill at {point} or the end of the transition",
                )
            finally:
                killer.disarm()
            state = self._wait_ended(name)
            if killer.fired.is_set():
                assert state == ("error" if undeploying else "deploy failed"), state
                last_error = str(self.shown(name)["last_error"])
                assert f"Conductor {kills.GONE}" in last_error, last_error
            if not undeploying:
                self._after_deploy(name)

        # --- tgtd restarts --------------------------------------------------------

        @precondition(lambda self: self.named("active"))
        @rule()
        def restart_tgtd(self) -> None:
            """tgtd restarts (a host reboot) while a node is active."""
            due = self._due()
            own_tgtd.stop()
            own_tgtd.start()
            back = time.monotonic()
            lun.serve()  # the operator's own target, as their tgtd configuration would

            def restored() -> bool:
                live, accounts = fleet.live_targets(own_tgtd), fleet.live_accounts(own_tgtd)
                return set(due) <= live and all(e.accounts <= accounts for e in due.values())

            _wait(
                f"every export back within {BOUND:g} s",
                restored,
                timeout=max(0.0, BOUND - (time.monotonic() - back)),
            )

        def _due(self) -> dict[str, fleet.Export]:
            """The exports that must be live: those an active node holds."""
            active = {self.nodes[n] for n in self.named("active")}
            held = fleet.held_exports(client, services, list(self.nodes.values()))
            return {iqn: e for iqn, e in held.items() if e.holders & active}

        # --- what must hold -------------------------------------------------------

        @invariant()
        def kept_volumes_stay(self) -> None:
            found = fleet.volumes(services)
            for uuid in self.protected:
                assert uuid in found, f"volume {uuid} was deleted"
                assert Path(found[uuid].path).exists(), f"volume {uuid}'s file was deleted"

        @invariant()
        def only_their_node_writes_volumes(self) -> None:
            now = self._fingerprints()
            changed = {u for u, p in now.items() if u in self.prints and p != self.prints[u]}
            assert changed <= self.may_change, f"written against the model: {changed}"
            self.prints, self.may_change = now, set()

        @invariant()
        def nothing_is_exported_that_no_node_holds(self) -> None:
            if not self.nodes:
                return
            held = fleet.held_exports(client, services, list(self.nodes.values()))
            live = {t for t in fleet.live_targets(own_tgtd) if t.startswith(prefix)}
            assert live <= set(held), f"exported, held by no node: {live - set(held)}"
            accounts = {a for e in held.values() for a in e.accounts} | {fleet.OPERATOR_USER}
            stray = fleet.live_accounts(own_tgtd) - accounts
            assert not stray, f"CHAP accounts no node holds: {stray}"
            states = {self.nodes[n]: self.state(n) for n in NAMES}
            for iqn, export in held.items():
                holding = {states.get(h) for h in export.holders}
                assert holding <= HOLDING, f"{iqn} is held by a node in {holding}"
            missing = set(self._due()) - fleet.live_targets(own_tgtd)
            assert not missing, f"an active node's export is not live: {missing}"

        def teardown(self) -> None:
            if not self.nodes:
                return
            for name in NAMES:
                if self.state(name) != "available":
                    ok(client.put(f"/v1/nodes/{self.nodes[name]}/states/provision",
                                  json={"target": "deleted"}), 202)  # fmt: skip
                    assert self._wait_ended(name) == "available"
            for node in self.nodes.values():  # b's target may name a's volume
                for target in ok(client.get(f"/v1/nodes/{node}/volume/targets"))["targets"]:
                    ok(client.delete(f"/v1/volume/targets/{target['uuid']}"), 204)
            for uuid in fleet.volumes(services):
                ok(client.delete(f"/v1/volume/managed/{uuid}"), 204)
            for node in self.nodes.values():
                ok(client.delete(f"/v1/nodes/{node}"), 204)
            live = {t for t in fleet.live_targets(own_tgtd) if t.startswith(prefix)}
            assert not live, f"left exported: {live}"

    stateful.run(Machine, examples=10, steps=12)
