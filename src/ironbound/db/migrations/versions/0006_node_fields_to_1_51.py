"""the node fields of API 1.37-1.51, node traits, a port's physical network,
a conductor's group

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("fault", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("deploy_step", JSON, nullable=False, server_default=sa.text("'{}'"))
        )
        batch.add_column(sa.Column("automated_clean", sa.Boolean(), nullable=True))
        batch.add_column(
            sa.Column("protected", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("protected_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("owner", sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column("conductor_group", sa.String(length=255), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.create_index(batch.f("ix_nodes_owner"), ["owner"], unique=False)
        batch.create_index(batch.f("ix_nodes_conductor_group"), ["conductor_group"], unique=False)
    op.create_table(
        "node_traits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("trait", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["node_id"], ["nodes.id"], name=op.f("fk_node_traits_node_id_nodes"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_traits")),
        sa.UniqueConstraint("node_id", "trait", name=op.f("uq_node_traits_node_id_trait")),
    )
    with op.batch_alter_table("node_traits") as batch:
        batch.create_index(batch.f("ix_node_traits_trait"), ["trait"], unique=False)
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("physical_network", sa.String(length=64), nullable=True))
    with op.batch_alter_table("conductors") as batch:
        batch.add_column(
            sa.Column("conductor_group", sa.String(length=255), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("conductors") as batch:
        batch.drop_column("conductor_group")
    with op.batch_alter_table("ports") as batch:
        batch.drop_column("physical_network")
    with op.batch_alter_table("node_traits") as batch:
        batch.drop_index(batch.f("ix_node_traits_trait"))
    op.drop_table("node_traits")
    with op.batch_alter_table("nodes") as batch:
        batch.drop_index(batch.f("ix_nodes_conductor_group"))
        batch.drop_index(batch.f("ix_nodes_owner"))
        for column in (
            "description",
            "conductor_group",
            "owner",
            "protected_reason",
            "protected",
            "automated_clean",
            "deploy_step",
            "fault",
        ):
            batch.drop_column(column)
