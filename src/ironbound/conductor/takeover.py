"""Freeing what a conductor that can no longer let go holds.

A dead conductor (online, heartbeat too old), a stopped one, a name no
conductor has, or this conductor at its start (what a previous run left) and
at its stop (what did not finish within the grace): its running jobs are
dropped, its nodes unlocked, and a node it left in a busy state moves to the
state table's failure state with the reason. A takeover has no driver and no
lock of its own, so for a deploy it abandons it queues an `abandoned_deploy`
job in the same transaction: that flow, under the node's lock like any job,
cleans up as after any failed deploy.
"""

from __future__ import annotations

import logging
from typing import Any

from ironbound import states
from ironbound.conductor.context import ConductorContext
from ironbound.db import conductors, jobs, nodes
from ironbound.jobspec import UNDEPLOY_ACTION, JobKind, Provision

LOG = logging.getLogger(__name__)


def take_over_dead(ctx: ConductorContext) -> None:
    """Free what conductors that can no longer let go hold: dead ones (online, heartbeat
    too old) and any other holder that is not a live conductor (one that stopped, or a
    name no conductor has)."""
    timeout = ctx.conf.conductor.heartbeat_timeout
    with ctx.db.read() as session:
        # Holders first: under READ COMMITTED each statement sees its own snapshot, and
        # a conductor that dies between the two must still be named as dead, not gone.
        stale = set(conductors.stale_holders(session, timeout))
        dead = set(conductors.dead(session, timeout))
    for hostname in sorted((dead | stale) - {ctx.hostname}):
        take_over(ctx, hostname, "stopped heartbeating" if hostname in dead else "is gone")


def take_over(ctx: ConductorContext, hostname: str, why: str) -> None:
    """Free what `hostname` held: fail its half-done nodes, drop its running jobs, and
    queue the clean-up of each deploy it failed."""
    with ctx.db.write() as session:
        if hostname != ctx.hostname:
            conductors.mark_offline(session, hostname)
        dropped = jobs.drop_running(session, hostname)
        for node in nodes.held_by(session, hostname):
            if node.provision_state in (states.DEPLOYING, states.DELETING):
                # Its volumes may be exported, its boot token live: detach as after
                # any failed deploy (or as the undeploy would have), under the node's
                # lock, once the node is free.
                ran = dropped.get(node.id)
                action = ran.action if isinstance(ran, Provision) else None
                if node.provision_state == states.DELETING:
                    action = UNDEPLOY_ACTION
                jobs.enqueue(session, node.id, JobKind.ABANDONED_DEPLOY, Provision(action))
            nodes.write_fields(session, node, _abandoned(node, hostname, why))
            LOG.warning("Took over node %s from conductor %s (%s)", node.uuid, hostname, why)
    ctx.signals.work_queued()


def _abandoned(node: nodes.Held, hostname: str, why: str) -> dict[str, Any]:
    """The node unlocked, and out of its busy state if it was in one."""
    fields: dict[str, Any] = {"reservation": None, "target_power_state": None}
    if node.provision_state in states.BUSY_STATES:
        fields["provision_state"] = states.FAILURE[node.provision_state]
        fields["target_provision_state"] = None
        fields["last_error"] = (
            f"Conductor {hostname} {why} while the node was in state "
            f"'{node.provision_state}'; the operation was abandoned."
        )
    return fields
