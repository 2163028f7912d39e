"""a boot that handed over to its volume lands at a time unless sanboot fails first

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("boot_tokens") as batch:
        batch.add_column(
            sa.Column(
                "settle_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="the deploy's boot handed over; it settles (active) at this time "
                "unless its sanboot reports a failure first",
            )
        )
        batch.create_index("ix_boot_tokens_settle_at", ["settle_at"])


def downgrade() -> None:
    with op.batch_alter_table("boot_tokens") as batch:
        batch.drop_index("ix_boot_tokens_settle_at")
        batch.drop_column("settle_at")
