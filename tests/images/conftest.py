"""Real images (qemu-img, qemu-io), a real HTTP server and a real tgtd for the image tests."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ironbound.api.services import ApiServices
from ironbound.db.models import Node, NodeEvent
from ironbound.lab import fileserver
from ironbound.lab.tgt import TgtServer
from tests.api.helpers import add, create_connector, create_node, ok, patch, provision

PATTERN_OFFSET = 1 << 20
NODE_IQN = "iqn.2026-12.org.ironbound.test:deploy-node"


def make_qcow2(path: Path, *, size: str = "16M", pattern: int = 0x5A) -> Path:
    """A qcow2 image with 64 KiB of `pattern` at 1 MiB, nothing else allocated."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", f"write -P {pattern} {PATTERN_OFFSET} 64k", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pattern_at(path: Path) -> bytes:
    with path.open("rb") as f:
        f.seek(PATTERN_OFFSET)
        return f.read(4)


@pytest.fixture(scope="module")
def web_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A folder served over HTTP on loopback: (folder, base URL)."""
    root = tmp_path_factory.mktemp("web")
    with fileserver.serving(root) as base:
        yield root, base


@pytest.fixture(scope="module")
def tgt(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TgtServer]:
    server = TgtServer(tmp_path_factory.mktemp("tgt"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def enroll_external(
    client: TestClient, props: dict[str, Any], instance_info: dict[str, str]
) -> str:
    """An available node whose `direct` deploy writes its image onto the external boot
    target `props` describe, as NODE_IQN."""
    node = create_node(client, storage_interface="external", deploy_interface="direct",
                       boot_interface="fake", instance_info=instance_info)["uuid"]  # fmt: skip
    ok(patch(client, f"/v1/nodes/{node}", add("/properties/capabilities", "iscsi_boot:True")))
    create_connector(client, node, "iqn", NODE_IQN)
    body = {"node_uuid": node, "volume_type": "iscsi", "boot_index": 0,
            "volume_id": "ext-1", "properties": props}  # fmt: skip
    ok(client.post("/v1/volume/targets", json=body), 201)
    provision(client, node, "manage", "manageable")
    provision(client, node, "provide", "available")
    return str(node)


def events(services: ApiServices, node: str) -> list[str]:
    """The node's progress record, oldest first."""
    with services.db.read() as session:
        node_id = session.query(Node.id).filter(Node.uuid == node).scalar()
        return [e.event for e in session.query(NodeEvent).filter(NodeEvent.node_id == node_id)]
