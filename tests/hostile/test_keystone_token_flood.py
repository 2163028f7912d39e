"""A flood of made-up Keystone tokens: a few validations at once, and known tokens still answer."""

from __future__ import annotations

import time

import anyio
import pytest

from ironbound import errors
from ironbound.api.auth import Authenticator
from ironbound.api.keystone import CHECK_THREADS
from tests.keystone_support import FakeKeystone, keystone_conf


def test_random_tokens_take_a_few_threads_and_known_tokens_stay_fast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keystone = FakeKeystone(monkeypatch, delay=0.1)
    keystone.add("known", ["member"])
    authenticator = Authenticator(keystone_conf())
    refused: list[str] = []
    known_took: list[float] = []

    async def attack() -> None:
        await authenticator.authenticate({"x-auth-token": "known"})  # remembered from now on

        async def forged(index: int) -> None:
            try:
                await authenticator.authenticate({"x-auth-token": f"forged-{index}"})
            except errors.NotAuthorized:
                refused.append(f"forged-{index}")

        async with anyio.create_task_group() as group:
            for index in range(40):
                group.start_soon(forged, index)
            await anyio.sleep(0.05)
            started = time.monotonic()
            await authenticator.authenticate({"x-auth-token": "known"})
            known_took.append(time.monotonic() - started)

    anyio.run(attack)
    assert len(refused) == 40
    assert len(keystone.calls) == 41  # each token once
    assert keystone.most_running == CHECK_THREADS
    assert known_took[0] < 0.05  # the flood (about a second) did not hold it up


def test_a_new_login_waits_for_no_flood_of_forged_tokens_from_other_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """12 clients at one address, 8 requests in flight each, all forged tokens: a new
    valid token from another address is validated within a few validation times."""
    delay = 0.05
    keystone = FakeKeystone(monkeypatch, delay=delay)
    keystone.add("fresh-login", ["member"])
    authenticator = Authenticator(keystone_conf())
    refused: list[str] = []
    login_took: list[float] = []
    stop = anyio.Event()

    async def client(number: int) -> None:
        for index in range(60):  # bounded even if the login never comes
            if stop.is_set():
                return
            token = f"forged-{number}-{index}"
            with pytest.raises(errors.NotAuthorized):
                await authenticator.authenticate({"x-auth-token": token}, "192.0.2.66")
            refused.append(token)

    async def attack() -> None:
        async with anyio.create_task_group() as group:
            for number in range(12 * 8):
                group.start_soon(client, number)
            with anyio.fail_after(30):
                while len(refused) < 3 * CHECK_THREADS:  # the flood is under way
                    await anyio.sleep(delay / 5)
            started = time.monotonic()
            identity = await authenticator.authenticate(
                {"x-auth-token": "fresh-login"}, "198.51.100.7"
            )
            login_took.append(time.monotonic() - started)
            stop.set()
        assert identity.roles == {"member"}

    anyio.run(attack)
    # Today's FIFO: behind 96 forged tokens, 96 / 4 validations of 0.05 s = 1.2 s.
    assert login_took[0] < 4 * delay, login_took
    assert keystone.most_running <= CHECK_THREADS
