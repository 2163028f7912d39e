"""The ipxe boot interface: the node network-boots iPXE, which attaches its volumes.

At deploy the interface issues the node's boot token; from then on the boot
server renders the node's script from the database whenever the node asks
(nothing is written to disk). The script reports back when the boot volume
is attached and the node starts booting from it, or why it failed, so a
deploy finishes on what really happened at the node.

With a deploy interface that declares `RAMDISK_DEPLOY` (`ramdisk`), a node
without a boot volume hooks its data volumes (so the iBFT describes them) and
boots the kernel and ramdisk, or the ISO, that its instance_info names.
"""

from __future__ import annotations

from collections.abc import Mapping

from ironbound import errors, sanplan
from ironbound.drivers import base
from ironbound.drivers.storage import checks, config_drive_target

#: iPXE errors by the first six hex digits of their code (the last two
#: differ between iPXE's BIOS and UEFI builds), with what to check.
IPXE_ERRORS: dict[str, str] = {
    "410d61": "the target rejected the CHAP login (Operation not permitted): check "
    "auth_username and auth_password, and that the target has an outgoing account if "
    "reverse (mutual) CHAP credentials are set",
    "430d66": "the target requires CHAP, but no credentials were sent: set auth_method CHAP "
    "with auth_username and auth_password",
    "020d62": "the target's mutual CHAP answer did not match reverse_auth_password",
    "020d61": "the target's mutual CHAP name did not match reverse_auth_username",
    "2c0d60": "no such target (No such device): check target_iqn, and that the target's ACL "
    "allows this node's initiator IQN",
    "1d7040": "the LUN does not exist on the target (Input/output error): check target_lun",
    "1d8520": "the volume was attached but holds nothing bootable (no boot sector)",
    "7f2220": "the volume was attached but its EFI system partition has no boot loader at "
    "the expected path (set efi_boot_loader on the boot volume target)",
    "0f0d60": "the portal refused the connection (Connection reset): check target_portal",
    "0f0a60": "the portal refused the connection (Connection reset): check target_portal",
    "4c0a60": "the portal did not answer (Connection timed out): check target_portal and routing",
    "280a60": "the portal is not reachable from the node (Network unreachable)",
    "1c0d62": "the CHAP credentials are an invalid mix (reverse credentials without forward ones)",
    "348520": "iPXE has no room left for the iBFT that describes the volumes to the operating "
    "system (No space left on device): BIOS iPXE keeps a small fixed space for it; use fewer "
    "paths (target_portals) or shorter IQNs and CHAP names",
    "2d0c61": "the HTTP server has no such file (404): check instance_info kernel, ramdisk "
    "or boot_iso",
}


def describe_ipxe_error(errno: str) -> str:
    """A sentence for an iPXE error code such as ``0x410d613c``."""
    code = errno.lower().removeprefix("0x").rjust(8, "0")
    meaning = IPXE_ERRORS.get(code[:6], "see https://ipxe.org/" + code)
    return f"iPXE error 0x{code}: {meaning}"


def _volume(task: base.Task, event: Mapping[str, str]) -> str:
    """The volume a failure report names, as the operator knows it ("" for none)."""
    target = next((t for t in task.volume_targets if t.uuid == event.get("volume")), None)
    if target is None:
        return ""
    if target.volume_id == config_drive_target.VOLUME_ID:
        return f"the config drive's target (volume target {target.uuid}, on Ironbound's tgtd)"
    return f"volume target {target.uuid} (volume {target.volume_id})"


def _awaits_attach(task: base.Task) -> bool:
    """The storage interface fills the targets' connection data at attach, and has not yet
    (or creates the boot volume's target itself, and has not yet)."""
    storage = task.driver.storage.capabilities
    if base.ATTACH_FILLS_TARGETS not in storage:
        return False
    if base.PROVIDES_BOOT_VOLUME in storage and checks.boot_target(task) is None:
        return True
    return any(
        not ({"target_iqn", "target_iqns"} & t.properties.keys()) for t in task.volume_targets
    )


def _boots_ramdisk(task: base.Task) -> bool:
    """The node boots a kernel and ramdisk (or ISO): a ramdisk deploy, no boot volume."""
    return (
        base.RAMDISK_DEPLOY in task.driver.deploy.capabilities and checks.boot_target(task) is None
    )


def _check_plan(task: base.Task, ramdisk: bool) -> None:
    """Build the plan the boot server will render, to catch what would break the boot.

    :raises sanplan.PlanError: with what is wrong.
    """
    if ramdisk:
        sanplan.build_ramdisk(task.volume_connectors, task.volume_targets, task.node.instance_info)
    else:
        sanplan.build(task.volume_connectors, task.volume_targets)


def _what(ramdisk: bool) -> str:
    return "its kernel and ramdisk" if ramdisk else "its volume"


class IPXEBoot(base.BootInterface):
    capabilities = frozenset({base.ISCSI_VOLUME_BOOT, base.BOOT_EVENTS, base.RAMDISK_BOOT})

    def validate(self, task: base.Task) -> None:
        if not self.conf.deploy.http_url:
            raise errors.MissingParameterValue(
                reason="[deploy]http_url is not set: it must be the URL at which nodes reach "
                "Ironbound's boot server, e.g. http://192.0.2.1:8080 (the server itself "
                "listens on [bootserver]host and port)."
            )
        if not any(p.pxe_enabled for p in task.ports):
            raise errors.MissingParameterValue(
                reason=f"Node {task.node.uuid} does not have any port associated with it "
                "(with pxe_enabled): the boot server recognises a booting node by its MAC."
            )
        base.boot_confirmation(task)
        ramdisk = _boots_ramdisk(task)
        if not (ramdisk or checks.boots_from_volume(task)) or _awaits_attach(task):
            return
        try:
            _check_plan(task, ramdisk)
        except sanplan.PlanError as exc:
            raise errors.InvalidParameterValue(
                reason=f"Node {task.node.uuid} cannot boot from {_what(ramdisk)}: {exc}."
            ) from exc

    def prepare_instance(self, task: base.Task) -> None:
        ramdisk = _boots_ramdisk(task)
        if not (ramdisk or checks.boots_from_volume(task)):
            raise errors.BootError(
                reason="the ipxe boot interface boots nodes from a volume: the node needs a "
                "volume target with boot_index 0 and no instance_info/image_source (or the "
                "ramdisk deploy interface, to boot instance_info kernel and ramdisk)"
            )
        try:  # checked again: a storage interface that attaches has just filled the targets
            _check_plan(task, ramdisk)
        except sanplan.PlanError as exc:
            raise errors.BootError(
                reason=f"the node cannot boot from {_what(ramdisk)}: {exc}"
            ) from exc
        task.issue_boot_token()
        task.set_internal_info(boot_status={"status": "prepared", "detail": "boot script ready"})
        task.record("boot script ready: the node finds it through the boot server by its MAC")

    def clean_up_instance(self, task: base.Task) -> None:
        task.revoke_boot_token()
        task.set_internal_info(boot_status=None)
        task.record("boot script withdrawn: its URL now answers 404")

    def interpret_boot_event(self, task: base.Task, event: Mapping[str, str]) -> tuple[bool, str]:
        if event.get("event") == "booting" and checks.boot_target(task) is None:
            return True, "the node hooked its data volumes and is booting its kernel and ramdisk"
        if event.get("event") == "booting":
            return True, "the node attached its boot volume and is booting from it"
        errno = event.get("errno")
        found = (
            describe_ipxe_error(errno)
            if errno
            else "the node's iPXE could not attach or boot its volume (no error code)"
        )
        volume = _volume(task, event)
        return False, f"{volume}: {found}" if volume else found
