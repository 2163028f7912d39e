"""Nova's ironic virt driver, replayed: the same openstacksdk calls in the same order.

Nova has no Ironic client of its own; its driver (nova/virt/ironic/driver.py)
drives the baremetal API through an openstacksdk proxy that negotiates each
resource's microversion up to the server's maximum. This class makes those
calls with the same arguments (its node fields list, `retry_on_conflict=False`
for the reservation and for VIF attach, the connector lookup, targets built
from Cinder's `connection_info`, the validate keys it reads, its wait loops
and its destroy), so a test can hold Ironbound to what Nova needs without
running Nova. The Nova-side state (the instance) is a plain dataclass.
"""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openstack
from openstack import exceptions as sdk_exc

#: The fields Nova asks for on every node read (driver.py `_NODE_FIELDS`).
NODE_FIELDS = (
    "uuid",
    "power_state",
    "target_power_state",
    "provision_state",
    "target_provision_state",
    "last_error",
    "maintenance",
    "properties",
    "instance_uuid",
    "traits",
    "resource_class",
)


#: A flavor for servers that boot from a volume (the trait picks nodes that can).
FLAVOR = {"name": "bm.bfv", "root_gb": 1, "vcpus": 2, "memory_mb": 2048,
          "traits": ["CUSTOM_BOOT_FROM_VOLUME"]}  # fmt: skip
#: The metadata versions Nova's config drive holds besides `latest` (a few of them).
_OPENSTACK_VERSIONS = ("2012-08-10", "2018-08-27", "latest")


class DeployFailed(Exception):
    """Nova's InstanceDeployFailure: the instance goes to ERROR and is rescheduled."""


@dataclass
class Instance:
    """What Nova knows of a server being built on a node."""

    uuid: str
    node: str
    display_name: str = "nova-server"
    vifs: list[str] = field(default_factory=list)
    #: Cinder's connection_info per boot index (the block device mapping's).
    block_devices: dict[int, dict[str, Any]] = field(default_factory=dict)
    volume_ids: dict[int, str] = field(default_factory=dict)


class NovaIronicDriver:
    """The calls of Nova's ironic driver, against one baremetal endpoint."""

    def __init__(self, conn: openstack.connection.Connection, poll: float = 0.2) -> None:
        self.baremetal: Any = conn.baremetal
        self.poll = poll

    # -- inventory and scheduling ------------------------------------------

    def node_list(self, **filters: Any) -> list[Any]:
        """The resource tracker's refresh: every node, Nova's fields, `next` pages followed."""
        return list(self.baremetal.nodes(fields=NODE_FIELDS, **filters))

    @staticmethod
    def schedulable(node: Any) -> bool:
        """driver.py's rules: unused, not in maintenance, power known, available."""
        unused = node.instance_id is None
        unavailable = (
            node.is_maintenance
            or node.power_state in ("error", None)
            or node.provision_state not in ("available", None)
        )
        return unused and not unavailable

    def get_node(self, node_id: str) -> Any:
        return self.baremetal.get_node(node_id, fields=NODE_FIELDS)

    def node_of(self, instance: Instance) -> Any:
        """`_validate_instance_and_node`: exactly one node has the instance, or none."""
        nodes = list(self.baremetal.nodes(instance_id=instance.uuid, fields=NODE_FIELDS))
        if len(nodes) > 1:
            raise AssertionError(f"more than one node has instance {instance.uuid}: {nodes}")
        return nodes[0] if nodes else None

    # -- spawn -------------------------------------------------------------

    def prepare_for_spawn(self, instance: Instance) -> None:
        """Read the chosen node, refuse it if it is used or unavailable, then reserve it."""
        node = self.get_node(instance.node)
        if not self.schedulable(node):
            raise DeployFailed(f"Chosen ironic node {instance.node} is not available")
        try:
            self.baremetal.update_node(node, retry_on_conflict=False, instance_id=instance.uuid)
        except sdk_exc.SDKException as exc:
            raise DeployFailed(f"Failed to reserve node {node.id}: {exc}") from exc

    def add_instance_info(self, instance: Instance, flavor: Mapping[str, Any]) -> None:
        """patcher.py's deploy patch; no image_source, since the server boots from a volume."""
        node = self.get_node(instance.node)
        values: dict[str, Any] = {
            "root_gb": str(flavor["root_gb"]),
            "swap_mb": "0",
            "display_name": instance.display_name,
            "vcpus": str(flavor["vcpus"]),
            "nova_host_id": "compute-1",
            "memory_mb": str(flavor["memory_mb"]),
            "local_gb": str(node.properties.get("local_gb", 0)),
            "project_id": "6d5e1f8c7b2a4c3d9e0f1a2b3c4d5e6f",
            "project_name": "demo",
            "user_id": "0a1b2c3d4e5f40718293a4b5c6d7e8f9",
            "user_name": "demo",
            "flavor_name": flavor["name"],
            "fixed_ips": "[]",
            "floating_ips": "[]",
            "capabilities": '{"iscsi_boot": "true"}',
            "traits": list(flavor.get("traits", [])),
        }
        patch = [
            {"path": f"/instance_info/{key}", "op": "add", "value": value}
            for key, value in values.items()
        ]
        try:
            self.baremetal.patch_node(node, patch)
        except sdk_exc.SDKException as exc:
            raise DeployFailed(f"Failed to add deploy parameters: {exc}") from exc

    def plug_vifs(self, instance: Instance) -> None:
        """A 409 means already attached and is fine; a 400 is fatal."""
        for vif in instance.vifs:
            try:
                self.baremetal.attach_vif_to_node(instance.node, vif, retry_on_conflict=False)
            except sdk_exc.BadRequestException as exc:
                raise DeployFailed(f"Cannot attach VIF {vif}: {exc}") from exc
            except sdk_exc.ConflictException:
                continue

    def volume_connector(self, instance: Instance, hostname: str) -> dict[str, Any]:
        """`get_volume_connector`: what Nova hands Cinder to attach the node's volumes."""
        node = self.get_node(instance.node)
        values: dict[str, list[str]] = {}
        for connector in self.baremetal.volume_connectors(details=True, node=instance.node):
            values.setdefault(connector.type, []).append(connector.connector_id)
        props: dict[str, Any] = {}
        if values.get("ip"):
            props["ip"] = props["host"] = values["ip"][0]
        if values.get("iqn"):
            props["initiator"] = values["iqn"][0]
        if values.get("wwpn"):
            props["wwpns"] = values["wwpn"]
        if values.get("wwnn"):
            props["wwnns"] = values["wwnn"]
        props["platform"] = node.properties.get("cpu_arch")
        props["os_type"] = "baremetal"
        props.setdefault("host", hostname)
        props["multipath"] = False
        return props

    def add_volume_targets(self, instance: Instance) -> None:
        """One target per volume, Cinder's connection data as its properties."""
        for boot_index, info in sorted(instance.block_devices.items()):
            try:
                self.baremetal.create_volume_target(
                    node_id=instance.node,
                    volume_type=info["driver_volume_type"],
                    properties=info["data"],
                    boot_index=boot_index,
                    volume_id=instance.volume_ids[boot_index],
                )
            except (sdk_exc.BadRequestException, sdk_exc.ConflictException) as exc:
                raise DeployFailed(f"Failed to add volume target information: {exc}") from exc

    def validate(self, instance: Instance) -> None:
        """Nova reads deploy, power and storage; a missing key would be its KeyError."""
        checked = self.baremetal.validate_node(instance.node, required=None)
        failed = {
            name: checked[name].reason
            for name in ("deploy", "power", "storage")
            if not checked[name].result
        }
        if failed:
            self.cleanup_deploy(instance)
            raise DeployFailed(f"Ironic node {instance.node} failed to validate: {failed}")

    def deploy(
        self, instance: Instance, timeout: float = 120.0, config_drive: str | None = None
    ) -> Any:
        """`spawn`'s last part: provision to active (with the config drive the instance
        needs, if any: `config_drive()`), then `_wait_for_active`."""
        try:
            self.baremetal.set_node_provision_state(
                instance.node, "active", config_drive=config_drive
            )
        except Exception:
            self.cleanup_deploy(instance)
            raise
        return self._wait(lambda: self._active_or_raise(instance), timeout, "active")

    def _active_or_raise(self, instance: Instance) -> Any:
        node = self.node_of(instance)
        if node is None:
            raise DeployFailed(f"instance {instance.uuid} not found on any node")
        if node.provision_state == "active":
            return node
        if node.target_provision_state in ("deleted", "available") or node.provision_state in (
            None,
            "available",
        ):
            raise DeployFailed(f"instance {instance.uuid} not found: the node is being deleted")
        if node.provision_state == "deploy failed":
            raise DeployFailed(f"Failed to provision instance {instance.uuid}: {node.last_error}")
        return None

    # -- life of the server ------------------------------------------------

    def reboot(self, instance: Instance, soft: bool) -> None:
        """A soft reboot that the driver refuses (400) falls back to a hard one."""
        node = self.node_of(instance)
        if soft:
            try:
                self.baremetal.set_node_power_state(node.id, "soft rebooting")
                return
            except sdk_exc.BadRequestException:
                pass
        self.baremetal.set_node_power_state(node.id, "rebooting")

    def power(self, instance: Instance, target: str, timeout: float = 60.0) -> None:
        """power_off/power_on: ask, then wait until no power change is pending."""
        node = self.node_of(instance)
        self.baremetal.set_node_power_state(node.id, target)
        self._wait(
            lambda: self.node_of(instance).target_power_state is None or None,
            timeout,
            f"{target} to settle",
        )

    def trigger_crash_dump(self, instance: Instance) -> None:
        self.baremetal.inject_nmi_to_node(self.node_of(instance).id)

    # -- destroy -----------------------------------------------------------

    def destroy(self, instance: Instance, timeout: float = 120.0) -> None:
        """Only `deleted` for a provisioned node; Ironic's tear-down does the rest."""
        node = self.node_of(instance)
        if node is None:
            return
        if node.provision_state in (
            "active",
            "deploy failed",
            "error",
            "deploying",
            "wait call-back",
        ):
            self.baremetal.set_node_provision_state(node.id, "deleted")
            self._wait(lambda: self._unprovisioned(instance), timeout, "unprovisioned")
        else:
            self.cleanup_deploy(instance)

    def _unprovisioned(self, instance: Instance) -> bool | None:
        node = self.node_of(instance)
        if node is None or node.provision_state in (
            None,
            "cleaning",
            "clean wait",
            "clean failed",
            "available",
        ):
            return True
        return None

    def cleanup_deploy(self, instance: Instance) -> None:
        """`_cleanup_deploy`: targets, VIFs, then the reservation and instance_info."""
        for target in self.baremetal.volume_targets(details=True, node=instance.node):
            self.baremetal.delete_volume_target(target.id, ignore_missing=True)
        for vif in instance.vifs:
            try:
                self.baremetal.detach_vif_from_node(instance.node, vif)
            except sdk_exc.BadRequestException:
                continue
        node = self.get_node(instance.node)
        self.baremetal.update_node(node, instance_id=None, instance_info={})

    def _wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        """Nova's FixedIntervalLoopingCall: poll until `check` returns something."""
        deadline = time.monotonic() + timeout
        while True:
            found = check()
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout:.0f} s for {what}")
            time.sleep(self.poll)


def config_drive(instance: Instance, public_key: str, user_data: str, hostname: str) -> str:
    """The config drive Nova's ironic driver sends (`_generate_configdrive`): the metadata
    files of each version under openstack/ and ec2/, made into an ISO by genisoimage with
    the flags of nova/virt/configdrive.py, then gzipped and base64-encoded."""
    meta = {
        "uuid": instance.uuid, "name": instance.display_name, "hostname": hostname,
        "launch_index": 0, "availability_zone": "nova", "project_id": "demo", "meta": {},
        "public_keys": {"e2e": public_key},
        "keys": [{"name": "e2e", "type": "ssh", "data": public_key}], "devices": [],
    }  # fmt: skip
    files = {"ec2/latest/meta-data.json": json.dumps({"hostname": hostname}),
             "ec2/latest/user-data": user_data}  # fmt: skip
    for version in _OPENSTACK_VERSIONS:
        files |= {
            f"openstack/{version}/meta_data.json": json.dumps(meta),
            f"openstack/{version}/user_data": user_data,
            f"openstack/{version}/vendor_data.json": "{}",
            f"openstack/{version}/network_data.json": '{"links": [], "networks": [], '
            '"services": []}',
        }
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "drive"
        for path, content in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(content)
        iso = Path(folder) / "configdrive"
        subprocess.run(
            ["genisoimage", "-o", str(iso), "-ldots", "-allow-lowercase", "-allow-multidot",
             "-l", "-publisher", "OpenStack Compute", "-quiet", "-J", "-r", "-V", "config-2",
             str(root)],
            check=True, timeout=60,
        )  # fmt: skip
        return base64.b64encode(gzip.compress(iso.read_bytes())).decode()
