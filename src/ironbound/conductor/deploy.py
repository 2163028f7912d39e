"""Deploy and undeploy flows, and the boot reports that finish a deploy.

A deploy validates every interface the deploy uses, storage included
(Ironic does not), then hands over to the node's deploy interface. A deploy
interface that boots the node and waits for it to report back leaves the
node in "wait call-back" without holding its lock; the boot server's report
(or the callback timeout) finishes the deploy. Success lands on the target
the state table set; failure on the table's failure state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ironbound import config, configdrive, errors, states
from ironbound.conductor.task import DEPLOY_WINDOW, NodeTask
from ironbound.conductor.validation import require_valid
from ironbound.drivers import base
from ironbound.jobspec import UNDEPLOY_ACTION, BootEvent, NoArgs, Provision

LOG = logging.getLogger(__name__)

DEPLOY_INTERFACES = ("power", "management", "boot", "deploy", "storage", "network")


def _power_off_quietly(task: NodeTask, why: str) -> None:
    """Best effort after a failure: a half-deployed node should not keep booting, nor
    keep its volumes attached (a deploy failed in Cinder must leave no attachment)."""
    undo: tuple[tuple[str, Callable[[], None]], ...] = (
        ("power off", lambda: task.power_action(states.POWER_OFF)),
        ("withdraw the boot script", lambda: task.driver.boot.clean_up_instance(task)),
        ("detach volumes", lambda: task.driver.storage.detach_volumes(task)),
    )
    for what, action in undo:
        try:
            action()
        except Exception as exc:  # the original failure is what the operator needs to see
            LOG.warning("Could not %s for node %s after %s: %s", what, task.node.uuid, why, exc)
            task.record(f"could not {what} after {why}: {exc}", severity="warning")


def _check_config_drive(task: NodeTask) -> None:
    """A config drive the storage interface cannot hand to the node fails the deploy
    (Ironic ignores one a volume-booted node cannot get; the instance would boot
    without its identity)."""
    if not task.node.instance_info.get(configdrive.KEY):
        return
    if task.driver.deploy.delivers_config_drive(task):
        return
    if base.DELIVERS_CONFIG_DRIVE not in task.driver.storage.capabilities:
        storage = task.node.interfaces.get("storage")
        raise errors.ConfigDriveUndeliverable(what=f"the {storage} storage interface")


def deploy(task: NodeTask, args: Provision) -> None:
    task.rebuilding = args.action == "rebuild"
    require_valid(task, DEPLOY_INTERFACES)
    task.run_step("check the config drive", lambda: _check_config_drive(task))
    try:
        outcome = task.run_step("deploy", lambda: task.driver.deploy.deploy(task))
    except errors.StepFailed:
        _power_off_quietly(task, "the failed deploy")
        raise
    if outcome == states.DEPLOYWAIT:
        task.pass_through(states.DEPLOYWAIT)
        task.record("waiting for the node to report that it boots")
        return
    task.record("deployed")
    task.land()


def _forget_instance(task: NodeTask) -> None:
    removed = task.forget_instance()
    detached = f"; VIFs detached: {', '.join(removed)}" if removed else ""
    task.record(f"instance_uuid and instance_info cleared{detached}")


def undeploy(task: NodeTask, args: Provision) -> None:
    """active → deleting → cleaning → available.

    Whether or not the tear-down succeeds, the node forgets its instance (as
    Ironic does): Nova's destroy sends only `deleted` and relies on it.
    """
    try:
        task.run_step("tear down", lambda: task.driver.deploy.tear_down(task))
    except errors.StepFailed:
        _forget_instance(task)
        raise
    _forget_instance(task)
    task.pass_through(states.CLEANING)
    task.record("cleaning: no clean steps apply to this node")
    task.land()


def abort(task: NodeTask, args: Provision) -> None:
    """Stop the node booting. From "wait call-back" the API moved it to "deploy failed"
    already; an abort asked while the deploy ran was seen by the deploy (which failed) or
    came after its last look, and then the deploy fails here."""
    state = task.node.provision_state
    if state not in (states.DEPLOYING, states.DEPLOYWAIT, states.DEPLOYFAIL):
        task.record(f"the deploy ended ({state}) before the abort reached it: nothing aborted")
        return
    _power_off_quietly(task, "the aborted deploy")
    if state != states.DEPLOYFAIL:
        task.fail(base.ABORTED)


def abandoned(task: NodeTask, args: Provision) -> None:
    """Clean up after a deploy whose conductor died or stopped in the middle of it, as
    after any failed deploy: power off, withdraw the boot script (revoking its token),
    detach (only a fresh volume the node does not keep is deleted). The takeover itself
    only fails the node: it runs in a periodic duty, with no driver, and no lock.

    An abandoned rebuild is still a rebuild: its volume holds what the node ran. An
    abandoned undeploy (the node in `error`) detaches as the undeploy would have, so its
    exports end; the node stays in `error` until the operator undeploys it again."""
    task.rebuilding = args.action == "rebuild"
    state = task.node.provision_state
    if state == states.DEPLOYFAIL:
        _power_off_quietly(task, "the abandoned deploy")
        task.record("the abandoned deploy's boot script withdrawn and volumes detached")
    elif state == states.ERROR and args.action == UNDEPLOY_ACTION:
        _power_off_quietly(task, "the abandoned undeploy")
        task.record("the abandoned undeploy's boot script withdrawn and volumes detached")


#: driver_internal_info key: the last_error a failed boot of an active node set, so
#: that a later good boot clears that error and never another one.
BOOT_FAILURE = "boot_failure"
#: driver_internal_info key: the node is active because the boot its deploy started
#: settled; until its next fetch, a failed `sanboot` still fails the deploy.
DEPLOY_BOOT = "deploy_boot"


def _boot_failed(task: NodeTask, message: str, *, clearable: bool = True) -> None:
    """A boot went wrong: a waiting deploy fails (node powered off), an active node says so
    and stays active (it was power-cycled, by Ironbound or at its BMC, and its SAN broke).

    A clearable failure of an active node is cleared by its next good boot; a contested
    boot (another host asked for the node's script) is not, the operator must look, and in
    the boot window of the deploy that made the node active it fails that deploy.
    """
    state = task.node.provision_state
    error = f"Boot from volume failed: {message}"
    if state == states.DEPLOYWAIT:
        _power_off_quietly(task, "the failed boot")
        task.fail(error)
    elif (
        state == states.ACTIVE
        and not clearable
        and task.node.driver_internal_info.get(DEPLOY_WINDOW)
    ):
        _deployed_boot_failed(task, error)
    elif state == states.ACTIVE:
        task.set_internal_info(**{BOOT_FAILURE: error if clearable else None})
        task.save(last_error=error)


def _deployed_boot_failed(task: NodeTask, error: str) -> None:
    """The deploy's own boot went active and then failed (its sanboot, or a second host
    claiming the node in the deploy's boot window): the deploy failed.

    The node shows the failure before the clean-up, so the storage interface detaches
    as after a failed deploy, not as at an active node's undeploy (which may delete).
    """
    task.save(provision_state=states.DEPLOYFAIL, target_provision_state=None, last_error=error)
    _power_off_quietly(task, "the failed boot")
    task.set_internal_info(**{DEPLOY_BOOT: None, DEPLOY_WINDOW: None})
    task.record("the deploy's boot failed after attaching its volumes: deploy failed")


def _booted_again(task: NodeTask) -> None:
    """An active node booted fine: clear the boot failure shown before, if it still is."""
    shown = task.node.driver_internal_info.get(BOOT_FAILURE)
    if shown is None:
        return
    task.set_internal_info(**{BOOT_FAILURE: None})
    if task.node.last_error == shown:
        # Recorded first: whoever sees last_error gone also sees why.
        task.record(
            "the node booted from its volume again: cleared the boot failure from last_error",
            event_type="boot",
        )
        task.save(last_error=None)


def _server_side_event(report: BootEvent) -> str | None:
    """What went wrong, for a report the boot server made itself about the node's boot."""
    details = report.details
    if report.event == "contested":
        return (
            f"two hosts asked for this node's boot script: {details.get('pinned')} was served "
            f"and {details.get('address')} was refused. One of them is not this node; look for "
            "a host impersonating it on the provisioning network."
        )
    if report.event == "unservable":
        return f"the boot server could not build the node's boot script: {details.get('reason')}"
    return None


def _deployed(task: NodeTask, why: str, **info: Any) -> None:
    """The deploy's boot made it: active, though a second claimant in its window fails it.
    `info` goes into driver_internal_info in the same write."""
    task.set_internal_info(**{DEPLOY_WINDOW: True, **info})
    task.record(f"deployed: {why}")
    task.land()


def _handed_over(task: NodeTask) -> None:
    """The deploy's boot handed over to its volume (sanboot), which may still fail: the
    deploy is done when the operating system confirms, or after the settle time."""
    if base.boot_confirmation(task) == config.BOOT_CONFIRMED_BY_OS:
        task.record("waiting for the operating system to confirm that it came up")
        return
    seconds = task.conf.deploy.boot_settle_time
    task.settle_boot(seconds)
    task.record(f"the deploy is done in {seconds:g} s unless the boot reports a failure first")


def _settled(task: NodeTask) -> None:
    """The settle time after the deploy's handover passed with no failure reported."""
    status = task.node.driver_internal_info.get("boot_status") or {}
    if task.node.provision_state != states.DEPLOYWAIT or status.get("status") != "booting":
        return  # the boot failed, or booted again, meanwhile
    # Until the node's next fetch, a failed sanboot still fails the deploy.
    _deployed(task, "no boot failure was reported within the settle time", **{DEPLOY_BOOT: True})


def _system_up(task: NodeTask) -> None:
    """The booted operating system confirmed that it came up."""
    message = "the operating system came up and confirmed its boot"
    status = {"status": "up", "detail": message}
    task.record(message, event_type="boot")
    if task.node.provision_state == states.DEPLOYWAIT:
        _deployed(task, message, boot_status=status)
        return
    task.set_internal_info(boot_status=status)
    if task.node.provision_state == states.ACTIVE:
        _booted_again(task)


def boot_event(task: NodeTask, args: BootEvent) -> None:
    """A report about the booting node, from its iPXE script, its booted operating
    system, the boot server, or (``settled``) the conductor's own settle timer."""
    if args.event == BootEvent.SETTLED:
        _settled(task)
        return
    if args.event == "up":
        _system_up(task)
        return
    if args.event == "script_fetched":
        task.record("the node fetched its boot script", event_type="boot")
        if task.node.provision_state == states.DEPLOYWAIT:
            status = {"status": "script fetched", "detail": "the node fetched its boot script"}
            task.set_internal_info(boot_status=status)
        elif task.node.driver_internal_info.get(DEPLOY_BOOT):
            task.set_internal_info(**{DEPLOY_BOOT: None})  # a later boot: the deploy's is over
        return
    problem = _server_side_event(args)
    if problem is not None:
        task.record(problem, event_type="boot", severity="error")
        _boot_failed(task, problem, clearable=args.event != "contested")
        return
    succeeded, message = task.driver.boot.interpret_boot_event(task, args.row())
    status = {"status": "booting" if succeeded else "failed", "detail": message}
    task.set_internal_info(boot_status=status)
    task.record(message, event_type="boot", severity="info" if succeeded else "error")
    if not succeeded and task.node.driver_internal_info.get(DEPLOY_BOOT):
        _deployed_boot_failed(task, f"Boot from volume failed: {message}")
    elif not succeeded:
        _boot_failed(task, message)
    elif task.node.provision_state == states.DEPLOYWAIT:
        _handed_over(task)
    elif task.node.provision_state == states.ACTIVE:
        _booted_again(task)


def callback_timeout(task: NodeTask, args: NoArgs) -> None:
    """The node never reported back within [conductor]deploy_callback_timeout."""
    if task.node.provision_state != states.DEPLOYWAIT:
        return
    seen = task.node.driver_internal_info.get("boot_status") or {}
    hint = _TIMEOUT_HINTS.get(
        str(seen.get("status")) if isinstance(seen, dict) else "",
        "it never fetched its boot script (check DHCP and the boot server URL)",
    )
    _power_off_quietly(task, "the deploy timeout")
    task.fail(f"Timeout reached while waiting for the node to boot: {hint}.")


#: What the node last reported (its boot_status), said for a deploy that timed out.
_TIMEOUT_HINTS = {
    "script fetched": "it fetched its boot script but never reported attaching its boot volume",
    "booting": "it attached its volumes and handed over to its boot volume, but its operating "
    "system never confirmed that it came up (boot_confirmation is 'os': the image must "
    "report, e.g. through cloud-init's phone_home; see docs/boot.md)",
}
