"""The SAN attachments a node boots with, worked out from its volume records.

The ipxe boot interface builds this plan to validate a node before deploy;
the boot server builds it again to render the script, so both always agree.
What Ironic gets wrong and this gets right: the LUN is hexadecimal in the
URI, IPv6 portals keep their brackets, each portal of a multipath volume
keeps its own IQN and LUN, a volume without CHAP clears the previous
volume's credentials, and mutual CHAP is supported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ironbound import iscsi
from ironbound.records import ConnectorInfo, TargetInfo, secret_value

#: Linux reads at most two targets from an iBFT ("iBFT error: Control header
#: is invalid!" beyond that), and iPXE describes every hooked drive in it.
MAX_ISCSI_VOLUMES = 2

FIRST_DRIVE = 0x80

# iPXE scripts have no quoting: a value with spaces, '$' (setting expansion)
# or '#' would be cut or rewritten. Printable ASCII without those is safe.
_SAFE = re.compile(r"^[\x21-\x7e]{1,255}\Z")
#: Characters an iPXE script cannot quote in a CHAP name or secret.
UNSCRIPTABLE = "$#'\"\\"


def scriptable(text: str) -> bool:
    """Whether a CHAP name or secret can stand in an iPXE script (the API checks it too)."""
    return bool(_SAFE.match(text)) and not any(c in text for c in UNSCRIPTABLE)


_EFI_PATH = re.compile(r"^\\?([A-Za-z0-9_.-]+\\)*[A-Za-z0-9_.-]+\.[Ee][Ff][Ii]\Z")


@dataclass(frozen=True)
class SanVolume:
    target_uuid: str
    drive: int
    uris: tuple[str, ...]
    username: str | None
    password: str | None
    reverse_username: str | None
    reverse_password: str | None


@dataclass(frozen=True)
class SanPlan:
    initiator_iqn: str
    volumes: tuple[SanVolume, ...]
    efi_boot_loader: str | None

    @property
    def boot(self) -> SanVolume:
        return self.volumes[0]


class PlanError(ValueError):
    """The node's records cannot make a bootable plan; the message says why."""


def _first(props: Mapping[str, Any], key: str) -> Any:
    value = props.get(key)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _uris(target: TargetInfo) -> tuple[str, ...]:
    props = target.properties
    portals = props.get("target_portals")
    if isinstance(portals, list) and portals:
        iqns = props.get("target_iqns") or [_first(props, "target_iqn")] * len(portals)
        luns = props.get("target_luns") or [_first(props, "target_lun")] * len(portals)
        triples = list(zip(portals, iqns, luns, strict=False))
    else:
        triples = [
            (
                _first(props, "target_portal"),
                _first(props, "target_iqn") or _first(props, "target_iqns"),
                _first(props, "target_lun")
                if "target_lun" in props
                else _first(props, "target_luns"),
            )
        ]
    uris = []
    for portal, iqn, lun in triples:
        if not isinstance(portal, str) or not isinstance(iqn, str) or not isinstance(lun, int):
            raise PlanError(
                f"volume target {target.uuid} needs target_iqn, target_portal and an integer "
                "target_lun (or the target_portals/target_iqns/target_luns lists)"
            )
        try:
            parsed = iscsi.parse_portal(portal)
        except ValueError as exc:
            raise PlanError(f"volume target {target.uuid}: {exc}") from exc
        uris.append(f"iscsi:{parsed.uri_host()}::{parsed.port}:{lun:x}:{iqn}")
    return tuple(uris)


def _credential(target: TargetInfo, key: str) -> str | None:
    value = target.properties.get(key)
    if value is None:
        return None
    text = secret_value(value)
    if not scriptable(text):
        raise PlanError(
            f"volume target {target.uuid}: {key} must be 1-255 printable ASCII characters "
            f"without spaces or any of {UNSCRIPTABLE} (iPXE scripts cannot quote them)"
        )
    return text


def _volume(target: TargetInfo, drive: int) -> SanVolume:
    method = str(target.properties.get("auth_method") or "").upper()
    creds = {
        key: _credential(target, key)
        for key in (
            "auth_username",
            "auth_password",
            "reverse_auth_username",
            "reverse_auth_password",
        )
    }
    if method == "CHAP" and not (creds["auth_username"] and creds["auth_password"]):
        raise PlanError(
            f"volume target {target.uuid} has auth_method CHAP but lacks auth_username or "
            "auth_password"
        )
    if bool(creds["reverse_auth_username"]) != bool(creds["reverse_auth_password"]):
        raise PlanError(
            f"volume target {target.uuid}: mutual CHAP needs both reverse_auth_username and "
            "reverse_auth_password"
        )
    chap = method == "CHAP"
    return SanVolume(
        target_uuid=target.uuid,
        drive=drive,
        uris=_uris(target),
        username=creds["auth_username"] if chap else None,
        password=creds["auth_password"] if chap else None,
        reverse_username=creds["reverse_auth_username"] if chap else None,
        reverse_password=creds["reverse_auth_password"] if chap else None,
    )


def build(connectors: Sequence[ConnectorInfo], targets: Sequence[TargetInfo]) -> SanPlan:
    """The plan for a node that boots from its iSCSI boot volume.

    :raises PlanError: no iSCSI boot volume, no initiator IQN, too many
        volumes for the iBFT, incomplete or unscriptable properties.
    """
    iscsi_targets = sorted(
        (t for t in targets if t.volume_type == "iscsi"), key=lambda t: t.boot_index
    )
    if not iscsi_targets or iscsi_targets[0].boot_index != 0:
        raise PlanError("the node has no iSCSI volume target with boot_index 0 to boot from")
    if len(iscsi_targets) > MAX_ISCSI_VOLUMES:
        raise PlanError(
            f"the node has {len(iscsi_targets)} iSCSI volume targets, but an operating system "
            f"reads at most {MAX_ISCSI_VOLUMES} from the iBFT that iPXE hands over: keep the "
            "boot volume and one data volume"
        )
    iqns = [c.connector_id for c in connectors if c.type == "iqn"]
    if not iqns:
        raise PlanError(
            "the node has no volume connector of type iqn: iPXE would log in with a made-up "
            "initiator name that the SAN does not know"
        )
    if len(iqns) > 1:
        raise PlanError(
            f"the node has {len(iqns)} iqn volume connectors; a node boots with one initiator "
            "name, so keep one"
        )
    loader = iscsi_targets[0].properties.get("efi_boot_loader")
    if loader is not None and (not isinstance(loader, str) or not _EFI_PATH.match(loader)):
        raise PlanError(
            "efi_boot_loader must be a path on the boot volume's EFI system partition, like "
            "\\EFI\\BOOT\\BOOTX64.EFI"
        )
    volumes = tuple(_volume(t, FIRST_DRIVE + i) for i, t in enumerate(iscsi_targets))
    return SanPlan(initiator_iqn=iqns[0], volumes=volumes, efi_boot_loader=loader)
