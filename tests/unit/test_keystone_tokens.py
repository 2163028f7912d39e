"""Keystone tokens: role mapping, validated once per token, rejected tokens, Keystone down."""

from __future__ import annotations

import anyio
import pytest

from ironbound import errors
from ironbound.api import problems
from ironbound.api.auth import Authenticator
from ironbound.api.keystone import CHECK_THREADS, Project, _Lanes, roles_for
from ironbound.api.policy import Identity
from tests.keystone_support import AUTH_URI, FakeKeystone, keystone_conf


@pytest.mark.parametrize(
    ("roles", "system", "project", "expected"),
    [
        (["admin", "member", "reader"], False, "demo", {"admin", "member", "reader"}),
        (["admin"], True, None, {"admin"}),
        (["Administrator"], False, "demo", {"admin"}),
        (["service"], False, "service", {"admin"}),
        (["service"], True, None, {"admin"}),
        (["service"], False, "demo", set()),  # service role outside the service project
        (["member", "reader"], False, "demo", {"member", "reader"}),
        (["manager"], False, "demo", {"member"}),
        (["reader"], True, None, {"reader"}),
        (["_member_", "observer"], False, "demo", set()),
    ],
)
def test_keystone_roles_map_onto_the_policy(
    roles: list[str], system: bool, project: str | None, expected: set[str]
) -> None:
    mapped = roles_for(
        roles,
        system_scoped=system,
        project=Project(project, None if project is None else "default"),
        service_project=Project("service", "default"),
    )
    assert mapped == expected


def _auth(authenticator: Authenticator, token: str | None) -> Identity:
    headers = {} if token is None else {"x-auth-token": token}
    return anyio.run(authenticator.authenticate, headers)


def test_a_token_is_validated_once_and_then_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    keystone = FakeKeystone(monkeypatch)
    keystone.add("t-admin", ["admin", "member", "reader"])
    keystone.add("t-nova", ["service"], project="service")
    authenticator = Authenticator(keystone_conf())
    for _ in range(3):
        assert _auth(authenticator, "t-admin").roles == {"admin", "member", "reader"}
    assert _auth(authenticator, " t-nova ").roles == {"admin"}
    assert keystone.calls == ["t-admin", "t-nova"]
    assert authenticator.challenge == f'Keystone uri="{AUTH_URI}"'.encode()


def test_the_service_role_counts_only_in_the_service_project_of_the_configured_domain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A domain admin of any domain can make a project named 'service': only the one in
    [DEFAULT]rbac_service_project_domain_id (Keystone's default domain) makes its service
    users admin."""
    keystone = FakeKeystone(monkeypatch)
    keystone.add("t-nova", ["service"], project="service")
    keystone.add("t-tenant", ["service", "reader"], project="service", domain="tenant-domain")
    default = Authenticator(keystone_conf())
    assert _auth(default, "t-nova").roles == {"admin"}
    assert _auth(default, "t-tenant").roles == {"reader"}
    moved = Authenticator(keystone_conf(rbac_service_project_domain_id="tenant-domain"))
    assert _auth(moved, "t-tenant").roles == {"admin", "reader"}
    assert _auth(moved, "t-nova").roles == set()


def test_a_token_is_remembered_no_longer_than_it_lives(monkeypatch: pytest.MonkeyPatch) -> None:
    keystone = FakeKeystone(monkeypatch)
    keystone.add("short", ["reader"], expires_in=0.5)
    authenticator = Authenticator(keystone_conf(**{"keystone_authtoken.token_cache_time": 600}))
    assert _auth(authenticator, "short").roles == {"reader"}
    anyio.run(anyio.sleep, 0.6)
    with pytest.raises(errors.NotAuthorized):
        _auth(authenticator, "short")  # expired: validated again, and refused
    assert keystone.calls == ["short", "short"]


def test_same_token_at_once_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    keystone = FakeKeystone(monkeypatch, delay=0.2)
    keystone.add("t", ["member"])
    authenticator = Authenticator(keystone_conf())
    seen: list[Identity] = []

    async def many() -> None:
        async def one() -> None:
            seen.append(await authenticator.authenticate({"x-auth-token": "t"}))

        async with anyio.create_task_group() as group:
            for _ in range(10):
                group.start_soon(one)

    anyio.run(many)
    assert len(seen) == 10
    assert keystone.calls == ["t"]


def test_missing_and_bad_tokens_are_refused_and_bad_ones_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keystone = FakeKeystone(monkeypatch)
    authenticator = Authenticator(keystone_conf())
    with pytest.raises(errors.NotAuthorized, match="send a Keystone token"):
        _auth(authenticator, None)
    with pytest.raises(errors.NotAuthorized, match="send a Keystone token"):
        _auth(authenticator, "  ")
    for _ in range(3):
        with pytest.raises(errors.NotAuthorized, match="invalid or has expired"):
            _auth(authenticator, "forged")
    assert keystone.calls == ["forged"]


def test_keystone_unreachable_is_503_and_not_remembered() -> None:
    # No fake: keystonemiddleware really tries 127.0.0.1:9, where nothing listens.
    authenticator = Authenticator(
        keystone_conf(**{"keystone_authtoken.http_request_max_retries": 0})
    )
    for _ in range(2):
        with pytest.raises(problems.CredentialsUncheckable):
            _auth(authenticator, "whatever")


def test_callers_waiting_for_a_validation_survive_its_callers_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keystone = FakeKeystone(monkeypatch, delay=0.3)
    keystone.add("t", ["reader"])
    authenticator = Authenticator(keystone_conf())
    seen: list[Identity] = []

    async def first(scope: anyio.CancelScope) -> None:
        with scope:
            await authenticator.authenticate({"x-auth-token": "t"})

    async def waiter() -> None:
        seen.append(await authenticator.authenticate({"x-auth-token": "t"}))

    async def other(token: str) -> None:
        with pytest.raises(errors.NotAuthorized):
            await authenticator.authenticate({"x-auth-token": token})

    async def race() -> None:
        scope = anyio.CancelScope()
        async with anyio.create_task_group() as group:
            for index in range(CHECK_THREADS):  # every validation thread busy
                group.start_soon(other, f"other-{index}")
            await anyio.sleep(0.05)
            group.start_soon(first, scope)
            await anyio.sleep(0.05)  # the first caller waits for a thread
            group.start_soon(waiter)
            await anyio.sleep(0.05)  # the waiter waits for that validation
            scope.cancel()  # the first caller goes away (its client disconnected, say)

    anyio.run(race)
    assert [identity.roles for identity in seen] == [{"reader"}]
    assert keystone.calls.count("t") == 1


def test_a_caller_cancelled_in_the_queue_leaks_no_validation_slot() -> None:
    lanes = _Lanes(1, suspect=lambda client: client == "flooder")
    order: list[str] = []

    async def take(client: str, hold: anyio.Event | None = None) -> None:
        async with lanes.slot(client):
            order.append(client)
            if hold is not None:
                await hold.wait()

    async def main() -> None:
        release = anyio.Event()
        async with anyio.create_task_group() as group:
            group.start_soon(take, "first", release)
            await anyio.sleep(0.01)
            group.start_soon(take, "flooder")
            async with anyio.create_task_group() as cancelled:
                cancelled.start_soon(take, "gone")
                await anyio.sleep(0.01)
                cancelled.cancel_scope.cancel()
            group.start_soon(take, "login")
            await anyio.sleep(0.01)
            release.set()
        with anyio.fail_after(1):
            await take("after")

    anyio.run(main)
    assert order == ["first", "login", "flooder", "after"]
