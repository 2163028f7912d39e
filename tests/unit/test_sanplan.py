"""ironbound.sanplan: the SAN attachments a node boots with, from its volume records."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ironbound.records import ConnectorInfo, TargetInfo
from ironbound.sanplan import (
    FIRST_DRIVE,
    MAX_ISCSI_VOLUMES,
    PlanError,
    build,
    build_ramdisk,
    has_boot_volume,
)
from ironbound.sensitive import Secret

INITIATOR = "iqn.2010-10.org.openstack.node1"
BOOT_IQN = "iqn.2010-10.com.example:vol-x"
DATA_IQN = "iqn.2010-10.com.example:vol-d"


def iqn_connector(connector_id: str = INITIATOR) -> ConnectorInfo:
    return ConnectorInfo(uuid=f"c-{connector_id}", type="iqn", connector_id=connector_id)


def target(boot_index: int = 0, volume_type: str = "iscsi", **props: Any) -> TargetInfo:
    properties: dict[str, Any] = {
        "target_iqn": BOOT_IQN,
        "target_portal": "127.0.0.1:3260",
        "target_lun": 0,
    }
    properties.update(props)
    return TargetInfo(
        uuid=f"t{boot_index}",
        volume_type=volume_type,
        boot_index=boot_index,
        volume_id=f"vol-{boot_index}",
        properties={k: v for k, v in properties.items() if v is not None},
    )


def chap(user: str, password: str) -> dict[str, Any]:
    return {"auth_method": "CHAP", "auth_username": user, "auth_password": Secret(password)}


# --- the boot volume ------------------------------------------------------------------


def test_the_guides_boot_volume() -> None:
    plan = build([iqn_connector()], [target(**chap("ABC", "XYZ"))])
    assert plan.initiator_iqn == INITIATOR
    assert plan.efi_boot_loader is None
    assert len(plan.volumes) == 1
    boot = plan.boot
    assert boot.target_uuid == "t0"
    assert boot.drive == FIRST_DRIVE == 0x80
    assert boot.uris == (f"iscsi:127.0.0.1::3260:0:{BOOT_IQN}",)
    assert (boot.username, boot.password) == ("ABC", "XYZ")
    assert (boot.reverse_username, boot.reverse_password) == (None, None)


@pytest.mark.parametrize(
    ("lun", "hex_lun"), [(0, "0"), (1, "1"), (10, "a"), (255, "ff"), (4096, "1000")]
)
def test_the_lun_is_hexadecimal(lun: int, hex_lun: str) -> None:
    plan = build([iqn_connector()], [target(target_lun=lun)])
    assert plan.boot.uris == (f"iscsi:127.0.0.1::3260:{hex_lun}:{BOOT_IQN}",)


def test_ipv6_portal_keeps_its_brackets() -> None:
    plan = build([iqn_connector()], [target(target_portal="[fd00::5]:3261")])
    assert plan.boot.uris == (f"iscsi:[fd00::5]::3261:0:{BOOT_IQN}",)


def test_portal_without_a_port_gets_3260() -> None:
    plan = build([iqn_connector()], [target(target_portal="san.example.com")])
    assert plan.boot.uris == (f"iscsi:san.example.com::3260:0:{BOOT_IQN}",)


def test_multipath_keeps_each_portals_iqn_and_lun() -> None:
    props: dict[str, Any] = {
        "target_iqn": None,
        "target_portal": None,
        "target_lun": None,
        "target_portals": ["192.0.2.1:3260", "[fd00::2]:3260"],
        "target_iqns": [BOOT_IQN, DATA_IQN],
        "target_luns": [1, 11],
    }
    plan = build([iqn_connector()], [target(**props)])
    assert plan.boot.uris == (
        f"iscsi:192.0.2.1::3260:1:{BOOT_IQN}",
        f"iscsi:[fd00::2]::3260:b:{DATA_IQN}",
    )


def test_multipath_with_one_iqn_and_lun_for_every_portal() -> None:
    props: dict[str, Any] = {
        "target_portal": None,
        "target_portals": ["192.0.2.1:3260", "192.0.2.2:3260"],
    }
    plan = build([iqn_connector()], [target(target_lun=2, **props)])
    assert plan.boot.uris == (
        f"iscsi:192.0.2.1::3260:2:{BOOT_IQN}",
        f"iscsi:192.0.2.2::3260:2:{BOOT_IQN}",
    )


def test_single_values_given_as_lists_take_the_first() -> None:
    props: dict[str, Any] = {
        "target_iqn": None,
        "target_lun": None,
        "target_iqns": [DATA_IQN],
        "target_luns": [3],
    }
    plan = build([iqn_connector()], [target(**props)])
    assert plan.boot.uris == (f"iscsi:127.0.0.1::3260:3:{DATA_IQN}",)


def test_efi_boot_loader() -> None:
    loader = "\\EFI\\BOOT\\BOOTX64.EFI"
    assert build([iqn_connector()], [target(efi_boot_loader=loader)]).efi_boot_loader == loader


@pytest.mark.parametrize("loader", ["BOOTX64.EFI ", "/EFI/BOOT/BOOTX64.EFI", "\\EFI\\x.bin", 7])
def test_bad_efi_boot_loader(loader: Any) -> None:
    with pytest.raises(PlanError, match="efi_boot_loader"):
        build([iqn_connector()], [target(efi_boot_loader=loader)])


# --- CHAP ---------------------------------------------------------------------------------


def test_chap_credentials_are_per_volume_and_cleared_between_volumes() -> None:
    boot = target(0, **chap("ABC", "XYZ"))
    data_without_chap = target(1, target_iqn=DATA_IQN, target_lun=1)
    plan = build([iqn_connector()], [boot, data_without_chap])
    assert (plan.volumes[0].username, plan.volumes[0].password) == ("ABC", "XYZ")
    # No CHAP on the data volume: no credentials, not the boot volume's.
    assert (plan.volumes[1].username, plan.volumes[1].password) == (None, None)


def test_credentials_without_auth_method_chap_are_not_sent() -> None:
    props: dict[str, Any] = {"auth_username": "ABC", "auth_password": Secret("XYZ")}
    plan = build([iqn_connector()], [target(**props)])
    assert (plan.boot.username, plan.boot.password) == (None, None)


def test_auth_method_is_case_insensitive() -> None:
    plan = build([iqn_connector()], [target(**{**chap("u", "p"), "auth_method": "chap"})])
    assert plan.boot.username == "u"


def test_mutual_chap() -> None:
    props = {
        **chap("ABC", "XYZ"),
        "reverse_auth_username": "target-name",
        "reverse_auth_password": Secret("mutual-pw"),
    }
    boot = build([iqn_connector()], [target(**props)]).boot
    assert (boot.reverse_username, boot.reverse_password) == ("target-name", "mutual-pw")


def test_chap_without_a_password_is_refused() -> None:
    with pytest.raises(PlanError, match="lacks auth_username or auth_password"):
        build([iqn_connector()], [target(auth_method="CHAP", auth_username="u")])


@pytest.mark.parametrize("missing", ["reverse_auth_username", "reverse_auth_password"])
def test_half_of_mutual_chap_is_refused(missing: str) -> None:
    props = {**chap("u", "p"), "reverse_auth_username": "r", "reverse_auth_password": Secret("q")}
    del props[missing]
    with pytest.raises(PlanError, match="mutual CHAP needs both"):
        build([iqn_connector()], [target(**props)])


@pytest.mark.parametrize(
    "password",
    ["with space", "dollar$var", "hash#tag", "quote'", 'dq"', "back\\slash", "", "x" * 256, "é"],
)
def test_unscriptable_credentials_are_refused(password: str) -> None:
    with pytest.raises(PlanError, match="printable ASCII"):
        build([iqn_connector()], [target(**chap("u", password))])


def test_the_error_never_shows_the_password() -> None:
    with pytest.raises(PlanError) as caught:
        build([iqn_connector()], [target(**chap("u", "bad password"))])
    assert "bad password" not in str(caught.value)


def test_a_credential_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(PlanError):
        build([iqn_connector()], [target(**chap("u", "pw\n"))])


# --- which volumes, and the limits --------------------------------------------------------


def test_volumes_in_boot_index_order_on_consecutive_drives() -> None:
    data = target(3, target_iqn=DATA_IQN, target_lun=1)
    boot = target(0)
    plan = build([iqn_connector()], [data, boot])
    assert [v.target_uuid for v in plan.volumes] == ["t0", "t3"]
    assert [v.drive for v in plan.volumes] == [0x80, 0x81]


def test_ibft_limit_of_two_volumes() -> None:
    assert MAX_ISCSI_VOLUMES == 2
    volumes = [target(i, target_lun=i) for i in range(3)]
    with pytest.raises(PlanError, match="has 3 iSCSI volume targets"):
        build([iqn_connector()], volumes)
    assert len(build([iqn_connector()], volumes[:2]).volumes) == 2


def test_fibre_channel_targets_are_not_iscsi_volumes() -> None:
    fc = target(1, volume_type="fibre_channel", target_wwn="500a0982991b8dc5")
    plan = build([iqn_connector()], [target(0), fc, target(2, volume_type="fibre_channel")])
    assert [v.target_uuid for v in plan.volumes] == ["t0"]


@pytest.mark.parametrize(
    "targets",
    [
        [],
        [target(1)],
        [target(0, volume_type="fibre_channel"), target(1)],
    ],
)
def test_no_iscsi_boot_volume_is_refused(targets: list[TargetInfo]) -> None:
    with pytest.raises(PlanError, match="no iSCSI volume target with boot_index 0"):
        build([iqn_connector()], targets)


def test_missing_iqn_connector_is_refused() -> None:
    others = [ConnectorInfo(uuid="m", type="mac", connector_id="52:54:00:12:34:56")]
    with pytest.raises(PlanError, match="no volume connector of type iqn"):
        build(others, [target()])
    with pytest.raises(PlanError, match="no volume connector of type iqn"):
        build([], [target()])


def test_two_iqn_connectors_are_refused() -> None:
    with pytest.raises(PlanError, match="has 2 iqn volume connectors"):
        build([iqn_connector(), iqn_connector("iqn.2010-10.org.openstack.other")], [target()])


@pytest.mark.parametrize(
    "props",
    [
        {"target_iqn": None},
        {"target_portal": None},
        {"target_lun": None},
        {"target_lun": "0"},  # the string LUN that crashes Ironic's deploy
        {"target_portal": 3260},
        {"target_portal": None, "target_portals": [None]},
    ],
)
def test_incomplete_targets_are_refused(props: dict[str, Any]) -> None:
    with pytest.raises(PlanError, match="needs target_iqn, target_portal and an integer"):
        build([iqn_connector()], [target(**props)])


def test_bad_portal_is_refused_with_the_reason() -> None:
    with pytest.raises(PlanError, match="looks like an IPv6 address"):
        build([iqn_connector()], [target(target_portal="fd00::1:3260")])


def test_errors_name_the_target() -> None:
    with pytest.raises(PlanError, match="t1"):
        build([iqn_connector()], [target(0), target(1, target_iqn=None)])


def test_an_empty_portal_list_falls_back_to_the_single_portal() -> None:
    plan = build([iqn_connector()], [target(target_portals=[])])
    assert plan.boot.uris == (f"iscsi:127.0.0.1::3260:0:{BOOT_IQN}",)


# --- no boot volume: the ramdisk deploy's plan ------------------------------------------

RAMDISK_INFO = {"kernel": "http://h/k", "ramdisk": "http://h/r", "kernel_append_params": " a  b "}


def test_ramdisk_plan_hooks_data_volumes_from_the_first_drive() -> None:
    plan = build_ramdisk([iqn_connector()], [target(2), target(1)], RAMDISK_INFO)
    assert [v.target_uuid for v in plan.san.volumes] == ["t1", "t2"]
    assert [v.drive for v in plan.san.volumes] == [0x80, 0x81]
    assert plan.san.initiator_iqn == INITIATOR
    assert (plan.kernel, plan.ramdisk, plan.append, plan.boot_iso) == (
        "http://h/k",
        "http://h/r",
        "a b",
        None,
    )
    assert plan.iso_drive == 0x82


def test_ramdisk_plan_without_volumes_needs_no_connector() -> None:
    plan = build_ramdisk([], [], {"boot_iso": "https://h/x.iso"})
    assert plan.san.volumes == ()
    assert (plan.boot_iso, plan.iso_drive) == ("https://h/x.iso", 0x80)


@pytest.mark.parametrize(
    ("connectors", "targets", "reason"),
    [
        ([iqn_connector()], [target(0)], "boots from it, not from a kernel"),
        ([], [target(1)], "no volume connector of type iqn"),
        ([iqn_connector()], [target(1), target(2), target(3)], "reads at most 2"),
    ],
)
def test_ramdisk_plan_refusals(
    connectors: list[ConnectorInfo], targets: list[TargetInfo], reason: str
) -> None:
    with pytest.raises(PlanError, match=re.escape(reason)):
        build_ramdisk(connectors, targets, RAMDISK_INFO)
    assert has_boot_volume(targets) == (targets[0].boot_index == 0)
