"""The Cinder client before any Cinder answers: its [cinder] options and its errors.

keystoneauth and openstacksdk are imported, and their [cinder] options
registered, at the client's first call; these show that call reads the
options from the file and turns the libraries' failures into StorageErrors.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from ironbound import config, errors
from ironbound.drivers.storage.cinder_client import CinderClient, CinderError


def _client(tmp_path: Path, section: str) -> CinderClient:
    ini = tmp_path / "ironbound.conf"
    ini.write_text(f"[cinder]\nretries = 0\n{section}")
    return CinderClient(config.load([str(ini)]))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_without_auth_type_the_error_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(CinderError) as caught:
        _client(tmp_path, "").get_volume("v1")
    assert isinstance(caught.value, errors.StorageError)
    assert "[cinder]auth_type is not set" in caught.value.message


def test_an_unreachable_cinder_from_the_file_is_a_storage_error(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}/v3/p"
    section = f"auth_type = admin_token\ntoken = t\nendpoint_override = {endpoint}\ntimeout = 5\n"
    with pytest.raises(CinderError) as caught:
        _client(tmp_path, section).get_volume("v1")
    message = caught.value.message
    assert message.startswith("reading volume v1: Cinder's endpoint could not be found: ")
    assert endpoint in message
    assert caught.value.status is None
