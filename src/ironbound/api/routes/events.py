"""POST /v1/events (1.54): Neutron's network events about a node's ports.

Ironic's API checks them and hands nothing on (it logs them); Ironbound's
only network interface is `noop`, which has nothing to wait for either, so a
valid body is acknowledged with 204 and an invalid one refused with 400.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from starlette.responses import Response

from ironbound import errors
from ironbound.api import microversions as mv
from ironbound.api import policy
from ironbound.api.deps import CurrentCall, JsonBody, Version
from ironbound.api.schemas.common import validate
from ironbound.api.schemas.events import EventsDocument

LOG = logging.getLogger(__name__)

router = APIRouter()


async def _since_1_54(minor: Version) -> None:
    """Before 1.54 there is no such endpoint (Ironic's 404), whatever the body."""
    if minor < mv.EVENTS:
        raise errors.VersionNotSupported()


@router.post("/v1/events", status_code=204, dependencies=[Depends(_since_1_54)])
def post_events(body: JsonBody, call: CurrentCall) -> Response:
    call.identity.enforce(policy.EVENTS)
    doc: EventsDocument = validate(EventsDocument, body, "events")
    for event in doc.events:
        LOG.debug("Network event %s for port %s: %s", event.event, event.port_id, event.status)
    return Response(status_code=204)
