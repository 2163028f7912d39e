"""Password checks: off the shared event loop, the same cost for unknown users, no paths leaked."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import requests
from fastapi.testclient import TestClient

from tests.conftest import fault
from tests.serving import serve


@pytest.fixture
def overrides(tmp_path: Path) -> dict[str, Any]:
    htpasswd = tmp_path / "htpasswd"
    hashed = bcrypt.hashpw(b"alice-pw", bcrypt.gensalt(rounds=4)).decode()
    htpasswd.write_text(f"alice:{hashed}\n", encoding="utf-8")
    return {"auth_strategy": "http_basic", "http_basic_auth_user_file": str(htpasswd)}


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each bcrypt check: whether it ran on a thread with a running event loop."""
    seen: list[bool] = []
    real: Callable[[bytes, bytes], bool] = bcrypt.checkpw

    def recording(password: bytes, hashed: bytes) -> bool:
        try:
            asyncio.get_running_loop()
            seen.append(True)
        except RuntimeError:
            seen.append(False)
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", recording)
    return seen


def test_an_unknown_user_costs_a_bcrypt_check(client: TestClient, checks: list[bool]) -> None:
    assert client.get("/v1/nodes", auth=("mallory", "guess")).status_code == 401
    assert len(checks) == 1


def test_the_check_runs_off_the_event_loop(client: TestClient, checks: list[bool]) -> None:
    assert client.get("/v1/nodes", auth=("alice", "wrong")).status_code == 401
    assert client.get("/v1/nodes", auth=("alice", "alice-pw")).status_code == 200
    assert checks == [False, False]


def test_a_vanished_password_file_is_logged_not_told(
    client: TestClient, overrides: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    path = overrides["http_basic_auth_user_file"]
    Path(path).unlink()
    with caplog.at_level(logging.ERROR, logger="ironbound.api.auth"):
        response = client.get("/v1/nodes", auth=("alice", "alice-pw"))
    assert response.status_code == 503
    assert path not in response.text
    assert "No such file" not in response.text
    assert "server log" in fault(response)
    assert path in caplog.text


def test_wrong_passwords_do_not_stall_the_api_or_the_boot_server(lab_dir: Path) -> None:
    htpasswd = lab_dir / "htpasswd"
    # A slow hash, so that a check on the event loop would hold it for long.
    hashed = bcrypt.hashpw(b"alice-pw", bcrypt.gensalt(rounds=13)).decode()
    htpasswd.write_text(f"alice:{hashed}\n", encoding="utf-8")
    config = f"[DEFAULT]\nauth_strategy = http_basic\nhttp_basic_auth_user_file = {htpasswd}\n"
    with serve(lab_dir, config) as server:
        done: list[str] = []
        lock = threading.Lock()

        def wrong_password(user: str) -> None:
            status = requests.get(f"{server.url}/v1/nodes", auth=(user, "x"), timeout=60)
            with lock:
                done.append(f"401 {status.status_code}")

        guessers = [
            threading.Thread(target=wrong_password, args=(user,))
            for user in ("alice", "alice", "alice", "mallory", "mallory", "mallory")
        ]
        for thread in guessers:
            thread.start()
        # Both servers answer while the checks are still running.
        assert requests.get(f"{server.url}/", timeout=60).status_code == 200
        boot = requests.get(f"http://127.0.0.1:{server.boot_port}/boot.ipxe", timeout=60)
        with lock:
            done.append("others")
        for thread in guessers:
            thread.join()
        assert boot.status_code < 500
        assert done[0] == "others", done
        assert done[1:] == ["401 401"] * 6
