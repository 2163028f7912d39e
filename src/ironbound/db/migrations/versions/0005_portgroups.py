"""port groups, and a port's membership of one

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portgroups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("address", sa.String(length=18), nullable=True, comment="lower-case MAC"),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("standalone_ports_supported", sa.Boolean(), nullable=False),
        sa.Column("extra", JSON, nullable=False),
        sa.Column("internal_info", JSON, nullable=False),
        sa.Column("mode", sa.String(length=255), nullable=True),
        sa.Column("properties", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_portgroups_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portgroups")),
        sa.UniqueConstraint("address", name=op.f("uq_portgroups_address")),
        sa.UniqueConstraint("name", name=op.f("uq_portgroups_name")),
        sa.UniqueConstraint("uuid", name=op.f("uq_portgroups_uuid")),
    )
    with op.batch_alter_table("portgroups") as batch:
        batch.create_index(batch.f("ix_portgroups_node_id"), ["node_id"], unique=False)
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("portgroup_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_ports_portgroup_id_portgroups"),
            "portgroups",
            ["portgroup_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(batch.f("ix_ports_portgroup_id"), ["portgroup_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ports") as batch:
        batch.drop_index(batch.f("ix_ports_portgroup_id"))
        batch.drop_constraint(batch.f("fk_ports_portgroup_id_portgroups"), type_="foreignkey")
        batch.drop_column("portgroup_id")
    with op.batch_alter_table("portgroups") as batch:
        batch.drop_index(batch.f("ix_portgroups_node_id"))
    op.drop_table("portgroups")
