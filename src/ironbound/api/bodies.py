"""The request body's bounds, enforced while it streams in: its size and how long it takes.

Starlette reads a body whole into memory before a handler sees it, so a
size checked there comes after the memory is spent, and nothing bounds how
long a client may take to send it. This layer refuses a Content-Length
over the limit before reading anything, stops a body without one once it
passes the limit (413, as Ironic), and stops waiting for a body that has
not arrived within [api]request_body_timeout (408). Each of these answers
closes the connection, so the rest of the body is never read.
"""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ironbound.api import problems
from ironbound.api.errors import envelope

MAX_BODY = 1024 * 1024
_CLOSE = {"Connection": "close"}
_TOO_LARGE = problems.BodyTooLarge().message
# More digits than this are over any limit (and int() refuses 4,300 digits).
_LENGTH_DIGITS = len(str(MAX_BODY))


class BodyLimits:
    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (len(value) > _LENGTH_DIGITS or int(value) > MAX_BODY):
                await envelope(413, _TOO_LARGE, _CLOSE)(scope, receive, send)
                return
        deadline = asyncio.get_running_loop().time() + self.timeout
        received = 0
        complete = False

        async def bounded_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is in; later reads wait for a disconnect, unbounded
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                timeout = problems.BodyTimeout(timeout=self.timeout)
                raise HTTPException(408, timeout.message, _CLOSE) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY:
                    raise HTTPException(413, _TOO_LARGE, _CLOSE)
                complete = not message.get("more_body", False)
            return message

        await self.app(scope, bounded_receive, send)
