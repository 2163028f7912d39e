"""JSON responses serialised with orjson (timestamps come out as Ironic writes them)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response


def json(body: Any, status: int = 200, location: str | None = None) -> Response:
    headers = {"Location": location} if location else None
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=headers
    )


def accepted(location: str) -> Response:
    """202 with an empty body, as Ironic answers state changes."""
    return Response(status_code=202, headers={"Location": location})
