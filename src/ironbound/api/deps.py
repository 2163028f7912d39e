"""Request-scoped values for handlers, named once as Annotated aliases.

The providers are coroutines although they never wait: FastAPI runs a plain
function dependency in its thread pool, a thread hop per value per request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request

from ironbound.api import problems
from ironbound.api.policy import Identity
from ironbound.api.services import ApiServices
from ironbound.db import limits

#: What a body must say it is; parameters (charset) may follow.
_MEDIA_TYPE = "application/json"
#: The integers orjson reads as such; past them it returns a float, losing digits.
_LOWEST, _HIGHEST = -(2**63), 2**64 - 1
#: Any integer out of that range has this many digits; bodies without them skip the check.
_LONG_NUMBER = re.compile(rb"[0-9]{19}")


async def _version(request: Request) -> int:
    return int(request.state.version)


async def _identity(request: Request) -> Identity:
    identity: Identity = request.state.identity
    return identity


async def _services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


async def _base_url(request: Request) -> str:
    services: ApiServices = request.app.state.services
    if services.conf.api.public_endpoint:
        return str(services.conf.api.public_endpoint).rstrip("/")
    return f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def _integer(text: str) -> int:
    # Past 21 characters any integer is out of range (and int() refuses 4,300 digits).
    value = int(text) if len(text) <= 21 else None
    if value is None or not _LOWEST <= value <= _HIGHEST:
        raise problems.IntegerOutOfRange(lowest=_LOWEST, highest=_HIGHEST)
    return value


async def _optional_json_body(request: Request) -> Any:
    raw = await request.body()  # its size is bounded as it arrives (api/bodies.py)
    if not raw.strip():
        return None
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != _MEDIA_TYPE:
        raise problems.UnsupportedMediaType(given=media_type or "none", allowed=_MEDIA_TYPE)
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise problems.BodyNotJson(reason=exc) from exc
    # Deeper documents could not be stored (db/limits says why): refuse them unread.
    if limits.depth(document) > limits.MAX_DEPTH:
        raise problems.BodyTooDeep(depth=limits.MAX_DEPTH)
    if _LONG_NUMBER.search(raw):
        # Read again, rarely, only to find integers that orjson turned into floats.
        json.loads(raw, parse_int=_integer)
    return document


async def _json_body(request: Request) -> Any:
    body = await _optional_json_body(request)
    if body is None:
        raise problems.BodyEmpty()
    return body


@dataclass(frozen=True)
class Call:
    """What every handler needs about its request, as one parameter (after its path
    parameters and body): handlers have one signature."""

    request: Request
    services: ApiServices
    minor: int
    base_url: str
    identity: Identity


async def _call(request: Request) -> Call:
    return Call(
        request,
        await _services(request),
        await _version(request),
        await _base_url(request),
        await _identity(request),
    )


Version = Annotated[int, Depends(_version)]
CurrentCall = Annotated[Call, Depends(_call)]
JsonBody = Annotated[Any, Depends(_json_body)]
OptionalJsonBody = Annotated[Any, Depends(_optional_json_body)]
