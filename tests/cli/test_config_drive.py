"""`baremetal node deploy --config-drive` with the real CLI: what it sends, what it is told."""

from __future__ import annotations

from pathlib import Path

from tests.configdrive_support import iso, packed
from tests.serving import Server


def _available(server: Server, name: str) -> None:
    server.json(f"node create --driver fake-hardware --name {name}")
    for verb in ("manage", "provide"):
        server.baremetal(f"node {verb} --wait 60 {name}")


def test_a_file_holding_a_gzipped_iso_in_base64_is_stored_and_masked(
    server: Server, tmp_path: Path
) -> None:
    _available(server, "with-drive")
    drive = tmp_path / "drive.b64"
    drive.write_text(packed(iso()))
    failed = server.baremetal(
        f"node deploy --wait 60 --config-drive {drive} with-drive", check=False
    )
    assert failed.returncode == 1
    shown = server.json("node show with-drive --fields provision_state last_error instance_info")
    assert shown["provision_state"] == "deploy failed"
    assert "cannot deliver a config drive yet" in shown["last_error"]
    assert shown["instance_info"] == {"configdrive": "******"}


def test_a_json_object_is_accepted_at_the_version_the_cli_negotiates(server: Server) -> None:
    # The CLI negotiates 1.56, where Ironic takes the object form (it once was a 400 here).
    _available(server, "with-object")
    failed = server.baremetal(
        """node deploy --wait 60 --config-drive '{"meta_data": {"hostname": "h"}}' """
        "with-object",
        check=False,
    )
    assert failed.returncode == 1
    shown = server.json("node show with-object --fields provision_state last_error instance_info")
    assert shown["provision_state"] == "deploy failed"
    assert "cannot deliver a config drive yet" in shown["last_error"]
    assert shown["instance_info"] == {"configdrive": "******"}
