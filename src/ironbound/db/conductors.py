"""Conductor registration, heartbeats, and the driver catalogue the API reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, delete, select, update
from sqlalchemy.orm import Session

from ironbound.db import any_table
from ironbound.db.base import utcnow
from ironbound.db.models import Conductor, ConductorHardwareInterface, Job, Node
from ironbound.jobspec import JobStatus


@dataclass(frozen=True)
class Offer:
    """What one conductor offers for one hardware type."""

    hardware_type: str
    enabled: Mapping[str, Sequence[str]]
    defaults: Mapping[str, str | None]
    properties: Mapping[str, str] = field(default_factory=dict)


def register(session: Session, hostname: str, offers: Sequence[Offer], group: str = "") -> int:
    """Record `hostname` as online in conductor group `group` with its hardware offer;
    returns the conductor id."""
    conductor = by_hostname(session, hostname)
    now = utcnow()
    if conductor is None:
        conductor = Conductor(hostname=hostname, online=True, created_at=now, heartbeat_at=now)
        session.add(conductor)
        session.flush()
    else:
        conductor.online = True
        conductor.heartbeat_at = now
    conductor.conductor_group = group
    conductor.driver_properties = {o.hardware_type: dict(o.properties) for o in offers}
    session.execute(
        delete(ConductorHardwareInterface).where(
            ConductorHardwareInterface.conductor_id == conductor.id
        )
    )
    for offer in offers:
        for iface, names in offer.enabled.items():
            session.add_all(
                ConductorHardwareInterface(
                    conductor_id=conductor.id,
                    hardware_type=offer.hardware_type,
                    interface_type=iface,
                    interface_name=name,
                    default=name == offer.defaults.get(iface),
                )
                for name in names
            )
    return conductor.id


def heartbeat(session: Session, hostname: str) -> None:
    session.execute(
        update(Conductor).where(Conductor.hostname == hostname).values(heartbeat_at=utcnow())
    )


def unregister(session: Session, hostname: str) -> None:
    """Mark a conductor offline on a clean stop (its rows stay for history)."""
    session.execute(update(Conductor).where(Conductor.hostname == hostname).values(online=False))


def dead(session: Session, timeout: float) -> list[str]:
    """Conductors that are online but whose heartbeat is older than `timeout` seconds."""
    cutoff = utcnow() - dt.timedelta(seconds=timeout)
    return list(
        session.scalars(
            select(Conductor.hostname).where(Conductor.online, Conductor.heartbeat_at < cutoff)
        )
    )


def stale_holders(session: Session, timeout: float) -> list[str]:
    """Names that hold a node's lock or run a job but are not live conductors.

    A live conductor is online with a heartbeat fresher than `timeout`; any
    other holder (stopped, dead, or never registered) can never let go of
    what it holds, so whoever finds it takes over.
    """
    cutoff = utcnow() - dt.timedelta(seconds=timeout)
    live = select(Conductor.hostname).where(Conductor.online, Conductor.heartbeat_at >= cutoff)
    holders = select(Node.reservation).where(
        Node.reservation.is_not(None), Node.reservation.not_in(live)
    )
    runners = select(Job.conductor).where(
        Job.status == JobStatus.RUNNING, Job.conductor.is_not(None), Job.conductor.not_in(live)
    )
    return sorted({name for name in session.scalars(holders.union(runners)) if name})


def mark_offline(session: Session, hostname: str) -> None:
    session.execute(update(Conductor).where(Conductor.hostname == hostname).values(online=False))


@dataclass
class HardwareEntry:
    """The catalogue entry of one hardware type across all live conductors."""

    hosts: list[str] = field(default_factory=list)
    #: The hosts per conductor group.
    groups: dict[str, list[str]] = field(default_factory=dict)
    enabled: dict[str, list[str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)


def catalogue(session: Session, timeout: float) -> dict[str, HardwareEntry]:
    """Hardware types offered by live conductors, with their interfaces and defaults."""
    cutoff = utcnow() - dt.timedelta(seconds=timeout)
    rows = session.execute(
        select(
            Conductor.hostname,
            Conductor.conductor_group,
            Conductor.driver_properties,
            ConductorHardwareInterface,
        )
        .join(Conductor, Conductor.id == ConductorHardwareInterface.conductor_id)
        .where(Conductor.online, Conductor.heartbeat_at >= cutoff)
        .order_by(ConductorHardwareInterface.id)
    ).all()
    result: dict[str, HardwareEntry] = {}
    for hostname, group, properties, row in rows:
        entry = result.setdefault(row.hardware_type, HardwareEntry())
        entry.properties.update(properties.get(row.hardware_type, {}))
        if hostname not in entry.hosts:
            entry.hosts.append(hostname)
            entry.groups.setdefault(group, []).append(hostname)
        names = entry.enabled.setdefault(row.interface_type, [])
        if row.interface_name not in names:
            names.append(row.interface_name)
        if row.default:
            entry.defaults.setdefault(row.interface_type, row.interface_name)
    return result


def by_hostname(session: Session, hostname: str) -> Conductor | None:
    return session.scalars(select(Conductor).where(Conductor.hostname == hostname)).first()


def page(
    session: Session, *, sort_key: str, sort_dir: str, limit: int, marker: Conductor | None
) -> list[Row[Any]]:
    """A page of every registered conductor, live or not (see `any_table.page`)."""
    return any_table.page(
        session, Conductor, sort_key=sort_key, sort_dir=sort_dir, limit=limit, marker=marker
    )


def hardware_types(session: Session, conductor_ids: Sequence[int]) -> dict[int, list[str]]:
    """The hardware types each of these conductors offers, in one query."""
    rows = session.execute(
        select(ConductorHardwareInterface.conductor_id, ConductorHardwareInterface.hardware_type)
        .where(ConductorHardwareInterface.conductor_id.in_(conductor_ids))
        .distinct()
        .order_by(ConductorHardwareInterface.hardware_type)
    )
    found: dict[int, list[str]] = {i: [] for i in conductor_ids}
    for conductor_id, hardware_type in rows:
        found[conductor_id].append(hardware_type)
    return found


def is_alive(online: bool, heartbeat_at: dt.datetime, timeout: float) -> bool:
    """Whether a conductor counts as live: online, with a heartbeat fresher than `timeout`."""
    return online and heartbeat_at >= utcnow() - dt.timedelta(seconds=timeout)
