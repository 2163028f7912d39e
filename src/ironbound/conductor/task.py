"""NodeTask: a flow's handle on one node, and the `Task` the drivers see.

A task is a snapshot of the node with its ports, volume connectors and
volume targets (`db/snapshots.py`, secrets as `Secret` objects), plus the
node's composite driver. Every write is its own short transaction, so no
database lock is held while a driver talks to hardware; the job's claim
(`conductor/claim.py`: the node's lock, the fence every write passes, the
job's end) is what keeps others out.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from ironbound import config, dhcp, errors, records, sensitive, states
from ironbound.conductor.claim import Claim, Fields
from ironbound.db import events, jobs, managed_volumes, nodes, snapshots, tokens, vifs, volumes
from ironbound.drivers import base
from ironbound.jobspec import JobKind
from ironbound.sensitive import Secret

LOG = logging.getLogger(__name__)
T = TypeVar("T")

#: driver_internal_info key: the node went active through the boot its deploy's power-on
#: started, and that boot window is still the node's last: a second host claiming the
#: node in it fails the deploy. Ironbound's next power-on opens another window.
DEPLOY_WINDOW = "deploy_window"


class _VolumeStore:
    """`base.VolumeStore` for a task: reads in read transactions, writes fenced by its claim."""

    def __init__(self, task: NodeTask) -> None:
        self.task = task

    def get(self, volume_uuid: str) -> records.ManagedVolume | None:
        with self.task.ctx.db.read() as session:
            return managed_volumes.get(session, volume_uuid, self.task.ctx.box)

    def for_node(self, node_uuid: str) -> list[records.ManagedVolume]:
        with self.task.ctx.db.read() as session:
            return managed_volumes.for_node(session, node_uuid, self.task.ctx.box)

    def exported(self) -> list[records.ManagedVolume]:
        with self.task.ctx.db.read() as session:
            return managed_volumes.exported(session, self.task.ctx.box)

    def save(self, volume: records.ManagedVolume) -> None:
        with self.task.claim.write() as session:
            managed_volumes.save(session, volume, self.task.ctx.box)

    def delete(self, volume_uuid: str) -> None:
        with self.task.claim.write() as session:
            managed_volumes.remove(session, volume_uuid)


class NodeTask:
    """One node, loaded for a flow. Implements `ironbound.drivers.base.Task`.

    Every write goes through the task's `claim`, which fences it (the lock is
    still ours) and carries the progress records kept since the last one.
    """

    node: records.NodeInfo
    ports: Sequence[records.PortInfo]
    volume_connectors: Sequence[records.ConnectorInfo]
    volume_targets: Sequence[records.TargetInfo]
    driver: base.Driver
    rebuilding: bool
    managed_volumes: base.VolumeStore

    def __init__(self, claim: Claim) -> None:
        """The node as the claim read it, else loaded here.

        :raises NodeNotFound: the node is gone.
        """
        self.rebuilding = False
        self.claim = claim
        self.ctx = claim.ctx
        self.conf = claim.ctx.conf
        self.node_id = claim.job.node_id
        self.managed_volumes = _VolumeStore(self)
        if claim.snapshot is None:
            self.refresh()
        else:
            self._take(claim.snapshot)

    @contextmanager
    def _write_reloading(self, fields: Fields | None = None) -> Iterator[Session]:
        """A fenced write beyond the node's own columns: the whole snapshot is reloaded
        in the same transaction."""
        with self.claim.write(fields) as session:
            yield session
            self._take(snapshots.load(session, self.node_id, self.ctx.box))

    def refresh(self) -> None:
        """Reload the snapshot (after this task or someone else changed the node)."""
        with self.ctx.db.read() as session:
            self._take(snapshots.load(session, self.node_id, self.ctx.box))

    def _take(self, snapshot: records.NodeSnapshot) -> None:
        self.node = snapshot.node
        self.ports = snapshot.ports
        self.volume_connectors = snapshot.volume_connectors
        self.volume_targets = snapshot.volume_targets
        self.driver = self.ctx.registry.driver_for(self.node.driver, self.node.interfaces)

    def _write_fields(self, fields: Mapping[str, Any]) -> None:
        """Write node columns and reload the node in the same transaction.

        Only the node itself: ports, connectors and targets do not change with it.
        """
        with self.claim.write(lambda _held: fields) as session:
            self._reload_node(session)

    def _reload_node(self, session: Session) -> None:
        """Reload the node alone, in the transaction that just changed it."""
        self.node = snapshots.node_info(session, self.node_id, self.ctx.box)
        self.driver = self.ctx.registry.driver_for(self.node.driver, self.node.interfaces)

    # --- the `Task` protocol ---------------------------------------------------

    def run_step(self, name: str, action: Callable[[], T]) -> T:
        """Run `action` as step `name`: record it, and turn any error into StepFailed.

        A StepFailed from a step nested inside this one passes through as it
        is, so last_error names the innermost step that failed, once.
        """
        step = None
        if self.node.provision_state in states.DEPLOY_STEP_STATES:
            # What Ironic's deploy_step (1.44) shows: the step running now.
            step = {"interface": "deploy", "step": name, "priority": 0, "argsinfo": None}
        self.record(f"{name}: started", deploy_step=step)
        try:
            result = action()
        except errors.StepFailed:
            raise
        except errors.IronboundError as exc:
            raise errors.StepFailed(step=name, reason=exc.message) from exc
        except Exception as exc:
            LOG.exception("Step %s of node %s failed unexpectedly", name, self.node.uuid)
            raise errors.StepFailed(
                step=name, reason=f"unexpected {type(exc).__name__}: {exc}"
            ) from exc
        self.record(f"{name}: done")
        return result

    def record(
        self,
        message: str,
        *,
        event_type: str = "progress",
        severity: str = "info",
        deploy_step: Mapping[str, Any] | None = None,
    ) -> None:
        step = None if deploy_step is None else dict(deploy_step)
        self.claim.record(events.Progress(message, event_type, severity, step))

    def set_internal_info(self, **values: Any) -> None:
        """Merge `values` into driver_internal_info; a None value removes its key."""

        def merged(held: nodes.Held) -> dict[str, Any]:
            info = {k: v for k, v in held.driver_internal_info.items() if k not in values}
            info.update({k: v for k, v in values.items() if v is not None})
            return {"driver_internal_info": info}

        with self.claim.write(merged) as session:
            self._reload_node(session)

    def set_last_error(self, message: str | None) -> None:
        self.save(last_error=message)

    def set_target_properties(self, target_uuid: str, properties: Mapping[str, Any]) -> None:
        plain = {k: (v.reveal() if isinstance(v, Secret) else v) for k, v in properties.items()}
        masked, found = sensitive.split(plain, {})
        with self._write_reloading() as session:
            volumes.set_target_properties(
                session, self.node_id, target_uuid, masked, self.ctx.box.seal(found)
            )

    def delete_volume_targets(self, target_uuids: Sequence[str] | None = None) -> None:
        with self._write_reloading() as session:
            volumes.delete_targets(session, self.node_id, target_uuids)

    def add_volume_target(self, volume_type: str, boot_index: int, volume_id: str) -> str:
        with self._write_reloading() as session:
            return volumes.add_target(session, self.node_id, volume_type, boot_index, volume_id)

    def issue_boot_token(self) -> str:
        token = secrets.token_urlsafe(32)
        sealed = self.ctx.box.seal({"token": token})
        assert sealed is not None
        provider = self.ctx.dhcp
        with provider.lock:  # the database and the DHCP entry change together
            with self.claim.write() as session:
                tokens.store(session, self.node_id, token, sealed, self._first_window())
            if provider.active:
                macs = [port.address for port in self.ports if port.pxe_enabled]
                provider.publish(dhcp.host_entry(self.conf, self.node.uuid, macs, token))
                self.record(f"DHCP ({provider.name}): the node's MACs boot its script")
        return token

    def _window_seconds(self) -> float:
        """A boot window lasts as long as a deploy waits for its boot."""
        return float(self.conf.conductor.deploy_callback_timeout)

    def _first_window(self) -> float | None:
        """A deploy's token serves nobody until its power-on (the BMC may take seconds to
        set the boot device first); one issued to a running node (adoption) serves now."""
        return None if self.node.provision_state == states.DEPLOYING else self._window_seconds()

    def boot_confirmation_url(self) -> str | None:
        with self.ctx.db.read() as session:
            row = tokens.get(session, self.node_id)
            sealed = None if row is None else row.sealed_token
        if sealed is None:
            return None
        return config.boot_confirmation_url(self.conf, self.ctx.box.open(sealed)["token"])

    def revoke_boot_token(self) -> None:
        provider = self.ctx.dhcp
        with provider.lock:
            with self.claim.write() as session:
                tokens.revoke(session, self.node_id)
            if not provider.active:
                return
            try:
                provider.withdraw(self.node.uuid)
            except errors.DHCPError as exc:
                # The token is revoked, so the entry leads nowhere; the periodic
                # reconcile retries the withdrawal.
                LOG.warning("Node %s: %s", self.node.uuid, exc)
                self.record(f"{exc}; the periodic DHCP sync retries", severity="warning")
            else:
                self.record(f"DHCP ({provider.name}): entry withdrawn")

    def settle_boot(self, seconds: float) -> None:
        """The deploy's boot handed over to its volume: it settles in `seconds` (the
        conductor's queue watch then queues the `settled` report) unless it ends first."""
        with self.claim.write() as session:
            tokens.settle(session, self.node_id, seconds)

    def abort_requested(self) -> bool:
        """An abort is queued behind this flow (the operator called the deploy off)."""
        with self.ctx.db.read() as session:
            return jobs.has_pending(session, self.node_id, JobKind.ABORT)

    def power_action(self, power_state: str, timeout: float | None = None) -> None:
        power = self.driver.power
        if power_state in (states.POWER_ON, states.REBOOT, states.SOFT_REBOOT):
            # We start the node: the next host to ask gets its boot script.
            with self.claim.write() as session:
                tokens.open_window(session, self.node_id, self._window_seconds())
            self.set_internal_info(**{DEPLOY_WINDOW: None})
        self.save(target_power_state=states.POWER_TARGET_AFTER_ACTION.get(power_state, power_state))
        try:
            if power_state in (states.REBOOT, states.SOFT_REBOOT):
                power.reboot(self, timeout, soft=power_state == states.SOFT_REBOOT)
                reached = states.POWER_ON
            else:
                power.set_power_state(self, power_state, timeout)
                reached = states.POWER_OFF if power_state == states.SOFT_POWER_OFF else power_state
        finally:
            self.save(target_power_state=None)
        self.save(power_state=reached)
        self.record(f"power state is now {reached}")

    # --- conductor-side writes ----------------------------------------------

    def save(self, **fields: Any) -> None:
        """Write node fields; a provision_state change also stamps provision_updated_at."""
        self._write_fields(fields)

    def forget_instance(self) -> list[str]:
        """Untie the node from its instance, as Ironic's tear-down does: clear
        instance_uuid and instance_info, detach every VIF. Returns the VIFs removed."""
        forgotten: dict[str, Any] = {
            "instance_uuid": None,
            "instance_info": {},
            "instance_secrets": None,
        }
        with self._write_reloading(lambda _held: forgotten) as session:
            return vifs.detach_all(session, self.node_id)

    def land(self, **fields: Any) -> None:
        """Finish the provision transition on the target the state table set (with `fields`).

        Landing is the flow's last act on the node: the landing, the records kept
        and the job's end (the node let go) are one transaction, after which
        the claim refuses every write.
        """
        target = self.node.target_provision_state
        if target is None:
            raise errors.InvalidState(
                reason=f"Node {self.node.uuid} has no target provision state to land on."
            )
        landing = {
            **fields,
            "provision_state": target,
            "target_provision_state": None,
            "last_error": None,
        }
        with self.claim.write(lambda _held: landing, landing=True):
            pass

    def pass_through(self, state: str) -> None:
        """Show an intermediate state on the way to the same target (e.g. cleaning)."""
        self.save(provision_state=state)

    def fail(self, last_error: str) -> None:
        """Move the node to the failure state of its current state, with `last_error`."""
        self.save(
            provision_state=states.FAILURE[self.node.provision_state],
            target_provision_state=None,
            last_error=last_error,
        )
