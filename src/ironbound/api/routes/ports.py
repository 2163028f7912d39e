"""/v1/ports: a node's NICs. The MAC is how a booting machine is recognised."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session
from starlette.responses import Response

from ironbound import errors, states
from ironbound.api import listing, patch, problems, responses, subresources, writes
from ironbound.api.deps import (
    Call,
    CurrentCall,
    JsonBody,
)
from ironbound.api.schemas.common import validate
from ironbound.api.schemas.port import PortDocument
from ironbound.api.schemas.volume import normalize_mac
from ironbound.api.views.port import PORTS
from ironbound.db import any_table, nodes, portgroups
from ironbound.db.models import Node, Port, Portgroup

router = APIRouter()


#: What a Smart NIC port's local_link_connection must name (Ironic's rule).
_SMARTNIC_LINK = frozenset({"port_id", "hostname"})

#: A deployed node's NICs are how it boots: change them only in maintenance.
_DEPLOYED = frozenset({states.DEPLOYING, states.DEPLOYWAIT, states.ACTIVE})


def _by_address(session: Session, value: str) -> tuple[str, Any]:
    mac = normalize_mac(value)
    if mac is None:
        raise problems.NotAMacAddress(value=value)
    return "address", mac


_FILTERS: dict[str, subresources.Filter] = {
    "node": subresources.by_node,
    "node_uuid": subresources.by_node_uuid,
    "address": _by_address,
}


def _list(call: Call, detail: bool, node_ident: str | None) -> Response:
    return subresources.list_of(call, PORTS, _FILTERS, detail, node_ident)


subresources.add_list_routes(router, "ports", _list)


@router.get("/v1/ports/{ident}")
def show_port(ident: str, call: CurrentCall) -> Response:
    return subresources.show(call, PORTS, ident)


def _parsed(body: Any, minor: int) -> tuple[PortDocument, str]:
    """The port document and its normalised MAC: the checks that need no database."""
    if isinstance(body, dict):
        listing.reject_newer(sorted(body), PORTS.fields.since, minor)
    doc: PortDocument = validate(PortDocument, body, "port")
    mac = normalize_mac(doc.address)
    if mac is None:
        raise problems.NotAMacAddress(value=doc.address)
    if doc.physical_network == "":
        raise problems.PhysicalNetworkEmpty()
    return doc, mac


def _placed(session: Session, doc: PortDocument, mac: str, own_id: int | None) -> Node:
    """The port's node, once its MAC is known to be free."""
    node = subresources.body_node(session, doc.node_uuid)
    if subresources.unique_violation(session, PORTS, own_id, address=mac):
        raise errors.MACAlreadyExists(mac=mac)
    return node


def _group(session: Session, doc: PortDocument, node: Node) -> Portgroup | None:
    """The port group the port joins: one of the port's own node."""
    if doc.portgroup_uuid is None:
        return None
    group = any_table.by_uuid(session, Portgroup, doc.portgroup_uuid)
    if group is None:
        raise errors.PortgroupNotFound(portgroup=doc.portgroup_uuid)
    if group.node_id != node.id:
        raise problems.PortgroupOnOtherNode(
            portgroup=group.uuid,
            group_node=nodes.get_by_id(session, group.node_id).uuid,
            port_node=node.uuid,
        )
    if doc.pxe_enabled and not group.standalone_ports_supported:
        raise problems.StandalonePortsUnsupported(portgroup=group.uuid)
    return group


def _check_physnet(session: Session, group: Portgroup | None, port: Port) -> None:
    """As Ironic: every port of a port group is on the same physical network (or none)."""
    if group is None:
        return
    others = portgroups.member_physnets(session, group.id, port.id)
    if others and port.physical_network not in others:
        raise problems.PortgroupPhysnetConflict(
            physnet=port.physical_network, portgroup=group.uuid, group_physnet=others.pop()
        )


@router.post("/v1/ports", status_code=201)
def create_port(body: JsonBody, call: CurrentCall) -> Response:
    doc, mac = _parsed(body, call.minor)
    if doc.is_smartnic and not _SMARTNIC_LINK.issubset(doc.local_link_connection):
        # As Ironic, at create only: a Smart NIC is found by its host, not by a switch.
        raise problems.SmartNicLinkIncomplete()
    with call.services.db.write() as session:
        node = _placed(session, doc, mac, None)
        port_uuid = doc.uuid or str(uuidlib.uuid4())
        if subresources.unique_violation(session, PORTS, None, uuid=port_uuid):
            raise errors.PortAlreadyExists(uuid=port_uuid)
        row = Port(
            uuid=port_uuid,
            address=mac,
            node_id=node.id,
            extra=doc.extra,
            local_link_connection=doc.local_link_connection,
            pxe_enabled=doc.pxe_enabled,
            internal_info={},
            physical_network=doc.physical_network,
            is_smartnic=doc.is_smartnic,
        )
        group = _group(session, doc, node)
        row.portgroup_id = group.id if group is not None else None
        _check_physnet(session, group, row)
        any_table.add(session, row)
        document = subresources.render(
            PORTS,
            row,
            node.uuid,
            PORTS.fields.detail(call.minor),
            call.base_url,
            call.identity,
            {"portgroup_uuid": doc.portgroup_uuid},
        )
    return responses.json(document, status=201, location=f"{call.base_url}/v1/ports/{row.uuid}")


def _refuse_when_deployed(node: Node, action: str) -> None:
    if node.provision_state in _DEPLOYED and not node.maintenance:
        raise problems.PortChangeRefused(action=action, node=node.uuid, state=node.provision_state)


def _updatable(minor: int) -> list[str]:
    fields = (
        "address",
        "node_uuid",
        "extra",
        "local_link_connection",
        "pxe_enabled",
        "portgroup_uuid",
        "physical_network",
        "is_smartnic",
    )
    return [f for f in fields if PORTS.fields.since[f] <= minor]


def _store(
    session: Session, row: Port, node: Node, parsed: tuple[PortDocument, str], updatable: list[str]
) -> Node:
    """Write the parsed document onto `row`, once its place is free; its (new) node."""
    doc, mac = parsed
    new_node = _placed(session, doc, mac, row.id)
    if mac != row.address or new_node.id != row.node_id:
        _refuse_when_deployed(node, "change the address or node of")
    row.address, row.node_id, row.extra = mac, new_node.id, doc.extra
    # Fields newer than this microversion were not in the patched document
    # (the schema filled in defaults): they keep their stored values.
    if "local_link_connection" in updatable:
        row.local_link_connection = doc.local_link_connection
    if "pxe_enabled" in updatable:
        row.pxe_enabled = doc.pxe_enabled
    if "physical_network" in updatable:
        row.physical_network = doc.physical_network
    if "is_smartnic" in updatable:
        row.is_smartnic = doc.is_smartnic
    if "portgroup_uuid" in updatable:
        group = _group(session, doc, new_node)
        row.portgroup_id = group.id if group is not None else None
        _check_physnet(session, group, row)
    any_table.store(session)
    return new_node


def _port(session: Session, ident: str) -> Port:
    row = subresources.get(session, PORTS, ident)
    assert isinstance(row, Port)
    return row


def _seen(session: Session, row: Port, node: Node, names: tuple[str, ...], call: Call) -> Any:
    rel = subresources.related(session, PORTS, [row])[0]
    return subresources.render(PORTS, row, node.uuid, names, call.base_url, call.identity, rel)


@router.patch("/v1/ports/{ident}")
def update_port(ident: str, body: JsonBody, call: CurrentCall) -> Response:
    updatable = _updatable(call.minor)
    patch.reject_newer_fields(body, PORTS.fields.since, call.minor)
    names = PORTS.fields.detail(call.minor)
    for attempt in writes.attempts(call.services, "port"):
        with attempt:
            with call.services.db.read() as session:
                row = _port(session, ident)
                before = _seen(session, row, subresources.node_of(session, row), names, call)
            after = patch.apply(before, body, updatable=updatable)
            parsed = _parsed({k: after[k] for k in updatable if k in after}, call.minor)
            with call.services.db.write() as session:
                row = _port(session, ident)
                node = writes.hold(session, subresources.node_of(session, row))
                writes.unchanged(before, _seen(session, row, node, names, call))
                new_node = _store(session, row, node, parsed, updatable)
                rel = {"portgroup_uuid": parsed[0].portgroup_uuid}
                document = subresources.render(
                    PORTS, row, new_node.uuid, names, call.base_url, call.identity, rel
                )
    return responses.json(document)


@router.delete("/v1/ports/{ident}", status_code=204)
def delete_port(ident: str, call: CurrentCall) -> Response:
    for attempt in writes.attempts(call.services):
        with attempt, call.services.db.write() as session:
            row = _port(session, ident)
            node = writes.hold(session, subresources.node_of(session, row))
            _refuse_when_deployed(node, "delete")
            any_table.remove(session, row)
    return Response(status_code=204)
