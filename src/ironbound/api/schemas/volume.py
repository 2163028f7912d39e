"""Volume connectors and targets: what Ironbound accepts (more than Ironic checks).

Ironic accepts any connector type and id, any volume type, a negative
boot_index and a string LUN that later crashes the deploy. Here each of
those is a 400 that says what is allowed.
"""

from __future__ import annotations

import ipaddress
import re
import uuid as uuidlib
from typing import Any

from pydantic import Field, field_validator

from ironbound import iscsi
from ironbound.api import problems
from ironbound.api.schemas.common import JsonObject, StrictModel, UUIDStr

# The SAN plan's own rule for CHAP names and secrets (sanplan has no public
# name for it yet), so that create, update and validate never disagree.
from ironbound.sanplan import UNSCRIPTABLE, scriptable

CONNECTOR_TYPES = ("iqn", "ip", "mac", "wwnn", "wwpn", "port", "portgroup")
VOLUME_TYPES = ("iscsi", "fibre_channel")

_MAC = re.compile(r"^([0-9a-f]{2}[:-]){5}[0-9a-f]{2}$", re.IGNORECASE)
_WWN = re.compile(r"^(0x)?([0-9a-f]{16}|([0-9a-f]{2}:){7}[0-9a-f]{2})$", re.IGNORECASE)


def normalize_mac(value: str) -> str | None:
    """A MAC in lower case with colons, or None if `value` is not one."""
    # fullmatch: with match(), '$' also matches before a trailing newline.
    if not _MAC.fullmatch(value):
        return None
    return value.lower().replace("-", ":")


class ConnectorDocument(StrictModel):
    uuid: UUIDStr | None = None
    node_uuid: str
    type: str
    connector_id: str = Field(min_length=1, max_length=255)
    extra: JsonObject = Field(default_factory=dict)


class TargetDocument(StrictModel):
    uuid: UUIDStr | None = None
    node_uuid: str
    volume_type: str
    # The column is an SQL INTEGER: beyond 2**31 - 1 PostgreSQL refuses it, and
    # beyond 2**63 - 1 SQLite does (OverflowError, a 500).
    boot_index: int = Field(ge=0, le=2**31 - 1)
    volume_id: str = Field(min_length=1, max_length=255)
    properties: JsonObject = Field(default_factory=dict)
    extra: JsonObject = Field(default_factory=dict)

    @field_validator("boot_index", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be an integer, not a boolean")
        return value


def check_connector(doc: ConnectorDocument) -> str:
    """The connector id, normalised; raises InvalidParameterValue when it does not fit its type."""
    kind, value = doc.type, doc.connector_id.strip()
    if kind not in CONNECTOR_TYPES:
        raise problems.InvalidConnectorType(kind=kind, allowed=CONNECTOR_TYPES)
    if kind == "iqn":
        if not iscsi.is_iscsi_name(value):
            raise problems.ConnectorNotIqn(value=value, rule=iscsi.NAME_RULE)
        return value
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise problems.ConnectorNotIp(value=value) from exc
    if kind == "mac":
        mac = normalize_mac(value)
        if mac is None:
            raise problems.ConnectorNotMac(value=value)
        return mac
    if kind in ("wwnn", "wwpn"):
        if not _WWN.fullmatch(value):
            raise problems.ConnectorNotWwn(value=value, kind=kind)
        return value.lower().removeprefix("0x").replace(":", "")
    try:
        return str(uuidlib.UUID(value))
    except ValueError as exc:
        raise problems.ConnectorNotUuid(value=value, kind=kind) from exc


def _list_of(props: dict[str, Any], key: str, check: Any) -> None:
    value = props[key]
    if not isinstance(value, list) or not value:
        raise problems.PropertyNotList(key=key)
    for item in value:
        check(f"properties.{key} item", item)


def _has_control_characters(value: str) -> bool:
    """Newlines and the like, which would break the iPXE script a value is rendered into.

    (iscsi.is_iscsi_name() and parse_portal() let a trailing newline through.)
    """
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


def _name(where: str, value: Any) -> None:
    if (
        not isinstance(value, str)
        or _has_control_characters(value)
        or not iscsi.is_iscsi_name(value)
    ):
        raise problems.PropertyNotIqn(where=where, value=value, rule=iscsi.NAME_RULE)


def _portal(where: str, value: Any) -> None:
    if not isinstance(value, str) or _has_control_characters(value):
        raise problems.PortalNotText(where=where, rule=iscsi.PORTAL_RULE)
    try:
        iscsi.parse_portal(value)
    except ValueError as exc:
        raise problems.InvalidPortal(where=where, reason=exc, rule=iscsi.PORTAL_RULE) from exc


def _lun(where: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise problems.InvalidLun(where, value)


def _text(where: str, value: Any) -> None:
    if not isinstance(value, str) or not value or _has_control_characters(value):
        raise problems.PropertyNotText(where=where)


def _credential(where: str, value: Any) -> None:
    """CHAP names and secrets: refused here, not first when the node is validated."""
    _text(where, value)
    if not scriptable(value):
        raise problems.CredentialNotScriptable(where=where, unsafe=UNSCRIPTABLE)


def _wwn(where: str, value: Any) -> None:
    if not isinstance(value, str) or not _WWN.fullmatch(value):
        raise problems.PropertyNotWwn(where=where)


_ISCSI_SINGLE = {
    "target_iqn": _name,
    "target_portal": _portal,
    "target_lun": _lun,
    "auth_username": _credential,
    "auth_password": _credential,
    "reverse_auth_username": _credential,
    "reverse_auth_password": _credential,
}
_ISCSI_LISTS = {"target_iqns": _name, "target_portals": _portal, "target_luns": _lun}


def _check_fibre_channel(props: dict[str, Any]) -> None:
    if "target_lun" in props:
        _lun("properties.target_lun", props["target_lun"])
    if "target_wwn" in props:
        wwn = props["target_wwn"]
        for item in wwn if isinstance(wwn, list) else [wwn]:
            _wwn("properties.target_wwn", item)


def _check_iscsi(props: dict[str, Any]) -> None:
    for key, check in _ISCSI_SINGLE.items():
        if key in props and props[key] is not None:
            check(f"properties.{key}", props[key])
    for key, check in _ISCSI_LISTS.items():
        if key in props and props[key] is not None:
            _list_of(props, key, check)
    portals = props.get("target_portals")
    if isinstance(portals, list):
        for key in ("target_iqns", "target_luns"):
            if isinstance(props.get(key), list) and len(props[key]) != len(portals):
                raise problems.PortalCountMismatch(
                    key=key, count=len(props[key]), portals=len(portals)
                )
    method = props.get("auth_method")
    if method is not None and (
        not isinstance(method, str) or method.upper() not in ("CHAP", "NONE")
    ):
        raise problems.InvalidAuthMethod(method=method)
    # A null is no credential, as the SAN plan reads it.
    reverse = [
        k for k in ("reverse_auth_username", "reverse_auth_password") if props.get(k) is not None
    ]
    if reverse and (
        not isinstance(method, str)
        or method.upper() != "CHAP"
        or "auth_username" not in props
        or "auth_password" not in props
        or len(reverse) != 2
    ):
        raise problems.MutualChapIncomplete()


def check_target(doc: TargetDocument) -> None:
    """Type and property checks; raises InvalidParameterValue naming the bad member."""
    if doc.volume_type not in VOLUME_TYPES:
        raise problems.InvalidVolumeType(volume_type=doc.volume_type, allowed=VOLUME_TYPES)
    if doc.volume_type == "fibre_channel":
        _check_fibre_channel(doc.properties)
    else:
        _check_iscsi(doc.properties)
    # Whatever the volume type: the storage interface reads it as a string.
    if "auth_method" in doc.properties and doc.properties["auth_method"] is None:
        raise problems.AuthMethodNull()
