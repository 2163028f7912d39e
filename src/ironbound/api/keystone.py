"""Keystone tokens (auth_strategy = keystone), checked by keystonemiddleware's auth_token.

keystonemiddleware is a blocking WSGI middleware; the API is an ASGI app on the
event loop it shares with the boot server. So the middleware runs as a WSGI app
of its own, called on a synthetic request that carries only the token, in a few
worker threads (a storm of made-up tokens waits for one of them, it does not take
the API's thread pool), and what it makes of the token (its AccessInfo) becomes an
Identity. A client address whose tokens Keystone refused SUSPECT_AFTER times lately
waits behind every other caller for those threads, so a flood of made-up tokens
delays the flooder, not a new login from elsewhere. keystonemiddleware's own token
cache is replaced by an empty one: an accepted token is remembered here instead,
keyed by a hash of the token, in a bounded cache, until it expires or for
[keystone_authtoken]token_cache_time, whichever comes first; a rejected one is
remembered for a shorter while. Callers that send the same unknown token at once
share one validation.

Roles map onto Ironbound's policy (see docs/security.md):

* ``admin`` (or ``administrator``), in any scope: admin, as Ironic's legacy
  ``admin_api`` rule;
* ``service`` in system scope, or in the project [DEFAULT]rbac_service_project_name
  of the domain [DEFAULT]rbac_service_project_domain_id (Ironic's ``service_role``
  rule, Nova's service user; Ironic looks at the project's name only, so a project
  of that name in any domain would do): admin;
* ``member`` or ``manager``: member; ``reader``: reader;
* any other role set: no access (403), as in Ironic.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import anyio
from cachetools import TLRUCache, TTLCache
from oslo_config import cfg

from ironbound import config, errors
from ironbound.api import problems
from ironbound.api.policy import Identity

LOG = logging.getLogger(__name__)

#: Tokens remembered at once; past this the least recently used are validated again.
REMEMBER_MAX = 1024
#: Seconds a rejected token is remembered (it never becomes valid; this only bounds memory).
REJECTED_SECONDS = 60.0
#: Validations at once: each may wait on Keystone, and must not take the API's thread pool.
CHECK_THREADS = 4
#: Refusals within REJECTED_SECONDS after which an address's validations wait behind others'.
SUSPECT_AFTER = 3
#: Where the synthetic request tells keystonemiddleware to find its token cache.
_CACHE_ENVIRON_KEY = "ironbound.keystone_token_cache"
_REFUSED = "The Keystone token is invalid or has expired."


@dataclass(frozen=True)
class _Accepted:
    identity: Identity
    until: float  # time.monotonic() deadline


class _Lanes:
    """At most `slots` validations at once, in two FIFO lanes: a freed slot goes to the
    first caller of the ordinary lane, to the suspect lane's only when no one else waits.

    Whether a caller's address is suspect is asked again when it reaches the head of
    the ordinary lane: a flood queued before its first refusals still moves back.
    """

    def __init__(self, slots: int, suspect: Callable[[str], bool]) -> None:
        self._free = slots
        self._suspect = suspect
        self._ordinary: deque[tuple[str, asyncio.Future[None]]] = deque()
        self._suspects: deque[tuple[str, asyncio.Future[None]]] = deque()

    @contextlib.asynccontextmanager
    async def slot(self, client: str) -> AsyncIterator[None]:
        if self._free:  # a free slot means no one waits
            self._free -= 1
        else:
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            lane = self._suspects if self._suspect(client) else self._ordinary
            lane.append((client, turn))
            try:
                await turn
            except asyncio.CancelledError:
                if not turn.cancelled():  # handed a slot, then cancelled: pass it on
                    self._release()
                raise  # a cancelled turn stays queued, and is skipped
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._ordinary or self._suspects:
            if self._ordinary:
                client, turn = self._ordinary.popleft()
                if not turn.done() and self._suspect(client):
                    self._suspects.append((client, turn))
                    continue
            else:
                client, turn = self._suspects.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1


class _NoCache:
    """A memcache-like client that keeps nothing: tokens are remembered in KeystoneTokens."""

    def get(self, key: str) -> None:
        return None

    def set(self, key: str, value: object, time: int = 0) -> bool:
        return True


@dataclass(frozen=True)
class Project:
    """A Keystone project as the service rule compares it: a name is unique only within
    its domain, and any domain's admin may create a project called 'service'."""

    name: str | None
    domain_id: str | None


def roles_for(
    roles: Iterable[str], *, system_scoped: bool, project: Project, service_project: Project
) -> frozenset[str]:
    """Ironbound's roles for a token with Keystone roles `roles`, scoped to `project`."""
    keystone = {role.lower() for role in roles}
    mapped: set[str] = set()
    if keystone & {"admin", "administrator"}:
        mapped.add("admin")
    if "service" in keystone and (system_scoped or project == service_project):
        mapped.add("admin")
    if keystone & {"member", "manager"}:
        mapped.add("member")
    if "reader" in keystone:
        mapped.add("reader")
    return frozenset(mapped)


class KeystoneTokens:
    """Validates Keystone tokens; safe to share between requests."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        # Imported here, not with the module: keystonemiddleware keeps about
        # 20 MiB resident that the other auth strategies never use.
        from keystonemiddleware import auth_token  # noqa: PLC0415

        config.register_library_opts(conf)
        self._service_project = Project(
            conf.rbac_service_project_name, conf.rbac_service_project_domain_id
        )
        self._remember_seconds = float(conf.keystone_authtoken.token_cache_time)
        self._protocol = auth_token.AuthProtocol(
            _downstream, {"oslo_config_config": conf, "cache": _CACHE_ENVIRON_KEY}
        )
        self._checks = anyio.CapacityLimiter(CHECK_THREADS)
        # Client address -> tokens of its Keystone refused, within REJECTED_SECONDS of the last.
        self._refusals: TTLCache[str, int] = TTLCache(
            4 * REMEMBER_MAX, REJECTED_SECONDS, timer=time.monotonic
        )
        self._lanes = _Lanes(CHECK_THREADS, self._suspect)
        self._accepted: TLRUCache[str, _Accepted] = TLRUCache(
            REMEMBER_MAX, ttu=lambda _key, value, _now: value.until, timer=time.monotonic
        )
        self._rejected: TTLCache[str, bool] = TTLCache(
            REMEMBER_MAX, REJECTED_SECONDS, timer=time.monotonic
        )
        self._pending: dict[str, asyncio.Future[Identity]] = {}

    def _suspect(self, client: str) -> bool:
        return self._refusals.get(client, 0) >= SUSPECT_AFTER

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate header of a 401, naming where to get a token."""
        return f'Keystone uri="{self._protocol.www_authenticate_uri}"'

    async def identity(self, token: str, client: str = "") -> Identity:
        """:raises NotAuthorized: the token is invalid or expired.
        :raises CredentialsUncheckable: Keystone cannot be reached or failed.
        """
        key = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()
        while True:
            accepted = self._accepted.get(key)
            if accepted is not None:
                return accepted.identity
            if key in self._rejected:
                raise errors.NotAuthorized(_REFUSED)
            pending = self._pending.get(key)
            if pending is None:
                break
            try:  # someone is validating this token already
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this caller was cancelled
                # the validating caller went away before the answer: look again
        future: asyncio.Future[Identity] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            async with self._lanes.slot(client):
                identity, until = await anyio.to_thread.run_sync(
                    self._validate, token, limiter=self._checks
                )
        except errors.NotAuthorized as exc:
            self._rejected[key] = True
            self._refusals[client] = self._refusals.get(client, 0) + 1
            _fail(future, exc)
            raise
        except BaseException as exc:
            _fail(future, exc)
            raise
        finally:
            del self._pending[key]
        self._accepted[key] = _Accepted(identity, until)
        future.set_result(identity)
        return identity

    def _validate(self, token: str) -> tuple[Identity, float]:
        """Runs keystonemiddleware on a request with `token` (blocking: a worker thread)."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/v1",
            "SERVER_NAME": "ironbound",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": io.StringIO(),
            "HTTP_X_AUTH_TOKEN": token,
            _CACHE_ENVIRON_KEY: _NoCache(),
        }
        statuses: list[str] = []

        def start_response(status: str, headers: object, exc_info: object = None) -> None:
            statuses.append(status)

        try:
            for _chunk in self._protocol(environ, start_response):
                pass
        except Exception:  # a misconfigured catalogue, say: the operator's log says what
            LOG.exception("keystonemiddleware failed while validating a token")
            raise problems.CredentialsUncheckable() from None
        plugin = environ.get("keystone.token_auth")
        user = plugin.user if plugin is not None and statuses == ["200 OK"] else None
        if user is None:
            if statuses and statuses[0].startswith("401"):
                raise errors.NotAuthorized(_REFUSED)
            LOG.error("Keystone did not validate a token: the middleware answered %s", statuses)
            raise problems.CredentialsUncheckable()
        roles = roles_for(
            user.role_names,
            system_scoped=user.system_scoped,
            project=Project(user.project_name, user.project_domain_id),
            service_project=self._service_project,
        )
        lifetime = self._remember_seconds
        if user.expires is not None:
            lifetime = min(lifetime, user.expires.timestamp() - time.time())
        name = user.username or user.user_id or "keystone"
        return Identity(user=name, roles=roles), time.monotonic() + max(lifetime, 0.0)


def _fail(future: asyncio.Future[Identity], exc: BaseException) -> None:
    if not isinstance(exc, Exception):  # cancelled: those waiting are cancelled too
        future.cancel()
        return
    future.set_exception(exc)
    future.exception()  # retrieved: no "never retrieved" warning when nobody else waited


def _downstream(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The app behind keystonemiddleware: reached only with a valid token."""
    start_response("200 OK", [("Content-Length", "0")])
    return []
