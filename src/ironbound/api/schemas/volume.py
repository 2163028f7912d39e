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

from ironbound import errors, iscsi
from ironbound.api.schemas.common import JsonObject, StrictModel, UUIDStr

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
        raise errors.InvalidParameterValue(
            reason=f"Invalid volume connector type '{kind}'. Allowed: {', '.join(CONNECTOR_TYPES)}."
        )
    if kind == "iqn":
        if not iscsi.is_iscsi_name(value):
            raise errors.InvalidParameterValue(
                reason=f"connector_id '{value}' is not a valid iSCSI initiator name for type iqn: "
                f"expected {iscsi.NAME_RULE}."
            )
        return value
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError as exc:
            raise errors.InvalidParameterValue(
                reason=f"connector_id '{value}' is not an IPv4 or IPv6 address (type ip)."
            ) from exc
    if kind == "mac":
        mac = normalize_mac(value)
        if mac is None:
            raise errors.InvalidParameterValue(
                reason=f"connector_id '{value}' is not a MAC address like 52:54:00:12:34:56 "
                "(type mac)."
            )
        return mac
    if kind in ("wwnn", "wwpn"):
        if not _WWN.fullmatch(value):
            raise errors.InvalidParameterValue(
                reason=f"connector_id '{value}' is not a World Wide Name for type {kind}: expected "
                "16 hex digits, optionally as 8 colon-separated pairs."
            )
        return value.lower().removeprefix("0x").replace(":", "")
    try:
        return str(uuidlib.UUID(value))
    except ValueError as exc:
        raise errors.InvalidParameterValue(
            reason=f"connector_id '{value}' must be the UUID of a {kind} (type {kind})."
        ) from exc


def _list_of(props: dict[str, Any], key: str, check: Any) -> None:
    value = props[key]
    if not isinstance(value, list) or not value:
        raise errors.InvalidParameterValue(reason=f"properties.{key} must be a non-empty list.")
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
        raise errors.InvalidParameterValue(
            reason=f"{where} {value!r} is not a valid iSCSI target name: expected "
            f"{iscsi.NAME_RULE}."
        )


def _portal(where: str, value: Any) -> None:
    if not isinstance(value, str) or _has_control_characters(value):
        raise errors.InvalidParameterValue(
            reason=f"{where} must be a string without control characters ({iscsi.PORTAL_RULE})."
        )
    try:
        iscsi.parse_portal(value)
    except ValueError as exc:
        raise errors.InvalidParameterValue(
            reason=f"{where} is not a valid portal: {exc}. Expected {iscsi.PORTAL_RULE}."
        ) from exc


def _lun(where: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise errors.InvalidParameterValue(
            reason=f"{where} must be an integer from 0 to 65535, got {value!r}"
            + (" (a string: drop the quotes)" if isinstance(value, str) else "")
            + "."
        )


def _text(where: str, value: Any) -> None:
    if not isinstance(value, str) or not value or _has_control_characters(value):
        raise errors.InvalidParameterValue(
            reason=f"{where} must be a non-empty string without control characters."
        )


def _wwn(where: str, value: Any) -> None:
    if not isinstance(value, str) or not _WWN.fullmatch(value):
        raise errors.InvalidParameterValue(
            reason=f"{where} must be a World Wide Name (16 hex digits)."
        )


_ISCSI_SINGLE = {
    "target_iqn": _name,
    "target_portal": _portal,
    "target_lun": _lun,
    "auth_username": _text,
    "auth_password": _text,
    "reverse_auth_username": _text,
    "reverse_auth_password": _text,
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
                raise errors.InvalidParameterValue(
                    reason=f"properties.{key} has {len(props[key])} entries but target_portals "
                    f"has {len(portals)}: give one per portal."
                )
    method = props.get("auth_method")
    if method is not None and (
        not isinstance(method, str) or method.upper() not in ("CHAP", "NONE")
    ):
        raise errors.InvalidParameterValue(
            reason=f"properties.auth_method must be 'CHAP' or 'None', got {method!r}."
        )
    reverse = [k for k in ("reverse_auth_username", "reverse_auth_password") if k in props]
    if reverse and (
        not isinstance(method, str)
        or method.upper() != "CHAP"
        or "auth_username" not in props
        or "auth_password" not in props
        or len(reverse) != 2
    ):
        raise errors.InvalidParameterValue(
            reason="Mutual CHAP needs both reverse_auth_username and reverse_auth_password, "
            "and auth_method CHAP with auth_username and auth_password."
        )


def check_target(doc: TargetDocument) -> None:
    """Type and property checks; raises InvalidParameterValue naming the bad member."""
    if doc.volume_type not in VOLUME_TYPES:
        raise errors.InvalidParameterValue(
            reason=f"Invalid volume_type '{doc.volume_type}'. Allowed: {', '.join(VOLUME_TYPES)}."
        )
    if doc.volume_type == "fibre_channel":
        _check_fibre_channel(doc.properties)
    else:
        _check_iscsi(doc.properties)
