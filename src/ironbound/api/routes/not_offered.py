"""Ironic endpoints Ironbound does not offer: allocations (1.52), deploy templates (1.55).

Each answers, at every version, what Ironic answers below the version that
brought it: 404 to a read and 405 to a write, so a client sees a clear 4xx
in Ironic's envelope rather than a routing miss. Above that version the
message says why Ironbound leaves the feature out (docs/compatibility.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from ironbound.api import microversions as mv
from ironbound.api import problems
from ironbound.api.deps import CurrentCall

router = APIRouter()

_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_READS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class _Feature:
    name: str  # as Ironic's message names it
    since: int
    why: str


_ALLOCATIONS = _Feature(
    "allocations",
    mv.ALLOCATIONS,
    "pick a node by name, UUID or list filters (resource_class, traits are shown) and deploy it",
)
_DEPLOY_TEMPLATES = _Feature(
    "deploy templates",
    mv.DEPLOY_TEMPLATES,
    "a template only selects deploy steps, and a deploy here runs Ironbound's fixed steps",
)


def _refuse(feature: _Feature, minor: int, method: str) -> None:
    read = method in _READS
    if minor < feature.since:
        raise (problems.VersionLacks if read else problems.VersionLacksWrite)(feature=feature.name)
    raise (problems.NotOffered if read else problems.NotOfferedWrite)(
        feature=feature.name, why=feature.why
    )


@router.api_route("/v1/allocations", methods=_METHODS)
@router.api_route("/v1/allocations/{rest:path}", methods=_METHODS)
def allocations(call: CurrentCall) -> None:
    _refuse(_ALLOCATIONS, call.minor, call.request.method)


@router.api_route("/v1/nodes/{node_ident}/allocation", methods=_METHODS)
def node_allocation(call: CurrentCall) -> None:
    # As Ironic below 1.52, every method here is a 404.
    _refuse(_ALLOCATIONS, call.minor, "GET")


@router.api_route("/v1/deploy_templates", methods=_METHODS)
@router.api_route("/v1/deploy_templates/{rest:path}", methods=_METHODS)
def deploy_templates(call: CurrentCall) -> None:
    _refuse(_DEPLOY_TEMPLATES, call.minor, call.request.method)
