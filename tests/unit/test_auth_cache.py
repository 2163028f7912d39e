"""The remembered bcrypt checks: reused, bounded, expiring, and never for a failure."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import bcrypt
import pytest

from ironbound import config, errors
from ironbound.api import auth
from ironbound.api.policy import Identity

USERS = {"alice": "alice-pw", "bob": "bob-pw", "carol": "carol-pw"}


def _header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _authenticate(authenticator: auth.Authenticator, header: str) -> Identity:
    return anyio.run(authenticator.authenticate, {"authorization": header})


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords bcrypt was asked to check, in order."""
    seen: list[str] = []
    real: Callable[[str, bytes | None, int], bool] = auth._check

    def counting(password: str, hashed: bytes | None, dummy_rounds: int) -> bool:
        seen.append(password)
        return real(password, hashed, dummy_rounds)

    monkeypatch.setattr(auth, "_check", counting)
    return seen


def _authenticator(tmp_path: Path) -> auth.Authenticator:
    htpasswd = tmp_path / "htpasswd"
    lines = [
        f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}"
        for u, p in USERS.items()
    ]
    htpasswd.write_text("\n".join(lines) + "\n", encoding="utf-8")
    conf = config.load(
        overrides={"auth_strategy": "http_basic", "http_basic_auth_user_file": str(htpasswd)}
    )
    return auth.Authenticator(conf)


def test_a_good_check_is_remembered(tmp_path: Path, checks: list[str]) -> None:
    authenticator = _authenticator(tmp_path)
    for _ in range(3):
        assert _authenticate(authenticator, _header("alice", "alice-pw")).user == "alice"
    assert checks == ["alice-pw"]


def test_a_failed_check_is_not_remembered(tmp_path: Path, checks: list[str]) -> None:
    authenticator = _authenticator(tmp_path)
    for _ in range(2):
        with pytest.raises(errors.NotAuthorized):
            _authenticate(authenticator, _header("alice", "wrong"))
    assert checks == ["wrong", "wrong"]


def test_the_least_recently_used_goes_first_when_full(
    tmp_path: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_REMEMBER_MAX", 2)
    authenticator = _authenticator(tmp_path)
    for user in ("alice", "bob", "carol", "bob", "alice"):
        _authenticate(authenticator, _header(user, USERS[user]))
    assert checks == ["alice-pw", "bob-pw", "carol-pw", "alice-pw"]


def test_a_remembered_check_expires(
    tmp_path: Path, checks: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_REMEMBER_SECONDS", 0.2)
    authenticator = _authenticator(tmp_path)
    _authenticate(authenticator, _header("alice", "alice-pw"))
    _authenticate(authenticator, _header("alice", "alice-pw"))
    time.sleep(0.3)
    _authenticate(authenticator, _header("alice", "alice-pw"))
    assert checks == ["alice-pw", "alice-pw"]
