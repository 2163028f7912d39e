"""Ironbound pointed at the lab's real Cinder: configuration, enrolment, Cinder-side checks."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

from ironbound import config
from ironbound.lab.cinder import CinderLab
from tests.api.helpers import add, create_connector, create_node, ok, patch, provision


def cinder_config(lab: CinderLab) -> str:
    """[cinder] for a noauth Cinder as an `ironbound serve` config file (quick retries)."""
    return (
        "[cinder]\n"
        "auth_type = admin_token\n"
        f"endpoint = {lab.endpoint}\n"
        f"token = {lab.token}\n"
        "action_retries = 1\n"
        "action_retry_interval = 0.2\n"
        "default_timeout = 20\n"
        "[conductor]\n"
    )


def point_at_cinder(conf: cfg.ConfigOpts, lab: CinderLab, endpoint: str | None = None) -> None:
    """The same [cinder] settings on an in-process configuration, plus a storage check
    every second."""
    config.register_library_opts(conf)  # what the Cinder client would do at its first call
    conf.register_opts(ks_loading.get_auth_plugin_conf_options("admin_token"), group="cinder")
    for name, value in (
        ("auth_type", "admin_token"),
        ("endpoint", endpoint or lab.endpoint),
        ("token", lab.token),
        ("action_retries", 1),
        ("action_retry_interval", 0.2),
        ("default_timeout", 20.0),
    ):
        conf.set_override(name, value, group="cinder")
    conf.set_override("sync_storage_interval", 1.0, group="conductor")
    conf.set_override("heartbeat_interval", 0.5, group="conductor")
    # A storage check holds the node while it waits on an unreachable Cinder (its retries
    # take seconds); a provision request waits for it up to 10 s.
    conf.set_override("node_locked_retry_attempts", 10, group="conductor")
    conf.set_override("node_locked_retry_interval", 1.0, group="conductor")


def attachments(lab: CinderLab, volume_id: str) -> list[dict[str, Any]]:
    """Cinder's own list of the volume's attachments (attachments API)."""
    found: list[dict[str, Any]] = lab.request(
        "GET", f"/attachments/detail?volume_id={volume_id}", microversion="3.27"
    )["attachments"]
    return [a for a in found if a["volume_id"] == volume_id]


def enroll(client: TestClient, volume_ids: list[str], initiator: str) -> str:
    """An available fake-hardware node that boots from Cinder volumes through `direct`.

    The fake boot interface stands in for iPXE (the e2e test boots for real), so
    a deploy attaches in Cinder and lands in active without a machine.
    """
    node = create_node(
        client,
        storage_interface="cinder",
        deploy_interface="direct",
        boot_interface="fake",
    )["uuid"]
    ok(patch(client, f"/v1/nodes/{node}", add("/properties/capabilities", "iscsi_boot:True")))
    create_connector(client, node, "iqn", initiator)
    for index, volume_id in enumerate(volume_ids):
        body = {"node_uuid": node, "volume_type": "iscsi", "boot_index": index,
                "volume_id": volume_id}  # fmt: skip
        ok(client.post("/v1/volume/targets", json=body), 201)
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    return str(node)


def targets(client: TestClient, node: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = ok(client.get(f"/v1/nodes/{node}/volume/targets?detail=True"))[
        "targets"
    ]
    return found


def cinder_attach(
    lab: CinderLab, volume_id: str, instance: str, connector: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Nova's compute manager before spawn: the instance's attachment, made with the
    connector and completed (the volume is in-use by the instance).

    Returns the attachment's id and its connection_info in the old shape Nova
    rebuilds from the attachments API's flat one (nova/volume/cinder.py): the
    `driver_volume_type`, and everything else under `data`.
    """
    block = lab.block_storage(as_service=True)
    created = block.create_attachment(volume_id, connector=connector, instance=instance)
    block.complete_attachment(created.id)
    data = dict(created.connection_info)
    data.pop("attachment_id", None)
    kind = data.pop("driver_volume_type", None)
    return str(created.id), {"driver_volume_type": kind, "data": data}
