"""boot tokens are pinned to the host that first uses them

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("boot_tokens") as batch:
        batch.add_column(
            sa.Column(
                "pinned_address",
                sa.String(length=64),
                nullable=True,
                comment="the host the token serves; set by its first use",
            )
        )
        batch.add_column(
            sa.Column(
                "awaiting_report",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="a script was served and its boot has not reported yet",
            )
        )
        batch.add_column(
            sa.Column(
                "contested",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="another host asked for this node's script",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("boot_tokens") as batch:
        batch.drop_column("contested")
        batch.drop_column("awaiting_report")
        batch.drop_column("pinned_address")
