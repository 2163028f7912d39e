"""Calls that take no query parameters refuse any, as list and show calls refuse unknown ones.

A parameter silently ignored looks as if it worked (a filter that filters
nothing), so these calls answer 400 naming the allowed parameters (none),
with the same check and message as `listing`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request, params

from ironbound.api import listing


async def _refuse_any(request: Request) -> None:
    if request.scope["query_string"]:
        listing.reject_unknown(request.query_params.keys(), ())


#: In a route's `dependencies`: the call takes no query parameters.
NONE = params.Depends(_refuse_any)


def none_for(*endpoints: Callable[..., Any]) -> params.Depends:
    """NONE for just these endpoints, for a router whose routes cannot say it themselves."""
    chosen = frozenset(endpoints)

    async def refuse_for_chosen(request: Request) -> None:
        if request.scope.get("endpoint") in chosen:
            await _refuse_any(request)

    return params.Depends(refuse_for_chosen)
