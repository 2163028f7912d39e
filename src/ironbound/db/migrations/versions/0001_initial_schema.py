"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "conductors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "driver_properties",
            JSON,
            nullable=False,
            comment="per hardware type: driver_info keys it reads",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conductors")),
        sa.UniqueConstraint("hostname", name=op.f("uq_conductors_hostname")),
    )
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("driver", sa.String(length=255), nullable=False),
        sa.Column("driver_info", JSON, nullable=False),
        sa.Column("driver_secrets", sa.Text(), nullable=True, comment="sealed secrets"),
        sa.Column("driver_internal_info", JSON, nullable=False),
        sa.Column("instance_info", JSON, nullable=False),
        sa.Column("instance_secrets", sa.Text(), nullable=True, comment="sealed secrets"),
        sa.Column("instance_uuid", sa.String(length=36), nullable=True),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("power_state", sa.String(length=15), nullable=True),
        sa.Column("target_power_state", sa.String(length=15), nullable=True),
        sa.Column("provision_state", sa.String(length=15), nullable=False),
        sa.Column("target_provision_state", sa.String(length=15), nullable=True),
        sa.Column("provision_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("maintenance", sa.Boolean(), nullable=False),
        sa.Column("maintenance_reason", sa.Text(), nullable=True),
        sa.Column("console_enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "reservation",
            sa.String(length=255),
            nullable=True,
            comment="conductor holding the node's lock",
        ),
        sa.Column("inspection_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inspection_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clean_step", JSON, nullable=False),
        sa.Column("raid_config", JSON, nullable=False),
        sa.Column("target_raid_config", JSON, nullable=False),
        sa.Column("resource_class", sa.String(length=80), nullable=True),
        sa.Column("bios_interface", sa.String(length=255), nullable=True),
        sa.Column("boot_interface", sa.String(length=255), nullable=True),
        sa.Column("console_interface", sa.String(length=255), nullable=True),
        sa.Column("deploy_interface", sa.String(length=255), nullable=True),
        sa.Column("inspect_interface", sa.String(length=255), nullable=True),
        sa.Column("management_interface", sa.String(length=255), nullable=True),
        sa.Column("network_interface", sa.String(length=255), nullable=True),
        sa.Column("power_interface", sa.String(length=255), nullable=True),
        sa.Column("raid_interface", sa.String(length=255), nullable=True),
        sa.Column("rescue_interface", sa.String(length=255), nullable=True),
        sa.Column("storage_interface", sa.String(length=255), nullable=True),
        sa.Column("vendor_interface", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nodes")),
        sa.UniqueConstraint("instance_uuid", name=op.f("uq_nodes_instance_uuid")),
        sa.UniqueConstraint("name", name=op.f("uq_nodes_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_nodes_uuid")),
    )
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nodes_provision_state"), ["provision_state"], unique=False
        )
        batch_op.create_index("ix_nodes_reservation", ["reservation"], unique=False)

    op.create_table(
        "boot_tokens",
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False, comment="sha256 hex"),
        sa.Column("sealed_token", sa.Text(), nullable=False, comment="the token, sealed"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_boot_tokens_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("node_id", name=op.f("pk_boot_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_boot_tokens_token_hash")),
    )
    op.create_table(
        "conductor_hardware_interfaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conductor_id", sa.Integer(), nullable=False),
        sa.Column("hardware_type", sa.String(length=255), nullable=False),
        sa.Column("interface_type", sa.String(length=16), nullable=False),
        sa.Column("interface_name", sa.String(length=255), nullable=False),
        sa.Column("default", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conductor_id"],
            ["conductors.id"],
            name=op.f("fk_conductor_hardware_interfaces_conductor_id_conductors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conductor_hardware_interfaces")),
        sa.UniqueConstraint(
            "conductor_id",
            "hardware_type",
            "interface_type",
            "interface_name",
            name=op.f(
                "uq_conductor_hardware_interfaces_conductor_id_hardware_type_interface_type_interface_name"
            ),
        ),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("args", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("conductor", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_jobs_job_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_jobs_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_node_id"), ["node_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)

    op.create_table(
        "node_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("conductor", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_node_events_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_events")),
    )
    with op.batch_alter_table("node_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_node_events_node_id"), ["node_id"], unique=False)

    op.create_table(
        "ports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=18), nullable=False, comment="lower-case MAC"),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("local_link_connection", JSON, nullable=False),
        sa.Column("pxe_enabled", sa.Boolean(), nullable=False),
        sa.Column("internal_info", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_ports_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ports")),
        sa.UniqueConstraint("address", name=op.f("uq_ports_address")),
        sa.UniqueConstraint("uuid", name=op.f("uq_ports_uuid")),
    )
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ports_node_id"), ["node_id"], unique=False)

    op.create_table(
        "volume_connectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("connector_id", sa.String(length=255), nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name=op.f("fk_volume_connectors_node_id_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_connectors")),
        sa.UniqueConstraint(
            "type", "connector_id", name=op.f("uq_volume_connectors_type_connector_id")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_volume_connectors_uuid")),
    )
    with op.batch_alter_table("volume_connectors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volume_connectors_node_id"), ["node_id"], unique=False)

    op.create_table(
        "volume_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("volume_type", sa.String(length=64), nullable=False),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("secret_properties", sa.Text(), nullable=True, comment="sealed secrets"),
        sa.Column("boot_index", sa.Integer(), nullable=False),
        sa.Column("volume_id", sa.String(length=255), nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "boot_index >= 0", name=op.f("ck_volume_targets_boot_index_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name=op.f("fk_volume_targets_node_id_nodes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volume_targets")),
        sa.UniqueConstraint(
            "node_id", "boot_index", name=op.f("uq_volume_targets_node_id_boot_index")
        ),
        sa.UniqueConstraint("uuid", name=op.f("uq_volume_targets_uuid")),
    )
    with op.batch_alter_table("volume_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_volume_targets_node_id"), ["node_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("volume_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_targets_node_id"))

    op.drop_table("volume_targets")
    with op.batch_alter_table("volume_connectors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volume_connectors_node_id"))

    op.drop_table("volume_connectors")
    with op.batch_alter_table("ports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ports_node_id"))

    op.drop_table("ports")
    with op.batch_alter_table("node_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_node_events_node_id"))

    op.drop_table("node_events")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_jobs_node_id"))

    op.drop_table("jobs")
    op.drop_table("conductor_hardware_interfaces")
    op.drop_table("boot_tokens")
    with op.batch_alter_table("nodes", schema=None) as batch_op:
        batch_op.drop_index("ix_nodes_reservation")
        batch_op.drop_index(batch_op.f("ix_nodes_provision_state"))

    op.drop_table("nodes")
    op.drop_table("conductors")
