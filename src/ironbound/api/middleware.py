"""The per-request layer every API call passes: versions, request ids, auth.

A plain ASGI middleware (not Starlette's BaseHTTPMiddleware) because it runs
on every request and must stay cheap. It negotiates the microversion and
answers 406 with both range headers when the request is out of range (the
`baremetal` CLI downgrades from those headers), authenticates the caller
and applies the read/write rule, and adds Ironic's headers to every response.
"""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ironbound import errors
from ironbound.api import microversions as mv
from ironbound.api import policy
from ironbound.api.auth import Authenticator
from ironbound.api.errors import envelope, status_for

#: Paths anyone may read without credentials (version discovery), as in Ironic.
PUBLIC_PATHS = frozenset({"/", "/v1", "/v1/"})

_RANGE_HEADERS = [
    (mv.MIN_HEADER.lower().encode(), mv.MIN_VERSION.encode()),
    (mv.MAX_HEADER.lower().encode(), mv.MAX_VERSION.encode()),
]


class ApiMiddleware:
    def __init__(self, app: ASGIApp, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        request_id = f"req-{uuid.uuid4()}".encode()
        extra = [
            *_RANGE_HEADERS,
            (b"openstack-request-id", request_id),
            (b"x-openstack-request-id", request_id),
        ]
        try:
            minor = mv.negotiate(
                headers.get(mv.HEADER.lower()), headers.get("openstack-api-version")
            )
            extra.append((mv.HEADER.lower().encode(), mv.version_string(minor).encode()))
            identity = policy.ADMIN
            if scope["path"] not in PUBLIC_PATHS:
                peer = scope.get("client")
                identity = await self.authenticator.authenticate(headers, peer[0] if peer else "")
                write = scope["method"] not in ("GET", "HEAD", "OPTIONS")
                identity.enforce(policy.WRITE if write else policy.READ)
        except errors.IronboundError as exc:
            status = status_for(exc)
            response = envelope(status, exc.message)
            response.raw_headers.extend(extra)
            if status == 401:
                response.raw_headers.append((b"www-authenticate", self.authenticator.challenge))
            await response(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["version"] = minor
        state["identity"] = identity
        state["request_id"] = request_id.decode()
        # For the 500 handler, which Starlette runs outside this middleware.
        state["response_headers"] = extra

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
