"""The contracts between the conductor and the drivers.

A node is driven through one implementation per interface type (power,
management, boot, deploy, storage, ...), chosen per node and combined by its
hardware type, as in Ironic. The conductor calls drivers only through the
classes below and hands them a `Task`: a snapshot of the node and its ports,
volume connectors and volume targets, plus the few write operations a driver
may need. Drivers never open database sessions and never hold a transaction
across a call to hardware.

Errors: `validate` raises `InvalidParameterValue` or `MissingParameterValue`
(the node is misconfigured); every other method raises a `DriverError`
subclass with a message fit for the node's last_error. A driver translates
its library's exceptions (sushy, subprocess, ...) at its own boundary.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from oslo_config import cfg

from ironbound import config, errors, states
from ironbound.records import (
    ConnectorInfo,
    ImageDestination,
    ManagedVolume,
    NodeInfo,
    PortInfo,
    TargetInfo,
)

T = TypeVar("T")

# Boot devices, with Ironic's names.
PXE = "pxe"
DISK = "disk"
CDROM = "cdrom"
BIOS = "bios"
SAFE = "safe"

# Capabilities a boot interface may declare.
ISCSI_VOLUME_BOOT = "iscsi_volume_boot"
BOOT_EVENTS = "boot_events"  # the booting node reports back; deploys wait for it
RAMDISK_BOOT = "ramdisk_boot"  # boots instance_info kernel+ramdisk or boot_iso over HTTP
# Capabilities a deploy interface may declare.
RAMDISK_DEPLOY = "ramdisk_deploy"  # a node without a boot volume boots a kernel and ramdisk
# Capabilities a storage interface may declare.
ATTACH_FILLS_TARGETS = "attach_fills_targets"  # targets get their connection data at attach
RECONCILES = "reconciles"  # compares its attachments with the storage's (see reconcile)
WRITES_IMAGES = "writes_images"  # a deploy can write instance_info/image_source onto the volume
PROVIDES_BOOT_VOLUME = "provides_boot_volume"  # attach creates the boot volume and its target
DELIVERS_CONFIG_DRIVE = "delivers_config_drive"  # the booted node gets instance_info/configdrive


def boot_confirmation(task: Task) -> str:
    """When the node's deploy is done once it boots: instance_info's boot_confirmation
    (this deploy), else driver_info's (this node), else [deploy]boot_confirmation.

    :raises InvalidParameterValue: the node names neither of the two.
    """
    for field, values in (("instance_info", task.node.instance_info),
                          ("driver_info", task.node.driver_info)):  # fmt: skip
        chosen = values.get("boot_confirmation")
        if chosen is None:
            continue
        if chosen not in config.BOOT_CONFIRMATIONS:
            raise errors.InvalidParameterValue(
                reason=f"{field}/boot_confirmation is {chosen!r}; it must be one of "
                f"{', '.join(config.BOOT_CONFIRMATIONS)}"
            )
        return str(chosen)
    return str(task.conf.deploy.boot_confirmation)


class Driver(Protocol):
    """The node's interfaces, one attribute per interface type."""

    bios: BiosInterface
    boot: BootInterface
    console: ConsoleInterface
    deploy: DeployInterface
    inspect: InspectInterface
    management: ManagementInterface
    network: NetworkInterface
    power: PowerInterface
    raid: RaidInterface
    rescue: RescueInterface
    storage: StorageInterface
    vendor: VendorInterface


class VolumeStore(Protocol):
    """The rows of the volumes Ironbound stores itself (`managed` storage), for drivers."""

    def get(self, volume_uuid: str) -> ManagedVolume | None:
        """The volume, or None when there is no such volume."""

    def for_node(self, node_uuid: str) -> list[ManagedVolume]:
        """The volumes the node owns or is exported to."""

    def exported(self) -> list[ManagedVolume]:
        """Every volume exported to some node (what a restarted target must hold)."""

    def save(self, volume: ManagedVolume) -> None:
        """Insert or replace the volume's row (secrets sealed)."""

    def delete(self, volume_uuid: str) -> None:
        """Remove the volume's row."""


#: Why a step stopped, and the deploy failed, when the operator aborted the deploy.
ABORTED = "the deploy was aborted"


class Task(Protocol):
    """What a driver is handed: the node snapshot and the writes it may make."""

    conf: cfg.ConfigOpts
    node: NodeInfo
    ports: Sequence[PortInfo]
    volume_connectors: Sequence[ConnectorInfo]
    volume_targets: Sequence[TargetInfo]
    driver: Driver
    #: The deploy was asked as a rebuild: write the image even onto a kept volume.
    rebuilding: bool
    managed_volumes: VolumeStore

    def run_step(self, name: str, action: Callable[[], T]) -> T:
        """Run `action` as the named step: record its start and end, and turn any
        error into StepFailed ("<name> failed: <why>"), the node's last_error."""

    def record(self, message: str, *, event_type: str = "progress", severity: str = "info") -> None:
        """Add a line to the node's progress record (never put secrets in it)."""

    def set_internal_info(self, **values: Any) -> None:
        """Merge values into driver_internal_info and save; None removes a key."""

    def set_last_error(self, message: str | None) -> None:
        """Show a problem on the node outside any flow (None clears it)."""

    def set_target_properties(self, target_uuid: str, properties: Mapping[str, Any]) -> None:
        """Replace a volume target's properties (e.g. connection data from an attach)."""

    def delete_volume_targets(self, target_uuids: Sequence[str] | None = None) -> None:
        """Remove these volume targets of the node (None: every one)."""

    def add_volume_target(self, volume_type: str, boot_index: int, volume_id: str) -> str:
        """Create a volume target on the node (no properties yet); returns its UUID."""

    def issue_boot_token(self) -> str:
        """Create (or replace) the node's boot token and return it in the clear."""

    def boot_confirmation_url(self) -> str | None:
        """Where the node's booted system confirms it came up (its boot token's URL), or
        None while the node holds no token (a secret: never log it)."""

    def revoke_boot_token(self) -> None:
        """Remove the node's boot token; its script URL then answers 404."""

    def abort_requested(self) -> bool:
        """The operator called the running deploy off: a long step should stop (a
        database read: ask about once a second, not in a tight loop)."""

    def power_action(self, power_state: str, timeout: float | None = None) -> None:
        """Drive the power interface to POWER_ON, POWER_OFF or REBOOT and record the result;
        `timeout` bounds the wait (the interface's own default when None)."""


class BaseInterface(abc.ABC):
    """Common to every interface implementation."""

    interface_type: ClassVar[str]
    #: What this implementation can do, for other interfaces to check.
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.conf = conf

    @abc.abstractmethod
    def validate(self, task: Task) -> None:
        """Check that the node holds what this interface needs; touch no hardware.

        :raises InvalidParameterValue: a value is wrong (the message says which
            and what is allowed).
        :raises MissingParameterValue: a required value is missing.
        """

    def get_properties(self) -> dict[str, str]:
        """The driver_info keys this interface reads, with a description of each."""
        return {}


class PowerInterface(BaseInterface):
    interface_type = "power"

    @abc.abstractmethod
    def get_power_state(self, task: Task) -> str:
        """The node's power state: states.POWER_ON or states.POWER_OFF.

        :raises PowerStateFailure, BMCError: the BMC could not be asked.
        """

    @abc.abstractmethod
    def set_power_state(self, task: Task, power_state: str, timeout: float | None = None) -> None:
        """Switch to POWER_ON, POWER_OFF or SOFT_POWER_OFF and wait until reached.

        :raises PowerStateFailure: the state was not reached within `timeout`.
        """

    @abc.abstractmethod
    def reboot(self, task: Task, timeout: float | None = None, soft: bool = False) -> None:
        """Restart the node (power it on if it is off)."""

    def get_supported_power_states(self, task: Task) -> list[str]:
        return [states.POWER_ON, states.POWER_OFF, states.REBOOT]


class ManagementInterface(BaseInterface):
    interface_type = "management"

    @abc.abstractmethod
    def get_supported_boot_devices(self, task: Task) -> list[str]:
        """Boot devices this node can be set to (PXE, DISK, ...)."""

    @abc.abstractmethod
    def set_boot_device(self, task: Task, device: str, persistent: bool = False) -> None:
        """Make the node boot from `device` next time (or always, if persistent)."""

    @abc.abstractmethod
    def get_boot_device(self, task: Task) -> dict[str, Any]:
        """``{"boot_device": <device or None>, "persistent": <bool or None>}``."""

    def inject_nmi(self, task: Task) -> None:
        """Send the node a non-maskable interrupt (a diagnostic interrupt) now.

        :raises UnsupportedDriverExtension: the interface or the BMC cannot.
        """
        raise errors.UnsupportedDriverExtension(driver=task.node.driver, extension="inject_nmi")


class BootInterface(BaseInterface):
    interface_type = "boot"

    @abc.abstractmethod
    def prepare_instance(self, task: Task) -> None:
        """Arrange for the node to boot its instance (for BFV: the volume)."""

    @abc.abstractmethod
    def clean_up_instance(self, task: Task) -> None:
        """Undo prepare_instance: the node can no longer boot the instance from us."""

    def interpret_boot_event(self, task: Task, event: Mapping[str, str]) -> tuple[bool, str]:
        """Read a report the booting node sent to the boot server.

        :returns: (True, what happened) when the boot reached the instance,
            (False, what went wrong and what to check) when it failed.
        """
        if event.get("event") == "booting":
            return True, "the node reported that it is booting its instance"
        return False, f"the node reported a boot failure: {dict(event)}"


class DeployInterface(BaseInterface):
    interface_type = "deploy"

    @abc.abstractmethod
    def deploy(self, task: Task) -> str | None:
        """Deploy the node.

        :returns: None when the node is deployed, or states.DEPLOYWAIT when the
            deploy continues once the booting node reports back.
        """

    @abc.abstractmethod
    def tear_down(self, task: Task) -> None:
        """Undeploy: power off and undo what deploy did."""

    def take_over(self, task: Task) -> None:
        """Adopt a node that is already running its instance (no power action)."""

    def delivers_config_drive(self, task: Task) -> bool:
        """Whether this deploy hands the node its config drive itself, not through the
        storage interface (which then need not declare DELIVERS_CONFIG_DRIVE)."""
        return False


class StorageInterface(BaseInterface):
    interface_type = "storage"

    @abc.abstractmethod
    def attach_volumes(self, task: Task) -> None:
        """Make the node's volumes reachable by the node (and record connection data)."""

    @abc.abstractmethod
    def detach_volumes(self, task: Task) -> None:
        """Undo attach_volumes."""

    def image_destination(self, task: Task) -> ImageDestination:
        """Where a deploy writes instance_info/image_source: the attached boot volume.

        Only interfaces with the WRITES_IMAGES capability are asked.
        """
        raise errors.StorageError(
            reason=f"storage interface '{task.node.interfaces.get('storage')}' cannot write images"
        )

    def image_written(self, task: Task, image: str | None) -> None:
        """Remember the checksum of the image the boot volume now holds (None: a write
        is under way or failed, so the volume holds nothing known to be good).

        None comes before the write: a storage that must not let it happen (the volume
        is another node's too) raises StorageError then, before anything is written.
        """

    def reconcile(self, task: Task) -> None:
        """Compare the attachments recorded for an active node with the storage's own
        view, and show any difference on the node (never repair it behind the user's back)."""

    def live_exports(self) -> set[str] | None:
        """The target IQNs the iSCSI target this storage exports volumes on itself serves
        now, for the conductor's export watch; None for storage that exports nothing itself."""
        return None

    def attach_config_drive(self, task: Task, iso: bytes | None) -> None:
        """Give the attached node its config drive (a `config-2` ISO) read-only, behind
        its own credentials, until its volumes are detached; None: take away the one it
        has. Only interfaces with the DELIVERS_CONFIG_DRIVE capability are asked."""
        raise errors.StorageError(
            reason=f"storage interface '{task.node.interfaces.get('storage')}' cannot deliver "
            "a config drive"
        )


class _NoStepsInterface(BaseInterface):
    """Interface types Ironbound carries for compatibility but drives no flow through."""

    def validate(self, task: Task) -> None:
        return None


class BiosInterface(_NoStepsInterface):
    interface_type = "bios"


class ConsoleInterface(_NoStepsInterface):
    interface_type = "console"


class InspectInterface(_NoStepsInterface):
    interface_type = "inspect"

    def inspect_hardware(self, task: Task) -> None:
        """Collect hardware facts into the node's properties."""


class NetworkInterface(_NoStepsInterface):
    interface_type = "network"


class RaidInterface(_NoStepsInterface):
    interface_type = "raid"


class RescueInterface(_NoStepsInterface):
    interface_type = "rescue"


class VendorInterface(_NoStepsInterface):
    interface_type = "vendor"


INTERFACE_BASES: dict[str, type[BaseInterface]] = {
    cls.interface_type: cls
    for cls in (
        BiosInterface,
        BootInterface,
        ConsoleInterface,
        DeployInterface,
        InspectInterface,
        ManagementInterface,
        NetworkInterface,
        PowerInterface,
        RaidInterface,
        RescueInterface,
        StorageInterface,
        VendorInterface,
    )
}

#: Interfaces every hardware type must be able to fill.
REQUIRED_INTERFACES: tuple[str, ...] = ("boot", "deploy", "management", "power")


class HardwareType:
    """A named combination: for each interface type, the implementations it supports.

    Order matters: when a node names no implementation, it gets the first
    supported one that is enabled in the configuration.
    """

    name: ClassVar[str]
    supported: ClassVar[Mapping[str, Sequence[str]]]

    @classmethod
    def driver_properties(cls) -> dict[str, str]:
        """Nothing beyond what the interfaces describe."""
        return {}
