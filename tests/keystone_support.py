"""A stand-in for Keystone behind keystonemiddleware: tokens the test defines, calls counted."""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

import pytest
from keystoneauth1 import fixture as ks_fixture
from keystonemiddleware import auth_token
from keystonemiddleware.auth_token import _exceptions
from oslo_config import cfg

from ironbound import config

AUTH_URI = "http://127.0.0.1:9/v3"


class FakeKeystone:
    """Replaces AuthProtocol.fetch_token (the call to Keystone), as keystonemiddleware's fixture."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, delay: float = 0.0) -> None:
        self.tokens: dict[str, dict[str, Any]] = {}
        self.calls: list[str] = []
        self.delay = delay
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()
        monkeypatch.setattr(auth_token.AuthProtocol, "fetch_token", self._fetch)

    def add(
        self,
        token: str,
        roles: list[str],
        *,
        project: str | None = "demo",
        system: bool = False,
        domain: str = "default",
        expires_in: float = 3600.0,
    ) -> None:
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=expires_in)
        data = ks_fixture.V3Token(
            expires=expires, user_name=f"user-of-{token}", user_id=f"id-{token}"
        )
        if system:
            data.system = {"all": True}
        else:
            data.set_project_scope(name=project, domain_id=domain, domain_name=domain.title())
        for role in roles:
            data.add_role(name=role)
        self.tokens[token] = data

    def _fetch(self, token: str, **_kwargs: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(token)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            time.sleep(self.delay)
            if token not in self.tokens:
                raise _exceptions.InvalidToken("no such token")
            return self.tokens[token]
        finally:
            with self._lock:
                self.running -= 1


def keystone_conf(**overrides: Any) -> cfg.ConfigOpts:
    return config.load(
        overrides={
            "auth_strategy": "keystone",
            "keystone_authtoken.www_authenticate_uri": AUTH_URI,
            **overrides,
        }
    )
