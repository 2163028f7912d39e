"""What the API answers when it cannot honour a request: one class per message.

Each class is a template of `ironbound.errors`, filled from keyword
arguments, and a kind of those errors, which decides the HTTP status. The
texts are what clients have always seen (most are Ironic's): change none
lightly. A class that writes lists of names takes the names and joins them
itself (see `_Names`), so that every such list reads the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from ironbound import errors


def _names(items: Iterable[object]) -> str:
    return ", ".join(str(item) for item in items)


class _Names(errors.IronboundError):
    """A message whose fields named in `lists` are given as names and written comma-separated."""

    lists: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **fields: Any) -> None:
        super().__init__(**{k: _names(v) if k in self.lists else v for k, v in fields.items()})


# --- the request body --------------------------------------------------------


class BodyTooLarge(errors.InvalidParameterValue):
    template = "The request body is larger than 1 MiB."


class BodyNotJson(errors.InvalidParameterValue):
    template = "The request body is not valid JSON: {reason}"


class BodyTooDeep(errors.InvalidParameterValue):
    template = "The request body is nested more than {depth} levels deep."


class BodyEmpty(errors.InvalidParameterValue):
    template = "The request body is empty; a JSON document is required."


# --- query strings -----------------------------------------------------------


class UnknownQueryParameters(_Names, errors.InvalidParameterValue):
    template = "Unknown query parameter(s) {unknown}. Allowed: {allowed}."
    lists = ("unknown", "allowed")


class InvalidBoolean(errors.InvalidParameterValue):
    template = "Invalid value '{value}' for {name}: expected true or false."


class LimitNotInteger(errors.InvalidParameterValue):
    template = "limit must be an integer, got '{text}'."


class LimitNotPositive(errors.InvalidParameterValue):
    template = "Limit must be positive"


class InvalidSortDirection(errors.InvalidParameterValue):
    template = "Invalid sort direction: {value}. Acceptable values are 'asc' or 'desc'"


class InvalidSortKey(_Names, errors.InvalidParameterValue):
    template = (
        "The sort_key value {key} is an invalid field for sorting. Sortable fields: {sortable}."
    )
    lists = ("sortable",)


class FieldsParameterTooNew(errors.NotAcceptable):
    template = "The fields parameter needs API version {version} or later."


class UnknownFields(errors.InvalidParameterValue):
    template = "Field(s) {unknown} are not valid. Valid fields are: {valid}."

    def __init__(self, unknown: Iterable[str], valid: Iterable[str]) -> None:
        super().__init__(unknown=_names(repr(name) for name in unknown), valid=_names(valid))


class FieldsTooNew(_Names, errors.NotAcceptable):
    template = "Field(s) {names} need a newer API version than {version}."
    lists = ("names",)


class DetailWithFields(errors.InvalidParameterValue):
    template = "Can't fetch a subset of fields with 'detail' set"


class DetailQueryTooNew(errors.InvalidParameterValue):
    template = (
        "Invalid query parameter ?detail={value} received. ?detail= needs API version "
        "1.43 or later; use the /detail path below it."
    )


class FilterTooNew(_Names, errors.NotAcceptable):
    template = (
        "Request not acceptable. The minimal required API version should be {version} "
        "for the filter(s) {names}."
    )
    lists = ("names",)


class UnknownMarker(errors.InvalidParameterValue):
    template = "Marker {marker} is not a known {kind}."


class NotAMacAddress(errors.InvalidParameterValue):
    template = "Expected a MAC address but received {value}."


class InvalidDriverType(errors.InvalidParameterValue):
    template = "Invalid driver type '{kind}'. Allowed: classic, dynamic."


# --- resource documents (create, and update after the patch) ----------------


class DocumentNotObject(errors.InvalidParameterValue):
    template = "Invalid {what}: the body must be a JSON object."


class InvalidDocument(errors.InvalidParameterValue):
    template = "Invalid {what}: {problems}."

    def __init__(self, what: str, problems: Iterable[str]) -> None:
        super().__init__(what=what, problems="; ".join(problems))


class NotSettableOnCreate(_Names, errors.InvalidParameterValue):
    template = "Invalid node: {unknown} cannot be set on create. Allowed: {allowed}."
    lists = ("unknown", "allowed")


class NodeNameIsUuid(errors.InvalidParameterValue):
    template = "Cannot use a UUID ('{name}') as a node name."


class InvalidNodeName(errors.InvalidParameterValue):
    template = "Cannot use '{name}' as a node name: names must be {rule}."


class UnknownBodyNode(errors.InvalidParameterValue):
    template = "Node {node} given as node_uuid could not be found."


class TraitsNotPatchable(errors.InvalidParameterValue):
    template = (
        "Cannot update node traits via node patch. Node traits should be updated via the "
        "node traits API (PUT or DELETE /v1/nodes/<node>/traits)."
    )


class ResetInterfacesWithoutDriver(errors.InvalidParameterValue):
    template = "The reset_interfaces parameter can only be used when changing the node's driver."


class ResetInterfacesTooNew(errors.NotAcceptable):
    template = "The reset_interfaces parameter needs API version {version} or later."


class ProtectedReasonWithoutProtected(errors.InvalidParameterValue):
    template = "The protected_reason field can only be set when protected is True"


class InvalidFault(_Names, errors.InvalidParameterValue):
    template = 'Unrecognized fault "{fault}" is specified, allowed faults are {allowed}'
    lists = ("allowed",)


# --- traits (1.37) -------------------------------------------------------------


class InvalidTrait(errors.InvalidParameterValue):
    template = (
        "Invalid trait {trait!r}: a trait is a standard trait of os-traits (e.g. "
        "HW_CPU_X86_AVX2) or CUSTOM_ followed by upper-case letters, digits and _, at most "
        "255 characters."
    )


class TraitsBodyInvalid(errors.InvalidParameterValue):
    template = (
        "A single node trait may be added via PUT /v1/nodes/<node identifier>/traits/<trait> "
        "with no body, or all node traits may be replaced via PUT /v1/nodes/<node "
        "identifier>/traits with the list of traits specified in the request body "
        '({{"traits": [...]}}).'
    )


class TraitBodyGiven(errors.InvalidParameterValue):
    template = "No body should be provided when adding a trait"


class TooManyTraits(errors.InvalidParameterValue):
    template = (
        "Could not modify traits for node {node} as it would exceed the maximum number of "
        "traits per node ({count} vs. {limit})"
    )


class TraitNotFound(errors.NotFound):
    template = "Node {node} doesn't have a trait '{trait}'"


class BiosSettingNotFound(errors.NotFound):
    template = "Node {node} doesn't have a BIOS setting '{name}'"


class RedactedPropertiesWritten(errors.InvalidParameterValue):
    template = (
        "properties cannot be replaced by the redacted placeholder; "
        "change individual keys (/properties/<key>) instead."
    )


# --- volume connectors and targets -------------------------------------------


class InvalidConnectorType(_Names, errors.InvalidParameterValue):
    template = "Invalid volume connector type '{kind}'. Allowed: {allowed}."
    lists = ("allowed",)


class ConnectorNotIqn(errors.InvalidParameterValue):
    template = (
        "connector_id '{value}' is not a valid iSCSI initiator name for type iqn: expected {rule}."
    )


class ConnectorNotIp(errors.InvalidParameterValue):
    template = "connector_id '{value}' is not an IPv4 or IPv6 address (type ip)."


class ConnectorNotMac(errors.InvalidParameterValue):
    template = "connector_id '{value}' is not a MAC address like 52:54:00:12:34:56 (type mac)."


class ConnectorNotWwn(errors.InvalidParameterValue):
    template = (
        "connector_id '{value}' is not a World Wide Name for type {kind}: expected "
        "16 hex digits, optionally as 8 colon-separated pairs."
    )


class ConnectorNotUuid(errors.InvalidParameterValue):
    template = "connector_id '{value}' must be the UUID of a {kind} (type {kind})."


class InvalidVolumeType(_Names, errors.InvalidParameterValue):
    template = "Invalid volume_type '{volume_type}'. Allowed: {allowed}."
    lists = ("allowed",)


class PropertyNotList(errors.InvalidParameterValue):
    template = "properties.{key} must be a non-empty list."


class PropertyNotIqn(errors.InvalidParameterValue):
    template = "{where} {value!r} is not a valid iSCSI target name: expected {rule}."


class PortalNotText(errors.InvalidParameterValue):
    template = "{where} must be a string without control characters ({rule})."


class InvalidPortal(errors.InvalidParameterValue):
    template = "{where} is not a valid portal: {reason}. Expected {rule}."


class InvalidLun(errors.InvalidParameterValue):
    template = "{where} must be an integer from 0 to 65535, got {value!r}{hint}."

    def __init__(self, where: str, value: Any) -> None:
        hint = " (a string: drop the quotes)" if isinstance(value, str) else ""
        super().__init__(where=where, value=value, hint=hint)


class PropertyNotText(errors.InvalidParameterValue):
    template = "{where} must be a non-empty string without control characters."


class PropertyNotWwn(errors.InvalidParameterValue):
    template = "{where} must be a World Wide Name (16 hex digits)."


class PortalCountMismatch(errors.InvalidParameterValue):
    template = (
        "properties.{key} has {count} entries but target_portals has {portals}: "
        "give one per portal."
    )


class InvalidAuthMethod(errors.InvalidParameterValue):
    template = "properties.auth_method must be 'CHAP' or 'None', got {method!r}."


class AuthMethodNull(errors.InvalidParameterValue):
    template = (
        "properties.auth_method cannot be null: give the string 'CHAP' or 'None', "
        "or leave auth_method out for no authentication."
    )


class CredentialNotScriptable(errors.InvalidParameterValue):
    template = (
        "{where} must be 1-255 printable ASCII characters without spaces or any of "
        "{unsafe} (iPXE scripts cannot quote them)."
    )


class MutualChapIncomplete(errors.InvalidParameterValue):
    template = (
        "Mutual CHAP needs both reverse_auth_username and reverse_auth_password, "
        "and auth_method CHAP with auth_username and auth_password."
    )


# --- JSON Patch --------------------------------------------------------------


class PatchNotList(errors.InvalidParameterValue):
    template = "A PATCH body must be a non-empty JSON array of patch operations."


class TooManyPatchOperations(errors.InvalidParameterValue):
    template = (
        "A PATCH may have at most {limit} operations; this one has {count}. "
        "Send the changes in several requests."
    )


class PatchOperationNotObject(errors.InvalidParameterValue):
    template = "Patch operation {op!r} is not an object."


class PatchOperationUnknownMembers(errors.InvalidParameterValue):
    template = "Patch operation {op!r} has unknown member(s) {unknown}."


class InvalidPatchOperation(_Names, errors.InvalidParameterValue):
    template = "Invalid patch operation {op!r}; allowed: {allowed}."
    lists = ("allowed",)


class PatchPathNotField(errors.InvalidParameterValue):
    template = "Invalid patch path {path!r}: it must name a field, like '/extra/foo'."


class InvalidPatchPath(errors.InvalidParameterValue):
    template = "Invalid patch path {path!r}: {reason}."


class PatchOperationNeedsValue(errors.InvalidParameterValue):
    template = "Patch operation {op!r} needs a 'value'."


class NotPatchable(_Names, errors.InvalidParameterValue):
    template = "Cannot patch {path}. Only the following can be updated: {updatable}"
    lists = ("updatable",)


class MandatoryAttribute(errors.InvalidParameterValue):
    template = "'{path}' is a mandatory attribute and can not be removed"


# --- node actions ------------------------------------------------------------


class ActionBodyNotObject(errors.InvalidParameterValue):
    template = "The {what} request body must be a JSON object."


class UnknownActionFields(_Names, errors.InvalidParameterValue):
    template = "Unknown field(s) {unknown} in the {what} request. Allowed: {allowed}."
    lists = ("unknown", "allowed")


class InvalidProvisionTarget(_Names, errors.InvalidParameterValue):
    template = "Invalid provision state target {target!r}. Allowed: {allowed}."
    lists = ("allowed",)


class ProvisionTargetTooNew(errors.NotAcceptable):
    template = "The provision state target '{verb}' needs API version {version} or later."


class ConfigdriveObjectTooNew(errors.InvalidParameterValue):
    template = (
        "Providing a JSON object for configdrive is only supported starting with API "
        "version {version}"
    )


class ConfigdriveVendorDataTooNew(errors.InvalidParameterValue):
    template = (
        "Providing vendor_data in configdrive is only supported starting with API version {version}"
    )


class ConfigdriveWrongTarget(_Names, errors.InvalidParameterValue):
    template = "Adding a config drive is only supported when setting provision state to {allowed}."
    lists = ("allowed",)


class RescuePasswordNotText(errors.InvalidParameterValue):
    template = "rescue_password must be a string."


class RescuePasswordWithoutRescue(errors.InvalidParameterValue):
    template = '"rescue_password" is only valid when setting target provision state to rescue.'


class RescuePasswordMissing(errors.InvalidParameterValue):
    template = (
        'A non-empty "rescue_password" is required when setting target provision state to rescue.'
    )


class RescueUnsupported(errors.InvalidParameterValue):
    template = (
        "Failed to rescue instance {instance} for node {node}: Validation failed: Driver "
        "{driver} does not support rescue (disabled or not implemented). A node that boots "
        "from a volume has no rescue ramdisk: its rescue interface is no-rescue."
    )


class NmiUnsupported(errors.InvalidParameterValue):
    template = "{reason}"


class ConsoleUnsupported(errors.InvalidParameterValue):
    template = (
        "Driver {driver} does not support console (disabled or not implemented). "
        "Ironbound offers no serial or graphical console: every console interface "
        "behaves as no-console."
    )


class InvalidConsoleRequest(errors.InvalidParameterValue):
    template = "Invalid value {value!r} for enabled: expected true or false."


class NmiBodyNotEmpty(errors.InvalidParameterValue):
    template = "Injecting an NMI takes no arguments; send no body or {{}}."


class ManualCleaningUnsupported(errors.InvalidParameterValue):
    template = (
        "Manual cleaning has no steps to run here: Ironbound's interfaces "
        "define no clean steps for a node that boots from a volume."
    )


class CleanStepsWithoutClean(errors.InvalidParameterValue):
    template = "clean_steps may only be given with target 'clean'."


class NodeInMaintenance(errors.InvalidParameterValue):
    template = "Node {node} is in maintenance mode; take it out of maintenance before '{verb}'."


class InvalidPowerTarget(_Names, errors.InvalidParameterValue):
    template = "Invalid power state target {target!r}. Allowed: {allowed}."
    lists = ("allowed",)


class InvalidPowerTimeout(errors.InvalidParameterValue):
    template = "timeout must be a positive integer (seconds)."


class InvalidRaidConfig(errors.InvalidParameterValue):
    template = "The RAID configuration must be an object with one member, logical_disks (a list)."


class MaintenanceReasonNotText(errors.InvalidParameterValue):
    template = "reason must be a string."


class InvalidBootDeviceRequest(errors.InvalidParameterValue):
    template = "boot_device must be a string and persistent a boolean."


class UnsupportedBootDevice(errors.InvalidParameterValue):
    template = "Invalid boot device {device}, valid devices are {supported}."


# --- changes the node's state does not allow (409) ----------------------------


class InterfaceUpdateRefused(_Names, errors.InvalidState):
    template = (
        "Node {node} can not have {what} updated unless it is in one of allowed ({allowed}) "
        "states or in maintenance mode. Current state is '{state}'."
    )
    lists = ("allowed",)


class RecordChangedDuringUpdate(errors.Conflict):
    template = (
        "The {what} changed while this update was worked out, {attempts} times in a row; "
        "please retry."
    )


class NodeDeleteRefused(errors.InvalidState):
    template = (
        'Can not delete node "{node}" while it is in provision state "{state}". Valid '
        'provision states to perform deletion are: "{allowed}", or set the node into '
        "maintenance mode"
    )


class ProtectRefused(_Names, errors.InvalidState):
    template = (
        "Node {node} can only be made protected in provision state(s) {allowed}, the "
        "current state is '{state}'"
    )
    lists = ("allowed",)


class NodeProtected(errors.Forbidden):
    template = "Node {node} is protected and cannot be undeployed, rebuilt or deleted"


class PortChangeRefused(errors.InvalidState):
    template = (
        "Cannot {action} a port of node {node} while it is '{state}': the node boots through "
        "its ports. Set the node into maintenance mode first."
    )


class InvalidVifId(errors.InvalidParameterValue):
    template = (
        "Invalid VIF id '{value}': expected letters, digits and the characters . _ ~ - "
        "(at most 255), such as a Neutron port UUID."
    )


class InvalidPortgroupName(errors.InvalidParameterValue):
    template = "Cannot create portgroup with invalid name '{name}'"


class PortgroupOnOtherNode(errors.InvalidParameterValue):
    template = (
        "Port cannot be a member of portgroup {portgroup}: the portgroup belongs to node "
        "{group_node}, the port to node {port_node}."
    )


class StandalonePortsUnsupported(errors.Conflict):
    template = (
        "Port group {portgroup} doesn't support standalone ports. This port cannot be a "
        "member of that port group because its 'pxe_enabled' field is True."
    )


class PhysicalNetworkEmpty(errors.InvalidParameterValue):
    template = "A non-empty value is required when setting physical_network."


class SmartNicLinkIncomplete(errors.InvalidParameterValue):
    template = "Smart NIC port must have port_id and hostname in local_link_connection"


class PortgroupPhysnetConflict(errors.Conflict):
    template = (
        "Port with physical network {physnet} cannot become a member of port group "
        "{portgroup} which has ports in physical network {group_physnet}."
    )


# --- managed volumes ---------------------------------------------------------


class ManagedVolumeNotFound(errors.NotFound):
    template = "Managed volume {volume} could not be found."


class ManagedVolumeInUse(errors.InvalidState):
    template = (
        "Managed volume {volume} is attached (exported to nodes {nodes}); undeploy them "
        "before deleting it."
    )


class ManagedVolumeShared(errors.InvalidState):
    template = (
        "Managed volume {volume} is attached to several nodes ({nodes}); it stays shareable "
        "until all but one have detached it."
    )


class NodeHoldsManagedVolumes(errors.InvalidState):
    template = (
        "Node {node} still owns managed volume(s) {volumes} (kept for its next deploy). "
        "Delete them first (DELETE /v1/volume/managed/<uuid>, or `ironbound volume delete "
        "<uuid>`) if their data may go: a node's deletion never deletes data."
    )


# --- versions, missing resources, conductors ----------------------------------


class MalformedVersion(errors.NotAcceptable):
    template = (
        "Invalid value for {header} header: '{requested}'. It must be 'latest' or "
        "MAJOR.MINOR, e.g. {latest}."
    )


class VersionOutOfRange(errors.NotAcceptable):
    template = (
        "Version {requested} was requested but the minor version is not supported by "
        "this service. The supported version range is: [{lowest}, {highest}]."
    )


class VersionLacks(errors.NotFound):
    template = "The API version does not allow {feature}"


class VersionLacksWrite(errors.MethodNotAllowed):
    template = VersionLacks.template


class NotOffered(errors.NotFound):
    template = "Ironbound does not offer {feature} (see its compatibility notes): {why}."


class NotOfferedWrite(errors.MethodNotAllowed):
    template = NotOffered.template


class ResourceNotFound(errors.NotFound):
    template = "The resource could not be found."


class NodeDeletedWhileWaiting(errors.NotFound):
    template = "The node was deleted while the request waited for it."


class NoConductorAnswered(errors.TemporaryFailure):
    template = "No conductor answered within {timeout:g} s; check that a conductor is running."


class NoConductorForDriver(errors.NoValidHost):
    template = (
        "No valid host was found. Reason: No conductor service registered which supports "
        "driver {driver}. Available hardware types: {offered}."
    )


class ConductorNotFound(errors.NotFound):
    template = "Conductor {conductor} could not be found."


class NoConductorInGroup(errors.NoValidHost):
    template = (
        "No valid host was found. Reason: No conductor service registered which supports "
        'driver {driver} for conductor group "{group}". Ensure the driver is valid and enabled.'
    )


class InvalidConductorGroup(errors.InvalidParameterValue):
    template = (
        "Expected a conductor group but received {group!r}: a conductor group is at most "
        "255 letters, digits and the characters _ - ."
    )


# --- authentication ------------------------------------------------------------


class CredentialsUncheckable(errors.TemporaryFailure):
    template = "Credentials cannot be checked right now; the server log says why."


# --- the request edge: what a body may be --------------------------------------


class IntegerOutOfRange(errors.InvalidParameterValue):
    template = "The request body has an integer outside the range allowed: {lowest} to {highest}."


class UnsupportedMediaType(errors.IronboundError):
    template = "Unsupported Content-Type '{given}' for the request body; allowed: {allowed}."


class BodyTimeout(errors.IronboundError):
    template = "The request body did not arrive within {timeout:g} s."
