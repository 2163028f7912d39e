"""The boot server: what a booting node's iPXE asks for, and nothing else.

* ``GET /boot.ipxe``: the entry script a DHCP server points machines at.
* ``GET /boot/mac/<mac>``: chains to the node's own script, only while the
  node is being deployed or is active with a boot token.
* ``GET /boot/<token>/script.ipxe``: the node's script, rendered now from the
  database; the token is created at deploy and revoked at undeploy.
* ``GET /boot/<token>/events/<event>``: progress reports from the script.

Anything else, an unknown token or MAC included, is the same plain 404, so a
caller learns nothing about which nodes exist. Tokens never reach the log.
"""

from __future__ import annotations

import logging
import re

from oslo_config import cfg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ironbound import config, sanplan, sensitive, states
from ironbound.bootserver import render
from ironbound.db import events, jobs, snapshots, tokens
from ironbound.db.models import Node
from ironbound.db.session import Database
from ironbound.jobspec import JobKind
from ironbound.signals import Signals

LOG = logging.getLogger(__name__)

_MAC = re.compile(r"^([0-9a-f]{2}-){5}[0-9a-f]{2}\Z")
_EVENTS = frozenset({"booting", "failed"})
_ERRNO = re.compile(r"^(0x)?[0-9a-fA-F]{1,8}\Z")
IPXE = "text/plain; charset=utf-8"


def _not_found() -> Response:
    return PlainTextResponse("Not found\n", status_code=404)


def create_boot_app(
    conf: cfg.ConfigOpts, db: Database, box: sensitive.SecretBox, signals: Signals
) -> Starlette:
    base_url = config.boot_server_url(conf)

    def bootable(node: Node | None) -> bool:
        return node is not None and node.provision_state in states.BOOTABLE_STATES

    async def entry(request: Request) -> Response:
        return PlainTextResponse(render.entry_script(base_url), media_type=IPXE)

    def by_mac(request: Request) -> Response:
        mac = str(request.path_params["mac"]).lower()
        if not conf.bootserver.mac_lookup or not _MAC.match(mac):
            return _not_found()
        with db.read() as session:
            found = tokens.sealed_token_for_mac(session, mac.replace("-", ":"))
        if found is None or not bootable(found[0]):
            LOG.info("Boot request from unknown or undeployed MAC %s", mac)
            return _not_found()
        node, sealed = found
        token = box.open(sealed)["token"]
        LOG.info("Node %s found by MAC %s; chaining to its script", node.uuid, mac)
        return PlainTextResponse(
            render.chain_script(f"{base_url}/boot/{token}/script.ipxe"), media_type=IPXE
        )

    def script(request: Request) -> Response:
        token = str(request.path_params["token"])
        with db.write() as session:
            node = tokens.node_for_token(session, token)
            if not bootable(node):
                return _not_found()
            assert node is not None
            try:
                snapshot = snapshots.load(session, node.id, box)
                plan = sanplan.build(snapshot.volume_connectors, snapshot.volume_targets)
            except sanplan.PlanError as exc:
                events.add(
                    session,
                    node.id,
                    f"boot script not served: {exc}",
                    event_type="boot",
                    severity="error",
                )
                LOG.warning("Node %s asked for its boot script, but %s", node.uuid, exc)
                return PlainTextResponse(
                    f"#!ipxe\necho Ironbound: {exc}\nexit 1\n", media_type=IPXE
                )
            jobs.enqueue(session, node.id, JobKind.BOOT_EVENT, {"event": "script_fetched"})
            body = render.volume_script(node.uuid, plan, f"{base_url}/boot/{token}/events")
            LOG.info("Served the boot script of node %s", node.uuid)
        signals.work_queued()
        return PlainTextResponse(body, media_type=IPXE)

    def report(request: Request) -> Response:
        token, event = str(request.path_params["token"]), str(request.path_params["event"])
        errno = request.query_params.get("errno", "")
        if event not in _EVENTS or (errno and not _ERRNO.match(errno)):
            return _not_found()
        with db.write() as session:
            node = tokens.node_for_token(session, token)
            if not bootable(node):
                return _not_found()
            assert node is not None
            args = {"event": event, **({"errno": errno} if errno else {})}
            jobs.enqueue(session, node.id, JobKind.BOOT_EVENT, args)
            LOG.info("Node %s reports boot event %s %s", node.uuid, event, errno)
        signals.work_queued()
        return PlainTextResponse("#!ipxe\n", media_type=IPXE)

    async def unknown(request: Request, exc: Exception) -> Response:
        return _not_found()

    return Starlette(
        exception_handlers={404: unknown, 405: unknown},
        routes=[
            Route("/boot.ipxe", entry),
            Route("/boot/mac/{mac}", by_mac),
            Route("/boot/{token}/script.ipxe", script),
            Route("/boot/{token}/events/{event}", report),
        ],
    )
