"""Typed models. Invariants the database can hold live here as constraints.

Mappings that may carry secrets (a node's driver_info and instance_info, a
volume target's properties) are stored twice over: the masked mapping in a
JSON column, the secrets sealed by `ironbound.sensitive.SecretBox` in a text
column beside it. See `ironbound.sensitive` for why.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ironbound.db.base import Base, JSONType, UTCDateTime, utcnow
from ironbound.jobspec import JobStatus


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, default=None, onupdate=utcnow
    )


class Node(TimestampMixin, Base):
    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), unique=True)
    driver: Mapped[str] = mapped_column(String(255))
    driver_info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    driver_secrets: Mapped[str | None] = mapped_column(Text, comment="sealed secrets")
    driver_internal_info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    instance_info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    instance_secrets: Mapped[str | None] = mapped_column(Text, comment="sealed secrets")
    instance_uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    power_state: Mapped[str | None] = mapped_column(String(15))
    target_power_state: Mapped[str | None] = mapped_column(String(15))
    provision_state: Mapped[str] = mapped_column(String(15), index=True)
    target_provision_state: Mapped[str | None] = mapped_column(String(15))
    provision_updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    maintenance_reason: Mapped[str | None] = mapped_column(Text)
    console_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    reservation: Mapped[str | None] = mapped_column(
        String(255), comment="conductor holding the node's lock"
    )
    inspection_started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    inspection_finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    clean_step: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    raid_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    target_raid_config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    resource_class: Mapped[str | None] = mapped_column(String(80))
    bios_interface: Mapped[str | None] = mapped_column(String(255))
    boot_interface: Mapped[str | None] = mapped_column(String(255))
    console_interface: Mapped[str | None] = mapped_column(String(255))
    deploy_interface: Mapped[str | None] = mapped_column(String(255))
    inspect_interface: Mapped[str | None] = mapped_column(String(255))
    management_interface: Mapped[str | None] = mapped_column(String(255))
    network_interface: Mapped[str | None] = mapped_column(String(255))
    power_interface: Mapped[str | None] = mapped_column(String(255))
    raid_interface: Mapped[str | None] = mapped_column(String(255))
    rescue_interface: Mapped[str | None] = mapped_column(String(255))
    storage_interface: Mapped[str | None] = mapped_column(String(255))
    vendor_interface: Mapped[str | None] = mapped_column(String(255))
    fault: Mapped[str | None] = mapped_column(
        String(255), comment="why the conductor set maintenance"
    )
    deploy_step: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, server_default=text("'{}'")
    )
    automated_clean: Mapped[bool | None] = mapped_column(Boolean)
    protected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    protected_reason: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255), index=True)
    conductor_group: Mapped[str] = mapped_column(
        String(255), default="", server_default="", index=True
    )
    description: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_nodes_reservation", "reservation"),)


class NodeTrait(TimestampMixin, Base):
    """One trait of a node (API 1.37): a scheduling label Nova matches flavors against."""

    __tablename__ = "node_traits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"))
    trait: Mapped[str] = mapped_column(String(255), index=True)

    __table_args__ = (UniqueConstraint("node_id", "trait"),)


class Port(TimestampMixin, Base):
    __tablename__ = "ports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    address: Mapped[str] = mapped_column(String(18), unique=True, comment="lower-case MAC")
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    local_link_connection: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    pxe_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    internal_info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    portgroup_id: Mapped[int | None] = mapped_column(
        ForeignKey("portgroups.id", ondelete="SET NULL"), index=True
    )
    physical_network: Mapped[str | None] = mapped_column(String(64))
    is_smartnic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Portgroup(TimestampMixin, Base):
    """NICs bonded together; a VIF may be attached to the group instead of a port."""

    __tablename__ = "portgroups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), unique=True)
    address: Mapped[str | None] = mapped_column(String(18), unique=True, comment="lower-case MAC")
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    standalone_ports_supported: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    internal_info: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    mode: Mapped[str | None] = mapped_column(String(255))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class VolumeConnector(TimestampMixin, Base):
    __tablename__ = "volume_connectors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    connector_id: Mapped[str] = mapped_column(String(255))
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    # An initiator identity belongs to one node only, across the installation.
    __table_args__ = (UniqueConstraint("type", "connector_id"),)


class VolumeTarget(TimestampMixin, Base):
    __tablename__ = "volume_targets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    volume_type: Mapped[str] = mapped_column(String(64))
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secret_properties: Mapped[str | None] = mapped_column(Text, comment="sealed secrets")
    boot_index: Mapped[int] = mapped_column(Integer)
    volume_id: Mapped[str] = mapped_column(String(255))
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)

    # One boot volume (boot_index 0) per node, and no two volumes in one slot.
    __table_args__ = (
        UniqueConstraint("node_id", "boot_index"),
        CheckConstraint("boot_index >= 0", name="boot_index_not_negative"),
    )


class ManagedVolume(TimestampMixin, Base):
    """A boot volume Ironbound stores (a sparse file) and exports on its own iSCSI target."""

    __tablename__ = "managed_volumes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    node_id: Mapped[int | None] = mapped_column(
        ForeignKey("nodes.id", ondelete="SET NULL"),
        index=True,
        comment="owner: created or kept for",
    )
    state: Mapped[str] = mapped_column(String(15))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(Text, comment="backing file")
    target_iqn: Mapped[str] = mapped_column(String(223), unique=True)
    lun: Mapped[int] = mapped_column(Integer)
    shareable: Mapped[bool] = mapped_column(Boolean, default=False)
    image: Mapped[str | None] = mapped_column(String(255), comment="checksum of the image on it")
    initiators: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, comment="node uuid -> initiator IQN the export admits"
    )
    auth_username: Mapped[str | None] = mapped_column(String(255))
    reverse_auth_username: Mapped[str | None] = mapped_column(String(255))
    secrets: Mapped[str | None] = mapped_column(Text, comment="sealed secrets")

    __table_args__ = (CheckConstraint("size_bytes > 0", name="size_positive"),)


class Job(Base):
    """A unit of conductor work. The table is the queue (DESIGN decision 5)."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED, index=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(Text)
    conductor: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name="job_status_known"
        ),
    )


class Conductor(Base):
    __tablename__ = "conductors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), unique=True)
    online: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    driver_properties: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=dict, comment="per hardware type: driver_info keys it reads"
    )
    conductor_group: Mapped[str] = mapped_column(String(255), default="", server_default="")


class ConductorHardwareInterface(Base):
    """Which interfaces a live conductor offers for each hardware type.

    The API checks node interface names against this table, so it never has
    to import a driver (DESIGN: the API does not import drivers).
    """

    __tablename__ = "conductor_hardware_interfaces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conductor_id: Mapped[int] = mapped_column(ForeignKey("conductors.id", ondelete="CASCADE"))
    hardware_type: Mapped[str] = mapped_column(String(255))
    interface_type: Mapped[str] = mapped_column(String(16))
    interface_name: Mapped[str] = mapped_column(String(255))
    default: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        UniqueConstraint("conductor_id", "hardware_type", "interface_type", "interface_name"),
    )


class BootToken(Base):
    """The unguessable token under which a deployed node's boot script is served.

    The first host to use it (by MAC or by token) pins it to its address;
    see docs/security.md for who may fetch what.
    """

    __tablename__ = "boot_tokens"

    node_id: Mapped[int] = mapped_column(
        ForeignKey("nodes.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="sha256 hex")
    sealed_token: Mapped[str] = mapped_column(Text, comment="the token, sealed")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    pinned_address: Mapped[str | None] = mapped_column(
        String(64), comment="the host the token serves; set by its first use"
    )
    awaiting_report: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="a script was served and its boot has not reported yet",
    )
    contested: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="another host asked for this node's script",
    )
    handed_over: Mapped[bool] = mapped_column(
        Boolean,
        default=False,
        server_default=false(),
        comment="the script reported booting; its sanboot may still report a failure",
    )
    settle_at: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime,
        index=True,
        comment="the deploy's boot handed over; it settles (active) at this time "
        "unless its sanboot reports a failure first",
    )
    window_until: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime,
        comment="the boot window Ironbound opened (power on) closes then; "
        "none: closed (a deploy's token before its power-on)",
    )
    cycles: Mapped[int] = mapped_column(
        Integer,
        default=0,
        server_default="0",
        comment="boot cycles opened since cycles_since",
    )
    cycles_since: Mapped[dt.datetime | None] = mapped_column(
        UTCDateTime, comment="the start of the minute whose boot cycles are counted"
    )


class NodeEvent(Base):
    """What happened to a node, step by step: the progress record of its flows."""

    __tablename__ = "node_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    event_type: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16), default="info")
    event: Mapped[str] = mapped_column(Text)
    conductor: Mapped[str | None] = mapped_column(String(255))
