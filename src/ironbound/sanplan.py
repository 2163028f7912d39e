"""The SAN attachments a node boots with, worked out from its volume records.

The ipxe boot interface builds this plan to validate a node before deploy;
the boot server builds it again to render the script, so both always agree.
A node without a boot volume (the `ramdisk` deploy interface) gets a
`RamdiskPlan` instead: its data volumes, and the kernel and ramdisk (or ISO)
it boots over HTTP from instance_info.
What Ironic gets wrong and this gets right: the LUN is hexadecimal in the
URI, IPv6 portals keep their brackets, each portal of a multipath volume
keeps its own IQN and LUN, a volume without CHAP clears the previous
volume's credentials, and mutual CHAP is supported.
"""

from __future__ import annotations

import re
import urllib.parse
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


@dataclass(frozen=True)
class LunPath:
    """One way to the volume: a portal, the target's name there, and the LUN."""

    portal: iscsi.Portal
    iqn: str
    lun: int


def paths(target: TargetInfo) -> tuple[LunPath, ...]:
    """Every path to an iSCSI target, in the order its properties give them.

    :raises PlanError: incomplete properties or a malformed portal.
    """
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
    found = []
    for portal, iqn, lun in triples:
        if not isinstance(portal, str) or not isinstance(iqn, str) or not isinstance(lun, int):
            raise PlanError(
                f"volume target {target.uuid} needs target_iqn, target_portal and an integer "
                "target_lun (or the target_portals/target_iqns/target_luns lists)"
            )
        try:
            found.append(LunPath(iscsi.parse_portal(portal), iqn, lun))
        except ValueError as exc:
            raise PlanError(f"volume target {target.uuid}: {exc}") from exc
    return tuple(found)


def _uris(target: TargetInfo) -> tuple[str, ...]:
    return tuple(
        f"iscsi:{p.portal.uri_host()}::{p.portal.port}:{p.lun:x}:{p.iqn}" for p in paths(target)
    )


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


def has_boot_volume(targets: Sequence[TargetInfo]) -> bool:
    """Whether the node has a boot volume (a target with boot_index 0, Ironic's rule)."""
    return any(t.boot_index == 0 for t in targets)


def _iscsi_targets(targets: Sequence[TargetInfo]) -> list[TargetInfo]:
    return sorted((t for t in targets if t.volume_type == "iscsi"), key=lambda t: t.boot_index)


def build(connectors: Sequence[ConnectorInfo], targets: Sequence[TargetInfo]) -> SanPlan:
    """The plan for a node that boots from its iSCSI boot volume.

    :raises PlanError: no iSCSI boot volume, no initiator IQN, too many
        volumes for the iBFT, incomplete or unscriptable properties.
    """
    iscsi_targets = _iscsi_targets(targets)
    if not iscsi_targets or iscsi_targets[0].boot_index != 0:
        raise PlanError("the node has no iSCSI volume target with boot_index 0 to boot from")
    loader = iscsi_targets[0].properties.get("efi_boot_loader")
    if loader is not None and (not isinstance(loader, str) or not _EFI_PATH.match(loader)):
        raise PlanError(
            "efi_boot_loader must be a path on the boot volume's EFI system partition, like "
            "\\EFI\\BOOT\\BOOTX64.EFI"
        )
    initiator, volumes = _volumes(connectors, iscsi_targets)
    return SanPlan(initiator_iqn=initiator, volumes=volumes, efi_boot_loader=loader)


def _volumes(
    connectors: Sequence[ConnectorInfo], iscsi_targets: list[TargetInfo]
) -> tuple[str, tuple[SanVolume, ...]]:
    """The initiator name and the volumes in drive order, checked for iPXE and the iBFT."""
    if len(iscsi_targets) > MAX_ISCSI_VOLUMES:
        raise PlanError(
            f"the node has {len(iscsi_targets)} iSCSI volume targets, but an operating system "
            f"reads at most {MAX_ISCSI_VOLUMES} from the iBFT that iPXE hands over: keep at "
            f"most {MAX_ISCSI_VOLUMES} (the boot volume and one data volume, or two data volumes)"
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
    return iqns[0], tuple(_volume(t, FIRST_DRIVE + i) for i, t in enumerate(iscsi_targets))


# --- a node without a boot volume: kernel and ramdisk, or an ISO, over HTTP ------------

#: instance_info keys of the ramdisk deploy (Ironic's names).
KERNEL, RAMDISK, APPEND, BOOT_ISO = "kernel", "ramdisk", "kernel_append_params", "boot_iso"
#: Longest kernel command line accepted (Linux's x86 limit is 2048 bytes).
MAX_APPEND = 2048
# Printable ASCII and spaces only: a newline would start a new script line.
_APPEND = re.compile(r"^[\x20-\x7e]*\Z")
_SAFE_URL = re.compile(r"^[\x21-\x7e]{1,2048}\Z")


@dataclass(frozen=True)
class RamdiskPlan:
    """What a node without a boot volume boots: data volumes, then kernel+ramdisk or an ISO."""

    san: SanPlan
    kernel: str | None
    ramdisk: str | None
    append: str
    boot_iso: str | None

    @property
    def iso_drive(self) -> int:
        """The SAN drive the ISO is booted as: the first after the data volumes."""
        return FIRST_DRIVE + len(self.san.volumes)


def _url(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise PlanError(f"instance_info/{key} must be an http or https URL (a string)")
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise PlanError(
            f"instance_info/{key} must be an http or https URL that the node's iPXE fetches, "
            f"not {value!r}"
        )
    if not _SAFE_URL.match(value) or any(c in value for c in UNSCRIPTABLE):
        raise PlanError(
            f"instance_info/{key} must be a URL without spaces, control characters or any of "
            f"{UNSCRIPTABLE} (iPXE scripts cannot quote them)"
        )
    return value


def _append(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PlanError(f"instance_info/{APPEND} must be a string")
    if len(value) > MAX_APPEND or not _APPEND.match(value):
        raise PlanError(
            f"instance_info/{APPEND} must be at most {MAX_APPEND} printable ASCII characters "
            "on one line"
        )
    bad = sorted({c for c in value if c in UNSCRIPTABLE})
    if bad or {"||", "&&"} & set(value.split()):
        raise PlanError(
            f"instance_info/{APPEND} cannot hold any of {UNSCRIPTABLE} nor the words || and "
            "&&: iPXE scripts cannot quote them (the kernel command line would be changed)"
        )
    return " ".join(value.split())


def build_ramdisk(
    connectors: Sequence[ConnectorInfo],
    targets: Sequence[TargetInfo],
    instance_info: Mapping[str, Any],
) -> RamdiskPlan:
    """The plan for a node that boots a kernel and ramdisk (or an ISO) over HTTP.

    Every iSCSI target is a data volume, hooked so that the iBFT describes it.

    :raises PlanError: a boot volume, not exactly one of kernel+ramdisk or
        boot_iso, a URL that is not http(s) or not scriptable, an unsafe
        kernel command line, or what `build` refuses about the volumes.
    """
    if has_boot_volume(targets):
        raise PlanError(
            "the node has a volume target with boot_index 0 and boots from it, not from a "
            "kernel and ramdisk"
        )
    given = {k for k in (KERNEL, RAMDISK, BOOT_ISO) if instance_info.get(k) not in (None, "")}
    if given not in ({KERNEL, RAMDISK}, {BOOT_ISO}):
        raise PlanError(
            f"instance_info must give either both {KERNEL} and {RAMDISK}, or {BOOT_ISO} "
            f"(http or https URLs), and not both; it gives {sorted(given) or 'none of them'}"
        )
    if BOOT_ISO in given and instance_info.get(APPEND):
        raise PlanError(
            f"instance_info/{APPEND} applies to {KERNEL} and {RAMDISK}; an ISO boots with the "
            "command line of its own boot loader"
        )
    iscsi_targets = _iscsi_targets(targets)
    initiator, volumes = _volumes(connectors, iscsi_targets) if iscsi_targets else ("", ())
    san = SanPlan(initiator_iqn=initiator, volumes=volumes, efi_boot_loader=None)
    urls = {k: _url(k, instance_info[k]) for k in sorted(given)}
    return RamdiskPlan(
        san=san,
        kernel=urls.get(KERNEL),
        ramdisk=urls.get(RAMDISK),
        append=_append(instance_info.get(APPEND)),
        boot_iso=urls.get(BOOT_ISO),
    )
