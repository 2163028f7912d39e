"""create_app(): the API application, from its routers, middleware and error table."""

from __future__ import annotations

from fastapi import FastAPI

from ironbound import __version__
from ironbound.api import errors, no_query
from ironbound.api.auth import Authenticator
from ironbound.api.bodies import BodyLimits
from ironbound.api.middleware import ApiMiddleware
from ironbound.api.routes import (
    conductors,
    drivers,
    events,
    managed_volumes,
    node_bios,
    node_states,
    node_traits,
    nodes,
    not_offered,
    portgroups,
    ports,
    root,
    vifs,
    volume,
)
from ironbound.api.services import ApiServices


def create_app(services: ApiServices) -> FastAPI:
    app = FastAPI(
        title="Ironbound",
        version=__version__,
        description="OpenStack Ironic v1 compatible bare-metal API with boot from volume.",
        redirect_slashes=False,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # Ironic serves no such document; keep the surface Ironic's
    )
    app.state.services = services
    errors.install(app)
    # Order matters where paths overlap: /v1/nodes/detail before /v1/nodes/{ident}.
    for router in (
        root.router,
        nodes.router,
        node_states.router,
        node_traits.router,
        node_bios.router,
        ports.router,
        portgroups.router,
        vifs.router,
    ):
        app.include_router(router)
    # Before the volume router, whose /v1/volume/{kind}/... would not match it anyway.
    app.include_router(managed_volumes.router)
    # The volume documents take no query parameters (their lists check their own).
    app.include_router(
        volume.router, dependencies=[no_query.none_for(volume.volume_root, volume.node_volume)]
    )
    app.include_router(drivers.router)
    app.include_router(conductors.router)
    app.include_router(events.router)
    app.include_router(not_offered.router)
    # The last added runs first: credentials are checked before a body is read.
    app.add_middleware(BodyLimits, timeout=services.conf.api.request_body_timeout)
    app.add_middleware(ApiMiddleware, authenticator=Authenticator(services.conf))
    return app
