"""The boot server: what a booting node's iPXE asks for, and nothing else.

* ``GET /boot.ipxe``: the entry script a DHCP server points machines at.
* ``GET /boot/mac/<mac>``: chains to the node's own script, only while the
  node is being deployed or is active with a boot token.
* ``GET /boot/<token>/script.ipxe``: the node's script, rendered now from the
  database; the token is created at deploy and revoked at undeploy.
* ``GET /boot/<token>/nocloud/<file>``: the NoCloud seed of a node that boots a
  kernel with a config drive (`ironbound.nocloud`), the URL its kernel command line
  names; served like the script, to the pinned host alone.
* ``GET /boot/<token>/events/<event>``: progress reports from the script, and
  (``up``, GET or POST as cloud-init's ``phone_home`` sends it) the booted
  operating system's confirmation that it came up; a POST's body is never read.

Anything else, an unknown token or MAC included, is the same plain 404, so a
caller learns nothing about which nodes exist. Tokens never reach the log.
With dnsmasq's lease file (`[dnsmasq]dhcp_leasefile`) a node's chain, script
and reports are answered only at an address DHCP leased one of its MACs.
"""

from __future__ import annotations

import logging
import re

from oslo_config import cfg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, Router

from ironbound import (
    config,
    configdrive,
    dhcp,
    errors,
    nocloud,
    records,
    sanplan,
    sensitive,
    states,
)
from ironbound.bootserver import access, render
from ironbound.db import snapshots, tokens
from ironbound.db.models import BootToken, Node
from ironbound.db.session import Database
from ironbound.records import NodeSnapshot
from ironbound.signals import Signals

LOG = logging.getLogger(__name__)

_MAC = re.compile(r"^([0-9a-f]{2}-){5}[0-9a-f]{2}\Z")
_EVENTS = frozenset({"booting", "failed", "up"})
_ERRNO = re.compile(r"^(0x)?[0-9a-fA-F]{1,8}\Z")
#: The volume target a failure report names (the one iPXE was hooking or booting).
_UUID = re.compile(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\Z")
IPXE = "text/plain; charset=utf-8"
#: A seed holds the instance's secrets: no cache along the way keeps it.
_PRIVATE = {"Cache-Control": "no-store"}


def _not_found() -> Response:
    return PlainTextResponse("Not found\n", status_code=404)


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _bootable(node: Node) -> bool:
    return node.provision_state in states.BOOTABLE_STATES


def _seeded(snapshot: NodeSnapshot) -> bool:
    """The node boots a kernel (no boot volume, no boot_iso) and has a config drive, so
    its kernel command line names its NoCloud seed."""
    info = snapshot.node.instance_info
    return bool(
        info.get(configdrive.KEY)
        and info.get(sanplan.KERNEL)
        and not sanplan.has_boot_volume(snapshot.volume_targets)
    )


def _render(node_uuid: str, snapshot: NodeSnapshot, token_url: str) -> str:
    """The node's script: boot from its volume, or (no boot volume: the ramdisk deploy)
    hook its data volumes and boot the kernel and ramdisk or ISO its instance_info names,
    the kernel told where its NoCloud seed is when it has a config drive.

    :raises sanplan.PlanError: the records cannot make a bootable script.
    """
    connectors, targets = snapshot.volume_connectors, snapshot.volume_targets
    events_url = f"{token_url}/events"
    if sanplan.has_boot_volume(targets):
        plan = sanplan.build(connectors, targets)
        return render.volume_script(node_uuid, plan, events_url)
    ramdisk = sanplan.build_ramdisk(connectors, targets, snapshot.node.instance_info)
    seed = nocloud.kernel_parameter(f"{token_url}/nocloud/") if _seeded(snapshot) else None
    return render.ramdisk_script(node_uuid, ramdisk, events_url, seed)


class _BootServer:
    """The four handlers, sharing the database, the key and the conductor wake-ups."""

    def __init__(
        self, conf: cfg.ConfigOpts, db: Database, box: sensitive.SecretBox, signals: Signals
    ) -> None:
        self.conf, self.db, self.box, self.signals = conf, db, box, signals
        self.base_url = config.boot_server_url(conf)
        self.leases = dhcp.lease_file(conf)

    def _leased(self, node: Node, request: Request) -> bool:
        if access.leased(self.db, self.leases, node.id, _address(request)):
            return True
        LOG.warning(
            "Refused %s node %s: DHCP has not leased that address to the node's MACs",
            _address(request),
            node.uuid,
        )
        return False

    def _admitted(self, node: Node, row: BootToken, request: Request) -> bool:
        if not self._leased(node, request):
            return False
        verdict = access.admit(self.db, node.id, row, _address(request))
        if verdict.queued:
            self.signals.work_queued()
        if not verdict.allowed:
            LOG.warning(
                "Refused %s the boot script of node %s: it is pinned to another host",
                _address(request),
                node.uuid,
            )
        return verdict.allowed

    def _cycle(self, node: Node, row: BootToken, event: dict[str, str]) -> None:
        if access.open_cycle(
            self.db, node.id, row, event, self.conf.bootserver.boot_cycles_per_minute
        ):
            self.signals.work_queued()

    async def entry(self, request: Request) -> Response:
        return PlainTextResponse(render.entry_script(self.base_url), media_type=IPXE)

    def by_mac(self, request: Request) -> Response:
        mac = str(request.path_params["mac"]).lower()
        if not config.mac_lookup(self.conf) or not _MAC.match(mac):
            return _not_found()
        with self.db.read() as session:
            found = tokens.by_mac(session, mac.replace("-", ":"))
        if found is None or not _bootable(found[0]):
            LOG.info("Boot request from unknown or undeployed MAC %s", mac)
            return _not_found()
        node, row = found
        if not self._admitted(node, row, request):
            return _not_found()
        token = self.box.open(row.sealed_token)["token"]
        LOG.info("Node %s found by MAC %s; chaining to its script", node.uuid, mac)
        return PlainTextResponse(
            render.chain_script(config.boot_script_url(self.conf, token)), media_type=IPXE
        )

    def _served(self, token: str, request: Request) -> tuple[Node, BootToken, NodeSnapshot] | None:
        """The node of a live token, its token row and its snapshot, if `request` may be
        served (the script's rule: see access.py), else None."""
        with self.db.read() as session:
            found = tokens.by_token(session, token)
        if found is None or not _bootable(found[0]):
            return None
        node, row = found
        if not self._admitted(node, row, request):
            return None
        with self.db.read() as session:
            return node, row, snapshots.load(session, node.id, self.box)

    def script(self, request: Request) -> Response:
        token = str(request.path_params["token"])
        served = self._served(token, request)
        if served is None:
            return _not_found()
        node, row, snapshot = served
        try:
            body = _render(node.uuid, snapshot, f"{self.base_url}/boot/{token}")
        except sanplan.PlanError as exc:
            LOG.warning("Node %s asked for its boot script, but %s", node.uuid, exc)
            self._cycle(node, row, {"event": "unservable", "reason": str(exc)})
            return PlainTextResponse(f"#!ipxe\necho Ironbound: {exc}\nexit 1\n", media_type=IPXE)
        self._cycle(node, row, {"event": "script_fetched"})
        LOG.info("Served the boot script of node %s", node.uuid)
        return PlainTextResponse(body, media_type=IPXE)

    def seed(self, request: Request) -> Response:
        """A file of the node's NoCloud seed, built now from its sealed config drive; the
        same rule as the script's decides who gets it (a stranger contests the boot)."""
        token, name = str(request.path_params["token"]), str(request.path_params["name"])
        if name not in nocloud.NAMES:
            return _not_found()
        served = self._served(token, request)
        if served is None or not _seeded(served[2]):
            return _not_found()
        node, _row, snapshot = served
        stored = snapshot.node.instance_info[configdrive.KEY]
        try:
            files = nocloud.seed(
                configdrive.unsealed(records.secret_value(stored)),
                node_uuid=node.uuid,
                node_name=snapshot.node.name,
                confirmation_url=config.boot_confirmation_url(self.conf, token),
            )
        except errors.ConfigDriveInvalid as exc:
            LOG.warning("Node %s asked for its NoCloud seed, but %s", node.uuid, exc)
            return _not_found()
        LOG.info("Served the NoCloud %s of node %s", name, node.uuid)
        return Response(files[name], media_type="application/octet-stream", headers=_PRIVATE)

    def report(self, request: Request) -> Response:
        token, event = str(request.path_params["token"]), str(request.path_params["event"])
        errno = request.query_params.get("errno", "")
        volume = request.query_params.get("volume", "")
        if (
            event not in _EVENTS
            or (errno and not _ERRNO.match(errno))
            or (volume and not _UUID.match(volume))
        ):
            return _not_found()
        with self.db.read() as session:
            found = tokens.by_token(session, token)
        if found is None or not _bootable(found[0]):
            return _not_found()
        node, row = found
        if row.pinned_address != _address(request) or not self._leased(node, request):
            return _not_found()
        args = {
            "event": event,
            **({"errno": errno} if errno else {}),
            **({"volume": volume} if volume else {}),
        }
        if not access.close_cycle(self.db, node.id, row, args):
            return _not_found()  # no script was served in this cycle, or it reported already
        LOG.info("Node %s reports boot event %s %s", node.uuid, event, errno)
        self.signals.work_queued()
        return PlainTextResponse("#!ipxe\n", media_type=IPXE)


def create_boot_app(
    conf: cfg.ConfigOpts, db: Database, box: sensitive.SecretBox, signals: Signals
) -> Starlette:
    server = _BootServer(conf, db, box, signals)

    async def unknown(request: Request, exc: Exception) -> Response:
        return _not_found()

    app = Starlette(exception_handlers={404: unknown, 405: unknown})
    # No slash redirects: they would answer 307 with a Location built from the
    # caller's Host header instead of the one plain 404.
    app.router = Router(
        routes=[
            Route("/boot.ipxe", server.entry),
            Route("/boot/mac/{mac}", server.by_mac),
            Route("/boot/{token}/script.ipxe", server.script),
            Route("/boot/{token}/nocloud/{name}", server.seed),
            Route("/boot/{token}/events/{event}", server.report, methods=["GET", "POST"]),
        ],
        redirect_slashes=False,
    )
    return app
