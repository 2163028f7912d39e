"""The one table from domain errors to HTTP, and Ironic's error envelope.

Every error response, the framework's own included, has the shape
``{"error_message": "<JSON string of {faultcode, faultstring, debuginfo}>"}``:
clients parse `error_message` a second time and show `faultstring`.
"""

from __future__ import annotations

import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ironbound import errors
from ironbound.api import problems

LOG = logging.getLogger(__name__)

#: Most specific first: the first matching class decides the status.
STATUS: tuple[tuple[type[errors.IronboundError], int], ...] = (
    (errors.Invalid, 400),
    (errors.NotAuthorized, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.MethodNotAllowed, 405),
    (errors.NotAcceptable, 406),
    (problems.UnsupportedMediaType, 415),
    (errors.Conflict, 409),
    (errors.TemporaryFailure, 503),
    (errors.DriverError, 502),
)

_PHRASES = {
    404: "The resource could not be found.",
    405: "The method is not allowed for this resource.",
    413: "The request body is too large.",
}


def status_for(exc: errors.IronboundError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def envelope(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error response in Ironic's envelope."""
    fault = {
        "faultcode": "Server" if status >= 500 else "Client",
        "faultstring": message,
        "debuginfo": None,
    }
    body = orjson.dumps({"error_message": orjson.dumps(fault).decode()})
    all_headers = {"Content-Type": "application/json"}
    if headers:
        all_headers.update(headers)
    return Response(body, status_code=status, headers=all_headers)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.IronboundError)
    status = status_for(exc)
    if status >= 500:
        LOG.error("Request %s %s failed: %s", request.method, request.url.path, exc)
    return envelope(status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else ""
    if exc.status_code in _PHRASES and message in ("", "Not Found", "Method Not Allowed"):
        message = _PHRASES[exc.status_code]
    return envelope(exc.status_code, message, dict(exc.headers or {}))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("query", "path", "body"))
        problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
    return envelope(400, "Invalid request: " + "; ".join(problems))


async def _unexpected(request: Request, exc: Exception) -> Response:
    state = request.scope.get("state", {})
    LOG.exception(
        "Unexpected error in %s %s (%s)",
        request.method,
        request.url.path,
        state.get("request_id"),
    )
    response = envelope(500, "Internal server error; the details are in the server log.")
    # Starlette answers unhandled errors outside the API middleware, so the
    # version and request-id headers it adds to every response are added here.
    response.raw_headers.extend(state.get("response_headers", []))
    return response


def install(app: FastAPI) -> None:
    """Register the handlers that put every error into the envelope."""
    app.add_exception_handler(errors.IronboundError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
