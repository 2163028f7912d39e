"""The one error hierarchy of Ironbound.

Each class is a message template; callers pass the template's fields as
keyword arguments. The classes say *what kind* of failure happened (not
found, invalid, conflict, ...) and nothing about HTTP: `api/errors.py` maps
the kinds to status codes in one table. Errors raised by foreign libraries
(sushy, tgtadm, openstacksdk) are translated into these at the driver
boundary, so nothing above the drivers sees a foreign exception.
"""

from __future__ import annotations

from typing import Any, ClassVar


class IronboundError(Exception):
    """Base class: a message template filled from keyword arguments."""

    template: ClassVar[str] = "An unknown error occurred."

    def __init__(self, message: str | None = None, **fields: Any) -> None:
        self.fields = fields
        if message is None:
            try:
                message = self.template.format(**fields)
            except (KeyError, IndexError):
                message = self.template
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message


# --- the request cannot be honoured as written (400) -----------------------


class Invalid(IronboundError):
    template = "Invalid input: {reason}"


class InvalidParameterValue(Invalid):
    template = "{reason}"


class MissingParameterValue(Invalid):
    template = "{reason}"


class InvalidUUID(Invalid):
    template = "Expected UUID for {field}: {value}"


class PortgroupNotEmpty(Invalid):
    template = "Cannot complete the requested action because portgroup {portgroup} contains ports."


class NoFreePhysicalPorts(Invalid):
    template = "Unable to attach VIF {vif}, not enough free physical ports."


class VifNotAttached(Invalid):
    template = "Unable to detach VIF {vif} from node {node} because it is not attached to it."


class MalformedRequestURI(Invalid):
    template = "Malformed request URI."


class PatchError(Invalid):
    template = "Couldn't apply patch '{patch}'. Reason: {reason}"


class InvalidStateRequested(Invalid):
    template = (
        'The requested action "{action}" can not be performed on node "{node}" '
        'while it is in state "{state}".'
    )


class InterfaceNotFound(Invalid):
    template = (
        "Could not find the following interface in the "
        "'ironbound.hardware.interfaces.{interface_type}' entrypoint: {name}. "
        "Valid interfaces are {valid}."
    )


class UnsupportedDriverExtension(Invalid):
    template = "Driver {driver} does not support {extension} (disabled or not implemented)."


class NoValidHost(Invalid):
    template = "No valid host was found. Reason: {reason}"


class ConfigDriveInvalid(Invalid):
    """A config drive that is not one of the forms a deploy takes (see `configdrive`)."""

    template = "Invalid configdrive format: {reason}"


class ConfigDriveTooLarge(ConfigDriveInvalid):
    template = (
        "Invalid configdrive format: the config drive inflates to more than {limit} MiB; "
        "a config drive holds at most {limit} MiB."
    )


class ConfigDriveUrl(Invalid):
    template = (
        "A config drive given as a URL is not supported: nothing fetches it for the node. "
        "Send the config drive itself, a gzipped and base64-encoded ISO 9660 image."
    )


class ConfigDriveUndeliverable(Invalid):
    """A deploy carries a config drive that `what` (an interface, a way of booting) cannot
    hand to the node: failing beats the instance booting without its identity."""

    template = (
        "{what} cannot deliver a config drive yet; deploy without "
        "one (instance_info/configdrive unset), and give the instance its identity another way."
    )


# --- the thing asked for does not exist (404) ------------------------------


class ConfigInvalid(IronboundError):
    """A configuration a process refuses to start with."""

    template = "Invalid configuration: {reason}"


class PluginNotFound(ConfigInvalid):
    """An option names a plug-in no installed package registers."""

    template = "Invalid configuration: {option} is {name!r}, but the installed {kind} are {valid}."


class NotFound(IronboundError):
    template = "Resource could not be found."


class NodeNotFound(NotFound):
    template = "Node {node} could not be found."


class PortNotFound(NotFound):
    template = "Port {port} could not be found."


class PortgroupNotFound(NotFound):
    template = "Portgroup {portgroup} could not be found."


class VolumeConnectorNotFound(NotFound):
    template = "Volume connector {connector} could not be found."


class VolumeTargetNotFound(NotFound):
    template = "Volume target {target} could not be found."


class DriverNotFound(NotFound):
    template = "Could not find the following driver(s) or hardware type(s): {driver}."


class VersionNotSupported(NotFound):
    template = "The API is not supported for this version"


# --- the request clashes with the current state (409) ----------------------


class Conflict(IronboundError):
    template = "Conflict."


class StateFolderHeld(Conflict):
    template = (
        "The state folder {path} is held by process {pid} (an 'ironbound serve' or "
        "'ironbound conductor'): one conductor process a state folder; give this one "
        "its own (--state-dir, [DEFAULT]state_path) or stop that one first."
    )


class DuplicateName(Conflict):
    template = "A node with name {name} already exists."


class NodeAlreadyExists(Conflict):
    template = "A node with UUID {uuid} already exists."


class InstanceAssociated(Conflict):
    template = "Node {node} is associated with instance {instance_uuid}."


class MACAlreadyExists(Conflict):
    template = "A port with MAC address {mac} already exists."


class PortAlreadyExists(Conflict):
    template = "A port with UUID {uuid} already exists."


class PortgroupAlreadyExists(Conflict):
    template = "A portgroup with UUID {uuid} already exists."


class PortgroupDuplicateName(Conflict):
    template = "A portgroup with name {name} already exists."


class PortgroupMACAlreadyExists(Conflict):
    template = "A portgroup with MAC address {mac} already exists."


class VifAlreadyAttached(Conflict):
    template = (
        "Unable to attach VIF because VIF {vif} is already attached to Ironic "
        "{object_type} {object_uuid}"
    )


class VolumeConnectorAlreadyExists(Conflict):
    template = "A volume connector with UUID {uuid} already exists."


class VolumeConnectorTypeAndIdAlreadyExists(Conflict):
    template = "A volume connector with type {type} and connector ID {connector_id} already exists."


class VolumeTargetAlreadyExists(Conflict):
    template = "A volume target with UUID {uuid} already exists."


class VolumeTargetBootIndexAlreadyExists(Conflict):
    template = "A volume target with boot index '{boot_index}' for the same node already exists."


class NodeLocked(Conflict):
    template = (
        "Node {node} is locked by host {host}, please retry after the current operation "
        "is completed."
    )


class InvalidState(Conflict):
    template = "{reason}"


class LockLost(Conflict):
    """A flow's conductor no longer holds its node (taken over, or the stop abandoned it)."""

    template = "Conductor {host} no longer holds node {node}; its work on the node stops here."


# --- other request-level failures ------------------------------------------


class NotAcceptable(IronboundError):
    template = "Request not acceptable."


class MethodNotAllowed(IronboundError):
    template = "The method is not allowed for this resource."


class NotAuthorized(IronboundError):
    template = "Not authorized."


class Forbidden(IronboundError):
    template = "Access was denied to the following resource: {resource}"


class TemporaryFailure(IronboundError):
    template = "Resource temporarily unavailable, please retry."


# --- failures while driving hardware or storage (end up in last_error) -----


class DriverError(IronboundError):
    """A driver could not do what a flow asked; the flow records it on the node."""

    template = "{reason}"


class PowerStateFailure(DriverError):
    template = "Failed to set node power state to {state}: {reason}"


class BMCError(DriverError):
    template = "The BMC of node {node} failed: {reason}"


class BootError(DriverError):
    template = "{reason}"


class StorageError(DriverError):
    template = "Storage operation failed: {reason}"


class ImageError(DriverError):
    """The image could not be fetched, verified or written onto the boot volume."""

    template = "{reason}"


class DHCPError(DriverError):
    template = "DHCP provider {provider}: {reason}"


class StepFailed(DriverError):
    """A named step of a flow failed; the message is the node's last_error."""

    template = "{step} failed: {reason}"
