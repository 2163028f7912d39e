"""managed volumes: boot volumes Ironbound stores and exports on its own iSCSI target

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "managed_volumes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=True, comment="owner: created or kept for"),
        sa.Column("state", sa.String(length=15), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False, comment="backing file"),
        sa.Column("target_iqn", sa.String(length=223), nullable=False),
        sa.Column("lun", sa.Integer(), nullable=False),
        sa.Column("shareable", sa.Boolean(), nullable=False),
        sa.Column(
            "image", sa.String(length=255), nullable=True, comment="checksum of the image on it"
        ),
        sa.Column(
            "initiators",
            JSON,
            nullable=False,
            comment="node uuid -> initiator IQN the export admits",
        ),
        sa.Column("auth_username", sa.String(length=255), nullable=True),
        sa.Column("reverse_auth_username", sa.String(length=255), nullable=True),
        sa.Column("secrets", sa.Text(), nullable=True, comment="sealed secrets"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_managed_volumes_size_positive")),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["nodes.id"],
            name=op.f("fk_managed_volumes_node_id_nodes"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_managed_volumes")),
        sa.UniqueConstraint("target_iqn", name=op.f("uq_managed_volumes_target_iqn")),
        sa.UniqueConstraint("uuid", name=op.f("uq_managed_volumes_uuid")),
    )
    with op.batch_alter_table("managed_volumes") as batch:
        batch.create_index(batch.f("ix_managed_volumes_node_id"), ["node_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("managed_volumes") as batch:
        batch.drop_index(batch.f("ix_managed_volumes_node_id"))
    op.drop_table("managed_volumes")
